//! Phrase lists as data: a signal file (`responses/crisis/*.toml`) names families of phrases and
//! patterns, and masks for idioms that look like signals but are not ("this withdrawal is killing
//! me"). The crisis, emergency and mental-health detectors are each one signal file run through
//! this matcher, so moderators can extend them without touching code.
//!
//! ```toml
//! weak_needed = 2          # how many different weak families together count as a signal
//!
//! [[mask]]
//! id = "hyperbole"
//! phrases = ["killing me", "dying to know"]
//!
//! [[family]]
//! id = "direct"
//! strength = "strong"      # strong: enough alone; weak: needs `weak_needed` weak families
//! phrases = ["kill myself", "unaliv*"]
//! patterns = ['\bwant(ed)? to die\b']
//! ```
//!
//! Phrases are words: each letter also matches a stretched letter ("diiie"), `*` at the end of a
//! word matches any ending, and they are matched on whole words of every normalised form. Patterns
//! are regular expressions over the same lower-case, single-spaced forms.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::normalize::Normalized;
use super::phrase_index::{squeeze, LazyRegex, PhraseIndex, Rule, RuleMatcher, RuleMatcherBuilder};
use crate::diagnostics::{line_of, toml_problem, Problem};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strength {
    Strong,
    Weak,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalFile {
    #[serde(default = "default_weak_needed")]
    weak_needed: usize,
    /// The template that answers when this file's signals decide the topic.
    #[serde(default)]
    default_template: Option<String>,
    #[serde(default)]
    mask: Vec<RuleGroup>,
    #[serde(default)]
    family: Vec<RuleGroup>,
}

fn default_weak_needed() -> usize {
    2
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleGroup {
    id: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    strength: Option<Strength>,
    /// A more specific template for this family (e.g. worry about someone else).
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    phrases: Vec<Spanned<String>>,
    #[serde(default)]
    patterns: Vec<Spanned<String>>,
}

/// One family of signals, compiled.
#[derive(Debug)]
struct Family {
    id: String,
    strength: Strength,
    template: Option<String>,
    /// Rules as written; an index here is a rule's number in the matchers.
    rules: Vec<String>,
}

/// A group of idioms to mask out before matching.
#[derive(Debug)]
struct Mask {
    id: String,
    rules: Vec<LazyRegex>,
    /// Rules written as patterns run on every message; phrases only when the index names them.
    always: Vec<bool>,
}

/// What matched, for explanations.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hit {
    pub family: String,
    pub strength: Strength,
    pub rule: String,
}

/// The result of running one signal file over a message.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Detection {
    pub triggered: bool,
    pub hits: Vec<Hit>,
    /// Masks that removed idioms before matching.
    pub masked: Vec<String>,
}

impl Detection {
    pub fn has_family(&self, id: &str) -> bool {
        self.hits.iter().any(|h| h.family == id)
    }
}

/// A compiled signal file.
#[derive(Debug)]
pub struct SignalSet {
    name: String,
    weak_needed: usize,
    default_template: Option<String>,
    masks: Vec<Mask>,
    families: Vec<Family>,
    /// Every family's rules over the normalised forms, one group per family.
    matcher: RuleMatcher,
    /// Phrase forms without spaces, for letter-spaced runs that lost their word gaps.
    compact: RuleMatcher,
    /// (mask, rule) for every masked phrase.
    mask_phrases: PhraseIndex<(usize, usize)>,
}

impl SignalSet {
    /// Loads and compiles a signal file; every bad phrase or pattern is reported with its line.
    pub fn load(path: &Path) -> Result<SignalSet, Vec<Problem>> {
        let src = std::fs::read_to_string(path)
            .map_err(|e| vec![Problem::error(path, 0, format!("cannot read: {e}"))])?;
        Self::parse(path, &src)
    }

