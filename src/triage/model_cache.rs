//! A cache of the trained models, so a start does not retrain what the last start trained.
//!
//! Training the safety models and the topic matcher is most of start-up. Their inputs are the
//! content files and the trainer's code, so the cache key is a BLAKE3 hash of both (every file of
//! the library, the crate version and a stamp of `src/triage/` made by `build.rs`). A hit skips
//! training; a miss, an unreadable or a corrupt file trains as before and rewrites it. The cache is
//! never needed: any failure only costs the training time. It holds weights derived from the
//! vetted library, never anything a user wrote.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::learned::SafetyModels;
use super::topics::TopicMatcher;
use crate::library::ContentSource;

/// Bump when the cached layout changes in a way the code stamp would not catch.
const FORMAT: u32 = 2;
/// File names: `models-<key>.bin`.
const PREFIX: &str = "models-";
const SUFFIX: &str = ".bin";

/// Where trained models are kept, if anywhere.
#[derive(Debug, Clone, Default)]
pub struct ModelCache {
    dir: Option<PathBuf>,
}

/// What is cached: both trained parts of the triage engine.
#[derive(Deserialize)]
pub struct Trained {
    format: u32,
    pub safety: SafetyModels,
    pub topics: TopicMatcher,
}

#[derive(Serialize)]
struct TrainedRef<'a> {
    format: u32,
    safety: &'a SafetyModels,
    topics: &'a TopicMatcher,
}

impl ModelCache {
    /// No cache: always train.
    pub fn disabled() -> ModelCache {
        ModelCache { dir: None }
    }

    /// Models kept in `dir` (created when first written).
    pub fn in_dir(dir: impl Into<PathBuf>) -> ModelCache {
        ModelCache {
            dir: Some(dir.into()),
        }
    }

    /// The user's cache folder: `$KRATOM_BOT_CACHE_DIR`, else `$XDG_CACHE_HOME/kratom-bot`, else
    /// `~/.cache/kratom-bot`; disabled when none is set (`KRATOM_BOT_CACHE_DIR=` disables it).
    pub fn user_default() -> ModelCache {
        let env = |k: &str| std::env::var_os(k);
        let dir = match env("KRATOM_BOT_CACHE_DIR") {
            Some(d) if d.is_empty() => None,
            Some(d) => Some(PathBuf::from(d)),
            None => env("XDG_CACHE_HOME")
                .filter(|d| !d.is_empty())
                .map(|d| PathBuf::from(d).join("kratom-bot"))
                .or_else(|| {
                    env("HOME")
                        .filter(|d| !d.is_empty())
                        .map(|h| PathBuf::from(h).join(".cache/kratom-bot"))
                }),
        };
        ModelCache { dir }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The key for models trained from `source` by this build; `None` when the content cannot be
    /// read (the loader reports that).
    pub fn key(source: &ContentSource) -> Option<String> {
        let mut h = blake3::Hasher::new();
        h.update(&FORMAT.to_le_bytes());
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        h.update(env!("KRATOM_TRIAGE_CODE").as_bytes());
        source.hash_into(&mut h).ok()?;
        Some(h.finalize().to_hex()[..32].to_string())
    }

    /// The cached models for `key`, if present and readable.
    pub fn load(&self, key: &str) -> Option<Trained> {
        let path = self.path(key)?;
        let bytes = std::fs::read(&path).ok()?;
        match rmp_serde::from_slice::<Trained>(&bytes) {
            Ok(t) if t.format == FORMAT => Some(t),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring an unreadable model cache");
                None
            }
        }
    }

