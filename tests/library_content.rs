//! The shipped library as a whole: every template can be reached from its own examples, and no
//! reply to someone asking about mood or in crisis carries an amount, in any region.

use std::path::Path;

use kratom_bot::library::check::dosing_figure;
use kratom_bot::library::ContentSource;
use kratom_bot::Engine;

fn engine() -> Engine {
    Engine::load(&ContentSource::BuiltIn).expect("library loads")
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

/// Quitting alcohol or benzodiazepines with kratom needs the answer that warns about their
/// withdrawal, not the opioid one; quitting an opioid needs the opioid one. These phrasings are
/// not template examples.
#[test]
fn quitting_alcohol_and_quitting_opioids_reach_their_own_answers() {
    let engine = engine();
    for (message, template) in [
        (
            "could kratom replace drinking for me",
            "dependence-withdrawal-alcohol-benzos",
        ),
        (
            "can i quit drinking with kratom",
            "dependence-withdrawal-alcohol-benzos",
        ),
        (
            "thinking of using kratom to quit xanax",
            "dependence-withdrawal-alcohol-benzos",
        ),
        (
            "can kratom help me quit oxy",
            "opioid-use-disorder-kratom-to-quit-opioids",
        ),
        (
            "getting off opiates with kratom, good idea?",
            "opioid-use-disorder-kratom-to-quit-opioids",
        ),
    ] {
        assert_eq!(engine.decide(message).template_id, template, "{message}");
    }
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
            assert!(r.plain.contains("\n\nSources: "), "{} lacks sources", t.id);
            assert!(
                r.html.contains("<strong>Evidence: "),
                "{} html lacks evidence",
                t.id
            );
            let sources_line = r
                .plain
                .split("\n\n")
                .find(|p| p.starts_with("Sources: "))
                .unwrap_or_default();
            // One line on a phone: short citations, the links one command away (and in HTML).
            assert!(
                !sources_line.contains('\n') && !sources_line.contains("https://"),
                "{}: sources are one short line: {sources_line}",
                t.id
            );
            for s in &t.sources {
                assert!(
                    sources_line.contains(&s.short()),
                    "{}: names {}: {sources_line}",
                    t.id,
                    s.short()
                );
            }
            assert!(
                sources_line.ends_with(&format!("(links: !kratom sources {})", t.id)),
                "{}: points to the links: {sources_line}",
                t.id
            );
            assert_eq!(
                r.html.matches("<li><a href=").count(),
                t.sources.len(),
                "{}: every source in the collapsed list",
                t.id
            );
            assert!(r.html.contains("<details><summary>All "), "{}", t.id);
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

/// The number (or address) that must be in each region's crisis block, whatever else is shown.
const CRISIS_LINE: [(&str, &str); 7] = [
    ("US", "988"),
    ("CA", "988"),
    ("UK", "116 123"),
    ("IE", "116 123"),
    ("AU", "13 11 14"),
    ("NZ", "1737"),
    ("INTL", "findahelpline.com"),
];

/// Canada has no national poison line listed (provincial centres only): the block says so and
/// gives the emergency number.
const NO_POISON_LINE: [(&str, &str); 1] = [("CA", "911")];

/// The national poison centres, each seen on the service's own page (responses/resources.toml).
const POISON_LINE: [(&str, &str); 4] = [
    ("US", "1-800-222-1222"),
    ("IE", "01 809 2166"),
    ("AU", "13 11 26"),
    ("NZ", "0800 764 766"),
];

/// The paragraph of `plain` that starts with `heading`, if shown.
fn block<'a>(plain: &'a str, heading: &str) -> Option<&'a str> {
    plain.split("\n\n").find(|p| p.starts_with(heading))
}

