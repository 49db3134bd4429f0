//! The bot in unencrypted group rooms, against a real Synapse: who gets answered, and how.
mod support;

use matrix_sdk::ruma::events::relation::Thread;
use matrix_sdk::ruma::events::room::message::{MessageType, Relation, RoomMessageEventContent};
use matrix_sdk::ruma::events::Mentions;
use matrix_sdk::Room;
use support::*;

/// A group room with alice (creator), bob and the bot, everyone joined.
async fn group(bot: &TestBot) -> (TestUser, TestUser, Room) {
    group_flagged(bot, false).await
}

/// `group`, with the invites' `is_direct` flag set as given.
async fn group_flagged(bot: &TestBot, is_direct: bool) -> (TestUser, TestUser, Room) {
    let alice = TestUser::new("alice").await;
    let bob = TestUser::new("bob").await;
    let room = alice
        .create_room(&[&bot.user_id, &bob.user_id], false, is_direct)
        .await;
    bob.client
        .join_room_by_id(room.room_id())
        .await
        .expect("bob joins");
    alice.wait_joined(room.room_id(), &bot.user_id).await;
    alice.wait_joined(room.room_id(), &bob.user_id).await;
    (alice, bob, room)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mention_gets_a_rich_notice_reply_mentioning_only_the_asker() {
    init_logs();
    let engine = engine();
    let bot = TestBot::new("").await;
    let running = bot.start().await;
    let (alice, bob, room) = group(&bot).await;

    // Mention the bot (m.mentions) and bob: the reply must mention alice only.
    let question = "is kratom legal in the US?";
    let q = send_text(
        &room,
        &format!("{}: {question}", bot.user_id),
        &[&bot.user_id, &bob.user_id],
    )
    .await;
    let reply = alice.wait_reply(&bot.user_id, &q).await.event;

    let MessageType::Notice(notice) = &reply.content.msgtype else {
        panic!("reply is not an m.notice: {:?}", reply.content.msgtype);
    };
    let formatted = notice.formatted.as_ref().expect("HTML formatted body");
    assert_eq!(formatted.format.as_str(), "org.matrix.custom.html");
    assert!(
        matches!(&reply.content.relates_to, Some(Relation::Reply(r)) if r.in_reply_to.event_id == q)
    );
    let mentions = reply.content.mentions.as_ref().expect("m.mentions present");
    assert_eq!(
        mentions.user_ids.iter().collect::<Vec<_>>(),
        vec![&alice.user_id]
    );
    assert!(!mentions.room);
    // The right template: what the engine answers for the question.
    let expected = engine.respond(question, "US");
    assert_eq!(
        expected.decision.topic, "legality",
        "engine topic for a legality question"
    );
    assert_eq!(notice.body, expected.plain);

    running.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_prefix_works_and_unaddressed_chatter_is_ignored() {
    init_logs();
    let engine = engine();
    let bot = TestBot::new("").await;
    let running = bot.start().await;
    let (alice, _bob, room) = group(&bot).await;

    let chatter = send_text(&room, "I had some tea this morning, lovely weather", &[]).await;
    // Positive control: a later addressed message is answered, so the chatter was seen and skipped.
    let q = send_text(&room, "!kratom how much kratom should I take?", &[]).await;
    let reply = alice.wait_reply(&bot.user_id, &q).await.event;
    assert_eq!(
        reply.content.body(),
        engine.respond("how much kratom should I take?", "US").plain
    );
    assert!(
        alice.replies_to(&bot.user_id, &chatter).is_empty(),
        "unaddressed chatter was answered"
    );
    let from_bot = alice
        .seen
        .lock()
        .expect("lock")
        .iter()
        .filter(|s| s.event.sender == bot.user_id)
        .count();
    assert_eq!(from_bot, 1, "the bot sent something besides the one answer");

    running.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thread_question_is_answered_in_the_thread() {
    init_logs();
    let bot = TestBot::new("").await;
    let running = bot.start().await;
    let (alice, _bob, room) = group(&bot).await;

    let root = send_text(&room, "Thread about kratom and the law", &[]).await;
    let mut content = RoomMessageEventContent::text_plain("!kratom is it legal in the UK?")
        .add_mentions(Mentions::new());
    content.relates_to = Some(Relation::Thread(Thread::plain(root.clone(), root.clone())));
    let q = room.send(content).await.expect("send").response.event_id;
    let reply = alice.wait_reply(&bot.user_id, &q).await.event;
    match &reply.content.relates_to {
        Some(Relation::Thread(t)) => {
            assert_eq!(t.event_id, root, "answered in the question's thread");
            assert_eq!(t.in_reply_to.as_ref().map(|r| &r.event_id), Some(&q));
            assert!(t.is_falling_back);
        }
        other => panic!("reply is not in the thread: {other:?}"),
    }
    assert!(
        alice.replies_to(&bot.user_id, &root).is_empty(),
        "the unaddressed root was answered"
    );

    running.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unaddressed_crisis_message_gets_the_crisis_reply() {
    init_logs();
    let engine = engine();
    let bot = TestBot::new("").await;
    let running = bot.start().await;
    let (_alice, bob, room) = group(&bot).await;

    let text = "honestly I want to kill myself, I can't go on";
    let expected = engine.respond(text, "US");
    assert!(
        expected.decision.crisis,
        "engine must flag the test message as a crisis"
    );
    // Sent by bob, not addressed to the bot.
    let bob_room = bob.client.get_room(room.room_id()).expect("bob's room");
    let q = send_text(&bob_room, text, &[]).await;
    let reply = bob.wait_reply(&bot.user_id, &q).await.event;
    assert_eq!(reply.content.body(), expected.plain);
    let mentions = reply.content.mentions.as_ref().expect("m.mentions present");
    assert_eq!(
        mentions.user_ids.iter().collect::<Vec<_>>(),
        vec![&bob.user_id]
    );

    running.stop().await.expect("clean stop");
}

/// `is_direct` on an invite does not make a group room a DM: with three members the bot answers
/// only what is addressed to it, whatever the invite said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_is_direct_flag_on_a_three_member_room_does_not_make_it_a_dm() {
    init_logs();
    let bot = TestBot::new("").await;
    let running = bot.start().await;
    let (alice, _bob, room) = group_flagged(&bot, true).await;

    let chatter = send_text(&room, "anyone tried red maeng da for energy?", &[]).await;
    // Addressed, so answered; the bot handles a room in order, so this is also a barrier.
    let asked = send_text(&room, "!kratom is kratom legal in ohio", &[]).await;
    alice.wait_reply(&bot.user_id, &asked).await;
    assert!(
        alice.replies_to(&bot.user_id, &chatter).is_empty(),
        "unaddressed chatter in a three-member room was answered as if it were a DM"
    );
    running.stop().await.expect("clean stop");
}

/// Privacy: a message's text never reaches the bot's files under default settings. A marker is
/// asked in a group room, answered, and then searched for in every file of the data directory
/// (the bot's database and the SDK's stores).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_message_text_is_written_to_the_data_directory() {
    init_logs();
    let bot = TestBot::new("").await;
    let running = bot.start().await;
    let (alice, _bob, room) = group(&bot).await;
    let marker = format!("zq{}marker", unique("privacy").replace(['-', '_'], ""));
    let q = send_text(
        &room,
        &format!("!kratom is kratom legal in ohio {marker}"),
        &[],
    )
    .await;
    alice.wait_reply(&bot.user_id, &q).await;
    running.stop().await.expect("clean stop");
    let mut files = vec![bot.data_dir().to_owned()];
    let mut scanned = 0;
    // Positive control: what the bot does keep (the room id) is found by the same scan.
    let room_id = room.room_id().as_str().as_bytes().to_vec();
    let mut room_id_found = false;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read dir").flatten() {
                files.push(entry.path());
            }
            continue;
        }
        // SQLite removes its -wal/-shm files once checkpointed into the database (scanned too).
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("cannot read {}: {e}", path.display()),
        };
        scanned += 1;
        room_id_found |= bytes
            .windows(room_id.len())
            .any(|w| w == room_id.as_slice());
        assert!(
            !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "the message text was written to {}",
            path.display()
        );
    }
    assert!(scanned >= 3, "scanned only {scanned} files");
    assert!(
        room_id_found,
        "the scan did not find the room id the bot keeps"
    );
}

