//! The sync loop, driven by hand with `sync_once` (`Client::sync()` sleeps about a second after
//! every fast round trip). It feeds `next_batch` back, keeps going on errors with backoff (so it
//! reconnects after a homeserver restart), and stops on shutdown.
//!
//! Start-up: the very first sync of a new bot only learns the rooms (answering its backlog would
//! reply to old conversations). After a restart the first sync continues from the saved token,
//! so messages sent while the bot was down arrive in it and are answered, within the catch-up
//! window and exactly once (see `catch_up` for gaps).
use std::sync::Arc;
use std::time::Duration;

use matrix_sdk::config::{SyncSettings, SyncToken};
use matrix_sdk::deserialized_responses::{TimelineEvent, TimelineEventKind};
use matrix_sdk::ruma::api::client::filter::FilterDefinition;
use matrix_sdk::ruma::api::client::sync::sync_events::v3::Filter;
use matrix_sdk::ruma::api::error::ErrorKind;
use matrix_sdk::sync::SyncResponse;
use tokio::sync::watch;

use super::{catch_up, encryption, invites, Bot, Origin};

const LONG_POLL: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// First sync ever: no token saved, learn rooms only.
    Initial,
    /// First sync after a restart.
    Resumed,
    Live,
}

/// Exponential backoff for the loop: 0.5 s doubling to 30 s.
struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(30);

    fn new() -> Self {
        Backoff { next: Self::FIRST }
    }
    fn reset(&mut self) {
        self.next = Self::FIRST;
    }
    fn next(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        d
    }
}

pub async fn run(bot: Arc<Bot>, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let saved = bot.store.sync_token()?;
    let mut phase = if saved.is_some() {
        Phase::Resumed
    } else {
        Phase::Initial
    };
    let mut token = saved;
    let mut backoff = Backoff::new();
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        let timeout = if phase == Phase::Live {
            LONG_POLL
        } else {
            Duration::ZERO
        };
        let settings = SyncSettings::default()
            .filter(sync_filter())
            .timeout(timeout)
            .token(
                token
                    .clone()
                    .map_or(SyncToken::NoToken, SyncToken::Specific),
            );
        let result = tokio::select! {
            r = bot.client.sync_once(settings) => r,
            _ = shutdown.changed() => return Ok(()),
        };
        match result {
            Ok(response) => {
                backoff.reset();
                bot.metrics.sync_succeeded();
                process(&bot, &response, phase).await;
                bot.store.set_sync_token(&response.next_batch)?;
                token = Some(response.next_batch);
                if phase != Phase::Live {
                    after_first_sync(&bot);
                    tracing::info!(
                        ?phase,
                        rooms = bot.client.joined_rooms().len(),
                        "synced; answering"
                    );
                    phase = Phase::Live;
                }
            }
            Err(e) => {
                if matches!(e.client_api_error_kind(), Some(ErrorKind::UnknownToken(_))) {
                    anyhow::bail!(
                        "the homeserver no longer accepts the bot's session (logged out?): \
                         remove session.json and run `kratom-bot login` again"
                    );
                }
                let wait = match e.client_api_error_kind() {
                    Some(ErrorKind::LimitExceeded(data)) => {
                        super::reply::retry_after_duration(data.retry_after.as_ref())
                            .unwrap_or_else(|| backoff.next())
                    }
                    _ => backoff.next(),
                };
                tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "sync failed");
                bot.metrics.sync_errors.inc();
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => return Ok(()),
                }
            }
        }
    }
}

/// Events per room per sync response. Without a limit a busy room comes back `limited` at the
/// server's default (often 10) and every gap costs page requests one after another; with it, a
/// burst after a restart usually fits in the sync response itself.
const TIMELINE_LIMIT: u32 = 50;

/// Lazy-loaded members: the homeserver then sends the room summary (member counts), which DM
/// detection and "leave when alone" rely on, and big rooms cost less.
fn sync_filter() -> Filter {
    let mut filter = FilterDefinition::with_lazy_loading();
    filter.room.timeline.limit = Some(TIMELINE_LIMIT.into());
    Filter::FilterDefinition(filter)
}

/// Whether the event is the bot's own `m.room.member` join.
fn is_own_join(ev: &TimelineEvent, bot: &Bot) -> bool {
    let raw = ev.raw();
    raw.get_field::<String>("type").ok().flatten().as_deref() == Some("m.room.member")
        && raw
            .get_field::<String>("state_key")
            .ok()
            .flatten()
            .as_deref()
            == Some(bot.user_id.as_str())
        && raw
            .get_field::<serde_json::Value>("content")
            .ok()
            .flatten()
            .and_then(|c| {
                c.get("membership")
                    .and_then(|m| m.as_str().map(str::to_owned))
            })
            .as_deref()
            == Some("join")
}

async fn process(bot: &Arc<Bot>, response: &SyncResponse, phase: Phase) {
    for room_id in response.rooms.invited.keys() {
        invites::spawn_join(bot.clone(), room_id.clone());
    }
    let origin = if phase == Phase::Live {
        Origin::Live
    } else {
        Origin::CatchUp
    };
    for (room_id, update) in &response.rooms.joined {
        let Some(room) = bot.client.get_room(room_id) else {
            continue;
        };
        if phase != Phase::Initial {
            let timeline = &update.timeline.events;
            // A room the bot just joined: what was said before it arrived is not for it.
            let new_room = bot
                .store
                .room_cursor(room_id.as_str())
                .ok()
                .flatten()
                .is_none();
            let own_join = timeline
                .iter()
                .rposition(|e| is_own_join(e, bot))
                .filter(|_| new_room);
            let mut events = Vec::new();
            if update.timeline.limited && own_join.is_none() {
                // The homeserver left a gap: fetch what is missing, back to the last handled
                // event or the catch-up window.
                events =
                    catch_up::backfill(bot, &room, update.timeline.prev_batch.as_deref()).await;
            }
            events.extend(timeline.iter().skip(own_join.map_or(0, |i| i + 1)).cloned());
            for ev in &events {
                let gap_origin = if update.timeline.limited {
                    Origin::CatchUp
                } else {
                    origin
                };
                match &ev.kind {
                    TimelineEventKind::UnableToDecrypt { event, .. } => {
                        let ts = ev.timestamp.map_or(0, |t| i64::from(t.0));
                        if let Err(e) = encryption::park(bot, room_id, event.json().get(), ts) {
                            tracing::warn!(error = %e, "cannot park an undecryptable event");
                        }
                    }
                    _ => bot.dispatch(&room, ev.raw().clone(), gap_origin),
                }
            }
        }
        let membership_changed = update.timeline.events.iter().any(|e| {
            e.raw()
                .get_field::<String>("type")
                .ok()
                .flatten()
                .as_deref()
                == Some("m.room.member")
        });
        if membership_changed {
            invites::leave_if_alone(bot, &room).await;
        }
        if room.is_tombstoned() {
            invites::follow_upgrade(bot, &room);
        }
    }
}

fn after_first_sync(bot: &Arc<Bot>) {
    // Invites that arrived while the bot was down, and rooms everybody left meanwhile.
    for room in bot.client.invited_rooms() {
        invites::spawn_join(bot.clone(), room.room_id().to_owned());
    }
    let bot = bot.clone();
    tokio::spawn(async move {
        for room in bot.client.joined_rooms() {
            invites::leave_if_alone(&bot, &room).await;
        }
        if let Err(e) = encryption::ensure_identity(&bot.client, &bot.config, None).await {
            tracing::warn!(error = format!("{e:#}"), "encryption identity check failed");
        }
    });
}
