//! What one decision costs on the shipped Texas policy, and whether a
//! decision cache would pay: `cargo bench -p jurisgate-policy --bench decision`.
//!
//! - `decide/repeated_input`: the same input every time (what a cache would
//!   hit);
//! - `decide/new_request_id`: a fresh request id and time each time (what
//!   real traffic looks like to the engine: no two inputs are equal);
//! - `cache_key/serialize_and_hash`: the least a cache must spend per
//!   request before it can look anything up (the input minus its request id,
//!   serialised and hashed), to compare with the decision itself.
//!
//! Measured on the project's 2-core machine (release, criterion medians):
//! 29.6 µs repeated, 29.0 µs with a new id, 1.6 µs for the key alone. A hit
//! would save ~27 µs, but a correct key must keep everything the policy may
//! read: the path, the subject's pseudonym and `time` (approval expiry), so
//! real traffic almost never repeats an input and every miss would pay the
//! key on top. That is why there is no decision cache (issue 4, item 7).

// `criterion_main!` generates an undocumented `main`.
#![allow(missing_docs)]

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use jurisgate_policy::{EngineOptions, PolicyEngine};

fn sample(policy: &Path) -> serde_json::Value {
    let text = std::fs::read(policy.join("samples/us_user_write.json")).expect("sample input");
    serde_json::from_slice(&text).expect("sample is JSON")
}

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/texas");
    let engine = PolicyEngine::load(&dir, &EngineOptions::default()).expect("texas loads");
    let input = sample(&dir);
    assert!(engine.decide_value(&input).allow, "the sample is an allow");

    let mut group = c.benchmark_group("decide");
    group.bench_function("repeated_input", |b| {
        b.iter(|| black_box(engine.decide_value(black_box(&input))));
    });
    let mut n = 0u64;
    group.bench_function("new_request_id", |b| {
        b.iter(|| {
            n += 1;
            let mut fresh = input.clone();
            fresh["request"]["id"] = format!("01JBENCH{n:012}").into();
            fresh["time"] = format!("2026-11-27T18:{:02}:{:02}Z", (n / 60) % 60, n % 60).into();
            black_box(engine.decide_value(&fresh))
        });
    });
    group.finish();

    c.bench_function("cache_key/serialize_and_hash", |b| {
        b.iter(|| {
            let mut key = black_box(&input).clone();
            if let Some(request) = key.get_mut("request").and_then(|r| r.as_object_mut()) {
                request.remove("id");
            }
            let text = serde_json::to_string(&key).unwrap_or_default();
            let mut h = DefaultHasher::new();
            text.hash(&mut h);
            black_box(h.finish())
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
