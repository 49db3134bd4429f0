//! The Matrix side of moderation: gather the facts a command needs (power level, management
//! room, replied-to message), run it through `crate::moderation::handlers`, and send what comes
//! back; post crisis alerts to the management room; prune old audit entries.
use std::sync::Arc;
use std::time::{Duration, Instant};

use matrix_sdk::ruma::events::room::message::{
    OriginalSyncRoomMessageEvent, RoomMessageEventContent,
};
use matrix_sdk::ruma::events::room::power_levels::UserPowerLevel;
use matrix_sdk::ruma::events::Mentions;
use matrix_sdk::ruma::{EventId, OwnedRoomId, OwnedUserId, RoomAliasId, RoomId, UserId};
use matrix_sdk::Room;

use super::{lock, now_ms, reply, thread_of, Bot};
use crate::engine::Decision;
use crate::moderation::alerts::{self, Alert, AlertKind};
use crate::moderation::commands::Parsed;
use crate::moderation::handlers::{self, Ctx, Outcome, Text};
use crate::moderation::permissions::PowerLevel;
use crate::store::{AuditEntry, Counter};

/// The command message and what the runtime already worked out about it.
pub(super) struct CommandMessage<'a> {
    pub room: &'a Room,
    pub ev: &'a OriginalSyncRoomMessageEvent,
    pub reply_to: Option<&'a EventId>,
    pub is_dm: bool,
    /// The region answers here use.
    pub region: &'a str,
}

