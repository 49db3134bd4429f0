//! The labelled sentences the learned safety models train on: every `responses/crisis/corpus/*.toml`
//! file, one per writer. Each file names its writer so training and measuring can be split by who
//! wrote what (a model is only trusted on writers it never saw).

use std::path::Path;

use serde::Deserialize;

use crate::diagnostics::{line_of, toml_problem, Problem};
use crate::library::ContentSource;

/// The folder, relative to the responses folder.
pub const CORPUS_DIR: &str = "crisis/corpus";
/// Fewer sentences than this per label and the models cannot learn anything worth trusting.
const MIN_PER_LABEL: usize = 20;

/// What a training sentence is an example of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    /// Suicide or self-harm risk now (the writer's or someone else's).
    Crisis,
    /// A medical emergency happening now.
    Emergency,
    /// Neither: ordinary questions and the hard negatives (idioms, past crises, research...).
    NotCrisis,
}

impl Label {
    fn parse(s: &str) -> Option<Label> {
        match s {
            "crisis" => Some(Label::Crisis),
            "emergency" => Some(Label::Emergency),
            "not-crisis" => Some(Label::NotCrisis),
            _ => None,
        }
    }
}

/// One labelled sentence.
#[derive(Debug, Clone)]
pub struct Sentence {
    pub text: String,
    pub label: Label,
    /// The warning-sign family (see responses/crisis/README.md), e.g. "plan" or "seizure".
    pub family: String,
    pub writer: String,
    pub lang: String,
}

impl Sentence {
    /// A suicide attempt already under way is both a crisis and a medical emergency.
    pub fn is_emergency(&self) -> bool {
        self.label == Label::Emergency || self.family == "attempt-in-progress"
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CorpusFile {
    writer: String,
    set: Vec<Set>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Set {
    label: String,
    family: String,
    #[serde(default = "english")]
    lang: String,
    examples: Vec<String>,
}

fn english() -> String {
    "en".into()
}

/// Every sentence of every corpus file in the library, in a fixed order (files sorted by name).
pub fn load(source: &ContentSource) -> Result<Vec<Sentence>, Vec<Problem>> {
    let files = source
        .files(CORPUS_DIR, "toml", false)
        .map_err(|p| vec![p])?;
    let dir = source.path(CORPUS_DIR);
    let dir = dir.as_path();
    let mut sentences = Vec::new();
    let mut problems = Vec::new();
    for rel in &files {
        match source.read(rel) {
            Ok(src) => match parse(&source.path(rel), &src) {
                Ok(rows) => sentences.extend(rows),
                Err(p) => problems.extend(p),
            },
            Err(p) => problems.push(p),
        }
    }
    for label in [Label::Crisis, Label::Emergency, Label::NotCrisis] {
        let n = sentences.iter().filter(|s| s.label == label).count();
        if problems.is_empty() && n < MIN_PER_LABEL {
            problems.push(Problem::error(
                dir,
                0,
                format!(
                    "the corpus has {n} {label:?} sentences; the learned models need at least \
                     {MIN_PER_LABEL} of each label (crisis, emergency, not-crisis)"
                ),
            ));
        }
    }
    if problems.is_empty() {
        Ok(sentences)
    } else {
        Err(problems)
    }
}

/// One corpus file's sentences; a bad label or an empty writer is reported with its line.
pub fn parse(path: &Path, src: &str) -> Result<Vec<Sentence>, Vec<Problem>> {
    let file: CorpusFile = toml::from_str(src).map_err(|e| vec![toml_problem(path, src, 0, &e)])?;
    let mut problems = Vec::new();
    let line = |needle: &str| src.find(needle).map_or(1, |o| line_of(src, o));
    if file.writer.trim().is_empty() {
        problems.push(Problem::error(
            path,
            line("writer"),
            "`writer` is empty: name who wrote these sentences (evaluation splits by writer)",
        ));
    }
    let mut rows = Vec::new();
    for set in file.set {
        let Some(label) = Label::parse(&set.label) else {
            problems.push(Problem::error(
                path,
                line(&format!("\"{}\"", set.label)),
                format!(
                    "label `{}` in family `{}`: use \"crisis\", \"emergency\" or \"not-crisis\"",
                    set.label, set.family
                ),
            ));
            continue;
        };
        rows.extend(set.examples.into_iter().map(|text| Sentence {
            text,
            label,
            family: set.family.clone(),
            writer: file.writer.clone(),
            lang: set.lang.clone(),
        }));
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labels_and_defaults_to_english() {
        let src = "writer = \"w\"\n[[set]]\nlabel = \"emergency\"\nfamily = \"seizure\"\nexamples = [\"he is fitting\"]\n";
        let rows = parse(Path::new("c.toml"), src).expect("parses");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].label, Label::Emergency);
        assert_eq!(rows[0].lang, "en");
        assert!(rows[0].is_emergency());
    }

    #[test]
    fn a_bad_label_names_its_line() {
        let src = "writer = \"w\"\n[[set]]\nlabel = \"maybe\"\nfamily = \"x\"\nexamples = []\n";
        let problems = parse(Path::new("c.toml"), src).expect_err("rejected");
        assert_eq!(problems[0].line, 3, "{problems:?}");
    }

    #[test]
    fn a_missing_writer_is_an_error() {
        let src = "[[set]]\nlabel = \"crisis\"\nfamily = \"x\"\nexamples = []\n";
        assert!(parse(Path::new("c.toml"), src).is_err());
    }
}
