//! The learned safety models: one logistic-regression classifier for crisis and one for a medical
//! emergency, trained at start-up from the writer-labelled corpus (`responses/crisis/corpus/`) and
//! the templates' own examples. They read words, word pairs and character 3-5-grams inside words
//! (so misspellings and other languages still share features), weighted by TF-IDF and hashed into
//! a fixed table. The rules catch what they name; these catch paraphrases no rule names.
//!
//! Training is deterministic (an order keyed by content, fixed epochs): a library always gives
//! the same models. Thresholds live in `responses/crisis/learned.toml`, chosen on writers the
//! model did not train on (see `tests/triage_eval.rs`).

use rust_stemmers::Stemmer;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use super::corpus::{Label, Sentence};
use super::linear::english_stemmer;
use super::normalize::{normalize, Normalized};

/// Size of the hashed feature table (2^18): collisions stay rare at this corpus size.
const BUCKETS: usize = 1 << 18;
const EPOCHS: usize = 12;
const LEARNING_RATE: f32 = 0.8;
const L2: f32 = 2e-5;
/// Character n-gram lengths inside a word.
const CHAR_GRAMS: std::ops::RangeInclusive<usize> = 3..=5;
/// Words per window when a long message is also read in parts.
const WINDOW: usize = 14;

/// Calls `emit` with every feature of a message: stemmed words, word pairs and character n-grams
/// inside words, as the parts that name it (hashed without building a string: this runs over the
/// whole corpus at every start).
fn each_feature(stemmer: &Stemmer, raw: &[&str], mut emit: impl FnMut(&[&str])) {
    let words: Vec<_> = raw.iter().map(|w| stemmer.stem(w)).collect();
    for w in &words {
        emit(&[w]);
    }
    for p in words.windows(2) {
        emit(&[&p[0], " ", &p[1]]);
    }
    for w in raw {
        each_char_gram(w, |g| emit(&["~", g]));
    }
}

/// Calls `emit` with every character n-gram of `word` marked at both ends ("<wo", "ord>").
fn each_char_gram(word: &str, mut emit: impl FnMut(&str)) {
    let padded = format!("<{word}>");
    let bounds: Vec<usize> = padded
        .char_indices()
        .map(|(i, _)| i)
        .chain([padded.len()])
        .collect();
    for n in CHAR_GRAMS {
        for start in 0..bounds.len().saturating_sub(n) {
            emit(&padded[bounds[start]..bounds[start + n]]);
        }
    }
}

/// The words the models read: the leetspeak-undone text, with letter-spaced runs joined.
fn words_of(text: &Normalized) -> Vec<&str> {
    let source = text.despaced.as_deref().unwrap_or(&text.leet);
    source.split(' ').filter(|w| !w.is_empty()).collect()
}

/// Overlapping windows of a long message, so a warning sign buried in a long kratom question is
/// read on its own rather than diluted by everything around it (the models learned from
/// sentences). Short messages are read whole only. Word ranges.
fn windows(len: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let long = len > WINDOW + WINDOW / 2;
    let starts = if long { len - WINDOW / 2 } else { 0 };
    (0..starts)
        .step_by(WINDOW / 2)
        .map(move |s| s..(s + WINDOW).min(len))
}

/// A message's features per word, computed once however many windows read the word: each word's
/// stem and character n-grams, and the pair each word starts. Any span's features are the union
/// of its words' (exactly what `buckets` gives for that span).
struct WordFeatures {
    own: Vec<Vec<usize>>,
    pairs: Vec<usize>,
}

impl WordFeatures {
    fn new(stemmer: &Stemmer, raw: &[&str]) -> WordFeatures {
        let stems: Vec<_> = raw.iter().map(|w| stemmer.stem(w)).collect();
        let own = raw
            .iter()
            .zip(&stems)
            .map(|(w, stem)| {
                let mut b = vec![bucket(&[stem])];
                each_char_gram(w, |g| b.push(bucket(&["~", g])));
                b
            })
            .collect();
        let pairs = stems
            .windows(2)
            .map(|p| bucket(&[&p[0], " ", &p[1]]))
            .collect();
        WordFeatures { own, pairs }
    }

