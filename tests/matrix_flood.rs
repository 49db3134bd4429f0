//! A flood, against a real Synapse with default bot limits: one person sends 100 messages in a
//! few seconds. The bot answers them up to its limit and then goes quiet, while another person in
//! the same room is still answered, and a crisis message inside the flood gets its crisis reply.
mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_person_starves_nobody_and_hides_no_crisis() {
    init_logs();
    let bot = TestBot::new("").await;
    let running = bot.start().await;
    let alice = TestUser::new("alice").await;
    let mallory = TestUser::new("mallory").await;
    let carol = TestUser::new("carol").await;
    let room = alice
        .create_room(
            &[&bot.user_id, &mallory.user_id, &carol.user_id],
            false,
            false,
        )
        .await;
    for u in [&mallory, &carol] {
        u.client
            .join_room_by_id(room.room_id())
            .await
            .expect("join");
    }
    alice.wait_joined(room.room_id(), &bot.user_id).await;
    alice.wait_joined(room.room_id(), &mallory.user_id).await;
    alice.wait_joined(room.room_id(), &carol.user_id).await;
    let flood_room = mallory.client.get_room(room.room_id()).expect("room");
    let carol_room = carol.client.get_room(room.room_id()).expect("room");

    let started = std::time::Instant::now();
    let mut flood = Vec::new();
    let mut crisis = None;
    for i in 0..100 {
        if i == 60 {
            crisis = Some(send_text(&flood_room, "i want to kill myself tonight", &[]).await);
        } else {
            flood.push(send_text(&flood_room, &format!("!kratom what is kratom {i}"), &[]).await);
        }
    }
    let flood_secs = started.elapsed().as_secs_f64();
    let carol_q = send_text(&carol_room, "!kratom is kratom legal in the US?", &[]).await;
    let crisis = crisis.expect("sent");

    // Carol is answered, and so is the crisis buried in the flood.
    alice.wait_reply(&bot.user_id, &carol_q).await;
    let crisis_reply = body_of(&alice.wait_reply(&bot.user_id, &crisis).await);
    assert!(crisis_reply.contains("988"), "{crisis_reply}");
    // Give the bot time to (not) answer the rest of the flood.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let answered = flood
        .iter()
        .filter(|q| !alice.replies_to(&bot.user_id, q).is_empty())
        .count();
    println!("flood of 100 sent in {flood_secs:.1} s: {answered} answered, then quiet");
    assert!(answered >= 1, "the flood's first questions are answered");
    assert!(
        answered <= 10,
        "the per-user limit held: {answered} answered"
    );
    for q in &flood {
        assert!(
            alice.replies_to(&bot.user_id, q).len() <= 1,
            "{q} answered twice"
        );
    }
    running.stop().await.expect("clean stop");
}

fn body_of(s: &Seen) -> String {
    s.event.content.body().to_string()
}
