//! The library's safety and quality rules. `kratom-bot check`, start-up and a moderator's `reload`
//! all run these, so a template that breaks a rule is never served.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use pulldown_cmark::{Event, Parser, Tag};
use regex::Regex;
use time::{Date, Month};

use super::budget::BODY_WORDS_TARGET;
use super::catalog::{Catalog, NO_EVIDENCE_TOPICS};
use super::render;
use super::resources::BLOCK_KINDS;
use super::template::Template;
use crate::diagnostics::Problem;

/// A dosing figure: a number (or number word) with a unit of amount. Matches what the project's
/// scorer looks for, plus spelled-out numbers.
static DOSING_FIGURE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(\b\d+(?:[.,]\d+)?\s*(?:-|to|–|—)?\s*\d*(?:[.,]\d+)?\s*|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|a few|several|half an?|a)\s+)(?:g|gr|grams?|mg|milligrams?|tsp|teaspoons?|tbsp|tablespoons?|spoons?|spoonfuls?)\b",
    )
    .expect("static regex compiles")
});

/// Topics whose replies go to people who may be struggling: no amounts, ever.
const NO_DOSING_TOPICS: [&str; 2] = ["depression", "crisis"];
/// Over this many words a body is an error; over the budget's target, a warning.
const MAX_BODY_WORDS: usize = 150;
const MIN_EXAMPLES: usize = 12;
const REVIEW_MAX_AGE_DAYS: i64 = 365;

/// Whether `text` contains a dosing figure; returns the first one.
pub fn dosing_figure(text: &str) -> Option<&str> {
    DOSING_FIGURE.find(text).map(|m| m.as_str())
}

/// Checks every template against the rules; `today` decides stale reviews.
pub fn check_templates(templates: &[Template], catalog: &Catalog, today: Date) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut ids: BTreeMap<&str, &Template> = BTreeMap::new();
    for t in templates {
        if let Some(first) = ids.insert(&t.id, t) {
            problems.push(Problem::error(
                &t.path,
                t.lines.id,
                format!("duplicate id `{}` (also in {})", t.id, first.path.display()),
            ));
        }
        check_one(t, catalog, today, &mut problems);
    }
    for topic in catalog.ids() {
        if !templates
            .iter()
            .any(|t| t.topic == topic && t.is_approved())
        {
            problems.push(Problem::error(
                std::path::Path::new("responses/templates"),
                0,
                format!("no approved template for topic `{topic}`: every topic needs one"),
            ));
        }
    }
    problems
}

