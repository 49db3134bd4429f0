//! The topic matcher: which template answers a message.
//!
//! Two signals, both explainable:
//! - similarity to the templates' own examples (TF-IDF over stemmed words and word pairs, learned at
//!   start-up from `examples`, `keywords` and `title`), taking both the closest example and the
//!   template's centroid, so one lucky example cannot dominate;
//! - cue phrases per topic from `responses/topics.toml` (domain words such as "taper" or "urine"),
//!   which generalise to wordings no example has.
//!
//! A message whose best score stays under the threshold is out of scope.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

use rust_stemmers::{Algorithm, Stemmer};

use super::linear::{self, BinaryModel, Vocabulary};
use super::normalize::Normalized;
use super::phrase_index::{Rule, RuleMatcher, RuleMatcherBuilder};
use crate::library::catalog::OUT_OF_SCOPE;
use crate::library::{Catalog, Library};

/// How much one unit of cue weight adds to a topic's score (similarities are 0..1).
const CUE_SCALE: f32 = 0.12;
/// Cue contribution is capped so a list of words cannot drown out the examples.
const CUE_CAP: f32 = 0.6;
/// Below this best score, the message is out of scope.
pub const THRESHOLD: f32 = 0.22;
/// Topics only their detectors can choose: a crisis or emergency answer without the detector's
/// flag would be wrong twice (the reply and the flags that drive alerts). The mood templates stay
/// open to the matcher on purpose: a mood question the detector missed still reaches them.
const GATED_TOPICS: [&str; 2] = ["crisis", "emergency"];
/// Passes over the examples per topic model (one model per topic: start-up cost matters).
const LEARNED_EPOCHS: usize = 10;
/// How much the learned model's probability (0..1) adds to a template's score.
const LEARNED_WEIGHT: f32 = 0.2;
/// Examples with fewer content words than this are trusted proportionally less.
const SHORT_EXAMPLE_WORDS: f32 = 3.0;
/// Matches that carry their reasons (the chosen one and the runners-up `explain` may show).
const EXPLAINED_MATCHES: usize = 3;
/// Weight of the closest example vs the template centroid.
const NEAREST_WEIGHT: f32 = 0.6;

const STOPWORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "i",
    "im",
    "me",
    "my",
    "it",
    "its",
    "to",
    "of",
    "and",
    "or",
    "in",
    "on",
    "at",
    "be",
    "been",
    "am",
    "are",
    "is",
    "was",
    "were",
    "so",
    "just",
    "like",
    "that",
    "this",
    "these",
    "those",
    "you",
    "u",
    "ur",
    "your",
    "we",
    "our",
    "they",
    "them",
    "he",
    "she",
    "his",
    "her",
    "ive",
    "id",
    "ill",
    "lol",
    "lmao",
    "ngl",
    "tbh",
    "pls",
    "please",
    "hey",
    "hi",
    "guys",
    "yall",
    "also",
    "really",
    "very",
    "some",
    "any",
    "anyone",
    "anybody",
    "there",
    "here",
    "kratombot",
    "bot",
];

/// Words that show a message is about kratom at all.
const KRATOM_WORDS: &[&str] = &[
    "kratom",
    "krat",
    "kratum",
    "k",
    "mitragyna",
    "mitragynine",
    "mitra",
    "7oh",
    "maeng",
    "bali",
    "borneo",
    "malay",
    "leaf",
];

type SparseVec = Vec<(u32, f32)>;

#[derive(Debug, Serialize, Deserialize)]
struct TemplateModel {
    id: String,
    topic: String,
    centroid: SparseVec,
}

#[derive(Debug, Serialize, Deserialize)]
struct Example {
    template: usize,
    text: String,
    vec: SparseVec,
    /// Examples of one or two words match anything that shares a word with them ("help"), so
    /// their similarity counts for less.
    trust: f32,
}

/// One topic's cues as written, with their weights, numbered as in the matcher.
#[derive(Debug)]
struct TopicCues {
    topic: String,
    rules: Vec<(String, f32)>,
}

