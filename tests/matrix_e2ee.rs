//! Encrypted DMs, against a real Synapse: the bot decrypts the question, answers encrypted, and
//! a second matrix-sdk client decrypts the answer. The bot's device is cross-signed.
mod support;

use matrix_sdk::ruma::events::room::message::{MessageType, Relation};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_dm_question_gets_a_decryptable_reply_with_the_right_template() {
    init_logs();
    let engine = engine();
    let bot = TestBot::new("").await;
    let running = bot.start().await;
    let alice = TestUser::new("alice").await;

    let room = alice.create_room(&[&bot.user_id], true, true).await;
    alice.wait_joined(room.room_id(), &bot.user_id).await;
    assert!(room
        .latest_encryption_state()
        .await
        .expect("state")
        .is_encrypted());

    // A DM needs no prefix or mention.
    let question = "is kratom legal in the US?";
    let q = send_text(&room, question, &[]).await;
    let reply = alice.wait_reply(&bot.user_id, &q).await.event;

    let MessageType::Notice(notice) = &reply.content.msgtype else {
        panic!("reply is not an m.notice: {:?}", reply.content.msgtype);
    };
    let expected = engine.respond(question, "US");
    assert_eq!(expected.decision.topic, "legality");
    assert_eq!(
        notice.body, expected.plain,
        "the reply carries the legality template"
    );
    assert!(
        matches!(&reply.content.relates_to, Some(Relation::Reply(r)) if r.in_reply_to.event_id == q)
    );

    // The reply really was encrypted, and decrypted by alice's client.
    let timeline = room
        .event(&reply.event_id, None)
        .await
        .expect("fetch reply");
    assert!(
        timeline.encryption_info().is_some(),
        "the reply was not encrypted"
    );

    // The bot's device is cross-signed by its own identity.
    let bot_device = running
        .bot()
        .client()
        .device_id()
        .expect("device id")
        .to_owned();
    let enc = alice.client.encryption();
    let device = enc
        .get_device(&bot.user_id, &bot_device)
        .await
        .expect("device query")
        .expect("alice knows the bot's device");
    assert!(
        device.is_cross_signed_by_owner(),
        "the bot's device is not cross-signed"
    );

    // A second question in the same session, and a crisis message, answered too.
    let text = "i want to end my life tonight";
    let crisis = engine.respond(text, "US");
    assert!(
        crisis.decision.crisis,
        "engine must flag the crisis message"
    );
    let q2 = send_text(&room, text, &[]).await;
    let reply2 = alice.wait_reply(&bot.user_id, &q2).await.event;
    assert_eq!(reply2.content.body(), crisis.plain);

    running.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_key_lets_a_new_device_take_the_identity_back() {
    init_logs();
    let bot = TestBot::new("").await;
    let key =
        std::fs::read_to_string(bot.data_dir().join("recovery-key")).expect("recovery key written");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(bot.data_dir().join("session.json"))
            .expect("session")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "session file must be private");
    let first = bot.start().await;
    let old_device = first.bot().client().device_id().expect("device").to_owned();
    first.stop().await.expect("stop");

    // Lose the whole data dir except the recovery key, then log in again.
    std::fs::remove_dir_all(bot.data_dir()).expect("remove data dir");
    std::fs::create_dir_all(bot.data_dir()).expect("data dir");
    std::fs::write(bot.data_dir().join("recovery-key"), key).expect("restore key");
    kratom_bot::runtime::login(&bot.config, PASSWORD)
        .await
        .expect("login with recovery");
    let second = bot.start().await;
    let client = second.bot().client();
    let new_device = client.device_id().expect("device").to_owned();
    assert_ne!(old_device, new_device);
    let own = client
        .encryption()
        .get_own_device()
        .await
        .expect("own device")
        .expect("device");
    assert!(
        own.is_cross_signed_by_owner(),
        "the new device is not signed by the old identity"
    );
    second.stop().await.expect("stop");
}

/// Over the per-user limit in a DM: one short notice that says the limit and carries the crisis
/// line, then silence for the window; a crisis message is still answered in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dm_over_the_limit_gets_one_notice_and_a_crisis_is_still_answered() {
    init_logs();
    let bot = TestBot::new("\n[rate_limits]\nper_user = 2\nper_user_window_secs = 600\n").await;
    let running = bot.start().await;
    let alice = TestUser::new("alice").await;
    let room = alice.create_room(&[&bot.user_id], true, true).await;
    alice.wait_joined(room.room_id(), &bot.user_id).await;

    for q in ["what is kratom?", "is kratom legal in the US?"] {
        let id = send_text(&room, q, &[]).await;
        alice.wait_reply(&bot.user_id, &id).await;
    }
    let over = send_text(&room, "does kratom show up on a drug test?", &[]).await;
    let notice = alice.wait_reply(&bot.user_id, &over).await.event;
    let MessageType::Notice(n) = &notice.content.msgtype else {
        panic!("the limit notice is not an m.notice");
    };
    assert!(
        n.body
            .starts_with("I answer 2 questions every 10 minutes per person"),
        "{}",
        n.body
    );
    assert!(
        n.body.contains("988"),
        "the notice carries the crisis line: {}",
        n.body
    );
    let silent = send_text(&room, "how long does kratom last?", &[]).await;
    // A crisis message over the limit still gets the full crisis reply.
    let crisis = send_text(&room, "i cant do this anymore, i want to die", &[]).await;
    let reply = alice.wait_reply(&bot.user_id, &crisis).await.event;
    let MessageType::Notice(r) = &reply.content.msgtype else {
        panic!("the crisis reply is not an m.notice");
    };
    assert!(r.body.contains("988"), "{}", r.body);
    assert!(!r.body.starts_with("I answer"), "{}", r.body);
    // The crisis reply came after the silent one was handled (events are handled in order).
    assert!(
        alice.replies_to(&bot.user_id, &silent).is_empty(),
        "silence past the notice"
    );
    assert_eq!(alice.replies_to(&bot.user_id, &over).len(), 1);
    running.stop().await.expect("clean stop");
}
