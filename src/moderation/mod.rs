//! Moderator tooling (issue 5): commands, who may give them, crisis alerts for the management
//! room, and executing commands against the store and the engine. Nothing here knows Matrix: the
//! runtime extracts the facts (sender, power level, replied-to event), calls in, and sends what
//! comes back.
//!
//! - `commands` — `!kratom <cmd> ...` parsed into a [`commands::Command`] or a usage line.
//! - `permissions` — everyone / room moderators / management room and bot admins.
//! - `alerts` — the alert text and one-alert-per-person-per-window throttling.
//! - `handlers` — run a command: check, act, audit, answer.
pub mod alerts;
pub mod commands;
pub mod handlers;
pub mod permissions;
