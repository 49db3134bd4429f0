//! The crisis detector's learned second opinion: a logistic-regression classifier over words, word
//! pairs and character n-grams, trained at start-up from `responses/crisis/second-opinion.toml`
//! (labelled sentences, reviewed like templates). The phrase rules catch what they were written
//! for; this catches paraphrases of the same situations that no rule names. Training is
//! deterministic (fixed order, fixed epochs), so a library always gives the same model.

use std::collections::HashMap;
use std::path::Path;

use rust_stemmers::{Algorithm, Stemmer};
use serde::Deserialize;

use super::normalize::{normalize, Normalized};
use crate::diagnostics::{toml_problem, Problem};

const EPOCHS: usize = 30;
const LEARNING_RATE: f32 = 0.5;
const L2: f32 = 1e-3;
const CHAR_GRAM: usize = 4;

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
    vocab: HashMap<String, usize>,
    weights: Vec<f32>,
    bias: f32,
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
    pub fn load(path: &Path) -> Result<SecondOpinion, Vec<Problem>> {
        let src = std::fs::read_to_string(path)
            .map_err(|e| vec![Problem::error(path, 0, format!("cannot read: {e}"))])?;
        let file: CorpusFile =
            toml::from_str(&src).map_err(|e| vec![toml_problem(path, &src, 0, &e)])?;
        let mut data = Vec::new();
        let mut problems = Vec::new();
        for set in &file.set {
            let label = match set.label.as_str() {
                "crisis" => true,
                "not-crisis" => false,
                other => {
                    let line = src
                        .find(&format!("\"{other}\""))
                        .map_or(1, |o| crate::diagnostics::line_of(&src, o));
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
            data.extend(set.examples.iter().map(|e| (e.as_str(), label)));
        }
        let positives = data.iter().filter(|(_, l)| *l).count();
        if positives < 20 || data.len() - positives < 20 {
            problems.push(Problem::error(
                path,
                1,
                "needs at least 20 examples of each label to learn from",
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self::train(&data))
    }

    /// Trains on (sentence, is_crisis) pairs.
    pub fn train(data: &[(&str, bool)]) -> SecondOpinion {
        let stemmer = Stemmer::create(Algorithm::English);
        let mut vocab: HashMap<String, usize> = HashMap::new();
        let rows: Vec<(Vec<usize>, f32)> = data
            .iter()
            .map(|(text, label)| {
                let ids = features(&stemmer, &normalize(text))
                    .into_iter()
                    .map(|f| {
                        let next = vocab.len();
                        *vocab.entry(f).or_insert(next)
                    })
                    .collect();
                (ids, if *label { 1.0 } else { 0.0 })
            })
            .collect();
        let mut weights = vec![0.0f32; vocab.len()];
        let mut bias = 0.0f32;
        // Balance the classes so the corpus's proportions do not set the prior.
        let pos = rows.iter().filter(|(_, y)| *y > 0.5).count().max(1) as f32;
        let neg = (rows.len() as f32 - pos).max(1.0);
        for epoch in 0..EPOCHS {
            let lr = LEARNING_RATE / (1.0 + epoch as f32 * 0.1);
            for (ids, y) in &rows {
                let p =
                    sigmoid(bias + ids.iter().map(|&i| weights[i]).sum::<f32>() * scale(ids.len()));
                let class_weight = if *y > 0.5 {
                    rows.len() as f32 / (2.0 * pos)
                } else {
                    rows.len() as f32 / (2.0 * neg)
                };
                let g = (p - y) * class_weight;
                let s = scale(ids.len());
                for &i in ids {
                    weights[i] -= lr * (g * s + L2 * weights[i]);
                }
                bias -= lr * g * 0.1;
            }
        }
        let positives = rows.iter().filter(|(_, y)| *y > 0.5).count();
        SecondOpinion {
            vocab,
            weights,
            bias,
            trained_on: (positives, rows.len() - positives),
        }
    }

    /// The probability that a message signals crisis, with its strongest features.
    pub fn judge(&self, text: &Normalized) -> Opinion {
        let stemmer = Stemmer::create(Algorithm::English);
        let feats = features(&stemmer, text);
        let known: Vec<(&String, f32)> = feats
            .iter()
            .filter_map(|f| self.vocab.get(f).map(|&i| (f, self.weights[i])))
            .collect();
        let s = scale(feats.len());
        let z = self.bias + known.iter().map(|(_, w)| w).sum::<f32>() * s;
        let mut top: Vec<&(&String, f32)> = known.iter().filter(|(_, w)| *w > 0.0).collect();
        top.sort_by(|a, b| b.1.total_cmp(&a.1));
        Opinion {
            probability: sigmoid(z),
            top_features: top.iter().take(4).map(|(f, _)| (*f).clone()).collect(),
        }
    }
}

/// Longer messages have more features; scale so length alone does not push the score.
fn scale(n: usize) -> f32 {
    1.0 / (n.max(1) as f32).sqrt()
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// Stemmed words, word pairs and character 4-grams of the leetspeak-undone text (and of the
/// letter-spaced runs joined back), so misspellings still share features.
fn features(stemmer: &Stemmer, text: &Normalized) -> Vec<String> {
    let source = text.despaced.as_deref().unwrap_or(&text.leet);
    let words: Vec<String> = source
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| stemmer.stem(w).into_owned())
        .collect();
    let mut out: Vec<String> = words.iter().map(|w| format!("w:{w}")).collect();
    out.extend(words.windows(2).map(|p| format!("b:{} {}", p[0], p[1])));
    for w in source.split(' ') {
        let padded: Vec<char> = format!("<{w}>").chars().collect();
        if CHAR_GRAM > 0 && padded.len() > CHAR_GRAM {
            out.extend(
                padded
                    .windows(CHAR_GRAM)
                    .map(|g| format!("c:{}", g.iter().collect::<String>())),
            );
        }
    }
    out.sort();
    out.dedup();
    out
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
