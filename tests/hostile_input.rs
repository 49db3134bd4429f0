//! Hostile and odd messages never panic, stay bounded, and never leak into HTML.

use kratom_bot::library::ContentSource;
use kratom_bot::Engine;

fn engine() -> Engine {
    Engine::load(&ContentSource::BuiltIn).expect("library loads")
}

#[test]
fn odd_unicode_and_huge_messages_do_not_panic() {
    let engine = engine();
    let inputs = [
        String::new(),
        " ".repeat(10_000),
        "\u{202E}\u{200B}\u{FEFF}\u{2066}".repeat(3_000),
        "z\u{0336}\u{0334}\u{0335}".repeat(5_000),
        "🔥💀😂".repeat(5_000),
        "\u{0}\u{1}\u{7f}\u{FFFF}\u{10FFFF}".into(),
        "<script>alert(1)</script><img src=x onerror=alert(1)>".into(),
        "a".repeat(1_000_000),
        "k i l l ".repeat(10_000),
        "1!@$".repeat(20_000),
        "é".repeat(300_000),
    ];
    for text in &inputs {
        let reply = engine.respond(text, "US");
        assert!(!reply.plain.is_empty());
        assert!(!reply.html.contains("<script"));
        assert!(!reply.html.contains("onerror"));
    }
}

#[test]
fn a_crisis_signal_in_the_first_8_kib_of_a_huge_message_is_caught() {
    let engine = engine();
    let text = format!(
        "i want to end my life. {}",
        "what about strains? ".repeat(50_000)
    );
    let d = engine.decide(&text);
    assert!(d.crisis);
    assert!(d.truncated);
}

#[test]
fn user_text_never_reaches_the_reply() {
    let engine = engine();
    let marker = "<b>ZZMARKERZZ</b>";
    let reply = engine.respond(&format!("is kratom legal {marker}"), "US");
    assert!(!reply.html.contains("ZZMARKERZZ"));
    assert!(!reply.plain.contains("ZZMARKERZZ"));
}

#[test]
fn obfuscated_crisis_messages_are_caught() {
    let engine = engine();
    for text in [
        "i w a n t  t o  d i e",
        "k\u{200B}i\u{200B}l\u{200B}l myself tonight",
        "KIIIIILL MYSELF",
        "wanna un@live myself",
        "su1c1dal again",
        "\u{043A}ill m\u{0443}self", // Cyrillic к and у
        "ｋｉｌｌ ｍｙｓｅｌｆ",
        "quiero morir",
        "je veux mourir",
        "ich will nicht mehr leben",
    ] {
        assert!(engine.decide(text).crisis, "missed: {text}");
    }
}

#[test]
fn idioms_alone_are_not_crises() {
    let engine = engine();
    for text in [
        "this withdrawal is killing me",
        "dying to know which strain is best",
        "i'd kill for some sleep rn",
        "suicide squad is a bad movie",
        "cutting back from 10g to 6g",
        "lmao im dead",
    ] {
        assert!(!engine.decide(text).crisis, "false alarm: {text}");
    }
}
