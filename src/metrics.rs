//! Live counters for operators, in Prometheus text: what the bot saw, answered and refused, how
//! its syncs and sends fare, and how long answers take. Ids, topics and counts only, never text.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::store::Counter as Event;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicLabel {
    pub topic: String,
}

/// One bot's metrics (each bot in a process has its own, so tests can run several).
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    pub messages_seen: Counter,
    pub answers: Family<TopicLabel, Counter>,
    pub crisis_replies: Counter,
    pub concern_replies: Counter,
    pub alerts: Counter,
    pub rate_limited: Counter,
    pub refusals: Counter,
    pub sync_errors: Counter,
    pub send_retries: Counter,
    /// Replies being sent right now (retrying included): what waits to go out.
    pub replies_pending: Gauge,
    /// Encrypted messages waiting for their room key.
    pub parked_events: Gauge,
    /// Events seen but not yet handled (queued, or waiting to be retried).
    pub inbox: Gauge,
    /// From the bot seeing a message to its reply being accepted by the homeserver.
    pub reply_latency: Histogram,
    last_sync_ok: Gauge,
    last_sync_ok_ms: AtomicI64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let m = Metrics {
            registry: Mutex::new(Registry::with_prefix("kratom")),
            messages_seen: Counter::default(),
            answers: Family::default(),
            crisis_replies: Counter::default(),
            concern_replies: Counter::default(),
            alerts: Counter::default(),
            rate_limited: Counter::default(),
            refusals: Counter::default(),
            sync_errors: Counter::default(),
            send_retries: Counter::default(),
            replies_pending: Gauge::default(),
            parked_events: Gauge::default(),
            inbox: Gauge::default(),
            // 10 ms .. ~41 s: a local homeserver answers in tens of ms; a 429 storm in seconds.
            reply_latency: Histogram::new(exponential_buckets(0.01, 2.0, 13)),
            last_sync_ok: Gauge::default(),
            last_sync_ok_ms: AtomicI64::new(0),
        };
        {
            let mut r = m.registry.lock().unwrap_or_else(|p| p.into_inner());
            r.register(
                "messages_seen",
                "Message events the bot received in joined rooms (its own excluded)",
                m.messages_seen.clone(),
            );
            r.register("answers", "Answers sent, by topic", m.answers.clone());
            r.register(
                "crisis_replies",
                "Full crisis replies sent",
                m.crisis_replies.clone(),
            );
            r.register(
                "concern_replies",
                "Answers sent with the short concern line (weaker warning signs)",
                m.concern_replies.clone(),
            );
            r.register(
                "alerts",
                "Alerts posted to the management room (crisis and check-in)",
                m.alerts.clone(),
            );
            r.register(
                "rate_limited",
                "Messages and commands left unanswered by the rate limits",
                m.rate_limited.clone(),
            );
            r.register(
                "refusals",
                "Commands refused for lack of permission",
                m.refusals.clone(),
            );
            r.register("sync_errors", "Failed sync requests", m.sync_errors.clone());
            r.register(
                "send_retries",
                "Send attempts retried after an error or a 429",
                m.send_retries.clone(),
            );
            r.register(
                "replies_pending",
                "Replies being sent or retried right now",
                m.replies_pending.clone(),
            );
            r.register(
                "parked_events",
                "Encrypted messages waiting for their room key",
                m.parked_events.clone(),
            );
            r.register(
                "inbox",
                "Events seen but not yet handled (queued, or waiting to be retried)",
                m.inbox.clone(),
            );
            r.register(
                "reply_latency_seconds",
                "Seconds from the bot seeing a message to the homeserver accepting its reply",
                m.reply_latency.clone(),
            );
            r.register(
                "last_successful_sync_timestamp_seconds",
                "Unix time of the last successful sync",
                m.last_sync_ok.clone(),
            );
        }
        m
    }

    /// Mirrors an event counted in the daily statistics (`Store::count`).
    pub fn record(&self, event: Event, topic: Option<&str>) {
        match event {
            Event::Answer => {
                self.answers
                    .get_or_create(&TopicLabel {
                        topic: topic.unwrap_or("").to_string(),
                    })
                    .inc();
            }
            Event::CrisisReply => {
                self.crisis_replies.inc();
            }
            Event::Alert => {
                self.alerts.inc();
            }
            Event::RateLimited => {
                self.rate_limited.inc();
            }
            Event::Refusal => {
                self.refusals.inc();
            }
        }
    }

    pub fn sync_succeeded(&self) {
        let now = now_ms();
        self.last_sync_ok_ms.store(now, Ordering::Relaxed);
        self.last_sync_ok.set(now / 1000);
    }

    /// How long ago the last sync succeeded; `None` before the first.
    pub fn since_last_sync(&self) -> Option<Duration> {
        match self.last_sync_ok_ms.load(Ordering::Relaxed) {
            0 => None,
            t => Some(Duration::from_millis(
                now_ms().saturating_sub(t).max(0) as u64
            )),
        }
    }

    /// The Prometheus (OpenMetrics) text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let r = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        out
    }
}

/// Counts a reply in flight for as long as it lives (sent, failed or cancelled).
pub struct Pending<'a>(&'a Gauge);

impl<'a> Pending<'a> {
    pub fn start(gauge: &'a Gauge) -> Pending<'a> {
        gauge.inc();
        Pending(gauge)
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_show_up_in_the_text_with_topics() {
        let m = Metrics::new();
        m.messages_seen.inc();
        m.record(Event::Answer, Some("legality"));
        m.record(Event::Answer, Some("legality"));
        m.record(Event::CrisisReply, None);
        m.reply_latency.observe(0.05);
        {
            let _p = Pending::start(&m.replies_pending);
            assert!(m.encode().contains("kratom_replies_pending 1"));
        }
        let text = m.encode();
        assert!(text.contains("kratom_messages_seen_total 1"), "{text}");
        assert!(
            text.contains("kratom_answers_total{topic=\"legality\"} 2"),
            "{text}"
        );
        assert!(text.contains("kratom_crisis_replies_total 1"), "{text}");
        assert!(text.contains("kratom_replies_pending 0"), "{text}");
        assert!(
            text.contains("kratom_reply_latency_seconds_count 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn sync_age_is_unknown_until_the_first_sync() {
        let m = Metrics::new();
        assert!(m.since_last_sync().is_none());
        m.sync_succeeded();
        assert!(m
            .since_last_sync()
            .is_some_and(|d| d < Duration::from_secs(5)));
    }
}
