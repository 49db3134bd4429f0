//! `kratom-bot check` on the shipped library and on broken copies of it: every rule names the
//! file and line, errors fail the run, stale reviews only warn.

use std::path::{Path, PathBuf};
use std::process::Command;

const DEPRESSION: &str = "templates/depression/depression-does-it-treat.md";
const DOSING: &str = "templates/dosing/dosing-no-safe-dose.md";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// A scratch copy of responses/ with one file rewritten.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("responses");
        copy_dir(Path::new("responses"), &root);
        Fixture { _dir: dir, root }
    }

    fn edit(&self, file: &str, f: impl FnOnce(String) -> String) -> &Fixture {
        let path = self.root.join(file);
        let text = std::fs::read_to_string(&path).expect("fixture file");
        let changed = f(text.clone());
        assert_ne!(changed, text, "the edit to {file} changed nothing");
        std::fs::write(&path, changed).expect("write fixture");
        self
    }

    /// The 1-based line of `file` (as edited) that contains `needle`.
    fn line_of(&self, file: &str, needle: &str) -> usize {
        let text = std::fs::read_to_string(self.root.join(file)).expect("fixture file");
        text.lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line of {file} contains {needle:?}"))
            + 1
    }

    fn check(&self) -> (bool, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_kratom-bot"))
            .arg("check")
            .arg(&self.root)
            .output()
            .expect("run kratom-bot check");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// Asserts check fails with a line for `file` at `line` containing `needle`.
    fn fails_with(&self, file: &str, line: usize, needle: &str) {
        let (ok, out) = self.check();
        assert!(!ok, "check passed but should fail on {needle}:\n{out}");
        let prefix = format!("{}:{line}: error:", self.root.join(file).display());
        assert!(
            out.lines()
                .any(|l| l.starts_with(&prefix) && l.contains(needle)),
            "expected `{prefix} ...{needle}...` in:\n{out}"
        );
    }
}

#[test]
fn shipped_library_passes() {
    let (ok, out) = Fixture::new().check();
    assert!(ok, "{out}");
    assert!(out.contains("0 error(s)"), "{out}");
}

#[test]
fn unclosed_front_matter() {
    let f = Fixture::new();
    f.edit(DOSING, |t| t.replacen("\n+++\n", "\n", 1));
    f.fails_with(DOSING, 1, "not closed");
}

#[test]
fn broken_toml_names_the_line() {
    let f = Fixture::new();
    f.edit(DOSING, |t| t.replacen("title = \"", "title = ", 1));
    f.fails_with(DOSING, 4, "TOML");
}

#[test]
fn unknown_field() {
    let f = Fixture::new();
    f.edit(DOSING, |t| {
        t.replacen("title =", "colour = \"red\"\ntitle =", 1)
    });
    f.fails_with(DOSING, 4, "colour");
}

#[test]
fn unknown_topic() {
    let f = Fixture::new();
    f.edit(DOSING, |t| {
        t.replacen("topic = \"dosing\"", "topic = \"dossing\"", 1)
    });
    f.fails_with(DOSING, 3, "unknown topic `dossing`");
}

#[test]
fn duplicate_id() {
    let f = Fixture::new();
    let copy = "templates/dosing/dosing-copy.md";
    std::fs::copy(f.root.join(DOSING), f.root.join(copy)).expect("copy");
    f.fails_with(DOSING, 2, "duplicate id `dosing-no-safe-dose` (also in");
    f.fails_with(copy, 2, "must equal the file name");
}

#[test]
fn missing_evidence_and_sources() {
    let f = Fixture::new();
    f.edit(DOSING, |t| {
        let start = t.find("[evidence]").expect("evidence");
        let end = t.find("[review]").expect("review");
        format!("{}{}", &t[..start], &t[end..])
    });
    f.fails_with(DOSING, 1, "missing [evidence]");
    f.fails_with(DOSING, 1, "missing sources");
}

#[test]
fn depression_template_needs_crisis_resources() {
    let f = Fixture::new();
    f.edit(DEPRESSION, |t| {
        t.replacen(
            "resources = [\"professional\", \"crisis\"]",
            "resources = [\"professional\"]",
            1,
        )
    });
    f.fails_with(DEPRESSION, 5, "must include the `crisis` resources");
}

