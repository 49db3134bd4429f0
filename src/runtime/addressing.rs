//! Should the bot answer this message? Pure: the caller extracts what matters from the Matrix
//! event (and does the look-ups, e.g. whether a replied-to event is the bot's), this decides.
//!
//! DMs are always answered; in group rooms the bot answers its command prefix or a mention (m.mentions,
//! a matrix.to pill, its name at the start of the message, a reply to one of its messages), or
//! everything in `all` mode. Anything else may still get the crisis reply (crisis watch), which the
//! caller decides after triage.
use crate::config::RoomMode;
use crate::moderation::commands::{self, Parsed};

/// The `msgtype` of an `m.room.message`, as far as addressing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgKind {
    Text,
    Emote,
    /// Other bots speak in notices; never answer them (also prevents bot loops).
    Notice,
    /// Images, files, locations...
    Other,
}

/// What addressing needs to know about one incoming message.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    pub sender: &'a str,
    pub kind: MsgKind,
    pub body: &'a str,
    pub formatted_body: Option<&'a str>,
    /// An `m.replace` edit of an earlier message.
    pub is_edit: bool,
    /// Carries a rich-reply relation (so it may carry a reply fallback).
    pub is_reply: bool,
    /// `m.mentions.user_ids`, `None` when the event has no `m.mentions`.
    pub mentions: Option<&'a [String]>,
    /// The replied-to event was sent by the bot.
    pub replies_to_bot: bool,
    /// The sender is on the account's or the config's ignore list.
    pub sender_ignored: bool,
}

/// Who the bot is.
#[derive(Debug, Clone)]
pub struct BotIdentity<'a> {
    pub user_id: &'a str,
    pub display_name: Option<&'a str>,
    pub prefix: &'a str,
}

/// The room the message arrived in.
#[derive(Debug, Clone, Copy)]
pub struct RoomView {
    pub is_dm: bool,
    pub mode: RoomMode,
    pub crisis_watch: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Dm,
    Prefix,
    Mention,
    ReplyToBot,
    AllMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoreReason {
    Own,
    Notice,
    NotText,
    Edit,
    IgnoredUser,
    NotAddressed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ignore(IgnoreReason),
    /// Addressed to the bot: triage `question` and answer.
    Answer {
        via: Via,
        question: String,
    },
    /// Not addressed, but crisis watch is on: triage `text` and answer only a crisis.
    CrisisWatch {
        text: String,
    },
    /// `!kratom <command>`: handled before (and instead of) triage, in every mode, so that a
    /// room set to `off` or paused can be switched back on.
    Command(Parsed),
}

pub fn decide(msg: &Message<'_>, bot: &BotIdentity<'_>, room: RoomView) -> Verdict {
    if msg.sender == bot.user_id {
        return Verdict::Ignore(IgnoreReason::Own);
    }
    match msg.kind {
        MsgKind::Notice => return Verdict::Ignore(IgnoreReason::Notice),
        MsgKind::Other => return Verdict::Ignore(IgnoreReason::NotText),
        MsgKind::Text | MsgKind::Emote => {}
    }
    // An edit is never a new question (that would answer twice), but a message edited into a
    // crisis statement must not go unseen: watch it where crisis watch applies (and in DMs).
    if msg.is_edit {
        return if room.crisis_watch || room.is_dm {
            Verdict::CrisisWatch {
                text: msg.body.trim().to_owned(),
            }
        } else {
            Verdict::Ignore(IgnoreReason::Edit)
        };
    }
    if msg.sender_ignored {
        return Verdict::Ignore(IgnoreReason::IgnoredUser);
    }
    let body = if msg.is_reply {
        strip_reply_fallback(msg.body)
    } else {
        msg.body
    };
    let body = body.trim();

    let watch = || {
        if room.crisis_watch {
            Verdict::CrisisWatch {
                text: body.to_owned(),
            }
        } else {
            Verdict::Ignore(IgnoreReason::NotAddressed)
        }
    };
    if let Some(parsed) = strip_prefix_word(body, bot.prefix).and_then(commands::parse) {
        return Verdict::Command(parsed);
    }
    if room.mode == RoomMode::Off {
        return watch();
    }
    // The prefix counts in DMs too, so `!kratom dosage` there is not triaged with the prefix in it.
    if let Some(rest) = strip_prefix_word(body, bot.prefix) {
        return Verdict::Answer {
            via: Via::Prefix,
            question: rest.trim().to_owned(),
        };
    }
    if room.is_dm {
        return Verdict::Answer {
            via: Via::Dm,
            question: strip_leading_name(body, bot).to_owned(),
        };
    }
    let mentioned = msg
        .mentions
        .is_some_and(|ids| ids.iter().any(|id| id == bot.user_id))
        || msg
            .formatted_body
            .is_some_and(|html| html_links_to(html, bot.user_id));
    if mentioned || starts_with_name(body, bot) {
        return Verdict::Answer {
            via: Via::Mention,
            question: strip_leading_name(body, bot).to_owned(),
        };
    }
    if msg.replies_to_bot {
        return Verdict::Answer {
            via: Via::ReplyToBot,
            question: body.to_owned(),
        };
    }
    if room.mode == RoomMode::All {
        return Verdict::Answer {
            via: Via::AllMode,
            question: body.to_owned(),
        };
    }
    watch()
}

/// Removes a rich-reply fallback (leading `> ` quote lines and the blank line after them).
/// Fallbacks left the spec in v1.13, but older clients still send them; triage must not read
/// the quoted message as part of the question.
pub fn strip_reply_fallback(body: &str) -> &str {
    let mut rest = body;
    let mut quoted = false;
    while rest.starts_with('>') {
        quoted = true;
        rest = rest.split_once('\n').map_or("", |(_, tail)| tail);
    }
    if !quoted {
        return body;
    }
    rest.strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))
        .unwrap_or(rest)
}

