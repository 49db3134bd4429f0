//! The Matrix runtime: the only part of kratom-bot that knows about Matrix.
//!
//! One job per file: `session` (login once, restore), `encryption` (identity, late room keys),
//! `sync` (the hand-driven sync loop), `catch_up` (messages sent while the bot was down),
//! `invites` (join, leave when alone), `addressing` (should we answer? pure), `rate_limit` (pure),
//! `reply` (build and send the answer), `moderation` (carry out moderator commands and crisis
//! alerts; the decisions are in `crate::moderation`). This file holds [`Bot`], the state they share, and the
//! per-message flow: event -> addressed? -> triage -> rate limit -> reply -> record.
use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use arc_swap::ArcSwap;
use matrix_sdk::config::SyncSettings;
use matrix_sdk::ruma::events::room::message::{
    MessageType, OriginalSyncRoomMessageEvent, Relation,
};
use matrix_sdk::ruma::events::room::redaction::SyncRoomRedactionEvent;
use matrix_sdk::ruma::events::{
    AnySyncMessageLikeEvent, AnySyncTimelineEvent, SyncMessageLikeEvent,
};
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{EventId, OwnedRoomId, OwnedUserId};
use matrix_sdk::{Client, Room};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Config, RoomSettings};
use crate::engine::Engine;
use crate::metrics;
use crate::moderation::alerts::{AlertKind, AlertThrottle};
use crate::moderation::handlers;
use crate::store::{Counter, Store};
use crate::triage::model_cache::ModelCache;

pub mod addressing;
mod catch_up;
pub mod cli;
mod encryption;
mod http;
mod invites;
mod moderation;
pub mod rate_limit;
mod reply;
mod rooms;
mod session;
mod sync;

use addressing::{BotIdentity, Message, MsgKind, RoomView, Verdict};
use rate_limit::{Admission, RateLimiter};

/// How an event reached the bot (logged, so operators can see catch-up and late keys at work).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Live,
    /// The first sync after a restart, or a backfilled gap.
    CatchUp,
    /// Decrypted after its room key arrived late.
    LateKey,
}

/// Whether a message is too old to answer. Live messages are always answered: the window is for
/// catching up after a restart or a gap (and late keys), and a sender's clock (or federation
/// delay) must never silence a live crisis message. The age comes from the homeserver's
/// `unsigned.age` when it sent one, else from the sender's timestamp.
fn too_old(
    origin: Origin,
    origin_ts: i64,
    unsigned_age: Option<i64>,
    now: i64,
    window: i64,
) -> bool {
    if origin == Origin::Live {
        return false;
    }
    unsigned_age.unwrap_or(now - origin_ts) > window
}

/// Sends in flight at once across all rooms (each attempt takes a slot; waits do not).
const SENDS_IN_FLIGHT: usize = 4;

/// Triage reads at most this much of a message (the engine also caps; this keeps copies small).
const MAX_TRIAGE_BYTES: usize = 8 * 1024;

