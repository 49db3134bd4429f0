//! One Aho-Corasick pass finds which phrase rules could match a message, so only those run their
//! regular expression; running every family's regex set over every form of a message was most of
//! the triage time.
//!
//! Phrases allow stretched letters ("kiiill myself"), so the index works on squeezed text, where
//! every run of one character is collapsed to one. A phrase can match only where its squeezed
//! form appears in the squeezed text; the phrase's own regex then confirms word boundaries and
//! letter counts, so the result is exactly that of running every rule.

use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use regex::{Regex, RegexSet};

/// `s` with every run of one character collapsed to one ("kiiill" -> "kil").
pub fn squeeze(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last = None;
    for c in s.chars() {
        if last != Some(c) {
            out.push(c);
            last = Some(c);
        }
    }
    out
}

/// A rule's regex, compiled the first time the index names it as a candidate: most rules are
/// never candidates for most messages, and compiling all of them made start-up slow.
#[derive(Debug)]
pub struct LazyRegex {
    source: String,
    compiled: OnceLock<Result<Regex, String>>,
}

impl LazyRegex {
    pub fn new(source: String) -> LazyRegex {
        LazyRegex {
            source,
            compiled: OnceLock::new(),
        }
    }

    /// The compiled regex, or why it does not compile (phrases are escaped by construction, so
    /// only a size limit can fail; `check` compiles every rule to prove none does).
    pub fn compiled(&self) -> Result<&Regex, &str> {
        self.compiled
            .get_or_init(|| Regex::new(&self.source).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(String::as_str)
    }

    /// Whether the rule matches; a rule that cannot compile matches nothing.
    pub fn is_match(&self, text: &str) -> bool {
        self.compiled().is_ok_and(|re| re.is_match(text))
    }
}

/// Squeezed literals, each naming the rules (`K`) that can only match where it appears.
#[derive(Debug)]
pub struct PhraseIndex<K> {
    automaton: Option<AhoCorasick>,
    rules: Vec<Vec<K>>,
}

impl<K> Default for PhraseIndex<K> {
    fn default() -> Self {
        PhraseIndex {
            automaton: None,
            rules: Vec::new(),
        }
    }
}

impl<K: Copy> PhraseIndex<K> {
    /// Builds the index from (phrase as normalised words, rule) pairs; phrases are squeezed here.
    pub fn build(entries: impl IntoIterator<Item = (String, K)>) -> PhraseIndex<K> {
        let mut literals: Vec<String> = Vec::new();
        let mut rules: Vec<Vec<K>> = Vec::new();
        let mut position: HashMap<String, usize> = HashMap::new();
        for (phrase, key) in entries {
            let literal = squeeze(&phrase);
            let i = *position.entry(literal.clone()).or_insert_with(|| {
                literals.push(literal);
                rules.push(Vec::new());
                rules.len() - 1
            });
            rules[i].push(key);
        }
        // Building only fails past limits far above any phrase list; without an automaton every
        // rule is a candidate, which is slow but still right.
        let automaton = if literals.is_empty() {
            None
        } else {
            AhoCorasick::new(&literals).ok()
        };
        if automaton.is_none() && !literals.is_empty() {
            tracing::warn!(
                literals = literals.len(),
                "phrase index not built; every rule is checked"
            );
        }
        PhraseIndex { automaton, rules }
    }

    /// Every rule whose literal occurs in `squeezed` (which must be squeezed text), possibly
    /// more than once, in no particular order.
    pub fn candidates<'a>(&'a self, squeezed: &'a str) -> Box<dyn Iterator<Item = K> + 'a> {
        match &self.automaton {
            Some(ac) => Box::new(
                ac.find_overlapping_iter(squeezed)
                    .flat_map(|m| self.rules[m.pattern().as_usize()].iter().copied()),
            ),
            None => Box::new(self.rules.iter().flatten().copied()),
        }
    }
}

/// Groups of rules (signal families, topics) matched together: every group's phrases through one
/// index and then their own regex, each group's patterns as one set. Rules are numbered within
/// their group, phrases and patterns alike, so a match is (group, rule).
#[derive(Debug, Default)]
pub struct RuleMatcher {
    groups: Vec<GroupRules>,
    phrases: PhraseIndex<(usize, usize)>,
}

#[derive(Debug)]
struct GroupRules {
    /// Each phrase's regex, by rule number (none for patterns and absent rules).
    regexes: Vec<Option<LazyRegex>>,
    patterns: Option<RegexSet>,
    /// The rule number of each pattern in `patterns`.
    pattern_rules: Vec<usize>,
}

/// One rule of a group, as `RuleMatcherBuilder::push_group` takes it.
pub enum Rule {
    /// Normalised words for the index, and the regex that confirms a candidate.
    Phrase { words: String, regex: String },
    /// A regular expression with no phrase to index: it runs on every text.
    Pattern(String),
    /// A rule this matcher does not look for; it keeps the group's numbering.
    Absent,
}

/// Collects groups, then builds the one index over all their phrases.
#[derive(Default)]
pub struct RuleMatcherBuilder {
    groups: Vec<GroupRules>,
    entries: Vec<(String, (usize, usize))>,
}

impl RuleMatcherBuilder {
    /// Adds a group; fails, adding nothing, when its patterns do not compile as a set.
    pub fn push_group(&mut self, rules: Vec<Rule>) -> Result<(), regex::Error> {
        let pattern_rules: Vec<usize> = (0..rules.len())
            .filter(|&r| matches!(rules[r], Rule::Pattern(_)))
            .collect();
        let patterns = if pattern_rules.is_empty() {
            None
        } else {
            Some(RegexSet::new(rules.iter().filter_map(|r| match r {
                Rule::Pattern(p) => Some(p),
                _ => None,
            }))?)
        };
        let g = self.groups.len();
        let mut regexes = Vec::with_capacity(rules.len());
        for (r, rule) in rules.into_iter().enumerate() {
            regexes.push(match rule {
                Rule::Phrase { words, regex } => {
                    self.entries.push((words, (g, r)));
                    Some(LazyRegex::new(regex))
                }
                Rule::Pattern(_) | Rule::Absent => None,
            });
        }
        self.groups.push(GroupRules {
            regexes,
            patterns,
            pattern_rules,
        });
        Ok(())
    }

