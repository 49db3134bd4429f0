//! The triage engine: what a message is about and whether its writer may be in danger.
//!
//! Order matters and never changes: crisis first (recall above all), then a medical emergency, then
//! mental health (which forces professional and crisis help onto the answer), then the topic. Pure
//! Rust, no I/O after loading, no network, no model download.

pub mod linear;
pub mod normalize;
pub mod second_opinion;
pub mod signals;
pub mod topics;

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use crate::diagnostics::Problem;
use crate::library::Library;
use normalize::{normalize, Normalized};
use second_opinion::SecondOpinion;
use signals::{Detection, SignalSet};
use topics::TopicMatcher;

/// The signal files, relative to the responses folder.
pub const CRISIS_FILE: &str = "crisis/crisis.toml";
pub const EMERGENCY_FILE: &str = "crisis/emergency.toml";
pub const MENTAL_HEALTH_FILE: &str = "crisis/mental-health.toml";
/// The folder holding the second opinion's corpus files (`second-opinion*.toml`).
pub const SECOND_OPINION_DIR: &str = "crisis";

/// The learned second opinion alone decides a crisis at or above this probability...
pub const SECOND_OPINION_ALONE: f32 = 0.85;
/// ...and together with any weak crisis rule at or above this one.
pub const SECOND_OPINION_WITH_RULE: f32 = 0.60;

/// What triage decided about a message, with the reasons that decided it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Decision {
    pub topic: String,
    pub template_id: String,
    pub crisis: bool,
    pub emergency: bool,
    pub mental_health: bool,
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
    second_opinion: SecondOpinion,
    matcher: TopicMatcher,
}

/// A command prefix or a mention at the start ("!kratom", "@kratombot:", "kratombot,") addresses
/// the bot; it says nothing about the topic.
static ADDRESSING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:(?:![\w-]+|@[\w.=/+-]+(?::[\w.-]+(?::\d+)?)?|kratom-?bot)[:,]?\s+)+")
        .expect("static regex compiles")
});

impl Triage {
    /// Loads the signal files under `dir` and learns the topic matcher from `library`.
    pub fn load(dir: &Path, library: &Library) -> Result<Triage, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut load = |file: &str| {
            SignalSet::load(&dir.join(file))
                .map_err(|p| problems.extend(p))
                .ok()
        };
        let crisis = load(CRISIS_FILE);
        let emergency = load(EMERGENCY_FILE);
        let mental_health = load(MENTAL_HEALTH_FILE);
        let second_opinion = SecondOpinion::load(&dir.join(SECOND_OPINION_DIR))
            .map_err(|p| problems.extend(p))
            .ok();
        let matcher = TopicMatcher::build(library)
            .map_err(|e| problems.push(Problem::error(&dir.join("topics.toml"), 0, e)))
            .ok();
        let (
            Some(crisis),
            Some(emergency),
            Some(mental_health),
            Some(second_opinion),
            Some(matcher),
        ) = (crisis, emergency, mental_health, second_opinion, matcher)
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
                        &dir.join(file),
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
                second_opinion,
                matcher,
            })
        } else {
            Err(problems)
        }
    }

    /// Decides about one message. Never panics; examines at most the first 8 KiB.
    pub fn decide(&self, text: &str) -> Decision {
        let (head, _) = normalize::truncate(text, normalize::MAX_INPUT_BYTES);
        let stripped = ADDRESSING.replace(head, "");
        let n = normalize(&stripped);
        let mut crisis = self.crisis.detect(&n);
        let opinion = self.second_opinion.judge(&n);
        if !crisis.triggered {
            let any_rule = !crisis.hits.is_empty();
            let p = opinion.probability;
            if p >= SECOND_OPINION_ALONE || (any_rule && p >= SECOND_OPINION_WITH_RULE) {
                crisis.triggered = true;
                crisis.hits.push(signals::Hit {
                    family: "second-opinion".into(),
                    strength: signals::Strength::Strong,
                    rule: format!("p={p:.2} ({})", opinion.top_features.join(", ")),
                });
            }
        }
        let emergency = self.emergency.detect(&n);
        let mh = self.mental_health.detect(&n);

        let mut reasons = Vec::new();
        explain(&mut reasons, "crisis", &crisis);
        explain(&mut reasons, "emergency", &emergency);
        explain(&mut reasons, "mental health", &mh);
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
        let (topic, m) = if crisis.triggered {
            ("crisis", routed(&self.crisis, &crisis, "crisis"))
        } else if emergency.triggered {
            (
                "emergency",
                routed(&self.emergency, &emergency, "emergency"),
            )
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
            emergency: emergency.triggered,
            mental_health,
            score: if decided_by_detector { 1.0 } else { m.score },
            reasons,
            truncated: n.truncated || text.len() > head.len(),
        }
    }

    /// The learned second opinion's crisis probability for a message, for evaluation.
    pub fn crisis_probability(&self, text: &str) -> f32 {
        self.second_opinion
            .judge(&self.normalized(text))
            .probability
    }

    /// The normalised forms of a message, for `explain`.
    pub fn normalized(&self, text: &str) -> Normalized {
        normalize(&ADDRESSING.replace(normalize::truncate(text, normalize::MAX_INPUT_BYTES).0, ""))
    }
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
