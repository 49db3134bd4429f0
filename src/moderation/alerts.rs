//! Crisis alerts for the management room: what to say, and when to stay quiet. Pure; the runtime
//! decides whether a message was a crisis and posts the alert.
//!
//! An alert names the room, links to the event (matrix.to), names the sender, the time and the
//! rule that matched. It never quotes the message unless `alerts.include_text` is on: moderators
//! can follow the link with their own access, and the alert room may be wider than the room.
use std::collections::HashMap;

use matrix_sdk::ruma::{RoomId, UserId};
use std::time::{Duration, Instant};

/// One person's repeated crisis messages within the window raise one alert.
#[derive(Debug)]
pub struct AlertThrottle {
    window: Duration,
    last: HashMap<String, Instant>,
}

impl AlertThrottle {
    pub fn new(window: Duration) -> Self {
        AlertThrottle {
            window,
            last: HashMap::new(),
        }
    }

    /// Whether to alert about `user` now; records the alert if so.
    pub fn allow(&mut self, user: &str, now: Instant) -> bool {
        let window = self.window;
        // Forget people whose window has passed, so the map stays small.
        self.last
            .retain(|_, at| now.saturating_duration_since(*at) < window);
        if self.last.contains_key(user) {
            return false;
        }
        self.last.insert(user.to_owned(), now);
        true
    }
}

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// A crisis message, sent after the bot tried its crisis reply.
    Crisis { reply_sent: bool },
    /// Weaker signs (the concern tier) in a message nobody addressed to the bot: it stayed
    /// silent in the room, and a moderator may want to check in.
    CheckIn,
}

/// What an alert says.
#[derive(Debug, Clone)]
pub struct Alert<'a> {
    pub kind: AlertKind,
    /// The room's name or alias (falls back to its id).
    pub room_label: &'a str,
    pub room_id: &'a str,
    pub event_id: &'a str,
    pub sender: &'a str,
    /// The message's time (ms since the epoch).
    pub at_ms: i64,
    /// Which detector rules matched.
    pub rules: &'a [String],
    /// Only with `alerts.include_text`.
    pub text: Option<&'a str>,
    pub in_dm: bool,
}

/// `https://matrix.to/#/<room>/<event>?via=<server>` with both ids percent-encoded. The `via`
/// server lets a client find the room: the one in the room id, or (room version 12 ids name no
/// server) `member_server`, the server of someone known to be in the room.
pub fn matrix_to_event(room_id: &str, event_id: &str, member_server: &str) -> String {
    let server = RoomId::parse(room_id)
        .ok()
        .and_then(|id| id.server_name().map(|s| s.to_string()))
        .unwrap_or_else(|| member_server.to_owned());
    let via = if server.is_empty() {
        String::new()
    } else {
        format!("?via={}", encode(&server))
    };
    format!(
        "https://matrix.to/#/{}/{}{via}",
        encode(room_id),
        encode(event_id)
    )
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn escape(s: &str) -> String {
    let mut out = String::new();
    let _ = pulldown_cmark_escape::escape_html(&mut out, s);
    out
}

/// Milliseconds since the epoch as `2026-01-31 13:45:00 UTC`.
pub fn format_time(ms: i64) -> String {
    let fmt =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| format!("{ms} ms"))
}

/// The rules behind a crisis decision, without the phrase that matched (which may echo what the
/// person wrote): `crisis: intent-to-die (strong)`.
pub fn crisis_rules(reasons: &[String]) -> Vec<String> {
    reasons
        .iter()
        .filter(|r| r.starts_with("crisis:"))
        .filter(|r| !r.contains("ignored idiom"))
        .map(|r| match r.find(" matched ") {
            Some(i) => r[..i].to_owned(),
            None => r.clone(),
        })
        .collect()
}

