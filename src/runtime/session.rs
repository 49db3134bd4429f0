//! Logging in once and restoring that session on every start, so the bot keeps one device (and
//! its encryption keys) for its whole life. The session file holds the access token: mode 0600,
//! never logged.
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::config::RequestConfig;
use matrix_sdk::encryption::{BackupDownloadStrategy, EncryptionSettings};
use matrix_sdk::Client;
use serde::{Deserialize, Serialize};

use crate::config::{secret_from_env, Config};

/// Environment variable with the account password for `login` (or `..._FILE` naming a file).
pub const PASSWORD_ENV: &str = "KRATOM_BOT_PASSWORD";
/// Optional passphrase that encrypts matrix-sdk's SQLite stores at rest.
pub const STORE_PASSPHRASE_ENV: &str = "KRATOM_BOT_STORE_PASSPHRASE";

#[derive(Serialize, Deserialize)]
struct SavedSession {
    homeserver_url: String,
    #[serde(flatten)]
    session: MatrixSession,
}

/// Creates the data directory (mode 0700) if needed, and makes an existing one private: it
/// holds the access token, the crypto store's keys and the recovery key. Files the bot and the
/// SDK create afterwards are private too (umask 077).
pub fn ensure_data_dir(config: &Config) -> anyhow::Result<()> {
    rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o077));
    let dir = &config.storage.data_dir;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create storage.data_dir {}", dir.display()))?;
    let mode = fs::metadata(dir)
        .with_context(|| format!("cannot read storage.data_dir {}", dir.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            dir = %dir.display(),
            mode = format!("{:o}", mode & 0o777),
            "storage.data_dir was readable by others; setting it to 0700"
        );
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).with_context(|| {
            format!(
                "storage.data_dir {} is readable by others and cannot be made private \
                 (chmod 700 it, or point storage.data_dir at a private folder)",
                dir.display()
            )
        })?;
    }
    Ok(())
}

/// A client on the persistent SQLite state + crypto store in the data directory.
pub async fn build_client(config: &Config) -> anyhow::Result<Client> {
    ensure_data_dir(config)?;
    let passphrase = secret_from_env(STORE_PASSPHRASE_ENV)?;
    let client = Client::builder()
        .homeserver_url(&config.matrix.homeserver_url)
        .sqlite_store(config.matrix_store_path(), passphrase.as_deref())
        .with_encryption_settings(EncryptionSettings {
            // Done by hand in `encryption`, where a failure can be reported and a password used.
            auto_enable_cross_signing: false,
            backup_download_strategy: BackupDownloadStrategy::OneShot,
            auto_enable_backups: false,
        })
        // A bounded retry makes network errors (and 429s past the SDK's own retries) reach the
        // bot's loops, which back off and keep going instead of hanging forever.
        .request_config(
            RequestConfig::new()
                .retry_limit(3)
                .timeout(Duration::from_secs(60)),
        )
        .build()
        .await
        .context("cannot open the Matrix client store (wrong KRATOM_BOT_STORE_PASSPHRASE?)")?;
    Ok(client)
}

/// Writes `contents` to `path` with mode 0600, atomically (temp file + rename).
pub fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(contents)?;
    f.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn save_session(config: &Config, session: MatrixSession) -> anyhow::Result<()> {
    let saved = SavedSession {
        homeserver_url: config.matrix.homeserver_url.clone(),
        session,
    };
    write_private(&config.session_path(), &serde_json::to_vec_pretty(&saved)?)
}

fn load_session(config: &Config) -> anyhow::Result<Option<MatrixSession>> {
    let path = config.session_path();
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let saved: SavedSession = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a kratom-bot session file", path.display()))?;
    if saved.session.meta.user_id.as_str() != config.matrix.user_id {
        bail!(
            "{} belongs to {}, but matrix.user_id is {}: run `kratom-bot login` for the new account",
            path.display(),
            saved.session.meta.user_id,
            config.matrix.user_id
        );
    }
    Ok(Some(saved.session))
}

/// The password for `login`: the environment, else a prompt on the terminal.
pub fn password_from_env_or_prompt(config: &Config) -> anyhow::Result<String> {
    if let Some(p) = secret_from_env(PASSWORD_ENV)? {
        return Ok(p);
    }
    rpassword::prompt_password(format!("Password for {}: ", config.matrix.user_id)).with_context(
        || format!("no {PASSWORD_ENV} in the environment and no terminal to ask for the password"),
    )
}

/// Restores the saved session; `Ok(None)` if there is none yet.
pub async fn restore(config: &Config) -> anyhow::Result<Option<Client>> {
    let Some(session) = load_session(config)? else {
        return Ok(None);
    };
    let client = build_client(config).await?;
    let device = session.meta.device_id.clone();
    client.restore_session(session).await.context(
        "cannot restore the saved session (if matrix-store was deleted, log in again: \
         remove session.json and run `kratom-bot login`)",
    )?;
    tracing::info!(user = %config.matrix.user_id, device = %device, "session restored");
    Ok(Some(client))
}

/// Logs in with a password and saves the session. If a session already exists it is reused: a
/// second `login` must not create a second device.
pub async fn login(config: &Config, password: &str) -> anyhow::Result<Client> {
    if let Some(client) = restore(config).await? {
        client
            .whoami()
            .await
            .context("the saved session no longer works; remove session.json")?;
        return Ok(client);
    }
    // A store without a session belongs to a device we can no longer use: keep it aside rather
    // than mixing two devices' keys in one crypto store.
    let store = config.matrix_store_path();
    if store.exists() {
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let aside = store.with_file_name(format!("matrix-store.orphaned-{ts}"));
        fs::rename(&store, &aside)?;
        tracing::warn!(path = %aside.display(), "moved a store without a session aside");
    }
    let client = build_client(config).await?;
    let response = client
        .matrix_auth()
        .login_username(&config.matrix.user_id, password)
        .initial_device_display_name(&config.matrix.device_name)
        .send()
        .await
        .context("login failed")?;
    let session = client
        .matrix_auth()
        .session()
        .context("logged in but no session returned")?;
    save_session(config, session)?;
    tracing::info!(user = %response.user_id, device = %response.device_id, "logged in; session saved");
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_data_dir_open_to_others_is_made_private() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("data");
        fs::create_dir(&dir).expect("create");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        let text = format!(
            "[matrix]\nhomeserver_url = \"http://127.0.0.1:8008\"\nuser_id = \"@b:example.org\"\n\
             [storage]\ndata_dir = \"{}\"\n",
            dir.display()
        );
        let config = Config::from_toml(&text, tmp.path()).expect("config");
        ensure_data_dir(&config).expect("fixed");
        let mode = fs::metadata(&dir).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
