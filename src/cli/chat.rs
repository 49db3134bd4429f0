//! `kratom-bot chat`: an interactive terminal session over the engine, for trying the bot offline.

use std::io::{BufRead, Write};

use crate::Engine;

const HELP: &str =
    "Type a question and press Enter. Commands: /region CODE, /explain MESSAGE, /quit";

pub fn run(
    engine: &Engine,
    region: &str,
    input: impl BufRead,
    mut out: impl Write,
) -> anyhow::Result<()> {
    let mut region = region.to_string();
    writeln!(out, "kratom-bot (offline). {HELP}")?;
    write!(out, "> ")?;
    out.flush()?;
    for line in input.lines() {
        let line = line?;
        let line = line.trim();
        if line == "/quit" || line == "/exit" {
            break;
        } else if let Some(code) = line.strip_prefix("/region") {
            match super::check_region(engine, code.trim()) {
                Ok(r) => {
                    region = r;
                    writeln!(out, "Region set to {region}.")?;
                }
                Err(e) => writeln!(out, "{e}")?,
            }
        } else if let Some(msg) = line.strip_prefix("/explain") {
            writeln!(out, "{}", super::report::explain(engine, msg.trim()))?;
        } else if line == "/help" {
            writeln!(out, "{HELP}")?;
        } else if !line.is_empty() {
            writeln!(out, "\n{}\n", engine.respond(line, &region).plain)?;
        }
        write!(out, "> ")?;
        out.flush()?;
    }
    writeln!(out)?;
    Ok(())
}
