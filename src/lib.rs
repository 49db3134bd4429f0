//! kratom-bot: answers kratom questions from vetted, cited templates and routes people in crisis to
//! help.
//!
//! - [`triage`]: normalise a message, detect crisis / emergency / mental health, match a topic.
//! - [`library`]: the reviewed templates, help lines per region, `check` rules, rendering.
//! - [`engine`]: the two together behind one API that the CLI and the Matrix runtime share.
//! - [`moderation`]: moderator commands, permissions, crisis alerts (Matrix-free).
//! - [`runtime`]: the Matrix bot (sync, addressing, replies, encryption), on [`config`] and [`store`];
//!   [`metrics`] counts what it does for operators (`/metrics`, `/healthz`).
//!
//! The core does no I/O after loading and knows nothing of Matrix.
// matrix-sdk's deeply nested futures overflow the default limit when checking `Send` (E0275).
#![recursion_limit = "256"]

pub mod cli;
pub mod config;
pub mod diagnostics;
pub mod engine;
pub mod library;
pub mod metrics;
pub mod moderation;
pub mod runtime;
pub mod store;
pub mod triage;

pub use engine::{Decision, Engine, Reply};
