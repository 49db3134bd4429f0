//! `kratom-bot classify`: the JSON-lines contract other tools (the evaluation scorer among them)
//! rely on. One output line per input line, in order; a bad line gets an error object and the run
//! goes on. Keep the field names stable.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Engine;

#[derive(Deserialize)]
struct Input {
    #[serde(default)]
    id: Value,
    text: String,
}

#[derive(Serialize)]
struct Output<'a> {
    id: &'a Value,
    topic: &'a str,
    template: &'a str,
    crisis: bool,
    concern: bool,
    emergency: bool,
    mental_health: bool,
    score: f32,
    reply: &'a str,
}

#[derive(Serialize)]
struct ErrorOutput<'a> {
    id: &'a Value,
    error: String,
}

/// Classifies every line of `input` into `output`. I/O errors end the run; bad lines do not.
pub fn run(
    engine: &Engine,
    region: &str,
    input: impl BufRead,
    mut output: impl Write,
) -> std::io::Result<()> {
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let json = match serde_json::from_str::<Input>(&line) {
            Ok(item) => {
                let reply = engine.respond(&item.text, region);
                let d = &reply.decision;
                serde_json::to_string(&Output {
                    id: &item.id,
                    topic: &d.topic,
                    template: &d.template_id,
                    crisis: d.crisis,
                    concern: d.concern,
                    emergency: d.emergency,
                    mental_health: d.mental_health,
                    score: d.score,
                    reply: &reply.plain,
                })
            }
            Err(e) => {
                // Keep the id when the line is JSON with an id but no usable text.
                let id = serde_json::from_str::<Value>(&line)
                    .ok()
                    .and_then(|v| v.get("id").cloned())
                    .unwrap_or(Value::Null);
                serde_json::to_string(&ErrorOutput {
                    id: &id,
                    error: format!("bad input line: {e}"),
                })
            }
        };
        writeln!(output, "{}", json.map_err(std::io::Error::other)?)?;
    }
    output.flush()
}
