//! Moderator tooling against a real Synapse (issue 5): who may give commands, crisis alerts in
//! the management room, `answer` as a reply, settings that survive a restart, `reload` with a
//! broken library, and `stats`.
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use kratom_bot::library::ContentSource;
use kratom_bot::moderation::alerts::matrix_to_event;
use matrix_sdk::ruma::api::client::room::create_room::v3::Request as CreateRoomRequest;
use matrix_sdk::ruma::events::room::message::{
    AddMentions, ForwardThread, MessageType, Relation, ReplyMetadata, RoomMessageEventContent,
};
use matrix_sdk::ruma::events::Mentions;
use matrix_sdk::ruma::{OwnedRoomId, UserId};
use matrix_sdk::Room;
use support::*;

/// Everything a moderation test needs: a bot whose management room is `mods` (by alias), a group
/// room where alice (its creator, power 100) moderates and bob (power 0) does not.
struct Setup {
    bot: TestBot,
    alice: TestUser,
    bob: TestUser,
    mods: Room,
    group: Room,
}

fn server_of(user: &UserId) -> String {
    user.server_name().to_string()
}

async fn setup(extra: &str) -> Setup {
    let alias_local = unique("mods");
    let alice = TestUser::new("alice").await;
    let bob = TestUser::new("bob").await;
    // The lead moderator (a bot admin) owns the management room and its alias; alice is a member.
    let lead = TestUser::new("lead").await;
    let alias = format!("#{alias_local}:{}", server_of(&alice.user_id));
    let bot = TestBot::new(&format!(
        "\n[moderation]\nroom = \"{alias}\"\nadmins = [\"{}\"]\n{extra}",
        lead.user_id
    ))
    .await;
    let mut req = CreateRoomRequest::new();
    req.invite = vec![bot.user_id.clone(), alice.user_id.clone()];
    req.room_alias_name = Some(alias_local);
    req.name = Some("Moderators".into());
    let created = lead
        .client
        .create_room(req)
        .await
        .expect("create mods room");
    let mods = alice
        .client
        .join_room_by_id(created.room_id())
        .await
        .expect("alice joins the mods room");
    let group = support_room(&alice, &bot.user_id, &bob).await;
    Setup {
        bot,
        alice,
        bob,
        mods,
        group,
    }
}

/// The group room "Kratom support": alice creates it (power 100), the bot is invited, bob joins.
async fn support_room(alice: &TestUser, bot: &UserId, bob: &TestUser) -> Room {
    let mut req = CreateRoomRequest::new();
    req.invite = vec![bot.to_owned(), bob.user_id.clone()];
    req.name = Some("Kratom support".into());
    let group = alice.client.create_room(req).await.expect("create group");
    bob.client
        .join_room_by_id(group.room_id())
        .await
        .expect("bob joins");
    group
}

impl Setup {
    /// Waits until the (running) bot has joined both rooms and bob the group.
    async fn wait_ready(&self) {
        self.alice
            .wait_joined(self.mods.room_id(), &self.bot.user_id)
            .await;
        self.alice
            .wait_joined(self.group.room_id(), &self.bot.user_id)
            .await;
        self.alice
            .wait_joined(self.group.room_id(), &self.bob.user_id)
            .await;
    }

    fn bob_group(&self) -> Room {
        self.bob
            .client
            .get_room(self.group.room_id())
            .expect("bob's view of the group")
    }
}

fn body(s: &Seen) -> String {
    s.event.content.body().to_owned()
}

/// Messages from `from` in `room` seen by `user` so far.
fn messages_in(user: &TestUser, room: &OwnedRoomId, from: &UserId) -> Vec<Seen> {
    user.seen
        .lock()
        .expect("lock")
        .iter()
        .filter(|s| &s.room_id == room && s.event.sender == from)
        .cloned()
        .collect()
}

/// Waits for a message from `from` in `room` whose body satisfies `pred`.
async fn wait_message(
    user: &TestUser,
    room: &OwnedRoomId,
    from: &UserId,
    pred: impl Fn(&str) -> bool,
) -> Seen {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut rx = user.notify.subscribe();
    loop {
        if let Some(s) = messages_in(user, room, from)
            .into_iter()
            .find(|s| pred(s.event.content.body()))
        {
            return s;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(!left.is_zero(), "no matching message from {from} in {room}");
        let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), rx.recv()).await;
    }
}

