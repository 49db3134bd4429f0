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
    /// Region code for the resource blocks (the fallback region is added where it applies).
    pub region: &'a str,
    /// Blocks to add to the template's own (e.g. crisis + professional for mental-health messages).
    pub extra_blocks: Vec<&'a str>,
    /// Show the emergency block before the answer (life may be at risk).
    pub emergency_first: bool,
    /// Show one line with the region's main crisis line before the answer (mental health, crisis).
    pub help_first: bool,
    /// Include the evidence line and sources.
    pub with_evidence: bool,
    /// Any answer but a crisis or emergency reply: each block shrinks to its short label and the
    /// region's services with their short notes only, and a service is not repeated. Crisis and
    /// emergency replies always show every block in full.
    pub compact_help: bool,
    /// The bot's command prefix ("!kratom"), to point at the full list of sources; empty in
    /// front ends without commands.
    pub command_prefix: &'a str,
}

/// How many short citations the plain reply lists before "+N more".
const SOURCES_SHOWN: usize = 3;

/// Renders `template` with its blocks for the region.
///
/// Order: the emergency block (when life may be at risk) or one crisis line (when help comes
/// first), the body, the evidence, then the blocks with crisis always first. Every block is
/// complete in every region: a service shown earlier in the reply is listed again, briefly, in a
/// later block that it also belongs to; only the international fallback is shown once.
pub fn render(template: &Template, resources: &Resources, opts: &RenderOptions) -> Rendered {
    let mut blocks: Vec<&str> = template.resources.iter().map(String::as_str).collect();
    for b in BLOCK_KINDS {
        if opts.extra_blocks.contains(&b) && !blocks.contains(&b) {
            blocks.push(b);
        }
    }
    if opts.emergency_first {
        blocks.retain(|b| *b != "emergency");
    }
    if let Some(i) = blocks.iter().position(|b| *b == "crisis") {
        let crisis = blocks.remove(i);
        blocks.insert(0, crisis);
    }
    let mut out = Output::default();
    if opts.emergency_first {
        push_block(resources, "emergency", opts.region, &mut out);
    } else if opts.help_first {
        push_lead(resources, opts.region, &mut out);
    }
    out.plain.push(markdown_to_plain(&template.body));
    out.html.push(markdown_to_html(&template.body));
    if opts.with_evidence {
        if let Some(e) = &template.evidence {
            out.plain
                .push(format!("Evidence: {} — {}", e.level, e.summary.trim()));
            out.html.push(format!(
                "<p><strong>Evidence: {}</strong> — {}</p>",
                e.level,
                escaped(e.summary.trim())
            ));
        }
        if !template.sources.is_empty() {
            let (p, h) = sources(template, opts.command_prefix);
            out.plain.push(p);
            out.html.push(h);
        }
    }
    for b in &blocks {
        if opts.compact_help {
            push_compact_block(resources, b, opts.region, &mut out);
        } else {
            push_block(resources, b, opts.region, &mut out);
        }
    }
    Rendered {
        plain: out.plain.join("\n\n"),
        html: out.html.join("\n"),
    }
}