    /// The distinct buckets of words `span`, sorted.
    fn span(&self, span: std::ops::Range<usize>) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for b in &self.own[span.clone()] {
            out.extend_from_slice(b);
        }
        if span.end > span.start + 1 {
            out.extend_from_slice(&self.pairs[span.start..span.end - 1]);
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The distinct hashed buckets of a message, sorted.
fn buckets(stemmer: &Stemmer, words: &[&str]) -> Vec<usize> {
    let mut out = Vec::new();
    each_feature(stemmer, words, |parts| out.push(bucket(parts)));
    out.sort_unstable();
    out.dedup();
    out
}

/// The distinct features of a message with their names, for explanations.
fn named(stemmer: &Stemmer, words: &[&str]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    each_feature(stemmer, words, |parts| {
        out.push((bucket(parts), parts.concat()));
    });
    out.sort_unstable();
    out.dedup_by_key(|(b, _)| *b);
    out
}

/// FNV-1a over the parts: stable across builds and platforms, so the same corpus always gives the
/// same model.
fn bucket(parts: &[&str]) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % BUCKETS as u64) as usize
}

/// A message as the models see it: hashed features with TF-IDF weights, L2-normalised.
struct Vector {
    buckets: Vec<usize>,
    values: Vec<f32>,
}

/// Inverse document frequencies, shared by both models.
#[derive(Debug, Serialize, Deserialize)]
struct Idf {
    #[serde(with = "super::model_cache::floats")]
    weights: Vec<f32>,
}

impl Idf {
    /// `docs` hold each document's distinct buckets.
    fn fit(docs: &[Vec<usize>]) -> Idf {
        let mut df = vec![0u32; BUCKETS];
        for d in docs {
            for &b in d {
                df[b] += 1;
            }
        }
        let n = docs.len() as f32;
        Idf {
            weights: df
                .iter()
                .map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)
                .collect(),
        }
    }

    fn vector(&self, buckets: Vec<usize>) -> Vector {
        let mut values: Vec<f32> = buckets.iter().map(|&b| self.weights[b]).collect();
        let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-6);
        for v in &mut values {
            *v /= norm;
        }
        Vector { buckets, values }
    }
}

/// One binary logistic-regression model over the hashed table.
#[derive(Debug, Serialize, Deserialize)]
struct Classifier {
    #[serde(with = "super::model_cache::floats")]
    weights: Vec<f32>,
    bias: f32,
}

impl Classifier {
    /// Class-balanced SGD in an order fixed by each row's content.
    fn train(rows: &[(&Vector, bool)]) -> Classifier {
        let mut weights = vec![0.0f32; BUCKETS];
        let mut bias = 0.0f32;
        let pos = rows.iter().filter(|(_, y)| *y).count().max(1) as f32;
        let neg = (rows.len() as f32 - pos).max(1.0);
        let n = rows.len() as f32;
        let order = content_order(rows);
        for epoch in 0..EPOCHS {
            let lr = LEARNING_RATE / (1.0 + epoch as f32 * 0.3);
            for &i in &order {
                let (x, y) = rows[i];
                let p = sigmoid(bias + dot(&weights, x));
                let (target, class_weight) = if y {
                    (1.0, n / (2.0 * pos))
                } else {
                    (0.0, n / (2.0 * neg))
                };
                let g = (p - target) * class_weight;
                for k in 0..x.buckets.len() {
                    let w = &mut weights[x.buckets[k]];
                    *w -= lr * (g * x.values[k] + L2 * *w);
                }
                bias -= lr * g * 0.1;
            }
        }
        Classifier { weights, bias }
    }

    fn probability(&self, x: &Vector) -> f32 {
        sigmoid(self.bias + dot(&self.weights, x))
    }

    /// The words that pushed hardest towards the positive class.
    fn top_features(&self, x: &Vector, names: &[(usize, String)]) -> Vec<String> {
        // `names` and `x.buckets` are both sorted by bucket and hold the same buckets.
        let mut contributions: Vec<(&str, f32)> = names
            .iter()
            .zip(&x.values)
            .map(|((b, name), v)| (name.as_str(), self.weights[*b] * v))
            .filter(|(_, c)| *c > 0.0)
            .collect();
        contributions.sort_by(|a, b| b.1.total_cmp(&a.1));
        // Words and word pairs explain a decision to a moderator; fragments only when nothing else.
        let mut words: Vec<String> = contributions
            .iter()
            .filter(|(f, _)| !f.starts_with('~'))
            .take(4)
            .map(|(f, _)| f.to_string())
            .collect();
        if words.is_empty() {
            words = contributions
                .iter()
                .take(3)
                .map(|(f, _)| f.trim_start_matches('~').to_string())
                .collect();
        }
        words
    }
}

