//! Joining rooms the bot is invited to (from allowed users or servers), following rooms that
//! were upgraded, and leaving rooms where nobody else is left.
use std::sync::Arc;
use std::time::Duration;

use matrix_sdk::ruma::{OwnedRoomId, RoomOrAliasId};
use matrix_sdk::{Room, RoomState};

use super::{lock, Bot};

/// Synapse can reject a join (or decline) that follows the invite too closely; retry with backoff.
const JOIN_ATTEMPTS: u32 = 8;

/// Invites handled at once; the rest wait their turn.
pub const CONCURRENT_JOINS: usize = 4;
/// Invites waiting at most: past this, an invite flood is declined by being ignored (logged).
const MAX_QUEUED_INVITES: usize = 500;

/// Handles an invite in the background (idempotent: the same invite may be seen twice).
pub fn spawn_join(bot: Arc<Bot>, room_id: OwnedRoomId) {
    {
        let mut joining = lock(&bot.joining);
        if joining.len() >= MAX_QUEUED_INVITES {
            tracing::warn!(room = %room_id, queued = joining.len(), "too many invites waiting; ignoring this one");
            return;
        }
        if !joining.insert(room_id.clone()) {
            return;
        }
    }
    tokio::spawn(async move {
        // The semaphore is never closed, so acquiring only fails if it were; then go ahead.
        let _slot = bot.join_slots.acquire().await.ok();
        handle_invite(&bot, &room_id).await;
        lock(&bot.joining).remove(&room_id);
    });
}

async fn handle_invite(bot: &Bot, room_id: &OwnedRoomId) {
    let Some(room) = bot.client.get_room(room_id) else {
        return;
    };
    if room.state() != RoomState::Invited {
        return;
    }
    let inviter = match room.invite_details().await {
        Ok(invite) => invite.inviter_id.to_string(),
        Err(e) => {
            tracing::warn!(room = %room_id, error = %e, "cannot read the invite");
            return;
        }
    };
    if !bot.config.invite_allowed(&inviter) {
        tracing::info!(room = %room_id, %inviter, "declining an invite from outside the allowlist");
        if retried(room_id, "decline", || room.leave()).await {
            tracing::info!(room = %room_id, %inviter, "declined");
        }
        return;
    }
    if retried(room_id, "join", || room.join()).await {
        tracing::info!(room = %room_id, %inviter, "joined");
    }
}

/// Runs a join or decline with backoff: Synapse can reject either when it follows the invite too
/// closely. Returns whether it succeeded.
async fn retried<F, Fut>(room_id: &OwnedRoomId, what: &str, mut action: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = matrix_sdk::Result<()>>,
{
    let mut wait = Duration::from_millis(250);
    for attempt in 1..=JOIN_ATTEMPTS {
        match action().await {
            Ok(()) => return true,
            Err(e) if attempt < JOIN_ATTEMPTS => {
                tracing::debug!(room = %room_id, error = %e, attempt, what, "failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
            Err(e) => tracing::warn!(room = %room_id, error = %e, what, "giving up"),
        }
    }
    false
}

/// Follows a room upgrade (an `m.room.tombstone`): joins the room that replaces `room` and
/// carries the moderators' settings over, so a paused or `mode all` room stays that way.
pub fn follow_upgrade(bot: &Arc<Bot>, room: &Room) {
    let Some(successor) = room.successor_room() else {
        return;
    };
    let new = successor.room_id;
    if bot
        .client
        .get_room(&new)
        .is_some_and(|r| r.state() == RoomState::Joined)
    {
        return;
    }
    if !lock(&bot.joining).insert(new.clone()) {
        return;
    }
    let bot = bot.clone();
    let old = room.clone();
    tokio::spawn(async move {
        let _slot = bot.join_slots.acquire().await.ok();
        if let Err(e) = bot
            .store
            .copy_room_settings(old.room_id().as_str(), new.as_str())
        {
            tracing::warn!(error = %e, "cannot carry room settings to the upgraded room");
        }
        if bot.config.rooms.contains_key(old.room_id().as_str()) {
            tracing::warn!(
                old = %old.room_id(),
                new = %new,
                "the config has [rooms] settings for an upgraded room: copy them to the new id"
            );
        }
        // Servers that know the new room: those in the old one (a room id may name none).
        let mut via = old.route().await.unwrap_or_default();
        via.push(bot.user_id.server_name().to_owned());
        let target: &RoomOrAliasId = (&*new).into();
        if retried(&new, "join the upgraded room", || async {
            bot.client
                .join_room_by_id_or_alias(target, &via)
                .await
                .map(|_| ())
        })
        .await
        {
            tracing::info!(old = %old.room_id(), new = %new, "followed a room upgrade");
        } else {
            tracing::warn!(old = %old.room_id(), new = %new, "cannot join the upgraded room: invite the bot there");
        }
        lock(&bot.joining).remove(&new);
    });
}

/// Leaves a joined room once the bot is its only member (and nobody is invited).
pub async fn leave_if_alone(bot: &Bot, room: &Room) {
    if !bot.config.invites.leave_when_alone || room.state() != RoomState::Joined {
        return;
    }
    let (joined, invited) = (room.joined_members_count(), room.invited_members_count());
    tracing::debug!(room = %room.room_id(), joined, invited, "membership changed");
    if joined <= 1 && invited == 0 {
        tracing::info!(room = %room.room_id(), "alone in the room; leaving");
        if let Err(e) = room.leave().await {
            tracing::warn!(room = %room.room_id(), error = %e, "cannot leave");
        }
    }
}
