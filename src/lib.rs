//! kratom-bot: answers kratom questions from vetted, cited templates and routes people in crisis to
//! help. The core (triage + template library) does no I/O after loading; the Matrix runtime and the
//! CLI both call [`Engine`].

pub mod engine;

pub use engine::{Decision, Engine, Reply};
