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
];

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
    pub fn pending_all(&self, limit: u32) -> Result<Vec<PendingEvent>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT room_id, event_id, origin_ts, event_json FROM pending_decryption
             ORDER BY origin_ts LIMIT ?1",
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

    pub fn remove_pending(&self, room_id: &str, event_id: &str) -> Result<()> {
        self.conn().execute(
            "DELETE FROM pending_decryption WHERE room_id = ?1 AND event_id = ?2",
            params![room_id, event_id],
        )?;
        Ok(())
    }

    pub fn pending_count(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("SELECT COUNT(*) FROM pending_decryption", [], |r| r.get(0))?)
    }

    /// Drops bookkeeping older than the cut-offs: answered ids past any possible re-delivery and
    /// pending events too old to be answered anyway.
    pub fn prune(&self, answered_before_ms: i64, pending_before_ms: i64) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "DELETE FROM answered WHERE answered_at < ?1",
            params![answered_before_ms],
        )?;
        conn.execute(
            "DELETE FROM pending_decryption WHERE origin_ts < ?1",
            params![pending_before_ms],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        s.prune(0, 101)?;
        assert_eq!(s.pending_count()?, 0);
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
        assert_eq!(Store::open(&path)?.sync_token()?, Some("s1".into()));
        Ok(())
    }
}