/// Sources as one compact line of short citations. Plain text names every source and, when the
/// bot takes commands, points to the list with links (`<prefix> sources <id>`) instead of
/// spelling out long URLs on a phone screen; without commands it keeps the first few links. HTML
/// links every short citation and keeps the full list in a collapsed `<details>` block.
fn sources(template: &Template, command_prefix: &str) -> (String, String) {
    let all = &template.sources;
    let plain = if command_prefix.is_empty() {
        let mut cites: Vec<String> = all
            .iter()
            .take(SOURCES_SHOWN)
            .map(|s| format!("{} {}", s.short(), s.link().unwrap_or_default()))
            .collect();
        if all.len() > SOURCES_SHOWN {
            cites.push(format!("+{} more", all.len() - SOURCES_SHOWN));
        }
        format!("Sources: {}", cites.join(" · "))
    } else {
        let cites: Vec<String> = all.iter().map(|s| s.short()).collect();
        format!(
            "Sources: {} (links: {command_prefix} sources {})",
            cites.join(" · "),
            template.id
        )
    };
    let links: Vec<String> = all
        .iter()
        .map(|s| {
            format!(
                "<a href=\"{}\">{}</a>",
                href(&s.link().unwrap_or_default()),
                escaped(&s.short())
            )
        })
        .collect();
    let mut html = format!(
        "<p>Sources: {}</p>\n<details><summary>All {} source{}</summary>\n<ul>\n",
        links.join(" · "),
        all.len(),
        if all.len() == 1 { "" } else { "s" }
    );
    for s in all {
        html.push_str(&format!(
            "<li><a href=\"{}\">{}</a> ({}, {})</li>\n",
            href(&s.link().unwrap_or_default()),
            escaped(&s.title),
            escaped(s.by()),
            s.year
        ));
    }
    html.push_str("</ul>\n</details>");
    (plain, html)
}

/// The reply so far, and the services already shown in full.
#[derive(Default)]
struct Output<'r> {
    plain: Vec<String>,
    html: Vec<String>,
    shown: Vec<&'r HelpLine>,
}

impl Output<'_> {
    /// Whether this exact line (service, ways and note) is already shown in full. A line that
    /// differs in its note says something new for its block, so it is shown in full.
    fn has_shown(&self, line: &HelpLine) -> bool {
        self.shown
            .iter()
            .any(|s| same_service(s, line) && s.note == line.note)
    }

    /// Whether the same service with the same short note is already in the reply: in short
    /// blocks, a line whose short note differs ("no national poison line here") is kept.
    fn has_shown_short(&self, line: &HelpLine) -> bool {
        self.shown
            .iter()
            .any(|s| same_service(s, line) && s.short_note == line.short_note)
    }
}

/// The same service reached the same ways (blocks may list one service with different notes).
fn same_service(a: &HelpLine, b: &HelpLine) -> bool {
    a.name == b.name
        && a.region == b.region
        && a.reach.len() == b.reach.len()
        && a.reach
            .iter()
            .zip(&b.reach)
            .all(|(x, y)| x.via == y.via && x.contact == y.contact)
}

/// One line before the body: the block's lead words and the region's main crisis line.
/// The line counts as shown, so a short block further down does not repeat it.
fn push_lead<'r>(resources: &'r Resources, region: &str, out: &mut Output<'r>) {
    if let Some(lead) = crisis_lead_line(resources, region) {
        out.plain.push(lead.plain);
        out.html.push(lead.html);
        if let Some(line) = resources.main_crisis_line(region) {
            out.shown.push(line);
        }
    }
}

/// The crisis block's lead words and the region's main crisis line by its first way, as one line
/// (used under notices that are not answers, such as the over-the-limit notice).
pub fn crisis_lead_line(resources: &Resources, region: &str) -> Option<Rendered> {
    let line = resources.main_crisis_line(region)?;
    let lead = resources.crisis_lead().unwrap_or_default();
    Some(Rendered {
        plain: format!("{lead} {}", line_plain(line, Detail::FirstWay)),
        html: format!(
            "<p><strong>{}</strong> {}</p>",
            escaped(lead),
            line_html(line, Detail::FirstWay)
        ),
    })
}

/// Appends one block: all the region's own lines (briefly when already shown in full above),
/// then the international fallback if the block adds it and the reply has not shown it yet.
fn push_block<'r>(resources: &'r Resources, block: &str, region: &str, out: &mut Output<'r>) {
    let mut lines: Vec<(&HelpLine, Detail)> = resources
        .own_lines(block, region)
        .into_iter()
        .map(|line| {
            let detail = if out.has_shown(line) {
                Detail::NoNote
            } else {
                Detail::Full
            };
            (line, detail)
        })
        .collect();
    push_fallbacks(&mut lines, resources, block, region, out, Detail::Full);
    write_block(out, resources.heading(block).unwrap_or(block), lines);
}