/// State shared by the runtime's tasks.
pub struct Bot {
    pub(crate) client: Client,
    pub(crate) config: Config,
    /// Swappable so a moderator `reload` can replace the library without a restart.
    engine: ArcSwap<Engine>,
    pub(crate) store: Store,
    limiter: Mutex<RateLimiter>,
    user_id: OwnedUserId,
    display_name: Option<String>,
    /// Rooms with a join in progress.
    pub(crate) joining: Mutex<HashSet<OwnedRoomId>>,
    /// Joins under way at once (an invite flood must not become a flood of requests).
    pub(crate) join_slots: tokio::sync::Semaphore,
    /// One crisis alert per person per window.
    alerts: Mutex<AlertThrottle>,
    /// One check-in suggestion per person per window (separate, so it never delays a crisis alert).
    check_ins: Mutex<AlertThrottle>,
    /// The management room once its alias is resolved (or its id, as configured).
    management_room: tokio::sync::Mutex<Option<OwnedRoomId>>,
    /// Live counters for `/metrics` (the daily ones in the store feed it too).
    pub(crate) metrics: Arc<metrics::Metrics>,
    /// One worker per active room (see `rooms`).
    workers: rooms::Workers,
    /// Sends in flight at once across all rooms, so a flood in one room cannot push the bot into
    /// the homeserver's 429s for everyone.
    pub(crate) send_slots: tokio::sync::Semaphore,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Bot {
    pub fn engine(&self) -> Arc<Engine> {
        self.engine.load_full()
    }

    /// Replaces the engine (moderator `reload`); answers in progress finish with the old one.
    pub fn swap_engine(&self, engine: Engine) {
        self.engine.store(Arc::new(engine));
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Handles one timeline event (already decrypted, if it was encrypted and could be).
    /// Returns false when it must be tried again later (its reply could not be sent, or the bot
    /// database was unavailable); true when it is done with, answered or not.
    pub(crate) async fn handle_timeline_event(
        &self,
        room: &Room,
        raw: &Raw<AnySyncTimelineEvent>,
        origin: Origin,
    ) -> bool {
        let ev = match raw.deserialize() {
            Ok(AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomMessage(
                SyncMessageLikeEvent::Original(ev),
            ))) => ev,
            Ok(AnySyncTimelineEvent::MessageLike(AnySyncMessageLikeEvent::RoomRedaction(
                SyncRoomRedactionEvent::Original(r),
            ))) => {
                if let Some(target) = r.redacts.as_deref().or(r.content.redacts.as_deref()) {
                    self.withdraw_reply(room, target).await;
                }
                return true;
            }
            _ => return true,
        };
        let ts: i64 = ev.origin_server_ts.0.into();
        let age = ev.unsigned.age.map(i64::from);
        let window = self.config.catch_up_window().as_millis() as i64;
        if too_old(origin, ts, age, now_ms(), window) {
            tracing::debug!(event = %ev.event_id, "older than the catch-up window; not answered");
            return true;
        }
        let room_id = room.room_id().as_str();
        match self.store.is_answered(room_id, ev.event_id.as_str()) {
            Ok(false) => {}
            Ok(true) => return true,
            Err(e) => {
                // Without the record we cannot promise exactly-once: better silent than twice
                // (the inbox keeps the event for a later try).
                tracing::error!(error = %e, "bot database unavailable; not answering");
                return false;
            }
        }
        // Only a room worker calls this, and an event is queued to one worker at a time
        // (`rooms::Workers::queued`): no two answers to one event run at once.
        let done = self.answer(room, &ev, origin).await;
        if let Err(e) = self
            .store
            .advance_room_cursor(room_id, ev.event_id.as_str(), ts)
        {
            tracing::warn!(error = %e, "cannot record the room cursor");
        }
        done
    }

    /// The room's settings: moderator commands (stored) over the config file over defaults. A
    /// paused room answers like mode `off`.
    pub fn room_settings(&self, room_id: &str) -> RoomSettings {
        let mut s = self.config.room_settings(room_id);
        match self.store.room_settings(room_id) {
            Ok(stored) => {
                if let Some(mode) = stored.mode.as_deref().and_then(handlers::parse_mode) {
                    s.mode = mode;
                }
                if let Some(region) = stored.region {
                    s.region = region;
                }
                if let Some(watch) = stored.crisis_watch {
                    s.crisis_watch = watch;
                }
                if stored.paused {
                    s.mode = crate::config::RoomMode::Off;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read stored room settings; using the config")
            }
        }
        s
    }

    /// When a question is redacted, its answer goes too: a reply left under a removed message
    /// still says what the person asked about (a crisis reply most of all).
    async fn withdraw_reply(&self, room: &Room, question: &EventId) {
        let reply = match self
            .store
            .reply_to(room.room_id().as_str(), question.as_str())
        {
            Ok(Some(reply)) => reply,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot look up the reply to a redacted message");
                return;
            }
        };
        let Ok(reply) = EventId::parse(&reply) else {
            return;
        };
        match room
            .redact(&reply, Some("the question was removed"), None)
            .await
        {
            Ok(_) => {
                tracing::info!(room = %room.room_id(), question = %question, reply = %reply, "question redacted; reply withdrawn")
            }
            Err(e) => {
                tracing::warn!(room = %room.room_id(), error = %e, "could not withdraw the reply to a redacted question")
            }
        }
    }

    /// A message deliberately left unanswered (a limit): counted, and recorded as handled so
    /// that catch-up after a restart does not answer it later either.
    fn record_dropped(&self, ev: &OriginalSyncRoomMessageEvent, room_id: &str, why: &str) {
        self.count(Counter::RateLimited, None);
        if let Err(e) = self
            .store
            .mark_answered(room_id, ev.event_id.as_str(), None, why, now_ms())
        {
            tracing::warn!(error = %e, "cannot record a dropped message");
        }
    }

    /// What every send shares: the global limit on sends in flight and the metrics.
    pub(crate) fn sender(&self) -> reply::Sender<'_> {
        reply::Sender {
            slots: &self.send_slots,
            metrics: &self.metrics,
        }
    }

