//! The topic catalog (`responses/topics.toml`): the topic ids the bot knows, what each means, and
//! cue phrases that point at each. The project keeps its own copy of the topic list so a template
//! with a misspelt topic fails `check`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::diagnostics::{toml_problem, Problem};
use crate::library::ContentSource;

/// The topic definitions inside the library.
const CATALOG_FILE: &str = "topics.toml";

/// Topics whose replies need no evidence line or sources.
pub const NO_EVIDENCE_TOPICS: [&str; 4] = ["crisis", "emergency", "about-bot", "out-of-scope"];
/// The topic a message falls back to when nothing fits.
pub const OUT_OF_SCOPE: &str = "out-of-scope";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CueGroup {
    #[serde(default)]
    pub phrases: Vec<String>,
    /// Regular expressions over the normalised text, for cues words cannot express ("15g").
    #[serde(default)]
    pub patterns: Vec<String>,
    #[serde(default = "one")]
    pub weight: f32,
}

fn one() -> f32 {
    1.0
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    pub id: String,
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub cues: Vec<CueGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    synonyms: BTreeMap<String, String>,
    topic: Vec<Topic>,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub topics: Vec<Topic>,
    /// Chat shorthand and the words the matcher reads it as ("wd" -> "withdrawal").
    pub synonyms: BTreeMap<String, String>,
}

impl Catalog {
    pub fn load(source: &ContentSource) -> Result<Catalog, Vec<Problem>> {
        let src = source.read(CATALOG_FILE).map_err(|p| vec![p])?;
        Self::parse(&source.path(CATALOG_FILE), &src)
    }

    pub fn parse(path: &Path, src: &str) -> Result<Catalog, Vec<Problem>> {
        let file: CatalogFile =
            toml::from_str(src).map_err(|e| vec![toml_problem(path, src, 0, &e)])?;
        let mut problems = Vec::new();
        for required in [
            "crisis",
            "emergency",
            "depression",
            "about-bot",
            OUT_OF_SCOPE,
        ] {
            if !file.topic.iter().any(|t| t.id == required) {
                problems.push(Problem::error(
                    path,
                    1,
                    format!("the topic `{required}` is required"),
                ));
            }
        }
        for (i, t) in file.topic.iter().enumerate() {
            if file.topic[..i].iter().any(|o| o.id == t.id) {
                let line = src
                    .find(&format!("\"{}\"", t.id))
                    .map_or(1, |o| crate::diagnostics::line_of(src, o));
                problems.push(Problem::error(
                    path,
                    line,
                    format!("duplicate topic `{}`", t.id),
                ));
            }
        }
        if problems.is_empty() {
            Ok(Catalog {
                topics: file.topic,
                synonyms: file.synonyms,
            })
        } else {
            Err(problems)
        }
    }

    pub fn get(&self, id: &str) -> Option<&Topic> {
        self.topics.iter().find(|t| t.id == id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.topics.iter().map(|t| t.id.as_str())
    }
}
