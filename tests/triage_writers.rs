//! The learned safety models measured the only honest way: on writers they never trained on.
//! For each corpus writer, both models are trained on every other writer (plus the templates'
//! examples) and scored on that writer's sentences. Prints recall and false alarms at the
//! thresholds in `responses/crisis/learned.toml` (`cargo test --test triage_writers --
//! --nocapture`) and holds an AUC floor, so a corpus edit that makes a model useless fails.

use std::collections::BTreeSet;
use std::path::Path;

use kratom_bot::triage::corpus::{self, Label};
use kratom_bot::triage::learned::SafetyModels;
use kratom_bot::triage::normalize::normalize;
use kratom_bot::triage::thresholds::Thresholds;
use kratom_bot::triage::training_rows;
use kratom_bot::Engine;

/// Chance that a positive outscores a negative.
fn auc(scored: &[(f32, bool)]) -> f64 {
    let pos: Vec<f32> = scored.iter().filter(|s| s.1).map(|s| s.0).collect();
    let neg: Vec<f32> = scored.iter().filter(|s| !s.1).map(|s| s.0).collect();
    let mut wins = 0.0;
    for p in &pos {
        for q in &neg {
            wins += if p > q {
                1.0
            } else if p == q {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (pos.len() * neg.len()).max(1) as f64
}

fn rates(scored: &[(f32, bool)], t: f32) -> (f64, f64) {
    let pos = scored.iter().filter(|s| s.1).count().max(1) as f64;
    let neg = scored.iter().filter(|s| !s.1).count().max(1) as f64;
    let tp = scored.iter().filter(|s| s.1 && s.0 >= t).count() as f64;
    let fp = scored.iter().filter(|s| !s.1 && s.0 >= t).count() as f64;
    (tp / pos, fp / neg)
}

#[test]
fn learned_models_generalise_to_unseen_writers() {
    let dir = Path::new("responses");
    let engine = Engine::load(dir).expect("library loads");
    let sentences = corpus::load(&dir.join(corpus::CORPUS_DIR)).expect("corpus loads");
    let t = Thresholds::load(&dir.join("crisis/learned.toml")).expect("thresholds load");
    let writers: BTreeSet<&str> = sentences.iter().map(|s| s.writer.as_str()).collect();
    for writer in writers {
        let train = sentences.iter().filter(|s| s.writer != writer);
        let models = SafetyModels::train(&training_rows(train, engine.library()));
        let test: Vec<_> = sentences.iter().filter(|s| s.writer == writer).collect();
        let opinions: Vec<_> = test
            .iter()
            .map(|s| models.judge(&normalize(&s.text)))
            .collect();
        let crisis: Vec<(f32, bool)> = test
            .iter()
            .zip(&opinions)
            .map(|(s, o)| (o.crisis.probability, s.label == Label::Crisis))
            .collect();
        let emergency: Vec<(f32, bool)> = test
            .iter()
            .zip(&opinions)
            .map(|(s, o)| (o.emergency.probability, s.is_emergency()))
            .collect();
        for (name, scored, cuts) in [
            (
                "crisis",
                &crisis,
                vec![
                    ("concern", t.crisis.concern),
                    ("with_rule", t.crisis.with_rule),
                    ("alone", t.crisis.alone),
                ],
            ),
            (
                "emergency",
                &emergency,
                vec![
                    ("with_rule", t.emergency.with_rule),
                    ("alone", t.emergency.alone),
                ],
            ),
        ] {
            let pos = scored.iter().filter(|s| s.1).count();
            if pos == 0 || pos == scored.len() {
                continue;
            }
            let a = auc(scored);
            let at: Vec<String> = cuts
                .iter()
                .map(|(n, c)| {
                    let (r, f) = rates(scored, *c);
                    format!("{n} {c:.2}: recall {r:.3} false alarms {f:.3}")
                })
                .collect();
            println!(
                "held-out writer {writer:10} {name:9} n={} pos={pos} AUC {a:.3} | {}",
                scored.len(),
                at.join(" | ")
            );
            // A writer who is the only source of a language (train-t2) scores lower: the models have
            // little else in that language. The floor still catches a broken model.
            assert!(a >= 0.75, "{writer} {name}: AUC {a:.3} < 0.75");
        }
    }
}
