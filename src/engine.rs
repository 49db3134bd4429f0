//! The one entry point every front end uses (CLI, Matrix runtime, tests): load the library and the
//! detectors once, then decide and render. No I/O after loading.

use crate::diagnostics::{ContentErrors, Problem};
use crate::library::render::Rendered;
use crate::library::resources::FALLBACK_REGION;
use crate::library::{ContentSource, Library, ReplyKind};
use crate::triage::model_cache::ModelCache;
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
    /// The bot's command prefix, for "+2 more: !kratom sources <id>" under an answer.
    command_prefix: String,
}

/// The prefix replies point to when the front end does not set one.
pub const DEFAULT_COMMAND_PREFIX: &str = "!kratom";

impl Engine {
    /// Loads the library from `source`; any error in any content file stops the load and is
    /// listed.
    /// Trained models are cached in the user's cache folder (`ModelCache::user_default`).
    pub fn load(source: &ContentSource) -> Result<Engine, ContentErrors> {
        Engine::load_with_cache(source, &ModelCache::user_default())
    }

    /// `load`, keeping trained models in `cache` (the bot uses its data directory).
    pub fn load_with_cache(
        source: &ContentSource,
        cache: &ModelCache,
    ) -> Result<Engine, ContentErrors> {
        let (library, mut warnings) = Library::load(source)?;
        let triage = Triage::load(source, &library, cache).map_err(|mut p| {
            p.append(&mut warnings);
            ContentErrors(p)
        })?;
        Ok(Engine {
            library,
            triage,
            warnings,
            command_prefix: DEFAULT_COMMAND_PREFIX.to_string(),
        })
    }

    /// Sets the command prefix replies point to for the full list of sources.
    pub fn with_command_prefix(mut self, prefix: &str) -> Engine {
        self.command_prefix = prefix.to_string();
        self
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
        let kind = ReplyKind {
            crisis: decision.crisis,
            concern: decision.concern,
            emergency: decision.emergency,
            mental_health: decision.mental_health,
        };
        self.library
            .render(template, region, kind, &self.command_prefix)
    }

    /// Renders a template by id, as moderators' `answer` and `preview` do.
    pub fn render_template(&self, id: &str, region: &str) -> Option<Rendered> {
        let t = self.library.template(id)?;
        let kind = ReplyKind::of_topic(&t.topic);
        let decision = Decision {
            topic: t.topic.clone(),
            template_id: t.id.clone(),
            crisis: kind.crisis,
            concern: false,
            emergency: kind.emergency,
            mental_health: kind.mental_health,
            family: None,
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
