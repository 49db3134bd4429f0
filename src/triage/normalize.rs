//! Turns a raw chat message into the text forms the detectors match against.
//!
//! People in distress do not type clean text, and people evading filters type it on purpose
//! ("k​ill my​self" with zero-width spaces, "un@live", "s.u.i.c.i.d.e", "i w a n t  t o  d i e",
//! Cyrillic look-alikes). Every detector therefore sees the same message in three forms:
//! `plain` (folded words), `leet` (digits and symbols read as letters) and `despaced` (letter-spaced
//! runs joined back into words). All are lower-case ASCII-ish words separated by single spaces, so
//! patterns can use `\b` and plain spaces.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Only this much of a message is examined: enough for any real question, and it bounds the work a
/// hostile message can cause.
pub const MAX_INPUT_BYTES: usize = 8 * 1024;

/// The forms of one message that the detectors match against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// Folded words: NFKC, case-folded, marks and invisible characters removed, look-alikes
    /// folded, punctuation turned into spaces, runs of 3+ identical letters cut to 2.
    pub plain: String,
    /// `plain` with leetspeak undone inside words ("k1ll", "un@live") and a few number-words
    /// ("2" as "to") read as letters. Used by the safety detectors only.
    pub leet: String,
    /// `leet` with letter-spaced runs ("s u i c i d e", "d.i.e") joined into one word; `None` when
    /// the message has no such run.
    pub despaced: Option<String>,
    /// The joined runs alone ("iwanttodie"): word gaps inside them are lost, so detectors match
    /// phrases against them with spaces removed.
    pub joined_runs: Vec<String>,
    /// Whether the message was cut at [`MAX_INPUT_BYTES`].
    pub truncated: bool,
}

impl Normalized {
    /// All forms worth matching, without duplicates.
    pub fn variants(&self) -> impl Iterator<Item = &str> {
        let leet = (self.leet != self.plain).then_some(self.leet.as_str());
        std::iter::once(self.plain.as_str())
            .chain(leet)
            .chain(self.despaced.as_deref())
    }
}

/// Normalises a message. Never panics, whatever the input.
pub fn normalize(input: &str) -> Normalized {
    let (head, truncated) = truncate(input, MAX_INPUT_BYTES);
    let folded = fold_characters(head);
    let plain = words(&folded, false);
    let leet = words(&folded, true);
    let (despaced, joined_runs) = match join_letter_spacing(&leet) {
        Some((text, runs)) => (Some(text), runs),
        None => (None, Vec::new()),
    };
    Normalized {
        plain,
        leet,
        despaced,
        joined_runs,
        truncated,
    }
}

/// The first `max` bytes of `s`, cut at a character boundary.
pub fn truncate(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (&s[..end], true)
}

/// Character-level folding: compatibility forms, case, invisible characters, marks, look-alikes.
fn fold_characters(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfkc().flat_map(char::to_lowercase) {
        if is_invisible(c) {
            continue;
        }
        // Decompose to drop accents and combining "zalgo" marks: "é" -> "e".
        for d in std::iter::once(c).nfd() {
            if is_combining_mark(d) {
                continue;
            }
            push_folded(&mut out, d);
        }
    }
    out
}

/// Zero-width and other format characters that split words without being visible.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{E0000}'..='\u{E007F}')
}

/// Pushes `c`, replacing a non-ASCII letter that looks like an ASCII one ("а" Cyrillic, "ο" Greek)
/// by that letter. ASCII is never touched: confusable skeletons also map "m" to "rn".
fn push_folded(out: &mut String, c: char) {
    if c.is_ascii() {
        out.push(c);
        return;
    }
    if let Some(ascii) = lookalike(c) {
        out.push(ascii);
        return;
    }
    let skeleton: String = unicode_security::skeleton(&c.to_string()).collect();
    let mut chars = skeleton.chars();
    match (chars.next(), chars.next()) {
        (Some(s), None) if s.is_ascii_alphanumeric() => out.push(s.to_ascii_lowercase()),
        _ => out.push(c),
    }
}

/// Common letters that the confusables table maps to something other than a plain letter.
fn lookalike(c: char) -> Option<char> {
    Some(match c {
        'ß' => 's',
        'ø' => 'o',
        'ł' => 'l',
        'ı' => 'i',
        'ɑ' | 'α' | 'а' => 'a',
        'в' | 'β' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'ε' | 'є' | 'е' | 'ё' => 'e',
        'ɡ' => 'g',
        'һ' | 'н' => 'h',
        'ι' | 'і' | 'ї' => 'i',
        'ј' => 'j',
        'κ' | 'к' => 'k',
        'м' => 'm',
        'η' | 'п' => 'n',
        'ο' | 'о' | 'σ' => 'o',
        'ρ' | 'р' => 'p',
        'ԛ' => 'q',
        'г' => 'r',
        'ѕ' => 's',
        'τ' | 'т' => 't',
        'υ' | 'μ' => 'u',
        'ν' => 'v',
        'ԝ' | 'ω' | 'ш' => 'w',
        'χ' | 'х' => 'x',
        'у' | 'γ' => 'y',
        _ => return None,
    })
}

