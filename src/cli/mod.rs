//! The command-line front end: one function per subcommand, all over the same [`Engine`].

pub mod chat;
pub mod classify;
pub mod report;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::library::ContentSource;
use crate::Engine;

#[derive(Debug, Parser)]
#[command(
    name = "kratom-bot",
    version,
    about = "Answers kratom questions from vetted, cited templates; routes people in crisis to help."
)]
pub struct Cli {
    /// A folder with templates, help lines and phrase lists to use instead of the library built
    /// into this binary.
    #[arg(long, global = true, env = "KRATOM_BOT_RESPONSES")]
    pub responses: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the reply to one message as plain text.
    Ask {
        message: String,
        /// Region for help lines: US, CA, UK, IE, AU, NZ or INTL.
        #[arg(long, default_value = "US")]
        region: String,
    },
    /// Print the triage decision for a message and the reasons for it.
    Explain { message: String },
    /// An interactive session over the same engine (the offline demo).
    Chat {
        #[arg(long, default_value = "US")]
        region: String,
    },
    /// Read JSON lines {"id", "text"} on stdin; write one JSON decision per line.
    Classify {
        #[arg(long, default_value = "US")]
        region: String,
    },
    /// Validate the whole library; exits non-zero listing every problem as file:line: message.
    Check {
        /// Defaults to --responses.
        dir: Option<PathBuf>,
        /// Also print the distribution of reply length (characters) and body words per region.
        #[arg(long)]
        stats: bool,
    },
    /// List the topics and how many templates answer each.
    Topics,
    /// Log the bot in once (password from KRATOM_BOT_PASSWORD or a prompt) and save the session.
    Login {
        #[arg(long, default_value = "config.toml")]
        config: PathBuf,
    },
    /// The library built into this binary.
    Responses {
        #[command(subcommand)]
        action: ResponsesAction,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to standard output.
    Completions { shell: clap_complete::Shell },
    /// Run the bot on Matrix with the saved session.
    Run {
        #[arg(long, default_value = "config.toml")]
        config: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ResponsesAction {
    /// Write the built-in library into a new folder, to review it or to serve an edited copy
    /// (`[bot] responses_dir`, `--responses`).
    Export { dir: PathBuf },
}

/// Loads the engine, printing every content problem when it fails.
pub fn load_engine(source: &ContentSource) -> anyhow::Result<Engine> {
    let engine = Engine::load(source)
        .with_context(|| format!("cannot load the response library from {source}"))?;
    for w in engine.warnings() {
        tracing::warn!("{w}");
    }
    Ok(engine)
}

/// Validates a region code against the library, naming the valid ones.
pub fn check_region(engine: &Engine, region: &str) -> anyhow::Result<String> {
    match engine.library().resources.region(region) {
        Some(r) => Ok(r.to_string()),
        None => {
            let known: Vec<&str> = engine
                .library()
                .resources
                .regions()
                .map(|(c, _)| c)
                .collect();
            anyhow::bail!("unknown region `{region}`: use one of {}", known.join(", "))
        }
    }
}
