//! The homeserver's rate limit (429 with retry_after), against a Synapse with a strict
//! `rc_message`: the bot waits as told and every question still gets exactly one answer.
mod support;

use support::*;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn homeserver_429_is_honoured_and_no_answer_is_lost() {
    use_strict_rate_limits();
    init_logs();
    // The bot's own limits are generous here: only the homeserver's limit is under test.
    let bot = TestBot::new("[rate_limits]\nper_user = 100\nper_room = 100\n").await;
    let running = bot.start().await;
    let alice = TestUser::new("alice").await;
    let mut askers = vec![
        TestUser::new("bob").await,
        TestUser::new("carol").await,
        TestUser::new("dave").await,
    ];
    let invitees: Vec<&matrix_sdk::ruma::UserId> = std::iter::once(&*bot.user_id)
        .chain(askers.iter().map(|u| &*u.user_id))
        .collect();
    let room = alice.create_room(&invitees, false, false).await;
    for u in &askers {
        u.client
            .join_room_by_id(room.room_id())
            .await
            .expect("join");
    }
    alice.wait_joined(room.room_id(), &bot.user_id).await;

    // Each asker stays within its own burst; the bot must send 6 replies at 1/s after a burst of 2.
    let started = std::time::Instant::now();
    let mut questions = Vec::new();
    for u in &mut askers {
        let r = u.client.get_room(room.room_id()).expect("room");
        questions.push(send_text(&r, "!kratom what is kratom?", &[]).await);
        questions.push(send_text(&r, "!kratom is it legal in the US?", &[]).await);
    }
    for q in &questions {
        alice.wait_reply(&bot.user_id, q).await;
    }
    let elapsed = started.elapsed();
    running.stop().await.expect("clean stop");
    for q in &questions {
        assert_eq!(
            alice.replies_to(&bot.user_id, q).len(),
            1,
            "{q} answered exactly once"
        );
    }
    // With a burst of 2 and 1/s, six replies cannot all go out in under ~3 s unless the limit
    // was not applied, in which case this test proves nothing.
    assert!(
        elapsed.as_secs_f64() > 2.5,
        "no rate limiting happened ({elapsed:?})"
    );
}

/// A 429 storm across rooms (strict `rc_message`: 1/s after a burst of 2): one question in each
/// of 8 rooms at once. Every room is answered exactly once; the worst room's delay is printed
/// (`-- --nocapture`) for the closing note, not asserted (timing on a shared machine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_across_rooms_answers_every_room_once() {
    use_strict_rate_limits();
    init_logs();
    let bot = TestBot::new("[rate_limits]\nper_user = 100\nper_room = 100\n").await;
    let running = bot.start().await;
    let alice = TestUser::new("alice").await;
    // One asker per room, each within its own burst: the storm is the bot's alone.
    let mut rooms = Vec::new();
    for _ in 0..8 {
        let asker = TestUser::new("asker").await;
        let room = alice
            .create_room(&[&bot.user_id, &asker.user_id], false, false)
            .await;
        let theirs = asker
            .client
            .join_room_by_id(room.room_id())
            .await
            .expect("the asker joins");
        rooms.push((asker, theirs));
    }
    for (_, room) in &rooms {
        alice.wait_joined(room.room_id(), &bot.user_id).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let sent = futures_util::future::join_all(rooms.iter().enumerate().map(|(i, (_, room))| {
        let text = format!("!kratom what is kratom? ({i})");
        async move { (send_text(room, &text, &[]).await, now_ms()) }
    }))
    .await;
    let asked: Vec<_> = sent.into_iter().collect();
    // From sending the question to the homeserver's timestamp on the reply (same machine clock).
    let mut delays = Vec::new();
    for (q, sent_ms) in &asked {
        let reply = alice.wait_reply(&bot.user_id, q).await;
        let at: i64 = reply.event.origin_server_ts.0.into();
        delays.push((at - sent_ms) as f64 / 1000.0);
    }
    running.stop().await.expect("clean stop");
    for (q, _) in &asked {
        assert_eq!(
            alice.replies_to(&bot.user_id, q).len(),
            1,
            "{q} answered once"
        );
    }
    let worst = delays.iter().copied().fold(0.0, f64::max);
    println!(
        "429 storm, 8 rooms: worst-room delay {worst:.1} s; per room {:?}",
        delays.iter().map(|d| format!("{d:.1}")).collect::<Vec<_>>()
    );
}
