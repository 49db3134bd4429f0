//! One worker per active room. Events are handled in order within a room and side by side
//! across rooms, so a slow send in one room (a 429 storm, a slow alias lookup) never holds up
//! another, and the sync loop never waits on a send.
//!
//! Durability: before the sync token moves past an event, its id goes into the inbox (ids only,
//! never text). The row leaves the inbox once the event is handled; a reply that could not be
//! sent, a full queue, or a crash leaves it there, and [`sweep`] fetches the event again by id
//! and hands it back to its room's worker. The answered table and the transaction id keep every
//! answer to one.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use matrix_sdk::ruma::events::AnySyncTimelineEvent;
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, RoomId};
use matrix_sdk::Room;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{lock, now_ms, Bot, Origin};

/// Events waiting per room; past this the event stays in the inbox for the next sweep.
const QUEUE: usize = 256;
/// A worker with nothing to do for this long ends (a busy room gets a new one).
const IDLE: Duration = Duration::from_secs(60);
/// How often the inbox is checked for events that were not handled.
pub const SWEEP_EVERY: Duration = Duration::from_secs(15);
/// Rows younger than this are probably still queued or in hand: the sweep leaves them alone.
const SWEEP_GRACE_MS: i64 = 5_000;

struct Job {
    raw: Raw<AnySyncTimelineEvent>,
    origin: Origin,
    event_id: OwnedEventId,
}

struct Worker {
    tx: mpsc::Sender<Job>,
    task: JoinHandle<()>,
}

/// The room workers and the events queued to them.
#[derive(Default)]
pub struct Workers {
    rooms: Mutex<HashMap<OwnedRoomId, Worker>>,
    /// Events in a queue or in hand, so the sweep does not queue them twice.
    queued: Mutex<HashSet<OwnedEventId>>,
}

fn event_type(raw: &Raw<AnySyncTimelineEvent>) -> Option<String> {
    raw.get_field::<String>("type").ok().flatten()
}

/// The event types the bot acts on (questions, edits, redactions of questions).
fn wanted(raw: &Raw<AnySyncTimelineEvent>) -> bool {
    matches!(
        event_type(raw).as_deref(),
        Some("m.room.message" | "m.room.redaction")
    )
}

fn is_message(raw: &Raw<AnySyncTimelineEvent>) -> bool {
    event_type(raw).as_deref() == Some("m.room.message")
}

impl Bot {
    /// Queues an event for its room's worker, recording it in the inbox first.
    pub(crate) fn dispatch(
        self: &Arc<Self>,
        room: &Room,
        raw: Raw<AnySyncTimelineEvent>,
        origin: Origin,
    ) {
        if !wanted(&raw) {
            return;
        }
        let Ok(Some(event_id)) = raw.get_field::<OwnedEventId>("event_id") else {
            return;
        };
        if raw.get_field::<String>("sender").ok().flatten().as_deref()
            == Some(self.user_id.as_str())
        {
            return;
        }
        let room_id = room.room_id();
        if self
            .store
            .is_answered(room_id.as_str(), event_id.as_str())
            .unwrap_or(false)
        {
            return;
        }
        let ts = raw
            .get_field::<i64>("origin_server_ts")
            .ok()
            .flatten()
            .unwrap_or_else(now_ms);
        match self
            .store
            .inbox_add(room_id.as_str(), event_id.as_str(), ts, now_ms())
        {
            // Counted once, when first seen: a retry from the inbox is not a new message.
            Ok(true) if is_message(&raw) => {
                self.metrics.messages_seen.inc();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot record an event in the inbox"),
        }
        if !lock(&self.workers.queued).insert(event_id.clone()) {
            return;
        }
        let job = Job {
            raw,
            origin,
            event_id: event_id.clone(),
        };
        let mut rooms = lock(&self.workers.rooms);
        let worker = rooms
            .entry(room_id.to_owned())
            .or_insert_with(|| spawn_worker(self.clone(), room.clone()));
        match worker.tx.try_send(job) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(room = %room_id, event = %event_id, "room queue full; left in the inbox");
                lock(&self.workers.queued).remove(&event_id);
            }
            Err(mpsc::error::TrySendError::Closed(job)) => {
                // The worker ended between its idle check and now: start another.
                let fresh = spawn_worker(self.clone(), room.clone());
                let _ = fresh.tx.try_send(job);
                rooms.insert(room_id.to_owned(), fresh);
            }
        }
    }

    /// Waits (at most `limit`) for every worker to finish what it holds; used at shutdown.
    pub(crate) async fn drain_workers(&self, limit: Duration) {
        let workers: Vec<Worker> = lock(&self.workers.rooms).drain().map(|(_, w)| w).collect();
        let tasks: Vec<JoinHandle<()>> = workers
            .into_iter()
            .map(|w| {
                drop(w.tx);
                w.task
            })
            .collect();
        let n = tasks.len();
        if tokio::time::timeout(limit, futures_util::future::join_all(tasks))
            .await
            .is_err()
        {
            tracing::warn!(
                rooms = n,
                "room workers still busy at shutdown; the inbox keeps the rest"
            );
        }
    }
}

