//! The vetted template library: templates, help lines per region, the topic catalog, the rules
//! that `check` enforces, and rendering. Loaded once; no I/O afterwards.

pub mod budget;
pub mod catalog;
pub mod check;
pub mod render;
pub mod resources;
pub mod template;

use std::path::{Path, PathBuf};

use time::{Date, OffsetDateTime};

use crate::diagnostics::{ContentErrors, Problem};
pub use catalog::Catalog;
use catalog::NO_EVIDENCE_TOPICS;
use render::{RenderOptions, Rendered};
pub use resources::Resources;
pub use template::Template;

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
    pub fn load(dir: &Path) -> Result<(Library, Vec<Problem>), ContentErrors> {
        Self::load_as_of(dir, OffsetDateTime::now_utc().date())
    }

    /// Loads and checks `dir`; `today` decides which reviews are stale. Returns the warnings, or
    /// every problem when any is an error.
    pub fn load_as_of(dir: &Path, today: Date) -> Result<(Library, Vec<Problem>), ContentErrors> {
        let mut problems = Vec::new();
        let catalog = Catalog::load(&dir.join("topics.toml"))
            .map_err(|p| problems.extend(p))
            .ok();
        let resources = Resources::load(&dir.join("resources.toml"))
            .map_err(|p| problems.extend(p))
            .ok();
        let mut templates = Vec::new();
        match template_files(&dir.join("templates")) {
            Ok(files) => {
                if files.is_empty() {
                    problems.push(Problem::error(
                        &dir.join("templates"),
                        0,
                        "no templates found",
                    ));
                }
                for path in files {
                    match std::fs::read_to_string(&path) {
                        Ok(src) => match template::parse(&path, &src) {
                            Ok(t) => templates.push(t),
                            Err(p) => problems.push(p),
                        },
                        Err(e) => {
                            problems.push(Problem::error(&path, 0, format!("cannot read: {e}")))
                        }
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
            command_prefix,
        };
        render::render(template, &self.resources, &opts)
    }

    pub fn templates_for<'a>(&'a self, topic: &'a str) -> impl Iterator<Item = &'a Template> + 'a {
        self.templates.iter().filter(move |t| t.topic == topic)
    }
}

/// Every `*.md` under `templates/<topic>/`, sorted.
fn template_files(dir: &Path) -> Result<Vec<PathBuf>, Problem> {
    let read = |d: &Path| {
        std::fs::read_dir(d).map_err(|e| Problem::error(d, 0, format!("cannot read folder: {e}")))
    };
    let mut files = Vec::new();
    for entry in read(dir)?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            for inner in read(&path)?.flatten() {
                let p = inner.path();
                if p.extension().is_some_and(|e| e == "md") {
                    files.push(p);
                }
            }
        } else if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
