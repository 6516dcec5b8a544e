//! Micro-benchmarks of the audit log: `cargo bench -p jurisgate-audit --bench audit`.
//!
//! - `record/encode_and_leaf_hash`: what the writer spends on one decision
//!   record before any I/O (serialise the line, hash it as a leaf);
//! - `append/{none,fdatasync}/writers-N`: durable appends through the real
//!   writer thread on a temporary folder, N tasks appending at once, so one
//!   write and one sync are shared by a batch (group commit). `none` skips
//!   the sync (benchmarks only) and shows the cost of the rest;
//! - `verify_records` and `verify_bytes`: `verify` over a generated log of
//!   100 000 decision records (page-cached), in records/s and bytes/s, next
//!   to `sha256_leaves`: the bare leaf hashes of the same lines from memory,
//!   the limit verification cannot beat on one core.
//!
//! `JURISGATE_BENCH_VERIFY_RECORDS` changes the size of the verified log.

// `criterion_main!` generates an undocumented `main`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use jurisgate_audit::layout::list_segments;
use jurisgate_audit::tlog::leaf_hash;
use jurisgate_audit::{
    AuditLog, AuditOptions, DecisionEvent, Durability, Event, FORMAT_VERSION, Outcome, Record,
    RequesterFacts, SubjectFacts, format_ts,
};

/// A decision record as the gateway writes it, with the rest of its policy
/// input (about 1 KiB as a line).
fn decision(i: u64) -> Event {
    let pseudonym = format!("hs256:{:032x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let input_rest = serde_json::json!({
        "request": {"query": {}, "headers": {"user-agent": "bench/1"}},
        "destinations": [{"pool": "us-east", "region": "us-east", "healthy": true},
                         {"pool": "eu-west", "region": "eu-west", "healthy": true}],
        "time": "2026-11-27T18:00:00Z",
    });
    Event::Decision(Box::new(DecisionEvent {
        request_id: format!("01JBENCH{i:012}"),
        subject: SubjectFacts {
            jurisdiction: "US".into(),
            source: "jwt".into(),
            verified: true,
            pseudonym: Some(pseudonym.clone()),
        },
        requester: RequesterFacts {
            kind: "user".into(),
            id: Some(pseudonym),
            org: None,
            location: Some("US".into()),
            source: "jwt".into(),
            verified: true,
            approval: None,
        },
        method: "GET".into(),
        host: "api.example.com".into(),
        path: format!("/v1/messages/{i}"),
        route: Some("messages".into()),
        service: Some("messages".into()),
        data_class: Some("protected".into()),
        decision: Outcome {
            allow: true,
            regions: vec!["us-east".into(), "us-west".into()],
            reason: "protected US data stays in approved US regions".into(),
            obligations: serde_json::json!({"redact": ["ssn"]}),
        },
        pool: Some("us-east".into()),
        region: Some("us-east".into()),
        status: None,
        refusal: None,
        policy_revision: Some(
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
        ),
        input: None,
        input_rest: Some(input_rest),
    }))
}

/// A fresh audit folder with its own key: (temp dir, log dir, key file, verifier key).
fn folder() -> (tempfile::TempDir, PathBuf, PathBuf, String) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (signing, vkey) = jurisgate_audit::keygen("bench.example/audit");
    let key = tmp.path().join("audit.key");
    std::fs::write(&key, signing).expect("write key");
    let dir = tmp.path().join("log");
    (tmp, dir, key, vkey)
}

fn options(dir: &Path, key: &Path, durability: Durability) -> AuditOptions {
    let mut opts = AuditOptions::new(dir, key, "bench.example/audit");
    opts.durability = durability;
    opts.queue_capacity = 1 << 16;
    opts
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// `writers` tasks each append `per_writer` records; returns the time taken.
async fn append_burst(log: &Arc<AuditLog>, writers: u64, per_writer: u64, base: u64) -> Duration {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let log = Arc::clone(log);
        tasks.push(tokio::spawn(async move {
            for i in 0..per_writer {
                log.append(decision(base + w * per_writer + i))
                    .await
                    .expect("append");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer task");
    }
    started.elapsed()
}

fn bench_record(c: &mut Criterion) {
    let record = Record {
        v: FORMAT_VERSION,
        seq: 123_456,
        ts: format_ts(time::OffsetDateTime::now_utc()),
        event: decision(123_456),
    };
    let len = record.to_line().expect("encode").len() as u64;
    let mut group = c.benchmark_group("record");
    group.throughput(Throughput::Bytes(len));
    group.bench_function("encode_and_leaf_hash", |b| {
        b.iter(|| {
            let line = black_box(&record).to_line().expect("encode");
            black_box(leaf_hash(&line))
        });
    });
    group.finish();
}

fn bench_append(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("append");
    group.sample_size(10);
    for (name, durability) in [("none", Durability::None), ("fdatasync", Durability::Fsync)] {
        let (_tmp, dir, key, _) = folder();
        let log = Arc::new(
            rt.block_on(AuditLog::open(options(&dir, &key, durability), "bench"))
                .expect("open log"),
        );
        let mut next = 0u64;
        for writers in [1u64, 16, 64] {
            // 256 records per iteration at every width.
            let per_writer = 256 / writers;
            group.throughput(Throughput::Elements(writers * per_writer));
            group.bench_function(BenchmarkId::new(name, format!("writers-{writers}")), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += rt.block_on(append_burst(&log, writers, per_writer, next));
                        next += writers * per_writer;
                    }
                    total
                });
            });
        }
        rt.block_on(log.close("bench finished")).expect("close log");
    }
    group.finish();
}

fn bench_verify(c: &mut Criterion) {
    let records: u64 = std::env::var("JURISGATE_BENCH_VERIFY_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = runtime();
    let (_tmp, dir, key, vkey) = folder();
    let log = Arc::new(
        rt.block_on(AuditLog::open(
            options(&dir, &key, Durability::None),
            "bench",
        ))
        .expect("open log"),
    );
    rt.block_on(append_burst(&log, 64, records.div_ceil(64), 0));
    rt.block_on(log.close("bench finished")).expect("close log");

    let mut bytes = Vec::new();
    for (_, path) in list_segments(&dir).expect("list segments") {
        bytes.extend(std::fs::read(path).expect("read segment"));
    }
    let lines: Vec<&[u8]> = bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let summary = jurisgate_audit::verify(&dir, vkey.as_str()).expect("the log verifies");
    assert_eq!(summary.records, lines.len() as u64);
    eprintln!(
        "verify: {} records, {} bytes ({} bytes per record), {} segments, {} checkpoints",
        summary.records,
        bytes.len(),
        bytes.len() as u64 / summary.records,
        summary.segments,
        summary.checkpoints,
    );

    for (group_name, throughput) in [
        ("verify_records", Throughput::Elements(summary.records)),
        ("verify_bytes", Throughput::Bytes(bytes.len() as u64)),
    ] {
        let mut group = c.benchmark_group(group_name);
        group.sample_size(10);
        group.throughput(throughput);
        group.bench_function("verify", |b| {
            b.iter(|| jurisgate_audit::verify(&dir, vkey.as_str()).expect("verifies"));
        });
        group.bench_function("sha256_leaves", |b| {
            b.iter(|| {
                let mut acc = 0u8;
                for line in &lines {
                    acc ^= leaf_hash(line)[0];
                }
                black_box(acc)
            });
        });
        group.finish();
    }
}

criterion_group!(benches, bench_record, bench_append, bench_verify);
criterion_main!(benches);
