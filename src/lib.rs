//! kratom-bot: answers kratom questions from vetted, cited templates and routes people in crisis to
//! help.
//!
//! - [`triage`]: normalise a message, detect crisis / emergency / mental health, match a topic.
//! - [`library`]: the reviewed templates, help lines per region, `check` rules, rendering.
//! - [`engine`]: the two together behind one API that the CLI and the Matrix runtime share.
//!
//! The core does no I/O after loading and knows nothing of Matrix.

pub mod cli;
pub mod diagnostics;
pub mod engine;
pub mod library;
pub mod triage;

pub use engine::{Decision, Engine, Reply};
