//! One Aho-Corasick pass finds which phrase rules could match a message, so only those run their
//! regular expression; running every family's regex set over every form of a message was most of
//! the triage time.
//!
//! Phrases allow stretched letters ("kiiill myself"), so the index works on squeezed text, where
//! every run of one character is collapsed to one. A phrase can match only where its squeezed
//! form appears in the squeezed text; the phrase's own regex then confirms word boundaries and
//! letter counts, so the result is exactly that of running every rule.

use std::collections::HashMap;
use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use regex::Regex;

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
    fn a_lazy_regex_compiles_once_and_reports_errors() {
        let ok = LazyRegex::new(r"\bk+i+l+l+\b".into());
        assert!(ok.is_match("kiiill"));
        assert!(!ok.is_match("kil"));
        let bad = LazyRegex::new("(".into());
        assert!(bad.compiled().is_err());
        assert!(!bad.is_match("("));
    }
}