    pub fn build(self) -> RuleMatcher {
        RuleMatcher {
            groups: self.groups,
            phrases: PhraseIndex::build(self.entries),
        }
    }
}

impl RuleMatcher {
    /// Every (group, rule) that matches `text`, in group order, then rule order.
    pub fn matches(&self, text: &str) -> BTreeSet<(usize, usize)> {
        let mut found: BTreeSet<(usize, usize)> = self.phrases.candidates(&squeeze(text)).collect();
        found.retain(|&(g, r)| {
            self.groups[g].regexes[r]
                .as_ref()
                .is_some_and(|re| re.is_match(text))
        });
        for (g, group) in self.groups.iter().enumerate() {
            if let Some(set) = &group.patterns {
                found.extend(
                    set.matches(text)
                        .iter()
                        .map(|p| (g, group.pattern_rules[p])),
                );
            }
        }
        found
    }

    /// Compiles every phrase's regex now, as `check` does: (group, why) for each that fails.
    pub fn compile_all(&self) -> Vec<(usize, String)> {
        self.groups
            .iter()
            .enumerate()
            .flat_map(|(g, group)| {
                group
                    .regexes
                    .iter()
                    .flatten()
                    .filter_map(move |re| re.compiled().err().map(|e| (g, e.to_string())))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeezing_collapses_runs_only() {
        assert_eq!(squeeze("kiiilll  myself"), "kil myself");
        assert_eq!(squeeze("ééé~~a"), "é~a");
        assert_eq!(squeeze(""), "");
    }

    #[test]
    fn a_stretched_phrase_is_a_candidate_and_others_are_not() {
        let index = PhraseIndex::build([
            ("kill myself".to_string(), 1),
            ("want to die".to_string(), 2),
            ("kill".to_string(), 3),
        ]);
        let mut found: Vec<i32> = index
            .candidates(&squeeze("i wanna kiiill myseeelf"))
            .collect();
        found.sort_unstable();
        assert_eq!(found, vec![1, 3]);
        assert_eq!(index.candidates(&squeeze("fine thanks")).count(), 0);
    }

    #[test]
    fn a_rule_matcher_finds_phrases_and_patterns_by_group_and_rule() {
        let phrase = |w: &str, re: &str| Rule::Phrase {
            words: w.into(),
            regex: re.into(),
        };
        let mut b = RuleMatcherBuilder::default();
        b.push_group(vec![
            phrase("kill", r"\bk+i+l+l+\b"),
            Rule::Pattern(r"\brope\b".into()),
        ])
        .expect("compiles");
        b.push_group(vec![Rule::Absent, phrase("die", r"\bd+i+e+\b")])
            .expect("compiles");
        assert!(b.push_group(vec![Rule::Pattern("(".into())]).is_err());
        let m = b.build();
        let found: Vec<(usize, usize)> = m.matches("kiiill with rope or die").into_iter().collect();
        assert_eq!(found, vec![(0, 0), (0, 1), (1, 1)]);
        // "kil" squeezes like "kill" but the regex wants two l's.
        assert!(m.matches("kil").is_empty());
        assert!(m.compile_all().is_empty());
    }

    #[test]
    fn a_lazy_regex_compiles_once_and_reports_errors() {
        let ok = LazyRegex::new(r"\bk+i+l+l+\b".into());
        assert!(ok.is_match("kiiill"));
        assert!(!ok.is_match("kil"));
        let bad = LazyRegex::new("(".into());
        assert!(bad.compiled().is_err());
        assert!(!bad.is_match("("));
    }
}