/// A question its author redacts takes the bot's answer with it: a reply left under a removed
/// message still tells the room what the person asked about.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redacted_question_takes_its_answer_with_it() {
    init_logs();
    let bot = TestBot::new("").await;
    let running = bot.start().await;
    let (alice, _bob, room) = group(&bot).await;
    let q = send_text(&room, "i want to die, i can't do this anymore", &[]).await;
    let reply = alice.wait_reply(&bot.user_id, &q).await;
    room.redact(&q, Some("posted by mistake"), None)
        .await
        .expect("redact the question");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let ev = room
            .event(&reply.event.event_id, None)
            .await
            .expect("fetch the reply");
        if ev.raw().json().get().contains("redacted_because") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bot's reply to a redacted question is still there"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    running.stop().await.expect("clean stop");
}

/// A message edited into a crisis statement gets the crisis reply (as a reply to the message
/// people see), although the original, ordinary and unaddressed, got nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_edited_into_a_crisis_gets_the_crisis_reply() {
    use matrix_sdk::ruma::events::room::message::ReplacementMetadata;
    init_logs();
    let bot = TestBot::new("").await;
    let running = bot.start().await;
    let (alice, _bob, room) = group(&bot).await;
    let original = send_text(&room, "anyone tried red maeng da for energy?", &[]).await;
    let edit = RoomMessageEventContent::text_plain("honestly i want to kill myself tonight")
        .make_replacement(ReplacementMetadata::new(original.clone(), None));
    room.send(edit).await.expect("send the edit");
    let reply = alice.wait_reply(&bot.user_id, &original).await;
    assert!(
        reply.event.content.body().contains("988"),
        "not the crisis reply: {}",
        reply.event.content.body()
    );
    running.stop().await.expect("clean stop");
}
