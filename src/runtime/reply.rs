//! Building and sending the bot's answer: an `m.notice` (the spec's type for automated clients,
//! which other bots must not answer) with an HTML body, as a rich reply to the question, inside
//! its thread if it was asked in one, mentioning the asker and nobody else.
use std::time::Duration;

use matrix_sdk::ruma::api::error::{ErrorKind, RetryAfter};
use matrix_sdk::ruma::events::relation::Thread;
use matrix_sdk::ruma::events::room::message::{
    AddMentions, ForwardThread, ReplyMetadata, RoomMessageEventContent,
};
use matrix_sdk::ruma::events::Mentions;
use matrix_sdk::ruma::{EventId, OwnedEventId, OwnedTransactionId, UserId};
use matrix_sdk::Room;

use crate::metrics::Metrics;

/// The reply content. `thread` is the question's thread relation, if any: then the answer goes
/// into that thread (`rel_type: m.thread`, `m.in_reply_to` the question, `is_falling_back`).
pub fn build(
    plain: &str,
    html: &str,
    question_id: &EventId,
    asker: &UserId,
    thread: Option<&Thread>,
) -> RoomMessageEventContent {
    let mut content = RoomMessageEventContent::notice_html(plain, html).make_reply_to(
        ReplyMetadata::new(question_id, asker, thread),
        ForwardThread::Yes,
        AddMentions::No,
    );
    // Always set m.mentions so nobody is pinged by accident, and set it to the asker only:
    // mentions in the question are not copied.
    content.mentions = Some(Mentions::with_user_ids([asker.to_owned()]));
    content
}

/// A transaction id derived from the question: if the bot dies between sending and recording,
/// the re-send after restart reuses it and the homeserver deduplicates it.
pub fn transaction_id(question_id: &EventId) -> OwnedTransactionId {
    // FNV-1a: stable across Rust versions (std's hasher is not), and event ids are up to 255
    // bytes of arbitrary characters, so hash rather than embed them.
    let hash = question_id
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("kratom-{hash:016x}-{}", question_id.as_str().len()).into()
}

#[derive(Debug, thiserror::Error)]
#[error("sending the reply failed after {attempts} attempts: {source}")]
pub struct SendError {
    attempts: u32,
    source: matrix_sdk::Error,
}

/// What every send shares: the global limit on sends in flight, and the metrics.
#[derive(Clone, Copy)]
pub struct Sender<'a> {
    pub slots: &'a tokio::sync::Semaphore,
    pub metrics: &'a Metrics,
}

/// The longest a send waits on a homeserver's Retry-After before trying again.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// Sends with retries: the homeserver's 429 `retry_after` is honoured, other transient errors back
/// off. Urgent (crisis) replies try much longer before giving up.
pub async fn send(
    room: &Room,
    content: RoomMessageEventContent,
    txn_id: OwnedTransactionId,
    urgent: bool,
    sender: Sender<'_>,
) -> Result<OwnedEventId, SendError> {
    let max_attempts = if urgent { 30 } else { 8 };
    let mut backoff = Duration::from_millis(500);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let slot = sender.slots.acquire().await;
        let result = room
            .send(content.clone())
            .with_transaction_id(txn_id.clone())
            .await;
        drop(slot);
        match result {
            Ok(response) => return Ok(response.response.event_id),
            Err(e) => {
                let wait = match e.client_api_error_kind() {
                    Some(ErrorKind::LimitExceeded(data)) => {
                        tracing::warn!(room = %room.room_id(), attempt, "rate limited by the homeserver");
                        retry_after_duration(data.retry_after.as_ref()).unwrap_or(backoff)
                    }
                    // Only what may pass is retried: 429, the server's own errors and the
                    // network. Any other refusal (403, 413, a bad request) will not change by
                    // asking again; the inbox tries later, once something else has changed.
                    _ if !is_transient(&e) => {
                        return Err(SendError {
                            attempts: attempt,
                            source: e,
                        })
                    }
                    _ => backoff,
                };
                if attempt >= max_attempts {
                    return Err(SendError {
                        attempts: attempt,
                        source: e,
                    });
                }
                tracing::debug!(error = %e, wait_ms = wait.as_millis() as u64, "send failed; retrying");
                sender.metrics.send_retries.inc();
                tokio::time::sleep(wait).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Whether a failed send may succeed if simply tried again.
fn is_transient(e: &matrix_sdk::Error) -> bool {
    match e.as_client_api_error() {
        Some(api) => api.status_code.as_u16() == 429 || api.status_code.is_server_error(),
        // No answer from the homeserver (connection, timeout): worth another try.
        None => true,
    }
}

/// The homeserver's Retry-After, capped: a bad or hostile value must not park a reply for hours.
pub(crate) fn retry_after_duration(retry_after: Option<&RetryAfter>) -> Option<Duration> {
    let wait = match retry_after? {
        RetryAfter::Delay(d) => *d,
        RetryAfter::DateTime(t) => t
            .duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    };
    Some(wait.min(MAX_RETRY_WAIT))
}

#[cfg(test)]
mod tests {
    use matrix_sdk::ruma::events::room::message::{MessageType, Relation};
    use matrix_sdk::ruma::{event_id, user_id};

    use super::*;

    #[test]
    fn rich_reply_mentions_only_the_asker() {
        let c = build(
            "plain",
            "<p>html</p>",
            event_id!("$q"),
            user_id!("@alice:x"),
            None,
        );
        assert!(matches!(c.msgtype, MessageType::Notice(ref n) if n.formatted.is_some()));
        match &c.relates_to {
            Some(Relation::Reply(r)) => assert_eq!(r.in_reply_to.event_id, "$q"),
            other => panic!("not a reply: {other:?}"),
        }
        let m = c.mentions.expect("m.mentions always set");
        assert_eq!(
            m.user_ids.into_iter().collect::<Vec<_>>(),
            vec![user_id!("@alice:x").to_owned()]
        );
        assert!(!m.room);
    }

    #[test]
    fn thread_question_answered_in_thread() {
        let thread = Thread::plain(event_id!("$root").to_owned(), event_id!("$prev").to_owned());
        let c = build(
            "p",
            "<p>h</p>",
            event_id!("$q"),
            user_id!("@alice:x"),
            Some(&thread),
        );
        match &c.relates_to {
            Some(Relation::Thread(t)) => {
                assert_eq!(t.event_id, "$root");
                assert_eq!(
                    t.in_reply_to.as_ref().map(|r| r.event_id.as_str()),
                    Some("$q")
                );
                assert!(t.is_falling_back);
            }
            other => panic!("not in thread: {other:?}"),
        }
    }

    #[test]
    fn transaction_ids_are_stable_and_distinct() {
        assert_eq!(
            transaction_id(event_id!("$a")),
            transaction_id(event_id!("$a"))
        );
        assert_ne!(
            transaction_id(event_id!("$a")),
            transaction_id(event_id!("$b"))
        );
    }
}
