//! One response template: TOML front matter between `+++` lines, then a Markdown body.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::value::Datetime;
use toml::Spanned;

use crate::diagnostics::{toml_problem, Problem};

/// How strong the evidence behind an answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EvidenceLevel {
    Insufficient,
    Low,
    Moderate,
    High,
}

impl fmt::Display for EvidenceLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EvidenceLevel::Insufficient => "insufficient",
            EvidenceLevel::Low => "low",
            EvidenceLevel::Moderate => "moderate",
            EvidenceLevel::High => "high",
        })
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    pub level: EvidenceLevel,
    pub summary: String,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub title: String,
    #[serde(default)]
    pub authors: Option<String>,
    #[serde(default)]
    pub publisher: Option<String>,
    pub year: u16,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub doi: Option<String>,
}

impl Source {
    /// Where a reader can find the source: the URL, or the DOI as a resolvable link.
    pub fn link(&self) -> Option<String> {
        self.url
            .clone()
            .or_else(|| self.doi.as_ref().map(|d| format!("https://doi.org/{d}")))
    }

    /// A short citation for one line of sources: "Swogger & Walsh 2018", "Post et al. 2019", or
    /// for an official page the site it is on ("fda.gov 2023").
    pub fn short(&self) -> String {
        if let Some(authors) = &self.authors {
            let et_al = authors.contains("et al");
            let names: Vec<&str> = authors
                .trim_end_matches('.')
                .trim_end_matches("et al")
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .collect();
            let surname = |a: &str| -> String {
                let words: Vec<&str> = a.split_whitespace().collect();
                match words.split_last() {
                    // "Leong Bin Abdullah MFI": the initials come last.
                    Some((last, rest))
                        if !rest.is_empty() && last.chars().all(|c| c.is_ascii_uppercase()) =>
                    {
                        rest.join(" ")
                    }
                    _ => a.to_string(),
                }
            };
            let who = match names.as_slice() {
                [one] if !et_al => surname(one),
                [a, b] if !et_al => format!("{} & {}", surname(a), surname(b)),
                [first, ..] => format!("{} et al.", surname(first)),
                [] => String::new(),
            };
            return format!("{who} {}", self.year);
        }
        let site = self
            .url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| {
                u.host_str()
                    .map(|h| h.trim_start_matches("www.").to_string())
            });
        let who = site.unwrap_or_else(|| self.by().to_string());
        format!("{who} {}", self.year)
    }

    /// Who wrote or published it.
    pub fn by(&self) -> &str {
        self.authors
            .as_deref()
            .or(self.publisher.as_deref())
            .unwrap_or("")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewStatus {
    Approved,
    Draft,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    pub status: ReviewStatus,
    pub reviewed_by: String,
    pub reviewed_on: Datetime,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    id: Spanned<String>,
    topic: Spanned<String>,
    title: String,
    resources: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    examples: Vec<String>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    evidence: Option<Evidence>,
    #[serde(default)]
    sources: Vec<Source>,
    review: Review,
}

/// A parsed template, with what `check` needs to point at lines.
#[derive(Debug, Clone)]
pub struct Template {
    pub id: String,
    pub topic: String,
    pub title: String,
    pub resources: Vec<String>,
    pub examples: Vec<String>,
    pub keywords: Vec<String>,
    pub evidence: Option<Evidence>,
    pub sources: Vec<Source>,
    pub review: Review,
    /// The Markdown body, trimmed.
    pub body: String,
    pub path: PathBuf,
    /// Lines of fields, for problems: id, topic, resources.
    pub lines: FieldLines,
    /// The 1-based file line where the body starts.
    pub body_line: usize,
    /// The whole file, for locating text in problems.
    pub source_text: String,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct FieldLines {
    pub id: usize,
    pub topic: usize,
    pub resources: usize,
}

impl Template {
    pub fn is_approved(&self) -> bool {
        self.review.status == ReviewStatus::Approved
    }

    /// The 1-based line of the first line in the file containing `needle`, or 1.
    pub fn line_containing(&self, needle: &str) -> usize {
        self.source_text
            .lines()
            .position(|l| l.contains(needle))
            .map_or(1, |i| i + 1)
    }
}

const FENCE: &str = "+++";

/// Parses one template file's text.
pub fn parse(path: &Path, src: &str) -> Result<Template, Problem> {
    let mut lines = src.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    if first.trim_end() != FENCE {
        return Err(Problem::error(
            path,
            1,
            "a template must start with a `+++` line, then TOML front matter, then `+++` and the body",
        ));
    }
    let front_start = first.len();
    let mut offset = front_start;
    let mut front_end = None;
    let mut closing_line = 1;
    for line in lines {
        closing_line += 1;
        if line.trim_end() == FENCE {
            front_end = Some((offset, offset + line.len()));
            break;
        }
        offset += line.len();
    }
    let Some((front_end, body_start)) = front_end else {
        return Err(Problem::error(
            path,
            1,
            "front matter is not closed: add a `+++` line before the body",
        ));
    };
    let front = &src[front_start..front_end];
    let fm: FrontMatter = toml::from_str(front).map_err(|e| toml_problem(path, front, 1, &e))?;
    let line = |span: std::ops::Range<usize>| crate::diagnostics::line_of(front, span.start) + 1;
    Ok(Template {
        lines: FieldLines {
            id: line(fm.id.span()),
            topic: line(fm.topic.span()),
            resources: fm.resources.as_ref().map_or(1, |r| line(r.span())),
        },
        id: fm.id.into_inner(),
        topic: fm.topic.into_inner(),
        title: fm.title,
        resources: fm.resources.map(Spanned::into_inner).unwrap_or_default(),
        examples: fm.examples,
        keywords: fm.keywords,
        evidence: fm.evidence,
        sources: fm.sources,
        review: fm.review,
        body: src[body_start..].trim().to_string(),
        path: path.to_path_buf(),
        body_line: closing_line + 1,
        source_text: src.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const GOOD: &str = r#"+++
id = "dosing-no-safe-dose"
topic = "dosing"
title = "Is there a safe dose?"
resources = ["poison"]
examples = ["how much should i take"]

[evidence]
level = "low"
summary = "No controlled dosing studies."

[[sources]]
title = "FDA and Kratom"
publisher = "U.S. Food and Drug Administration"
year = 2023
url = "https://www.fda.gov/"

[review]
status = "approved"
reviewed_by = "team"
reviewed_on = 2026-11-25
+++
There is **no** established safe dose.
"#;

    #[test]
    fn parses_front_matter_and_body() {
        let t = parse(Path::new("t.md"), GOOD).expect("parses");
        assert_eq!(t.id, "dosing-no-safe-dose");
        assert_eq!(t.lines.topic, 3);
        assert_eq!(t.body_line, 23);
        assert!(t.body.starts_with("There is"));
        assert_eq!(t.sources[0].link().as_deref(), Some("https://www.fda.gov/"));
    }

    #[test]
    fn short_citations() {
        let src = |authors: &str| Source {
            title: "T".into(),
            authors: Some(authors.into()),
            publisher: None,
            year: 2019,
            url: None,
            doi: Some("10.1/x".into()),
        };
        assert_eq!(src("Grundmann O").short(), "Grundmann 2019");
        assert_eq!(src("Swogger MT, Walsh Z").short(), "Swogger & Walsh 2019");
        assert_eq!(src("Post S et al.").short(), "Post et al. 2019");
        assert_eq!(
            src("Yang Y, Müller CP, Singh D").short(),
            "Yang et al. 2019"
        );
        assert_eq!(
            src("Leong Bin Abdullah MFI, Singh D").short(),
            "Leong Bin Abdullah & Singh 2019"
        );
        let t = parse(Path::new("t.md"), GOOD).expect("parses");
        assert_eq!(t.sources[0].short(), "fda.gov 2023");
    }

    #[test]
    fn reports_unknown_field_with_line() {
        let src = GOOD.replace("title =", "colour = \"red\"\ntitle =");
        let p = parse(Path::new("t.md"), &src).expect_err("unknown field");
        assert!(p.message.contains("colour"), "{}", p.message);
        assert_eq!(p.line, 4);
    }

    #[test]
    fn reports_missing_fences() {
        assert_eq!(
            parse(Path::new("t.md"), "no front matter")
                .expect_err("x")
                .line,
            1
        );
        let p = parse(Path::new("t.md"), "+++\nid = \"x\"\n").expect_err("x");
        assert!(p.message.contains("not closed"));
    }
}
