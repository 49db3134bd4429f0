//! The command-line contract: `classify` JSON lines (a contract other tools rely on), `ask`,
//! `explain`, `topics`, `chat`, and clear errors for bad input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kratom-bot"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kratom-bot");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("kratom-bot exits")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn classify_writes_one_line_per_input_and_survives_bad_lines() {
    let input = concat!(
        r#"{"id": "a", "text": "is kratom legal in the uk?"}"#,
        "\n",
        "this is not json\n",
        r#"{"id": 7, "txt": "missing text field"}"#,
        "\n",
        "\n",
        r#"{"id": "b", "text": "dont want to be alive anymore"}"#,
        "\n",
    );
    let out = run(&["classify", "--region", "UK"], input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["id"], "a");
    assert_eq!(lines[0]["topic"], "legality");
    for key in [
        "topic",
        "template",
        "crisis",
        "mental_health",
        "score",
        "reply",
    ] {
        assert!(lines[0].get(key).is_some(), "missing {key}");
    }
    assert!(lines[0]["reply"]
        .as_str()
        .expect("reply")
        .contains("Evidence:"));
    assert_eq!(lines[1]["id"], Value::Null);
    assert!(lines[1]["error"]
        .as_str()
        .expect("error")
        .contains("bad input line"));
    assert_eq!(lines[2]["id"], 7);
    assert!(lines[2].get("error").is_some());
    assert_eq!(lines[3]["topic"], "crisis");
    assert_eq!(lines[3]["crisis"], true);
    assert_eq!(lines[3]["mental_health"], true);
    let reply = lines[3]["reply"].as_str().expect("reply");
    assert!(reply.contains("116 123"), "UK crisis line missing: {reply}");
}

#[test]
fn ask_prints_the_reply_for_a_region() {
    let out = run(
        &["ask", "is kratom safe while pregnant", "--region", "au"],
        "",
    );
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("Evidence:"), "{text}");
    assert!(text.contains("Sources:"), "{text}");
}

#[test]
fn unknown_region_is_a_clear_error() {
    let out = run(&["ask", "hi", "--region", "XX"], "");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown region `XX`") && err.contains("US"),
        "{err}"
    );
}

#[test]
fn missing_library_names_the_folder() {
    let out = run(&["--responses", "/nonexistent/kb", "ask", "hi"], "");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/kb"), "{err}");
}

#[test]
fn explain_shows_decision_and_reasons() {
    let out = run(
        &[
            "explain",
            "this withdrawal is killing me, day 3 of quitting",
        ],
        "",
    );
    let text = stdout(&out);
    assert!(
        text.contains("topic:         dependence-withdrawal"),
        "{text}"
    );
    assert!(text.contains("crisis:        false"), "{text}");
    assert!(text.contains("ignored idiom"), "{text}");
}

#[test]
fn topics_lists_every_topic() {
    let text = stdout(&run(&["topics"], ""));
    for t in ["crisis", "dosing", "drug-testing", "out-of-scope"] {
        assert!(text.contains(t), "{t} missing from {text}");
    }
}

#[test]
fn chat_answers_lines_and_switches_region() {
    let out = run(
        &["chat"],
        "what is kratom\n/region NZ\ni want to kill myself\n/quit\n",
    );
    let text = stdout(&out);
    assert!(out.status.success());
    assert!(text.contains("Region set to NZ."), "{text}");
    assert!(text.contains("1737"), "{text}");
}
