//! kratom-bot: answers kratom questions from vetted, cited templates and routes people in crisis to
//! help. The core (triage + template library) does no I/O after loading; the Matrix runtime and the
//! CLI both call [`Engine`].
// matrix-sdk's deeply nested futures overflow the default limit when checking `Send` (E0275).
#![recursion_limit = "256"]

pub mod config;
pub mod engine;
pub mod runtime;
pub mod store;

pub use engine::{Decision, Engine, Reply};
