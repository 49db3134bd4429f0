//! Invites and leaving, against a real Synapse: invites from outside the allowlist are declined,
//! allowed ones joined, and the bot leaves a room once it is alone.
mod support;

use std::time::Duration;

use matrix_sdk::ruma::RoomId;
use matrix_sdk::RoomState;
use support::*;

/// Waits until the bot's own client sees `room` in `state`.
async fn wait_state(bot: &kratom_bot::runtime::BotHandle, room: &RoomId, state: RoomState) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if bot
            .bot()
            .client()
            .get_room(room)
            .is_some_and(|r| r.state() == state)
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "bot never reached {state:?} in {room}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_from_outside_the_allowlist_is_declined() {
    init_logs();
    let alice = TestUser::new("alice").await;
    let carol = TestUser::new("carol").await;
    // Only carol may invite the bot.
    let bot = TestBot::new(&format!(
        "[invites]\nallow_users = [\"{}\"]\n",
        carol.user_id
    ))
    .await;
    let running = bot.start().await;

    let refused = alice.create_room(&[&bot.user_id], false, false).await;
    wait_state(&running, refused.room_id(), RoomState::Left).await;
    // Positive control: carol's invite is accepted.
    let accepted = carol.create_room(&[&bot.user_id], false, false).await;
    carol.wait_joined(accepted.room_id(), &bot.user_id).await;
    running.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_leaves_a_room_once_it_is_alone() {
    init_logs();
    let bot = TestBot::new("").await;
    let running = bot.start().await;
    let alice = TestUser::new("alice").await;
    let room = alice.create_room(&[&bot.user_id], false, false).await;
    alice.wait_joined(room.room_id(), &bot.user_id).await;
    wait_state(&running, room.room_id(), RoomState::Joined).await;
    room.leave().await.expect("alice leaves");
    wait_state(&running, room.room_id(), RoomState::Left).await;
    running.stop().await.expect("clean stop");
}
