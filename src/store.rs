//! The bot's own SQLite database in the data directory (matrix-sdk keeps its state and crypto
//! stores beside it). It records what the bot has done, never what people wrote: answered event
//! ids (exactly-once), the last handled event per room and the sync position (catch-up after a
//! restart), and encrypted events waiting for their room key.
//!
//! The schema grows by appending to [`MIGRATIONS`]; `PRAGMA user_version` records how many ran.
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("bot database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("bot database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error(
        "bot database was written by a newer kratom-bot (schema {found}, this one knows {known})"
    )]
    TooNew { found: i64, known: i64 },
}

type Result<T> = std::result::Result<T, StoreError>;

/// Each entry moves the schema one version forward. Never edit a released entry; append.
const MIGRATIONS: &[&str] = &[
    // 1: runtime (issue 4).
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE answered (
         room_id TEXT NOT NULL,
         event_id TEXT NOT NULL,
         answered_at INTEGER NOT NULL,
         reply_event_id TEXT,
         topic TEXT NOT NULL,
         PRIMARY KEY (room_id, event_id)
     );
     CREATE INDEX answered_reply ON answered (reply_event_id);
     CREATE INDEX answered_at ON answered (answered_at);
     CREATE TABLE room_cursor (
         room_id TEXT PRIMARY KEY,
         event_id TEXT NOT NULL,
         origin_ts INTEGER NOT NULL
     );
     CREATE TABLE pending_decryption (
         room_id TEXT NOT NULL,
         event_id TEXT NOT NULL,
         session_id TEXT NOT NULL,
         origin_ts INTEGER NOT NULL,
         event_json TEXT NOT NULL,
         PRIMARY KEY (room_id, event_id)
     );
     CREATE INDEX pending_session ON pending_decryption (room_id, session_id);",
    // 2: moderation (issue 5). Settings given by command win over the config file's [rooms].
    "CREATE TABLE room_settings (
         room_id TEXT PRIMARY KEY,
         mode TEXT,
         region TEXT,
         crisis_watch INTEGER,
         paused INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE user_region (
         user_id TEXT PRIMARY KEY,
         region TEXT NOT NULL
     );
     CREATE TABLE audit (
         id INTEGER PRIMARY KEY,
         at INTEGER NOT NULL,
         room_id TEXT NOT NULL,
         event_id TEXT NOT NULL,
         action TEXT NOT NULL,
         topic TEXT,
         template_id TEXT,
         actor TEXT NOT NULL
     );
     CREATE INDEX audit_at ON audit (at);
     CREATE TABLE counters (
         day INTEGER NOT NULL,
         kind TEXT NOT NULL,
         topic TEXT NOT NULL DEFAULT '',
         n INTEGER NOT NULL,
         PRIMARY KEY (day, kind, topic)
     );",
    // 3: the inbox (issue 10): events seen but not yet handled, by id only (never text).
    "CREATE TABLE inbox (
         room_id TEXT NOT NULL,
         event_id TEXT NOT NULL,
         origin_ts INTEGER NOT NULL,
         added_at INTEGER NOT NULL,
         PRIMARY KEY (room_id, event_id)
     );",
];

const DAY_MS: i64 = 24 * 3600 * 1000;

/// What a counter counts. Stored by name, so never rename a variant's string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// An answer sent (with its topic).
    Answer,
    CrisisReply,
    Alert,
    RateLimited,
    Refusal,
}

impl Counter {
    fn as_str(self) -> &'static str {
        match self {
            Counter::Answer => "answer",
            Counter::CrisisReply => "crisis_reply",
            Counter::Alert => "alert",
            Counter::RateLimited => "rate_limited",
            Counter::Refusal => "refusal",
        }
    }
}

/// Counter totals over a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Answers by topic, most first.
    pub answers: Vec<(String, i64)>,
    pub crisis_replies: i64,
    pub alerts: i64,
    pub rate_limited: i64,
    pub refusals: i64,
}

