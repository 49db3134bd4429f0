//! A small logistic-regression learner for the topic matcher:
//! sparse binary features (stemmed words, word pairs, character n-grams), class-balanced SGD in a
//! fixed order, so the same training data always gives the same model.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use rust_stemmers::{Algorithm, Stemmer};

use super::normalize::Normalized;

const LEARNING_RATE: f32 = 0.5;
const L2: f32 = 1e-3;
const CHAR_GRAM: usize = 4;

/// Feature names to indices, grown while training and fixed afterwards.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Vocabulary {
    ids: HashMap<String, usize>,
}

impl Vocabulary {
    /// Indices of `features`, adding unseen ones.
    pub fn intern(&mut self, features: Vec<String>) -> Vec<usize> {
        features
            .into_iter()
            .map(|f| {
                let next = self.ids.len();
                *self.ids.entry(f).or_insert(next)
            })
            .collect()
    }

    /// Indices of the known features among `features`, with their names.
    pub fn lookup<'a>(&self, features: &'a [String]) -> Vec<(&'a str, usize)> {
        features
            .iter()
            .filter_map(|f| self.ids.get(f).map(|&i| (f.as_str(), i)))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// One binary classifier over a shared vocabulary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BinaryModel {
    #[serde(with = "super::model_cache::floats")]
    weights: Vec<f32>,
    bias: f32,
}

impl BinaryModel {
    /// Trains on rows of feature indices with their labels for `epochs` passes; classes are
    /// balanced.
    pub fn train(rows: &[(Vec<usize>, bool)], n_features: usize, epochs: usize) -> BinaryModel {
        let mut weights = vec![0.0f32; n_features];
        let mut bias = 0.0f32;
        let pos = rows.iter().filter(|(_, y)| *y).count().max(1) as f32;
        let neg = (rows.len() as f32 - pos).max(1.0);
        let n = rows.len() as f32;
        for epoch in 0..epochs {
            let lr = LEARNING_RATE / (1.0 + epoch as f32 * 0.1);
            for (ids, y) in rows {
                let s = scale(ids.len());
                let p = sigmoid(bias + ids.iter().map(|&i| weights[i]).sum::<f32>() * s);
                let (target, class_weight) = if *y {
                    (1.0, n / (2.0 * pos))
                } else {
                    (0.0, n / (2.0 * neg))
                };
                let g = (p - target) * class_weight;
                for &i in ids {
                    weights[i] -= lr * (g * s + L2 * weights[i]);
                }
                bias -= lr * g * 0.1;
            }
        }
        BinaryModel { weights, bias }
    }

    /// The probability of the positive class, and each known feature's weight.
    pub fn predict<'a>(
        &self,
        known: &[(&'a str, usize)],
        n_features: usize,
    ) -> (f32, Vec<(&'a str, f32)>) {
        let contributions: Vec<(&str, f32)> = known
            .iter()
            .map(|&(f, i)| (f, self.weights.get(i).copied().unwrap_or(0.0)))
            .collect();
        let z = self.bias + contributions.iter().map(|(_, w)| w).sum::<f32>() * scale(n_features);
        (sigmoid(z), contributions)
    }
}

/// Longer messages have more features; scale so length alone does not push the score.
fn scale(n: usize) -> f32 {
    1.0 / (n.max(1) as f32).sqrt()
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// Stemmed words, word pairs and character 4-grams of the leetspeak-undone text (with letter-spaced
/// runs joined), so misspellings still share features.
pub fn features(stemmer: &Stemmer, text: &Normalized) -> Vec<String> {
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
        if padded.len() > CHAR_GRAM {
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

pub fn english_stemmer() -> Stemmer {
    Stemmer::create(Algorithm::English)
}