/// Removes the `<mx-reply>...</mx-reply>` block from a formatted body.
pub fn strip_html_reply_fallback(html: &str) -> String {
    match (html.find("<mx-reply>"), html.find("</mx-reply>")) {
        (Some(start), Some(end)) if end > start => {
            let mut out = String::with_capacity(html.len());
            out.push_str(&html[..start]);
            out.push_str(&html[end + "</mx-reply>".len()..]);
            out
        }
        _ => html.to_owned(),
    }
}

/// `!kratom dosage?` -> `Some(" dosage?")`; `!kratomx` -> `None`. Case-insensitive.
fn strip_prefix_word<'b>(body: &'b str, prefix: &str) -> Option<&'b str> {
    let head = body.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = &body[prefix.len()..];
    match rest.chars().next() {
        None => Some(rest),
        Some(c) if c.is_whitespace() || c == ':' || c == ',' => {
            Some(rest.trim_start_matches([':', ',']))
        }
        Some(_) => None,
    }
}

/// A matrix.to pill for the user (plain or percent-encoded) in HTML.
fn html_links_to(html: &str, user_id: &str) -> bool {
    let encoded = user_id.replace('@', "%40").replace(':', "%3A");
    let lower = html.to_ascii_lowercase();
    ["matrix.to/#/".to_owned()].iter().any(|base| {
        lower.contains(&format!("{base}{}", user_id.to_ascii_lowercase()))
            || lower.contains(&format!("{base}{}", encoded.to_ascii_lowercase()))
    })
}

/// Names the bot answers to at the start of a message: display name, localpart, full id.
/// Only at the start ("kratom-bot: is it legal?"): the name inside a sentence is too often just
/// talk about the bot, and a display name like "kratom" would match every conversation.
fn names<'b>(bot: &'b BotIdentity<'_>) -> impl Iterator<Item = &'b str> {
    let localpart = bot
        .user_id
        .strip_prefix('@')
        .and_then(|s| s.split(':').next());
    [Some(bot.user_id), bot.display_name, localpart]
        .into_iter()
        .flatten()
        .filter(|n| n.chars().count() >= 3)
}

fn name_len_at_start(body: &str, bot: &BotIdentity<'_>) -> Option<usize> {
    let at = usize::from(body.starts_with('@'));
    let text = &body[at..];
    names(bot)
        .map(|n| n.trim_start_matches('@'))
        .filter(|n| {
            text.get(..n.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(n))
                && text[n.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric() && c != '-' && c != '_')
        })
        .map(|n| at + n.len())
        .max()
}

