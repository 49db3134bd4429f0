//! Restarts, against a real Synapse: nothing is answered twice, and a message sent while the bot
//! was down is answered once when it comes back.
mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_nothing_is_answered_twice_and_missed_messages_once() {
    init_logs();
    let bot = TestBot::new("").await;
    let first = bot.start().await;
    let (alice, _bob, room) = group_room(&bot.user_id).await;

    let before = send_text(&room, "!kratom what is kratom?", &[]).await;
    alice.wait_reply(&bot.user_id, &before).await;
    first.stop().await.expect("clean stop");

    // While the bot is down: one addressed question and some chatter.
    let chatter = send_text(&room, "nice weather today", &[]).await;
    let missed = send_text(&room, "!kratom is kratom legal in the US?", &[]).await;

    let second = bot.start().await;
    alice.wait_reply(&bot.user_id, &missed).await;
    // Positive control for "nothing else": a new question after the restart is answered...
    let after = send_text(&room, "!kratom what are the side effects?", &[]).await;
    alice.wait_reply(&bot.user_id, &after).await;
    second.stop().await.expect("clean stop");

    // ...and a third start with nothing new answers nothing again.
    let third = bot.start().await;
    let control = send_text(&room, "!kratom does kratom show up on drug tests?", &[]).await;
    alice.wait_reply(&bot.user_id, &control).await;
    third.stop().await.expect("clean stop");

    for (name, q) in [
        ("before", &before),
        ("missed", &missed),
        ("after", &after),
        ("control", &control),
    ] {
        assert_eq!(
            alice.replies_to(&bot.user_id, q).len(),
            1,
            "{name}: answered exactly once"
        );
    }
    assert!(
        alice.replies_to(&bot.user_id, &chatter).is_empty(),
        "chatter was answered"
    );
    let from_bot = alice
        .seen
        .lock()
        .expect("lock")
        .iter()
        .filter(|s| s.event.sender == bot.user_id)
        .count();
    assert_eq!(from_bot, 4, "the bot sent exactly the four answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_messages_while_down_are_caught_up_through_the_gap() {
    init_logs();
    let bot = TestBot::new("").await;
    let alice = TestUser::new("alice").await;
    let bob = TestUser::new("bob").await;
    let first = bot.start().await;
    let room = alice
        .create_room(&[&bot.user_id, &bob.user_id], false, false)
        .await;
    bob.client
        .join_room_by_id(room.room_id())
        .await
        .expect("bob joins");
    alice.wait_joined(room.room_id(), &bot.user_id).await;
    let warm = send_text(&room, "!kratom hello", &[]).await;
    alice.wait_reply(&bot.user_id, &warm).await;
    first.stop().await.expect("clean stop");

    // More than a sync timeline holds (Synapse sends 10 per room after a gap): the early question
    // is only reachable by paginating back.
    let early = send_text(&room, "!kratom what is kratom?", &[]).await;
    for i in 0..15 {
        send_text(&room, &format!("chatter {i}"), &[]).await;
    }
    let late = send_text(&room, "!kratom is it addictive?", &[]).await;

    let second = bot.start().await;
    alice.wait_reply(&bot.user_id, &late).await;
    alice.wait_reply(&bot.user_id, &early).await;
    second.stop().await.expect("clean stop");
    assert_eq!(alice.replies_to(&bot.user_id, &early).len(), 1);
    assert_eq!(alice.replies_to(&bot.user_id, &late).len(), 1);
    assert_eq!(alice.replies_to(&bot.user_id, &warm).len(), 1);
}

/// A reply the homeserver refused is not lost: the question stays in the bot's inbox and is
/// answered once sending is possible again (here: the room let only moderators speak, then
/// gave the bot a voice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_could_not_be_sent_is_retried_from_the_inbox() {
    use matrix_sdk::ruma::api::client::room::create_room::v3::Request as CreateRoomRequest;
    use matrix_sdk::ruma::serde::Raw;
    use matrix_sdk::ruma::Int;

    init_logs();
    let bot = TestBot::new("").await;
    let running = bot.start().await;
    let alice = TestUser::new("alice").await;
    let bob = TestUser::new("bob").await;
    let mut req = CreateRoomRequest::new();
    req.invite = vec![bot.user_id.clone(), bob.user_id.clone()];
    // Only power 50 may post messages; alice (creator, 100) can, the bot (0) cannot.
    req.power_level_content_override =
        Some(Raw::from_json_string(r#"{"events_default": 50}"#.to_string()).expect("json"));
    let room = alice.client.create_room(req).await.expect("create room");
    bob.client
        .join_room_by_id(room.room_id())
        .await
        .expect("bob joins");
    alice.wait_joined(room.room_id(), &bot.user_id).await;

    let q = send_text(&room, "!kratom is kratom legal in the US?", &[]).await;
    // The bot tries, is refused (403), and keeps the question.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(alice.replies_to(&bot.user_id, &q).is_empty());
    room.update_power_levels(vec![(&bot.user_id, Int::from(50))])
        .await
        .expect("give the bot a voice");
    // The inbox sweep (every 15 s) sends it now, once.
    let reply = alice.wait_reply(&bot.user_id, &q).await;
    assert!(reply.event.content.body().contains("Sources:"));
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(alice.replies_to(&bot.user_id, &q).len(), 1);
    running.stop().await.expect("clean stop");
}
