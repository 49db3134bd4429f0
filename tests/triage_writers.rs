//! The learned safety models measured the only honest way: on writers they never trained on.
//! For each corpus writer, both models are trained on every other writer (plus the templates'
//! examples) and scored on that writer's sentences. Prints recall and false alarms at the
//! thresholds in `responses/crisis/learned.toml` (`cargo test --test triage_writers --
//! --nocapture`) and holds an AUC floor, so a corpus edit that makes a model useless fails.

use std::collections::BTreeSet;
use std::path::Path;

use kratom_bot::library::ContentSource;
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
    let engine = Engine::load(&ContentSource::BuiltIn).expect("library loads");
    let sentences = corpus::load(&ContentSource::BuiltIn).expect("corpus loads");
    let t = Thresholds::load(&dir.join("crisis/learned.toml")).expect("thresholds load");
    let writers: BTreeSet<&str> = sentences.iter().map(|s| s.writer.as_str()).collect();
    // Every writer's scores, each from models that never saw that writer.
    let (mut pooled_crisis, mut pooled_emergency) = (Vec::new(), Vec::new());
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
        pooled_crisis.extend(crisis.iter().copied());
        pooled_emergency.extend(emergency.iter().copied());
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
    // Pooled over writers: how recall and false alarms trade along the threshold (the corpus
    // negatives are mostly hard look-alikes, so these false-alarm rates are pessimistic).
    for (name, scored) in [("crisis", &pooled_crisis), ("emergency", &pooled_emergency)] {
        let grid: Vec<String> = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95]
            .iter()
            .map(|t| {
                let (r, f) = rates(scored, *t);
                format!("{t:.2}: {r:.3}/{f:.3}")
            })
            .collect();
        println!(
            "pooled {name}: AUC {:.3}; threshold: recall/false alarms {}",
            auc(scored),
            grid.join("  ")
        );
    }
}

/// The whole engine (rules, learned layer, tiers) on each writer the rules were never written
/// from (train-t*), with models trained without that writer: the honest figure for the decision
/// logic. Run with `-- --ignored --nocapture` to sweep `alone` and `veto` when changing
/// `learned.toml`; without `--ignored` the configured values are measured and held.
fn engine_by_writer(grid: &[(f32, f32)]) -> Vec<((f32, f32), [f64; 4])> {
    let dir = Path::new("responses");
    let engine = Engine::load(&ContentSource::BuiltIn).expect("library loads");
    let sentences = corpus::load(&ContentSource::BuiltIn).expect("corpus loads");
    let base = Thresholds::load(&dir.join("crisis/learned.toml")).expect("thresholds load");
    let writers: BTreeSet<&str> = sentences
        .iter()
        .map(|s| s.writer.as_str())
        .filter(|w| w.starts_with("train-"))
        .collect();
    // [crisis caught, help shown (crisis or concern), false alarms, concern on non-crisis]
    let mut counts = vec![[0usize; 6]; grid.len()];
    for writer in writers {
        let train = sentences.iter().filter(|s| s.writer != writer);
        let models = SafetyModels::train(&training_rows(train, engine.library()));
        for (k, (alone, veto)) in grid.iter().enumerate() {
            let mut t = base.clone();
            t.crisis.alone = *alone;
            t.crisis.veto = *veto;
            for s in sentences.iter().filter(|s| s.writer == writer) {
                let d = engine.triage().decide_with(&s.text, &models, &t);
                let c = &mut counts[k];
                if s.label == Label::Crisis {
                    c[0] += 1;
                    c[1] += usize::from(d.crisis);
                    c[2] += usize::from(d.crisis || d.concern);
                } else {
                    c[3] += 1;
                    c[4] += usize::from(d.crisis);
                    c[5] += usize::from(d.concern);
                }
            }
        }
    }
    grid.iter()
        .zip(counts)
        .map(|(g, c)| {
            let pos = c[0].max(1) as f64;
            let neg = c[3].max(1) as f64;
            let r = [
                c[1] as f64 / pos,
                c[2] as f64 / pos,
                c[4] as f64 / neg,
                c[5] as f64 / neg,
            ];
            println!(
                "engine, held-out writers (alone {:.2}, veto {:.2}): crisis recall {:.3} help shown {:.3} false alarms {:.3} concern on non-crisis {:.3}",
                g.0, g.1, r[0], r[1], r[2], r[3]
            );
            (*g, r)
        })
        .collect()
}

#[test]
fn whole_engine_on_unseen_writers() {
    let t = Thresholds::load(Path::new("responses/crisis/learned.toml")).expect("thresholds");
    let results = engine_by_writer(&[(t.crisis.alone, t.crisis.veto)]);
    let [recall, shown, false_alarms, _] = results[0].1;
    // Floors under the figures measured when these thresholds were chosen (closing note of
    // issue 8); the corpus negatives are hard look-alikes, so false alarms run high here.
    // Measured at alone 0.80 / veto 0.20: recall 0.659, help shown 0.897, false alarms 0.035.
    // Lower than on the frozen set: each held-out writer here takes a whole style or language
    // out of training (train-t2 and train-t5 hold most non-English sentences).
    assert!(recall >= 0.60, "crisis recall {recall:.3}");
    assert!(shown >= 0.85, "help shown {shown:.3}");
    assert!(false_alarms <= 0.05, "false alarms {false_alarms:.3}");
}

#[test]
#[ignore = "a threshold sweep for tuning learned.toml; minutes in a debug build"]
fn sweep_thresholds_on_unseen_writers() {
    let mut grid = Vec::new();
    for alone in [0.75, 0.8, 0.85, 0.9] {
        for veto in [0.1, 0.2, 0.3] {
            grid.push((alone, veto));
        }
    }
    engine_by_writer(&grid);
}
