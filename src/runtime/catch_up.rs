//! Filling a gap in the timeline. When a sync reports a `limited` timeline (many messages while
//! the bot was down or disconnected), the events before the returned ones are fetched backwards
//! until the last event the bot handled in that room, or the catch-up window, whichever is
//! nearer. The caller answers them oldest first; the answered table keeps it exactly-once.
use std::sync::Arc;

use matrix_sdk::deserialized_responses::TimelineEvent;
use matrix_sdk::room::MessagesOptions;
use matrix_sdk::ruma::uint;
use matrix_sdk::Room;

use super::{now_ms, Bot};

/// At most this many pages of 50 events per room and gap: a bound on work after a long outage.
const MAX_PAGES: usize = 10;

pub async fn backfill(bot: &Arc<Bot>, room: &Room, prev_batch: Option<&str>) -> Vec<TimelineEvent> {
    let Some(mut from) = prev_batch.map(ToOwned::to_owned) else {
        return Vec::new();
    };
    let cutoff = now_ms() - bot.config.catch_up_window().as_millis() as i64;
    let cursor = bot
        .store
        .room_cursor(room.room_id().as_str())
        .ok()
        .flatten();
    let mut out = Vec::new();
    let mut reached_the_end = false;
    'pages: for _ in 0..MAX_PAGES {
        let mut options = MessagesOptions::backward().from(from.as_str());
        options.limit = uint!(50);
        let page = match room.messages(options).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(room = %room.room_id(), error = %e, "cannot fetch the gap");
                break;
            }
        };
        for ev in page.chunk {
            let ts = ev.timestamp.map_or(0, |t| i64::from(t.0));
            let is_cursor = cursor
                .as_ref()
                .is_some_and(|(id, _)| ev.event_id().is_some_and(|e| e.as_str() == id));
            if is_cursor || ts < cutoff {
                reached_the_end = true;
                break 'pages;
            }
            out.push(ev);
        }
        match page.end {
            Some(end) => from = end,
            None => {
                // The start of the room: nothing older to miss.
                reached_the_end = true;
                break;
            }
        }
    }
    out.reverse();
    if reached_the_end {
        tracing::info!(room = %room.room_id(), events = out.len(), "backfilled a timeline gap");
    } else {
        // Said out loud: older messages in the window were not read, so some may go unanswered.
        tracing::warn!(
            room = %room.room_id(),
            events = out.len(),
            pages = MAX_PAGES,
            "timeline gap longer than the backfill limit; older messages in the window were not read"
        );
    }
    out
}
