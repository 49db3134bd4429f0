//! The one entry point every front end uses (CLI, Matrix runtime, tests): load the library and the
//! detectors once, then decide and render. No I/O after loading.

use std::path::Path;

use crate::diagnostics::{ContentErrors, Problem};
use crate::library::catalog::NO_EVIDENCE_TOPICS;
use crate::library::render::{render, RenderOptions, Rendered};
use crate::library::resources::FALLBACK_REGION;
use crate::library::Library;
pub use crate::triage::Decision;
use crate::triage::Triage;

/// A rendered answer: the same template as plain text and as Matrix HTML.
#[derive(Debug, Clone)]
pub struct Reply {
    pub decision: Decision,
    pub plain: String,
    pub html: String,
}

/// Triage engine plus template library, loaded once and shared (it is `Send + Sync`).
#[derive(Debug)]
pub struct Engine {
    library: Library,
    triage: Triage,
    warnings: Vec<Problem>,
}

impl Engine {
    /// Loads `responses_dir`; any error in any content file stops the load and is listed.
    pub fn load(responses_dir: &Path) -> Result<Engine, ContentErrors> {
        let (library, mut warnings) = Library::load(responses_dir)?;
        let triage = Triage::load(responses_dir, &library).map_err(|mut p| {
            p.append(&mut warnings);
            ContentErrors(p)
        })?;
        Ok(Engine {
            library,
            triage,
            warnings,
        })
    }

    /// Warnings found while loading (e.g. reviews older than a year).
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    pub fn library(&self) -> &Library {
        &self.library
    }

    pub fn triage(&self) -> &Triage {
        &self.triage
    }

    /// Triage only.
    pub fn decide(&self, text: &str) -> Decision {
        self.triage.decide(text)
    }

    /// Triage and render. `region` is a code such as "US"; an unknown code shows the international
    /// lines only.
    pub fn respond(&self, text: &str, region: &str) -> Reply {
        let decision = self.decide(text);
        let Rendered { plain, html } = self.render(&decision, region);
        Reply {
            decision,
            plain,
            html,
        }
    }

    /// Renders the template a decision chose, with the blocks its flags require.
    pub fn render(&self, decision: &Decision, region: &str) -> Rendered {
        let region = self
            .library
            .resources
            .region(region)
            .unwrap_or(FALLBACK_REGION);
        let Some(template) = self.library.template(&decision.template_id) else {
            // Unreachable with a checked library; still never leave someone without help.
            return self.fallback(region);
        };
        let mut extra_blocks = Vec::new();
        if decision.mental_health || decision.crisis {
            extra_blocks.extend(["crisis", "professional"]);
        }
        let emergency_first = decision.emergency || template.topic == "emergency";
        let opts = RenderOptions {
            region,
            extra_blocks,
            emergency_first,
            // Someone asking about mood or in crisis sees a crisis line before anything else.
            help_first: decision.mental_health || decision.crisis,
            with_evidence: !NO_EVIDENCE_TOPICS.contains(&template.topic.as_str()),
        };
        render(template, &self.library.resources, &opts)
    }

    /// Renders a template by id, as moderators' `answer` and `preview` do.
    pub fn render_template(&self, id: &str, region: &str) -> Option<Rendered> {
        let t = self.library.template(id)?;
        let decision = Decision {
            topic: t.topic.clone(),
            template_id: t.id.clone(),
            crisis: t.topic == "crisis",
            emergency: t.topic == "emergency",
            mental_health: matches!(t.topic.as_str(), "crisis" | "depression"),
            score: 1.0,
            reasons: vec!["chosen by id".into()],
            truncated: false,
        };
        Some(self.render(&decision, region))
    }

    fn fallback(&self, region: &str) -> Rendered {
        let lines = self.library.resources.lines_for("crisis", region);
        let plain = lines
            .iter()
            .map(|l| {
                format!(
                    "{}: {}",
                    l.name,
                    l.reach
                        .iter()
                        .map(|r| format!("{} {}", r.via, r.contact))
                        .collect::<Vec<_>>()
                        .join(" · ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        Rendered {
            html: format!("<pre>{}</pre>", plain.replace('<', "&lt;")),
            plain,
        }
    }
}
