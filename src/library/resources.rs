//! Help lines per region (`responses/resources.toml`): crisis, emergency, professional, poison and
//! treatment blocks. A reply shows the asker's region and the international fallback.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::diagnostics::{line_of, toml_problem, Problem};

/// The resource blocks a template may ask for, in the order they are shown.
pub const BLOCK_KINDS: [&str; 5] = ["emergency", "crisis", "professional", "poison", "treatment"];
/// The region every reply also shows.
pub const FALLBACK_REGION: &str = "INTL";
const VIAS: [&str; 5] = ["call", "text", "chat", "web", "email"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reach {
    pub via: String,
    pub contact: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    block: Spanned<String>,
    region: Spanned<String>,
    name: String,
    reach: Vec<Reach>,
    #[serde(default)]
    note: Option<String>,
    source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Block {
    heading: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResources {
    regions: BTreeMap<String, String>,
    blocks: BTreeMap<String, Block>,
    #[serde(default)]
    lines: Vec<RawLine>,
}

/// One service people can reach.
#[derive(Debug, Clone)]
pub struct HelpLine {
    pub block: String,
    pub region: String,
    pub name: String,
    pub reach: Vec<Reach>,
    pub note: Option<String>,
    pub source: String,
}

impl HelpLine {
    /// Whether people can reach it by text message or chat, not only by voice.
    pub fn takes_text(&self) -> bool {
        self.reach
            .iter()
            .any(|r| r.via == "text" || r.via == "chat")
    }
}

/// All help lines, validated.
#[derive(Debug, Clone)]
pub struct Resources {
    regions: BTreeMap<String, String>,
    headings: BTreeMap<String, String>,
    lines: Vec<HelpLine>,
}

impl Resources {
    pub fn load(path: &Path) -> Result<Resources, Vec<Problem>> {
        let src = std::fs::read_to_string(path)
            .map_err(|e| vec![Problem::error(path, 0, format!("cannot read: {e}"))])?;
        Self::parse(path, &src)
    }

    pub fn parse(path: &Path, src: &str) -> Result<Resources, Vec<Problem>> {
        let raw: RawResources =
            toml::from_str(src).map_err(|e| vec![toml_problem(path, src, 0, &e)])?;
        let mut problems = Vec::new();
        if !raw.regions.contains_key(FALLBACK_REGION) {
            problems.push(Problem::error(
                path,
                1,
                format!("[regions] needs {FALLBACK_REGION} = \"International\", the fallback every reply shows"),
            ));
        }
        for kind in BLOCK_KINDS {
            if !raw.blocks.contains_key(kind) {
                problems.push(Problem::error(
                    path,
                    1,
                    format!("missing [blocks.{kind}] with a heading"),
                ));
            }
        }
        for name in raw.blocks.keys() {
            if !BLOCK_KINDS.contains(&name.as_str()) {
                problems.push(Problem::error(
                    path,
                    src.find(&format!("[blocks.{name}]"))
                        .map_or(1, |o| line_of(src, o)),
                    format!(
                        "unknown block `{name}`: use one of {}",
                        BLOCK_KINDS.join(", ")
                    ),
                ));
            }
        }
        let mut lines = Vec::new();
        for l in raw.lines {
            let line = line_of(src, l.block.span().start);
            if !raw.blocks.contains_key(l.block.get_ref()) {
                problems.push(Problem::error(
                    path,
                    line,
                    format!("unknown block `{}`", l.block.get_ref()),
                ));
            }
            if !raw.regions.contains_key(l.region.get_ref()) {
                problems.push(Problem::error(
                    path,
                    line_of(src, l.region.span().start),
                    format!(
                        "region `{}` is not listed under [regions]",
                        l.region.get_ref()
                    ),
                ));
            }
            if l.reach.is_empty() {
                problems.push(Problem::error(
                    path,
                    line,
                    format!("`{}` has no way to reach it", l.name),
                ));
            }
            for r in &l.reach {
                if !VIAS.contains(&r.via.as_str()) {
                    problems.push(Problem::error(
                        path,
                        line,
                        format!(
                            "`{}`: via = \"{}\" is not one of {}",
                            l.name,
                            r.via,
                            VIAS.join(", ")
                        ),
                    ));
                }
            }
            lines.push(HelpLine {
                block: l.block.into_inner(),
                region: l.region.into_inner(),
                name: l.name,
                reach: l.reach,
                note: l.note,
                source: l.source,
            });
        }
        for kind in BLOCK_KINDS {
            for region in raw.regions.keys() {
                if !lines.iter().any(|l| l.block == kind && &l.region == region) {
                    problems.push(Problem::error(
                        path,
                        1,
                        format!(
                            "block `{kind}` has no line for region {region}: add a [[lines]] entry"
                        ),
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let headings = raw
            .blocks
            .into_iter()
            .map(|(k, b)| (k, b.heading))
            .collect();
        Ok(Resources {
            regions: raw.regions,
            headings,
            lines,
        })
    }

    /// The canonical region code for what a user typed ("gb" -> "UK"), if known.
    pub fn region(&self, code: &str) -> Option<&str> {
        let upper = code.trim().to_ascii_uppercase();
        let upper = match upper.as_str() {
            "GB" | "ENGLAND" | "SCOTLAND" | "WALES" | "NI" => "UK".to_string(),
            "USA" => "US".to_string(),
            "INTERNATIONAL" | "WORLD" => FALLBACK_REGION.to_string(),
            _ => upper,
        };
        self.regions.get_key_value(&upper).map(|(k, _)| k.as_str())
    }

    /// Region codes with their names.
    pub fn regions(&self) -> impl Iterator<Item = (&str, &str)> {
        self.regions.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn heading(&self, block: &str) -> Option<&str> {
        self.headings.get(block).map(String::as_str)
    }

    /// The lines of `block` for `region`, then the international fallback.
    pub fn lines_for(&self, block: &str, region: &str) -> Vec<&HelpLine> {
        let mut out: Vec<&HelpLine> = self
            .lines
            .iter()
            .filter(|l| l.block == block && l.region == region)
            .collect();
        if region != FALLBACK_REGION {
            out.extend(
                self.lines
                    .iter()
                    .filter(|l| l.block == block && l.region == FALLBACK_REGION),
            );
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> String {
        let mut s = String::from("[regions]\nUS = \"United States\"\nINTL = \"International\"\n");
        for kind in BLOCK_KINDS {
            s.push_str(&format!("[blocks.{kind}]\nheading = \"{kind} heading\"\n"));
        }
        for kind in BLOCK_KINDS {
            for (region, contact) in [("US", "988"), ("INTL", "https://findahelpline.com")] {
                let via = if region == "US" { "text" } else { "web" };
                s.push_str(&format!(
                    "[[lines]]\nblock = \"{kind}\"\nregion = \"{region}\"\nname = \"{kind} {region} line\"\nreach = [{{ via = \"{via}\", contact = \"{contact}\" }}]\nsource = \"https://example.org\"\n"
                ));
            }
        }
        s
    }

    #[test]
    fn loads_and_shows_region_plus_fallback() {
        let r = Resources::parse(Path::new("r.toml"), &sample()).expect("valid");
        let lines = r.lines_for("crisis", "US");
        assert_eq!(lines.len(), 2);
        assert!(lines[0].takes_text());
        assert_eq!(lines[1].region, "INTL");
        assert_eq!(r.region("usa"), Some("US"));
        assert_eq!(r.region("xx"), None);
    }

    #[test]
    fn every_block_needs_every_region() {
        let src = sample().replace(
            "region = \"INTL\"\nname = \"poison INTL line\"",
            "region = \"US\"\nname = \"x\"",
        );
        let problems = Resources::parse(Path::new("r.toml"), &src).expect_err("gap");
        assert!(problems
            .iter()
            .any(|p| p.message.contains("`poison` has no line for region INTL")));
    }

    #[test]
    fn unknown_via_and_region_are_named() {
        let src = sample()
            .replacen("via = \"text\"", "via = \"fax\"", 1)
            .replacen("region = \"US\"", "region = \"ZZ\"", 1);
        let problems = Resources::parse(Path::new("r.toml"), &src).expect_err("bad");
        assert!(problems.iter().any(|p| p.message.contains("fax")));
        assert!(problems
            .iter()
            .any(|p| p.message.contains("ZZ") && p.line > 1));
    }
}
