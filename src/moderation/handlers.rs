//! Executing a parsed command: permission check, the action, the audit entry, and the text to
//! answer with. Matrix-free: the runtime gathers the facts ([`Ctx`]) and carries out the
//! [`Outcome`] (send a notice, post a template to a message, swap the engine).
use super::commands::{self, Command, Parsed, Scope};
use super::permissions::{self, Asker, PowerLevel};
use crate::config::{Config, RoomMode};
use crate::diagnostics::ContentErrors;
use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::store::{AuditEntry, Counter, RoomSetting, Store};

/// What the runtime knows about the command message.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub config: &'a Config,
    pub store: &'a Store,
    /// Live counters (`/metrics`), fed alongside the daily ones in the store.
    pub metrics: &'a Metrics,
    pub engine: &'a Engine,
    pub room_id: &'a str,
    pub event_id: &'a str,
    pub sender: &'a str,
    pub in_dm: bool,
    pub in_management_room: bool,
    pub power: Option<PowerLevel>,
    /// The message the command replies to, if any (for `answer`).
    pub reply_to: Option<&'a str>,
    /// The region answers in this room use (for `preview`).
    pub region: &'a str,
    pub now_ms: i64,
}

/// A notice to send: plain text and HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub plain: String,
    pub html: String,
}

impl Text {
    fn plain(s: impl Into<String>) -> Text {
        let plain = s.into();
        let html = escape(&plain).replace('\n', "<br>");
        Text { plain, html }
    }
}

#[derive(Debug)]
pub enum Outcome {
    /// Reply to the command with this.
    Notice(Text),
    /// Post a vetted template as a reply to `target` (`answer`).
    PostToTarget {
        target: String,
        text: Text,
        topic: String,
        template_id: String,
    },
    /// Re-read the library (slow: the runtime does it off the async threads), then report it
    /// with [`finish_reload`].
    Reload,
}

fn escape(s: &str) -> String {
    let mut out = String::new();
    let _ = pulldown_cmark_escape::escape_html(&mut out, s);
    out
}

fn audit(ctx: &Ctx<'_>, action: &str, topic: Option<&str>, template_id: Option<&str>) {
    let entry = AuditEntry {
        at_ms: ctx.now_ms,
        room_id: ctx.room_id.to_owned(),
        event_id: ctx.event_id.to_owned(),
        action: action.to_owned(),
        topic: topic.map(str::to_owned),
        template_id: template_id.map(str::to_owned),
        actor: ctx.sender.to_owned(),
    };
    if let Err(e) = ctx.store.audit(&entry) {
        tracing::error!(error = %e, action, "cannot write the audit log");
    }
}

fn count(ctx: &Ctx<'_>, counter: Counter, topic: Option<&str>) {
    ctx.metrics.record(counter, topic);
    if let Err(e) = ctx.store.count(counter, topic, ctx.now_ms) {
        tracing::warn!(error = %e, "cannot update a counter");
    }
}

/// Runs a parsed command.
pub fn execute(ctx: &Ctx<'_>, parsed: Parsed) -> Outcome {
    let prefix = &ctx.config.bot.command_prefix;
    let cmd = match parsed {
        Parsed::Usage(u) => return Outcome::Notice(Text::plain(format!("Usage: {prefix} {u}"))),
        Parsed::Command(c) => c,
    };
    let scope = cmd.scope(ctx.in_dm);
    let asker = Asker {
        user_id: ctx.sender,
        in_management_room: ctx.in_management_room,
        in_dm: ctx.in_dm,
        power: ctx.power,
    };
    if let Err(refusal) = permissions::check(&ctx.config.moderation, scope, &asker) {
        audit(
            ctx,
            &format!("refused:{}", cmd.name()),
            None,
            cmd.template_id(),
        );
        count(ctx, Counter::Refusal, None);
        tracing::info!(room = %ctx.room_id, actor = %ctx.sender, command = cmd.name(), ?refusal, "command refused");
        return Outcome::Notice(Text::plain(refusal.message()));
    }
    if scope != Scope::Everyone {
        audit(ctx, cmd.name(), None, cmd.template_id());
    }
    run(ctx, cmd)
}