/// Every topic's cues, matched together (one group per topic).
#[derive(Debug, Default)]
struct Cues {
    topics: Vec<TopicCues>,
    matcher: RuleMatcher,
}

/// A scored candidate with the evidence for it.
#[derive(Debug, Clone)]
pub struct Match {
    pub template_id: String,
    pub topic: String,
    pub score: f32,
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct TopicMatcher {
    vocab: HashMap<String, u32>,
    #[serde(with = "super::model_cache::floats")]
    idf: Vec<f32>,
    templates: Vec<TemplateModel>,
    examples: Vec<Example>,
    /// Compiled regexes are not cached: `with_cues` rebuilds them after a cache load.
    #[serde(skip)]
    cues: Cues,
    topic_order: Vec<String>,
    synonyms: BTreeMap<String, String>,
    /// One-vs-rest logistic models per topic, learned from the same examples.
    learned: Vec<(String, BinaryModel)>,
    learned_vocab: Vocabulary,
    /// Per feature id, the examples holding it and its weight there: a message's similarity to
    /// every example costs its features' lists, not a pass over all examples.
    postings: Vec<Vec<(u32, f32)>>,
}

impl TopicMatcher {
    /// A matcher read from the model cache, with its cues compiled from `library`'s catalog.
    pub fn with_cues(mut self, library: &Library) -> Result<TopicMatcher, String> {
        self.cues = compile_cues(&library.catalog)?;
        Ok(self)
    }

    /// Learns from the library's approved templates and the catalog's cues.
    pub fn build(library: &Library) -> Result<TopicMatcher, String> {
        let stemmer = Stemmer::create(Algorithm::English);
        let mut docs: Vec<(usize, String, Vec<String>)> = Vec::new();
        let mut templates = Vec::new();
        for (i, t) in library.templates().iter().enumerate() {
            templates.push(TemplateModel {
                id: t.id.clone(),
                topic: t.topic.clone(),
                centroid: vec![],
            });
            let texts = t
                .examples
                .iter()
                .chain(t.keywords.iter())
                .chain(std::iter::once(&t.title));
            for text in texts {
                let n = super::normalize::normalize(text);
                docs.push((
                    i,
                    text.clone(),
                    features(&stemmer, &library.catalog.synonyms, &n.plain),
                ));
            }
        }
        // Document frequency over examples: words every topic uses ("kratom") weigh little.
        let mut vocab: HashMap<String, u32> = HashMap::new();
        let mut df: Vec<f32> = Vec::new();
        for (_, _, feats) in &docs {
            let mut seen: Vec<u32> = Vec::new();
            for f in feats {
                let next = vocab.len() as u32;
                let id = *vocab.entry(f.clone()).or_insert(next);
                if id as usize == df.len() {
                    df.push(0.0);
                }
                if !seen.contains(&id) {
                    seen.push(id);
                    df[id as usize] += 1.0;
                }
            }
        }
        let n_docs = docs.len().max(1) as f32;
        let idf: Vec<f32> = df
            .iter()
            .map(|d| ((1.0 + n_docs) / (1.0 + d)).ln() + 1.0)
            .collect();
        let mut examples = Vec::new();
        let mut sums: Vec<BTreeMap<u32, f32>> = vec![BTreeMap::new(); templates.len()];
        for (t, text, feats) in docs {
            let vec = weigh(&vocab, &idf, &feats);
            let words = feats.iter().filter(|f| !f.contains(' ')).count();
            let trust = (words as f32 / SHORT_EXAMPLE_WORDS).min(1.0);
            for (k, v) in &vec {
                *sums[t].entry(*k).or_default() += v;
            }
            examples.push(Example {
                template: t,
                text,
                vec,
                trust,
            });
        }
        for (model, sum) in templates.iter_mut().zip(sums) {
            model.centroid = normalized(sum.into_iter().collect());
        }
        let mut postings: Vec<Vec<(u32, f32)>> = vec![Vec::new(); vocab.len()];
        for (i, ex) in examples.iter().enumerate() {
            for &(k, v) in &ex.vec {
                postings[k as usize].push((i as u32, v));
            }
        }
        let cues = compile_cues(&library.catalog)?;
        let (learned_vocab, learned) = learn_topics(library);
        let topic_order = library.catalog.ids().map(str::to_string).collect();
        let synonyms = library.catalog.synonyms.clone();
        Ok(TopicMatcher {
            vocab,
            idf,
            templates,
            examples,
            cues,
            topic_order,
            synonyms,
            learned,
            learned_vocab,
            postings,
        })
    }

