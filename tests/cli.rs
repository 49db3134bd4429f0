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

/// Classifies `texts` (US region) with the library at `responses`, one JSON object per text.
fn classify_all(texts: &[&str], responses: &str) -> Vec<Value> {
    let input: String = texts
        .iter()
        .enumerate()
        .map(|(i, t)| serde_json::json!({"id": i, "text": t}).to_string() + "\n")
        .collect();
    let out = run(&["classify", "--responses", responses], &input);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// Each tier end to end through `classify`: what the flags say and what the reply leads with.
#[test]
fn every_tier_end_to_end() {
    let r = classify_all(
        &[
            "i want to kill myself tonight",
            "my friend took kratom and xanax, his lips are blue and he is barely breathing",
            "i swallowed all my pills because i want to die and now i can barely breathe",
            "is kratom legal in ohio",
        ],
        "responses",
    );
    let reply = |i: usize| r[i]["reply"].as_str().unwrap_or_default().to_owned();
    let head = |i: usize| reply(i).chars().take(200).collect::<String>();
    // Crisis: the full crisis reply.
    assert_eq!(r[0]["crisis"], true);
    assert_eq!(r[0]["template"], "crisis-support");
    assert!(reply(0).contains("988"));
    // Someone else's emergency: emergency guidance first, never the crisis template.
    assert_eq!(r[1]["emergency"], true);
    assert_eq!(r[1]["crisis"], false);
    assert!(head(1).contains("911"), "{}", head(1));
    assert_ne!(r[1]["template"], "crisis-support");
    // An attempt under way: emergency first, crisis lines in the same reply.
    assert_eq!(r[2]["crisis"], true);
    assert_eq!(r[2]["emergency"], true);
    assert!(head(2).contains("911"), "{}", head(2));
    assert!(reply(2).contains("988"));
    assert_eq!(r[2]["topic"], "crisis");
    // Ordinary: none of the tiers, no crisis line.
    for flag in ["crisis", "concern", "emergency"] {
        assert_eq!(r[3][flag], false, "{flag}");
    }
    assert!(!reply(3).contains("988"));
}

/// The concern tier, with thresholds that make every message short of a crisis rule a concern
/// (so the test does not hang on where one message scores): the normal answer, with one warm
/// line and the region's crisis line before it.
#[test]
fn concern_puts_a_crisis_line_before_the_normal_answer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = dir.path().join("responses");
    let status = Command::new("cp")
        .args(["-r", "responses"])
        .arg(&copy)
        .status()
        .expect("cp");
    assert!(status.success());
    std::fs::write(
        copy.join("crisis/learned.toml"),
        "[crisis]\nalone = 1.0\nwith_rule = 1.0\nconcern = 0.0\nconcern_with_rule = 0.0\nveto = 0.0\n\
         [emergency]\nalone = 1.0\nwith_rule = 1.0\n",
    )
    .expect("thresholds");
    let r = classify_all(&["is kratom legal in ohio"], &copy.to_string_lossy());
    assert_eq!(r[0]["concern"], true);
    assert_eq!(r[0]["crisis"], false);
    assert_eq!(r[0]["topic"], "legality");
    let reply = r[0]["reply"].as_str().unwrap_or_default();
    let first_lines: String = reply.lines().take(3).collect::<Vec<_>>().join("\n");
    assert!(first_lines.contains("988"), "{reply}");
}

/// Runs the binary in `dir` with no `responses/` next to it, as an installed copy runs.
fn run_in(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kratom-bot"))
        .args(args)
        .current_dir(dir)
        .env_remove("KRATOM_BOT_RESPONSES")
        .output()
        .expect("run kratom-bot")
}

#[test]
fn an_installed_binary_serves_its_built_in_library_from_an_empty_folder() {
    let empty = tempfile::tempdir().expect("tempdir");
    let out = run_in(empty.path(), &["ask", "is kratom legal in the us"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("Sources:"), "{}", stdout(&out));
    let out = run_in(empty.path(), &["check"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("<built-in responses>"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn the_exported_library_checks_clean_and_can_be_served_edited() {
    let root = tempfile::tempdir().expect("tempdir");
    let out = run_in(root.path(), &["responses", "export", "lib"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lib = root.path().join("lib");
    assert!(lib.join("resources.toml").is_file() && lib.join("templates").is_dir());
    let out = run_in(root.path(), &["check", "lib"]);
    assert!(out.status.success(), "{}", stdout(&out));

    // A community edit is served from the folder, not the built-in copy.
    let template = lib.join("templates/legality/legality-us-federal.md");
    let text = std::fs::read_to_string(&template).expect("template");
    let marker = "Community note: ask your local harm-reduction group too.";
    std::fs::write(&template, format!("{}\n\n{marker}\n", text.trim_end())).expect("edit");
    let out = run_in(
        root.path(),
        &[
            "--responses",
            "lib",
            "ask",
            "is kratom federally legal in the us",
        ],
    );
    assert!(stdout(&out).contains(marker), "{}", stdout(&out));

    // Exporting over a folder with files in it refuses and leaves it alone.
    let out = run_in(root.path(), &["responses", "export", "lib"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert!(std::fs::read_to_string(&template)
        .expect("kept")
        .contains(marker));
}

#[test]
fn completions_and_version_print() {
    let empty = tempfile::tempdir().expect("tempdir");
    let out = run_in(empty.path(), &["completions", "bash"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("kratom-bot"));
    let out = run_in(empty.path(), &["--version"]);
    assert_eq!(
        stdout(&out).trim(),
        concat!("kratom-bot ", env!("CARGO_PKG_VERSION"))
    );
}