    fn count(&self, counter: Counter, topic: Option<&str>) {
        self.metrics.record(counter, topic);
        if let Err(e) = self.store.count(counter, topic, now_ms()) {
            tracing::warn!(error = %e, "cannot update a counter");
        }
    }

    async fn answer(&self, room: &Room, ev: &OriginalSyncRoomMessageEvent, origin: Origin) -> bool {
        let started = Instant::now();
        let room_id = room.room_id();
        let mut settings = self.room_settings(room_id.as_str());
        // Help lines for where the person is: their own region (set by DM) wins over the room's.
        if let Ok(Some(region)) = self.store.user_region(ev.sender.as_str()) {
            settings.region = region;
        }
        // An edit is read as its new text (the body of an edit event is a "* ..." fallback).
        let edited = match &ev.content.relates_to {
            Some(Relation::Replacement(r)) => Some(r),
            _ => None,
        };
        let msgtype = edited.map_or(&ev.content.msgtype, |r| &r.new_content.msgtype);
        let (kind, body, formatted) = match msgtype {
            MessageType::Text(t) => (MsgKind::Text, t.body.as_str(), t.formatted.as_ref()),
            MessageType::Emote(t) => (MsgKind::Emote, t.body.as_str(), t.formatted.as_ref()),
            MessageType::Notice(t) => (MsgKind::Notice, t.body.as_str(), t.formatted.as_ref()),
            _ => (MsgKind::Other, "", None),
        };
        let reply_to: Option<&EventId> = match &ev.content.relates_to {
            Some(Relation::Reply(r)) => Some(&r.in_reply_to.event_id),
            Some(Relation::Thread(t)) if !t.is_falling_back => {
                t.in_reply_to.as_ref().map(|r| r.event_id.as_ref())
            }
            _ => None,
        };
        let formatted = formatted.map(|f| {
            if reply_to.is_some() {
                addressing::strip_html_reply_fallback(&f.body)
            } else {
                f.body.clone()
            }
        });
        let mentions: Option<Vec<String>> = ev
            .content
            .mentions
            .as_ref()
            .map(|m| m.user_ids.iter().map(ToString::to_string).collect());
        let is_dm = self.is_dm(room).await;
        let sender_ignored = self
            .config
            .bot
            .ignored_users
            .iter()
            .any(|u| u == ev.sender.as_str())
            || self.client.is_user_ignored(&ev.sender).await;
        let replies_to_bot = match reply_to {
            Some(id) if !is_dm && kind == MsgKind::Text => self.is_bot_event(room, id).await,
            _ => false,
        };
        let msg = Message {
            sender: ev.sender.as_str(),
            kind,
            body,
            formatted_body: formatted.as_deref(),
            is_edit: edited.is_some(),
            is_reply: reply_to.is_some(),
            mentions: mentions.as_deref(),
            replies_to_bot,
            sender_ignored,
        };
        let identity = BotIdentity {
            user_id: self.user_id.as_str(),
            display_name: self.display_name.as_deref(),
            prefix: &self.config.bot.command_prefix,
        };
        let view = RoomView {
            is_dm,
            mode: settings.mode,
            crisis_watch: settings.crisis_watch,
        };
        let (question, via) = match addressing::decide(&msg, &identity, view) {
            Verdict::Ignore(reason) => {
                tracing::debug!(room = %room_id, event = %ev.event_id, ?reason, "not answered");
                return true;
            }
            Verdict::Answer { via, question } => (question, Some(via)),
            Verdict::CrisisWatch { text } => (text, None),
            Verdict::Command(parsed) => {
                // Commands count against the same limits as questions: past them, quiet.
                let outcome = lock(&self.limiter).check(
                    ev.sender.as_str(),
                    room_id.as_str(),
                    false,
                    Instant::now(),
                );
                if !outcome.allowed() {
                    tracing::info!(room = %room_id, event = %ev.event_id, ?outcome, "command rate limited; not answered");
                    self.count(Counter::RateLimited, None);
                    return true;
                }
                let ctx = moderation::CommandMessage {
                    room,
                    ev,
                    reply_to,
                    is_dm,
                    region: &settings.region,
                };
                self.run_command(ctx, parsed).await;
                return true;
            }
        };
        let question = truncate_utf8(&question, MAX_TRIAGE_BYTES);
        let triage_started = Instant::now();
        let reply = self.engine().respond(question, &settings.region);
        let triage_ms = triage_started.elapsed().as_millis() as u64;
        let d = &reply.decision;
        let urgent = d.crisis || d.emergency;
        if let Some(r) = edited {
            // The original already got the urgent reply: the edit needs no second one.
            let original = self
                .store
                .answered_topic(room_id.as_str(), r.event_id.as_str())
                .ok()
                .flatten();
            if !urgent || matches!(original.as_deref(), Some("crisis" | "emergency")) {
                return true;
            }
        }
        if via.is_none() && !urgent {
            // Weaker signs nobody addressed to the bot: no public post, a quiet check-in alert.
            if d.concern && !is_dm {
                self.alert(AlertKind::CheckIn, room, ev, d, question, is_dm)
                    .await;
            }
            return true;
        }
        if d.crisis && !lock(&self.limiter).admit_crisis_reply(ev.sender.as_str(), Instant::now()) {
            // The same person's crisis reply went out within the window; the alert still goes.
            tracing::info!(room = %room_id, event = %ev.event_id, "repeat crisis message; reply already sent in this window");
            self.record_dropped(ev, room_id.as_str(), "crisis-repeat");
            self.alert(
                AlertKind::Crisis { reply_sent: true },
                room,
                ev,
                d,
                question,
                is_dm,
            )
            .await;
            return true;
        }
        let (outcome, admission) = lock(&self.limiter).admit(
            ev.sender.as_str(),
            room_id.as_str(),
            urgent,
            is_dm,
            Instant::now(),
        );
        if admission != Admission::Answer {
            tracing::info!(room = %room_id, event = %ev.event_id, ?outcome, ?admission, "rate limited; not answered");
            if admission == Admission::Notice {
                self.send_limit_notice(room, ev, &settings.region).await;
            }
            self.record_dropped(ev, room_id.as_str(), "rate-limited");
            return true;
        }
        // An edited message is answered as a reply to the message people see, not to the edit.
        let target = edited.map_or(&ev.event_id, |r| &r.event_id);
        let content = reply::build(&reply.plain, &reply.html, target, &ev.sender, thread_of(ev));
        let pending = metrics::Pending::start(&self.metrics.replies_pending);
        let sent = reply::send(
            room,
            content,
            reply::transaction_id(&ev.event_id),
            urgent,
            self.sender(),
        )
        .await;
        drop(pending);
        let sent = match sent {
            Ok(reply_id) => {
                if let Err(e) = self.store.mark_answered(
                    room_id.as_str(),
                    ev.event_id.as_str(),
                    Some(reply_id.as_str()),
                    &d.topic,
                    now_ms(),
                ) {
                    tracing::error!(error = %e, "answered but could not record it");
                }
                self.count(Counter::Answer, Some(&d.topic));
                if d.crisis {
                    self.count(Counter::CrisisReply, None);
                } else if d.concern {
                    self.metrics.concern_replies.inc();
                }
                self.metrics
                    .reply_latency
                    .observe(started.elapsed().as_secs_f64());
                tracing::info!(
                    room = %room_id,
                    event = %ev.event_id,
                    reply = %reply_id,
                    via = ?via,
                    ?origin,
                    topic = %d.topic,
                    template = %d.template_id,
                    crisis = d.crisis,
                    concern = d.concern,
                    emergency = d.emergency,
                    triage_ms,
                    ms = started.elapsed().as_millis() as u64,
                    "answered"
                );
                true
            }
            Err(e) => {
                tracing::error!(room = %room_id, event = %ev.event_id, error = %e, "could not answer");
                false
            }
        };
        // The reply first: the person in crisis must not wait on the alert (which may resolve an
        // alias and retry), and the alert can then say truthfully whether the reply went out.
        if d.crisis {
            let kind = AlertKind::Crisis { reply_sent: sent };
            self.alert(kind, room, ev, d, question, is_dm).await;
        }
        // Unsent, it stays in the inbox and is tried again.
        sent
    }