#[test]
fn help_blocks_are_complete_in_every_region_and_combination() {
    use kratom_bot::library::render::{render, RenderOptions};
    use kratom_bot::library::resources::BLOCK_KINDS;
    use kratom_bot::library::template::parse;

    let engine = engine();
    let res = &engine.library().resources;
    let heading = |b: &str, compact: bool| {
        let h = if compact {
            res.label(b)
        } else {
            res.heading(b)
        };
        h.expect("heading").to_string()
    };
    let regions: Vec<&str> = res.regions().map(|(c, _)| c).collect();
    assert_eq!(
        regions.len(),
        CRISIS_LINE.len(),
        "a new region needs its crisis line here"
    );
    for mask in 0u32..(1 << BLOCK_KINDS.len()) {
        let chosen: Vec<&str> = BLOCK_KINDS
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, b)| *b)
            .collect();
        let src = format!(
            "+++\nid = \"x\"\ntopic = \"dosing\"\ntitle = \"T\"\nresources = {chosen:?}\n[review]\nstatus = \"approved\"\nreviewed_by = \"t\"\nreviewed_on = 2026-11-25\n+++\nBody.\n"
        );
        let t = parse(Path::new("x.md"), &src).expect("template");
        for (region, crisis_line) in CRISIS_LINE {
            for (emergency_first, help_first, compact_help) in [
                (false, false, false),
                (true, false, false),
                (false, true, false),
                (false, false, true),
                (false, true, true),
            ] {
                let opts = RenderOptions {
                    region,
                    emergency_first,
                    help_first,
                    compact_help,
                    ..Default::default()
                };
                let plain = render(&t, res, &opts).plain;
                let case = format!(
                    "{region} {chosen:?} emergency_first={emergency_first} compact={compact_help}"
                );
                for b in &chosen {
                    // A short block leaves out services shown in full above it; a repeat of a
                    // service shared with an earlier block is the only way one can be empty.
                    // A short answer that led with the crisis line does not repeat it below.
                    let led = compact_help && help_first;
                    if led && *b == "crisis" {
                        let first = plain.split("\n\n").next().unwrap_or_default();
                        assert!(
                            first.contains(crisis_line),
                            "{case}: the lead line lacks {crisis_line}:\n{plain}"
                        );
                    }
                    let Some(shown) = block(&plain, &heading(b, compact_help)) else {
                        assert!(
                            compact_help && (*b != "crisis" || led),
                            "{case}: no {b} block:\n{plain}"
                        );
                        continue;
                    };
                    assert!(shown.contains("\n- "), "{case}: empty {b} block:\n{plain}");
                    match *b {
                        "crisis" => assert!(
                            led || shown.contains(crisis_line),
                            "{case}: crisis block lacks {crisis_line}:\n{plain}"
                        ),
                        "poison" => {
                            if let Some((_, number)) =
                                NO_POISON_LINE.iter().find(|(r, _)| *r == region)
                            {
                                assert!(
                                    shown.contains("no national poison line is listed")
                                        && shown.contains(number),
                                    "{case}: poison block must say there is none and give {number}:\n{plain}"
                                );
                            }
                            if let Some((_, number)) =
                                POISON_LINE.iter().find(|(r, _)| *r == region)
                            {
                                assert!(
                                    shown.contains(number),
                                    "{case}: poison block lacks {number}:\n{plain}"
                                );
                            }
                        }
                        _ => {}
                    }
                }
                if help_first {
                    let first = plain.lines().next().unwrap_or_default();
                    assert!(first.contains(crisis_line), "{case}: help first:\n{plain}");
                }
                // 112 as the EU number is for the International region; the UK, Ireland and
                // Australia state 112 in their own lines.
                if region != "INTL" {
                    assert!(
                        !plain.contains("European Union"),
                        "{case}: the EU's 112 shown outside the EU fallback:\n{plain}"
                    );
                }
                if matches!(region, "US" | "CA" | "NZ") {
                    assert!(!plain.contains("112"), "{case}: 112 in {region}:\n{plain}");
                }
            }
        }
    }
}

#[test]
fn mental_health_replies_lead_with_the_crisis_line_in_every_region() {
    let engine = engine();
    for t in engine.library().templates() {
        for (region, crisis_line) in CRISIS_LINE {
            let plain = engine
                .render_template(&t.id, region)
                .expect("renders")
                .plain;
            let first = plain.split("\n\n").next().unwrap_or_default();
            match t.topic.as_str() {
                "depression" | "crisis" => assert!(
                    first.contains(crisis_line),
                    "{} in {region} does not start with {crisis_line}:\n{plain}",
                    t.id
                ),
                "emergency" => assert!(
                    first.starts_with(
                        &engine
                            .library()
                            .resources
                            .heading("emergency")
                            .expect("h")
                            .to_string()
                    ),
                    "{} in {region} does not start with the emergency block:\n{plain}",
                    t.id
                ),
                _ => {}
            }
            // Depression answers lead with the line (checked above); their short crisis block
            // below adds the other services. Any other answer with a crisis block shows it
            // there: in full (crisis replies) or short (every other answer).
            if t.resources.iter().any(|r| r == "crisis") && t.topic != "depression" {
                let res = &engine.library().resources;
                let shown = [res.heading("crisis"), res.label("crisis")]
                    .into_iter()
                    .flatten()
                    .find_map(|h| block(&plain, h))
                    .unwrap_or_else(|| panic!("{} in {region}: no crisis block", t.id));
                assert!(
                    shown.contains(crisis_line),
                    "{} in {region}:\n{plain}",
                    t.id
                );
            }
        }
    }
}