    /// The best template over all topics, or out of scope.
    pub fn best(&self, text: &Normalized) -> Match {
        self.rank(text, None)
            .into_iter()
            .next()
            .unwrap_or_else(|| self.out_of_scope(0.0))
    }

    /// The best template within one topic (crisis, emergency, depression after their detectors).
    pub fn best_in(&self, text: &Normalized, topic: &str) -> Option<Match> {
        self.rank(text, Some(topic)).into_iter().next()
    }

    fn out_of_scope(&self, score: f32) -> Match {
        let id = self
            .templates
            .iter()
            .find(|t| t.topic == OUT_OF_SCOPE)
            .map_or_else(|| OUT_OF_SCOPE.to_string(), |t| t.id.clone());
        Match {
            template_id: id,
            topic: OUT_OF_SCOPE.into(),
            score,
            reasons: vec![format!("no topic scored above {THRESHOLD:.2}")],
        }
    }

    /// Candidates best first. Without a topic filter, falls back to out of scope under the threshold.
    fn rank(&self, text: &Normalized, only: Option<&str>) -> Vec<Match> {
        let stemmer = Stemmer::create(Algorithm::English);
        let feats = features(&stemmer, &self.synonyms, &text.plain);
        let query = weigh(&self.vocab, &self.idf, &feats);
        // The dot product with every example, through the postings (features in ascending id
        // order, as `dot` adds them, so the sums are the same to the bit).
        let mut dots = vec![0.0f32; self.examples.len()];
        for &(k, q) in &query {
            for &(i, v) in &self.postings[k as usize] {
                dots[i as usize] += q * v;
            }
        }
        let mut nearest: Vec<(f32, usize)> = vec![(0.0, usize::MAX); self.templates.len()];
        for (i, ex) in self.examples.iter().enumerate() {
            let s = dots[i] * ex.trust;
            if s > nearest[ex.template].0 {
                nearest[ex.template] = (s, i);
            }
        }
        let cue_hits = self.cue_hits(&text.plain);
        let learned = self.learned_probabilities(text);
        let mut scored = Vec::with_capacity(self.templates.len());
        for (i, t) in self.templates.iter().enumerate() {
            let wanted = match only {
                Some(o) => o == t.topic,
                None => !GATED_TOPICS.contains(&t.topic.as_str()),
            };
            if !wanted {
                continue;
            }
            let (near, ex) = nearest[i];
            let centroid = dot(&query, &t.centroid);
            let sim = NEAREST_WEIGHT * near + (1.0 - NEAREST_WEIGHT) * centroid;
            let (cue_weight, cue_rules) =
                cue_hits.get(t.topic.as_str()).cloned().unwrap_or_default();
            let cue = (cue_weight * CUE_SCALE).min(CUE_CAP);
            let p = learned.get(t.topic.as_str()).copied().unwrap_or(0.0);
            scored.push((sim + cue + LEARNED_WEIGHT * p, i, near, ex, p, cue_rules));
        }
        // Ties go to the topic listed first in the catalog.
        let order = |topic: &str| {
            self.topic_order
                .iter()
                .position(|t| t == topic)
                .unwrap_or(usize::MAX)
        };
        scored.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then(order(&self.templates[a.1].topic).cmp(&order(&self.templates[b.1].topic)))
        });
        // Reasons are words for a moderator: written for the few matches anyone reads.
        let mut matches: Vec<Match> = Vec::with_capacity(scored.len());
        for (rank, (score, i, near, ex, p, cue_rules)) in scored.into_iter().enumerate() {
            let t = &self.templates[i];
            let mut reasons = Vec::new();
            if rank < EXPLAINED_MATCHES {
                if let Some(ex) = self.examples.get(ex) {
                    reasons.push(format!(
                        "closest example {:?} (similarity {near:.2})",
                        ex.text
                    ));
                }
                if p >= 0.5 {
                    reasons.push(format!("learned model: {} ({p:.2})", t.topic));
                }
                if !cue_rules.is_empty() {
                    reasons.push(format!("{} cues: {}", t.topic, cue_rules.join(", ")));
                }
            }
            matches.push(Match {
                template_id: t.id.clone(),
                topic: t.topic.clone(),
                score,
                reasons,
            });
        }
        if only.is_none() {
            let kratom = mentions_kratom(&text.plain);
            match matches.first() {
                Some(best) if best.score >= THRESHOLD => {
                    // Another substance's question with no word of kratom is not ours
                    // ("is delta 8 legal in texas").
                    let oos_cues = cue_hits.contains_key(OUT_OF_SCOPE);
                    if oos_cues && !kratom && best.topic != "about-bot" {
                        let mut m = self.out_of_scope(best.score);
                        m.reasons = vec!["about something other than kratom".into()];
                        return vec![m];
                    }
                }
                Some(best) => return vec![self.out_of_scope(best.score)],
                None => return vec![self.out_of_scope(0.0)],
            }
        }
        matches
    }

    /// Per topic: the learned model's probability that the message belongs to it.
    fn learned_probabilities(&self, text: &Normalized) -> HashMap<&str, f32> {
        let feats = linear::features(&linear::english_stemmer(), text);
        let known = self.learned_vocab.lookup(&feats);
        self.learned
            .iter()
            .map(|(topic, m)| (topic.as_str(), m.predict(&known, feats.len()).0))
            .collect()
    }

    /// Compiles every cue now (see `Triage::rules_that_do_not_compile`).
    pub fn compile_all(&self) -> Vec<String> {
        self.cues
            .matcher
            .compile_all()
            .into_iter()
            .map(|(t, e)| format!("`{}`: {e}", self.cues.topics[t].topic))
            .collect()
    }

    /// Per topic: summed weight of the distinct cues that matched, and which (in cue order).
    fn cue_hits(&self, plain: &str) -> HashMap<&str, (f32, Vec<String>)> {
        let mut out: HashMap<&str, (f32, Vec<String>)> = HashMap::new();
        for (t, r) in self.cues.matcher.matches(plain) {
            let topic = &self.cues.topics[t];
            let (rule, weight) = &topic.rules[r];
            let entry = out.entry(topic.topic.as_str()).or_default();
            entry.0 += weight;
            entry.1.push(rule.clone());
        }
        out
    }
}