fn spawn_worker(bot: Arc<Bot>, room: Room) -> Worker {
    let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
    let task = tokio::spawn(async move {
        loop {
            let job = match tokio::time::timeout(IDLE, rx.recv()).await {
                Ok(Some(job)) => job,
                Ok(None) => return,
                Err(_) => {
                    // Idle: leave, unless something arrived while deciding (the dispatcher sends
                    // only while holding the map, so after this no new job can reach `rx`).
                    let mut rooms = lock(&bot.workers.rooms);
                    if !rx.is_empty() {
                        continue;
                    }
                    rooms.remove(room.room_id());
                    return;
                }
            };
            let room_id = room.room_id().as_str();
            let done = bot.handle_timeline_event(&room, &job.raw, job.origin).await;
            if done {
                if let Err(e) = bot.store.inbox_remove(room_id, job.event_id.as_str()) {
                    tracing::warn!(error = %e, "cannot clear an inbox row");
                }
            }
            lock(&bot.workers.queued).remove(&job.event_id);
        }
    });
    Worker { tx, task }
}

/// Hands back to their workers the events the inbox still holds: replies that failed, queues
/// that were full, and whatever a crash interrupted. Runs until shutdown.
pub async fn sweep(bot: Arc<Bot>, mut shutdown: watch::Receiver<bool>) {
    loop {
        sweep_once(&bot).await;
        tokio::select! {
            () = tokio::time::sleep(SWEEP_EVERY) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn sweep_once(bot: &Arc<Bot>) {
    let window = bot.config.catch_up_window().as_millis() as i64;
    if let Err(e) = bot.store.inbox_prune(now_ms() - window) {
        tracing::warn!(error = %e, "cannot prune the inbox");
    }
    let rows = bot
        .store
        .inbox_older_than(now_ms() - SWEEP_GRACE_MS, 200)
        .unwrap_or_default();
    bot.metrics.inbox.set(bot.store.inbox_count().unwrap_or(0));
    for (room_id, event_id) in rows {
        let (Ok(room_id), Ok(event_id)) = (
            RoomId::parse(&room_id),
            OwnedEventId::try_from(event_id.as_str()),
        ) else {
            let _ = bot.store.inbox_remove(&room_id, &event_id);
            continue;
        };
        if lock(&bot.workers.queued).contains(&event_id) {
            continue;
        }
        if bot
            .store
            .is_answered(room_id.as_str(), event_id.as_str())
            .unwrap_or(false)
        {
            let _ = bot.store.inbox_remove(room_id.as_str(), event_id.as_str());
            continue;
        }
        let Some(room) = bot.client.get_room(&room_id) else {
            continue;
        };
        match room.event(&event_id, None).await {
            Ok(ev) if ev.kind.is_utd() => {
                // Parked for its key by the sync loop; the late-key watcher answers it.
                let _ = bot.store.inbox_remove(room_id.as_str(), event_id.as_str());
            }
            Ok(ev) => {
                tracing::info!(room = %room_id, event = %event_id, "retrying from the inbox");
                bot.dispatch(&room, ev.raw().clone(), Origin::CatchUp);
            }
            Err(e) => {
                tracing::debug!(room = %room_id, event = %event_id, error = %e, "cannot fetch an inbox event yet")
            }
        }
    }
}
