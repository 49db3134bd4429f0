//! kratom-bot's command line: parse arguments, call the library, print.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use kratom_bot::cli::{self, report, Cli, Command, ResponsesAction};
use kratom_bot::library::ContentSource;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The Matrix commands set up logging from their config file (text or JSON).
    if !matches!(cli.command, Command::Login { .. } | Command::Run { .. }) {
        let filter =
            EnvFilter::try_from_env("KRATOM_BOT_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(io::stderr)
            .init();
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a line; a closed pipe (`| head`) is not an error.
fn print_out(text: &str) -> io::Result<()> {
    match writeln!(io::stdout().lock(), "{text}") {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let library = ContentSource::from_option(cli.responses.as_deref());
    match cli.command {
        Command::Check { dir, stats } => {
            let source = dir.map_or(library, ContentSource::Folder);
            let (text, ok) = report::check(&source, stats);
            print_out(text.trim_end())?;
            return Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        Command::Ask { message, region } => {
            let engine = cli::load_engine(&library)?;
            let region = cli::check_region(&engine, &region)?;
            print_out(&engine.respond(&message, &region).plain)?;
        }
        Command::Explain { message } => {
            let engine = cli::load_engine(&library)?;
            print_out(report::explain(&engine, &message).trim_end())?;
        }
        Command::Chat { region } => {
            let engine = cli::load_engine(&library)?;
            let region = cli::check_region(&engine, &region)?;
            if !io::stdin().is_terminal() {
                tracing::info!("chat is reading from a pipe");
            }
            cli::chat::run(&engine, &region, io::stdin().lock(), io::stdout().lock())?;
        }
        Command::Classify { region } => {
            let engine = cli::load_engine(&library)?;
            let region = cli::check_region(&engine, &region)?;
            cli::classify::run(&engine, &region, io::stdin().lock(), io::stdout().lock())?;
        }
        Command::Login { config } => kratom_bot::runtime::cli::login(&config)?,
        Command::Run { config } => kratom_bot::runtime::cli::run(&config)?,
        Command::Responses {
            action: ResponsesAction::Export { dir },
        } => {
            let n = ContentSource::export_built_in(&dir)
                .with_context(|| format!("cannot export the library to {}", dir.display()))?;
            print_out(&format!(
                "wrote {n} files to {}; serve them with `responses_dir = \"{}\"` under [bot]",
                dir.display(),
                dir.display()
            ))?;
        }
        Command::Completions { shell } => {
            // Into a buffer first: the generator panics on a closed pipe, print_out does not.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "kratom-bot", &mut script);
            print_out(String::from_utf8_lossy(&script).trim_end())?;
        }
        Command::Topics => {
            let engine = cli::load_engine(&library)?;
            print_out(report::topics(&engine).trim_end())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
