//! Measurement, not a check (ignored by default): question-to-reply latency in an unencrypted
//! group room and an encrypted DM, and the bot's resident memory.
//!
//!   cargo test --test matrix_latency -- --ignored --nocapture
//!
//! With KRATOM_BOT_BIN=path/to/kratom-bot the bot runs as its own process (`run --config`), so
//! its RSS can be read from /proc; otherwise it runs inside the test process.
mod support;

use std::time::{Duration, Instant};

use matrix_sdk::Room;
use support::*;

const ROUNDS: usize = 20;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn measure(
    user: &TestUser,
    bot: &matrix_sdk::ruma::UserId,
    room: &Room,
    prefix: &str,
) -> Vec<Duration> {
    let mut out = Vec::new();
    for i in 0..ROUNDS {
        let t = Instant::now();
        let q = send_text(
            room,
            &format!("{prefix}is kratom legal in the US? ({i})"),
            &[],
        )
        .await;
        user.wait_reply(bot, &q).await;
        out.push(t.elapsed());
    }
    out
}

fn report(name: &str, mut d: Vec<Duration>) {
    d.sort();
    println!(
        "{name}: n={} first={:?} p50={:?} p95={:?} max={:?}",
        d.len(),
        d.first().copied().unwrap_or_default(),
        percentile(&d, 0.5),
        percentile(&d, 0.95),
        d.last().copied().unwrap_or_default()
    );
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run with --ignored --nocapture"]
async fn reply_latency_and_memory() {
    init_logs();
    let bot = TestBot::new(
        "[rate_limits]\nper_user = 1000\nper_room = 1000\n[logging]\nfilter = \"warn\"\n",
    )
    .await;
    let external = std::env::var_os("KRATOM_BOT_BIN");
    let mut child = None;
    let mut handle = None;
    match &external {
        Some(bin) => {
            child = Some(
                std::process::Command::new(bin)
                    .args(["run", "--config"])
                    .arg(&bot.config_path)
                    .spawn()
                    .expect("start the bot binary"),
            );
        }
        None => handle = Some(bot.start().await),
    }
    let alice = TestUser::new("alice").await;
    let bob = TestUser::new("bob").await;

    let group = alice
        .create_room(&[&bot.user_id, &bob.user_id], false, false)
        .await;
    bob.client
        .join_room_by_id(group.room_id())
        .await
        .expect("join");
    alice.wait_joined(group.room_id(), &bot.user_id).await;
    let plain = measure(&alice, &bot.user_id, &group, "!kratom ").await;

    let dm = alice.create_room(&[&bot.user_id], true, true).await;
    alice.wait_joined(dm.room_id(), &bot.user_id).await;
    let encrypted = measure(&alice, &bot.user_id, &dm, "").await;

    println!(
        "build: {}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    report("unencrypted group room", plain);
    report("encrypted DM", encrypted);
    match child.as_mut() {
        Some(c) => {
            println!("bot RSS (separate process): {:?} KiB", rss_kib(c.id()));
            let _ = c.kill();
            let _ = c.wait();
        }
        None => println!("bot RSS: run with KRATOM_BOT_BIN to measure it in its own process"),
    }
    if let Some(h) = handle {
        h.stop().await.expect("stop");
    }
}