/// One logistic model per topic (that topic's examples against all others).
fn learn_topics(library: &Library) -> (Vocabulary, Vec<(String, BinaryModel)>) {
    let stemmer = linear::english_stemmer();
    let mut vocab = Vocabulary::default();
    let data: Vec<(&str, Vec<usize>)> = library
        .templates()
        .iter()
        .flat_map(|t| t.examples.iter().map(move |e| (t.topic.as_str(), e)))
        .map(|(topic, e)| {
            (
                topic,
                vocab.intern(linear::features(&stemmer, &super::normalize::normalize(e))),
            )
        })
        .collect();
    let mut topics: Vec<&str> = data.iter().map(|(t, _)| *t).collect();
    topics.sort_unstable();
    topics.dedup();
    let models = topics
        .into_iter()
        .filter(|t| !GATED_TOPICS.contains(t))
        .map(|topic| {
            let rows: Vec<(Vec<usize>, bool)> = data
                .iter()
                .map(|(t, ids)| (ids.clone(), *t == topic))
                .collect();
            (
                topic.to_string(),
                BinaryModel::train(&rows, vocab.len(), LEARNED_EPOCHS),
            )
        })
        .collect();
    (vocab, models)
}

fn mentions_kratom(plain: &str) -> bool {
    plain.split(' ').any(|w| KRATOM_WORDS.contains(&w))
}

