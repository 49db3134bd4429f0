//! The vetted template library: templates, help lines per region, the topic catalog, the rules
//! that `check` enforces, and rendering. Loaded once; no I/O afterwards.

pub mod budget;
pub mod catalog;
pub mod check;
pub mod render;
pub mod resources;
pub mod source;
pub mod template;

use time::{Date, OffsetDateTime};

use crate::diagnostics::{ContentErrors, Problem};
pub use catalog::Catalog;
use catalog::NO_EVIDENCE_TOPICS;
use render::{RenderOptions, Rendered};
pub use resources::Resources;
pub use source::ContentSource;
pub use template::Template;

/// The folder of template files inside the library.
const TEMPLATES_DIR: &str = "templates";

/// What kind of reply a template is rendered for: the flags that decide its help lines and order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplyKind {
    pub crisis: bool,
    /// Weaker signs of risk (triage's concern tier): the normal answer with help first.
    pub concern: bool,
    pub emergency: bool,
    pub mental_health: bool,
}

impl ReplyKind {
    /// The kind a template's own topic implies (a moderator's `answer`, `preview`, the budget).
    pub fn of_topic(topic: &str) -> ReplyKind {
        ReplyKind {
            crisis: topic == "crisis",
            concern: false,
            emergency: topic == "emergency",
            mental_health: matches!(topic, "crisis" | "depression"),
        }
    }
}

/// All content the bot serves. Only approved templates are kept for serving.
#[derive(Debug, Clone)]
pub struct Library {
    templates: Vec<Template>,
    pub resources: Resources,
    pub catalog: Catalog,
}

impl Library {
    /// Loads and checks `dir` (the `responses/` folder) as of today.
    pub fn load(source: &ContentSource) -> Result<(Library, Vec<Problem>), ContentErrors> {
        Self::load_as_of(source, OffsetDateTime::now_utc().date())
    }

    /// Loads and checks `dir`; `today` decides which reviews are stale. Returns the warnings, or
    /// every problem when any is an error.
    pub fn load_as_of(
        source: &ContentSource,
        today: Date,
    ) -> Result<(Library, Vec<Problem>), ContentErrors> {
        let mut problems = Vec::new();
        let catalog = Catalog::load(source).map_err(|p| problems.extend(p)).ok();
        let resources = Resources::load(source).map_err(|p| problems.extend(p)).ok();
        let mut templates = Vec::new();
        // Every `*.md` under `templates/<topic>/`, sorted.
        match source.files(TEMPLATES_DIR, "md", true) {
            Ok(files) => {
                if files.is_empty() {
                    problems.push(Problem::error(
                        &source.path(TEMPLATES_DIR),
                        0,
                        "no templates found",
                    ));
                }
                for rel in files {
                    match source.read(&rel) {
                        Ok(src) => match template::parse(&source.path(&rel), &src) {
                            Ok(t) => templates.push(t),
                            Err(p) => problems.push(p),
                        },
                        Err(p) => problems.push(p),
                    }
                }
            }
            Err(p) => problems.push(p),
        }
        if let Some(catalog) = &catalog {
            problems.extend(check::check_templates(&templates, catalog, today));
        }
        match (catalog, resources) {
            (Some(catalog), Some(resources)) if !problems.iter().any(Problem::is_error) => {
                templates.retain(Template::is_approved);
                Ok((
                    Library {
                        templates,
                        resources,
                        catalog,
                    },
                    problems,
                ))
            }
            _ => Err(ContentErrors(problems)),
        }
    }

    /// Approved templates, in file order.
    pub fn templates(&self) -> &[Template] {
        &self.templates
    }

    /// A template by id. Ids are names, never paths.
    pub fn template(&self, id: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.id == id)
    }

    /// Renders `template` as served for `kind` in `region` (a canonical region code).
    pub fn render(
        &self,
        template: &Template,
        region: &str,
        kind: ReplyKind,
        command_prefix: &str,
    ) -> Rendered {
        let mut extra_blocks = Vec::new();
        if kind.mental_health || kind.crisis {
            extra_blocks.extend(["crisis", "professional"]);
        } else if kind.concern && kind.emergency {
            // The emergency leads; the crisis lines follow it rather than pushing it down.
            extra_blocks.push("crisis");
        }
        let opts = RenderOptions {
            region,
            extra_blocks,
            emergency_first: kind.emergency || template.topic == "emergency",
            // Someone asking about mood or in crisis sees a crisis line before anything else.
            help_first: kind.mental_health || kind.crisis || kind.concern,
            with_evidence: !NO_EVIDENCE_TOPICS.contains(&template.topic.as_str()),
            // Crisis and emergency replies show every block in full; other answers (mood and
            // concern ones included, which already open with the crisis line) keep them short.
            compact_help: !(kind.crisis
                || kind.emergency
                || matches!(template.topic.as_str(), "crisis" | "emergency")),
            command_prefix,
        };
        render::render(template, &self.resources, &opts)
    }

    pub fn templates_for<'a>(&'a self, topic: &'a str) -> impl Iterator<Item = &'a Template> + 'a {
        self.templates.iter().filter(move |t| t.topic == topic)
    }
}
