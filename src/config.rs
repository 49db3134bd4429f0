//! The bot's configuration: one TOML file, validated once at start-up so the rest of the program
//! sees a [`Config`] it can trust. Secrets are never in this file: they come from the environment
//! or from files named by the environment (see [`secret_from_env`]).
//!
//! Deployment tooling writes `[matrix] homeserver_url`, `[matrix] user_id` and
//! `[storage] data_dir`: keep those names exactly.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use matrix_sdk::ruma::{RoomId, RoomOrAliasId, UserId};
use serde::Deserialize;

use crate::library::ContentSource;

/// Why a configuration could not be used. Every variant names the key and what is expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// TOML syntax errors, unknown keys, wrong types, missing keys (toml names the key and line).
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid config: `{key}` {expected}")]
    Invalid { key: String, expected: String },
    #[error("cannot read secret file {path} (from {var}): {source}")]
    SecretFile {
        var: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn invalid(key: impl Into<String>, expected: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        expected: expected.into(),
    }
}

/// The validated configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub matrix: MatrixConfig,
    pub storage: StorageConfig,
    #[serde(default)]
    pub bot: BotConfig,
    #[serde(default)]
    pub rate_limits: RateLimitConfig,
    #[serde(default)]
    pub invites: InviteConfig,
    #[serde(default)]
    pub logging: LoggingConfig,
    /// Per-room overrides, keyed by room id (`!abc:example.org`).
    #[serde(default)]
    pub rooms: BTreeMap<String, RoomOverride>,
    #[serde(default)]
    pub moderation: ModerationConfig,
    #[serde(default)]
    pub alerts: AlertsConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
}

/// Who may give moderator commands, and where alerts go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModerationConfig {
    /// The management room (id `!x:server` or alias `#x:server`): alerts go there, and its
    /// members may give moderator commands in it. None: no alerts, no management room.
    #[serde(default)]
    pub room: Option<String>,
    /// In other rooms, a moderator command needs at least this power level there.
    #[serde(default = "default_power_level")]
    pub power_level: i64,
    /// Matrix user ids that may give every moderator command anywhere.
    #[serde(default)]
    pub admins: Vec<String>,
}

impl Default for ModerationConfig {
    fn default() -> Self {
        ModerationConfig {
            room: None,
            power_level: default_power_level(),
            admins: Vec::new(),
        }
    }
}

/// Crisis alerts to the management room.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Quote the message in the alert (off: the alert links to it instead).
    #[serde(default)]
    pub include_text: bool,
    /// Alert on crises in DMs too (off by default: a DM is private).
    #[serde(default)]
    pub dm_alerts: bool,
    /// One alert per person within this many minutes.
    #[serde(default = "default_alert_window")]
    pub window_minutes: u64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            include_text: false,
            dm_alerts: false,
            window_minutes: default_alert_window(),
        }
    }
}

/// The optional HTTP listener for Prometheus (`/metrics`) and a health check (`/healthz`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Off by default: nothing listens unless an operator asks.
    #[serde(default)]
    pub enabled: bool,
    /// Loopback by default; the numbers are not secret, but nothing here needs the network.
    #[serde(default = "default_metrics_listen")]
    pub listen: std::net::SocketAddr,
    /// `/healthz` fails when the last successful sync is older than this.
    #[serde(default = "default_max_sync_age")]
    pub max_sync_age_secs: u64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: false,
            listen: default_metrics_listen(),
            max_sync_age_secs: default_max_sync_age(),
        }
    }
}

