//! The crisis detector's learned second opinion: a logistic-regression classifier over words, word
//! pairs and character n-grams, trained at start-up from `responses/crisis/second-opinion.toml`
//! (labelled sentences, reviewed like templates). The phrase rules catch what they were written
//! for; this catches paraphrases of the same situations that no rule names. Training is
//! deterministic (fixed order, fixed epochs), so a library always gives the same model.

use std::path::Path;

use serde::Deserialize;

use super::linear::{english_stemmer, features, BinaryModel, Vocabulary};
use super::normalize::{normalize, Normalized};

/// Passes over the corpus; more changed nothing measurable on the evaluation sets.
const EPOCHS: usize = 20;
use crate::diagnostics::{toml_problem, Problem};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CorpusFile {
    set: Vec<Set>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Set {
    label: String,
    family: String,
    examples: Vec<String>,
}

/// A trained classifier.
#[derive(Debug)]
pub struct SecondOpinion {
    vocab: Vocabulary,
    model: BinaryModel,
    /// How many sentences of each label it learned from.
    pub trained_on: (usize, usize),
}

/// The classifier's view of one message.
#[derive(Debug, Clone)]
pub struct Opinion {
    pub probability: f32,
    /// The features that pushed hardest towards crisis, for explanations.
    pub top_features: Vec<String>,
}

impl SecondOpinion {
    /// Loads every `second-opinion*.toml` in `dir` (one corpus per author or batch) and trains.
    pub fn load(dir: &Path) -> Result<SecondOpinion, Vec<Problem>> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| vec![Problem::error(dir, 0, format!("cannot read folder: {e}"))])?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                name.starts_with("second-opinion") && name.ends_with(".toml")
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(vec![Problem::error(
                dir,
                0,
                "no second-opinion*.toml training file",
            )]);
        }
        let mut texts = Vec::new();
        let mut problems = Vec::new();
        for path in &files {
            match std::fs::read_to_string(path) {
                Ok(src) => texts.push((path, src)),
                Err(e) => problems.push(Problem::error(path, 0, format!("cannot read: {e}"))),
            }
        }
        let mut data = Vec::new();
        for (path, src) in &texts {
            match parse_corpus(path, src) {
                Ok(rows) => data.extend(rows),
                Err(p) => problems.extend(p),
            }
        }
        let positives = data.iter().filter(|(_, l)| *l).count();
        if problems.is_empty() && (positives < 20 || data.len() - positives < 20) {
            problems.push(Problem::error(
                dir,
                0,
                "the second-opinion files need at least 20 examples of each label to learn from",
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let pairs: Vec<(&str, bool)> = data.iter().map(|(t, l)| (t.as_str(), *l)).collect();
        Ok(Self::train(&pairs))
    }

    /// Trains on (sentence, is_crisis) pairs.
    pub fn train(data: &[(&str, bool)]) -> SecondOpinion {
        let stemmer = english_stemmer();
        let mut vocab = Vocabulary::default();
        let rows: Vec<(Vec<usize>, bool)> = data
            .iter()
            .map(|(text, label)| (vocab.intern(features(&stemmer, &normalize(text))), *label))
            .collect();
        let model = BinaryModel::train(&rows, vocab.len(), EPOCHS);
        let positives = rows.iter().filter(|(_, y)| *y).count();
        SecondOpinion {
            vocab,
            model,
            trained_on: (positives, rows.len() - positives),
        }
    }

    /// The probability that a message signals crisis, with its strongest features.
    pub fn judge(&self, text: &Normalized) -> Opinion {
        let feats = features(&english_stemmer(), text);
        let known = self.vocab.lookup(&feats);
        let (probability, contributions) = self.model.predict(&known, feats.len());
        let mut top: Vec<(&str, f32)> = contributions
            .into_iter()
            .filter(|(_, w)| *w > 0.0)
            .collect();
        top.sort_by(|a, b| b.1.total_cmp(&a.1));
        Opinion {
            probability,
            top_features: top.iter().take(4).map(|(f, _)| f.to_string()).collect(),
        }
    }
}

/// One corpus file's (sentence, is_crisis) pairs; a bad label is reported with its line.
fn parse_corpus(path: &Path, src: &str) -> Result<Vec<(String, bool)>, Vec<Problem>> {
    let file: CorpusFile = toml::from_str(src).map_err(|e| vec![toml_problem(path, src, 0, &e)])?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for set in file.set {
        let label = match set.label.as_str() {
            "crisis" => true,
            "not-crisis" => false,
            other => {
                let line = src
                    .find(&format!("\"{other}\""))
                    .map_or(1, |o| crate::diagnostics::line_of(src, o));
                problems.push(Problem::error(
                    path,
                    line,
                    format!(
                        "label `{other}` in family `{}`: use \"crisis\" or \"not-crisis\"",
                        set.family
                    ),
                ));
                continue;
            }
        };
        rows.extend(set.examples.into_iter().map(|e| (e, label)));
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
    fn learns_a_separable_toy_problem() {
        let data = [
            ("i want to die tonight", true),
            ("i dont want to live anymore", true),
            ("going to end my life", true),
            ("nobody would miss me if i died", true),
            ("how long does withdrawal last", false),
            ("is kratom legal in ohio", false),
            ("best strain for energy", false),
            ("this heat is killing me lol", false),
        ];
        let model = SecondOpinion::train(&data);
        let p = |t: &str| model.judge(&normalize(t)).probability;
        assert!(p("i just want to die") > p("is kratom legal in texas"));
        assert!(p("dont want to live") > 0.5, "{}", p("dont want to live"));
        assert!(p("which strain for energy") < 0.5);
    }
}
