//! What an operator sees, against a real Synapse: `/metrics` counts what the bot did and
//! `/healthz` reports the sync, scraped over HTTP as Prometheus would.
mod support;

use std::time::{Duration, Instant};

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_are_scraped_over_http() {
    init_logs();
    let bot = TestBot::new("\n[metrics]\nenabled = true\nlisten = \"127.0.0.1:0\"\n").await;
    let running = bot.start().await;
    let addr = running.metrics_addr().expect("metrics listener is on");
    assert!(addr.ip().is_loopback());

    // Healthy once the first sync has succeeded.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = tokio::task::spawn_blocking(move || http_get(addr, "/healthz"))
            .await
            .expect("healthz");
        if status == 200 {
            assert!(body.starts_with("ok"), "{body}");
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(Instant::now() < deadline, "never healthy: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A three-member group room: one question, one unaddressed crisis message, one chat line.
    let (alice, _bob, room) = group_room(&bot.user_id).await;
    let q = send_text(&room, "!kratom is kratom legal in the US?", &[]).await;
    alice.wait_reply(&bot.user_id, &q).await;
    let c = send_text(&room, "i dont want to be alive anymore", &[]).await;
    alice.wait_reply(&bot.user_id, &c).await;
    send_text(&room, "anyone watching the match tonight", &[]).await;
    let c2 = send_text(&room, "!kratom does kratom show up on a drug test", &[]).await;
    alice.wait_reply(&bot.user_id, &c2).await;

    let text = tokio::task::spawn_blocking(move || {
        let (status, text) = http_get(addr, "/metrics");
        assert_eq!(status, 200, "{text}");
        text
    })
    .await
    .expect("scrape");
    let value =
        |series: &str| metric(&text, series).unwrap_or_else(|| panic!("no `{series}` in:\n{text}"));
    assert!(value("kratom_messages_seen_total") >= 4.0, "{text}");
    assert_eq!(value("kratom_answers_total{topic=\"legality\"}"), 1.0);
    assert_eq!(value("kratom_answers_total{topic=\"crisis\"}"), 1.0);
    assert_eq!(value("kratom_crisis_replies_total"), 1.0);
    assert_eq!(value("kratom_rate_limited_total"), 0.0);
    assert_eq!(value("kratom_reply_latency_seconds_count"), 3.0);
    assert_eq!(value("kratom_replies_pending"), 0.0);
    assert_eq!(value("kratom_sync_errors_total"), 0.0);
    assert!(value("kratom_last_successful_sync_timestamp_seconds") > 1.7e9);
    // Counts and topics only: nothing anyone wrote.
    for said in [
        "legal in the US",
        "alive anymore",
        "match tonight",
        "drug test",
    ] {
        assert!(!text.contains(said), "message text in /metrics: {said}");
    }

    let (status, _) = tokio::task::spawn_blocking(move || http_get(addr, "/nope"))
        .await
        .expect("404");
    assert_eq!(status, 404);
    running.stop().await.expect("clean stop");
}
