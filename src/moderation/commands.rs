//! `!kratom <command> ...`: parsing only. The runtime strips the prefix; this turns the rest into
//! a [`Command`], a usage line for bad arguments, or nothing (then the text is a question, as in
//! `!kratom is it legal?`). Template ids are names (`legality-us-federal`), never paths.
use crate::config::RoomMode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Topics,
    Sources(String),
    /// In a DM: the asker's own region. In a group room: the room's region (moderators).
    Region(String),
    /// Sent as a reply: post this template as a reply to the replied-to message.
    Answer(String),
    Explain(String),
    Preview(String),
    Reload,
    Pause,
    Resume,
    Mode(RoomMode),
    CrisisWatch(bool),
    /// Counters over the last N days.
    Stats(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Command(Command),
    /// A known command with bad arguments: the usage line to show.
    Usage(&'static str),
}

/// Who may give a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Everyone,
    /// Moderators of the room it is given in.
    Room,
    /// Affects the whole bot: the management room or bot admins only.
    Bot,
}

/// Every command with its usage and one line of help, in the order `help` lists them.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    ("help", "help", "this list"),
    ("topics", "topics", "the topics the bot can answer"),
    (
        "sources",
        "sources <template-id>",
        "the sources behind a template",
    ),
    (
        "region",
        "region <code>",
        "in a DM: your region for help lines; in a room (moderators): the room's",
    ),
    (
        "answer",
        "answer <template-id>",
        "moderators, as a reply to a message: answer it with that template",
    ),
    (
        "explain",
        "explain <text>",
        "moderators: the triage decision for a text and why",
    ),
    (
        "preview",
        "preview <template-id>",
        "moderators: show a template as it would be posted",
    ),
    (
        "reload",
        "reload",
        "management room or bot admins: re-read the responses (refused, old ones kept, if the new ones have errors)",
    ),
    ("pause", "pause", "moderators: stop answering in this room"),
    ("resume", "resume", "moderators: answer again in this room"),
    (
        "mode",
        "mode mention|all|off",
        "moderators: what the bot answers in this room",
    ),
    (
        "crisis-watch",
        "crisis-watch on|off",
        "moderators: crisis replies to unaddressed messages in this room",
    ),
    (
        "stats",
        "stats [days]",
        "management room or bot admins: answers by topic, crisis replies, alerts, drops, refusals",
    ),
];

/// `stats` without a number covers this many days.
pub const DEFAULT_STATS_DAYS: u32 = 7;
const MAX_STATS_DAYS: u32 = 3650;
const MAX_TEMPLATE_ID: usize = 100;

/// The usage line of a command name (as listed in [`COMMANDS`]).
pub fn usage(name: &str) -> &'static str {
    COMMANDS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map_or("help", |(_, u, _)| u)
}

