//! Human-readable reports: `explain`, `check` and `topics`.

use std::fmt::Write;

use crate::diagnostics::Problem;
use crate::library::{budget, ContentSource, Library};
use crate::triage::model_cache::ModelCache;
use crate::triage::Triage;
use crate::Engine;

/// The decision for a message, its reasons, and the normalised text the detectors saw.
pub fn explain(engine: &Engine, message: &str) -> String {
    let d = engine.decide(message);
    let n = engine.triage().normalized(message);
    let mut s = String::new();
    let _ = writeln!(s, "topic:         {}", d.topic);
    let _ = writeln!(s, "template:      {}", d.template_id);
    let _ = writeln!(s, "crisis:        {}", d.crisis);
    let _ = writeln!(s, "concern:       {}", d.concern);
    let _ = writeln!(s, "emergency:     {}", d.emergency);
    if let Some(f) = &d.family {
        let _ = writeln!(s, "family:        {f}");
    }
    let _ = writeln!(s, "mental_health: {}", d.mental_health);
    let _ = writeln!(s, "score:         {:.3}", d.score);
    if d.truncated {
        let _ = writeln!(s, "note:          only the first 8 KiB were examined");
    }
    let _ = writeln!(s, "normalised:    {}", n.plain);
    if n.leet != n.plain {
        let _ = writeln!(s, "  leetspeak:   {}", n.leet);
    }
    if let Some(d) = &n.despaced {
        let _ = writeln!(s, "  despaced:    {d}");
    }
    let _ = writeln!(s, "reasons:");
    for r in &d.reasons {
        let _ = writeln!(s, "  - {r}");
    }
    s
}

/// Runs every check on `dir`; returns the report and whether it passed (no errors). With `stats`,
/// the report ends with the distribution of reply lengths.
pub fn check(source: &ContentSource, stats: bool) -> (String, bool) {
    let mut problems: Vec<Problem> = Vec::new();
    let mut summary = String::new();
    let mut distribution = String::new();
    match Library::load(source) {
        Ok((library, warnings)) => {
            problems.extend(warnings);
            let measures = budget::measure(&library);
            problems.extend(budget::problems(
                &library,
                &measures,
                &source.path("templates"),
            ));
            if stats {
                distribution = budget::stats(&measures);
            }
            // Checking reads and trains from every file, never from a cache.
            match Triage::load(source, &library, &ModelCache::disabled()) {
                Ok(triage) => {
                    for (file, e) in triage.rules_that_do_not_compile() {
                        problems.push(Problem::error(
                            &source.path(file),
                            0,
                            format!("rule does not compile: {e}"),
                        ));
                    }
                }
                Err(p) => problems.extend(p),
            }
            let _ = write!(
                summary,
                "{} approved templates, {} topics",
                library.templates().len(),
                library.catalog.topics.len()
            );
        }
        Err(e) => problems.extend(e.0),
    }
    problems.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    let errors = problems.iter().filter(|p| p.is_error()).count();
    let warnings = problems.len() - errors;
    let mut out = String::new();
    for p in &problems {
        let _ = writeln!(out, "{p}");
    }
    let sep = if summary.is_empty() { "" } else { ", " };
    let _ = writeln!(
        out,
        "{}: {summary}{sep}{errors} error(s), {warnings} warning(s)",
        source
    );
    if !distribution.is_empty() {
        let _ = write!(out, "\n{distribution}");
    }
    (out, errors == 0)
}

/// Topics with their names and template counts.
pub fn topics(engine: &Engine) -> String {
    let lib = engine.library();
    let mut s = String::new();
    for t in &lib.catalog.topics {
        let n = lib.templates_for(&t.id).count();
        let _ = writeln!(s, "{:22} {:2} template(s)  {}", t.id, n, t.description);
    }
    s
}