    pub fn parse(path: &Path, src: &str) -> Result<SignalSet, Vec<Problem>> {
        let file: SignalFile =
            toml::from_str(src).map_err(|e| vec![toml_problem(path, src, 0, &e)])?;
        let mut problems = Vec::new();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("signals")
            .to_string();
        if file.family.is_empty() {
            problems.push(Problem::error(
                path,
                1,
                "no [[family]] of signals: add at least one",
            ));
        }
        let mut seen = BTreeSet::new();
        let mut masks = Vec::new();
        let mut mask_entries = Vec::new();
        for group in &file.mask {
            let sources = rule_sources(path, src, group, &mut problems);
            for r in sources.iter().filter(|r| r.pattern) {
                validate_rule(path, r, &mut problems);
            }
            for (i, r) in sources.iter().enumerate() {
                if let Some(words) = &r.words {
                    mask_entries.push((words.clone(), (masks.len(), i)));
                }
            }
            masks.push(Mask {
                id: group.id.clone(),
                always: sources.iter().map(|r| r.pattern).collect(),
                rules: sources
                    .into_iter()
                    .map(|r| LazyRegex::new(r.source))
                    .collect(),
            });
        }
        let mut families = Vec::new();
        let mut matcher = RuleMatcherBuilder::default();
        let mut compact = RuleMatcherBuilder::default();
        for group in &file.family {
            if !seen.insert(group.id.clone()) {
                problems.push(Problem::error(
                    path,
                    0,
                    format!("duplicate family id `{}`", group.id),
                ));
            }
            let Some(strength) = group.strength else {
                problems.push(Problem::error(
                    path,
                    0,
                    format!(
                        "family `{}` needs strength = \"strong\" or \"weak\"",
                        group.id
                    ),
                ));
                continue;
            };
            let _ = &group.description;
            let sources = rule_sources(path, src, group, &mut problems);
            let rules = sources
                .iter()
                .map(|r| match &r.words {
                    Some(words) => Rule::Phrase {
                        words: words.clone(),
                        regex: r.source.clone(),
                    },
                    None => Rule::Pattern(r.source.clone()),
                })
                .collect();
            if let Err(e) = matcher.push_group(rules) {
                // Name the rule and its line: compile them one by one, only when the set fails.
                let before = problems.len();
                for r in sources.iter().filter(|r| r.pattern) {
                    validate_rule(path, r, &mut problems);
                }
                if problems.len() == before {
                    problems.push(Problem::error(
                        path,
                        0,
                        format!("family `{}` does not compile as a whole: {e}", group.id),
                    ));
                }
                continue;
            }
            let compact_rules = sources
                .iter()
                .map(|r| match (&r.words, &r.compact) {
                    (Some(words), Some(regex)) => Rule::Phrase {
                        words: words.replace(' ', ""),
                        regex: regex.clone(),
                    },
                    _ => Rule::Absent,
                })
                .collect();
            if let Err(e) = compact.push_group(compact_rules) {
                problems.push(Problem::error(
                    path,
                    0,
                    format!("family `{}`: {e}", group.id),
                ));
            }
            families.push(Family {
                id: group.id.clone(),
                strength,
                template: group.template.clone(),
                rules: sources.into_iter().map(|r| r.rule).collect(),
            });
        }
        if file.weak_needed < 2 {
            problems.push(Problem::error(path, 1, "weak_needed must be at least 2"));
        }
        if problems.is_empty() {
            Ok(SignalSet {
                name,
                weak_needed: file.weak_needed,
                default_template: file.default_template,
                masks,
                families,
                matcher: matcher.build(),
                compact: compact.build(),
                mask_phrases: PhraseIndex::build(mask_entries),
            })
        } else {
            Err(problems)
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every template id this file routes to, for checking that they exist.
    pub fn templates(&self) -> impl Iterator<Item = &str> {
        self.default_template
            .iter()
            .chain(self.families.iter().filter_map(|f| f.template.as_ref()))
            .map(String::as_str)
    }

    /// The template that should answer a triggered detection: the default one when the writer
    /// speaks of themselves (a first-person phrase matched in a family without its own template),
    /// else the template of the first family that names one, else the default.
    pub fn route(&self, d: &Detection) -> Option<&str> {
        let family = |id: &str| self.families.iter().find(|f| f.id == id);
        let first_person = d.hits.iter().any(|h| {
            family(&h.family).is_some_and(|f| f.template.is_none())
                && h.rule
                    .split(|c: char| !c.is_alphanumeric())
                    .any(|w| FIRST_PERSON.contains(&w))
        });
        let specific = d
            .hits
            .iter()
            .find_map(|h| family(&h.family).and_then(|f| f.template.as_deref()));
        match (first_person, specific) {
            (false, Some(t)) => Some(t),
            _ => self.default_template.as_deref().or(specific),
        }
    }

    /// Runs the masks, then every family, over every normalised form of the message. Hits come
    /// in family order, then rule order, whichever way they were found.
    pub fn detect(&self, text: &Normalized) -> Detection {
        let mut detection = Detection::default();
        let mut seen_rules = BTreeSet::new();
        for variant in text.variants() {
            let masked = self.apply_masks(variant, &mut detection.masked);
            self.record(
                self.matcher.matches(&masked),
                &mut seen_rules,
                &mut detection,
            );
        }
        for run in &text.joined_runs {
            self.record(self.compact.matches(run), &mut seen_rules, &mut detection);
        }
        let strong = detection
            .hits
            .iter()
            .any(|h| h.strength == Strength::Strong);
        let weak_families: BTreeSet<&str> = detection
            .hits
            .iter()
            .filter(|h| h.strength == Strength::Weak)
            .map(|h| h.family.as_str())
            .collect();
        detection.triggered = strong || weak_families.len() >= self.weak_needed;
        detection
    }

    /// `text` with this file's idioms masked out, for other matchers that should not read
    /// "this withdrawal is killing me" as being about death.
    pub fn mask(&self, text: &str) -> String {
        self.apply_masks(text, &mut Vec::new())
    }

    fn record(
        &self,
        found: BTreeSet<(usize, usize)>,
        seen: &mut BTreeSet<(usize, usize)>,
        detection: &mut Detection,
    ) {
        for (f, r) in found {
            if seen.insert((f, r)) {
                detection.hits.push(hit(&self.families[f], r));
            }
        }
    }

    /// Masks apply in file order, each on the text the ones before it left. A phrase can only
    /// match where the index finds it in the original text: masking replaces words by a mark
    /// that no phrase spans, so it never makes a new phrase appear.
    fn apply_masks(&self, text: &str, masked: &mut Vec<String>) -> String {
        let candidates: BTreeSet<(usize, usize)> =
            self.mask_phrases.candidates(&squeeze(text)).collect();
        let mut out = text.to_string();
        for (m, mask) in self.masks.iter().enumerate() {
            for (r, rule) in mask.rules.iter().enumerate() {
                if !mask.always[r] && !candidates.contains(&(m, r)) {
                    continue;
                }
                let Ok(re) = rule.compiled() else { continue };
                if re.is_match(&out) {
                    if !masked.contains(&mask.id) {
                        masked.push(mask.id.clone());
                    }
                    // A non-space, non-word mark keeps phrases from matching across the gap.
                    out = re.replace_all(&out, "~").into_owned();
                }
            }
        }
        out
    }

    /// Compiles every rule now, as `check` does: a rule that cannot compile would match nothing.
    pub fn compile_all(&self) -> Vec<String> {
        let masks = self.masks.iter().flat_map(|m| {
            m.rules
                .iter()
                .filter_map(move |r| r.compiled().err().map(|e| format!("`{}`: {e}", m.id)))
        });
        let families = self
            .matcher
            .compile_all()
            .into_iter()
            .chain(self.compact.compile_all())
            .map(|(f, e)| format!("`{}`: {e}", self.families[f].id));
        masks.chain(families).collect()
    }
}

const FIRST_PERSON: &[&str] = &["i", "im", "ive", "id", "ill", "me", "my", "myself", "mine"];

fn hit(family: &Family, i: usize) -> Hit {
    Hit {
        family: family.id.clone(),
        strength: family.strength,
        rule: family.rules[i].clone(),
    }
}

/// A rule as written, its regex source, its compact phrase form, and its line.
struct RuleSource {
    rule: String,
    source: String,
    compact: Option<String>,
    /// A phrase's normalised words, which the phrase index looks for (none for patterns).
    words: Option<String>,
    line: usize,
    /// Written as a regex (a pattern), not as a phrase.
    pattern: bool,
}

/// A group's phrases and patterns as regex sources, not yet compiled (phrases compile when the
/// index first names them; a family's patterns compile as one set). Phrases that cannot become a
/// regex are reported with their line.
fn rule_sources(
    path: &Path,
    src: &str,
    group: &RuleGroup,
    problems: &mut Vec<Problem>,
) -> Vec<RuleSource> {
    let mut out = Vec::new();
    for phrase in &group.phrases {
        let line = line_of(src, phrase.span().start);
        let text = phrase.get_ref();
        match phrase_words(text) {
            Ok((words, prefix)) => out.push(RuleSource {
                rule: text.clone(),
                source: phrase_regex(&words, prefix, " ", true),
                // Too short to look for inside a joined run without matching everywhere.
                compact: (words.len() >= 3).then(|| phrase_regex(&words, prefix, "", false)),
                words: Some(words),
                line,
                pattern: false,
            }),
            Err(msg) => problems.push(Problem::error(path, line, msg)),
        }
    }
    for pattern in &group.patterns {
        out.push(RuleSource {
            rule: pattern.get_ref().clone(),
            source: pattern.get_ref().clone(),
            compact: None,
            words: None,
            line: line_of(src, pattern.span().start),
            pattern: true,
        });
    }
    if group.phrases.is_empty() && group.patterns.is_empty() {
        problems.push(Problem::error(
            path,
            0,
            format!("`{}` has no phrases or patterns", group.id),
        ));
    }
    out
}

/// Compiles one rule alone, reporting a bad one with its line.
fn validate_rule(path: &Path, r: &RuleSource, problems: &mut Vec<Problem>) {
    if let Err(e) = regex::Regex::new(&r.source) {
        let what = if r.pattern {
            "pattern is not a valid regular expression"
        } else {
            "phrase"
        };
        problems.push(Problem::error(
            path,
            r.line,
            format!("{what}: {}", first_line(&e.to_string())),
        ));
    }
}

fn first_line(s: &str) -> String {
    s.lines().last().unwrap_or(s).trim().to_string()
}

/// A phrase's normalised words, and whether it ends in `*` (any word ending).
fn phrase_words(phrase: &str) -> Result<(String, bool), String> {
    let normalized = super::normalize::normalize(phrase.trim_end_matches('*'));
    if normalized.plain.is_empty() {
        return Err(format!(
            "phrase `{phrase}` has no letters or digits after normalising"
        ));
    }
    Ok((normalized.plain, phrase.trim().ends_with('*')))
}

/// A phrase's words as a regex over normalised text: joined by `sep`, each letter allowed to be
/// stretched, a trailing `*` matching any word ending.
fn phrase_regex(words: &str, prefix: bool, sep: &str, whole_words: bool) -> String {
    let words: Vec<String> = words
        .split(' ')
        .map(|w| {
            w.chars()
                .map(|c| format!("{}+", regex::escape(&c.to_string())))
                .collect()
        })
        .collect();
    let mut body = words.join(sep);
    if prefix {
        body.push_str(r"\w*");
    }
    if whole_words {
        format!(r"\b{body}\b")
    } else {
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triage::normalize::normalize;

    const FILE: &str = r#"
[[mask]]
id = "hyperbole"
phrases = ["killing me"]

[[family]]
id = "direct"
strength = "strong"
phrases = ["kill myself", "unaliv*", "want to die"]

[[family]]
id = "means"
strength = "weak"
patterns = ['\brope\b']

[[family]]
id = "finality"
strength = "weak"
phrases = ["not for camping"]
"#;

    fn set() -> SignalSet {
        SignalSet::parse(Path::new("t.toml"), FILE).expect("test file parses")
    }

    #[test]
    fn strong_phrase_triggers_through_obfuscation() {
        let s = set();
        for text in [
            "i want to kill myself",
            "k1ll mys3lf",
            "KIIIILL MYSELF",
            "un@liv1ng",
        ] {
            assert!(s.detect(&normalize(text)).triggered, "{text}");
        }
        assert!(s.detect(&normalize("i w a n t  t o  d i e")).triggered);
    }

    #[test]
    fn weak_needs_two_families() {
        let s = set();
        assert!(!s.detect(&normalize("bought rope today")).triggered);
        assert!(
            s.detect(&normalize("bought rope today. not for camping"))
                .triggered
        );
    }

    #[test]
    fn masks_idioms_without_hiding_other_signals() {
        let s = set();
        let d = s.detect(&normalize("this withdrawal is killing me"));
        assert!(!d.triggered);
        assert_eq!(d.masked, vec!["hyperbole".to_string()]);
        assert!(
            s.detect(&normalize("this is killing me, i want to kill myself"))
                .triggered
        );
    }

    #[test]
    fn whole_words_only() {
        assert!(!set().detect(&normalize("skill myselfish")).triggered);
    }

    #[test]
    fn reports_bad_patterns_with_line() {
        let src = "[[family]]\nid = \"x\"\nstrength = \"weak\"\npatterns = ['(unclosed']\n";
        let problems = SignalSet::parse(Path::new("bad.toml"), src).expect_err("must fail");
        assert_eq!(problems[0].line, 4);
        let src = "[[family]]\nid = \"x\"\nphrases = [\"a\"]\n";
        let problems = SignalSet::parse(Path::new("bad.toml"), src).expect_err("must fail");
        assert!(problems[0].message.contains("strength"));
        let problems = SignalSet::parse(Path::new("bad.toml"), "[[family]\n").expect_err("x");
        assert_eq!(problems[0].line, 1);
    }
}
