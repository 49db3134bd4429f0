//! The one entry point every front end uses: load the library, decide, render.
use std::path::Path;

/// What triage decided about a message, with the reasons that decided it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Decision {
    pub topic: String,
    pub template_id: String,
    pub crisis: bool,
    pub emergency: bool,
    pub mental_health: bool,
    pub score: f32,
    pub reasons: Vec<String>,
}

/// A rendered answer: the same template as plain text and as Matrix HTML.
#[derive(Debug, Clone)]
pub struct Reply {
    pub decision: Decision,
    pub plain: String,
    pub html: String,
}

/// Triage engine plus template library, loaded once.
pub struct Engine {}

impl Engine {
    pub fn load(_responses_dir: &Path) -> anyhow::Result<Engine> {
        Ok(Engine {})
    }

    pub fn respond(&self, _text: &str, _region: &str) -> Reply {
        let decision = Decision {
            topic: "out-of-scope".into(),
            template_id: "placeholder".into(),
            crisis: false,
            emergency: false,
            mental_health: false,
            score: 0.0,
            reasons: vec![],
        };
        Reply {
            decision,
            plain: "placeholder".into(),
            html: "<p>placeholder</p>".into(),
        }
    }
}
