//! Who may give which command. Pure: the runtime looks up the power level and whether the room is
//! the management room; this decides. The caller audits every refusal.
//!
//! - Everyone: `help`, `topics`, `sources`, `region` in a DM.
//! - Room commands: members of the management room (there), bot admins, or anyone whose power
//!   level in that group room is at least the threshold. Not from power in a DM: whoever opens
//!   a DM holds its top power level, so it proves nothing.
//! - Bot-wide commands (`reload`, `stats`): the management room or bot admins only, for the
//!   same reason — anyone can create a room and be its admin.
use super::commands::Scope;
use crate::config::ModerationConfig;

/// A user's power level in a room. `Infinite`: room creator in room version 12.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerLevel {
    Infinite,
    Level(i64),
}

/// Where and by whom a command was given.
#[derive(Debug, Clone, Copy)]
pub struct Asker<'a> {
    pub user_id: &'a str,
    pub in_management_room: bool,
    pub in_dm: bool,
    /// `None` when it could not be read.
    pub power: Option<PowerLevel>,
}

/// Why a command was allowed (logged and audited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    Everyone,
    Admin,
    ManagementRoom,
    PowerLevel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Room command without enough power in this room.
    NotModerator,
    /// Bot-wide command outside the management room from a non-admin.
    NotManagement,
}

impl Refusal {
    /// The short reply the asker sees.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::NotModerator => {
                "Sorry, that command is for this room's moderators. To ask a question, write it after the prefix."
            }
            Refusal::NotManagement => {
                "Sorry, that command is only taken in the bot's management room or from its admins."
            }
        }
    }
}

pub fn check(cfg: &ModerationConfig, scope: Scope, asker: &Asker<'_>) -> Result<Grant, Refusal> {
    if scope == Scope::Everyone {
        return Ok(Grant::Everyone);
    }
    if cfg.admins.iter().any(|a| a == asker.user_id) {
        return Ok(Grant::Admin);
    }
    if asker.in_management_room {
        return Ok(Grant::ManagementRoom);
    }
    match scope {
        Scope::Bot => Err(Refusal::NotManagement),
        _ if asker.in_dm => Err(Refusal::NotModerator),
        _ => match asker.power {
            Some(PowerLevel::Infinite) => Ok(Grant::PowerLevel),
            Some(PowerLevel::Level(p)) if p >= cfg.power_level => Ok(Grant::PowerLevel),
            _ => Err(Refusal::NotModerator),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ModerationConfig {
        ModerationConfig {
            room: Some("#mods:x".into()),
            power_level: 50,
            admins: vec!["@admin:x".into()],
        }
    }

    fn asker(user: &str, power: Option<PowerLevel>) -> Asker<'_> {
        Asker {
            user_id: user,
            in_management_room: false,
            in_dm: false,
            power,
        }
    }

    #[test]
    fn everyone_commands_need_nothing() {
        let a = asker("@u:x", Some(PowerLevel::Level(0)));
        assert_eq!(check(&cfg(), Scope::Everyone, &a), Ok(Grant::Everyone));
    }

    #[test]
    fn room_commands_need_the_threshold() {
        let c = cfg();
        let at = |p| check(&c, Scope::Room, &asker("@u:x", Some(PowerLevel::Level(p))));
        assert_eq!(at(0), Err(Refusal::NotModerator));
        assert_eq!(at(49), Err(Refusal::NotModerator));
        assert_eq!(at(50), Ok(Grant::PowerLevel));
        assert_eq!(at(100), Ok(Grant::PowerLevel));
        let creator = asker("@u:x", Some(PowerLevel::Infinite));
        assert_eq!(check(&c, Scope::Room, &creator), Ok(Grant::PowerLevel));
        assert_eq!(
            check(&c, Scope::Room, &asker("@u:x", None)),
            Err(Refusal::NotModerator),
            "unknown power is no power"
        );
        let strict = ModerationConfig {
            power_level: 75,
            ..cfg()
        };
        let mod50 = asker("@u:x", Some(PowerLevel::Level(50)));
        assert_eq!(
            check(&strict, Scope::Room, &mod50),
            Err(Refusal::NotModerator)
        );
    }

    #[test]
    fn power_in_a_dm_counts_for_nothing() {
        let mut a = asker("@u:x", Some(PowerLevel::Level(100)));
        a.in_dm = true;
        assert_eq!(check(&cfg(), Scope::Room, &a), Err(Refusal::NotModerator));
    }

    #[test]
    fn bot_commands_need_the_management_room_or_admin() {
        let c = cfg();
        let room_admin = asker("@u:x", Some(PowerLevel::Level(100)));
        assert_eq!(
            check(&c, Scope::Bot, &room_admin),
            Err(Refusal::NotManagement)
        );
        let mut member = asker("@u:x", Some(PowerLevel::Level(0)));
        member.in_management_room = true;
        assert_eq!(check(&c, Scope::Bot, &member), Ok(Grant::ManagementRoom));
        assert_eq!(check(&c, Scope::Room, &member), Ok(Grant::ManagementRoom));
        let mut admin = asker("@admin:x", Some(PowerLevel::Level(0)));
        admin.in_dm = true;
        assert_eq!(check(&c, Scope::Bot, &admin), Ok(Grant::Admin));
        assert_eq!(check(&c, Scope::Room, &admin), Ok(Grant::Admin));
    }
}
