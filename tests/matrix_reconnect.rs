//! A homeserver restart under a running bot: the sync loop backs off, reconnects, and answers
//! again without a restart of its own.
mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_reconnects_after_the_homeserver_restarts() {
    init_logs();
    let bot = TestBot::new("").await;
    let running = bot.start().await;
    let alice = TestUser::new("alice").await;
    let room = alice.create_room(&[&bot.user_id], false, true).await;
    alice.wait_joined(room.room_id(), &bot.user_id).await;
    let before = send_text(&room, "what is kratom?", &[]).await;
    alice.wait_reply(&bot.user_id, &before).await;

    synapse().restart();

    let after = send_text(&room, "is kratom legal in the US?", &[]).await;
    alice.wait_reply(&bot.user_id, &after).await;
    running.stop().await.expect("clean stop");
    assert_eq!(
        alice.replies_to(&bot.user_id, &before).len(),
        1,
        "answered twice after reconnect"
    );
    assert_eq!(alice.replies_to(&bot.user_id, &after).len(), 1);
}
