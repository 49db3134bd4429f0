//! Per-user and per-room sliding windows. Pure: the caller passes the time, so tests need no clock.
//! Urgent replies (crisis, emergency) are never dropped, but they still count, so a flood of
//! crisis messages cannot be used to make room for more ordinary answers.
//!
//! Over the limit in a DM, silence looks like a broken bot: the person gets one short notice per
//! window ("I answer N questions a minute; ask again in a moment"), then silence until the window
//! has passed. In group rooms nothing is sent (a notice there would add to the noise the limit is
//! for).
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

/// What the runtime does with one message it would answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Answer it (urgent replies always are, over a limit or not).
    Answer,
    /// Over the limit in a DM, the first time this window: send the short notice instead.
    Notice,
    /// Over the limit: no reply.
    Silent,
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
    /// When each user was last sent the over-the-limit notice.
    notices: HashMap<String, Instant>,
    /// When each user last got a crisis reply.
    crisis_replies: HashMap<String, Instant>,
    crisis_window: Duration,
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
            notices: HashMap::new(),
            crisis_replies: HashMap::new(),
            crisis_window: Duration::from_secs(config.crisis_reply_window_secs),
        }
    }

    /// Whether to send a crisis reply to `user` now: the first always, then one per window (the
    /// moderator alert and the reply already sent cover the rest, and a flood of crisis phrases
    /// cannot spend the bot's send budget). Records the reply when it says yes.
    pub fn admit_crisis_reply(&mut self, user: &str, now: Instant) -> bool {
        let window = self.crisis_window;
        if self
            .crisis_replies
            .get(user)
            .is_some_and(|t| now.duration_since(*t) < window)
        {
            return false;
        }
        self.crisis_replies.insert(user.to_owned(), now);
        if self.crisis_replies.len() > 10_000 {
            self.crisis_replies
                .retain(|_, t| now.duration_since(*t) < window);
        }
        true
    }

    /// Checks one message and says what to do with it: answer, send the over-the-limit notice (a
    /// DM, once per user window), or stay silent. A crisis or emergency is always answered.
    pub fn admit(
        &mut self,
        user: &str,
        room: &str,
        urgent: bool,
        is_dm: bool,
        now: Instant,
    ) -> (Outcome, Admission) {
        let outcome = self.check(user, room, urgent, now);
        if outcome.allowed() {
            return (outcome, Admission::Answer);
        }
        if !is_dm {
            return (outcome, Admission::Silent);
        }
        let window = self.user.window;
        let recently = self
            .notices
            .get(user)
            .is_some_and(|t| now.duration_since(*t) < window);
        if recently {
            return (outcome, Admission::Silent);
        }
        self.notices.insert(user.to_owned(), now);
        if self.notices.len() > 10_000 {
            self.notices.retain(|_, t| now.duration_since(*t) < window);
        }
        (outcome, Admission::Notice)
    }

    /// The notice for someone over the per-user limit.
    pub fn notice_text(&self) -> String {
        let n = self.user.max;
        let questions = if n == 1 { "question" } else { "questions" };
        let secs = self.user.window.as_secs();
        let per = match secs {
            60 => "a minute".to_string(),
            3600 => "an hour".to_string(),
            s if s % 60 == 0 => format!("every {} minutes", s / 60),
            s => format!("every {s} seconds"),
        };
        format!("I answer {n} {questions} {per} per person; please ask again in a moment.")
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
            crisis_reply_window_secs: 600,
        })
    }

    #[test]
    fn one_crisis_reply_per_person_per_window() {
        let mut rl = limiter(100, 100);
        let t0 = Instant::now();
        assert!(
            rl.admit_crisis_reply("@a", t0),
            "the first is never dropped"
        );
        assert!(!rl.admit_crisis_reply("@a", t0 + Duration::from_secs(1)));
        assert!(rl.admit_crisis_reply("@b", t0), "others are separate");
        assert!(!rl.admit_crisis_reply("@a", t0 + Duration::from_secs(599)));
        assert!(rl.admit_crisis_reply("@a", t0 + Duration::from_secs(600)));
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
    fn over_the_limit_in_a_dm_one_notice_per_window() {
        let mut rl = limiter(2, 100);
        let t0 = Instant::now();
        let admit = |rl: &mut RateLimiter, secs: u64| {
            rl.admit("@a", "!dm", false, true, t0 + Duration::from_secs(secs))
                .1
        };
        assert_eq!(admit(&mut rl, 0), Admission::Answer);
        assert_eq!(admit(&mut rl, 1), Admission::Answer);
        assert_eq!(admit(&mut rl, 2), Admission::Notice);
        assert_eq!(admit(&mut rl, 3), Admission::Silent);
        assert_eq!(admit(&mut rl, 30), Admission::Silent);
        // The window has slid: answers again.
        assert_eq!(admit(&mut rl, 60), Admission::Answer);
        assert_eq!(admit(&mut rl, 61), Admission::Answer);
        // Over again, and the last notice was a full window ago: one more notice.
        assert_eq!(admit(&mut rl, 62), Admission::Notice);
        assert_eq!(admit(&mut rl, 63), Admission::Silent);
    }

    #[test]
    fn a_crisis_over_the_limit_is_answered_never_a_notice() {
        let mut rl = limiter(1, 100);
        let t0 = Instant::now();
        assert_eq!(rl.admit("@a", "!dm", false, true, t0).1, Admission::Answer);
        assert_eq!(rl.admit("@a", "!dm", false, true, t0).1, Admission::Notice);
        for urgent_in_a_dm in [true, false] {
            let (outcome, admission) = rl.admit("@a", "!r", true, urgent_in_a_dm, t0);
            assert_eq!(outcome, Outcome::AllowedUrgent);
            assert_eq!(admission, Admission::Answer);
        }
        assert_eq!(rl.admit("@a", "!dm", false, true, t0).1, Admission::Silent);
    }

    #[test]
    fn no_notice_in_group_rooms_or_for_other_people() {
        let mut rl = limiter(1, 100);
        let t0 = Instant::now();
        assert_eq!(
            rl.admit("@a", "!room", false, false, t0).1,
            Admission::Answer
        );
        assert_eq!(
            rl.admit("@a", "!room", false, false, t0).1,
            Admission::Silent
        );
        // The same person in a DM still gets one notice; someone else is unaffected.
        assert_eq!(rl.admit("@a", "!dm", false, true, t0).1, Admission::Notice);
        assert_eq!(rl.admit("@b", "!dm2", false, true, t0).1, Admission::Answer);
    }

    #[test]
    fn notice_says_the_limit() {
        assert_eq!(
            limiter(5, 100).notice_text(),
            "I answer 5 questions a minute per person; please ask again in a moment."
        );
        let rl = RateLimiter::new(&RateLimitConfig {
            per_user: 1,
            per_user_window_secs: 300,
            per_room: 10,
            per_room_window_secs: 60,
            crisis_reply_window_secs: 600,
        });
        assert_eq!(
            rl.notice_text(),
            "I answer 1 question every 5 minutes per person; please ask again in a moment."
        );
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