/// Units and suffixes that follow a number: "15g" is a quantity, "1t" is leetspeak for "it".
const QUANTITY_SUFFIXES: &[&str] = &[
    "g", "gs", "gr", "gram", "grams", "mg", "mgs", "mcg", "ml", "oz", "lb", "lbs", "kg", "oh", "x",
    "th", "st", "nd", "rd", "s", "k", "am", "pm", "yo", "yr", "yrs", "mo", "h", "hr", "hrs", "min",
    "mins", "tabs", "caps", "ct", "d", "day", "days", "wk", "wks", "panel", "hmg", "mit", "pack",
];

/// Leetspeak read as letters, inside words only ("k1ll", "m3", "un@live"), so that "2g" or "10"
/// stay numbers.
fn leet_letter(c: char) -> Option<char> {
    Some(match c {
        '0' => 'o',
        '1' | '!' | '|' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' | '+' => 't',
        '8' => 'b',
        _ => return None,
    })
}

/// Splits folded text into words, optionally undoing leetspeak, and joins them with single spaces.
fn words(folded: &str, leet: bool) -> String {
    let mut out = String::with_capacity(folded.len());
    for raw in folded.split(|c: char| c.is_whitespace()) {
        let word = if leet {
            unleet_word(raw)
        } else {
            raw.to_string()
        };
        let mut current = String::new();
        for c in word.chars() {
            if c.is_alphanumeric() {
                current.push(c);
            } else if (c == '\'' || c == '\u{2019}') && !is_elision(&current) {
                // "don't" -> "dont": apostrophes are often left out in chat anyway.
            } else {
                flush_word(&mut out, &mut current);
            }
        }
        flush_word(&mut out, &mut current);
    }
    out
}

/// French and Italian elisions ("d'en", "j'ai", "qu'il", "l'aide") split into two words, so
/// "d'en finir" reads as "d en finir"; English contractions ("don't", "i'm") are joined.
fn is_elision(before: &str) -> bool {
    matches!(before, "d" | "j" | "l" | "m" | "n" | "s" | "t" | "c" | "qu")
}

fn flush_word(out: &mut String, word: &mut String) {
    if word.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(&cap_repeats(word, 2));
    word.clear();
}

/// Undoes leetspeak in one whitespace-separated token when it mixes letters with digits or
/// symbols, and reads a few lone number-words ("1 w4nt 2 end 1t").
fn unleet_word(raw: &str) -> String {
    match raw {
        "1" => return "i".into(),
        "2" => return "to".into(),
        "4" => return "for".into(),
        "u" => return "you".into(),
        "ur" => return "your".into(),
        _ => {}
    }
    // Censoring asterisks inside a word ("s*icide", "k*ll") are dropped.
    let uncensored = drop_inner_asterisks(raw);
    let raw = uncensored.as_str();
    let has_letter = raw.chars().any(char::is_alphabetic);
    let has_leet = raw.chars().any(|c| leet_letter(c).is_some());
    if !(has_letter && has_leet) {
        return raw.to_string();
    }
    // Quantities such as "15g", "7oh", "2mg" or "3rd" stay as they are: digits followed by a unit.
    let core = raw.trim_matches(|c: char| !c.is_alphanumeric());
    let digits_end = core
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(core.len());
    let suffix = &core[digits_end..];
    if digits_end > 0
        && QUANTITY_SUFFIXES.contains(&suffix)
        && is_real_ordinal(&core[..digits_end], suffix)
    {
        return raw.to_string();
    }
    // Digits read as letters anywhere in the word; symbols only between two word characters, so
    // "@kratombot", "help!" and "$20" keep their meaning.
    let chars: Vec<char> = raw.chars().collect();
    let word_char = |i: usize| chars.get(i).is_some_and(|c| c.is_alphanumeric());
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| match leet_letter(c) {
            Some(l) if c.is_ascii_digit() => l,
            Some(l) if i > 0 && word_char(i - 1) && word_char(i + 1) => l,
            _ => c,
        })
        .collect()
}

fn drop_inner_asterisks(raw: &str) -> String {
    let chars: Vec<char> = raw.chars().collect();
    let inner = |i: usize| {
        i > 0
            && chars[i - 1].is_alphanumeric()
            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric())
    };
    chars
        .iter()
        .enumerate()
        .filter(|&(i, &c)| !(c == '*' && inner(i)))
        .map(|(_, &c)| c)
        .collect()
}

