//! Harness for the Matrix integration tests: one real Synapse per test binary (started through
//! scripts/synapse.sh in a temp dir on a free 127.0.0.1 port, stopped when the binary exits),
//! users registered through the shared-secret admin API, test clients on matrix-sdk, and the bot
//! itself running in-process from the library.
//!
//! Nothing is skipped silently: if Synapse is not installed or does not start, tests fail and say
//! how to fix it (`scripts/synapse.sh install`).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use kratom_bot::config::Config;
use kratom_bot::library::ContentSource;
use kratom_bot::runtime::{self, BotHandle};
use kratom_bot::Engine;
use matrix_sdk::config::{SyncSettings, SyncToken};
use matrix_sdk::ruma::api::client::room::create_room::v3::Request as CreateRoomRequest;
use matrix_sdk::ruma::events::room::message::{OriginalSyncRoomMessageEvent, Relation};
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId};
use matrix_sdk::{Client, Room};
use tempfile::TempDir;
use tokio::sync::broadcast;

pub const PASSWORD: &str = "correct-horse-battery-staple";
pub const WAIT: Duration = Duration::from_secs(30);

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The response library the bot and the tests' expectations use.
pub fn responses_dir() -> PathBuf {
    std::env::var_os("KRATOM_TEST_RESPONSES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("responses"))
}

pub fn engine() -> Engine {
    let dir = responses_dir();
    match Engine::load(&ContentSource::Folder(dir.clone())) {
        Ok(e) => e,
        Err(e) => panic!(
            "the response library in {} does not load: {e}",
            dir.display()
        ),
    }
}

pub struct Synapse {
    pub url: String,
    pub port: u16,
    pub dir: PathBuf,
    _tmp: TempDir,
}

static SYNAPSE: OnceLock<Synapse> = OnceLock::new();
static STRICT: OnceLock<bool> = OnceLock::new();

/// Use a Synapse with a strict `rc_message` in this test binary (call before `synapse()`).
pub fn use_strict_rate_limits() {
    let _ = STRICT.set(true);
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("no free port on 127.0.0.1");
    l.local_addr().expect("local addr").port()
}

fn script() -> PathBuf {
    repo_root().join("scripts/synapse.sh")
}

/// The Synapse of this test binary, started on first use.
pub fn synapse() -> &'static Synapse {
    SYNAPSE.get_or_init(|| {
        let tmp = tempfile::Builder::new()
            .prefix("kratom-synapse-")
            .tempdir()
            .expect("temp dir");
        let dir = tmp.path().join("hs");
        let port = free_port();
        let strict = STRICT.get().copied().unwrap_or(false);
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(&dir)
            .arg(port.to_string())
            .env("KRATOM_SYNAPSE_WATCH_PID", std::process::id().to_string())
            .env("KRATOM_SYNAPSE_STRICT_RC", if strict { "1" } else { "0" })
            .output()
            .expect("cannot run scripts/synapse.sh");
        assert!(
            out.status.success(),
            "Synapse did not start ({}). Install it with `scripts/synapse.sh install` \
             (venv: KRATOM_SYNAPSE_VENV, default .venv-synapse).\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        Synapse {
            url: format!("http://127.0.0.1:{port}"),
            port,
            dir,
            _tmp: tmp,
        }
    })
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A user name unique within this test binary.
pub fn unique(name: &str) -> String {
    format!("{name}{}", COUNTER.fetch_add(1, Ordering::SeqCst))
}

impl Synapse {
    /// Stops Synapse and starts it again on the same port with the same data (a homeserver
    /// restart as clients see it).
    pub fn restart(&self) {
        self.stop();
        self.start();
    }

    /// Stops Synapse (clients then get connection errors until [`Synapse::start`]).
    pub fn stop(&self) {
        let stop = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.dir)
            .status();
        assert!(stop.is_ok_and(|s| s.success()), "synapse.sh stop failed");
    }

    /// Starts the stopped Synapse again on the same port with the same data.
    pub fn start(&self) {
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(&self.dir)
            .arg(self.port.to_string())
            .env("KRATOM_SYNAPSE_WATCH_PID", std::process::id().to_string())
            .output()
            .expect("cannot run scripts/synapse.sh");
        assert!(
            out.status.success(),
            "Synapse did not restart: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Registers a user (password [`PASSWORD`]) and returns its id.
    pub fn register(&self, localpart: &str) -> OwnedUserId {
        let out = Command::new("bash")
            .arg(script())
            .args(["register"])
            .arg(&self.dir)
            .arg(self.port.to_string())
            .arg(localpart)
            .arg(PASSWORD)
            .output()
            .expect("cannot run scripts/synapse.sh register");
        assert!(
            out.status.success(),
            "register {localpart}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        UserId::parse(id).expect("registered user id")
    }
}

/// A three-member group room (two members is a DM): alice creates it, the bot and bob are
/// invited, bob joins, and alice has seen both join. Returns alice, bob and alice's view.
pub async fn group_room(bot: &UserId) -> (TestUser, TestUser, Room) {
    let alice = TestUser::new("alice").await;
    let bob = TestUser::new("bob").await;
    let room = alice.create_room(&[bot, &bob.user_id], false, false).await;
    bob.client
        .join_room_by_id(room.room_id())
        .await
        .expect("bob joins");
    alice.wait_joined(room.room_id(), bot).await;
    alice.wait_joined(room.room_id(), &bob.user_id).await;
    (alice, bob, room)
}

/// A message the test client saw, with the room it arrived in.
#[derive(Clone, Debug)]
pub struct Seen {
    pub room_id: OwnedRoomId,
    pub event: OriginalSyncRoomMessageEvent,
}

/// A test user: a matrix-sdk client with its own hand-driven sync loop, recording every message.
pub struct TestUser {
    pub client: Client,
    pub user_id: OwnedUserId,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub notify: broadcast::Sender<()>,
    _store: TempDir,
}

impl TestUser {
    pub async fn new(name: &str) -> TestUser {
        let hs = synapse();
        let user_id = hs.register(&unique(name));
        let store = tempfile::tempdir().expect("temp dir");
        let client = Client::builder()
            .homeserver_url(&hs.url)
            .sqlite_store(store.path(), None)
            .build()
            .await
            .expect("client");
        client
            .matrix_auth()
            .login_username(user_id.as_str(), PASSWORD)
            .initial_device_display_name("test")
            .send()
            .await
            .expect("login");
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let (notify, _) = broadcast::channel(256);
        {
            let seen = seen.clone();
            let notify = notify.clone();
            client.add_event_handler(move |ev: OriginalSyncRoomMessageEvent, room: Room| {
                let seen = seen.clone();
                let notify = notify.clone();
                async move {
                    seen.lock().expect("lock").push(Seen {
                        room_id: room.room_id().to_owned(),
                        event: ev,
                    });
                    let _ = notify.send(());
                }
            });
        }
        // First sync before returning, so rooms and device lists are known.
        let first = client
            .sync_once(SyncSettings::default())
            .await
            .expect("first sync");
        let c = client.clone();
        tokio::spawn(async move {
            let mut token = first.next_batch;
            loop {
                let settings = SyncSettings::default()
                    .timeout(Duration::from_secs(10))
                    .token(SyncToken::Specific(token.clone()));
                match c.sync_once(settings).await {
                    Ok(r) => token = r.next_batch,
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        });
        TestUser {
            client,
            user_id,
            seen,
            notify,
            _store: store,
        }
    }

    /// Creates a room with `invite`d users; `encrypted` adds m.room.encryption, `direct` marks a DM.
    pub async fn create_room(&self, invite: &[&UserId], encrypted: bool, direct: bool) -> Room {
        use matrix_sdk::ruma::events::room::encryption::RoomEncryptionEventContent;
        use matrix_sdk::ruma::events::InitialStateEvent;
        let mut req = CreateRoomRequest::new();
        req.invite = invite.iter().map(|u| (*u).to_owned()).collect();
        req.is_direct = direct;
        if encrypted {
            req.initial_state = vec![InitialStateEvent::with_empty_state_key(
                RoomEncryptionEventContent::with_recommended_defaults(),
            )
            .to_raw_any()];
        }
        self.client.create_room(req).await.expect("create room")
    }

    /// Waits until `user` has joined `room` (as seen by this client's sync).
    pub async fn wait_joined(&self, room: &RoomId, user: &UserId) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(r) = self.client.get_room(room) {
                if let Ok(Some(m)) = r.get_member_no_sync(user).await {
                    if *m.membership()
                        == matrix_sdk::ruma::events::room::member::MembershipState::Join
                    {
                        return;
                    }
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{user} did not join {room} in time"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for a message from `from` that relates to `question` (reply or thread), and returns it.
    pub async fn wait_reply(&self, from: &UserId, question: &OwnedEventId) -> Seen {
        let mut rx = self.notify.subscribe();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(s) = self.replies_to(from, question).into_iter().next() {
                return s;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(
                !left.is_zero(),
                "no reply from {from} to {question} within {WAIT:?}"
            );
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), rx.recv()).await;
        }
    }

    /// Every message from `from` seen so far that replies to `question`.
    pub fn replies_to(&self, from: &UserId, question: &OwnedEventId) -> Vec<Seen> {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .filter(|s| s.event.sender == from && in_reply_to(&s.event).as_ref() == Some(question))
            .cloned()
            .collect()
    }
}

/// The event a message replies to (rich reply, or the in-reply-to of a thread relation).
pub fn in_reply_to(ev: &OriginalSyncRoomMessageEvent) -> Option<OwnedEventId> {
    match &ev.content.relates_to {
        Some(Relation::Reply(r)) => Some(r.in_reply_to.event_id.clone()),
        Some(Relation::Thread(t)) => t.in_reply_to.as_ref().map(|r| r.event_id.clone()),
        _ => None,
    }
}

/// A bot account with its data dir and config; start and stop it as often as a test needs.
pub struct TestBot {
    pub user_id: OwnedUserId,
    pub config: Config,
    pub config_path: PathBuf,
    _dir: TempDir,
}

impl TestBot {
    /// Registers the bot, writes its config (`extra` TOML appended) and runs `login` once.
    pub async fn new(extra: &str) -> TestBot {
        let hs = synapse();
        let user_id = hs.register(&unique("kratombot"));
        let dir = tempfile::tempdir().expect("temp dir");
        let config_path = dir.path().join("config.toml");
        // No `responses_dir` by default: the bot serves the library built into it, as an
        // installed binary with a minimal config does.
        let responses = std::env::var_os("KRATOM_TEST_RESPONSES")
            .map(|d| format!("responses_dir = \"{}\"\n", PathBuf::from(d).display()))
            .unwrap_or_default();
        let text = format!(
            "[matrix]\nhomeserver_url = \"{}\"\nuser_id = \"{}\"\n\n[storage]\ndata_dir = \"data\"\n\n\
             [bot]\n{responses}{extra}\n",
            hs.url,
            user_id,
        );
        std::fs::write(&config_path, text).expect("write config");
        let config = Config::load(&config_path).expect("test config is valid");
        runtime::login(&config, PASSWORD).await.expect("bot login");
        TestBot {
            user_id,
            config,
            config_path,
            _dir: dir,
        }
    }

    pub async fn start(&self) -> BotHandle {
        runtime::start(self.config.clone())
            .await
            .expect("bot start")
    }

    pub fn data_dir(&self) -> &Path {
        &self.config.storage.data_dir
    }
}

/// Sends a text message (with optional m.mentions) and returns its event id.
pub async fn send_text(room: &Room, body: &str, mention: &[&UserId]) -> OwnedEventId {
    use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
    use matrix_sdk::ruma::events::Mentions;
    let content = RoomMessageEventContent::text_plain(body).add_mentions(Mentions::with_user_ids(
        mention.iter().map(|u| (*u).to_owned()),
    ));
    room.send(content).await.expect("send").response.event_id
}

/// Installs a test log subscriber once (RUST_LOG=kratom_bot=debug to see the bot's decisions).
pub fn init_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    });
}

// ---- the operator endpoint (/metrics, /healthz) as a scraper sees it ----

/// One plain HTTP/1.1 GET, as a scraper sends it: (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the metrics listener");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send request");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read response");
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

/// The value of one sample line (`name{labels} value`) in Prometheus text, if present.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// Polls `/healthz` until it answers `want` (200 or 503), for at most `limit`.
pub async fn wait_health(addr: SocketAddr, want: u16, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let (status, body) = tokio::task::spawn_blocking(move || http_get(addr, "/healthz"))
            .await
            .expect("healthz");
        if status == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/healthz never answered {want}: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