    /// Writes the models for `key` (atomically: a reader sees the old file or the new one) and
    /// removes models cached for other keys. Errors are logged, never returned.
    pub fn store(&self, key: &str, safety: &SafetyModels, topics: &TopicMatcher) {
        let (Some(dir), Some(path)) = (self.dir.as_deref(), self.path(key)) else {
            return;
        };
        let result = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(dir)?;
            let bytes = rmp_serde::to_vec(&TrainedRef {
                format: FORMAT,
                safety,
                topics,
            })
            .map_err(std::io::Error::other)?;
            // Unique per writer (threads of one process too), so writers never share a file.
            static WRITERS: AtomicU64 = AtomicU64::new(0);
            let n = WRITERS.fetch_add(1, Ordering::Relaxed);
            let tmp = dir.join(format!(".{key}.{}.{n}.tmp", std::process::id()));
            std::fs::write(&tmp, bytes)?;
            if let Err(e) = std::fs::rename(&tmp, &path) {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
            for entry in std::fs::read_dir(dir)?.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(PREFIX) && name.ends_with(SUFFIX) && entry.path() != path {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            tracing::warn!(dir = %dir.display(), error = %e, "could not cache the trained models");
        }
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        Some(self.dir.as_ref()?.join(format!("{PREFIX}{key}{SUFFIX}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::Library;
    use crate::triage::Triage;

    const MESSAGES: [&str; 6] = [
        "is kratom legal in ireland",
        "i want to end it all tonight",
        "my friend took 7oh and his lips are blue",
        "does kratom help with depression",
        "this taper is killing me lol",
        "what does kratom feel like",
    ];

    fn load(cache: &ModelCache) -> Triage {
        let source = ContentSource::BuiltIn;
        let (library, _) = Library::load(&source).expect("library");
        Triage::load(&source, &library, cache).expect("triage")
    }

    fn same_decisions(a: &Triage, b: &Triage) {
        for m in MESSAGES {
            let (x, y) = (a.decide(m), b.decide(m));
            assert_eq!(format!("{x:?}"), format!("{y:?}"), "{m}");
        }
    }

    #[test]
    fn a_second_load_reads_the_models_and_decides_alike() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = ModelCache::in_dir(dir.path().join("cache"));
        let trained = load(&cache);
        assert!(!trained.models_from_cache());
        let files: Vec<_> = std::fs::read_dir(dir.path().join("cache"))
            .expect("cache folder")
            .flatten()
            .collect();
        assert_eq!(files.len(), 1, "one model file, no leftovers");
        let cached = load(&cache);
        assert!(cached.models_from_cache());
        same_decisions(&trained, &cached);
        same_decisions(&trained, &load(&ModelCache::disabled()));
    }

    #[test]
    fn a_corrupt_or_stale_cache_is_retrained_and_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = ModelCache::in_dir(dir.path());
        let key = ModelCache::key(&ContentSource::BuiltIn).expect("key");
        let path = dir.path().join(format!("{PREFIX}{key}{SUFFIX}"));
        let stale = dir.path().join(format!("{PREFIX}0000{SUFFIX}"));
        std::fs::write(&path, b"\x93not a model").expect("write");
        std::fs::write(&stale, b"old").expect("write");
        let t = load(&cache);
        assert!(!t.models_from_cache());
        assert!(!stale.exists(), "models for other content are removed");
        assert!(
            load(&cache).models_from_cache(),
            "the rewritten file is read"
        );
        // Truncated mid-write by a crash: still only costs a retrain.
        let bytes = std::fs::read(&path).expect("read");
        std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("truncate");
        assert!(!load(&cache).models_from_cache());
    }

    #[test]
    fn an_unwritable_cache_still_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("not-a-folder");
        std::fs::write(&file, b"x").expect("write");
        let t = load(&ModelCache::in_dir(file.join("cache")));
        assert!(!t.models_from_cache());
    }
}

/// Weight vectors as one little-endian byte string in the cache: MessagePack would spell out
/// every float (about a million of them) and decoding them one by one was most of a cached start.
pub(crate) mod floats {
    use serde::de::{Error, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(values: &[f32], s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        s.serialize_bytes(&bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        d.deserialize_bytes(FloatBytes)
    }

    struct FloatBytes;

    impl Visitor<'_> for FloatBytes {
        type Value = Vec<f32>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("little-endian f32 values as bytes")
        }

        fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<Vec<f32>, E> {
            if !bytes.len().is_multiple_of(4) {
                return Err(E::invalid_length(bytes.len(), &self));
            }
            Ok(bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        }
    }
}
