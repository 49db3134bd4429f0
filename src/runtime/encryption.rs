//! The bot's cryptographic identity and late room keys.
//!
//! Identity: clients are moving to ignore devices that are not cross-signed (MSC4153), so the bot
//! bootstraps cross-signing for its own device, and enables recovery (secret storage + key
//! backup) so that a new device (after a lost store) can take the same identity back with the
//! recovery key instead of appearing as a stranger.
//!
//! Late keys: an encrypted message whose room key has not arrived is not re-dispatched by the SDK
//! when the key comes. The sync loop parks such events in the bot database; this module watches
//! the room-keys-received stream (and retries now and then) and hands them back once decryptable.
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use matrix_sdk::encryption::recovery::RecoveryState;
use matrix_sdk::ruma::api::client::uiaa::{
    AuthData, MatrixUserIdentifier, Password, UserIdentifier,
};
use matrix_sdk::ruma::events::room::encrypted::OriginalSyncRoomEncryptedEvent;
use matrix_sdk::ruma::serde::Raw;
use matrix_sdk::ruma::RoomId;
use matrix_sdk::Client;
use tokio::sync::watch;

use super::session::write_private;
use super::Bot;
use crate::config::{secret_from_env, Config};
use crate::store::PendingEvent;

/// A recovery key (or the recovery passphrase) to take back an existing identity.
pub const RECOVERY_KEY_ENV: &str = "KRATOM_BOT_RECOVERY_KEY";
/// When set at first login, recovery is protected by this passphrase (and it can recover too).
pub const RECOVERY_PASSPHRASE_ENV: &str = "KRATOM_BOT_RECOVERY_PASSPHRASE";

/// Makes sure the device is cross-signed and recovery is set up.
///
/// At `login` (`password` given) it sets up what is missing: cross-signing, then recovery (key
/// written to `data_dir/recovery-key`, mode 0600), or takes an existing identity back with the
/// recovery key. At `run` (`None`) it never creates a new secret store (that would replace the
/// recovery key people saved); it only recovers with a key it is given, or reports what is missing.
pub async fn ensure_identity(
    client: &Client,
    config: &Config,
    password: Option<&str>,
) -> anyhow::Result<()> {
    let encryption = client.encryption();
    encryption.wait_for_e2ee_initialization_tasks().await;
    // Ask the server rather than the cached recovery state, which may still be `Unknown`.
    let has_secret_storage = encryption
        .secret_storage()
        .is_enabled()
        .await
        .context("cannot read the account's secret storage state")?;
    let complete = || async {
        encryption
            .cross_signing_status()
            .await
            .is_some_and(|s| s.is_complete())
    };
    if has_secret_storage {
        if complete().await && encryption.recovery().state() != RecoveryState::Incomplete {
            return Ok(());
        }
        // Secret storage exists on the account but this device lacks the secrets: a new device
        // for an existing identity (e.g. the store was lost). Take the identity back.
        match recovery_secret(config)? {
            Some(key) => {
                encryption
                    .recovery()
                    .recover(&key)
                    .await
                    .context("recovery with the given key failed")?;
                tracing::info!(
                    "identity recovered from secret storage; this device is cross-signed"
                );
            }
            None if password.is_some() => anyhow::bail!(
                "this account already has a cross-signing identity with recovery, and this device \
                 is new: set KRATOM_BOT_RECOVERY_KEY (or put the key in data_dir/recovery-key)"
            ),
            None => tracing::warn!(
                "this device lacks the account's cross-signing keys; log in again with \
                 KRATOM_BOT_RECOVERY_KEY set so clients trust it"
            ),
        }
        return Ok(());
    }
    if password.is_none() {
        // Cross-signing may still work without a password (MSC3967 allows the first upload).
        if let Err(e) = encryption.bootstrap_cross_signing_if_needed(None).await {
            tracing::warn!(error = %e, "device not cross-signed; run `kratom-bot login` again");
        }
        tracing::warn!("recovery is not set up; run `kratom-bot login` again to set it up");
        return Ok(());
    }
    bootstrap_cross_signing(client, config, password).await?;
    let passphrase = secret_from_env(RECOVERY_PASSPHRASE_ENV)?;
    let recovery = encryption.recovery();
    let enable = recovery.enable();
    let key = match passphrase.as_deref() {
        Some(p) => enable.with_passphrase(p).await,
        None => enable.await,
    }
    .context("could not enable recovery (key backup + secret storage)")?;
    let path = config.recovery_key_path();
    write_private(&path, format!("{key}\n").as_bytes())?;
    tracing::info!(
        path = %path.display(),
        "recovery enabled; copy the recovery key somewhere safe outside the data directory"
    );
    Ok(())
}