const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Deletes audit entries and counters past the retention period, hourly (and at start-up).
pub(super) async fn prune_periodically(bot: Arc<Bot>) {
    loop {
        tokio::time::sleep(PRUNE_EVERY).await;
        let cutoff = now_ms() - bot.config.retention().as_millis() as i64;
        match bot.store.prune_moderation(cutoff) {
            Ok(n) if n > 0 => tracing::info!(deleted = n, "pruned old audit entries and counters"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot prune the audit log"),
        }
    }
}

impl Bot {
    /// The management room's id: as configured, or its alias resolved (retried until it works).
    pub(super) async fn management_room(&self) -> Option<OwnedRoomId> {
        let configured = self.config.moderation.room.as_deref()?;
        let mut cached = self.management_room.lock().await;
        if let Some(id) = cached.as_ref() {
            return Some(id.clone());
        }
        let id = if let Ok(id) = RoomId::parse(configured) {
            id
        } else {
            let alias = match RoomAliasId::parse(configured) {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(error = %e, "moderation.room is neither a room id nor an alias");
                    return None;
                }
            };
            let id = match self.client.resolve_room_alias(&alias).await {
                Ok(r) => r.room_id,
                Err(e) => {
                    tracing::warn!(error = %e, alias = %alias, "cannot resolve the management room alias");
                    return None;
                }
            };
            if !self.owned_by_admins(&id).await {
                tracing::error!(
                    alias = %alias,
                    room = %id,
                    "the management room alias points to a room none of [moderation] admins \
                     created or administers; no alerts go there (use the room id to be sure)"
                );
                return None;
            }
            id
        };
        *cached = Some(id.clone());
        Some(id)
    }

    /// Whether one of `[moderation] admins` created the room or holds power 100 in it (checked
    /// for a room named by alias: whoever created an alias first decides where it points).
    async fn owned_by_admins(&self, room_id: &RoomId) -> bool {
        let Some(room) = self.client.get_room(room_id) else {
            tracing::warn!(room = %room_id, "not in the management room yet; cannot check its owner");
            return false;
        };
        let admins = &self.config.moderation.admins;
        if room
            .creators()
            .is_some_and(|c| c.iter().any(|u| admins.iter().any(|a| a == u.as_str())))
        {
            return true;
        }
        for admin in admins {
            let Ok(user) = UserId::parse(admin) else {
                continue;
            };
            match room.get_user_power_level(&user).await {
                Ok(UserPowerLevel::Infinite) => return true,
                Ok(UserPowerLevel::Int(p)) if i64::from(p) >= 100 => return true,
                _ => {}
            }
        }
        false
    }

    pub(super) async fn run_command(&self, m: CommandMessage<'_>, parsed: Parsed) {
        let room_id = m.room.room_id();
        let ev = m.ev;
        let in_management_room = self.management_room().await.as_deref() == Some(room_id);
        let power = match m.room.get_user_power_level(&ev.sender).await {
            Ok(UserPowerLevel::Int(p)) => Some(PowerLevel::Level(p.into())),
            Ok(UserPowerLevel::Infinite) => Some(PowerLevel::Infinite),
            Ok(_) | Err(_) => None,
        };
        let engine = self.engine();
        let reply_to = m.reply_to.map(|e| e.to_string());
        let ctx = Ctx {
            config: &self.config,
            store: &self.store,
            metrics: &self.metrics,
            engine: &engine,
            room_id: room_id.as_str(),
            event_id: ev.event_id.as_str(),
            sender: ev.sender.as_str(),
            in_dm: m.is_dm,
            in_management_room,
            power,
            reply_to: reply_to.as_deref(),
            region: m.region,
            now_ms: now_ms(),
        };
        let sent = match handlers::execute(&ctx, parsed) {
            Outcome::Notice(text) => self.send_notice(&m, &text).await,
            Outcome::Reload => {
                let source = self.config.bot.responses();
                let prefix = self.config.bot.command_prefix.clone();
                let cache = super::model_cache(&self.config);
                // Edited content retrains the learned models: seconds of CPU, so not on the async
                // threads.
                let result = tokio::task::spawn_blocking(move || {
                    crate::Engine::load_with_cache(&source, &cache)
                        .map(|e| e.with_command_prefix(&prefix))
                })
                .await;
                let text = match result {
                    Ok(result) => {
                        let (new, text) = handlers::finish_reload(&ctx, result);
                        if let Some(new) = new {
                            self.swap_engine(new);
                            tracing::info!(actor = %ev.sender, "response library reloaded");
                        }
                        text
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "reload task failed");
                        Text {
                            plain: "Reload failed: still serving the previous library.".into(),
                            html: "Reload failed: still serving the previous library.".into(),
                        }
                    }
                };
                self.send_notice(&m, &text).await
            }
            Outcome::PostToTarget {
                target,
                text,
                topic,
                template_id,
            } => {
                let posted = self.post_to_target(&m, &target, &text).await;
                if posted.is_some() {
                    self.count(Counter::Answer, Some(&topic));
                    tracing::info!(room = %room_id, actor = %ev.sender, template = %template_id, "posted a template on request");
                }
                posted
            }
        };
        let reply_id = sent.as_deref();
        if let Err(e) = self.store.mark_answered(
            room_id.as_str(),
            ev.event_id.as_str(),
            reply_id,
            "command",
            now_ms(),
        ) {
            tracing::error!(error = %e, "could not record the command as handled");
        }
    }

    async fn send_notice(&self, m: &CommandMessage<'_>, text: &Text) -> Option<String> {
        let content = reply::build(
            &text.plain,
            &text.html,
            &m.ev.event_id,
            &m.ev.sender,
            thread_of(m.ev),
        );
        match reply::send(
            m.room,
            content,
            reply::transaction_id(&m.ev.event_id),
            false,
            self.sender(),
        )
        .await
        {
            Ok(id) => Some(id.to_string()),
            Err(e) => {
                tracing::error!(room = %m.room.room_id(), error = %e, "could not answer a command");
                None
            }
        }
    }

    /// `answer`: the template as a rich reply to the message the moderator replied to, mentioning
    /// its sender.
    async fn post_to_target(
        &self,
        m: &CommandMessage<'_>,
        target: &str,
        text: &Text,
    ) -> Option<String> {
        let target_id = EventId::parse(target).ok()?;
        let fetched =
            tokio::time::timeout(Duration::from_secs(10), m.room.event(&target_id, None)).await;
        let sender: Option<OwnedUserId> = match fetched {
            Ok(Ok(ev)) => ev
                .raw()
                .get_field::<String>("sender")
                .ok()
                .flatten()
                .and_then(|s| s.parse().ok()),
            _ => None,
        };
        let Some(sender) = sender else {
            let text = Text {
                plain: "I cannot see the message you replied to.".into(),
                html: "I cannot see the message you replied to.".into(),
            };
            return self.send_notice(m, &text).await;
        };
        let content = reply::build(
            &text.plain,
            &text.html,
            &target_id,
            &sender,
            thread_of(m.ev),
        );
        // Keyed to the command, so a re-run after a restart is deduplicated by the homeserver.
        match reply::send(
            m.room,
            content,
            reply::transaction_id(&m.ev.event_id),
            false,
            self.sender(),
        )
        .await
        {
            Ok(id) => {
                // The posted answer counts as the bot's reply (replies to it address the bot).
                let _ = self.store.mark_answered(
                    m.room.room_id().as_str(),
                    target_id.as_str(),
                    Some(id.as_str()),
                    "answer",
                    now_ms(),
                );
                Some(id.to_string())
            }
            Err(e) => {
                tracing::error!(room = %m.room.room_id(), error = %e, "could not post the template");
                None
            }
        }
    }

    /// Tells the management room about a crisis message (or, for `CheckIn`, weaker signs in an
    /// unaddressed message), at most once per person per window and kind.
    pub(super) async fn alert(
        &self,
        kind: AlertKind,
        room: &Room,
        ev: &OriginalSyncRoomMessageEvent,
        decision: &Decision,
        text: &str,
        is_dm: bool,
    ) {
        if is_dm && !self.config.alerts.dm_alerts {
            return;
        }
        let Some(mgmt_id) = self.management_room().await else {
            return;
        };
        if mgmt_id == room.room_id() {
            return;
        }
        let Some(mgmt) = self.client.get_room(&mgmt_id) else {
            tracing::warn!(room = %mgmt_id, "not in the management room; crisis alert not sent");
            return;
        };
        let throttle = match kind {
            AlertKind::Crisis { .. } => &self.alerts,
            AlertKind::CheckIn => &self.check_ins,
        };
        if !lock(throttle).allow(ev.sender.as_str(), Instant::now()) {
            tracing::info!(room = %room.room_id(), event = %ev.event_id, ?kind, "alert throttled (same person within the window)");
            return;
        }
        let label = room
            .name()
            .or_else(|| room.canonical_alias().map(|a| a.to_string()))
            .or_else(|| room.cached_display_name().map(|n| n.to_string()))
            .unwrap_or_else(|| room.room_id().to_string());
        let rules = match kind {
            AlertKind::Crisis { .. } => alerts::crisis_rules(&decision.reasons),
            // The family is the bot's own vocabulary; the concern reason may echo the message.
            AlertKind::CheckIn => vec![format!(
                "concern: {}",
                decision.family.as_deref().unwrap_or("weak crisis signals")
            )],
        };
        let alert = Alert {
            kind,
            room_label: &label,
            room_id: room.room_id().as_str(),
            event_id: ev.event_id.as_str(),
            sender: ev.sender.as_str(),
            at_ms: ev.origin_server_ts.0.into(),
            rules: &rules,
            text: self.config.alerts.include_text.then_some(text),
            in_dm: is_dm,
        };
        let (plain, html) = alerts::compose(&alert);
        let mut content = RoomMessageEventContent::notice_html(plain, html);
        content.mentions = Some(Mentions::new());
        let txn = format!("alert-{}", reply::transaction_id(&ev.event_id));
        match reply::send(&mgmt, content, txn.into(), true, self.sender()).await {
            Ok(_) => {
                self.count(Counter::Alert, None);
                let entry = AuditEntry {
                    at_ms: now_ms(),
                    room_id: room.room_id().to_string(),
                    event_id: ev.event_id.to_string(),
                    action: match kind {
                        AlertKind::Crisis { .. } => "alert",
                        AlertKind::CheckIn => "check-in-alert",
                    }
                    .into(),
                    topic: Some(decision.topic.clone()),
                    template_id: Some(decision.template_id.clone()),
                    actor: self.user_id.to_string(),
                };
                if let Err(e) = self.store.audit(&entry) {
                    tracing::error!(error = %e, "cannot write the audit log");
                }
            }
            Err(e) => tracing::error!(error = %e, ?kind, "could not send the alert"),
        }
    }
}