/// Appends one block in short form: its label and the services not already in the reply, with
/// their short notes only; the international fallback once per reply, as in full blocks (rooms
/// default to one region, and the person asking may live elsewhere).
fn push_compact_block<'r>(
    resources: &'r Resources,
    block: &str,
    region: &str,
    out: &mut Output<'r>,
) {
    // Emergency and poison lines keep every number and their short note, which says what to do
    // ("call 911 if unsure", "in Quebec"). Other services keep their first way to reach them;
    // the crisis reply lists every way.
    let whole = matches!(block, "emergency" | "poison");
    let detail = if whole {
        Detail::Short
    } else {
        Detail::FirstWay
    };
    // A service already in the reply is not repeated, unless an emergency or poison line's short
    // note says something new for its block (Canada's 911 in the poison block says there is no
    // national poison line): that one is kept.
    let mut lines: Vec<(&HelpLine, Detail)> = resources
        .own_lines(block, region)
        .into_iter()
        .filter(|l| {
            if whole {
                !out.has_shown_short(l)
            } else {
                !out.shown.iter().any(|s| s.name == l.name)
            }
        })
        .map(|l| (l, detail))
        .collect();
    push_fallbacks(&mut lines, resources, block, region, out, detail);
    write_block(out, resources.label(block).unwrap_or(block), lines);
}

/// Adds the block's international fallback services, at `detail`, unless the reply or the block
/// already has a service of that name: the fallback is one service whatever the block, so once
/// per reply is enough, and a region's own line of the same name says more.
fn push_fallbacks<'r>(
    lines: &mut Vec<(&'r HelpLine, Detail)>,
    resources: &'r Resources,
    block: &str,
    region: &str,
    out: &Output<'r>,
    detail: Detail,
) {
    for line in resources.fallback_lines(block, region) {
        let named = |s: &HelpLine| s.name == line.name;
        if !out.shown.iter().any(|s| named(s)) && !lines.iter().any(|(l, _)| named(l)) {
            lines.push((line, detail));
        }
    }
}

/// How much of a service a block shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// Every way to reach it, and its note.
    Full,
    /// Every way, no note (it was shown in full above).
    NoNote,
    /// Every way and its short note (emergency and poison lines in short blocks).
    Short,
    /// Its first way and its short note (other services in short blocks).
    FirstWay,
}

impl Detail {
    fn note(self, line: &HelpLine) -> Option<&str> {
        match self {
            Detail::Full => line.note.as_deref(),
            Detail::NoNote => None,
            Detail::Short | Detail::FirstWay => line.short_note.as_deref(),
        }
    }
}

/// Writes one block, in both forms: its title, then each service in the detail asked for.
/// Nothing when there is no service to show.
fn write_block<'r>(out: &mut Output<'r>, title: &str, lines: Vec<(&'r HelpLine, Detail)>) {
    if lines.is_empty() {
        return;
    }
    let mut p = title.to_string();
    let mut h = format!("<p><strong>{}</strong></p>\n<ul>\n", escaped(title));
    for (line, detail) in lines {
        p.push_str(&format!("\n- {}", line_plain(line, detail)));
        h.push_str(&format!("<li>{}</li>\n", line_html(line, detail)));
        out.shown.push(line);
    }
    h.push_str("</ul>");
    out.plain.push(p);
    out.html.push(h);
}