/// One audit entry: what was done, where, by whom. Never message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at_ms: i64,
    pub room_id: String,
    pub event_id: String,
    pub action: String,
    pub topic: Option<String>,
    pub template_id: Option<String>,
    pub actor: String,
}

/// Room settings stored by moderator commands; `None` = not set here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredRoomSettings {
    pub mode: Option<String>,
    pub region: Option<String>,
    pub crisis_watch: Option<bool>,
    pub paused: bool,
}

/// One room setting to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomSetting {
    Mode(String),
    Region(String),
    CrisisWatch(bool),
    Paused(bool),
}

/// An encrypted event that could not be decrypted yet (the JSON is still the ciphertext).
#[derive(Debug, Clone)]
pub struct PendingEvent {
    pub room_id: String,
    pub event_id: String,
    pub origin_ts: i64,
    pub event_json: String,
}

/// The database handle. Queries are small and local, so a mutex around one connection is enough.
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Store::init(conn)
    }

    pub fn open_in_memory() -> Result<Store> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Store> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew {
                found: version,
                known,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (statements are atomic).
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn is_answered(&self, room_id: &str, event_id: &str) -> Result<bool> {
        let found = self
            .conn()
            .query_row(
                "SELECT 1 FROM answered WHERE room_id = ?1 AND event_id = ?2",
                params![room_id, event_id],
                |_| Ok(()),
            )
            .optional()?;
        Ok(found.is_some())
    }

    pub fn mark_answered(
        &self,
        room_id: &str,
        event_id: &str,
        reply_event_id: Option<&str>,
        topic: &str,
        now_ms: i64,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT OR REPLACE INTO answered (room_id, event_id, answered_at, reply_event_id, topic)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![room_id, event_id, now_ms, reply_event_id, topic],
        )?;
        Ok(())
    }

    /// The topic recorded when `event_id` was handled (or why it was not answered), if it was.
    pub fn answered_topic(&self, room_id: &str, event_id: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT topic FROM answered WHERE room_id = ?1 AND event_id = ?2",
                params![room_id, event_id],
                |row| row.get::<_, String>(0),
            )
            .optional()?)
    }

    /// The bot's reply to `event_id` in `room_id`, if it sent one.
    pub fn reply_to(&self, room_id: &str, event_id: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT reply_event_id FROM answered WHERE room_id = ?1 AND event_id = ?2",
                params![room_id, event_id],
                |row| row.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }

    /// Whether `event_id` is one of the bot's own replies (for "a reply to the bot" addressing).
    pub fn is_own_reply(&self, event_id: &str) -> Result<bool> {
        let found = self
            .conn()
            .query_row(
                "SELECT 1 FROM answered WHERE reply_event_id = ?1",
                params![event_id],
                |_| Ok(()),
            )
            .optional()?;
        Ok(found.is_some())
    }

    pub fn answered_count(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("SELECT COUNT(*) FROM answered", [], |r| r.get(0))?)
    }

    pub fn sync_token(&self) -> Result<Option<String>> {
        self.meta("sync_token")
    }

    pub fn set_sync_token(&self, token: &str) -> Result<()> {
        self.set_meta("sync_token", token)
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// The newest event handled in a room (by origin time); older ones are never moved back to.
    pub fn room_cursor(&self, room_id: &str) -> Result<Option<(String, i64)>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT event_id, origin_ts FROM room_cursor WHERE room_id = ?1",
                params![room_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    pub fn advance_room_cursor(&self, room_id: &str, event_id: &str, origin_ts: i64) -> Result<()> {
        self.conn().execute(
            "INSERT INTO room_cursor (room_id, event_id, origin_ts) VALUES (?1, ?2, ?3)
             ON CONFLICT (room_id) DO UPDATE SET event_id = excluded.event_id,
                 origin_ts = excluded.origin_ts
             WHERE excluded.origin_ts >= room_cursor.origin_ts",
            params![room_id, event_id, origin_ts],
        )?;
        Ok(())
    }

    /// Records an event the bot has seen and will handle (kept until [`Store::inbox_remove`]).
    /// Returns whether it is new (false when it was already waiting).
    pub fn inbox_add(
        &self,
        room_id: &str,
        event_id: &str,
        origin_ts: i64,
        now_ms: i64,
    ) -> Result<bool> {
        let added = self.conn().execute(
            "INSERT OR IGNORE INTO inbox (room_id, event_id, origin_ts, added_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![room_id, event_id, origin_ts, now_ms],
        )?;
        Ok(added > 0)
    }

    pub fn inbox_remove(&self, room_id: &str, event_id: &str) -> Result<()> {
        self.conn().execute(
            "DELETE FROM inbox WHERE room_id = ?1 AND event_id = ?2",
            params![room_id, event_id],
        )?;
        Ok(())
    }

    /// Up to `limit` (room id, event id) rows added before `before_ms`, oldest event first.
    pub fn inbox_older_than(&self, before_ms: i64, limit: u32) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT room_id, event_id FROM inbox WHERE added_at < ?1
             ORDER BY origin_ts LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![before_ms, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Drops events too old to answer (sent before `before_ms`).
    pub fn inbox_prune(&self, before_ms: i64) -> Result<()> {
        self.conn()
            .execute("DELETE FROM inbox WHERE origin_ts < ?1", params![before_ms])?;
        Ok(())
    }

    pub fn inbox_count(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("SELECT COUNT(*) FROM inbox", [], |r| r.get(0))?)
    }

    pub fn add_pending(&self, ev: &PendingEvent, session_id: &str) -> Result<()> {
        self.conn().execute(
            "INSERT OR IGNORE INTO pending_decryption
                 (room_id, event_id, session_id, origin_ts, event_json)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                ev.room_id,
                ev.event_id,
                session_id,
                ev.origin_ts,
                ev.event_json
            ],
        )?;
        Ok(())
    }

    /// Pending events of one room key session, oldest first.
    pub fn pending_for_session(
        &self,
        room_id: &str,
        session_id: &str,
    ) -> Result<Vec<PendingEvent>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT room_id, event_id, origin_ts, event_json FROM pending_decryption
             WHERE room_id = ?1 AND session_id = ?2 ORDER BY origin_ts",
        )?;
        let rows = stmt.query_map(params![room_id, session_id], |r| {
            Ok(PendingEvent {
                room_id: r.get(0)?,
                event_id: r.get(1)?,
                origin_ts: r.get(2)?,
                event_json: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Any pending events, oldest first (periodic retry).
    /// Up to `limit` parked events, newest first: old ones that never decrypt must not starve
    /// new ones.
    pub fn pending_all(&self, limit: u32) -> Result<Vec<PendingEvent>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT room_id, event_id, origin_ts, event_json FROM pending_decryption
             ORDER BY origin_ts DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit], |r| {
            Ok(PendingEvent {
                room_id: r.get(0)?,
                event_id: r.get(1)?,
                origin_ts: r.get(2)?,
                event_json: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// How many encrypted events wait for a key.
    pub fn pending_count(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("SELECT COUNT(*) FROM pending_decryption", [], |r| r.get(0))?)
    }

    pub fn remove_pending(&self, room_id: &str, event_id: &str) -> Result<()> {
        self.conn().execute(
            "DELETE FROM pending_decryption WHERE room_id = ?1 AND event_id = ?2",
            params![room_id, event_id],
        )?;
        Ok(())
    }

    pub fn room_settings(&self, room_id: &str) -> Result<StoredRoomSettings> {
        Ok(self
            .conn()
            .query_row(
                "SELECT mode, region, crisis_watch, paused FROM room_settings WHERE room_id = ?1",
                params![room_id],
                |r| {
                    Ok(StoredRoomSettings {
                        mode: r.get(0)?,
                        region: r.get(1)?,
                        crisis_watch: r.get::<_, Option<i64>>(2)?.map(|v| v != 0),
                        paused: r.get::<_, i64>(3)? != 0,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// Gives room `to` the settings moderators gave room `from` (a room upgrade), unless `to`
    /// already has its own.
    pub fn copy_room_settings(&self, from: &str, to: &str) -> Result<()> {
        self.conn().execute(
            "INSERT OR IGNORE INTO room_settings (room_id, mode, region, crisis_watch, paused)
             SELECT ?2, mode, region, crisis_watch, paused FROM room_settings WHERE room_id = ?1",
            params![from, to],
        )?;
        Ok(())
    }

    pub fn set_room_setting(&self, room_id: &str, setting: &RoomSetting) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "INSERT OR IGNORE INTO room_settings (room_id) VALUES (?1)",
            params![room_id],
        )?;
        // Column names are fixed strings chosen here, never input.
        let (column, value): (&str, rusqlite::types::Value) = match setting {
            RoomSetting::Mode(m) => ("mode", m.clone().into()),
            RoomSetting::Region(r) => ("region", r.clone().into()),
            RoomSetting::CrisisWatch(b) => ("crisis_watch", i64::from(*b).into()),
            RoomSetting::Paused(b) => ("paused", i64::from(*b).into()),
        };
        conn.execute(
            &format!("UPDATE room_settings SET {column} = ?2 WHERE room_id = ?1"),
            params![room_id, value],
        )?;
        Ok(())
    }

    pub fn user_region(&self, user_id: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT region FROM user_region WHERE user_id = ?1",
                params![user_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn set_user_region(&self, user_id: &str, region: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO user_region (user_id, region) VALUES (?1, ?2)
             ON CONFLICT (user_id) DO UPDATE SET region = excluded.region",
            params![user_id, region],
        )?;
        Ok(())
    }

    pub fn audit(&self, e: &AuditEntry) -> Result<()> {
        self.conn().execute(
            "INSERT INTO audit (at, room_id, event_id, action, topic, template_id, actor)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                e.at_ms,
                e.room_id,
                e.event_id,
                e.action,
                e.topic,
                e.template_id,
                e.actor
            ],
        )?;
        Ok(())
    }

    /// Audit entries, oldest first, optionally only one action.
    pub fn audit_entries(&self, action: Option<&str>) -> Result<Vec<AuditEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT at, room_id, event_id, action, topic, template_id, actor FROM audit
             WHERE ?1 IS NULL OR action = ?1 ORDER BY at, id",
        )?;
        let rows = stmt.query_map(params![action], |r| {
            Ok(AuditEntry {
                at_ms: r.get(0)?,
                room_id: r.get(1)?,
                event_id: r.get(2)?,
                action: r.get(3)?,
                topic: r.get(4)?,
                template_id: r.get(5)?,
                actor: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    /// Adds one to a daily counter (`topic` only for answers).
    pub fn count(&self, counter: Counter, topic: Option<&str>, now_ms: i64) -> Result<()> {
        self.conn().execute(
            "INSERT INTO counters (day, kind, topic, n) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT (day, kind, topic) DO UPDATE SET n = n + 1",
            params![
                now_ms.div_euclid(DAY_MS),
                counter.as_str(),
                topic.unwrap_or("")
            ],
        )?;
        Ok(())
    }

    /// Totals over the last `days` days, today included.
    pub fn stats(&self, days: u32, now_ms: i64) -> Result<Stats> {
        let first_day = now_ms.div_euclid(DAY_MS) - i64::from(days.max(1)) + 1;
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT kind, topic, SUM(n) FROM counters WHERE day >= ?1
             GROUP BY kind, topic ORDER BY SUM(n) DESC, topic",
        )?;
        let rows = stmt.query_map(params![first_day], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut stats = Stats::default();
        for row in rows {
            let (kind, topic, n) = row?;
            match kind.as_str() {
                "answer" => stats.answers.push((topic, n)),
                "crisis_reply" => stats.crisis_replies += n,
                "alert" => stats.alerts += n,
                "rate_limited" => stats.rate_limited += n,
                "refusal" => stats.refusals += n,
                _ => {}
            }
        }
        Ok(stats)
    }

    /// Deletes audit entries and counters older than the retention cut-off.
    pub fn prune_moderation(&self, before_ms: i64) -> Result<usize> {
        let conn = self.conn();
        let mut n = conn.execute("DELETE FROM audit WHERE at < ?1", params![before_ms])?;
        // A day's counters go once the whole day is past the cut-off.
        n += conn.execute(
            "DELETE FROM counters WHERE day < ?1",
            params![before_ms.div_euclid(DAY_MS)],
        )?;
        Ok(n)
    }

    /// Drops bookkeeping older than the cut-offs: answered ids past any possible re-delivery and
    /// pending events too old to be answered anyway.
    pub fn prune(&self, answered_before_ms: i64, pending_before_ms: i64) -> Result<()> {
        self.conn().execute(
            "DELETE FROM answered WHERE answered_at < ?1",
            params![answered_before_ms],
        )?;
        self.prune_pending(pending_before_ms)
    }

    /// Drops parked encrypted events too old to be answered once decrypted.
    pub fn prune_pending(&self, before_ms: i64) -> Result<()> {
        self.conn().execute(
            "DELETE FROM pending_decryption WHERE origin_ts < ?1",
            params![before_ms],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_reply_to_a_question() -> Result<()> {
        let s = Store::open_in_memory()?;
        s.mark_answered("!r:x", "$q", Some("$reply"), "legality", 1)?;
        s.mark_answered("!r:x", "$dropped", None, "rate-limited", 1)?;
        assert_eq!(s.reply_to("!r:x", "$q")?.as_deref(), Some("$reply"));
        assert_eq!(s.reply_to("!r:x", "$dropped")?, None);
        assert_eq!(s.reply_to("!r:x", "$unknown")?, None);
        assert_eq!(s.answered_topic("!r:x", "$q")?.as_deref(), Some("legality"));
        assert_eq!(s.answered_topic("!r:x", "$unknown")?, None);
        Ok(())
    }

    #[test]
    fn answered_is_recorded_once() -> Result<()> {
        let s = Store::open_in_memory()?;
        assert!(!s.is_answered("!r:x", "$e")?);
        s.mark_answered("!r:x", "$e", Some("$reply"), "dosage", 1)?;
        s.mark_answered("!r:x", "$e", Some("$reply"), "dosage", 2)?;
        assert!(s.is_answered("!r:x", "$e")?);
        assert!(s.is_own_reply("$reply")?);
        assert_eq!(s.answered_count()?, 1);
        Ok(())
    }

    #[test]
    fn cursor_never_moves_back() -> Result<()> {
        let s = Store::open_in_memory()?;
        s.advance_room_cursor("!r:x", "$b", 20)?;
        s.advance_room_cursor("!r:x", "$a", 10)?;
        assert_eq!(s.room_cursor("!r:x")?, Some(("$b".into(), 20)));
        Ok(())
    }

    #[test]
    fn pending_round_trip_and_prune() -> Result<()> {
        let s = Store::open_in_memory()?;
        let ev = PendingEvent {
            room_id: "!r:x".into(),
            event_id: "$e".into(),
            origin_ts: 100,
            event_json: "{}".into(),
        };
        s.add_pending(&ev, "sess")?;
        assert_eq!(s.pending_for_session("!r:x", "sess")?.len(), 1);
        let newer = PendingEvent {
            event_id: "$newer".into(),
            origin_ts: 200,
            ..ev.clone()
        };
        s.add_pending(&newer, "other")?;
        // Newest first, so dead old events cannot starve new ones.
        assert_eq!(s.pending_all(1)?[0].event_id, "$newer");
        s.prune(0, 101)?;
        assert_eq!(s.pending_count()?, 1);
        s.prune_pending(201)?;
        assert_eq!(s.pending_count()?, 0);
        Ok(())
    }

    #[test]
    fn retention_prunes_old_audit_and_counters() -> Result<()> {
        let s = Store::open_in_memory()?;
        let now = 100 * DAY_MS + 5;
        let entry = |at_ms: i64, action: &str| AuditEntry {
            at_ms,
            room_id: "!r:x".into(),
            event_id: "$e".into(),
            action: action.into(),
            topic: None,
            template_id: None,
            actor: "@a:x".into(),
        };
        s.audit(&entry(now - 91 * DAY_MS, "old"))?;
        s.audit(&entry(now - 89 * DAY_MS, "recent"))?;
        s.count(Counter::Refusal, None, now - 91 * DAY_MS)?;
        s.count(Counter::Refusal, None, now)?;
        s.count(Counter::Answer, Some("dosing"), now)?;
        s.count(Counter::Answer, Some("dosing"), now)?;
        assert_eq!(s.stats(3650, now)?.refusals, 2);
        s.prune_moderation(now - 90 * DAY_MS)?;
        let left: Vec<String> = s
            .audit_entries(None)?
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(left, vec!["recent".to_owned()]);
        let stats = s.stats(3650, now)?;
        assert_eq!(stats.refusals, 1, "the 91-day-old counter was pruned");
        assert_eq!(stats.answers, vec![("dosing".to_owned(), 2)]);
        Ok(())
    }

    #[test]
    fn stats_respect_the_period() -> Result<()> {
        let s = Store::open_in_memory()?;
        let now = 50 * DAY_MS + 10;
        s.count(Counter::Alert, None, now - 3 * DAY_MS)?;
        s.count(Counter::Alert, None, now)?;
        assert_eq!(s.stats(1, now)?.alerts, 1);
        assert_eq!(s.stats(7, now)?.alerts, 2);
        Ok(())
    }

    #[test]
    fn room_settings_and_user_regions_round_trip() -> Result<()> {
        let s = Store::open_in_memory()?;
        assert_eq!(s.room_settings("!r:x")?, StoredRoomSettings::default());
        s.set_room_setting("!r:x", &RoomSetting::Mode("all".into()))?;
        s.set_room_setting("!r:x", &RoomSetting::CrisisWatch(false))?;
        s.set_room_setting("!r:x", &RoomSetting::Paused(true))?;
        let got = s.room_settings("!r:x")?;
        assert_eq!(got.mode.as_deref(), Some("all"));
        assert_eq!(got.crisis_watch, Some(false));
        assert!(got.paused && got.region.is_none());
        s.set_user_region("@a:x", "UK")?;
        s.set_user_region("@a:x", "IE")?;
        assert_eq!(s.user_region("@a:x")?.as_deref(), Some("IE"));
        Ok(())
    }

    #[test]
    fn reopening_keeps_data() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Open {
            path: e.to_string(),
            source: rusqlite::Error::InvalidQuery,
        })?;
        let path = dir.path().join("db");
        Store::open(&path)?.set_sync_token("s1")?;
        let s = Store::open(&path)?;
        assert!(s.inbox_add("!r", "$a", 1_000, 10_000)?);
        assert!(!s.inbox_add("!r", "$a", 1_000, 10_000)?, "already waiting");
        assert!(s.inbox_add("!r", "$b", 5_000, 10_000)?);
        assert_eq!(s.inbox_count()?, 2);
        // Survives a reopen (a crash), oldest event first.
        let s = Store::open(&path)?;
        let later = 11_000;
        assert_eq!(
            s.inbox_older_than(later, 10)?,
            vec![("!r".into(), "$a".into()), ("!r".into(), "$b".into())]
        );
        assert!(s.inbox_older_than(0, 10)?.is_empty());
        s.inbox_prune(2_000)?;
        s.inbox_remove("!r", "$b")?;
        assert_eq!(s.inbox_count()?, 0);
        assert_eq!(Store::open(&path)?.sync_token()?, Some("s1".into()));
        Ok(())
    }
}
