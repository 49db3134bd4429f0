//! Help lines per region (`responses/resources.toml`): crisis, emergency, professional, poison and
//! treatment blocks. Each block is complete for its purpose in every region: it always lists that
//! region's own lines, and a service may belong to more than one block (Canada's 988 is both the
//! crisis line and the closest route to care). The international fallback is added to the blocks
//! whose `fallback = true`; emergency and poison numbers only make sense where they apply.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::diagnostics::{line_of, toml_problem, Problem};
use crate::library::ContentSource;

/// The help lines inside the library.
const RESOURCES_FILE: &str = "resources.toml";

/// The resource blocks a template may ask for, in the order they are shown.
pub const BLOCK_KINDS: [&str; 5] = ["emergency", "crisis", "professional", "poison", "treatment"];
/// The region every reply also shows.
pub const FALLBACK_REGION: &str = "INTL";
const VIAS: [&str; 5] = ["call", "text", "chat", "web", "email"];
/// Longest `short_note`, in characters.
const SHORT_NOTE_MAX: usize = 64;

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
    /// What the note becomes under an ordinary answer, where blocks are short: only what tells
    /// someone what to do ("in Quebec", "call 911 if unsure"). No short note, no note.
    #[serde(default)]
    short_note: Option<Spanned<String>>,
    source: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Block {
    heading: String,
    /// A few words for the block in ordinary answers ("Treatment:"); the heading when absent.
    #[serde(default)]
    label: Option<String>,
    /// Whether the international fallback line follows a region's own lines.
    #[serde(default = "yes")]
    fallback: bool,
    /// Crisis block only: the words before the region's main crisis line when help comes first.
    #[serde(default)]
    lead: Option<String>,
}

fn yes() -> bool {
    true
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
    /// The note in short blocks (ordinary answers); none means the service stands alone there.
    pub short_note: Option<String>,
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
    blocks: BTreeMap<String, Block>,
    lines: Vec<HelpLine>,
}

