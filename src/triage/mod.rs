//! The triage engine: what a message is about and whether its writer may be in danger.
//!
//! Order matters and never changes: crisis first (recall above all), then a medical emergency, then
//! mental health (which forces professional and crisis help onto the answer), then the topic. Pure
//! Rust, no I/O after loading, no network, no model download.

pub mod corpus;
pub mod learned;
pub mod linear;
pub mod model_cache;
pub mod normalize;
pub mod phrase_index;
pub mod signals;
pub mod thresholds;
pub mod topics;

use std::sync::LazyLock;

use regex::Regex;

use crate::diagnostics::Problem;
use crate::library::{ContentSource, Library};
use learned::{Opinion, Opinions, SafetyModels, TrainingRow};
use model_cache::ModelCache;
use normalize::{normalize, Normalized};
use signals::{Detection, Hit, SignalSet, Strength};
use thresholds::{Cutoffs, Thresholds};
use topics::TopicMatcher;

/// The signal files, relative to the responses folder.
pub const CRISIS_FILE: &str = "crisis/crisis.toml";
pub const EMERGENCY_FILE: &str = "crisis/emergency.toml";
pub const MENTAL_HEALTH_FILE: &str = "crisis/mental-health.toml";
/// The learned models' decision thresholds.
pub const THRESHOLDS_FILE: &str = "crisis/learned.toml";

/// What triage decided about a message, with the reasons that decided it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Decision {
    pub topic: String,
    pub template_id: String,
    pub crisis: bool,
    /// Weaker signs of risk than a crisis: the normal answer with a crisis line on top, and a
    /// check-in suggestion to moderators. Never set together with `crisis`.
    pub concern: bool,
    /// The body may be in danger now: the emergency template leads (crisis lines follow when
    /// `crisis` is set too, e.g. an attempt under way).
    pub emergency: bool,
    pub mental_health: bool,
    /// The warning-sign family that decided crisis, concern or emergency, in words.
    pub family: Option<String>,
    /// 1.0 when a safety detector decided; otherwise the topic matcher's score.
    pub score: f32,
    pub reasons: Vec<String>,
    /// The message was longer than the part examined.
    pub truncated: bool,
}

/// The compiled detectors and the topic matcher.
#[derive(Debug)]
pub struct Triage {
    crisis: SignalSet,
    emergency: SignalSet,
    mental_health: SignalSet,
    models: SafetyModels,
    thresholds: Thresholds,
    matcher: TopicMatcher,
    /// Whether the learned models came from the cache rather than from training at this load.
    models_from_cache: bool,
}

/// A command prefix or a mention at the start ("!kratom", "@kratombot:", "kratombot,") addresses
/// the bot; it says nothing about the topic.
static ADDRESSING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:(?:![\w-]+|@[\w.=/+-]+(?::[\w.-]+(?::\d+)?)?|kratom-?bot)[:,]?\s+)+")
        .expect("static regex compiles")
});

