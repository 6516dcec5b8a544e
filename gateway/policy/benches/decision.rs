//! What one decision costs on the shipped policies:
//! `cargo bench -p jurisgate-policy --bench decision`.
//!
//! For each of `texas` and `clover`, on a sample input given a fresh request
//! id and time every iteration (real traffic: no two inputs are equal; the
//! copy is made and dropped outside the timed part):
//!
//! - `decide/<set>/cached`: `decide_shared`, the gateway's call. The
//!   decision cache answers: it keys on the fields the policy reads, which
//!   the fresh id and time are not;
//! - `decide/<set>/engine`: `evaluate`, the regorus interpreter alone (what
//!   every decision cost before the cache, and what a cache miss costs);
//! - `decide/texas/approval`: `decide_shared` on an employee abroad with an
//!   approval. Its expiry is compared with `time`, so the engine decides
//!   every such request: the cache's fallback.
//!
//! Measured on the project's 2-core machine (release, criterion medians,
//! 3 s runs beside other builds, so compare within a run): texas cached
//! 0.83 µs vs engine 41 µs (approval 55 µs); clover cached 0.97 µs vs engine
//! 52 µs. Before the cache every decision paid the engine: 29–35 µs.

// `criterion_main!` generates an undocumented `main`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use jurisgate_policy::{EngineOptions, PolicyEngine};
use serde_json::Value;

fn sample(policy: &Path, name: &str) -> Value {
    let text = std::fs::read(policy.join("samples").join(name)).expect("sample input");
    serde_json::from_slice(&text).expect("sample is JSON")
}

/// `input` with request id and time made unique by `n`.
fn fresh(input: &Value, n: u64) -> Value {
    let mut fresh = input.clone();
    fresh["request"]["id"] = format!("01JBENCH{n:018}").into();
    fresh["time"] = format!(
        "2026-11-27T18:{:02}:{:02}.{:09}Z",
        (n / 60) % 60,
        n % 60,
        n % 1_000_000_000
    )
    .into();
    fresh
}

fn bench_set(c: &mut Criterion, set: &str, sample_name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../policies")
        .join(set);
    let engine = PolicyEngine::load(&dir, &EngineOptions::default()).expect("policy loads");
    let input = sample(&dir, sample_name);
    let expected = engine.evaluate(&input).expect("the sample decides");
    assert_eq!(*engine.decide_shared(&fresh(&input, 0)), expected);

    let mut group = c.benchmark_group(format!("decide/{set}"));
    let mut n = 0u64;
    let mut next = || {
        n += 1;
        fresh(&input, n)
    };
    group.bench_function("cached", |b| {
        b.iter_batched_ref(
            &mut next,
            |i| black_box(engine.decide_shared(black_box(i))),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("engine", |b| {
        b.iter_batched_ref(
            &mut next,
            |i| black_box(engine.evaluate(black_box(i))),
            BatchSize::SmallInput,
        );
    });
    if set == "texas" {
        let approved = sample(&dir, "employee_abroad_approved.json");
        assert!(
            engine.decide_shared(&approved).allow,
            "the approval is valid"
        );
        group.bench_function("approval", |b| {
            b.iter_batched_ref(
                || approved.clone(),
                |i| black_box(engine.decide_shared(black_box(i))),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    bench_set(c, "texas", "us_user_write.json");
    bench_set(c, "clover", "us_engineer_read.json");
}

criterion_group!(benches, bench);
criterion_main!(benches);
