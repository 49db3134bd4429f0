//! The reply-length budget: how long answers are as people receive them, per region. A reply read
//! on a phone should fit on about a screen, so `check` holds the library to a budget and
//! `check --stats` prints the distribution.
//!
//! Measured: every approved template rendered as served (its topic's help lines, the region's
//! blocks, evidence and the compact sources line) in every region; plain-text length in characters
//! (Unicode scalar values), and body length in words (whitespace-separated, Markdown source).

use std::fmt::Write;
use std::path::Path;

use super::{Library, ReplyKind};
use crate::diagnostics::Problem;
use crate::engine::DEFAULT_COMMAND_PREFIX;

/// The 95th percentile of non-crisis plain replies may not pass this, in characters (an error
/// above: the library as a whole must fit a phone screen).
pub const REPLY_CHARS_TARGET_P95: usize = 900;
/// No non-crisis plain reply may be longer than this, in any region (an error above). Set above
/// the longest reply once the library met the p95 target (1,005 characters, November 2026), so
/// one long answer cannot hide under the percentile.
pub const REPLY_CHARS_CEILING: usize = 1_100;
/// Target for a template's body, in words (`check` warns above it).
pub const BODY_WORDS_TARGET: usize = 120;

/// One template rendered for one region.
#[derive(Debug, Clone)]
pub struct Measure {
    pub template: String,
    pub topic: String,
    pub region: String,
    /// Characters in the plain reply.
    pub chars: usize,
    /// Words in the template's body.
    pub body_words: usize,
    /// Crisis and emergency replies: help comes first and is not held to the budget.
    pub crisis: bool,
}

/// Every approved template in every region.
pub fn measure(library: &Library) -> Vec<Measure> {
    let mut out = Vec::new();
    for (region, _) in library.resources.regions() {
        for t in library.templates() {
            let r = library.render(
                t,
                region,
                ReplyKind::of_topic(&t.topic),
                DEFAULT_COMMAND_PREFIX,
            );
            out.push(Measure {
                template: t.id.clone(),
                topic: t.topic.clone(),
                region: region.to_string(),
                chars: r.plain.chars().count(),
                body_words: t.body.split_whitespace().count(),
                crisis: matches!(t.topic.as_str(), "crisis" | "emergency"),
            });
        }
    }
    out
}