/// Plain text and HTML bodies of the alert.
pub fn compose(a: &Alert<'_>) -> (String, String) {
    let sender_server = UserId::parse(a.sender)
        .map(|u| u.server_name().to_string())
        .unwrap_or_default();
    let link = matrix_to_event(a.room_id, a.event_id, &sender_server);
    let time = format_time(a.at_ms);
    let rules = if a.rules.is_empty() {
        "crisis detector".to_owned()
    } else {
        a.rules.join("; ")
    };
    let place = if a.in_dm { "a DM" } else { a.room_label };
    let (headline, outcome) = match a.kind {
        AlertKind::Crisis { reply_sent: true } => {
            ("Crisis alert", "The bot sent its crisis reply.")
        }
        AlertKind::Crisis { reply_sent: false } => (
            "Crisis alert",
            "The bot could NOT send its crisis reply (the homeserver refused or failed): please \
             reach out to this person directly.",
        ),
        AlertKind::CheckIn => (
            "Check-in suggested (low priority)",
            "Weaker warning signs in a message nobody addressed to the bot; it did not reply in \
             the room. A moderator may want to check in privately.",
        ),
    };
    let mut plain = format!(
        "{headline}: {sender} in {place} at {time}\nMessage: {link}\nRule: {rules}\n{outcome}",
        sender = a.sender,
    );
    let mut html = format!(
        "<p><strong>{headline}</strong>: {sender} in {place} at {time}<br>\
         <a href=\"{href}\">Go to the message</a><br>Rule: {rules}<br>{outcome}</p>",
        sender = escape(a.sender),
        place = escape(place),
        href = escape(&link),
        rules = escape(&rules),
    );
    if let Some(text) = a.text {
        plain.push_str(&format!("\nText: {text}"));
        html.push_str(&format!("<blockquote>{}</blockquote>", escape(text)));
    }
    (plain, html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_alert_per_person_per_window() {
        let mut t = AlertThrottle::new(Duration::from_secs(600));
        let t0 = Instant::now();
        assert!(t.allow("@a:x", t0));
        assert!(!t.allow("@a:x", t0 + Duration::from_secs(1)));
        assert!(!t.allow("@a:x", t0 + Duration::from_secs(599)));
        assert!(
            t.allow("@b:x", t0 + Duration::from_secs(2)),
            "others are separate"
        );
        assert!(
            t.allow("@a:x", t0 + Duration::from_secs(600)),
            "window over"
        );
        assert!(!t.allow("@a:x", t0 + Duration::from_secs(601)));
    }

    #[test]
    fn link_is_percent_encoded() {
        assert_eq!(
            matrix_to_event("!abc:example.org", "$ev/1+2", "other.org"),
            "https://matrix.to/#/%21abc%3Aexample.org/%24ev%2F1%2B2?via=example.org"
        );
        // Room version 12: no server in the id, so the member's server is the via.
        assert_eq!(
            matrix_to_event("!Sy8Bc9x0fQ3kLm2nP4rT7uVw", "$e", "example.net"),
            "https://matrix.to/#/%21Sy8Bc9x0fQ3kLm2nP4rT7uVw/%24e?via=example.net"
        );
    }

    #[test]
    fn alert_has_no_text_unless_asked() {
        let rules = vec!["crisis: intent (strong)".to_owned()];
        let mut a = Alert {
            kind: AlertKind::Crisis { reply_sent: true },
            room_label: "#support:x",
            room_id: "!r:x",
            event_id: "$e",
            sender: "@bob:x",
            at_ms: 0,
            rules: &rules,
            text: None,
            in_dm: false,
        };
        let (plain, html) = compose(&a);
        for body in [&plain, &html] {
            assert!(body.contains("@bob:x") && body.contains("#support:x"));
            assert!(body.contains("1970-01-01 00:00:00 UTC"));
            assert!(body.contains("crisis: intent (strong)"));
            assert!(!body.contains("Text:") && !body.contains("blockquote"));
        }
        assert!(plain.contains(&matrix_to_event("!r:x", "$e", "x")));
        a.text = Some("I <can't> go on");
        let (plain, html) = compose(&a);
        assert!(plain.contains("Text: I <can't> go on"));
        assert!(
            html.contains("I &lt;can&#39;t&gt; go on") || html.contains("I &lt;can't&gt; go on")
        );
        a.kind = AlertKind::Crisis { reply_sent: false };
        let (plain, _) = compose(&a);
        assert!(plain.contains("could NOT send its crisis reply"), "{plain}");
        a.kind = AlertKind::CheckIn;
        a.text = None;
        let (plain, _) = compose(&a);
        assert!(plain.starts_with("Check-in suggested"), "{plain}");
        assert!(plain.contains("did not reply") && !plain.contains("crisis reply"));
    }

    #[test]
    fn rules_drop_the_matched_phrase() {
        let reasons = vec![
            "crisis: intent (strong) matched \"kill myself\"".to_owned(),
            "topic: dosing".to_owned(),
            "crisis: ignored idiom/context `killing it`".to_owned(),
        ];
        assert_eq!(
            crisis_rules(&reasons),
            vec!["crisis: intent (strong)".to_owned()]
        );
    }
}
