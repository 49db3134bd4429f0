//! A crash under traffic, against a real Synapse: the bot runs as its own process (`kratom-bot
//! run`), is killed with SIGKILL while questions arrive in 20 rooms (4 of them encrypted), and is
//! started again. Every question is answered exactly once, encrypted ones included.
mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use matrix_sdk::ruma::OwnedEventId;
use support::*;

/// The bot's process; killed when dropped, so a failing test leaves no bot running.
struct BotProcess(Child);

impl BotProcess {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn_bot(bot: &TestBot) -> BotProcess {
    BotProcess(
        Command::new(env!("CARGO_BIN_EXE_kratom-bot"))
            .args(["run", "--config"])
            .arg(&bot.config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start kratom-bot run"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_traffic_in_20_rooms_loses_nothing_and_repeats_nothing() {
    init_logs();
    let bot = TestBot::new("[rate_limits]\nper_user = 100\nper_room = 100\n").await;
    let mut child = spawn_bot(&bot);
    let alice = TestUser::new("alice").await;
    let bob = TestUser::new("bob").await;
    let mut rooms = Vec::new();
    for i in 0..20 {
        let room = alice
            .create_room(&[&bot.user_id, &bob.user_id], i % 5 == 0, false)
            .await;
        bob.client
            .join_room_by_id(room.room_id())
            .await
            .expect("bob joins");
        rooms.push(room);
    }
    for room in &rooms {
        alice.wait_joined(room.room_id(), &bot.user_id).await;
    }

    let mut questions: Vec<OwnedEventId> = Vec::new();
    for (i, room) in rooms.iter().enumerate() {
        if i == 10 {
            // Mid-traffic: the process dies at once, whatever it was doing.
            child.kill();
        }
        questions.push(send_text(room, &format!("!kratom what is kratom? ({i})"), &[]).await);
    }
    let mut child = spawn_bot(&bot);
    for q in &questions {
        alice.wait_reply(&bot.user_id, q).await;
    }
    // Time for any duplicate to show up.
    tokio::time::sleep(Duration::from_secs(5)).await;
    child.kill();
    for (i, q) in questions.iter().enumerate() {
        assert_eq!(
            alice.replies_to(&bot.user_id, q).len(),
            1,
            "room {i} ({}encrypted): answered exactly once",
            if i % 5 == 0 { "" } else { "not " }
        );
    }
}