/// The nearest-rank percentile `p` (0-100) of `values`; 0 for none.
pub fn percentile(values: &[usize], p: f64) -> usize {
    let mut v = values.to_vec();
    v.sort_unstable();
    if v.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// p50 / p90 / p95 / max of `values`, as a table cell.
fn summary(values: &[usize]) -> String {
    format!(
        "{:>4} {:>5} {:>5} {:>5} {:>5}",
        values.len(),
        percentile(values, 50.0),
        percentile(values, 90.0),
        percentile(values, 95.0),
        percentile(values, 100.0)
    )
}

/// The distribution of reply length per region and of body words over the library.
pub fn stats(measures: &[Measure]) -> String {
    let mut regions: Vec<&str> = measures.iter().map(|m| m.region.as_str()).collect();
    regions.dedup();
    let chars = |f: &dyn Fn(&Measure) -> bool| -> Vec<usize> {
        measures.iter().filter(|m| f(m)).map(|m| m.chars).collect()
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Plain reply length in characters (target: non-crisis p95 <= {REPLY_CHARS_TARGET_P95})"
    );
    let _ = writeln!(
        s,
        "{:<22} {:>4} {:>5} {:>5} {:>5} {:>5}",
        "region / kind", "n", "p50", "p90", "p95", "max"
    );
    for region in &regions {
        let nc = chars(&|m| m.region == *region && !m.crisis);
        let _ = writeln!(s, "{:<22} {}", format!("{region} non-crisis"), summary(&nc));
    }
    let _ = writeln!(
        s,
        "{:<22} {}",
        "all non-crisis",
        summary(&chars(&|m| !m.crisis))
    );
    let _ = writeln!(
        s,
        "{:<22} {}",
        "  depression",
        summary(&chars(&|m| m.topic == "depression"))
    );
    let _ = writeln!(
        s,
        "{:<22} {}",
        "  other topics",
        summary(&chars(&|m| !m.crisis && m.topic != "depression"))
    );
    let _ = writeln!(
        s,
        "{:<22} {}",
        "crisis + emergency",
        summary(&chars(&|m| m.crisis))
    );
    let mut words: Vec<(&str, usize)> = measures
        .iter()
        .map(|m| (m.template.as_str(), m.body_words))
        .collect();
    words.sort_unstable();
    words.dedup();
    let w: Vec<usize> = words.iter().map(|(_, n)| *n).collect();
    let over = w.iter().filter(|n| **n > BODY_WORDS_TARGET).count();
    let _ = writeln!(
        s,
        "\nBody words per template (target <= {BODY_WORDS_TARGET}): n {} p50 {} p95 {} max {}, over target {over}",
        w.len(),
        percentile(&w, 50.0),
        percentile(&w, 95.0),
        percentile(&w, 100.0)
    );
    // The longest answers are where shortening pays: each template's longest region.
    let mut longest: Vec<(usize, &str, &str, usize)> = Vec::new();
    for m in measures.iter().filter(|m| !m.crisis) {
        match longest.iter_mut().find(|l| l.1 == m.template) {
            Some(l) if l.0 < m.chars => *l = (m.chars, &m.template, &m.region, m.body_words),
            Some(_) => {}
            None => longest.push((m.chars, &m.template, &m.region, m.body_words)),
        }
    }
    longest.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let over: Vec<_> = longest
        .iter()
        .filter(|l| l.0 > REPLY_CHARS_TARGET_P95)
        .collect();
    if !over.is_empty() {
        let _ = writeln!(
            s,
            "\nNon-crisis templates over {REPLY_CHARS_TARGET_P95} characters in some region ({}):",
            over.len()
        );
        for (chars, id, region, words) in over {
            let _ = writeln!(s, "  {chars:>5}  {id} ({region}, body {words} words)");
        }
    }
    s
}

/// What `check` reports: an error when the non-crisis p95 is over target, and one for any
/// non-crisis reply over the ceiling. `templates` is the folder problems point at.
pub fn problems(library: &Library, measures: &[Measure], templates: &Path) -> Vec<Problem> {
    let mut out = Vec::new();
    let non_crisis: Vec<usize> = measures
        .iter()
        .filter(|m| !m.crisis)
        .map(|m| m.chars)
        .collect();
    let p95 = percentile(&non_crisis, 95.0);
    if p95 > REPLY_CHARS_TARGET_P95 {
        out.push(Problem::error(
            templates,
            0,
            format!(
                "non-crisis replies are {p95} characters at p95, over the {REPLY_CHARS_TARGET_P95} budget: shorten bodies and evidence summaries (`check --stats` shows the distribution)"
            ),
        ));
    }
    for m in measures {
        if !m.crisis && m.chars > REPLY_CHARS_CEILING {
            let path = library
                .template(&m.template)
                .map_or_else(|| templates.to_path_buf(), |t| t.path.clone());
            out.push(Problem::error(
                &path,
                0,
                format!(
                    "the reply in {} is {} characters, over the {REPLY_CHARS_CEILING} ceiling: shorten the body, the evidence summary or the help lines",
                    m.region, m.chars
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<usize> = (1..=20).collect();
        assert_eq!(percentile(&v, 50.0), 10);
        assert_eq!(percentile(&v, 95.0), 19);
        assert_eq!(percentile(&v, 100.0), 20);
        assert_eq!(percentile(&[], 95.0), 0);
        assert_eq!(percentile(&[7], 0.0), 7);
    }
}