#[test]
fn dosing_figure_in_depression_template() {
    let f = Fixture::new();
    f.edit(DEPRESSION, |t| {
        format!("{}\nSome people take 2-5 grams for mood.\n", t.trim_end())
    });
    let (_, out) = f.check();
    let line = out
        .lines()
        .find(|l| l.contains("dosing figure `2-5 grams`"))
        .unwrap_or_default()
        .to_string();
    assert!(line.contains("depression-does-it-treat.md:"), "{out}");
    let text = std::fs::read_to_string(f.root.join(DEPRESSION)).expect("read");
    let expected = text
        .lines()
        .position(|l| l.contains("2-5 grams"))
        .expect("line")
        + 1;
    f.fails_with(DEPRESSION, expected, "dosing figure `2-5 grams`");
}

#[test]
fn stale_review_only_warns() {
    let f = Fixture::new();
    f.edit(DOSING, |t| {
        let start = t.find("reviewed_on = ").expect("reviewed_on");
        let end = start + t[start..].find('\n').expect("eol");
        format!("{}reviewed_on = 2020-01-01{}", &t[..start], &t[end..])
    });
    let (ok, out) = f.check();
    assert!(ok, "{out}");
    assert!(out.contains("warning: reviewed on 2020-01-01"), "{out}");
}

#[test]
fn draft_templates_are_not_served() {
    let f = Fixture::new();
    f.edit("templates/out-of-scope/out-of-scope.md", |t| {
        t.replacen("status = \"approved\"", "status = \"draft\"", 1)
    });
    let (ok, out) = f.check();
    assert!(!ok);
    assert!(
        out.contains("no approved template for topic `out-of-scope`"),
        "{out}"
    );
}

#[test]
fn raw_html_in_body() {
    let f = Fixture::new();
    f.edit(DOSING, |t| {
        format!("{}\n<script>alert(1)</script>\n", t.trim_end())
    });
    let (ok, out) = f.check();
    assert!(!ok);
    assert!(out.contains("raw HTML in the body"), "{out}");
}

#[test]
fn a_link_that_is_not_a_web_page_names_its_line() {
    let f = Fixture::new();
    f.edit(DOSING, |t| {
        format!(
            "{}

[more](javascript:alert(1))
",
            t.trim_end()
        )
    });
    let (ok, out) = f.check();
    assert!(!ok);
    assert!(
        out.contains("link `javascript:alert(1)`: link to an https:// page"),
        "{out}"
    );
    let line = f.line_of(DOSING, "javascript:");
    assert!(
        out.contains(&format!("{DOSING}:{line}: error: link")),
        "{out}"
    );
}

#[test]
fn resources_need_every_region() {
    let f = Fixture::new();
    f.edit("resources.toml", |t| {
        t.replacen("region = \"NZ\"", "region = \"AU\"", 1)
    });
    let (ok, out) = f.check();
    assert!(!ok);
    assert!(out.contains("has no line for region NZ"), "{out}");
}

#[test]
fn bad_crisis_pattern_names_the_line() {
    let f = Fixture::new();
    f.edit("crisis/crisis.toml", |t| {
        t.replacen("patterns = [\n", "patterns = [\n  '(unclosed',\n", 1)
    });
    let line = f.line_of("crisis/crisis.toml", "'(unclosed'");
    f.fails_with("crisis/crisis.toml", line, "not a valid regular expression");
}

#[test]
fn crisis_routing_to_a_missing_template() {
    let f = Fixture::new();
    f.edit("crisis/crisis.toml", |t| {
        t.replacen(
            "default_template = \"crisis-support\"",
            "default_template = \"crisis-nope\"",
            1,
        )
    });
    f.fails_with("crisis/crisis.toml", 1, "crisis-nope");
}

#[test]
fn bad_corpus_label_names_the_line() {
    let f = Fixture::new();
    f.edit("crisis/corpus/train-t3.toml", |t| {
        t.replacen("label = \"emergency\"", "label = \"urgent\"", 1)
    });
    let line = f.line_of("crisis/corpus/train-t3.toml", "\"urgent\"");
    f.fails_with("crisis/corpus/train-t3.toml", line, "label `urgent`");
}

#[test]
fn learned_thresholds_out_of_order_name_the_line() {
    let f = Fixture::new();
    f.edit("crisis/learned.toml", |t| {
        t.replace("concern = 0.40", "concern = 0.95")
    });
    let line = f.line_of("crisis/learned.toml", "concern = 0.95");
    f.fails_with("crisis/learned.toml", line, "concern is the weaker tier");
}