impl Resources {
    pub fn load(source: &ContentSource) -> Result<Resources, Vec<Problem>> {
        let src = source.read(RESOURCES_FILE).map_err(|p| vec![p])?;
        Self::parse(&source.path(RESOURCES_FILE), &src)
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
        if raw.blocks.get("crisis").is_some_and(|b| b.lead.is_none()) {
            problems.push(Problem::error(
                path,
                src.find("[blocks.crisis]").map_or(1, |o| line_of(src, o)),
                "[blocks.crisis] needs a `lead`: the words before the crisis line when help comes first",
            ));
        }
        for (name, block) in &raw.blocks {
            if name != "crisis" && block.lead.is_some() {
                problems.push(Problem::error(
                    path,
                    src.find(&format!("[blocks.{name}]"))
                        .map_or(1, |o| line_of(src, o)),
                    format!("`lead` belongs to [blocks.crisis] only, not [blocks.{name}]"),
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
            if let Some(short) = &l.short_note {
                if short.get_ref().chars().count() > SHORT_NOTE_MAX {
                    problems.push(Problem::error(
                        path,
                        line_of(src, short.span().start),
                        format!(
                            "`{}`: short_note is {} characters; keep it to {SHORT_NOTE_MAX}, it sits under every ordinary answer",
                            l.name,
                            short.get_ref().chars().count()
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
                short_note: l.short_note.map(Spanned::into_inner),
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
        for region in raw.regions.keys() {
            // The main crisis line opens mental-health replies: it must be a number people can
            // call or text (the international directory is a website by nature).
            let main = lines
                .iter()
                .find(|l| l.block == "crisis" && &l.region == region);
            if let Some(main) = main {
                let reachable = main
                    .reach
                    .iter()
                    .any(|r| r.via == "call" || r.via == "text");
                if region != FALLBACK_REGION && !reachable {
                    problems.push(Problem::error(
                        path,
                        1,
                        format!(
                            "the first crisis line for {region} (`{}`) is its main one and needs a `call` or `text` way to reach it",
                            main.name
                        ),
                    ));
                }
            }
        }
        for l in &lines {
            if matches!(l.block.as_str(), "emergency" | "poison")
                && !l.reach.iter().any(|r| r.via == "call")
            {
                problems.push(Problem::error(
                    path,
                    1,
                    format!(
                        "`{}` ({} {}) needs a number to call: emergency and poison help is by phone",
                        l.name, l.block, l.region
                    ),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Resources {
            regions: raw.regions,
            blocks: raw.blocks,
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
        self.blocks.get(block).map(|b| b.heading.as_str())
    }

    /// The block's short label for ordinary answers, or its heading.
    pub fn label(&self, block: &str) -> Option<&str> {
        self.blocks
            .get(block)
            .map(|b| b.label.as_deref().unwrap_or(&b.heading))
    }

    /// The words before the main crisis line when a reply puts help first.
    pub fn crisis_lead(&self) -> Option<&str> {
        self.blocks.get("crisis").and_then(|b| b.lead.as_deref())
    }

    /// The region's own lines of `block` (the international lines for the fallback region).
    pub fn own_lines(&self, block: &str, region: &str) -> Vec<&HelpLine> {
        self.lines
            .iter()
            .filter(|l| l.block == block && l.region == region)
            .collect()
    }

    /// The international lines `block` adds after a region's own, if it adds any.
    pub fn fallback_lines(&self, block: &str, region: &str) -> Vec<&HelpLine> {
        let adds = self.blocks.get(block).is_some_and(|b| b.fallback);
        if !adds || region == FALLBACK_REGION {
            return Vec::new();
        }
        self.own_lines(block, FALLBACK_REGION)
    }

    /// The whole block for `region`: its own lines, then the international fallback if the block
    /// adds one.
    pub fn lines_for(&self, block: &str, region: &str) -> Vec<&HelpLine> {
        let mut out = self.own_lines(block, region);
        out.extend(self.fallback_lines(block, region));
        out
    }

    /// The region's main crisis line: the first crisis line listed for it.
    pub fn main_crisis_line(&self, region: &str) -> Option<&HelpLine> {
        self.lines_for("crisis", region).into_iter().next()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> String {
        let mut s = String::from("[regions]\nUS = \"United States\"\nINTL = \"International\"\n");
        for kind in BLOCK_KINDS {
            s.push_str(&format!("[blocks.{kind}]\nheading = \"{kind} heading\"\n"));
            match kind {
                "crisis" => s.push_str("lead = \"crisis lead\"\n"),
                "emergency" | "poison" => s.push_str("fallback = false\n"),
                _ => {}
            }
        }
        for kind in BLOCK_KINDS {
            for (region, contact) in [("US", "988"), ("INTL", "https://findahelpline.com")] {
                let via = match (kind, region) {
                    ("emergency" | "poison", _) => "call",
                    (_, "US") => "text",
                    _ => "web",
                };
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
    fn fallback_only_where_the_block_adds_it() {
        let r = Resources::parse(Path::new("r.toml"), &sample()).expect("valid");
        let poison = r.lines_for("poison", "US");
        assert_eq!(poison.len(), 1, "no international poison line in the US");
        assert_eq!(r.lines_for("poison", "INTL").len(), 1);
        assert_eq!(
            r.main_crisis_line("US").map(|l| l.region.as_str()),
            Some("US")
        );
        assert_eq!(r.crisis_lead(), Some("crisis lead"));
    }

    #[test]
    fn main_crisis_line_and_emergency_lines_need_a_number() {
        let web_only = |name: &str| {
            let line = format!("name = \"{name}\"\nreach = [{{ via = \"");
            let at = sample().find(&line).expect("line in sample") + line.len();
            let mut src = sample();
            let end = at + src[at..].find('"').expect("via ends");
            src.replace_range(at..end, "web");
            Resources::parse(Path::new("r.toml"), &src).expect_err("web only")
        };
        let problems = web_only("crisis US line");
        assert!(
            problems.iter().any(|p| p.message.contains("main one")),
            "{problems:?}"
        );
        let problems = web_only("poison US line");
        assert!(
            problems
                .iter()
                .any(|p| p.message.contains("needs a number to call")),
            "{problems:?}"
        );
    }

    #[test]
    fn crisis_block_needs_a_lead() {
        let src = sample().replace("lead = \"crisis lead\"\n", "");
        let problems = Resources::parse(Path::new("r.toml"), &src).expect_err("no lead");
        assert!(problems
            .iter()
            .any(|p| p.message.contains("needs a `lead`")));
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