fn run(ctx: &Ctx<'_>, cmd: Command) -> Outcome {
    let notice = |s: String| Outcome::Notice(Text::plain(s));
    let library = ctx.engine.library();
    match cmd {
        Command::Help => notice(format!(
            "Commands (write them after {p}; anything else after {p} is a question):\n{}",
            commands::help_text(&ctx.config.bot.command_prefix),
            p = ctx.config.bot.command_prefix
        )),
        Command::Topics => {
            let lines: Vec<String> = library
                .catalog
                .topics
                .iter()
                .map(|t| format!("{} ({}): {}", t.name, t.id, t.description))
                .collect();
            notice(format!("Topics:\n{}", lines.join("\n")))
        }
        Command::Sources(id) => match library.template(&id) {
            None => notice(unknown_template(&id)),
            Some(t) if t.sources.is_empty() => notice(format!("{id} cites no sources.")),
            Some(t) => {
                let lines: Vec<String> = t
                    .sources
                    .iter()
                    .map(|s| {
                        let by = s.by();
                        let mut line = format!("- {}", s.title);
                        if !by.is_empty() {
                            line.push_str(&format!(" ({by}, {})", s.year));
                        } else {
                            line.push_str(&format!(" ({})", s.year));
                        }
                        if let Some(link) = s.link() {
                            line.push_str(&format!(" {link}"));
                        }
                        line
                    })
                    .collect();
                notice(format!("Sources for {id}:\n{}", lines.join("\n")))
            }
        },
        Command::Region(code) => {
            let Some(region) = library.resources.region(&code).map(str::to_owned) else {
                let known: Vec<&str> = library.resources.regions().map(|(c, _)| c).collect();
                return notice(format!(
                    "Unknown region {code}. Known regions: {}",
                    known.join(", ")
                ));
            };
            if ctx.in_dm {
                match ctx.store.set_user_region(ctx.sender, &region) {
                    Ok(()) => notice(format!(
                        "Your region is now {region}: help lines in my answers to you are for {region}."
                    )),
                    Err(e) => store_failed(&e),
                }
            } else {
                set_room(ctx, RoomSetting::Region(region.clone()), format!("This room's region is now {region}."))
            }
        }
        Command::Answer(id) => {
            let Some(target) = ctx.reply_to else {
                return notice(format!(
                    "Send `{} answer {id}` as a reply to the message it answers.",
                    ctx.config.bot.command_prefix
                ));
            };
            let Some(t) = library.template(&id) else {
                return notice(unknown_template(&id));
            };
            let Some(r) = ctx.engine.render_template(&id, ctx.region) else {
                return notice(unknown_template(&id));
            };
            audit(ctx, "answer-posted", Some(&t.topic), Some(&id));
            Outcome::PostToTarget {
                target: target.to_owned(),
                text: Text {
                    plain: r.plain,
                    html: r.html,
                },
                topic: t.topic.clone(),
                template_id: id,
            }
        }
        Command::Explain(text) => {
            let d = ctx.engine.decide(&text);
            let mut flags = Vec::new();
            for (on, name) in [
                (d.crisis, "crisis"),
                (d.emergency, "emergency"),
                (d.mental_health, "mental health"),
                (d.truncated, "truncated"),
            ] {
                if on {
                    flags.push(name);
                }
            }
            let flags = if flags.is_empty() {
                "none".to_owned()
            } else {
                flags.join(", ")
            };
            notice(format!(
                "Topic: {}\nTemplate: {}\nScore: {:.2}\nFlags: {flags}\nReasons:\n{}",
                d.topic,
                d.template_id,
                d.score,
                d.reasons
                    .iter()
                    .map(|r| format!("- {r}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ))
        }
        Command::Preview(id) => match ctx.engine.render_template(&id, ctx.region) {
            None => notice(unknown_template(&id)),
            Some(r) => Outcome::Notice(Text {
                plain: format!("Preview of {id} (region {}):\n\n{}", ctx.region, r.plain),
                html: format!(
                    "<p>Preview of <code>{}</code> (region {}):</p>{}",
                    escape(&id),
                    escape(ctx.region),
                    r.html
                ),
            }),
        },
        Command::Reload => Outcome::Reload,
        Command::Pause => set_room(
            ctx,
            RoomSetting::Paused(true),
            format!(
                "Paused in this room: I answer nothing here until `{} resume` (crisis replies follow crisis-watch).",
                ctx.config.bot.command_prefix
            ),
        ),
        Command::Resume => set_room(ctx, RoomSetting::Paused(false), "Resumed in this room.".into()),
        Command::Mode(mode) => {
            let name = mode_name(mode);
            set_room(ctx, RoomSetting::Mode(name.into()), format!("This room's mode is now {name}."))
        }
        Command::CrisisWatch(on) => set_room(
            ctx,
            RoomSetting::CrisisWatch(on),
            format!("Crisis watch is now {} in this room.", if on { "on" } else { "off" }),
        ),
        Command::Stats(days) => match ctx.store.stats(days, ctx.now_ms) {
            Err(e) => store_failed(&e),
            Ok(s) => {
                let total: i64 = s.answers.iter().map(|(_, n)| n).sum();
                let by_topic = s
                    .answers
                    .iter()
                    .map(|(t, n)| format!("{t} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                notice(format!(
                    "Last {days} day{s_}:\nAnswers: {total}{by}\nCrisis replies: {}\nAlerts: {}\nRate-limited drops: {}\nRefusals: {}",
                    s.crisis_replies,
                    s.alerts,
                    s.rate_limited,
                    s.refusals,
                    s_ = if days == 1 { "" } else { "s" },
                    by = if by_topic.is_empty() { String::new() } else { format!(" ({by_topic})") },
                ))
            }
        },
    }
}

pub fn mode_name(mode: RoomMode) -> &'static str {
    match mode {
        RoomMode::Mention => "mention",
        RoomMode::All => "all",
        RoomMode::Off => "off",
    }
}

pub fn parse_mode(s: &str) -> Option<RoomMode> {
    match s {
        "mention" => Some(RoomMode::Mention),
        "all" => Some(RoomMode::All),
        "off" => Some(RoomMode::Off),
        _ => None,
    }
}

fn set_room(ctx: &Ctx<'_>, setting: RoomSetting, done: String) -> Outcome {
    match ctx.store.set_room_setting(ctx.room_id, &setting) {
        Ok(()) => Outcome::Notice(Text::plain(done)),
        Err(e) => store_failed(&e),
    }
}

fn store_failed(e: &crate::store::StoreError) -> Outcome {
    tracing::error!(error = %e, "command could not be saved");
    Outcome::Notice(Text::plain(
        "Sorry, I could not save that (database error).",
    ))
}

fn unknown_template(id: &str) -> String {
    format!("No template with id {id}. `topics` lists the topics; template ids are in responses/templates.")
}

/// Reports a reload: on success returns the new engine to swap in; on failure keeps the old one
/// and lists every problem (file:line).
pub fn finish_reload(
    ctx: &Ctx<'_>,
    result: Result<Engine, ContentErrors>,
) -> (Option<Engine>, Text) {
    match result {
        Ok(engine) => {
            audit(ctx, "reload-ok", None, None);
            let n = engine.library().templates().len();
            let warnings = engine.warnings().len();
            let text = Text::plain(format!(
                "Reloaded: {n} templates{}.",
                if warnings == 0 {
                    String::new()
                } else {
                    format!(", {warnings} warnings")
                }
            ));
            (Some(engine), text)
        }
        Err(errors) => {
            audit(ctx, "reload-failed", None, None);
            const SHOWN: usize = 20;
            let problems: Vec<String> = errors
                .0
                .iter()
                .filter(|p| p.is_error())
                .map(ToString::to_string)
                .collect();
            let mut lines: Vec<String> = problems
                .iter()
                .take(SHOWN)
                .map(|p| format!("- {p}"))
                .collect();
            if problems.len() > SHOWN {
                lines.push(format!("- ... and {} more", problems.len() - SHOWN));
            }
            let text = Text::plain(format!(
                "Reload failed: still serving the previous library. {} error{}:\n{}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                lines.join("\n")
            ));
            (None, text)
        }
    }
}