/// "2nd" and "3rd" are ordinals; "3nd" is leetspeak for "end". Suffixes that are not ordinal
/// endings always count as units.
fn is_real_ordinal(digits: &str, suffix: &str) -> bool {
    let last = digits.chars().last();
    let teen = digits.len() >= 2 && digits.as_bytes()[digits.len() - 2] == b'1';
    match suffix {
        "st" => last == Some('1') && !teen,
        "nd" => last == Some('2') && !teen,
        "rd" => last == Some('3') && !teen,
        _ => true,
    }
}

/// Cuts runs of more than `max` identical characters ("sooooo" -> "soo").
fn cap_repeats(word: &str, max: usize) -> String {
    let mut out = String::with_capacity(word.len());
    let mut last = None;
    let mut run = 0;
    for c in word.chars() {
        if Some(c) == last {
            run += 1;
        } else {
            last = Some(c);
            run = 1;
        }
        if run <= max {
            out.push(c);
        }
    }
    out
}

/// Joins runs of three or more single-letter words ("s u i c i d e") into one word. Word gaps inside
/// such a run are lost in `plain`, so the run becomes one word ("iwanttodie"); detectors match
/// phrases against it with their spaces removed.
fn join_letter_spacing(text: &str) -> Option<(String, Vec<String>)> {
    let tokens: Vec<&str> = text.split(' ').collect();
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    let mut run: Vec<&str> = Vec::new();
    let mut joined = Vec::new();
    let single = |t: &str| t.chars().count() == 1 && t.chars().all(char::is_alphabetic);
    for t in tokens.iter().copied().chain(std::iter::once("")) {
        if !t.is_empty() && single(t) {
            run.push(t);
            continue;
        }
        if run.len() >= 3 {
            out.push(run.concat());
            joined.push(run.concat());
        } else {
            out.extend(run.iter().map(|s| s.to_string()));
        }
        run.clear();
        if !t.is_empty() {
            out.push(t.to_string());
        }
    }
    (!joined.is_empty()).then(|| (out.join(" "), joined))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_zero_width_and_case() {
        let n = normalize("gonna K\u{200b}ILL my\u{200d}self");
        assert_eq!(n.plain, "gonna kill myself");
    }

    #[test]
    fn folds_accents_fullwidth_and_lookalikes() {
        assert_eq!(normalize("ｋｒａｔｏｍ").plain, "kratom");
        assert_eq!(normalize("Ça va très bien").plain, "ca va tres bien");
        // Cyrillic а, о and е inside Latin words.
        assert_eq!(
            normalize("kr\u{0430}t\u{043e}m h\u{0435}lp").plain,
            "kratom help"
        );
        assert_eq!(
            normalize("z\u{0301}\u{0316}a\u{0300}l\u{0317}go").plain,
            "zalgo"
        );
    }

    #[test]
    fn caps_letter_repeats_and_drops_apostrophes() {
        assert_eq!(normalize("I dooooon't know!!!").plain, "i doont know");
        assert_eq!(
            normalize("j'ai envie d'en finir").plain,
            "j ai envie d en finir"
        );
        assert_eq!(normalize("I'm sure it's fine").plain, "im sure its fine");
    }

    #[test]
    fn undoes_leetspeak_only_inside_words() {
        let n = normalize("thinking about k1ll1ng mys3lf, took 15g of 7oh");
        assert_eq!(n.leet, "thinking about killing myself took 15g of 7oh");
        assert_eq!(normalize("un@live").leet, "unalive");
        assert_eq!(
            normalize("1 w4nt 2 end 1t all").leet,
            "i want to end it all"
        );
        assert_eq!(
            normalize("3g or 4.5mg, 7oh, 10panel").leet,
            "3g or 4 5mg 7oh 10panel"
        );
        assert_eq!(normalize("!kratom help! @bot").leet, "kratom help bot");
    }

    #[test]
    fn joins_letter_spacing() {
        assert_eq!(
            normalize("i w a n t  t o  d i e").despaced.as_deref(),
            Some("iwanttodie")
        );
        assert_eq!(
            normalize("s.u.i.c.i.d.e keeps popping up")
                .despaced
                .as_deref(),
            Some("suicide keeps popping up")
        );
        assert_eq!(normalize("a b normal text").despaced, None);
    }

    #[test]
    fn truncates_at_char_boundary() {
        let s = "é".repeat(MAX_INPUT_BYTES);
        let n = normalize(&s);
        assert!(n.truncated);
        assert!(n.plain.len() <= MAX_INPUT_BYTES);
        let (head, cut) = truncate("aé", 2);
        assert_eq!((head, cut), ("a", true));
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "",
            " ",
            "\u{0}\u{FFFF}",
            "\u{202E}evil",
            "🔥🔥🔥",
            "@@@@",
            "1 2 4",
            "'''",
            "\u{E0041}",
        ] {
            let _ = normalize(s);
        }
        let _ = normalize(&"a ".repeat(100_000));
        let _ = normalize(&"\u{0301}".repeat(100_000));
    }
}
