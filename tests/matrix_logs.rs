//! What the logs may hold, against a real Synapse with every crate logging at TRACE: never the
//! bot's password, access token or recovery key; and at the default levels (info and above) never
//! a word anyone wrote. One test in its own binary: it owns the process's log subscriber.
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use support::*;

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_and_message_text_not_by_default_reach_the_logs() {
    let sink = Sink::default();
    let writer = sink.clone();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .try_init()
        .expect("this test binary owns the log subscriber");

    let bot = TestBot::new("").await;
    let running = bot.start().await;
    let (alice, _bob, room) = group_room(&bot.user_id).await;
    // A distinctive marker in an answered question, an unaddressed crisis message and chatter.
    let marker = "zebra-quasar-7731";
    let q = send_text(&room, &format!("!kratom is kratom legal {marker}"), &[]).await;
    alice.wait_reply(&bot.user_id, &q).await;
    let c = send_text(&room, &format!("i want to end my life {marker}"), &[]).await;
    alice.wait_reply(&bot.user_id, &c).await;
    send_text(&room, &format!("just chatting {marker}"), &[]).await;
    let q2 = send_text(&room, "!kratom help", &[]).await;
    alice.wait_reply(&bot.user_id, &q2).await;
    running.stop().await.expect("clean stop");

    let session: Value = serde_json::from_str(
        &std::fs::read_to_string(bot.data_dir().join("session.json")).expect("session file"),
    )
    .expect("session json");
    let token = session
        .pointer("/tokens/access_token")
        .or_else(|| session.pointer("/access_token"))
        .and_then(Value::as_str)
        .expect("access token in the session file")
        .to_string();
    let mut secrets = vec![("password", PASSWORD.to_string()), ("access token", token)];
    if let Ok(key) = std::fs::read_to_string(bot.config.recovery_key_path()) {
        secrets.push(("recovery key", key.trim().to_string()));
    }

    let logs =
        String::from_utf8_lossy(&sink.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    assert!(logs.lines().count() > 100, "trace logging was captured");
    for (what, secret) in &secrets {
        assert!(!secret.is_empty());
        assert!(
            !logs.contains(secret.as_str()),
            "the bot's {what} appears in the TRACE logs"
        );
    }
    let mut default_level = 0;
    for line in logs.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if matches!(v["level"].as_str(), Some("INFO" | "WARN" | "ERROR")) {
            default_level += 1;
            assert!(
                !line.contains(marker),
                "message text in a log line at the default level: {line}"
            );
        }
    }
    assert!(default_level > 0, "info lines were captured");
}
