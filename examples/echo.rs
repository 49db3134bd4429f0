//! The load benchmark's baseline on kratom-bot's own plumbing: the same matrix-sdk build,
//! features and SQLite store, and the same config file, but no triage, templates or limits. It
//! replies to every text message with an m.notice rich reply "echo: <body>".
//!
//!   KRATOM_BOT_PASSWORD=... cargo run --release --example echo -- --config config.toml
//!
//! Used by scripts/bench-load.sh (KRATOM_SDK_ECHO_BIN) to show what the bot's own work costs
//! next to the homeserver round trip.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use kratom_bot::config::Config;
use matrix_sdk::config::{SyncSettings, SyncToken};
use matrix_sdk::ruma::events::room::member::StrippedRoomMemberEvent;
use matrix_sdk::ruma::events::room::message::{
    AddMentions, ForwardThread, MessageType, OriginalSyncRoomMessageEvent, RoomMessageEventContent,
};
use matrix_sdk::{Client, Room, RoomState};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "config.toml")]
    config: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = Config::load(&args.config)?;
    let password = std::env::var("KRATOM_BOT_PASSWORD").context("set KRATOM_BOT_PASSWORD")?;
    let store = config.storage.data_dir.join("echo-store");
    let client = Client::builder()
        .homeserver_url(&config.matrix.homeserver_url)
        .sqlite_store(&store, None)
        .build()
        .await?;
    client
        .matrix_auth()
        .login_username(&config.matrix.user_id, &password)
        .initial_device_display_name("echo")
        .send()
        .await?;
    client.add_event_handler(
        |ev: StrippedRoomMemberEvent, room: Room, c: Client| async move {
            if c.user_id() == Some(&*ev.state_key) && room.state() == RoomState::Invited {
                for _ in 0..8 {
                    if room.join().await.is_ok() {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                }
            }
        },
    );
    let first = client.sync_once(SyncSettings::default()).await?;
    client.add_event_handler(
        |ev: OriginalSyncRoomMessageEvent, room: Room, c: Client| async move {
            if c.user_id() == Some(&*ev.sender) || room.state() != RoomState::Joined {
                return;
            }
            let MessageType::Text(text) = &ev.content.msgtype else {
                return;
            };
            let body = format!("echo: {}", text.body);
            let full = ev.into_full_event(room.room_id().to_owned());
            let reply = RoomMessageEventContent::notice_plain(body).make_reply_to(
                &full,
                ForwardThread::Yes,
                AddMentions::Yes,
            );
            if let Err(e) = room.send(reply).await {
                eprintln!("echo: send failed: {e}");
            }
        },
    );
    // A loop of sync_once, as the bot's own runtime does: `Client::sync()` sleeps about a second
    // after any sync that returns quickly (shared/matrix-notes.md), which would be the baseline's
    // whole latency.
    let mut token = first.next_batch;
    loop {
        let settings = SyncSettings::default()
            .timeout(std::time::Duration::from_secs(30))
            .token(SyncToken::Specific(token.clone()));
        match client.sync_once(settings).await {
            Ok(response) => token = response.next_batch,
            Err(e) => {
                eprintln!("echo: sync failed: {e}");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}
