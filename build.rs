//! The vetted library in `responses/` is compiled into the binary (`include_dir!` in
//! src/library/source.rs). Proc macros cannot tell Cargo which files they read, so this tells it:
//! any change under `responses/` rebuilds the crate and the built-in copy never goes stale.
//!
//! It also stamps the trainer's source (`src/triage/`) into `KRATOM_TRIAGE_CODE`: trained models
//! are cached by a key that includes it, so a change to how models are trained or read never
//! serves a stale model.
use std::hash::{Hash, Hasher};

fn main() {
    println!("cargo:rerun-if-changed=responses");
    println!("cargo:rerun-if-changed=src/triage");
    let mut files: Vec<_> = std::fs::read_dir("src/triage")
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    // SipHash with fixed keys: a stamp, not a security boundary (the content key is BLAKE3).
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in files {
        f.file_name().hash(&mut h);
        std::fs::read(&f).unwrap_or_default().hash(&mut h);
    }
    println!("cargo:rustc-env=KRATOM_TRIAGE_CODE={:016x}", h.finish());
}
