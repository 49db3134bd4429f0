//! Renders a template as plain text and as Matrix HTML (org.matrix.custom.html) from the same
//! Markdown, with its evidence line, sources and resource blocks. Only reviewed content is
//! rendered: nothing a user typed ever reaches the HTML.

use pulldown_cmark::{html, Event, Parser, Tag, TagEnd};
use pulldown_cmark_escape::{escape_href, escape_html};

use super::resources::{HelpLine, Resources, BLOCK_KINDS};
use super::template::Template;

/// A rendered answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub plain: String,
    pub html: String,
}

/// What to render besides the template itself.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions<'a> {
    /// Region code for the resource blocks (the fallback region is always added).
    pub region: &'a str,
    /// Blocks to add to the template's own (e.g. crisis + professional for mental-health messages).
    pub extra_blocks: Vec<&'a str>,
    /// Show the emergency block before the answer (life may be at risk).
    pub emergency_first: bool,
    /// Include the evidence line and sources.
    pub with_evidence: bool,
}

/// Renders `template` with its blocks for the region.
pub fn render(template: &Template, resources: &Resources, opts: &RenderOptions) -> Rendered {
    // The template's own order, then any extra blocks; the emergency block moves to the top
    // when life may be at risk.
    let mut blocks: Vec<&str> = template.resources.iter().map(String::as_str).collect();
    for b in BLOCK_KINDS {
        if opts.extra_blocks.contains(&b) && !blocks.contains(&b) {
            blocks.push(b);
        }
    }
    if opts.emergency_first {
        blocks.retain(|b| *b != "emergency");
    }
    let mut shown = Vec::new();
    let mut plain = Vec::new();
    let mut html = Vec::new();
    if opts.emergency_first {
        push_block(
            resources,
            "emergency",
            opts.region,
            &mut shown,
            &mut plain,
            &mut html,
        );
    }
    plain.push(markdown_to_plain(&template.body));
    html.push(markdown_to_html(&template.body));
    if opts.with_evidence {
        if let Some(e) = &template.evidence {
            plain.push(format!("Evidence: {} — {}", e.level, e.summary.trim()));
            html.push(format!(
                "<p><strong>Evidence: {}</strong> — {}</p>",
                e.level,
                escaped(e.summary.trim())
            ));
        }
        if !template.sources.is_empty() {
            let mut p = String::from("Sources:");
            let mut h = String::from("<p>Sources:</p>\n<ul>\n");
            for s in &template.sources {
                let by = s.by();
                let link = s.link().unwrap_or_default();
                p.push_str(&format!("\n- {} ({by}, {}) {link}", s.title, s.year));
                h.push_str(&format!(
                    "<li><a href=\"{}\">{}</a> ({}, {})</li>\n",
                    href(&link),
                    escaped(&s.title),
                    escaped(by),
                    s.year
                ));
            }
            h.push_str("</ul>");
            plain.push(p);
            html.push(h);
        }
    }
    for b in &blocks {
        push_block(resources, b, opts.region, &mut shown, &mut plain, &mut html);
    }
    Rendered {
        plain: plain.join("\n\n"),
        html: html.join("\n"),
    }
}

/// Appends one block; a service already shown in an earlier block is not repeated.
fn push_block<'r>(
    resources: &'r Resources,
    block: &str,
    region: &str,
    shown: &mut Vec<&'r str>,
    plain: &mut Vec<String>,
    html: &mut Vec<String>,
) {
    let lines: Vec<&HelpLine> = resources
        .lines_for(block, region)
        .into_iter()
        .filter(|l| !shown.contains(&l.name.as_str()))
        .collect();
    if lines.is_empty() {
        return;
    }
    shown.extend(lines.iter().map(|l| l.name.as_str()));
    let heading = resources.heading(block).unwrap_or(block);
    let mut p = heading.to_string();
    let mut h = format!("<p><strong>{}</strong></p>\n<ul>\n", escaped(heading));
    for line in lines {
        p.push_str(&format!("\n- {}", line_plain(line)));
        h.push_str(&format!("<li>{}</li>\n", line_html(line)));
    }
    h.push_str("</ul>");
    plain.push(p);
    html.push(h);
}

/// One help line as plain text: name, ways to reach it, note.
pub fn line_plain(line: &HelpLine) -> String {
    let ways: Vec<String> = line
        .reach
        .iter()
        .map(|r| format!("{} {}", r.via, r.contact))
        .collect();
    let note = line
        .note
        .as_ref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    format!("{}: {}{note}", line.name, ways.join(" · "))
}

/// One help line as Matrix HTML.
pub fn line_html(line: &HelpLine) -> String {
    let ways: Vec<String> = line
        .reach
        .iter()
        .map(|r| {
            if r.contact.starts_with("https://") || r.contact.starts_with("http://") {
                format!(
                    "{} <a href=\"{}\">{}</a>",
                    escaped(&r.via),
                    href(&r.contact),
                    escaped(&r.contact)
                )
            } else {
                format!("{} {}", escaped(&r.via), escaped(&r.contact))
            }
        })
        .collect();
    let note = line
        .note
        .as_ref()
        .map(|n| format!(" ({})", escaped(n)))
        .unwrap_or_default();
    format!(
        "<strong>{}</strong>: {}{note}",
        escaped(&line.name),
        ways.join(" · ")
    )
}

fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    // Writing into a String cannot fail.
    let _ = escape_html(&mut out, s);
    out
}

fn href(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let _ = escape_href(&mut out, s);
    out
}

/// Markdown to Matrix HTML. Raw HTML in templates is rejected by `check`; it is escaped here too.
pub fn markdown_to_html(md: &str) -> String {
    let events = Parser::new(md).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out.trim_end().to_string()
}

/// Markdown to readable plain text: paragraphs, "- " list items, links as "text (url)".
pub fn markdown_to_plain(md: &str) -> String {
    let mut out = String::new();
    let mut link: Option<(String, usize)> = None;
    let mut list_depth = 0usize;
    let mut ordered: Vec<Option<u64>> = Vec::new();
    for event in Parser::new(md) {
        match event {
            Event::Start(Tag::Paragraph) if list_depth == 0 => {}
            Event::End(TagEnd::Paragraph) if list_depth == 0 => out.push_str("\n\n"),
            Event::Start(Tag::List(start)) => {
                list_depth += 1;
                ordered.push(start);
            }
            Event::End(TagEnd::List(_)) => {
                list_depth = list_depth.saturating_sub(1);
                ordered.pop();
                if list_depth == 0 {
                    out.push_str("\n\n");
                }
            }
            Event::Start(Tag::Item) => {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(&"  ".repeat(list_depth.saturating_sub(1)));
                match ordered.last_mut() {
                    Some(Some(n)) => {
                        out.push_str(&format!("{n}. "));
                        *n += 1;
                    }
                    _ => out.push_str("- "),
                }
            }
            Event::Start(Tag::Heading { .. }) => {}
            Event::End(TagEnd::Heading(_)) => out.push_str("\n\n"),
            Event::Start(Tag::Link { dest_url, .. }) => {
                link = Some((dest_url.to_string(), out.len()))
            }
            Event::End(TagEnd::Link) => {
                if let Some((url, start)) = link.take() {
                    if out[start..] != url {
                        out.push_str(&format!(" ({url})"));
                    }
                }
            }
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                out.push_str(&t)
            }
            Event::SoftBreak => out.push(' '),
            Event::HardBreak => out.push('\n'),
            _ => {}
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::resources::tests::sample;
    use crate::library::template::parse;
    use std::path::Path;

    fn template(body: &str, resources: &str) -> Template {
        let src = format!(
            "+++\nid = \"x\"\ntopic = \"dosing\"\ntitle = \"T\"\nresources = {resources}\n[evidence]\nlevel = \"low\"\nsummary = \"Surveys <only>.\"\n[[sources]]\ntitle = \"A & B\"\nauthors = \"Doe J\"\nyear = 2020\ndoi = \"10.1/x\"\n[review]\nstatus = \"approved\"\nreviewed_by = \"t\"\nreviewed_on = 2026-11-25\n+++\n{body}\n"
        );
        parse(Path::new("x.md"), &src).expect("valid template")
    }

    fn resources() -> Resources {
        Resources::parse(Path::new("r.toml"), &sample()).expect("valid resources")
    }

    #[test]
    fn renders_evidence_sources_and_blocks_in_both_forms() {
        let t = template(
            "See [FDA](https://fda.gov) for **more**.\n\n- one\n- two",
            "[\"poison\"]",
        );
        let opts = RenderOptions {
            region: "US",
            with_evidence: true,
            ..Default::default()
        };
        let r = render(&t, &resources(), &opts);
        assert!(
            r.plain
                .starts_with("See FDA (https://fda.gov) for more.\n\n- one\n- two"),
            "{}",
            r.plain
        );
        assert!(r.plain.contains("Evidence: low — Surveys <only>."));
        assert!(r
            .plain
            .contains("- A & B (Doe J, 2020) https://doi.org/10.1/x"));
        assert!(r.plain.contains("poison US line: text 988"));
        assert!(r.plain.contains("poison INTL line"));
        assert!(r.html.contains("<strong>more</strong>"));
        assert!(r.html.contains("Surveys &lt;only&gt;."), "{}", r.html);
        assert!(r.html.contains("A &amp; B"));
        assert!(!r.plain.contains("crisis US line"));
    }

    #[test]
    fn extra_blocks_and_emergency_first() {
        let t = template("Answer.", "[]");
        let opts = RenderOptions {
            region: "US",
            extra_blocks: vec!["crisis", "professional"],
            emergency_first: true,
            with_evidence: false,
        };
        let r = render(&t, &resources(), &opts);
        let emergency = r.plain.find("emergency US line").expect("emergency block");
        let answer = r.plain.find("Answer.").expect("body");
        let crisis = r.plain.find("crisis US line").expect("crisis block");
        assert!(emergency < answer && answer < crisis);
        assert!(r.plain.contains("professional US line"));
        assert!(!r.plain.contains("Evidence"));
    }

    #[test]
    fn raw_html_is_escaped_not_rendered() {
        let html = markdown_to_html("hi <script>alert(1)</script>");
        assert!(!html.contains("<script>"), "{html}");
    }
}
