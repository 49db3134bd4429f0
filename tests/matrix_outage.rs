//! The homeserver gone for two minutes under a running bot, against a real Synapse (its own test
//! binary: it stops the Synapse every test in a binary shares).
mod support;

use std::time::{Duration, Instant};

use support::*;

/// The homeserver gone for two minutes under a running bot: `/healthz` turns 503 once the last
/// sync is older than its limit, the bot keeps retrying without a restart, turns healthy again
/// when Synapse is back, and answers (a crisis message here) exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_minutes_without_the_homeserver() {
    init_logs();
    let bot = TestBot::new(
        "\n[metrics]\nenabled = true\nlisten = \"127.0.0.1:0\"\nmax_sync_age_secs = 60\n",
    )
    .await;
    let running = bot.start().await;
    let addr = running.metrics_addr().expect("metrics listener");
    let alice = TestUser::new("alice").await;
    let room = alice.create_room(&[&bot.user_id], false, true).await;
    alice.wait_joined(room.room_id(), &bot.user_id).await;
    let before = send_text(&room, "what is kratom?", &[]).await;
    alice.wait_reply(&bot.user_id, &before).await;
    wait_health(addr, 200, Duration::from_secs(30)).await;

    let hs = synapse();
    hs.stop();
    let down = Instant::now();
    let stale = wait_health(addr, 503, Duration::from_secs(110)).await;
    assert!(stale.contains("last successful sync"), "{stale}");
    let left = Duration::from_secs(120).saturating_sub(down.elapsed());
    tokio::time::sleep(left).await;
    hs.start();
    // The sync loop backs off to at most 30 s between tries.
    wait_health(addr, 200, Duration::from_secs(90)).await;

    let after = send_text(&room, "i want to die, i cant do this anymore", &[]).await;
    let reply = alice.wait_reply(&bot.user_id, &after).await;
    assert!(reply.event.content.body().contains("988"));
    let text = tokio::task::spawn_blocking(move || http_get(addr, "/metrics").1)
        .await
        .expect("scrape");
    assert!(
        metric(&text, "kratom_sync_errors_total").is_some_and(|n| n > 0.0),
        "{text}"
    );
    running.stop().await.expect("clean stop");
    assert_eq!(alice.replies_to(&bot.user_id, &before).len(), 1);
    assert_eq!(alice.replies_to(&bot.user_id, &after).len(), 1);
}