fn dot(weights: &[f32], x: &Vector) -> f32 {
    let mut sum = 0.0;
    for k in 0..x.buckets.len() {
        sum += weights[x.buckets[k]] * x.values[k];
    }
    sum
}

/// How much a window's logit is lowered (see `SafetyModels::judge`).
const WINDOW_DISCOUNT: f32 = 1.5;

fn discounted(p: f32) -> f32 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    sigmoid((p / (1.0 - p)).ln() - WINDOW_DISCOUNT)
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// A pseudo-random order keyed by each row's content (a hash of its features and label), so SGD
/// does not learn the file order and every start gives the same model. Keyed by content, not by
/// position, so adding one sentence to the library puts it in one place and leaves every other
/// row's order alone: a permutation drawn from the row count reshuffled everything, and one new
/// template example flipped 28 of 1,571 held-out safety decisions.
fn content_order(rows: &[(&Vector, bool)]) -> Vec<usize> {
    let mut buf = Vec::new();
    let mut key = |(x, y): &(&Vector, bool)| {
        // One hash call per row over its bytes: an update per feature cost a tenth of a second.
        buf.clear();
        for (b, v) in x.buckets.iter().zip(&x.values) {
            buf.extend_from_slice(&(*b as u64).to_le_bytes());
            buf.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        buf.push(u8::from(*y));
        let bytes = blake3::hash(&buf);
        let mut first = [0u8; 8];
        first.copy_from_slice(&bytes.as_bytes()[..8]);
        u64::from_le_bytes(first)
    };
    let mut keyed: Vec<(u64, usize)> = rows.iter().enumerate().map(|(i, r)| (key(r), i)).collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// A model's view of one message.
#[derive(Debug, Clone, Default)]
pub struct Opinion {
    pub probability: f32,
    /// The words that pushed hardest towards the positive class, for explanations.
    pub top_features: Vec<String>,
}

/// Both models' view of one message.
#[derive(Debug, Clone, Default)]
pub struct Opinions {
    pub crisis: Opinion,
    pub emergency: Opinion,
}

/// The positive training sentences, kept to name the family a message most resembles: each
/// sentence's family and number of buckets, and for each bucket the sentences holding it, so a
/// message's overlap with all of them costs its buckets' lists rather than a pass over every
/// sentence.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Exemplars {
    families: Vec<String>,
    sizes: Vec<u32>,
    postings: HashMap<u32, Vec<u32>>,
}

impl Exemplars {
    fn push(&mut self, buckets: &[usize], family: &str) {
        let id = self.families.len() as u32;
        self.families.push(family.to_string());
        self.sizes.push(buckets.len() as u32);
        for &b in buckets {
            self.postings.entry(b as u32).or_default().push(id);
        }
    }

    /// The family of the sentence with the highest Jaccard overlap with `mine` (sorted, distinct
    /// buckets); on a tie the later sentence, as a scan in order would give.
    fn nearest(&self, mine: &[usize]) -> Option<&str> {
        let mut common = vec![0u32; self.families.len()];
        for b in mine {
            for &id in self.postings.get(&(*b as u32)).into_iter().flatten() {
                common[id as usize] += 1;
            }
        }
        common
            .iter()
            .zip(&self.sizes)
            .enumerate()
            .map(|(id, (&c, &size))| (jaccard(c as usize, mine.len(), size as usize), id))
            .filter(|(s, _)| *s > 0.0)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, id)| self.families[id].as_str())
    }
}

/// The trained crisis and emergency models.
#[derive(Debug, Serialize, Deserialize)]
pub struct SafetyModels {
    idf: Idf,
    crisis: Classifier,
    emergency: Classifier,
    crisis_exemplars: Exemplars,
    emergency_exemplars: Exemplars,
    /// Sentences learned from: (crisis, emergency, neither).
    pub trained_on: (usize, usize, usize),
}

/// A training row: the text and its labels.
pub struct TrainingRow<'a> {
    pub text: &'a str,
    pub crisis: bool,
    pub emergency: bool,
    pub family: &'a str,
}

impl<'a> From<&'a Sentence> for TrainingRow<'a> {
    fn from(s: &'a Sentence) -> Self {
        TrainingRow {
            text: &s.text,
            crisis: s.label == Label::Crisis,
            emergency: s.is_emergency(),
            family: &s.family,
        }
    }
}

