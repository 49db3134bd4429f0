//! Per-user and per-room sliding windows. Pure: the caller passes the time, so tests need no clock.
//! Urgent replies (crisis, emergency) are never dropped, but they still count, so a flood of
//! crisis messages cannot be used to make room for more ordinary answers.
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::config::RateLimitConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    /// Allowed although over a limit, because the reply is urgent.
    AllowedUrgent,
    DroppedUser,
    DroppedRoom,
}

impl Outcome {
    pub fn allowed(self) -> bool {
        matches!(self, Outcome::Allowed | Outcome::AllowedUrgent)
    }
}

#[derive(Debug, Clone, Copy)]
struct Limit {
    max: usize,
    window: Duration,
}

#[derive(Debug)]
pub struct RateLimiter {
    user: Limit,
    room: Limit,
    users: HashMap<String, VecDeque<Instant>>,
    rooms: HashMap<String, VecDeque<Instant>>,
}

impl RateLimiter {
    pub fn new(config: &RateLimitConfig) -> Self {
        RateLimiter {
            user: Limit {
                max: config.per_user as usize,
                window: Duration::from_secs(config.per_user_window_secs),
            },
            room: Limit {
                max: config.per_room as usize,
                window: Duration::from_secs(config.per_room_window_secs),
            },
            users: HashMap::new(),
            rooms: HashMap::new(),
        }
    }

    /// Checks and, when allowed, records one reply to `user` in `room` at `now`.
    pub fn check(&mut self, user: &str, room: &str, urgent: bool, now: Instant) -> Outcome {
        let user_q = self.users.entry(user.to_owned()).or_default();
        expire(user_q, now, self.user.window);
        let user_full = user_q.len() >= self.user.max;
        let room_q = self.rooms.entry(room.to_owned()).or_default();
        expire(room_q, now, self.room.window);
        let room_full = room_q.len() >= self.room.max;

        let outcome = match (user_full, room_full, urgent) {
            (false, false, _) => Outcome::Allowed,
            (_, _, true) => Outcome::AllowedUrgent,
            (true, _, false) => Outcome::DroppedUser,
            (false, true, false) => Outcome::DroppedRoom,
        };
        if outcome.allowed() {
            room_q.push_back(now);
            if let Some(q) = self.users.get_mut(user) {
                q.push_back(now);
            }
        }
        // Forget idle keys so memory stays bounded by recent activity.
        if self.users.len() > 10_000 {
            let window = self.user.window;
            self.users
                .retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        outcome
    }
}

fn expire(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
        q.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_user: u32, per_room: u32) -> RateLimiter {
        RateLimiter::new(&RateLimitConfig {
            per_user,
            per_user_window_secs: 60,
            per_room,
            per_room_window_secs: 60,
        })
    }

    #[test]
    fn per_user_window() {
        let mut rl = limiter(2, 100);
        let t0 = Instant::now();
        assert_eq!(rl.check("@a", "!r", false, t0), Outcome::Allowed);
        assert_eq!(rl.check("@a", "!r", false, t0), Outcome::Allowed);
        assert_eq!(rl.check("@a", "!r", false, t0), Outcome::DroppedUser);
        // Another user is not affected.
        assert_eq!(rl.check("@b", "!r", false, t0), Outcome::Allowed);
        // The window slides.
        assert_eq!(
            rl.check("@a", "!r", false, t0 + Duration::from_secs(60)),
            Outcome::Allowed
        );
    }

    #[test]
    fn per_room_window() {
        let mut rl = limiter(100, 2);
        let t0 = Instant::now();
        assert!(rl.check("@a", "!r", false, t0).allowed());
        assert!(rl.check("@b", "!r", false, t0).allowed());
        assert_eq!(rl.check("@c", "!r", false, t0), Outcome::DroppedRoom);
        assert!(rl.check("@c", "!other", false, t0).allowed());
    }

    #[test]
    fn urgent_never_dropped_but_counted() {
        let mut rl = limiter(1, 1);
        let t0 = Instant::now();
        assert_eq!(rl.check("@a", "!r", true, t0), Outcome::Allowed);
        for _ in 0..10 {
            assert_eq!(rl.check("@a", "!r", true, t0), Outcome::AllowedUrgent);
        }
        assert_eq!(rl.check("@a", "!r", false, t0), Outcome::DroppedUser);
        assert_eq!(rl.check("@b", "!r", false, t0), Outcome::DroppedRoom);
    }

    #[test]
    fn dropped_messages_do_not_extend_the_window() {
        let mut rl = limiter(1, 100);
        let t0 = Instant::now();
        assert!(rl.check("@a", "!r", false, t0).allowed());
        assert!(!rl
            .check("@a", "!r", false, t0 + Duration::from_secs(59))
            .allowed());
        assert!(rl
            .check("@a", "!r", false, t0 + Duration::from_secs(60))
            .allowed());
    }
}