/// Parses what follows the prefix. `None`: not a command (a question for triage).
pub fn parse(rest: &str) -> Option<Parsed> {
    let rest = rest.trim();
    let (word, args) = match rest.split_once(char::is_whitespace) {
        Some((w, a)) => (w, a.trim()),
        None => (rest, ""),
    };
    let name = word.to_ascii_lowercase();
    let (canonical, _, _) = COMMANDS.iter().find(|(n, _, _)| *n == name)?;
    // "help me", "answer me this: ..." are people talking, not commands: triage must see them.
    if matches!(*canonical, "help" | "answer") && args.contains(char::is_whitespace)
        || *canonical == "help" && !args.is_empty()
    {
        return None;
    }
    let bad = || Some(Parsed::Usage(usage(canonical)));
    let no_args = |c: Command| {
        if args.is_empty() {
            Some(Parsed::Command(c))
        } else {
            bad()
        }
    };
    let template = |make: fn(String) -> Command| match template_id(args) {
        Some(id) => Some(Parsed::Command(make(id))),
        None => bad(),
    };
    match *canonical {
        "help" => no_args(Command::Help),
        "topics" => no_args(Command::Topics),
        "reload" => no_args(Command::Reload),
        "pause" => no_args(Command::Pause),
        "resume" => no_args(Command::Resume),
        "sources" => template(Command::Sources),
        "answer" => template(Command::Answer),
        "preview" => template(Command::Preview),
        "region" => {
            let ok =
                (2..=16).contains(&args.len()) && args.chars().all(|c| c.is_ascii_alphabetic());
            if ok {
                Some(Parsed::Command(Command::Region(args.to_ascii_uppercase())))
            } else {
                bad()
            }
        }
        "explain" if !args.is_empty() => Some(Parsed::Command(Command::Explain(args.to_owned()))),
        "mode" => match args.to_ascii_lowercase().as_str() {
            "mention" => Some(Parsed::Command(Command::Mode(RoomMode::Mention))),
            "all" => Some(Parsed::Command(Command::Mode(RoomMode::All))),
            "off" => Some(Parsed::Command(Command::Mode(RoomMode::Off))),
            _ => bad(),
        },
        "crisis-watch" => match args.to_ascii_lowercase().as_str() {
            "on" => Some(Parsed::Command(Command::CrisisWatch(true))),
            "off" => Some(Parsed::Command(Command::CrisisWatch(false))),
            _ => bad(),
        },
        "stats" if args.is_empty() => Some(Parsed::Command(Command::Stats(DEFAULT_STATS_DAYS))),
        "stats" => match args.parse::<u32>() {
            Ok(d) if (1..=MAX_STATS_DAYS).contains(&d) => Some(Parsed::Command(Command::Stats(d))),
            _ => bad(),
        },
        _ => bad(),
    }
}

/// A template id: lowercase letters, digits and hyphens, as in the library. Rejecting everything
/// else means an id can never name a file (`../`, `/etc/passwd`, `x.md`).
fn template_id(args: &str) -> Option<String> {
    let ok = !args.is_empty()
        && args.len() <= MAX_TEMPLATE_ID
        && !args.starts_with('-')
        && args
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    ok.then(|| args.to_owned())
}

impl Command {
    /// The name as typed (for the audit log).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Help => "help",
            Command::Topics => "topics",
            Command::Sources(_) => "sources",
            Command::Region(_) => "region",
            Command::Answer(_) => "answer",
            Command::Explain(_) => "explain",
            Command::Preview(_) => "preview",
            Command::Reload => "reload",
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::Mode(_) => "mode",
            Command::CrisisWatch(_) => "crisis-watch",
            Command::Stats(_) => "stats",
        }
    }

    /// Who may give it; `region` is everyone's in a DM (their own) and moderators' in a room.
    pub fn scope(&self, in_dm: bool) -> Scope {
        match self {
            Command::Help | Command::Topics | Command::Sources(_) => Scope::Everyone,
            Command::Region(_) if in_dm => Scope::Everyone,
            Command::Reload | Command::Stats(_) => Scope::Bot,
            _ => Scope::Room,
        }
    }

    /// The template it names, if any (for the audit log).
    pub fn template_id(&self) -> Option<&str> {
        match self {
            Command::Sources(id) | Command::Answer(id) | Command::Preview(id) => Some(id),
            _ => None,
        }
    }
}