    /// The over-the-limit notice in a DM: the limit, and the region's crisis line, so that
    /// someone who needs help now is not left with only "ask again later".
    async fn send_limit_notice(
        &self,
        room: &Room,
        ev: &OriginalSyncRoomMessageEvent,
        region: &str,
    ) {
        let text = lock(&self.limiter).notice_text();
        let engine = self.engine();
        let resources = &engine.library().resources;
        let region = resources
            .region(region)
            .unwrap_or(crate::library::resources::FALLBACK_REGION);
        let help = crate::library::render::crisis_lead_line(resources, region);
        let plain = match &help {
            Some(h) => format!("{text}\n\n{}", h.plain),
            None => text.clone(),
        };
        // The notice is our own text (digits and words), so it needs no escaping beyond this.
        let mut html = format!("<p>{}</p>", text.replace('&', "&amp;").replace('<', "&lt;"));
        if let Some(h) = &help {
            html.push('\n');
            html.push_str(&h.html);
        }
        let content = reply::build(&plain, &html, &ev.event_id, &ev.sender, thread_of(ev));
        if let Err(e) = reply::send(
            room,
            content,
            reply::transaction_id(&ev.event_id),
            false,
            self.sender(),
        )
        .await
        {
            tracing::error!(room = %room.room_id(), error = %e, "could not send the rate-limit notice");
        }
    }

