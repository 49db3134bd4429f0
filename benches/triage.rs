//! Triage cost per message: a short question, a 2 KiB message, and an 8 KiB adversarial one
//! (zero-width characters, leetspeak, letter spacing, look-alikes and idioms, the worst case for
//! every normalisation step and detector). Run with `cargo bench --bench triage`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use kratom_bot::library::ContentSource;
use kratom_bot::Engine;

fn adversarial(len: usize) -> String {
    let pieces = [
        "k\u{200B}i\u{200D}l\u{FEFF}l m\u{0443}s3lf ",
        "s.u.i.c.i.d.e ",
        "i w a n t t o d i e ",
        "ｋｒａｔｏｍ ",
        "this withdrawal is killing me lol ",
        "z\u{0336}a\u{0301}l\u{0317}g\u{0335}o ",
        "soooooooooo tiiiiired ",
        "<b>html</b> &amp; ",
        "15g 7oh 2mg ",
    ];
    let mut s = String::new();
    let mut i = 0;
    while s.len() < len {
        s.push_str(pieces[i % pieces.len()]);
        i += 1;
    }
    s
}

fn bench(c: &mut Criterion) {
    let engine = Engine::load(&ContentSource::BuiltIn).expect("library loads");
    let short = "how long does kratom withdrawal last?";
    let long: String =
        "I've been taking kratom for a few years for back pain and I'm wondering about tapering, \
        what the evidence says about withdrawal, and whether red or green makes a difference. "
            .repeat(12)
            .chars()
            .take(2048)
            .collect();
    let hostile = adversarial(8 * 1024);
    let mut g = c.benchmark_group("triage");
    g.bench_function("short question", |b| {
        b.iter(|| engine.decide(black_box(short)))
    });
    g.bench_function("2 KiB message", |b| {
        b.iter(|| engine.decide(black_box(&long)))
    });
    g.bench_function("8 KiB adversarial", |b| {
        b.iter(|| engine.decide(black_box(&hostile)))
    });
    g.bench_function("short question, decide + render", |b| {
        b.iter(|| engine.respond(black_box(short), "US"))
    });
    g.finish();
    c.bench_function("load library and build the matcher", |b| {
        b.iter(|| Engine::load(&ContentSource::BuiltIn).expect("loads"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
