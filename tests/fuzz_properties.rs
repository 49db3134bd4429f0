//! Property tests over hostile input (proptest, in the normal suite so CI runs them every time):
//! the normaliser, triage, the command parser, the addressing rules and the Markdown renderer
//! never panic, whatever a message holds, and nothing typed becomes live HTML.

use std::sync::LazyLock;

use kratom_bot::config::RoomMode;
use kratom_bot::library::render::{markdown_to_html, markdown_to_plain};
use kratom_bot::library::ContentSource;
use kratom_bot::moderation::commands;
use kratom_bot::runtime::addressing::{self, BotIdentity, Message, MsgKind, RoomView};
use kratom_bot::triage::normalize::normalize;
use kratom_bot::Engine;
use proptest::prelude::*;

static ENGINE: LazyLock<Engine> =
    LazyLock::new(|| Engine::load(&ContentSource::BuiltIn).expect("library loads"));

/// Text that looks like what hostile or unlucky people send: any Unicode, plus the characters
/// normalisation and Markdown care most about, mixed with words the detectors read.
fn hostile_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        any::<char>().prop_map(String::from),
        Just("\u{200B}".to_string()),
        Just("\u{202E}".to_string()),
        Just("\u{0301}\u{0336}".to_string()),
        Just("ｋｒａｔｏｍ ".to_string()),
        Just("<script>alert(1)</script>".to_string()),
        Just("<img src=x onerror=alert(1)>".to_string()),
        Just("[x](javascript:alert(1)) ".to_string()),
        Just("!kratom ".to_string()),
        Just("@kratombot: ".to_string()),
        Just("kill myself ".to_string()),
        Just("not breathing ".to_string()),
        Just("s u i c i d e ".to_string()),
        Just("> quoted\n".to_string()),
        Just("```\n".to_string()),
        Just("\r\n\t".to_string()),
        "[a-z ]{1,12}",
    ];
    prop::collection::vec(pieces, 0..80).prop_map(|v| v.concat())
}

proptest! {
    // 256 cases per property unless PROPTEST_CASES says otherwise (run more before a release).
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn normalising_never_panics(text in hostile_text()) {
        let n = normalize(&text);
        prop_assert!(n.leet.len() <= text.len() * 4 + 16);
    }

    #[test]
    fn triage_and_rendering_never_panic_or_echo(text in hostile_text(), region in "US|CA|UK|IE|AU|NZ|INTL|XX") {
        let reply = ENGINE.respond(&text, &region);
        prop_assert!(!reply.plain.is_empty());
        // Replies come from reviewed templates only: nothing typed is echoed.
        prop_assert!(!reply.html.contains("<script"));
        prop_assert!(!reply.html.contains("onerror"));
        prop_assert!(!reply.plain.contains("javascript:"));
    }

    #[test]
    fn huge_messages_are_cut_not_choked_on(seed in hostile_text(), repeat in 1usize..400) {
        let text = seed.repeat(repeat) + " i want to end it all";
        let d = ENGINE.decide(&text);
        prop_assert_eq!(d.truncated, text.len() > 8 * 1024);
    }

    #[test]
    fn commands_parse_or_are_refused_without_panicking(text in hostile_text()) {
        let _ = commands::parse(&text);
        let _ = commands::parse(text.trim_start_matches("!kratom").trim());
    }

    #[test]
    fn addressing_never_panics(
        body in hostile_text(),
        formatted in proptest::option::of(hostile_text()),
        dm in any::<bool>(),
        reply in any::<bool>(),
        mode in prop_oneof![Just(RoomMode::Mention), Just(RoomMode::All), Just(RoomMode::Off)],
    ) {
        let mentions = vec!["@kratombot:example.org".to_string()];
        let msg = Message {
            sender: "@someone:example.org",
            kind: MsgKind::Text,
            body: &body,
            formatted_body: formatted.as_deref(),
            is_edit: false,
            is_reply: reply,
            mentions: Some(&mentions),
            replies_to_bot: false,
            sender_ignored: false,
        };
        let bot = BotIdentity {
            user_id: "@kratombot:example.org",
            display_name: Some("kratom-bot"),
            prefix: "!kratom",
        };
        let room = RoomView { is_dm: dm, mode, crisis_watch: true };
        let _ = addressing::decide(&msg, &bot, room);
        let _ = addressing::strip_reply_fallback(&body);
        let _ = addressing::strip_html_reply_fallback(formatted.as_deref().unwrap_or(""));
    }

    #[test]
    fn markdown_never_becomes_live_html(md in hostile_text()) {
        let html = markdown_to_html(&md);
        for tag in ["<script", "<img", "<iframe", "<svg", "<style"] {
            prop_assert!(!html.to_lowercase().contains(tag), "{} in {}", tag, html);
        }
        prop_assert!(!html.contains("href=\"javascript:"), "{}", html);
        let _ = markdown_to_plain(&md);
    }
}