    /// A DM: just the bot and one other person, judged from the members at the time of each
    /// message. An invite's `is_direct` flag is not trusted: anyone can set it on a group room,
    /// which would make the bot answer everything there and take the mode away from moderators.
    async fn is_dm(&self, room: &Room) -> bool {
        room.active_members_count() <= 2
    }

    /// Whether `event_id` was sent by the bot: its own replies are in the database; anything
    /// else (e.g. sent before the database existed) is fetched once.
    async fn is_bot_event(&self, room: &Room, event_id: &EventId) -> bool {
        if self.store.is_own_reply(event_id.as_str()).unwrap_or(false) {
            return true;
        }
        let fetch = room.event(event_id, None);
        match tokio::time::timeout(Duration::from_secs(5), fetch).await {
            Ok(Ok(ev)) => ev
                .raw()
                .get_field::<String>("sender")
                .ok()
                .flatten()
                .is_some_and(|s| s == self.user_id.as_str()),
            _ => false,
        }
    }
}

fn thread_of(
    ev: &OriginalSyncRoomMessageEvent,
) -> Option<&matrix_sdk::ruma::events::relation::Thread> {
    match &ev.content.relates_to {
        Some(Relation::Thread(t)) => Some(t),
        _ => None,
    }
}

fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Logs in once (password from the caller), then sets up the bot's cryptographic identity:
/// cross-signing and recovery. Running it again reuses the saved session (no new device).
pub async fn login(config: &Config, password: &str) -> anyhow::Result<()> {
    let client = session::login(config, password).await?;
    // Account data (secret storage state) arrives with a sync.
    client
        .sync_once(SyncSettings::default().timeout(Duration::ZERO))
        .await
        .context("first sync after login failed")?;
    encryption::ensure_identity(&client, config, Some(password)).await?;
    Ok(())
}

/// A running bot: stop it with [`BotHandle::stop`].
pub struct BotHandle {
    shutdown: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
    bot: Arc<Bot>,
    metrics_addr: Option<std::net::SocketAddr>,
}

impl BotHandle {
    pub fn bot(&self) -> &Arc<Bot> {
        &self.bot
    }

    /// Where `/metrics` and `/healthz` are served, when `[metrics] enabled`.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_addr
    }

    /// Asks the loops to stop and waits for them.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.task.await.context("bot task panicked")?
    }
}

/// Trained models live beside the bot's other state, so a restart skips training.
pub(crate) fn model_cache(config: &Config) -> ModelCache {
    ModelCache::in_dir(config.storage.data_dir.join("cache"))
}

