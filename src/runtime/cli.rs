//! Entry points for the `kratom-bot login` and `kratom-bot run` subcommands. Synchronous: each
//! builds its own tokio runtime, so `main` stays free of async.
use std::path::Path;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat, LoggingConfig};

/// The SDK logs expected conditions loudly (a 404 for absent account data at ERROR, backup
/// warnings every sync); the bot logs what matters itself.
const QUIET_SDK: &str = "matrix_sdk=warn,matrix_sdk::http_client=off,matrix_sdk_base=warn,\
matrix_sdk_crypto=warn,matrix_sdk_crypto::backups=error,matrix_sdk::encryption::backups=error,\
matrix_sdk_sqlite=warn,matrix_sdk_common=warn";

/// Installs the log subscriber (text or JSON). `RUST_LOG` wins over the config's filter. Logs
/// carry ids, topics and counts; never message bodies or tokens.
pub fn init_tracing(logging: &LoggingConfig) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| logging.filter.clone())
        .unwrap_or_else(|| "info".to_owned());
    let filter = EnvFilter::try_new(format!("{QUIET_SDK},{filter}"))
        .unwrap_or_else(|_| EnvFilter::new(format!("{QUIET_SDK},info")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // try_init: a second call (tests, embedding) keeps the first subscriber instead of panicking.
    let _ = match logging.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// `kratom-bot login --config FILE`: logs in once with `KRATOM_BOT_PASSWORD` (or a prompt), saves
/// the session (mode 0600), and sets up cross-signing and recovery.
pub fn login(config_path: &Path) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    init_tracing(&config.logging);
    let password = super::session::password_from_env_or_prompt(&config)?;
    tokio_runtime()?.block_on(super::login(&config, &password))?;
    eprintln!(
        "Logged in as {}. Session saved in {}. Now run: kratom-bot run --config {}",
        config.matrix.user_id,
        config.session_path().display(),
        config_path.display()
    );
    Ok(())
}

/// `kratom-bot run --config FILE`: restores the session and answers until SIGINT or SIGTERM.
pub fn run(config_path: &Path) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    init_tracing(&config.logging);
    tokio_runtime()?.block_on(super::run(config, shutdown_signal()))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let ctrl_c = tokio::signal::ctrl_c();
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}