/// `help`: one line per command.
pub fn help_text(prefix: &str) -> String {
    COMMANDS
        .iter()
        .map(|(_, usage, line)| format!("{prefix} {usage} - {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> Command {
        match parse(s) {
            Some(Parsed::Command(c)) => c,
            other => panic!("{s:?} should parse as a command, got {other:?}"),
        }
    }

    fn usage_of(s: &str) -> &'static str {
        match parse(s) {
            Some(Parsed::Usage(u)) => u,
            other => panic!("{s:?} should be a usage error, got {other:?}"),
        }
    }

    #[test]
    fn commands_parse_with_their_arguments() {
        assert_eq!(cmd("help"), Command::Help);
        assert_eq!(cmd("  HELP "), Command::Help);
        assert_eq!(cmd("topics"), Command::Topics);
        assert_eq!(
            cmd("sources legality-us-federal"),
            Command::Sources("legality-us-federal".into())
        );
        assert_eq!(cmd("region gb"), Command::Region("GB".into()));
        assert_eq!(
            cmd("answer dosing-basics"),
            Command::Answer("dosing-basics".into())
        );
        assert_eq!(
            cmd("explain is kratom legal?"),
            Command::Explain("is kratom legal?".into())
        );
        assert_eq!(
            cmd("preview what-is-kratom"),
            Command::Preview("what-is-kratom".into())
        );
        assert_eq!(cmd("reload"), Command::Reload);
        assert_eq!(cmd("pause"), Command::Pause);
        assert_eq!(cmd("resume"), Command::Resume);
        assert_eq!(cmd("mode all"), Command::Mode(RoomMode::All));
        assert_eq!(cmd("mode OFF"), Command::Mode(RoomMode::Off));
        assert_eq!(cmd("mode mention"), Command::Mode(RoomMode::Mention));
        assert_eq!(cmd("crisis-watch off"), Command::CrisisWatch(false));
        assert_eq!(cmd("crisis-watch on"), Command::CrisisWatch(true));
        assert_eq!(cmd("stats"), Command::Stats(DEFAULT_STATS_DAYS));
        assert_eq!(cmd("stats 30"), Command::Stats(30));
    }

    #[test]
    fn bad_arguments_get_the_usage_line() {
        assert_eq!(usage_of("mode loud"), "mode mention|all|off");
        assert_eq!(usage_of("mode"), "mode mention|all|off");
        assert_eq!(usage_of("crisis-watch maybe"), "crisis-watch on|off");
        assert_eq!(usage_of("stats 0"), "stats [days]");
        assert_eq!(usage_of("stats -3"), "stats [days]");
        assert_eq!(usage_of("stats lots"), "stats [days]");
        assert_eq!(usage_of("reload now"), "reload");
        assert_eq!(usage_of("explain"), "explain <text>");
        assert_eq!(usage_of("region"), "region <code>");
        assert_eq!(usage_of("region U5"), "region <code>");
        assert_eq!(usage_of("answer"), "answer <template-id>");
        assert_eq!(usage_of("answer ../x"), "answer <template-id>");
    }

    #[test]
    fn a_template_id_is_a_name_never_a_path() {
        for bad in [
            "../../etc/passwd",
            "/etc/passwd",
            "legality/us",
            "dosing.md",
            "..",
            "C:\\x",
            "-rf",
            "Legality",
        ] {
            assert_eq!(
                parse(&format!("preview {bad}")),
                Some(Parsed::Usage("preview <template-id>")),
                "{bad}"
            );
            assert_eq!(
                parse(&format!("sources {bad}")),
                Some(Parsed::Usage("sources <template-id>")),
                "{bad}"
            );
        }
    }

    #[test]
    fn questions_are_not_commands() {
        assert_eq!(parse("is kratom legal in the US?"), None);
        assert_eq!(parse("how much should I take"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("helpful tips?"), None);
        assert_eq!(parse("help me please, I'm scared"), None);
        assert_eq!(parse("help me"), None);
        assert_eq!(parse("answer me this: is it legal?"), None);
    }

    #[test]
    fn scopes() {
        assert_eq!(Command::Help.scope(false), Scope::Everyone);
        assert_eq!(Command::Region("UK".into()).scope(true), Scope::Everyone);
        assert_eq!(Command::Region("UK".into()).scope(false), Scope::Room);
        assert_eq!(Command::Reload.scope(false), Scope::Bot);
        assert_eq!(Command::Stats(7).scope(true), Scope::Bot);
        assert_eq!(Command::Answer("x".into()).scope(false), Scope::Room);
        assert_eq!(Command::Pause.scope(false), Scope::Room);
    }

    #[test]
    fn help_lists_every_command_on_one_line() {
        let h = help_text("!kratom");
        assert_eq!(h.lines().count(), COMMANDS.len());
        assert!(h.contains("!kratom crisis-watch on|off - "));
    }
}