/// Restores the saved session and starts syncing and answering in background tasks.
pub async fn start(config: Config) -> anyhow::Result<BotHandle> {
    let source = config.bot.responses();
    let cache = model_cache(&config);
    let loading = std::time::Instant::now();
    let engine = Engine::load_with_cache(&source, &cache)
        .map_err(|e| anyhow::anyhow!("cannot load the responses in {source}: {e}"))?
        .with_command_prefix(&config.bot.command_prefix);
    tracing::info!(
        templates = engine.library().templates().len(),
        models = if engine.triage().models_from_cache() {
            "cached"
        } else {
            "trained"
        },
        ms = loading.elapsed().as_millis() as u64,
        "library loaded"
    );
    let client = session::restore(&config).await?.with_context(|| {
        format!(
            "no saved session in {}: run `kratom-bot login --config <file>` first",
            config.storage.data_dir.display()
        )
    })?;
    let user_id = client
        .user_id()
        .context("restored session has no user id")?
        .to_owned();
    let store = Store::open(&config.bot_db_path())?;
    let week_ms = 7 * 24 * 3600 * 1000;
    store.prune(
        now_ms() - week_ms,
        now_ms() - config.catch_up_window().as_millis() as i64,
    )?;
    store.prune_moderation(now_ms() - config.retention().as_millis() as i64)?;
    let alert_window = Duration::from_secs(config.alerts.window_minutes * 60);
    let display_name = client.account().get_display_name().await.ok().flatten();
    let bot = Arc::new(Bot {
        limiter: Mutex::new(RateLimiter::new(&config.rate_limits)),
        client,
        config,
        engine: ArcSwap::from_pointee(engine),
        store,
        user_id,
        display_name,
        joining: Mutex::new(HashSet::new()),
        join_slots: tokio::sync::Semaphore::new(invites::CONCURRENT_JOINS),
        alerts: Mutex::new(AlertThrottle::new(alert_window)),
        check_ins: Mutex::new(AlertThrottle::new(alert_window)),
        management_room: tokio::sync::Mutex::new(None),
        metrics: Arc::new(metrics::Metrics::new()),
        workers: rooms::Workers::default(),
        send_slots: tokio::sync::Semaphore::new(SENDS_IN_FLIGHT),
    });
    let (shutdown, rx) = watch::channel(false);
    let metrics_addr = if bot.config.metrics.enabled {
        let max_age = Duration::from_secs(bot.config.metrics.max_sync_age_secs);
        Some(
            http::start(
                bot.config.metrics.listen,
                bot.metrics.clone(),
                max_age,
                rx.clone(),
            )
            .await?,
        )
    } else {
        None
    };
    let task = tokio::spawn({
        let bot = bot.clone();
        async move {
            let keys = tokio::spawn(encryption::watch_late_keys(bot.clone(), rx.clone()));
            let prune = tokio::spawn(moderation::prune_periodically(bot.clone()));
            let sweep = tokio::spawn(rooms::sweep(bot.clone(), rx.clone()));
            let result = sync::run(bot.clone(), rx).await;
            keys.abort();
            prune.abort();
            sweep.abort();
            // Let the room workers finish what they hold; the inbox keeps anything cut off.
            bot.drain_workers(DRAIN_LIMIT).await;
            result
        }
    });
    Ok(BotHandle {
        shutdown,
        task,
        bot,
        metrics_addr,
    })
}

/// How long a shutdown may wait for work in flight.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);

/// Runs the bot until `shutdown` completes or the sync loop fails for good.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let handle = start(config).await?;
    tokio::pin!(shutdown);
    let BotHandle {
        shutdown: stop_tx,
        mut task,
        ..
    } = handle;
    tokio::select! {
        () = &mut shutdown => {
            tracing::info!("shutting down");
            let _ = stop_tx.send(true);
            // Bounded: systemd sends SIGKILL 90 s after SIGTERM. Whatever was not finished is
            // answered after the restart (the answered table and transaction ids keep it once).
            match tokio::time::timeout(DRAIN_LIMIT, &mut task).await {
                Ok(result) => result.context("bot task panicked")?,
                Err(_) => {
                    tracing::warn!(limit_s = DRAIN_LIMIT.as_secs(), "shutdown drain took too long; stopping now");
                    task.abort();
                    Ok(())
                }
            }
        }
        result = &mut task => result.context("bot task panicked")?,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_catch_up_is_held_to_the_window() {
        let window = 15 * 60_000;
        let now = 1_000_000_000;
        let hour_ago = now - 60 * 60_000;
        // A live message whose sender's clock is an hour behind is still answered.
        assert!(!too_old(Origin::Live, hour_ago, None, now, window));
        // Catch-up: the homeserver's own age wins over the sender's clock...
        assert!(!too_old(
            Origin::CatchUp,
            hour_ago,
            Some(60_000),
            now,
            window
        ));
        assert!(too_old(Origin::CatchUp, now, Some(2 * window), now, window));
        // ...and without it the timestamp decides.
        assert!(too_old(Origin::CatchUp, hour_ago, None, now, window));
        assert!(too_old(Origin::LateKey, hour_ago, None, now, window));
        assert!(!too_old(Origin::LateKey, now - 60_000, None, now, window));
    }
}