impl Triage {
    /// Loads the signal files under `dir` and the trained models: from `cache` when it holds
    /// models trained from this very content by this build, else trained from the corpus and
    /// `library` (and then cached).
    pub fn load(
        source: &ContentSource,
        library: &Library,
        cache: &ModelCache,
    ) -> Result<Triage, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut load = |file: &str| {
            source
                .read(file)
                .map_err(|p| vec![p])
                .and_then(|src| SignalSet::parse(&source.path(file), &src))
                .map_err(|p| problems.extend(p))
                .ok()
        };
        let crisis = load(CRISIS_FILE);
        let emergency = load(EMERGENCY_FILE);
        let mental_health = load(MENTAL_HEALTH_FILE);
        let thresholds = source
            .read(THRESHOLDS_FILE)
            .and_then(|src| Thresholds::parse(&source.path(THRESHOLDS_FILE), &src))
            .map_err(|p| problems.push(p))
            .ok();
        let key = cache.dir().and_then(|_| ModelCache::key(source));
        let cached = key.as_deref().and_then(|k| cache.load(k));
        let models_from_cache = cached.is_some();
        let (models, matcher) = match cached {
            Some(trained) => (Ok(trained.safety), trained.topics.with_cues(library)),
            None => {
                let (models, matcher) = train(source, library);
                if let (Some(k), Ok(m), Ok(t)) = (&key, &models, &matcher) {
                    cache.store(k, m, t);
                }
                (models, matcher)
            }
        };
        let models = models.map_err(|p| problems.extend(p)).ok();
        let matcher = matcher
            .map_err(|e| problems.push(Problem::error(&source.path("topics.toml"), 0, e)))
            .ok();
        let (
            Some(crisis),
            Some(emergency),
            Some(mental_health),
            Some(models),
            Some(thresholds),
            Some(matcher),
        ) = (
            crisis,
            emergency,
            mental_health,
            models,
            thresholds,
            matcher,
        )
        else {
            return Err(problems);
        };
        let sets = [
            (&crisis, CRISIS_FILE),
            (&emergency, EMERGENCY_FILE),
            (&mental_health, MENTAL_HEALTH_FILE),
        ];
        for (set, file) in sets {
            for id in set.templates() {
                if library.template(id).is_none() {
                    problems.push(Problem::error(
                        &source.path(file),
                        0,
                        format!("routes to template `{id}`, which is not an approved template"),
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(Triage {
                crisis,
                emergency,
                mental_health,
                models,
                thresholds,
                matcher,
                models_from_cache,
            })
        } else {
            Err(problems)
        }
    }

    /// Decides about one message. Never panics; examines at most the first 8 KiB.
    pub fn decide(&self, text: &str) -> Decision {
        self.decide_with(text, &self.models, &self.thresholds)
    }

    /// `decide` with other learned models or thresholds: evaluation trains models without one
    /// writer and measures the whole engine on that writer.
    pub fn decide_with(
        &self,
        text: &str,
        models: &SafetyModels,
        thresholds: &Thresholds,
    ) -> Decision {
        let (head, _) = normalize::truncate(text, normalize::MAX_INPUT_BYTES);
        let stripped = ADDRESSING.replace(head, "");
        let n = normalize(&stripped);
        let opinions = models.judge_explaining(
            &n,
            thresholds.crisis.explain_floor(),
            thresholds.emergency.explain_floor(),
        );
        let mut crisis = self.crisis.detect(&n);
        let mut emergency = self.emergency.detect(&n);
        let crisis_by_model = learned_layer(&mut crisis, &opinions.crisis, &thresholds.crisis);
        let emergency_by_model =
            learned_layer(&mut emergency, &opinions.emergency, &thresholds.emergency);
        let mh = self.mental_health.detect(&n);
        let p = opinions.crisis.probability;
        let cut = &thresholds.crisis;
        // A rule the model strongly disputes (a past crisis, a denial, an accident) is not a clear
        // signal: it becomes a concern, so help is still shown and moderators can check in.
        let vetoed = crisis.triggered && !crisis_by_model && p < cut.veto;
        if vetoed {
            crisis.triggered = false;
        }
        // Concern: a weak rule or a middling score, short of a crisis.
        let concern = !crisis.triggered
            && (vetoed
                || p >= cut.concern
                || crisis.hits.iter().any(|h| h.strength == Strength::Weak)
                    && p >= cut.concern_with_rule);

        let mut reasons = Vec::new();
        explain(&mut reasons, "crisis", &crisis);
        explain(&mut reasons, "emergency", &emergency);
        explain(&mut reasons, "mental health", &mh);
        if vetoed {
            reasons.push(format!(
                "crisis: the learned model disputes the rule (p={p:.2} < {:.2}): concern instead",
                cut.veto
            ));
        } else if concern {
            reasons.push(format!(
                "concern: crisis score {p:.2} (words: {})",
                opinions.crisis.top_features.join(", ")
            ));
        }
        let family = deciding_family(
            models,
            &n,
            (&crisis, crisis_by_model),
            (&emergency, emergency_by_model),
            concern,
        );
        if let Some(f) = &family {
            reasons.push(format!("family: {f}"));
        }
        let mut mental_health = mh.triggered || crisis.triggered;

        // Idioms ("sciatica is murder", "im dead lol") say nothing about the topic either.
        let n = Normalized {
            plain: self.crisis.mask(&n.plain),
            ..n
        };
        let routed = |set: &SignalSet, d: &Detection, topic: &str| {
            set.route(d)
                .map(|id| topics::Match {
                    template_id: id.to_string(),
                    topic: topic.to_string(),
                    score: 1.0,
                    reasons: vec![format!("{} routes to {id}", set.name())],
                })
                .or_else(|| self.matcher.best_in(&n, topic))
        };
        // The body first: an emergency template leads even when crisis signals are present too
        // (an attempt under way); the crisis lines then follow in the same reply.
        let (topic, m) = if emergency.triggered {
            let topic = if crisis.triggered {
                "crisis"
            } else {
                "emergency"
            };
            (topic, routed(&self.emergency, &emergency, "emergency"))
        } else if crisis.triggered {
            ("crisis", routed(&self.crisis, &crisis, "crisis"))
        } else if mental_health {
            ("depression", self.matcher.best_in(&n, "depression"))
        } else {
            let m = self.matcher.best(&n);
            (
                if m.topic == "out-of-scope" {
                    "out-of-scope"
                } else {
                    ""
                },
                Some(m),
            )
        };
        let decided_by_detector = !topic.is_empty() && topic != "out-of-scope";
        let m = m.unwrap_or_else(|| self.matcher.best(&n));
        reasons.extend(m.reasons.iter().cloned());
        // A mood question the detector missed still goes to the mood templates (the matcher may
        // choose them), and so gets the professional and crisis help.
        mental_health |= m.topic == "depression";
        Decision {
            topic: if decided_by_detector {
                topic.to_string()
            } else {
                m.topic.clone()
            },
            template_id: m.template_id,
            crisis: crisis.triggered,
            concern: concern && !mental_health,
            emergency: emergency.triggered,
            mental_health,
            family,
            score: if decided_by_detector { 1.0 } else { m.score },
            reasons,
            truncated: n.truncated || text.len() > head.len(),
        }
    }

    /// The learned models' probabilities for a message, for evaluation.
    pub fn opinions(&self, text: &str) -> Opinions {
        self.models.judge(&self.normalized(text))
    }

    /// The learned crisis probability for a message, for evaluation.
    pub fn crisis_probability(&self, text: &str) -> f32 {
        self.opinions(text).crisis.probability
    }

    /// Every phrase, pattern and cue that cannot compile, as (file, what), by compiling them all
    /// now. `check` runs this; the bot compiles a rule only when a message first needs it.
    pub fn rules_that_do_not_compile(&self) -> Vec<(&'static str, String)> {
        let signals = [
            (CRISIS_FILE, &self.crisis),
            (EMERGENCY_FILE, &self.emergency),
            (MENTAL_HEALTH_FILE, &self.mental_health),
        ];
        signals
            .into_iter()
            .flat_map(|(file, set)| set.compile_all().into_iter().map(move |e| (file, e)))
            .chain(
                self.matcher
                    .compile_all()
                    .into_iter()
                    .map(|e| ("topics.toml", e)),
            )
            .collect()
    }

    /// Whether the learned models were read from the cache (no training at this load).
    pub fn models_from_cache(&self) -> bool {
        self.models_from_cache
    }

    /// How many sentences the learned models trained on: (crisis, emergency, neither).
    pub fn trained_on(&self) -> (usize, usize, usize) {
        self.models.trained_on
    }

    /// The normalised forms of a message, for `explain`.
    pub fn normalized(&self, text: &str) -> Normalized {
        normalize(&ADDRESSING.replace(normalize::truncate(text, normalize::MAX_INPUT_BYTES).0, ""))
    }
}

/// The family to name in an alert or an explanation: the first rule family that matched, or,
/// when the learned layer decided alone, the family of the training sentence most like it.
fn deciding_family(
    models: &SafetyModels,
    n: &Normalized,
    (crisis, crisis_by_model): (&Detection, bool),
    (emergency, emergency_by_model): (&Detection, bool),
    concern: bool,
) -> Option<String> {
    let rule_family = |d: &Detection| {
        d.hits
            .iter()
            .find(|h| h.family != LEARNED_FAMILY)
            .map(|h| h.family.clone())
    };
    let learned = |emergency: bool| {
        models
            .nearest_family(n, emergency)
            .map(|f| format!("{f} (reads like)"))
    };
    if emergency.triggered {
        if emergency_by_model {
            learned(true)
        } else {
            rule_family(emergency)
        }
    } else if crisis.triggered && !crisis_by_model {
        rule_family(crisis)
    } else if crisis.triggered || concern {
        rule_family(crisis).or_else(|| learned(false))
    } else {
        None
    }
}

/// The family name the learned layer's hits carry.
const LEARNED_FAMILY: &str = "learned model";

/// Lets a learned score decide where the rules did not: alone when it is high, with a weak rule
/// when it is fairly high. Returns whether the model made the decision.
fn learned_layer(d: &mut Detection, opinion: &Opinion, cut: &Cutoffs) -> bool {
    if d.triggered {
        return false;
    }
    let p = opinion.probability;
    let weak_rule = d.hits.iter().any(|h| h.strength == Strength::Weak);
    if p >= cut.alone || weak_rule && p >= cut.with_rule {
        d.triggered = true;
        d.hits.push(Hit {
            family: LEARNED_FAMILY.into(),
            strength: Strength::Strong,
            rule: format!("p={p:.2}, words: {}", opinion.top_features.join(", ")),
        });
        return true;
    }
    false
}

/// Trains both learned parts. They are independent: the safety models train on another core
/// while the topic matcher builds here (start-up without a cache is mostly training).
fn train(
    source: &ContentSource,
    library: &Library,
) -> (
    Result<SafetyModels, Vec<Problem>>,
    Result<TopicMatcher, String>,
) {
    std::thread::scope(|scope| {
        let models =
            scope.spawn(|| corpus::load(source).map(|sentences| train_models(&sentences, library)));
        let matcher = TopicMatcher::build(library);
        let models = models.join().unwrap_or_else(|_| {
            Err(vec![Problem::error(
                &source.path(corpus::CORPUS_DIR),
                0,
                "training the safety models failed",
            )])
        });
        (models, matcher)
    })
}

fn train_models(sentences: &[corpus::Sentence], library: &Library) -> SafetyModels {
    SafetyModels::train(&training_rows(sentences, library))
}

/// The crisis/emergency corpus plus every template's examples (labelled by the template's topic:
/// they are the ordinary questions the models must not flag).
pub fn training_rows<'a>(
    sentences: impl IntoIterator<Item = &'a corpus::Sentence>,
    library: &'a Library,
) -> Vec<TrainingRow<'a>> {
    let mut rows: Vec<TrainingRow> = sentences.into_iter().map(TrainingRow::from).collect();
    for t in library.templates() {
        for e in &t.examples {
            rows.push(TrainingRow {
                text: e,
                crisis: t.topic == "crisis",
                emergency: t.topic == "emergency",
                family: &t.topic,
            });
        }
    }
    rows
}

fn explain(reasons: &mut Vec<String>, name: &str, d: &Detection) {
    for hit in &d.hits {
        reasons.push(
            format!(
                "{name}: {} ({:?}) matched {:?}",
                hit.family, hit.strength, hit.rule
            )
            .to_lowercase(),
        );
    }
    for m in &d.masked {
        reasons.push(format!("{name}: ignored idiom/context `{m}`"));
    }
    if !d.hits.is_empty() && !d.triggered {
        reasons.push(format!("{name}: weak signals only, below the threshold"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_addressing() {
        for (input, rest) in [
            ("!kratom help", "help"),
            ("@kratombot what can you do", "what can you do"),
            ("@kratombot:example.org: is it legal", "is it legal"),
            ("kratombot, hi", "hi"),
            ("kratom is legal?", "kratom is legal?"),
        ] {
            assert_eq!(ADDRESSING.replace(input, ""), rest, "{input}");
        }
    }
}