fn compile_cues(catalog: &Catalog) -> Result<Cues, String> {
    let mut topics = Vec::new();
    let mut matcher = RuleMatcherBuilder::default();
    for topic in &catalog.topics {
        let mut rules = Vec::new();
        let mut cues = Vec::new();
        for group in &topic.cues {
            for pattern in &group.patterns {
                cues.push(Rule::Pattern(pattern.clone()));
                rules.push((pattern.clone(), group.weight));
            }
            for phrase in &group.phrases {
                let n = super::normalize::normalize(phrase.trim_end_matches('*'));
                if n.plain.is_empty() {
                    return Err(format!(
                        "topic `{}`: cue `{phrase}` has no letters",
                        topic.id
                    ));
                }
                let words: Vec<String> = n.plain.split(' ').map(regex::escape).collect();
                let tail = if phrase.ends_with('*') { r"\w*" } else { "" };
                cues.push(Rule::Phrase {
                    regex: format!(r"\b{}{tail}\b", words.join(" ")),
                    words: n.plain,
                });
                rules.push((phrase.clone(), group.weight));
            }
        }
        if rules.is_empty() {
            continue;
        }
        matcher
            .push_group(cues)
            .map_err(|e| format!("topic `{}` cues: {e}", topic.id))?;
        topics.push(TopicCues {
            topic: topic.id.clone(),
            rules,
        });
    }
    Ok(Cues {
        topics,
        matcher: matcher.build(),
    })
}

/// Stemmed words (without the commonest function words) and adjacent word pairs.
fn features(stemmer: &Stemmer, synonyms: &BTreeMap<String, String>, plain: &str) -> Vec<String> {
    let words: Vec<String> = plain
        .split(' ')
        .filter(|w| !w.is_empty())
        .flat_map(|w| synonyms.get(w).map_or(w, String::as_str).split(' '))
        .map(|w| stemmer.stem(w).into_owned())
        .collect();
    let mut out: Vec<String> = words
        .iter()
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .cloned()
        .collect();
    out.extend(words.windows(2).map(|p| format!("{} {}", p[0], p[1])));
    out
}

fn weigh(vocab: &HashMap<String, u32>, idf: &[f32], feats: &[String]) -> SparseVec {
    let mut tf: BTreeMap<u32, f32> = BTreeMap::new();
    for f in feats {
        if let Some(&id) = vocab.get(f) {
            // Word pairs count half: they sharpen a match but rarely repeat exactly.
            let w = if f.contains(' ') { 0.5 } else { 1.0 };
            *tf.entry(id).or_default() += w;
        }
    }
    normalized(
        tf.into_iter()
            .map(|(k, v)| (k, (1.0 + v.ln()) * idf[k as usize]))
            .collect(),
    )
}

fn normalized(mut v: SparseVec) -> SparseVec {
    let norm = v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|(_, x)| *x /= norm);
    }
    v
}

/// Dot product of two sparse vectors sorted by feature id.
fn dot(a: &SparseVec, b: &SparseVec) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_of_sorted_sparse_vectors() {
        let a = vec![(1, 0.5), (3, 0.5)];
        let b = vec![(0, 1.0), (3, 2.0)];
        assert!((dot(&a, &b) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn features_stem_and_pair() {
        let stemmer = Stemmer::create(Algorithm::English);
        let synonyms = BTreeMap::from([("wd".to_string(), "withdrawal".to_string())]);
        let f = features(&stemmer, &synonyms, "tapering the doses wd");
        assert!(f.contains(&"withdraw".to_string()));
        assert!(f.contains(&"taper".to_string()));
        assert!(f.contains(&"dose".to_string()));
        assert!(f.contains(&"taper the".to_string()));
        assert!(!f.contains(&"the".to_string()));
    }

    #[test]
    fn kratom_words() {
        assert!(mentions_kratom("is kratom legal"));
        assert!(!mentions_kratom("is delta 8 legal in texas"));
    }
}
