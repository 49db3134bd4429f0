//! The learned second opinion on its own, measured on labelled sets it never trained on (its corpus
//! is responses/crisis/second-opinion.toml). Prints recall and false alarms per threshold
//! (`cargo test --test second_opinion_eval -- --nocapture`) and holds a floor, so a corpus edit
//! that makes it useless fails.

use std::path::Path;

use kratom_bot::triage::{SECOND_OPINION_ALONE, SECOND_OPINION_WITH_RULE};
use kratom_bot::Engine;
use serde::Deserialize;

#[derive(Deserialize)]
struct Item {
    text: String,
    crisis: bool,
}

fn load(path: &str) -> Vec<Item> {
    std::fs::read_to_string(path)
        .expect("labelled set")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("labelled line"))
        .collect()
}

#[test]
fn second_opinion_separates_crisis_on_unseen_sets() {
    let engine = Engine::load(Path::new("responses")).expect("library loads");
    for set in [
        "tests/data/dev.jsonl",
        "tests/data/heldout.jsonl",
        "tests/data/unseen-final.jsonl",
    ] {
        let items = load(set);
        let scored: Vec<(f32, bool)> = items
            .iter()
            .map(|i| (engine.triage().crisis_probability(&i.text), i.crisis))
            .collect();
        let pos = scored.iter().filter(|(_, c)| *c).count() as f32;
        let neg = scored.len() as f32 - pos;
        for t in [
            0.5,
            SECOND_OPINION_WITH_RULE,
            0.7,
            0.8,
            SECOND_OPINION_ALONE,
            0.95,
        ] {
            let tp = scored.iter().filter(|(p, c)| *c && *p >= t).count() as f32;
            let fp = scored.iter().filter(|(p, c)| !*c && *p >= t).count() as f32;
            println!(
                "{set}: threshold {t:.2}: recall {:.3} false alarms {:.3} ({fp})",
                tp / pos,
                fp / neg
            );
        }
        // Area under the ROC curve: the chance a crisis message outscores a non-crisis one.
        let mut wins = 0.0;
        for (p, c) in &scored {
            if *c {
                for (q, d) in &scored {
                    if !*d {
                        wins += if p > q {
                            1.0
                        } else if p == q {
                            0.5
                        } else {
                            0.0
                        };
                    }
                }
            }
        }
        let auc = wins / (pos * neg);
        println!("{set}: AUC {auc:.3}");
        assert!(auc >= 0.9, "{set}: second opinion AUC {auc:.3} < 0.9");
    }
}