fn check_one(t: &Template, catalog: &Catalog, today: Date, problems: &mut Vec<Problem>) {
    let path = &t.path;
    let mut error = |line: usize, msg: String| problems.push(Problem::error(path, line, msg));

    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if t.id != stem {
        error(
            t.lines.id,
            format!("id `{}` must equal the file name `{stem}.md`", t.id),
        );
    }
    if !is_kebab(&t.id) {
        error(
            t.lines.id,
            format!(
                "id `{}` must be lower-case letters, digits and dashes",
                t.id
            ),
        );
    }
    if catalog.get(&t.topic).is_none() {
        let known: Vec<&str> = catalog.ids().collect();
        error(
            t.lines.topic,
            format!(
                "unknown topic `{}`: use one of {}",
                t.topic,
                known.join(", ")
            ),
        );
    }
    if let Some(folder) = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|s| s.to_str())
    {
        if folder != t.topic && catalog.get(folder).is_some() {
            error(
                t.lines.topic,
                format!(
                    "topic `{}` but the file is in the `{folder}` folder",
                    t.topic
                ),
            );
        }
    }
    let needs_evidence = !NO_EVIDENCE_TOPICS.contains(&t.topic.as_str());
    if needs_evidence && t.evidence.is_none() {
        error(1, "missing [evidence] with level and summary".into());
    }
    if needs_evidence && t.sources.is_empty() {
        error(
            1,
            "missing sources: add at least one [[sources]] entry".into(),
        );
    }
    if let Some(e) = &t.evidence {
        if e.summary.trim().is_empty() {
            error(
                t.line_containing("summary"),
                "evidence summary is empty".into(),
            );
        }
    }
    for s in &t.sources {
        let line = t.line_containing(&s.title);
        if s.authors.is_none() && s.publisher.is_none() {
            error(
                line,
                format!("source `{}` needs authors or publisher", s.title),
            );
        }
        if s.link().is_none() {
            error(line, format!("source `{}` needs a url or a doi", s.title));
        }
        if let Some(url) = &s.url {
            if !url.starts_with("https://") && !url.starts_with("http://") {
                error(line, format!("source url `{url}` must start with https://"));
            }
        }
    }
    for r in &t.resources {
        if !BLOCK_KINDS.contains(&r.as_str()) {
            error(
                t.lines.resources,
                format!("unknown resource `{r}`: use {}", BLOCK_KINDS.join(", ")),
            );
        }
    }
    let has = |r: &str| t.resources.iter().any(|x| x == r);
    let required: &[&str] = match t.topic.as_str() {
        "crisis" => &["crisis"],
        "emergency" => &["emergency", "poison", "crisis"],
        "depression" => &["crisis", "professional"],
        _ => &[],
    };
    for r in required {
        if !has(r) {
            error(
                t.lines.resources,
                format!("a `{}` template must include the `{r}` resources", t.topic),
            );
        }
    }
    let treatment_expected = matches!(
        t.topic.as_str(),
        "opioid-use-disorder" | "dependence-withdrawal"
    );
    let missing_treatment = treatment_expected && !has("treatment");
    if NO_DOSING_TOPICS.contains(&t.topic.as_str()) {
        let mut texts: Vec<&str> = vec![&t.title, &t.body];
        texts.extend(t.evidence.as_ref().map(|e| e.summary.as_str()));
        texts.extend(t.sources.iter().map(|s| s.title.as_str()));
        texts.extend(t.examples.iter().map(String::as_str));
        for text in texts {
            if let Some(fig) = dosing_figure(text) {
                error(
                    t.line_containing(fig.trim()),
                    format!("dosing figure `{}` in a `{}` template: never give amounts to someone asking about mood or in crisis; describe without numbers", fig.trim(), t.topic),
                );
            }
        }
    }
    for event in Parser::new(&t.body) {
        match event {
            Event::Html(h) | Event::InlineHtml(h) => error(
                t.line_containing(h.trim()),
                "raw HTML in the body: use Markdown (HTML is generated from it)".into(),
            ),
            Event::Start(Tag::Image { dest_url, .. }) => error(
                t.line_containing(dest_url.trim()),
                format!("image `{dest_url}`: replies carry no images; write the words instead"),
            ),
            Event::Start(Tag::Link { dest_url, .. }) if !render::is_safe_link(&dest_url) => error(
                t.line_containing(dest_url.trim()),
                format!("link `{dest_url}`: link to an https:// page (or mailto:) only"),
            ),
            _ => {}
        }
    }
    if t.body.trim().is_empty() {
        error(t.body_line, "the body is empty".into());
    }
    if missing_treatment {
        problems.push(Problem::warning(
            path,
            t.lines.resources,
            format!(
                "a `{}` template should include the `treatment` resources",
                t.topic
            ),
        ));
    }
    let words = t.body.split_whitespace().count();
    if words > MAX_BODY_WORDS {
        problems.push(Problem::error(
            path,
            t.body_line,
            format!("body has {words} words, over {MAX_BODY_WORDS}: keep answers chat-sized ({BODY_WORDS_TARGET} or fewer)"),
        ));
    } else if words > BODY_WORDS_TARGET {
        problems.push(Problem::warning(
            path,
            t.body_line,
            format!(
                "body has {words} words; keep answers chat-sized ({BODY_WORDS_TARGET} or fewer)"
            ),
        ));
    }
    if t.examples.len() < MIN_EXAMPLES && t.is_approved() {
        problems.push(Problem::warning(
            path,
            t.line_containing("examples"),
            format!(
                "only {} examples: the matcher learns from them, add at least {MIN_EXAMPLES}",
                t.examples.len()
            ),
        ));
    }
    match review_date(t) {
        Some(date) if (today - date).whole_days() > REVIEW_MAX_AGE_DAYS => {
            problems.push(Problem::warning(
                path,
                t.line_containing("reviewed_on"),
                format!(
                    "reviewed on {date}, more than {REVIEW_MAX_AGE_DAYS} days ago: re-review it"
                ),
            ))
        }
        Some(_) => {}
        None => problems.push(Problem::error(
            path,
            t.line_containing("reviewed_on"),
            "reviewed_on must be a date like 2026-11-25".to_string(),
        )),
    }
}

fn review_date(t: &Template) -> Option<Date> {
    let d = t.review.reviewed_on.date?;
    Date::from_calendar_date(i32::from(d.year), Month::try_from(d.month).ok()?, d.day).ok()
}

fn is_kebab(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_dosing_figures() {
        for s in [
            "take 2-5 grams",
            "5 to 7 g",
            "4g twice",
            "1.5 mg",
            "a teaspoon",
            "two grams",
            "3 tsp",
        ] {
            assert!(dosing_figure(s).is_some(), "{s}");
        }
        for s in [
            "988",
            "call 116 123",
            "text HOME to 741741",
            "in 2018",
            "grandma",
            "7-OH",
            "24/7",
        ] {
            assert!(dosing_figure(s).is_none(), "{s}");
        }
    }
}
