//! What one decision costs on the shipped policies:
//! `cargo bench -p jurisgate-policy --bench decision`.
//!
//! For each of `texas` and `clover`, on a sample input given a fresh request
//! id and time every iteration (real traffic: no two inputs are equal; the
//! copy is made and dropped outside the timed part):
//!
//! - `decide/<set>/cached`: `decide_shared` on a ready JSON `Value`. The
//!   decision cache answers: it keys on the fields the policy reads, which
//!   the fresh id and time are not;
//! - `decide/<set>/typed`: `decide_input` on the typed `PolicyInput` (the
//!   gateway's call now): the cache key is read from the struct, no JSON
//!   `Value` is built on a hit;
//! - `decide/<set>/to_value_cached`: `serde_json::to_value` then
//!   `decide_shared`, building and dropping the `Value` inside the timed
//!   part (the gateway's call before `decide_input`);
//! - `decide/<set>/engine`: `evaluate`, the regorus interpreter alone (what
//!   every decision cost before the cache, and what a cache miss costs);
//! - `decide/texas/approval`: `decide_shared` on an employee abroad with an
//!   approval. Its expiry is compared with `time`, so the engine decides
//!   every such request: the cache's fallback.
//!
//! Measured on the project's 2-core machine (release, criterion medians,
//! 3 s runs beside other builds, so compare within a run): texas typed
//! 0.37 µs vs to_value_cached 2.1 µs (cached on a ready `Value` 0.67 µs,
//! engine 28 µs, approval 35 µs); clover typed 0.49 µs vs to_value_cached
//! 1.9 µs (cached 0.62 µs, engine 46 µs). Before the cache every decision
//! paid the engine: 29–35 µs.

// `criterion_main!` generates an undocumented `main`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use jurisgate_policy::{EngineOptions, PolicyEngine, PolicyInput};
use serde_json::Value;

fn sample(policy: &Path, name: &str) -> Value {
    let text = std::fs::read(policy.join("samples").join(name)).expect("sample input");
    serde_json::from_slice(&text).expect("sample is JSON")
}

/// A request id and time made unique by `n`.
fn stamp(n: u64) -> (String, String) {
    let id = format!("01JBENCH{n:018}");
    let time = format!(
        "2026-11-27T18:{:02}:{:02}.{:09}Z",
        (n / 60) % 60,
        n % 60,
        n % 1_000_000_000
    );
    (id, time)
}

/// `input` with request id and time made unique by `n`.
fn fresh(input: &Value, n: u64) -> Value {
    let (id, time) = stamp(n);
    let mut fresh = input.clone();
    fresh["request"]["id"] = id.into();
    fresh["time"] = time.into();
    fresh
}

/// The typed `input` with request id and time made unique by `n`.
fn fresh_typed(input: &PolicyInput, n: u64) -> PolicyInput {
    let mut fresh = input.clone();
    (fresh.request.id, fresh.time) = stamp(n);
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
    let typed: PolicyInput =
        serde_json::from_value(input.clone()).expect("sample is a PolicyInput");
    assert_eq!(*engine.decide_input(&typed), expected);
    let mut n_typed = 0u64;
    let mut next_typed = || {
        n_typed += 1;
        fresh_typed(&typed, n_typed)
    };
    group.bench_function("typed", |b| {
        b.iter_batched_ref(
            &mut next_typed,
            |i| black_box(engine.decide_input(black_box(i))),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("to_value_cached", |b| {
        b.iter_batched_ref(
            &mut next_typed,
            |i| {
                let value = serde_json::to_value(black_box(&*i)).expect("input serialises");
                black_box(engine.decide_shared(&value))
            },
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
