//! The shipped library as a whole: every template can be reached from its own examples, and no
//! reply to someone asking about mood or in crisis carries an amount, in any region.

use std::path::Path;

use kratom_bot::library::check::dosing_figure;
use kratom_bot::Engine;

fn engine() -> Engine {
    Engine::load(Path::new("responses")).expect("library loads")
}

#[test]
fn every_template_is_reachable_from_its_own_examples() {
    let engine = engine();
    let mut unreachable = Vec::new();
    for t in engine.library().templates() {
        let hits = t
            .examples
            .iter()
            .filter(|e| engine.decide(e).template_id == t.id)
            .count();
        if hits == 0 {
            unreachable.push(t.id.clone());
        }
    }
    assert!(
        unreachable.is_empty(),
        "templates no example of theirs reaches: {unreachable:?}"
    );
}

#[test]
fn most_examples_reach_their_own_topic() {
    let engine = engine();
    let (mut total, mut ok) = (0, 0);
    for t in engine.library().templates() {
        for e in &t.examples {
            total += 1;
            ok += usize::from(engine.decide(e).topic == t.topic);
        }
    }
    let rate = ok as f64 / total as f64;
    println!("examples reaching their own topic: {ok}/{total} ({rate:.3})");
    assert!(
        rate >= 0.9,
        "only {rate:.3} of examples reach their own topic"
    );
}

#[test]
fn no_dosing_figure_in_mood_or_crisis_replies_in_any_region() {
    let engine = engine();
    let regions: Vec<String> = engine
        .library()
        .resources
        .regions()
        .map(|(c, _)| c.to_string())
        .collect();
    for t in engine.library().templates() {
        if !matches!(t.topic.as_str(), "depression" | "crisis") {
            continue;
        }
        for region in &regions {
            let r = engine.render_template(&t.id, region).expect("renders");
            assert!(
                dosing_figure(&r.plain).is_none(),
                "{} in {region}: {:?}",
                t.id,
                dosing_figure(&r.plain)
            );
            assert!(
                dosing_figure(&r.html).is_none(),
                "{} html in {region}",
                t.id
            );
        }
    }
}

#[test]
fn every_answer_has_evidence_sources_and_its_blocks() {
    let engine = engine();
    for t in engine.library().templates() {
        let r = engine.render_template(&t.id, "US").expect("renders");
        let exempt = ["crisis", "emergency", "about-bot", "out-of-scope"];
        if !exempt.contains(&t.topic.as_str()) {
            assert!(
                r.plain.contains("\n\nEvidence: "),
                "{} lacks an evidence line",
                t.id
            );
            assert!(
                r.plain.contains("\n\nSources:\n- "),
                "{} lacks sources",
                t.id
            );
            assert!(
                r.html.contains("<strong>Evidence: "),
                "{} html lacks evidence",
                t.id
            );
        }
        if matches!(t.topic.as_str(), "crisis" | "depression" | "emergency") {
            assert!(r.plain.contains("988"), "{} lacks the US crisis line", t.id);
            assert!(
                r.plain.contains("findahelpline.com"),
                "{} lacks the fallback",
                t.id
            );
        }
        if t.topic == "emergency" {
            let emergency = r.plain.find("911").expect("emergency number");
            let body = kratom_bot::library::render::markdown_to_plain(&t.body);
            let body_start = r.plain.find(body.get(..30).unwrap_or(&body));
            assert!(
                body_start.is_some_and(|b| emergency < b),
                "{}: emergency number not first",
                t.id
            );
        }
    }
}