/// The ways to reach a service, with one verb for ways that share a contact ("call or text 988")
/// and one for numbers reached the same way ("call 112 or 999"); `first_only` keeps the first.
fn ways(line: &HelpLine, first_only: bool, contact: impl Fn(&str) -> String) -> String {
    let mut by_contact: Vec<(Vec<&str>, &str)> = Vec::new();
    for r in &line.reach {
        match by_contact.last_mut() {
            Some((vias, c)) if *c == r.contact => vias.push(&r.via),
            _ => by_contact.push((vec![&r.via], &r.contact)),
        }
    }
    let mut groups: Vec<(Vec<&str>, Vec<&str>)> = Vec::new();
    for (vias, c) in by_contact {
        match groups.last_mut() {
            Some((v, cs)) if *v == vias => cs.push(c),
            _ => groups.push((vias, vec![c])),
        }
    }
    if first_only {
        groups.truncate(1);
    }
    groups
        .iter()
        .map(|(vias, cs)| {
            let cs: Vec<String> = cs.iter().map(|c| contact(c)).collect();
            format!("{} {}", vias.join(" or "), cs.join(" or "))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A service as plain text, in `detail`.
fn line_plain(line: &HelpLine, detail: Detail) -> String {
    let note = detail
        .note(line)
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    let ways = ways(line, detail == Detail::FirstWay, str::to_string);
    format!("{}: {ways}{note}", line.name)
}

/// A service as HTML, in `detail`.
fn line_html(line: &HelpLine, detail: Detail) -> String {
    let note = detail
        .note(line)
        .map(|n| format!(" ({})", escaped(n)))
        .unwrap_or_default();
    let ways = ways(line, detail == Detail::FirstWay, contact_html);
    format!("<strong>{}</strong>: {ways}{note}", escaped(&line.name))
}

/// A contact in HTML: web addresses become links.
fn contact_html(c: &str) -> String {
    if c.starts_with("https://") || c.starts_with("http://") {
        format!("<a href=\"{}\">{}</a>", href(c), escaped(c))
    } else {
        escaped(c)
    }
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

/// Markdown to Matrix HTML. Raw HTML in templates is rejected by `check`; it is escaped here too,
/// a link that is not http(s) or mailto keeps its text but loses the link (no `javascript:`), and
/// an image is shown as its text: a reply never makes a client fetch anything.
pub fn markdown_to_html(md: &str) -> String {
    // For each open link: whether it was dropped (so its end is dropped too).
    let mut links: Vec<bool> = Vec::new();
    let events = Parser::new(md).filter_map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Some(Event::Text(h)),
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        Event::Start(Tag::Link { ref dest_url, .. }) => {
            let safe = is_safe_link(dest_url);
            links.push(!safe);
            safe.then_some(e)
        }
        Event::End(TagEnd::Link) => (!links.pop().unwrap_or(false)).then_some(e),
        other => Some(other),
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out.trim_end().to_string()
}

/// Links a reply may carry: the web and email, nothing a client would run.
pub(crate) fn is_safe_link(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    ["https://", "http://", "mailto:"]
        .iter()
        .any(|s| lower.starts_with(s))
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
        assert!(
            r.plain
                .contains("\n\nSources: Doe 2020 https://doi.org/10.1/x\n\n"),
            "{}",
            r.plain
        );
        assert!(r
            .html
            .contains("<a href=\"https://doi.org/10.1/x\">Doe 2020</a>"));
        assert!(r.html.contains("<details><summary>All 1 source</summary>"));
        assert!(r.plain.contains("poison US line: call 988"));
        assert!(
            !r.plain.contains("poison INTL line"),
            "the international poison line is for the fallback region only"
        );
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
            help_first: true,
            with_evidence: false,
            command_prefix: "",
            compact_help: false,
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
    fn an_ordinary_answer_shows_short_blocks_without_repeats() {
        let t = template("Answer.", "[\"professional\", \"crisis\"]");
        let full = RenderOptions {
            region: "US",
            ..Default::default()
        };
        let compact = RenderOptions {
            compact_help: true,
            ..full.clone()
        };
        let res = shared_service();
        let long = render(&t, &res, &full);
        let short = render(&t, &res, &compact);
        assert!(short.plain.len() < long.plain.len());
        // The service both blocks share appears once, without its note; so does the fallback.
        assert_eq!(
            short.plain.matches("crisis US line").count(),
            1,
            "{}",
            short.plain
        );
        assert_eq!(
            short.plain.matches("crisis INTL line").count(),
            1,
            "{}",
            short.plain
        );
        assert!(!short.plain.contains("24/7"), "{}", short.plain);
        assert!(long.plain.contains("24/7"), "{}", long.plain);
    }

    /// Canada's case: one service in both the professional and the crisis block.
    fn shared_service() -> Resources {
        let src = sample()
            .replace(
                "name = \"professional US line\"",
                "name = \"crisis US line\"",
            )
            .replace(
                "name = \"professional INTL line\"",
                "name = \"crisis INTL line\"",
            )
            .replace(
                "name = \"crisis US line\"",
                "name = \"crisis US line\"\nnote = \"24/7\"",
            )
            .replace(
                "name = \"crisis INTL line\"",
                "name = \"crisis INTL line\"\nnote = \"any country\"",
            );
        Resources::parse(Path::new("r.toml"), &src).expect("valid resources")
    }

    #[test]
    fn a_shared_service_stays_in_every_block_it_belongs_to() {
        let t = template("Answer.", "[\"professional\", \"crisis\"]");
        let opts = RenderOptions {
            region: "US",
            with_evidence: false,
            ..Default::default()
        };
        let r = render(&t, &shared_service(), &opts);
        let crisis = r.plain.find("crisis heading").expect("crisis block");
        let professional = r
            .plain
            .find("professional heading")
            .expect("professional block");
        assert!(crisis < professional, "crisis first:\n{}", r.plain);
        let in_crisis = &r.plain[crisis..professional];
        let in_professional = &r.plain[professional..];
        assert!(
            in_crisis.contains("- crisis US line: text 988 (24/7)"),
            "{}",
            r.plain
        );
        // Shown again, briefly, in the other block it belongs to.
        assert!(
            in_professional.ends_with("- crisis US line: text 988"),
            "{}",
            r.plain
        );
        // The international fallback is shown once.
        assert_eq!(
            r.plain.matches("crisis INTL line").count(),
            1,
            "{}",
            r.plain
        );
    }

    #[test]
    fn help_first_puts_the_crisis_line_before_the_body() {
        let t = template("Answer.", "[\"professional\", \"crisis\"]");
        let opts = RenderOptions {
            region: "US",
            help_first: true,
            ..Default::default()
        };
        let r = render(&t, &resources(), &opts);
        assert!(
            r.plain
                .starts_with("crisis lead crisis US line: text 988\n\nAnswer."),
            "{}",
            r.plain
        );
        assert!(r
            .html
            .starts_with("<p><strong>crisis lead</strong> <strong>crisis US line"));
    }

    /// The sample resources with the US crisis line reached the ways `reach` lists.
    fn crisis_line_reached(reach: &str) -> Resources {
        let src = sample().replacen(
            "reach = [{ via = \"text\", contact = \"988\" }]",
            &format!("reach = [{reach}]"),
            1,
        );
        Resources::parse(Path::new("r.toml"), &src).expect("valid")
    }

    #[test]
    fn ways_sharing_a_contact_share_it() {
        let res = crisis_line_reached(
            "{ via = \"call\", contact = \"988\" }, { via = \"text\", contact = \"988\" }, { via = \"chat\", contact = \"https://x.org\" }",
        );
        let line = res.lines_for("crisis", "US")[0];
        assert_eq!(
            line_plain(line, Detail::Full),
            "crisis US line: call or text 988 · chat https://x.org"
        );
        assert!(line_html(line, Detail::Full).contains("chat <a href=\"https://x.org\">"));
    }

    #[test]
    fn numbers_reached_the_same_way_share_the_verb() {
        let res = crisis_line_reached(
            "{ via = \"call\", contact = \"112\" }, { via = \"call\", contact = \"999\" }, { via = \"web\", contact = \"https://x.org\" }",
        );
        let line = res.lines_for("crisis", "US")[0];
        assert_eq!(
            line_plain(line, Detail::Full),
            "crisis US line: call 112 or 999 · web https://x.org"
        );
        assert_eq!(
            line_plain(line, Detail::FirstWay),
            "crisis US line: call 112 or 999"
        );
    }

    /// A poison line with a long note and a short one, and the same emergency number in the
    /// emergency and poison blocks (as for the International region).
    fn poison_with_notes() -> Resources {
        let src = sample()
            .replace(
                "name = \"poison US line\"",
                "name = \"poison US line\"\nnote = \"free and confidential; if someone is unconscious, call 911\"\nshort_note = \"unconscious: call 911\"",
            )
            .replace(
                "name = \"emergency US line\"",
                "name = \"emergency US line\"\nnote = \"long emergency note\"",
            );
        Resources::parse(Path::new("r.toml"), &src).expect("valid resources")
    }

    #[test]
    fn short_blocks_carry_the_short_note_and_full_blocks_the_note() {
        let t = template("Answer.", "[\"poison\", \"emergency\"]");
        let full = RenderOptions {
            region: "US",
            ..Default::default()
        };
        let compact = RenderOptions {
            compact_help: true,
            ..full.clone()
        };
        let res = poison_with_notes();
        let long = render(&t, &res, &full).plain;
        let short = render(&t, &res, &compact).plain;
        assert!(
            long.contains("(free and confidential; if someone"),
            "{long}"
        );
        assert!(long.contains("(long emergency note)"), "{long}");
        assert!(
            short.contains("poison US line: call 988 (unconscious: call 911)"),
            "{short}"
        );
        assert!(!short.contains("free and confidential"), "{short}");
        assert!(!short.contains("long emergency note"), "{short}");
        assert!(short.contains("emergency US line"), "{short}");
    }

    #[test]
    fn a_short_note_longer_than_a_line_is_an_error() {
        let src = sample().replace(
            "name = \"poison US line\"",
            &format!(
                "name = \"poison US line\"\nshort_note = \"{}\"",
                "x".repeat(80)
            ),
        );
        let problems = Resources::parse(Path::new("r.toml"), &src).expect_err("too long");
        assert!(
            problems
                .iter()
                .any(|p| p.to_string().contains("short_note is 80 characters")),
            "{problems:?}"
        );
    }

    #[test]
    fn sources_name_every_source_and_point_to_the_links() {
        let src = template("Answer.", "[]").source_text;
        let extra = "[[sources]]\ntitle = \"More\"\npublisher = \"U.S. Food and Drug Administration\"\nyear = 2023\nurl = \"https://www.fda.gov/kratom\"\n";
        let src = src.replace("[review]", &format!("{extra}{extra}{extra}[review]"));
        let t = parse(Path::new("x.md"), &src).expect("valid");
        let mut opts = RenderOptions {
            region: "US",
            with_evidence: true,
            command_prefix: "!kratom",
            ..Default::default()
        };
        let r = render(&t, &resources(), &opts);
        assert!(
            r.plain.contains("Sources: Doe 2020 · fda.gov 2023 · fda.gov 2023 · fda.gov 2023 (links: !kratom sources x)"),
            "{}",
            r.plain
        );
        assert!(!r.plain.contains("https://"), "{}", r.plain);
        assert_eq!(r.html.matches("<li>").count(), 4, "{}", r.html);
        // Without commands, the plain reply keeps the first links itself.
        opts.command_prefix = "";
        let r = render(&t, &resources(), &opts);
        assert!(
            r.plain.contains("Sources: Doe 2020 https://doi.org/10.1/x · fda.gov 2023 https://www.fda.gov/kratom · fda.gov 2023 https://www.fda.gov/kratom · +1 more"),
            "{}",
            r.plain
        );
    }

    #[test]
    fn raw_html_is_escaped_not_rendered() {
        let html = markdown_to_html("hi <script>alert(1)</script>");
        assert!(!html.contains("<script>"), "{html}");
        let html = markdown_to_html("![pic](javascript:alert(1)) ![x](https://e.org/x.png)");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("pic x"), "{html}");
        let html = markdown_to_html("[click](javascript:alert(1)) and [FDA](https://fda.gov)");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(
            html.contains("click and <a href=\"https://fda.gov\">FDA</a>"),
            "{html}"
        );
    }
}