impl SafetyModels {
    /// Trains both models on the same rows.
    pub fn train(rows: &[TrainingRow]) -> SafetyModels {
        let stemmer = english_stemmer();
        let docs: Vec<Vec<usize>> = rows
            .iter()
            .map(|r| buckets(&stemmer, &words_of(&normalize(r.text))))
            .collect();
        let idf = Idf::fit(&docs);
        let mut crisis_exemplars = Exemplars::default();
        let mut emergency_exemplars = Exemplars::default();
        for (d, r) in docs.iter().zip(rows) {
            if r.crisis {
                crisis_exemplars.push(d, r.family);
            }
            if r.emergency {
                emergency_exemplars.push(d, r.family);
            }
        }
        let vectors: Vec<Vector> = docs.into_iter().map(|d| idf.vector(d)).collect();
        let crisis_rows: Vec<(&Vector, bool)> = vectors
            .iter()
            .zip(rows)
            .map(|(v, r)| (v, r.crisis))
            .collect();
        let emergency_rows: Vec<(&Vector, bool)> = vectors
            .iter()
            .zip(rows)
            .map(|(v, r)| (v, r.emergency))
            .collect();
        let count = |f: fn(&TrainingRow) -> bool| rows.iter().filter(|r| f(r)).count();
        SafetyModels {
            crisis: Classifier::train(&crisis_rows),
            emergency: Classifier::train(&emergency_rows),
            idf,
            crisis_exemplars,
            emergency_exemplars,
            trained_on: (
                count(|r| r.crisis),
                count(|r| r.emergency),
                count(|r| !r.crisis && !r.emergency),
            ),
        }
    }

    /// Both probabilities for one normalised message, each explained (see `judge_explaining`).
    pub fn judge(&self, text: &Normalized) -> Opinions {
        self.judge_explaining(text, 0.0, 0.0)
    }

    /// Both probabilities for one normalised message: the whole message and, for a long one,
    /// each window; the highest wins. Only the winning part is explained, and only when its
    /// probability reaches the model's floor (`crisis_floor`, `emergency_floor`): naming features
    /// costs a string each, and a score below every cut-off is never shown.
    pub fn judge_explaining(
        &self,
        text: &Normalized,
        crisis_floor: f32,
        emergency_floor: f32,
    ) -> Opinions {
        let stemmer = english_stemmer();
        let words = words_of(text);
        let features = WordFeatures::new(&stemmer, &words);
        let probabilities = |span: std::ops::Range<usize>| {
            let x = self.idf.vector(features.span(span));
            (self.crisis.probability(&x), self.emergency.probability(&x))
        };
        let whole = 0..words.len();
        let (c, e) = probabilities(whole.clone());
        let (mut crisis, mut emergency) = ((c, whole.clone()), (e, whole));
        for part in windows(words.len()) {
            let (c, e) = probabilities(part.clone());
            // A window has fewer words than the message, and fewer words make the model surer
            // than it should be: discount its logit before comparing.
            let (c, e) = (discounted(c), discounted(e));
            if c > crisis.0 {
                crisis = (c, part.clone());
            }
            if e > emergency.0 {
                emergency = (e, part);
            }
        }
        let opinion = |model: &Classifier, (p, span): (f32, std::ops::Range<usize>), floor: f32| {
            if p >= floor {
                self.explain(model, &stemmer, &words[span], p)
            } else {
                Opinion {
                    probability: p,
                    top_features: Vec::new(),
                }
            }
        };
        Opinions {
            crisis: opinion(&self.crisis, crisis, crisis_floor),
            emergency: opinion(&self.emergency, emergency, emergency_floor),
        }
    }

    /// The opinion of `model` on `words`, with the features that pushed it, at `probability`.
    fn explain(
        &self,
        model: &Classifier,
        stemmer: &Stemmer,
        words: &[&str],
        probability: f32,
    ) -> Opinion {
        let names = named(stemmer, words);
        let x = self.idf.vector(names.iter().map(|(b, _)| *b).collect());
        Opinion {
            probability,
            top_features: model.top_features(&x, &names),
        }
    }

