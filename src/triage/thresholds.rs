//! Where the learned safety models' probabilities become decisions
//! (`responses/crisis/learned.toml`). They are content, reviewed like the phrase files, and chosen
//! on writers the models never trained on (`cargo test --test triage_eval -- --nocapture` prints
//! recall and false alarms per writer).

use std::path::Path;

use serde::Deserialize;

use crate::diagnostics::{line_of, toml_problem, Problem};

/// One model's cut-offs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cutoffs {
    /// The model decides by itself at or above this probability.
    pub alone: f32,
    /// With a weak rule of the same detector, at or above this one.
    pub with_rule: f32,
    /// Crisis only: a check-in ("concern") at or above this probability...
    #[serde(default = "never")]
    pub concern: f32,
    /// ...or with a weak rule at or above this one.
    #[serde(default = "never")]
    pub concern_with_rule: f32,
    /// Crisis only: a strong rule whose message the model scores below this is demoted to
    /// concern (help still shown, moderators asked to check in): the model has read the past
    /// crises, denials and accidents the rules cannot tell apart.
    #[serde(default)]
    pub veto: f32,
}

impl Cutoffs {
    /// The lowest probability at which any tier shows the model's words in its reasons: below
    /// it, the model's explanation is never read.
    pub fn explain_floor(&self) -> f32 {
        [
            self.alone,
            self.with_rule,
            self.concern,
            self.concern_with_rule,
        ]
        .into_iter()
        .fold(f32::INFINITY, f32::min)
    }
}

fn never() -> f32 {
    1.1
}

/// Both models' cut-offs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub crisis: Cutoffs,
    pub emergency: Cutoffs,
}

impl Thresholds {
    pub fn load(path: &Path) -> Result<Thresholds, Problem> {
        let src = std::fs::read_to_string(path)
            .map_err(|e| Problem::error(path, 0, format!("cannot read: {e}")))?;
        Self::parse(path, &src)
    }

    /// Parses and checks that every cut-off is a probability and that the tiers are ordered.
    pub fn parse(path: &Path, src: &str) -> Result<Thresholds, Problem> {
        let t: Thresholds = toml::from_str(src).map_err(|e| toml_problem(path, src, 0, &e))?;
        for (name, c) in [("crisis", &t.crisis), ("emergency", &t.emergency)] {
            let line = src
                .find(&format!("[{name}]"))
                .map_or(1, |o| line_of(src, o));
            let probabilities = [c.alone, c.with_rule];
            if probabilities.iter().any(|p| !(0.0..=1.0).contains(p)) {
                return Err(Problem::error(
                    path,
                    line,
                    format!("[{name}]: `alone` and `with_rule` are probabilities between 0 and 1"),
                ));
            }
            if c.with_rule > c.alone {
                return Err(Problem::error(
                    path,
                    line,
                    format!("[{name}]: `with_rule` must not be above `alone` (a rule only adds)"),
                ));
            }
        }
        let c = &t.crisis;
        if c.concern > c.alone || c.concern_with_rule > c.with_rule || c.veto > c.concern {
            let line = src.find("\nconcern").map_or(1, |o| line_of(src, o + 1));
            return Err(Problem::error(
                path,
                line,
                "[crisis]: `concern` must be below `alone`, `concern_with_rule` below \
                 `with_rule` and `veto` below `concern`: concern is the weaker tier",
            ));
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_tiers() {
        let ok = "[crisis]\nalone = 0.8\nwith_rule = 0.5\nconcern = 0.3\nconcern_with_rule = 0.2\n[emergency]\nalone = 0.7\nwith_rule = 0.4\n";
        let t = Thresholds::parse(Path::new("l.toml"), ok).expect("valid");
        assert_eq!(t.emergency.concern, never());
        let bad = ok.replace("concern = 0.3", "concern = 0.9");
        let p = Thresholds::parse(Path::new("l.toml"), &bad).expect_err("concern above alone");
        assert_eq!(p.line, 4);
        let bad = ok.replace("alone = 0.7", "alone = 1.7");
        assert!(Thresholds::parse(Path::new("l.toml"), &bad).is_err());
    }
}