/// Sends a command or question and returns the bot's reply text.
async fn ask(user: &TestUser, room: &Room, bot: &UserId, text: &str) -> String {
    let q = send_text(room, text, &[]).await;
    body(&user.wait_reply(bot, &q).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn normal_users_are_refused_and_audited_while_moderators_are_obeyed() {
    init_logs();
    let s = setup("").await;
    let running = s.bot.start().await;
    s.wait_ready().await;
    let bob_group = s.bob_group();

    // bob (power 0) in the group room: refused, for bot-wide and room commands alike.
    let q_reload = send_text(&bob_group, "!kratom reload", &[]).await;
    let refusal = body(&s.bob.wait_reply(&s.bot.user_id, &q_reload).await);
    assert!(refusal.starts_with("Sorry"), "{refusal}");
    let q_pause = send_text(&bob_group, "!kratom pause", &[]).await;
    let refusal = body(&s.bob.wait_reply(&s.bot.user_id, &q_pause).await);
    assert!(refusal.starts_with("Sorry"), "{refusal}");
    // Not paused: bob is still answered.
    let a = ask(
        &s.bob,
        &bob_group,
        &s.bot.user_id,
        "!kratom is kratom legal in the US?",
    )
    .await;
    assert!(!a.starts_with("Sorry") && !a.contains("Paused"), "{a}");

    // alice: power 100 in the group (room commands), member of the management room (reload).
    let reloaded = ask(&s.alice, &s.mods, &s.bot.user_id, "!kratom reload").await;
    assert!(reloaded.starts_with("Reloaded:"), "{reloaded}");
    let paused = ask(&s.alice, &s.group, &s.bot.user_id, "!kratom pause").await;
    assert!(paused.starts_with("Paused"), "{paused}");
    // Reload is bot-wide: power in a room someone created is not enough.
    let own_room = ask(&s.alice, &s.group, &s.bot.user_id, "!kratom reload").await;
    assert!(own_room.starts_with("Sorry"), "{own_room}");

    let store = running.bot().store();
    let refused = store.audit_entries(None).expect("audit log");
    let refusals: Vec<_> = refused
        .iter()
        .filter(|e| e.action.starts_with("refused:"))
        .collect();
    assert_eq!(refusals.len(), 3, "{refused:?}");
    assert_eq!(refusals[0].action, "refused:reload");
    assert_eq!(refusals[0].actor, s.bob.user_id.as_str());
    assert_eq!(refusals[0].event_id, q_reload.as_str());
    assert_eq!(refusals[0].room_id, s.group.room_id().as_str());
    assert_eq!(refusals[1].action, "refused:pause");
    assert_eq!(refusals[2].actor, s.alice.user_id.as_str());
    let obeyed: Vec<&str> = refused
        .iter()
        .filter(|e| e.actor == s.alice.user_id.as_str())
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        obeyed,
        vec!["reload", "reload-ok", "pause", "refused:reload"]
    );
    running.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crisis_raises_one_alert_with_a_link_and_without_the_text() {
    init_logs();
    let engine = engine();
    let s = setup("").await;
    let carol = TestUser::new("carol").await;
    s.group
        .invite_user_by_id(&carol.user_id)
        .await
        .expect("invite carol");
    carol
        .client
        .join_room_by_id(s.group.room_id())
        .await
        .expect("carol joins");
    let running = s.bot.start().await;
    s.wait_ready().await;
    s.alice.wait_joined(s.group.room_id(), &carol.user_id).await;
    let bob_group = s.bob_group();

    let first_text = "honestly I want to kill myself, I can't go on";
    let second_text = "I am going to end my life tonight, I have the pills ready";
    let third_text = "i want to die, i can't do this anymore";
    for t in [first_text, second_text, third_text] {
        assert!(engine.decide(t).crisis, "the engine must flag {t:?}");
    }
    let first = send_text(&bob_group, first_text, &[]).await;
    let first_reply = s.bob.wait_reply(&s.bot.user_id, &first).await;
    // A second crisis message from bob within the window: the alert covers it, not a second
    // crisis reply (the send budget is not spent on repeats).
    let second = send_text(&bob_group, second_text, &[]).await;
    // Positive control, and a barrier: carol's crisis alerts too, after bob's second message
    // was fully handled (the bot handles a room's messages in order).
    let carol_group = carol
        .client
        .get_room(s.group.room_id())
        .expect("carol's room");
    let third = send_text(&carol_group, third_text, &[]).await;
    carol.wait_reply(&s.bot.user_id, &third).await;
    let mods_id = s.mods.room_id().to_owned();
    let carol_alert = wait_message(&s.alice, &mods_id, &s.bot.user_id, |b| {
        b.contains(carol.user_id.as_str())
    })
    .await;
    assert!(body(&carol_alert).contains(&matrix_to_event(
        s.group.room_id().as_str(),
        third.as_str(),
        carol.user_id.server_name().as_str()
    )));

    let alerts: Vec<Seen> = messages_in(&s.alice, &mods_id, &s.bot.user_id)
        .into_iter()
        .filter(|m| body(m).contains(s.bob.user_id.as_str()))
        .collect();
    assert_eq!(alerts.len(), 1, "one alert for bob's two crisis messages");
    assert!(
        s.bob.replies_to(&s.bot.user_id, &second).is_empty(),
        "one crisis reply per person per window"
    );
    let alert = &alerts[0];
    // The reply goes out first; the alert follows and says so.
    assert!(
        first_reply.event.origin_server_ts <= alert.event.origin_server_ts,
        "the alert was sent before the crisis reply"
    );
    assert!(body(alert).contains("The bot sent its crisis reply."));
    let text = body(alert);
    assert!(matches!(
        alert.event.content.msgtype,
        MessageType::Notice(_)
    ));
    assert!(
        text.contains(&matrix_to_event(
            s.group.room_id().as_str(),
            first.as_str(),
            s.bob.user_id.server_name().as_str()
        )),
        "link to the first crisis message: {text}"
    );
    assert!(text.contains("Kratom support"), "room name: {text}");
    assert!(text.contains("Rule: crisis"), "which rule: {text}");
    assert!(text.contains("UTC"), "time: {text}");
    for t in [first_text, second_text] {
        assert!(!text.contains(t), "alert quotes the message: {text}");
    }
    let html = match &alert.event.content.msgtype {
        MessageType::Notice(n) => n
            .formatted
            .as_ref()
            .map(|f| f.body.clone())
            .unwrap_or_default(),
        _ => String::new(),
    };
    assert!(!html.contains("kill myself") && !html.contains("can't go on"));
    let mentions = alert
        .event
        .content
        .mentions
        .as_ref()
        .expect("m.mentions set");
    assert!(mentions.user_ids.is_empty(), "the alert pings nobody");
    running.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_as_a_reply_posts_the_template_in_reply_to_the_target() {
    init_logs();
    let engine = engine();
    let s = setup("").await;
    let running = s.bot.start().await;
    s.wait_ready().await;
    let bob_group = s.bob_group();

    let target = send_text(&bob_group, "anyone know if it's legal over in the uk?", &[]).await;
    // alice replies to bob's message with the command.
    let id = "legality-other-countries";
    let target_ev = wait_message(
        &s.alice,
        &s.group.room_id().to_owned(),
        &s.bob.user_id,
        |b| b.contains("legal over in the uk"),
    )
    .await;
    let command = RoomMessageEventContent::text_plain(format!("!kratom answer {id}"))
        .make_reply_to(
            ReplyMetadata::new(&target_ev.event.event_id, &s.bob.user_id, None),
            ForwardThread::No,
            AddMentions::No,
        )
        .add_mentions(Mentions::new());
    let cmd = s.group.send(command).await.expect("send").response.event_id;
    let posted = s.alice.wait_reply(&s.bot.user_id, &target).await.event;
    let expected = engine.render_template(id, "US").expect("template exists");
    assert_eq!(posted.content.body(), expected.plain);
    assert!(matches!(posted.content.msgtype, MessageType::Notice(_)));
    assert!(
        matches!(&posted.content.relates_to, Some(Relation::Reply(r)) if r.in_reply_to.event_id == target)
    );
    let mentions = posted.content.mentions.as_ref().expect("m.mentions");
    assert_eq!(
        mentions.user_ids.iter().collect::<Vec<_>>(),
        vec![&s.bob.user_id]
    );
    assert!(
        s.alice.replies_to(&s.bot.user_id, &cmd).is_empty(),
        "the template goes to the target, not the command"
    );
    // bob may not do the same; an id that is a path is a usage error.
    let bob_cmd = RoomMessageEventContent::text_plain(format!("!kratom answer {id}"))
        .make_reply_to(
            ReplyMetadata::new(&target_ev.event.event_id, &s.bob.user_id, None),
            ForwardThread::No,
            AddMentions::No,
        )
        .add_mentions(Mentions::new());
    let bob_q = bob_group
        .send(bob_cmd)
        .await
        .expect("send")
        .response
        .event_id;
    assert!(body(&s.bob.wait_reply(&s.bot.user_id, &bob_q).await).starts_with("Sorry"));
    let usage = ask(
        &s.alice,
        &s.group,
        &s.bot.user_id,
        "!kratom answer ../../etc/passwd",
    )
    .await;
    assert_eq!(usage, "Usage: !kratom answer <template-id>");
    assert_eq!(
        s.alice.replies_to(&s.bot.user_id, &target).len(),
        1,
        "only alice's answer reached the target"
    );
    let audit = running
        .bot()
        .store()
        .audit_entries(Some("answer-posted"))
        .expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].template_id.as_deref(), Some(id));
    assert_eq!(audit[0].topic.as_deref(), Some("legality"));
    assert_eq!(audit[0].actor, s.alice.user_id.as_str());
    running.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_settings_and_user_regions_survive_a_restart() {
    init_logs();
    let engine = engine();
    let s = setup("").await;
    let first = s.bot.start().await;
    s.wait_ready().await;
    let bob_group = s.bob_group();
    let dm = s.bob.create_room(&[&s.bot.user_id], false, true).await;
    s.bob.wait_joined(dm.room_id(), &s.bot.user_id).await;

    // Default mode is `mention`: unaddressed chatter is not answered...
    let chatter = send_text(&bob_group, "is kratom legal in the US?", &[]).await;
    let mode = ask(&s.alice, &s.group, &s.bot.user_id, "!kratom mode all").await;
    assert_eq!(mode, "This room's mode is now all.");
    let region = ask(&s.bob, &dm, &s.bot.user_id, "!kratom region gb").await;
    assert!(region.starts_with("Your region is now UK"), "{region}");
    first.stop().await.expect("clean stop");
    assert!(s.bob.replies_to(&s.bot.user_id, &chatter).is_empty());

    let second = s.bot.start().await;
    // ...after the restart the room is still in `all` mode, and bob's answers use UK help lines.
    let question = "I've been feeling really depressed and hopeless lately";
    let uk = engine.respond(question, "UK").plain;
    assert_ne!(
        uk,
        engine.respond(question, "US").plain,
        "the test needs region-specific text"
    );
    let in_group = ask(&s.bob, &bob_group, &s.bot.user_id, question).await;
    assert_eq!(in_group, uk);
    let in_dm = ask(&s.bob, &dm, &s.bot.user_id, question).await;
    assert_eq!(in_dm, uk);
    let store = second.bot().store();
    assert_eq!(
        store
            .user_region(s.bob.user_id.as_str())
            .expect("db")
            .as_deref(),
        Some("UK")
    );
    second.stop().await.expect("clean stop");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_with_a_broken_template_keeps_the_old_library_and_lists_the_error() {
    init_logs();
    let engine = engine();
    let mut s = setup("").await;
    let responses = tempfile::tempdir().expect("temp dir");
    copy_dir(&responses_dir(), responses.path());
    s.bot.config.bot.responses_dir = Some(responses.path().to_owned());
    let running = s.bot.start().await;
    s.wait_ready().await;

    let file = responses
        .path()
        .join("templates/legality/legality-us-federal.md");
    let original = std::fs::read_to_string(&file).expect("template");
    assert!(original.contains("topic = \"legality\""));
    std::fs::write(
        &file,
        original.replace("topic = \"legality\"", "topic = \"no-such-topic\""),
    )
    .expect("break the template");
    let report = ask(&s.alice, &s.mods, &s.bot.user_id, "!kratom reload").await;
    assert!(
        report.starts_with("Reload failed: still serving the previous library."),
        "{report}"
    );
    assert!(
        report.contains("legality-us-federal.md:"),
        "names the file: {report}"
    );
    assert!(
        report.contains("no-such-topic"),
        "says what is wrong: {report}"
    );

    // The old library still answers.
    let question = "!kratom is kratom legal in the US?";
    let answer = ask(&s.alice, &s.group, &s.bot.user_id, question).await;
    assert_eq!(
        answer,
        engine.respond("is kratom legal in the US?", "US").plain
    );
    let preview = ask(
        &s.alice,
        &s.mods,
        &s.bot.user_id,
        "!kratom preview legality-us-federal",
    )
    .await;
    assert!(
        preview.starts_with("Preview of legality-us-federal"),
        "{preview}"
    );

    // Fixed: the reload goes through.
    std::fs::write(&file, &original).expect("restore");
    let ok = ask(&s.alice, &s.mods, &s.bot.user_id, "!kratom reload").await;
    assert!(ok.starts_with("Reloaded:"), "{ok}");
    running.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_what_was_sent() {
    init_logs();
    let engine = engine();
    let s = setup("\n[rate_limits]\nper_user = 4\n").await;
    let running = s.bot.start().await;
    s.wait_ready().await;
    let bob_group = s.bob_group();
    // A refusal (commands count against bob's limit of 4 per minute: this is the first).
    ask(&s.bob, &bob_group, &s.bot.user_id, "!kratom stats").await;

    let questions = [
        "is kratom legal in the US?",
        "what are the side effects of kratom?",
        "is kratom legal in the UK?",
    ];
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for q in questions {
        *expected
            .entry(engine.respond(q, "US").decision.topic)
            .or_default() += 1;
        ask(&s.bob, &bob_group, &s.bot.user_id, &format!("!kratom {q}")).await;
    }
    // Over bob's limit of 4 per minute: a question and a command, both dropped.
    let dropped = send_text(
        &bob_group,
        "!kratom does kratom show up on drug tests?",
        &[],
    )
    .await;
    let dropped_command = send_text(&bob_group, "!kratom help", &[]).await;
    // A crisis: replied to despite the limit, and alerted.
    let crisis = "honestly I want to kill myself, I can't go on";
    *expected.entry("crisis".into()).or_default() += 1;
    let c = send_text(&bob_group, crisis, &[]).await;
    s.bob.wait_reply(&s.bot.user_id, &c).await;
    let mods_id = s.mods.room_id().to_owned();
    wait_message(&s.alice, &mods_id, &s.bot.user_id, |b| {
        b.starts_with("Crisis alert")
    })
    .await;
    assert!(
        s.bob.replies_to(&s.bot.user_id, &dropped).is_empty(),
        "the question over the limit was answered"
    );
    assert!(
        s.bob
            .replies_to(&s.bot.user_id, &dropped_command)
            .is_empty(),
        "the command over the limit was answered"
    );

    let stats = ask(&s.alice, &s.mods, &s.bot.user_id, "!kratom stats").await;
    let total: i64 = expected.values().sum();
    assert!(stats.starts_with("Last 7 days:"), "{stats}");
    assert!(stats.contains(&format!("Answers: {total} (")), "{stats}");
    for (topic, n) in &expected {
        assert!(
            stats.contains(&format!("{topic} {n}")),
            "{topic} {n}: {stats}"
        );
    }
    assert!(stats.contains("\nCrisis replies: 1\n"), "{stats}");
    assert!(stats.contains("\nAlerts: 1\n"), "{stats}");
    assert!(stats.contains("\nRate-limited drops: 2\n"), "{stats}");
    assert!(stats.ends_with("\nRefusals: 1"), "{stats}");
    let one_day = ask(&s.alice, &s.mods, &s.bot.user_id, "!kratom stats 1").await;
    assert!(one_day.starts_with("Last 1 day:") && one_day.contains("Refusals: 1"));
    let usage = ask(&s.alice, &s.mods, &s.bot.user_id, "!kratom stats forever").await;
    assert_eq!(usage, "Usage: !kratom stats [days]");
    running.stop().await.expect("clean stop");
}

/// The concern tier: weaker signs in a message nobody addressed to the bot get no public post,
/// only a low-priority check-in suggestion in the management room (link, no text). The library
/// copy sets the learned thresholds so that every message short of a crisis rule is a concern:
/// the test is about the runtime, not about where one message scores today.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unaddressed_concern_gets_a_quiet_check_in_alert_and_no_public_reply() {
    init_logs();
    let responses = tempfile::tempdir().expect("temp dir");
    copy_dir(&responses_dir(), responses.path());
    std::fs::write(
        responses.path().join("crisis/learned.toml"),
        "[crisis]\nalone = 1.0\nwith_rule = 1.0\nconcern = 0.0\nconcern_with_rule = 0.0\n\
         veto = 0.0\n[emergency]\nalone = 1.0\nwith_rule = 1.0\n",
    )
    .expect("thresholds");
    let concern_text = "rough week honestly, anyone else still up";
    let engine = kratom_bot::Engine::load(&ContentSource::Folder(responses.path().into()))
        .expect("library copy loads");
    let d = engine.decide(concern_text);
    assert!(d.concern && !d.crisis, "a concern here: {d:?}");
    let mut s = setup("").await;
    s.bot.config.bot.responses_dir = Some(responses.path().to_owned());
    let running = s.bot.start().await;
    s.wait_ready().await;
    let bob_group = s.bob_group();

    let concern = send_text(&bob_group, concern_text, &[]).await;
    // A barrier: the bot handles a room's messages in order, so once this is answered the
    // concern message has been handled too.
    let _ = ask(
        &s.bob,
        &bob_group,
        &s.bot.user_id,
        "!kratom is kratom legal in ohio",
    )
    .await;
    let mods_id = s.mods.room_id().to_owned();
    let alert = wait_message(&s.alice, &mods_id, &s.bot.user_id, |b| {
        b.starts_with("Check-in suggested")
    })
    .await;
    let text = body(&alert);
    assert!(
        text.contains(&matrix_to_event(
            s.group.room_id().as_str(),
            concern.as_str(),
            s.bob.user_id.server_name().as_str()
        )),
        "link to the message: {text}"
    );
    assert!(text.contains(s.bob.user_id.as_str()), "who: {text}");
    assert!(text.contains("Rule: concern"), "why: {text}");
    assert!(!text.contains("rough week"), "quotes the message: {text}");
    assert!(
        s.bob.replies_to(&s.bot.user_id, &concern).is_empty(),
        "no public reply to an unaddressed concern"
    );
    running.stop().await.expect("clean stop");
}

/// `[moderation] room` set to a room id copied from a client: Synapse creates room version 12
/// rooms by default, whose ids name no server (`!opaque`). The config accepts it, alerts arrive
/// there, and their link carries a `via` server even though the id names none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_management_room_given_by_a_server_less_id_gets_alerts_with_a_via() {
    init_logs();
    let alice = TestUser::new("alice").await;
    let bob = TestUser::new("bob").await;
    let mut req = CreateRoomRequest::new();
    req.name = Some("Moderators".into());
    let mods = alice
        .client
        .create_room(req)
        .await
        .expect("create mods room");
    let mods_id = mods.room_id().to_owned();
    println!("management room id as a client sees it: {mods_id}");
    let bot = TestBot::new(&format!("\n[moderation]\nroom = \"{mods_id}\"\n")).await;
    mods.invite_user_by_id(&bot.user_id)
        .await
        .expect("invite bot");
    let group = support_room(&alice, &bot.user_id, &bob).await;
    let running = bot.start().await;
    alice.wait_joined(&mods_id, &bot.user_id).await;
    alice.wait_joined(group.room_id(), &bot.user_id).await;
    alice.wait_joined(group.room_id(), &bob.user_id).await;

    let bob_group = bob.client.get_room(group.room_id()).expect("bob's view");
    let crisis = send_text(&bob_group, "i want to die, i can't do this anymore", &[]).await;
    bob.wait_reply(&bot.user_id, &crisis).await;
    let alert = wait_message(&alice, &mods_id, &bot.user_id, |b| {
        b.starts_with("Crisis alert")
    })
    .await;
    let text = body(&alert);
    let link = matrix_to_event(
        group.room_id().as_str(),
        crisis.as_str(),
        bob.user_id.server_name().as_str(),
    );
    assert!(text.contains(&link), "link: {text}");
    assert!(
        link.contains("?via="),
        "a via even for a server-less id: {link}"
    );
    running.stop().await.expect("clean stop");
}

/// Whoever creates an alias first decides where it points: an alias to a room that none of the
/// bot admins created or administers gets no alerts (the crisis reply itself still goes out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_to_a_room_no_admin_owns_gets_no_alerts() {
    init_logs();
    let alice = TestUser::new("alice").await;
    let bob = TestUser::new("bob").await;
    let lead = TestUser::new("lead").await;
    let mallory = TestUser::new("mallory").await;
    let alias_local = unique("mods");
    let alias = format!("#{alias_local}:{}", server_of(&alice.user_id));
    let bot = TestBot::new(&format!(
        "\n[moderation]\nroom = \"{alias}\"\nadmins = [\"{}\"]\n",
        lead.user_id
    ))
    .await;
    // Mallory takes the alias first and invites the bot into her room.
    let mut req = CreateRoomRequest::new();
    req.invite = vec![bot.user_id.clone()];
    req.room_alias_name = Some(alias_local);
    let trap = mallory
        .client
        .create_room(req)
        .await
        .expect("create the trap room");
    let group = support_room(&alice, &bot.user_id, &bob).await;
    let running = bot.start().await;
    mallory.wait_joined(trap.room_id(), &bot.user_id).await;
    alice.wait_joined(group.room_id(), &bot.user_id).await;
    alice.wait_joined(group.room_id(), &bob.user_id).await;

    let bob_group = bob.client.get_room(group.room_id()).expect("bob's room");
    let c = send_text(&bob_group, "i want to kill myself tonight", &[]).await;
    bob.wait_reply(&bot.user_id, &c).await;
    // An alert follows the reply within a second when the room is trusted; give it five.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let leaked: Vec<_> = mallory
        .seen
        .lock()
        .expect("lock")
        .iter()
        .filter(|s| s.room_id == trap.room_id() && s.event.sender == bot.user_id)
        .map(|s| s.event.content.body().to_string())
        .collect();
    assert!(
        leaked.is_empty(),
        "alert sent to a room no admin owns: {leaked:?}"
    );
    running.stop().await.expect("clean stop");
}

/// A room upgrade (`m.room.tombstone`): the bot joins the new room and keeps the settings the
/// moderators gave the old one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_room_is_followed_with_its_settings() {
    use matrix_sdk::ruma::api::client::room::create_room::v3::RoomPreset;
    use matrix_sdk::ruma::api::client::room::upgrade_room::v3::Request as UpgradeRequest;

    init_logs();
    let alice = TestUser::new("alice").await;
    let bob = TestUser::new("bob").await;
    let bot = TestBot::new("").await;
    let mut req = CreateRoomRequest::new();
    req.invite = vec![bot.user_id.clone(), bob.user_id.clone()];
    req.preset = Some(RoomPreset::PublicChat);
    let old = alice.client.create_room(req).await.expect("create room");
    bob.client
        .join_room_by_id(old.room_id())
        .await
        .expect("bob joins");
    let running = bot.start().await;
    alice.wait_joined(old.room_id(), &bot.user_id).await;
    alice.wait_joined(old.room_id(), &bob.user_id).await;
    let set = ask(&alice, &old, &bot.user_id, "!kratom mode all").await;
    assert!(set.contains("all"), "{set}");

    let version = old.version().expect("the room version is known");
    let upgraded = alice
        .client
        .send(UpgradeRequest::new(old.room_id().to_owned(), version))
        .await
        .expect("upgrade the room");
    let new_id = upgraded.replacement_room;
    let bob_new = bob
        .client
        .join_room_by_id(&new_id)
        .await
        .expect("bob follows the upgrade");
    alice.wait_joined(&new_id, &bob.user_id).await;
    alice.wait_joined(&new_id, &bot.user_id).await;
    // `mode all` came along: an unaddressed question in the new room is answered.
    let q = send_text(&bob_new, "is kratom legal in the US?", &[]).await;
    let reply = body(&bob.wait_reply(&bot.user_id, &q).await);
    assert!(reply.contains("Sources:"), "{reply}");
    running.stop().await.expect("clean stop");
}
