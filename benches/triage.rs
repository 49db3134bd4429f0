//! Triage cost per message: a short question, a 2 KiB message, and an 8 KiB adversarial one
//! (zero-width characters, leetspeak, letter spacing, look-alikes and idioms, the worst case for
//! every normalisation step and detector), plus 500-byte messages (the target size, with a
//! p50/p99 over real messages printed before criterion's rows), render alone, and start-up with
//! and without the trained-model cache. Run with `cargo bench --bench triage`.

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use kratom_bot::library::ContentSource;
use kratom_bot::triage::model_cache::ModelCache;
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

/// Messages of about 500 bytes: the development set's texts joined in order until each reaches
/// 500 bytes (cut at a character boundary), so the mix of topics and crisis signals is real.
fn messages_of_500_bytes() -> Vec<String> {
    let dev = include_str!("../tests/data/dev.jsonl");
    let texts: Vec<String> = dev
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    for t in texts.iter().cycle().take(texts.len() * 2) {
        cur.push_str(t);
        cur.push(' ');
        if cur.len() >= 500 {
            let mut end = 500;
            while !cur.is_char_boundary(end) {
                end -= 1;
            }
            out.push(cur[..end].to_string());
            cur.clear();
        }
    }
    out
}

/// p50 and p99 of one decision over many 500-byte messages, timed one by one (criterion reports
/// means), and the decisions per second that implies on one core.
fn percentiles_for_500_bytes(engine: &Engine) {
    let messages = messages_of_500_bytes();
    for m in &messages {
        black_box(engine.decide(m));
    }
    let mut times = Vec::new();
    let started = Instant::now();
    for _ in 0..20 {
        for m in &messages {
            let t = Instant::now();
            black_box(engine.decide(black_box(m)));
            times.push(t.elapsed());
        }
    }
    let total = started.elapsed();
    times.sort_unstable();
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    eprintln!(
        "500-byte messages ({} distinct, {} decisions): p50 {:?}, p99 {:?}, max {:?}, {:.0} decisions/s on one core",
        messages.len(),
        times.len(),
        at(0.50),
        at(0.99),
        times[times.len() - 1],
        times.len() as f64 / total.as_secs_f64()
    );
}

fn bench(c: &mut Criterion) {
    let engine = Engine::load(&ContentSource::BuiltIn).expect("library loads");
    percentiles_for_500_bytes(&engine);
    let five_hundred = messages_of_500_bytes();
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
    g.bench_function("500-byte message", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % five_hundred.len();
            engine.decide(black_box(&five_hundred[i]))
        })
    });
    g.bench_function("short question, decide + render", |b| {
        b.iter(|| engine.respond(black_box(short), "US"))
    });
    let decided = engine.decide(short);
    g.bench_function("render only (plain + HTML)", |b| {
        b.iter(|| engine.render(black_box(&decided), "US"))
    });
    g.finish();
    let mut g = c.benchmark_group("start-up");
    g.sample_size(10);
    g.bench_function("load library, train the models (no cache)", |b| {
        b.iter(|| {
            Engine::load_with_cache(&ContentSource::BuiltIn, &ModelCache::disabled())
                .expect("loads")
        })
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = ModelCache::in_dir(dir.path());
    Engine::load_with_cache(&ContentSource::BuiltIn, &cache).expect("warms the cache");
    g.bench_function("load library, models from the cache", |b| {
        b.iter(|| {
            let e = Engine::load_with_cache(&ContentSource::BuiltIn, &cache).expect("loads");
            assert!(e.triage().models_from_cache());
            e
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