fn default_metrics_listen() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 9184))
}
fn default_max_sync_age() -> u64 {
    300
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixConfig {
    pub homeserver_url: String,
    pub user_id: String,
    #[serde(default = "default_device_name")]
    pub device_name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Relative paths are relative to the config file's directory.
    pub data_dir: PathBuf,
    /// The audit log and counters are deleted after this many days.
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotConfig {
    #[serde(default = "default_prefix")]
    pub command_prefix: String,
    #[serde(default = "default_region")]
    pub default_region: String,
    /// A `responses/` folder to serve instead of the library built into the binary. Relative
    /// paths are relative to the config file's directory.
    #[serde(default)]
    pub responses_dir: Option<PathBuf>,
    /// Messages addressed to the bot while it was down are answered up to this age.
    #[serde(default = "default_catch_up_minutes")]
    pub catch_up_minutes: u64,
    /// Default for rooms without an override.
    #[serde(default)]
    pub mode: RoomMode,
    #[serde(default = "default_true")]
    pub crisis_watch: bool,
    /// Users whose messages are never answered (besides the account's own ignore list).
    #[serde(default)]
    pub ignored_users: Vec<String>,
}

impl BotConfig {
    /// The library the bot serves: the configured folder, or the built-in one.
    pub fn responses(&self) -> ContentSource {
        ContentSource::from_option(self.responses_dir.as_deref())
    }
}

impl Default for BotConfig {
    fn default() -> Self {
        BotConfig {
            command_prefix: default_prefix(),
            default_region: default_region(),
            responses_dir: None,
            catch_up_minutes: default_catch_up_minutes(),
            mode: RoomMode::default(),
            crisis_watch: true,
            ignored_users: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    #[serde(default = "default_per_user")]
    pub per_user: u32,
    #[serde(default = "default_window")]
    pub per_user_window_secs: u64,
    #[serde(default = "default_per_room")]
    pub per_room: u32,
    #[serde(default = "default_window")]
    pub per_room_window_secs: u64,
    /// One crisis reply per person within this many seconds; later crisis messages from them
    /// are left to the moderator alert (the first is never dropped).
    #[serde(default = "default_crisis_reply_window")]
    pub crisis_reply_window_secs: u64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_user: default_per_user(),
            per_user_window_secs: default_window(),
            per_room: default_per_room(),
            per_room_window_secs: default_window(),
            crisis_reply_window_secs: default_crisis_reply_window(),
        }
    }
}

fn default_crisis_reply_window() -> u64 {
    600
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteConfig {
    /// Matrix user ids whose invites are accepted.
    #[serde(default)]
    pub allow_users: Vec<String>,
    /// Server names whose users' invites are accepted. When both lists are empty, the bot's own
    /// server is allowed.
    #[serde(default)]
    pub allow_servers: Vec<String>,
    /// Leave a room once nobody but the bot is left in it.
    #[serde(default = "default_true")]
    pub leave_when_alone: bool,
}

impl Default for InviteConfig {
    fn default() -> Self {
        InviteConfig {
            allow_users: Vec::new(),
            allow_servers: Vec::new(),
            leave_when_alone: true,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    #[serde(default)]
    pub format: LogFormat,
    /// A tracing filter (`info`, `kratom_bot=debug`); `RUST_LOG` wins when set.
    #[serde(default)]
    pub filter: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// When the bot answers in a group room. DMs are always answered unless the room is `off`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoomMode {
    /// Only messages with the command prefix or a mention of the bot.
    #[default]
    Mention,
    /// Every text message.
    All,
    /// No answers (crisis watch still applies if enabled).
    Off,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomOverride {
    pub region: Option<String>,
    pub mode: Option<RoomMode>,
    pub crisis_watch: Option<bool>,
}

/// The settings that apply to one room after overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSettings {
    pub region: String,
    pub mode: RoomMode,
    pub crisis_watch: bool,
}

fn default_device_name() -> String {
    "kratom-bot".into()
}
fn default_prefix() -> String {
    "!kratom".into()
}
fn default_region() -> String {
    "US".into()
}
fn default_catch_up_minutes() -> u64 {
    15
}
fn default_true() -> bool {
    true
}
fn default_per_user() -> u32 {
    5
}
fn default_per_room() -> u32 {
    20
}
fn default_window() -> u64 {
    60
}
fn default_power_level() -> i64 {
    50
}
fn default_alert_window() -> u64 {
    10
}
fn default_retention_days() -> u32 {
    90
}

impl Config {
    /// Reads, parses and validates a config file; relative paths become relative to its folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::from_toml(&text, base).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_owned(),
                message,
            },
            other => other,
        })
    }

    /// Parses and validates TOML text; `base` anchors relative paths.
    pub fn from_toml(text: &str, base: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<text>"),
            message: e.to_string(),
        })?;
        config.validate()?;
        if config.storage.data_dir.is_relative() {
            config.storage.data_dir = base.join(&config.storage.data_dir);
        }
        if let Some(dir) = config
            .bot
            .responses_dir
            .as_mut()
            .filter(|d| d.is_relative())
        {
            *dir = base.join(&*dir);
        }
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let url = url::Url::parse(&self.matrix.homeserver_url).map_err(|_| {
            invalid(
                "matrix.homeserver_url",
                "must be a URL such as https://matrix.example.org",
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(
                "matrix.homeserver_url",
                "must start with http:// or https://",
            ));
        }
        if !is_user_id(&self.matrix.user_id) {
            return Err(invalid(
                "matrix.user_id",
                "must be a full Matrix user id such as @kratom-bot:example.org",
            ));
        }
        if self.matrix.device_name.trim().is_empty() {
            return Err(invalid("matrix.device_name", "must not be empty"));
        }
        if self.storage.data_dir.as_os_str().is_empty() {
            return Err(invalid("storage.data_dir", "must be a directory path"));
        }
        let prefix = &self.bot.command_prefix;
        if prefix.trim().is_empty() || prefix.chars().any(char::is_whitespace) {
            return Err(invalid(
                "bot.command_prefix",
                "must be one word such as !kratom",
            ));
        }
        if !is_region(&self.bot.default_region) {
            return Err(invalid(
                "bot.default_region",
                "must be a region code such as US",
            ));
        }
        if !(1..=24 * 60).contains(&self.bot.catch_up_minutes) {
            return Err(invalid(
                "bot.catch_up_minutes",
                "must be between 1 and 1440 (one day); 0 would drop every message seen after a restart",
            ));
        }
        if self.metrics.max_sync_age_secs < 60 {
            return Err(invalid(
                "metrics.max_sync_age_secs",
                "must be at least 60: a sync long-polls for 30 s, so less would fail healthy bots",
            ));
        }
        for (i, user) in self.bot.ignored_users.iter().enumerate() {
            if !is_user_id(user) {
                return Err(invalid(
                    format!("bot.ignored_users[{i}]"),
                    "must be a Matrix user id",
                ));
            }
        }
        let rl = &self.rate_limits;
        for (key, value) in [
            ("rate_limits.per_user", u64::from(rl.per_user)),
            ("rate_limits.per_user_window_secs", rl.per_user_window_secs),
            ("rate_limits.per_room", u64::from(rl.per_room)),
            ("rate_limits.per_room_window_secs", rl.per_room_window_secs),
            (
                "rate_limits.crisis_reply_window_secs",
                rl.crisis_reply_window_secs,
            ),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        for (i, user) in self.invites.allow_users.iter().enumerate() {
            if !is_user_id(user) {
                return Err(invalid(
                    format!("invites.allow_users[{i}]"),
                    "must be a Matrix user id",
                ));
            }
        }
        for (i, server) in self.invites.allow_servers.iter().enumerate() {
            // A server name is `host` or `host:port`: no scheme, no user part.
            if server.is_empty()
                || server.contains(['@', '/'])
                || server.contains(char::is_whitespace)
            {
                return Err(invalid(
                    format!("invites.allow_servers[{i}]"),
                    "must be a server name such as example.org",
                ));
            }
        }
        if let Some(room) = &self.moderation.room {
            if !is_room_ref(room) {
                return Err(invalid(
                    "moderation.room",
                    "must be a room id (!abc:example.org) or alias (#mods:example.org)",
                ));
            }
            // An alias belongs to whoever created it first: the bot checks the room it points to
            // against the admins, so it needs some.
            if room.starts_with('#') && self.moderation.admins.is_empty() {
                return Err(invalid(
                    "moderation.room",
                    "is an alias: also list the management room's creator or an admin in \
                     [moderation] admins (the bot checks who owns the room the alias points to), \
                     or give the room id (!abc:example.org) instead",
                ));
            }
        }
        if !(0..=100).contains(&self.moderation.power_level) {
            return Err(invalid(
                "moderation.power_level",
                "must be a power level from 0 to 100",
            ));
        }
        for (i, user) in self.moderation.admins.iter().enumerate() {
            if !is_user_id(user) {
                return Err(invalid(
                    format!("moderation.admins[{i}]"),
                    "must be a Matrix user id",
                ));
            }
        }
        if !(1..=24 * 60).contains(&self.alerts.window_minutes) {
            return Err(invalid(
                "alerts.window_minutes",
                "must be from 1 to 1440 (one day)",
            ));
        }
        if !(1..=3650).contains(&self.storage.retention_days) {
            return Err(invalid(
                "storage.retention_days",
                "must be from 1 to 3650 days",
            ));
        }
        for (room, o) in &self.rooms {
            if RoomId::parse(room).is_err() {
                return Err(invalid(
                    format!("rooms.\"{room}\""),
                    "must be keyed by a room id such as \"!abc:example.org\"",
                ));
            }
            if let Some(region) = &o.region {
                if !is_region(region) {
                    return Err(invalid(
                        format!("rooms.\"{room}\".region"),
                        "must be a region code such as UK",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Replaces every region in the config by the library's canonical code (`GB` -> `UK`), or
    /// fails naming the key when the library has no help lines for it.
    pub fn resolve_regions(
        &mut self,
        resolve: impl Fn(&str) -> Option<String>,
        known: &[&str],
    ) -> Result<(), ConfigError> {
        let expected = || format!("must be one of the library's regions: {}", known.join(", "));
        self.bot.default_region = resolve(&self.bot.default_region)
            .ok_or_else(|| invalid("bot.default_region", expected()))?;
        for (room, o) in &mut self.rooms {
            if let Some(region) = &o.region {
                let canonical = resolve(region)
                    .ok_or_else(|| invalid(format!("rooms.\"{room}\".region"), expected()))?;
                o.region = Some(canonical);
            }
        }
        Ok(())
    }

    /// The bot's own server name, from its user id.
    pub fn server_name(&self) -> &str {
        // `validate` has parsed the user id, so it has a server name.
        <&UserId>::try_from(self.matrix.user_id.as_str()).map_or("", |id| id.server_name().as_str())
    }

    /// Settings for a room: the override if one exists, the bot defaults otherwise.
    pub fn room_settings(&self, room_id: &str) -> RoomSettings {
        let o = self.rooms.get(room_id);
        RoomSettings {
            region: o
                .and_then(|o| o.region.clone())
                .unwrap_or_else(|| self.bot.default_region.clone())
                .to_ascii_uppercase(),
            mode: o.and_then(|o| o.mode).unwrap_or(self.bot.mode),
            crisis_watch: o
                .and_then(|o| o.crisis_watch)
                .unwrap_or(self.bot.crisis_watch),
        }
    }

    /// How long the audit log and counters are kept.
    pub fn retention(&self) -> Duration {
        Duration::from_secs(u64::from(self.storage.retention_days) * 24 * 3600)
    }

    /// Whether `user` is a configured bot admin.
    pub fn is_admin(&self, user: &str) -> bool {
        self.moderation.admins.iter().any(|a| a == user)
    }

    /// How old a message may be and still be answered after a restart.
    pub fn catch_up_window(&self) -> Duration {
        Duration::from_secs(self.bot.catch_up_minutes * 60)
    }

    /// Whether an invite from `inviter` may be accepted.
    pub fn invite_allowed(&self, inviter: &str) -> bool {
        let inv = &self.invites;
        if inv.allow_users.iter().any(|u| u == inviter) {
            return true;
        }
        let Ok(inviter) = UserId::parse(inviter) else {
            return false;
        };
        let server = inviter.server_name().as_str();
        if inv.allow_users.is_empty() && inv.allow_servers.is_empty() {
            return server == self.server_name();
        }
        inv.allow_servers.iter().any(|s| s == server)
    }

    pub fn session_path(&self) -> PathBuf {
        self.storage.data_dir.join("session.json")
    }
    pub fn matrix_store_path(&self) -> PathBuf {
        self.storage.data_dir.join("matrix-store")
    }
    pub fn bot_db_path(&self) -> PathBuf {
        self.storage.data_dir.join("kratom-bot.sqlite3")
    }
    pub fn recovery_key_path(&self) -> PathBuf {
        self.storage.data_dir.join("recovery-key")
    }
}

/// A room id or alias, as the spec defines them (ruma's parsers): room version 12 ids have no
/// `:server` part (`!opaque`), and a hand-written check once rejected them.
fn is_room_ref(s: &str) -> bool {
    <&RoomOrAliasId>::try_from(s).is_ok()
}

fn is_user_id(s: &str) -> bool {
    UserId::parse(s).is_ok()
}

/// Syntax only; whether the response library knows the region is checked at start-up
/// ([`Config::resolve_regions`]), since the library defines the regions.
fn is_region(s: &str) -> bool {
    (2..=16).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphabetic())
}

/// Reads a secret from `VAR`, or from the file named by `VAR_FILE` (trailing newline trimmed).
/// Returns `Ok(None)` when neither is set. The value is never logged.
pub fn secret_from_env(var: &str) -> Result<Option<String>, ConfigError> {
    if let Ok(value) = std::env::var(var) {
        if !value.is_empty() {
            return Ok(Some(value));
        }
    }
    let file_var = format!("{var}_FILE");
    if let Some(path) = std::env::var_os(&file_var) {
        let path = PathBuf::from(path);
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::SecretFile {
            var: file_var,
            path,
            source,
        })?;
        let value = text.trim_end_matches(['\n', '\r']).to_owned();
        return Ok((!value.is_empty()).then_some(value));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [matrix]
        homeserver_url = "http://127.0.0.1:8008"
        user_id = "@kratom-bot:example.org"
        [storage]
        data_dir = "data"
    "#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, Path::new("/etc/kratom"))
    }

    fn err(text: &str) -> String {
        match parse(text) {
            Ok(_) => panic!("config should be rejected"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = parse(MINIMAL).expect("valid");
        assert_eq!(c.bot.command_prefix, "!kratom");
        assert_eq!(c.bot.default_region, "US");
        assert_eq!(c.bot.catch_up_minutes, 15);
        assert_eq!(c.rate_limits.per_user, 5);
        assert_eq!(c.rate_limits.per_room, 20);
        assert_eq!(c.logging.format, LogFormat::Text);
        assert!(
            c.invites.leave_when_alone,
            "leave_when_alone defaults to true without [invites]"
        );
        assert!(
            c.bot.crisis_watch,
            "crisis_watch defaults to true without [bot]"
        );
        assert_eq!(c.storage.data_dir, PathBuf::from("/etc/kratom/data"));
        assert_eq!(c.storage.retention_days, 90);
        assert_eq!(c.moderation.power_level, 50);
        assert!(c.moderation.room.is_none() && c.moderation.admins.is_empty());
        assert!(!c.alerts.include_text && !c.alerts.dm_alerts);
        assert_eq!(c.alerts.window_minutes, 10);
        assert_eq!(c.server_name(), "example.org");
        let room = c.room_settings("!x:example.org");
        assert_eq!(
            room,
            RoomSettings {
                region: "US".into(),
                mode: RoomMode::Mention,
                crisis_watch: true
            }
        );
    }

    #[test]
    fn room_overrides_apply() {
        let c = parse(&format!(
            "{MINIMAL}\n[rooms.\"!a:example.org\"]\nregion = \"gb\"\nmode = \"all\"\ncrisis_watch = false\n"
        ))
        .expect("valid");
        let room = c.room_settings("!a:example.org");
        assert_eq!(
            room,
            RoomSettings {
                region: "GB".into(),
                mode: RoomMode::All,
                crisis_watch: false
            }
        );
    }

    #[test]
    fn errors_name_the_key() {
        let bad_url = MINIMAL.replace("http://127.0.0.1:8008", "127.0.0.1");
        assert!(err(&bad_url).contains("matrix.homeserver_url"));
        let bad_user = MINIMAL.replace("@kratom-bot:example.org", "kratom-bot");
        assert!(err(&bad_user).contains("matrix.user_id"));
        let missing = MINIMAL.replace("user_id = \"@kratom-bot:example.org\"", "");
        assert!(err(&missing).contains("user_id"), "{}", err(&missing));
        let bad_mode = format!("{MINIMAL}\n[rooms.\"!a:x\"]\nmode = \"loud\"\n");
        assert!(err(&bad_mode).contains("mode"), "{}", err(&bad_mode));
        let typo = format!("{MINIMAL}\n[bot]\ncomand_prefix = \"!k\"\n");
        assert!(err(&typo).contains("comand_prefix"), "{}", err(&typo));
        let zero = format!("{MINIMAL}\n[rate_limits]\nper_user = 0\n");
        assert!(err(&zero).contains("rate_limits.per_user"));
        let region = format!("{MINIMAL}\n[bot]\ndefault_region = \"U5\"\n");
        assert!(err(&region).contains("bot.default_region"));
        let room_key = format!("{MINIMAL}\n[rooms.general]\nmode = \"all\"\n");
        assert!(err(&room_key).contains("rooms.\"general\""));
        // Room version 12 ids have no server part; ids and aliases copied from a client parse.
        for ok in [
            "!Sy8Bc9x0fQ3kLm2nP4rT7uVwXyZ",
            "!abc:example.org",
            "#mods:example.org",
        ] {
            let cfg =
                format!("{MINIMAL}\n[moderation]\nroom = \"{ok}\"\nadmins = [\"@a:x.org\"]\n");
            assert!(parse(&cfg).is_ok(), "{ok} must be accepted");
            // An alias needs admins to check the room it points to against.
            let cfg = format!("{MINIMAL}\n[moderation]\nroom = \"{ok}\"\n");
            assert_eq!(
                parse(&cfg).is_ok(),
                ok.starts_with('!'),
                "{ok} without admins"
            );
            let cfg = format!("{MINIMAL}\n[rooms.\"{ok}\"]\nmode = \"all\"\n");
            assert_eq!(parse(&cfg).is_ok(), ok.starts_with('!'), "{ok}");
        }
        let no_window = format!("{MINIMAL}\n[bot]\ncatch_up_minutes = 0\n");
        assert!(err(&no_window).contains("bot.catch_up_minutes"));
        let bad_room = format!("{MINIMAL}\n[moderation]\nroom = \"mods\"\n");
        assert!(err(&bad_room).contains("moderation.room"));
        let bad_pl = format!("{MINIMAL}\n[moderation]\npower_level = 101\n");
        assert!(err(&bad_pl).contains("moderation.power_level"));
        let bad_admin = format!("{MINIMAL}\n[moderation]\nadmins = [\"bob\"]\n");
        assert!(err(&bad_admin).contains("moderation.admins[0]"));
        let bad_window = format!("{MINIMAL}\n[alerts]\nwindow_minutes = 0\n");
        assert!(err(&bad_window).contains("alerts.window_minutes"));
        let bad_retention = MINIMAL.replace(
            "data_dir = \"data\"",
            "data_dir = \"data\"\nretention_days = 0",
        );
        assert!(err(&bad_retention).contains("storage.retention_days"));
        let bad_log = format!("{MINIMAL}\n[logging]\nformat = \"xml\"\n");
        assert!(err(&bad_log).contains("format"));
    }

    #[test]
    fn regions_resolve_against_the_library() {
        let mut c = parse(&format!(
            "{MINIMAL}\n[bot]\ndefault_region = \"gb\"\n[rooms.\"!a:x\"]\nregion = \"ZZ\"\n"
        ))
        .expect("valid syntax");
        let resolve = |r: &str| match r.to_ascii_uppercase().as_str() {
            "GB" | "UK" => Some("UK".to_owned()),
            "US" => Some("US".to_owned()),
            _ => None,
        };
        let e = c
            .resolve_regions(resolve, &["UK", "US"])
            .expect_err("ZZ is unknown")
            .to_string();
        assert!(
            e.contains("rooms.\"!a:x\".region") && e.contains("UK, US"),
            "{e}"
        );
        assert_eq!(c.bot.default_region, "UK");
    }

    #[test]
    fn example_config_is_valid() {
        let text = include_str!("../config.example.toml");
        let c = parse(text).expect("config.example.toml must stay valid");
        assert_eq!(c.bot.command_prefix, "!kratom");
        assert_eq!(c.bot.default_region, "US");
        assert_eq!(c.storage.retention_days, 90);
        assert_eq!(c.moderation.power_level, 50);
        assert_eq!(c.alerts.window_minutes, 10);
        assert!(!c.alerts.include_text && !c.alerts.dm_alerts);
    }

    #[test]
    fn invite_allowlist_defaults_to_own_server() {
        let c = parse(MINIMAL).expect("valid");
        assert!(c.invite_allowed("@alice:example.org"));
        assert!(!c.invite_allowed("@mallory:evil.org"));
        let c = parse(&format!(
            "{MINIMAL}\n[invites]\nallow_users = [\"@bob:other.org\"]\nallow_servers = [\"friends.org\"]\n"
        ))
        .expect("valid");
        assert!(c.invite_allowed("@bob:other.org"));
        assert!(c.invite_allowed("@carol:friends.org"));
        assert!(!c.invite_allowed("@alice:example.org"));
    }
}