async fn bootstrap_cross_signing(
    client: &Client,
    config: &Config,
    password: Option<&str>,
) -> anyhow::Result<()> {
    let encryption = client.encryption();
    match encryption.bootstrap_cross_signing_if_needed(None).await {
        Ok(()) => Ok(()),
        Err(e) => {
            let (Some(uiaa), Some(password)) = (e.as_uiaa_response(), password) else {
                return Err(e).context(
                    "cross-signing bootstrap needs the account password: run `kratom-bot login`",
                );
            };
            let mut auth = Password::new(
                UserIdentifier::Matrix(MatrixUserIdentifier::new(config.matrix.user_id.clone())),
                password.to_owned(),
            );
            auth.session = uiaa.session.clone();
            encryption
                .bootstrap_cross_signing(Some(AuthData::Password(auth)))
                .await
                .context("cross-signing bootstrap failed")
        }
    }
}

fn recovery_secret(config: &Config) -> anyhow::Result<Option<String>> {
    if let Some(key) = secret_from_env(RECOVERY_KEY_ENV)? {
        return Ok(Some(key));
    }
    if let Some(p) = secret_from_env(RECOVERY_PASSPHRASE_ENV)? {
        return Ok(Some(p));
    }
    match std::fs::read_to_string(config.recovery_key_path()) {
        Ok(text) => Ok(Some(text.trim().to_owned()).filter(|k| !k.is_empty())),
        Err(_) => Ok(None),
    }
}

/// Parks an undecryptable event until its room key arrives.
pub fn park(bot: &Bot, room_id: &RoomId, raw_json: &str, origin_ts: i64) -> anyhow::Result<()> {
    let ev: OriginalSyncRoomEncryptedEvent = serde_json::from_str(raw_json)?;
    let session_id = match &ev.content.scheme {
        matrix_sdk::ruma::events::room::encrypted::EncryptedEventScheme::MegolmV1AesSha2(c) => {
            c.session_id.clone()
        }
        _ => return Ok(()),
    };
    bot.store.add_pending(
        &PendingEvent {
            room_id: room_id.to_string(),
            event_id: ev.event_id.to_string(),
            origin_ts,
            event_json: raw_json.to_owned(),
        },
        &session_id,
    )?;
    tracing::info!(room = %room_id, event = %ev.event_id, "waiting for a room key");
    show_parked(bot);
    Ok(())
}

/// Retries parked events when room keys arrive (and every 30 s, in case a key arrived between
/// the failed decryption and the parking). Runs until shutdown.
pub async fn watch_late_keys(bot: Arc<Bot>, mut shutdown: watch::Receiver<bool>) {
    let Some(stream) = bot.client.encryption().room_keys_received_stream().await else {
        tracing::warn!("no encryption machine: late room keys will not be handled");
        return;
    };
    futures_util::pin_mut!(stream);
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            update = stream.next() => match update {
                None => return,
                Some(Ok(keys)) => {
                    for key in keys {
                        let pending = bot
                            .store
                            .pending_for_session(key.room_id.as_str(), &key.session_id)
                            .unwrap_or_default();
                        retry(&bot, pending).await;
                    }
                }
                // Lagged: some notifications were lost; retry everything parked.
                Some(Err(_)) => retry_parked(&bot).await,
            },
            _ = tick.tick() => retry_parked(&bot).await,
        }
    }
}

/// Prunes what is too old to answer, then retries the newest parked events.
async fn retry_parked(bot: &Arc<Bot>) {
    let window = bot.config.catch_up_window().as_millis() as i64;
    if let Err(e) = bot.store.prune_pending(super::now_ms() - window) {
        tracing::warn!(error = %e, "cannot prune parked encrypted events");
    }
    retry(bot, bot.store.pending_all(200).unwrap_or_default()).await;
    show_parked(bot);
}

/// Updates the parked-events gauge for `/metrics`.
fn show_parked(bot: &Bot) {
    if let Ok(n) = bot.store.pending_count() {
        bot.metrics.parked_events.set(n);
    }
}

async fn retry(bot: &Arc<Bot>, pending: Vec<PendingEvent>) {
    for p in pending {
        let Ok(room_id) = RoomId::parse(&p.room_id) else {
            let _ = bot.store.remove_pending(&p.room_id, &p.event_id);
            continue;
        };
        let Some(room) = bot.client.get_room(&room_id) else {
            continue;
        };
        let Ok(raw) = serde_json::from_str::<Raw<OriginalSyncRoomEncryptedEvent>>(&p.event_json)
        else {
            let _ = bot.store.remove_pending(&p.room_id, &p.event_id);
            continue;
        };
        match room.decrypt_event(&raw, None).await {
            Ok(ev) if ev.kind.is_utd() => {}
            Ok(ev) => {
                tracing::info!(room = %p.room_id, event = %p.event_id, "decrypted after a late key");
                // Into the room's queue (and the inbox) before leaving the parked table: a
                // crash in between retries it, and the answered table keeps that exactly-once.
                bot.dispatch(&room, ev.raw().clone(), super::Origin::LateKey);
                let _ = bot.store.remove_pending(&p.room_id, &p.event_id);
            }
            Err(e) => tracing::debug!(error = %e, event = %p.event_id, "still undecryptable"),
        }
    }
}