fn starts_with_name(body: &str, bot: &BotIdentity<'_>) -> bool {
    name_len_at_start(body, bot).is_some()
}

/// "kratom-bot: how much?" -> "how much?" so the bot's name is not triaged as part of the question.
fn strip_leading_name<'b>(body: &'b str, bot: &BotIdentity<'_>) -> &'b str {
    match name_len_at_start(body, bot) {
        Some(n) => body[n..].trim_start_matches([':', ',', ' ', '\t']).trim(),
        None => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOT: BotIdentity<'static> = BotIdentity {
        user_id: "@kratom-bot:example.org",
        display_name: Some("Kratom Helper"),
        prefix: "!kratom",
    };
    const GROUP: RoomView = RoomView {
        is_dm: false,
        mode: RoomMode::Mention,
        crisis_watch: true,
    };
    const DM: RoomView = RoomView {
        is_dm: true,
        mode: RoomMode::Mention,
        crisis_watch: true,
    };

    fn msg(body: &str) -> Message<'_> {
        Message {
            sender: "@alice:example.org",
            kind: MsgKind::Text,
            body,
            formatted_body: None,
            is_edit: false,
            is_reply: false,
            mentions: None,
            replies_to_bot: false,
            sender_ignored: false,
        }
    }

    fn answer(v: Verdict) -> (Via, String) {
        match v {
            Verdict::Answer { via, question } => (via, question),
            other => panic!("expected an answer, got {other:?}"),
        }
    }

    #[test]
    fn dm_always_answered() {
        assert_eq!(
            answer(decide(&msg("is kratom legal?"), &BOT, DM)),
            (Via::Dm, "is kratom legal?".into())
        );
        let (via, q) = answer(decide(&msg("!kratom dosage"), &BOT, DM));
        assert_eq!((via, q.as_str()), (Via::Prefix, "dosage"));
    }

    #[test]
    fn prefix_in_group() {
        let (via, q) = answer(decide(&msg("!kratom  how much is too much?"), &BOT, GROUP));
        assert_eq!((via, q.as_str()), (Via::Prefix, "how much is too much?"));
        let (_, q) = answer(decide(&msg("!KRATOM: legal?"), &BOT, GROUP));
        assert_eq!(q, "legal?");
        assert!(matches!(
            decide(&msg("!kratomania"), &BOT, GROUP),
            Verdict::CrisisWatch { .. }
        ));
    }

    #[test]
    fn unaddressed_group_chatter_only_watched() {
        assert_eq!(
            decide(&msg("I like kratom tea"), &BOT, GROUP),
            Verdict::CrisisWatch {
                text: "I like kratom tea".into()
            }
        );
        let no_watch = RoomView {
            crisis_watch: false,
            ..GROUP
        };
        assert_eq!(
            decide(&msg("hi"), &BOT, no_watch),
            Verdict::Ignore(IgnoreReason::NotAddressed)
        );
    }

    #[test]
    fn mentions_by_m_mentions_pill_and_name() {
        let ids = vec!["@kratom-bot:example.org".to_owned()];
        let m = Message {
            mentions: Some(&ids),
            ..msg("Kratom Helper: what is kratom?")
        };
        assert_eq!(
            answer(decide(&m, &BOT, GROUP)),
            (Via::Mention, "what is kratom?".into())
        );

        let html = r#"<a href="https://matrix.to/#/%40kratom-bot%3Aexample.org">bot</a> hi"#;
        let m = Message {
            formatted_body: Some(html),
            ..msg("bot hi")
        };
        assert_eq!(answer(decide(&m, &BOT, GROUP)).0, Via::Mention);

        assert_eq!(
            answer(decide(&msg("kratom-bot, withdrawal?"), &BOT, GROUP)).1,
            "withdrawal?"
        );
        assert_eq!(
            answer(decide(&msg("@kratom-bot:example.org hi"), &BOT, GROUP)).1,
            "hi"
        );
        // The name inside a sentence, or as part of a longer word, is not a mention.
        assert!(matches!(
            decide(&msg("ask kratom-bot later"), &BOT, GROUP),
            Verdict::CrisisWatch { .. }
        ));
        assert!(matches!(
            decide(&msg("kratom-botany"), &BOT, GROUP),
            Verdict::CrisisWatch { .. }
        ));
        // Mentions of someone else are not mentions of the bot.
        let others = vec!["@bob:example.org".to_owned()];
        let m = Message {
            mentions: Some(&others),
            ..msg("bob: hi")
        };
        assert!(matches!(
            decide(&m, &BOT, GROUP),
            Verdict::CrisisWatch { .. }
        ));
    }

    #[test]
    fn reply_to_bot_is_addressed_and_fallback_stripped() {
        let m = Message {
            is_reply: true,
            replies_to_bot: true,
            ..msg("> <@kratom-bot:example.org> Kratom is...\n> more\n\nand the dose?")
        };
        assert_eq!(
            answer(decide(&m, &BOT, GROUP)),
            (Via::ReplyToBot, "and the dose?".into())
        );
    }

    #[test]
    fn ignored_kinds() {
        let own = Message {
            sender: BOT.user_id,
            ..msg("!kratom hi")
        };
        assert_eq!(decide(&own, &BOT, DM), Verdict::Ignore(IgnoreReason::Own));
        let notice = Message {
            kind: MsgKind::Notice,
            ..msg("!kratom hi")
        };
        assert_eq!(
            decide(&notice, &BOT, DM),
            Verdict::Ignore(IgnoreReason::Notice)
        );
        let edit = Message {
            is_edit: true,
            ..msg("!kratom hi")
        };
        // Watched (never answered as a question), where crisis watch applies and in DMs.
        assert!(matches!(
            decide(&edit, &BOT, DM),
            Verdict::CrisisWatch { .. }
        ));
        let unwatched = RoomView {
            is_dm: false,
            mode: RoomMode::All,
            crisis_watch: false,
        };
        assert_eq!(
            decide(&edit, &BOT, unwatched),
            Verdict::Ignore(IgnoreReason::Edit)
        );
        let ignored = Message {
            sender_ignored: true,
            ..msg("!kratom hi")
        };
        assert_eq!(
            decide(&ignored, &BOT, DM),
            Verdict::Ignore(IgnoreReason::IgnoredUser)
        );
        let image = Message {
            kind: MsgKind::Other,
            ..msg("photo.jpg")
        };
        assert_eq!(
            decide(&image, &BOT, DM),
            Verdict::Ignore(IgnoreReason::NotText)
        );
    }

    #[test]
    fn modes() {
        let all = RoomView {
            mode: RoomMode::All,
            ..GROUP
        };
        assert_eq!(answer(decide(&msg("anyone?"), &BOT, all)).0, Via::AllMode);
        let off = RoomView {
            mode: RoomMode::Off,
            ..DM
        };
        assert!(matches!(
            decide(&msg("!kratom hi"), &BOT, off),
            Verdict::CrisisWatch { .. }
        ));
        let off_quiet = RoomView {
            crisis_watch: false,
            ..off
        };
        assert_eq!(
            decide(&msg("hi"), &BOT, off_quiet),
            Verdict::Ignore(IgnoreReason::NotAddressed)
        );
    }

    #[test]
    fn fallback_stripping() {
        assert_eq!(strip_reply_fallback("> <@a:x> quoted\n\nreal"), "real");
        assert_eq!(strip_reply_fallback("> only quote"), "");
        assert_eq!(
            strip_reply_fallback("no quote\n> later"),
            "no quote\n> later"
        );
        assert_eq!(strip_reply_fallback(">a\n>b\nc"), "c");
        assert_eq!(
            strip_html_reply_fallback("<mx-reply><blockquote>q</blockquote></mx-reply>answer"),
            "answer"
        );
        assert_eq!(
            strip_html_reply_fallback("plain <b>html</b>"),
            "plain <b>html</b>"
        );
    }

    #[test]
    fn commands_come_before_mode_and_questions() {
        let group_off = RoomView {
            is_dm: false,
            mode: RoomMode::Off,
            crisis_watch: true,
        };
        let cmd = msg("!kratom mode all");
        assert_eq!(
            decide(&cmd, &BOT, group_off),
            Verdict::Command(Parsed::Command(commands::Command::Mode(RoomMode::All)))
        );
        let question = msg("!kratom is it legal?");
        assert!(matches!(
            decide(&question, &BOT, group_off),
            Verdict::CrisisWatch { .. }
        ));
    }
}