    /// The warning-sign family of the crisis (or emergency) training sentence most like `text`,
    /// so a moderator reads "reads like: plan" rather than a bare probability.
    pub fn nearest_family(&self, text: &Normalized, emergency: bool) -> Option<&str> {
        let mine = buckets(&english_stemmer(), &words_of(text));
        let pool = if emergency {
            &self.emergency_exemplars
        } else {
            &self.crisis_exemplars
        };
        pool.nearest(&mine)
    }
}

/// Jaccard overlap of two sets of `a` and `b` items with `common` items in both.
fn jaccard(common: usize, a: usize, b: usize) -> f32 {
    let union = a + b - common;
    if union == 0 {
        0.0
    } else {
        common as f32 / union as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(text: &'static str, crisis: bool, emergency: bool) -> TrainingRow<'static> {
        TrainingRow {
            text,
            crisis,
            emergency,
            family: if crisis { "intent" } else { "other" },
        }
    }

    #[test]
    fn learns_both_labels_and_names_a_family() {
        let rows = [
            row("i want to die tonight", true, false),
            row("i dont want to live anymore", true, false),
            row("going to end my life", true, false),
            row("nobody would miss me if i died", true, false),
            row("he is not breathing and his lips are blue", false, true),
            row("she collapsed and wont wake up", false, true),
            row("my friend is having a seizure", false, true),
            row("how long does withdrawal last", false, false),
            row("is kratom legal in ohio", false, false),
            row("best strain for energy", false, false),
            row("this heat is killing me lol", false, false),
        ];
        let models = SafetyModels::train(&rows);
        let judge = |t: &str| models.judge(&normalize(t));
        assert!(judge("i just want to die").crisis.probability > 0.5);
        assert!(judge("which strain for energy").crisis.probability < 0.5);
        assert!(judge("his lips are turning blue").emergency.probability > 0.5);
        assert!(judge("is it legal in texas").emergency.probability < 0.5);
        assert_eq!(
            models.nearest_family(&normalize("want to die"), false),
            Some("intent")
        );
        assert_eq!(models.trained_on, (4, 3, 4));
    }

    #[test]
    fn word_features_give_each_span_the_same_buckets_as_the_span_alone() {
        let stemmer = english_stemmer();
        for text in [
            "i took my whole stash of kratom and the pills tonight, saying goodbye to everyone i love, its not about the taper, im just done and the dog goes to my sister",
            "is it legal",
            "ok",
            "",
            "über straße ñandú 😀 ＦＵＬＬ width",
        ] {
            let n = normalize(text);
            let words = words_of(&n);
            let f = WordFeatures::new(&stemmer, &words);
            let mut spans: Vec<_> = windows(words.len()).collect();
            spans.push(0..words.len());
            for span in spans {
                assert_eq!(f.span(span.clone()), buckets(&stemmer, &words[span.clone()]), "{text} {span:?}");
            }
        }
    }

    #[test]
    fn nearest_family_by_postings_matches_a_scan_of_every_sentence() {
        let stemmer = english_stemmer();
        let sentences = [
            ("i want to die tonight", "active"),
            ("i have the pills saved", "means"),
            ("goodbye everyone, the dog goes to my sister", "goodbye"),
            ("i want to die", "passive"),
        ];
        let mut ex = Exemplars::default();
        let docs: Vec<Vec<usize>> = sentences
            .iter()
            .map(|(t, _)| buckets(&stemmer, &words_of(&normalize(t))))
            .collect();
        for (d, (_, f)) in docs.iter().zip(&sentences) {
            ex.push(d, f);
        }
        for probe in [
            "i want to die",
            "pills saved for tonight",
            "my dog",
            "zzz",
            "",
        ] {
            let mine = buckets(&stemmer, &words_of(&normalize(probe)));
            let scan = docs
                .iter()
                .zip(&sentences)
                .map(|(d, (_, f))| {
                    let common = mine.iter().filter(|b| d.binary_search(b).is_ok()).count();
                    (jaccard(common, mine.len(), d.len()), *f)
                })
                .filter(|(s, _)| *s > 0.0)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, f)| f);
            assert_eq!(ex.nearest(&mine), scan, "{probe}");
        }
    }

    #[test]
    fn training_is_deterministic() {
        let rows = [
            row("i want to die", true, false),
            row("is it legal", false, false),
        ];
        let a = SafetyModels::train(&rows).judge(&normalize("want to die"));
        let b = SafetyModels::train(&rows).judge(&normalize("want to die"));
        assert_eq!(a.crisis.probability, b.crisis.probability);
    }
}
