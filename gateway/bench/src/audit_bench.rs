//! Audit-log throughput: durable appends per second with group commit at
//! several writer counts, against one fsync per record, and `verify`
//! records per second against this machine's SHA-256 speed (the limit, since
//! verification is one leaf hash per record plus the tree).

use std::sync::Arc;
use std::time::{Duration, Instant};

use jurisgate_audit::{
    AuditLog, AuditOptions, DecisionEvent, Durability, Event, Outcome, RequesterFacts, SubjectFacts,
};
use sha2::{Digest, Sha256};

/// A decision record of realistic size (~1 KiB as a line).
fn event(i: u64) -> Event {
    let input_rest = serde_json::json!({
        "request": {"query": {}, "headers": {"user-agent": "bench/1"}},
        "destinations": [{"pool": "us-east", "region": "us-east", "healthy": true}],
        "time": "2026-11-27T18:00:00Z",
    });
    Event::Decision(Box::new(DecisionEvent {
        request_id: format!("bench-{i}"),
        subject: SubjectFacts {
            jurisdiction: "US".into(),
            source: "jwt".into(),
            verified: true,
            pseudonym: Some("hs256:0123456789abcdef0123456789abcdef".into()),
        },
        requester: RequesterFacts {
            kind: "user".into(),
            id: Some("hs256:0123456789abcdef0123456789abcdef".into()),
            org: None,
            location: Some("US".into()),
            source: "jwt".into(),
            verified: true,
            approval: None,
        },
        method: "GET".into(),
        host: "api.example.com".into(),
        path: "/v1/messages/42".into(),
        route: Some("messages".into()),
        service: Some("messages".into()),
        data_class: Some("protected".into()),
        decision: Outcome {
            allow: true,
            regions: vec!["us-east".into(), "us-west".into()],
            reason: "protected US data stays in approved US regions".into(),
            obligations: serde_json::json!({}),
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

/// Appends `writers × per_writer` records; returns (records/s, records, syncs, verifier key).
async fn appends(
    dir: &std::path::Path,
    writers: usize,
    per_writer: u64,
    batch_max: usize,
) -> anyhow::Result<(f64, u64, u64, String)> {
    let (signing, vkey) = jurisgate_audit::keygen("bench");
    let key = dir.join("bench.key");
    std::fs::write(&key, signing)?;
    let mut opts = AuditOptions::new(dir.join("log"), &key, "bench");
    opts.durability = Durability::Fsync;
    opts.batch_max = batch_max;
    opts.checkpoint_every = Duration::from_secs(3600);
    opts.queue_capacity = 1 << 20;
    let log = Arc::new(AuditLog::open(opts, "bench").await?);
    let syncs_before = log.status().syncs;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let log = Arc::clone(&log);
        tasks.push(tokio::spawn(async move {
            for i in 0..per_writer {
                log.append(event(w as u64 * per_writer + i)).await?;
            }
            Ok::<_, jurisgate_audit::AuditError>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let took = started.elapsed().as_secs_f64();
    let records = writers as u64 * per_writer;
    let syncs = log.status().syncs - syncs_before;
    log.close("bench").await?;
    Ok((records as f64 / took, records, syncs, vkey))
}

/// Runs the audit benchmark and prints a Markdown table.
pub(crate) async fn run(seconds_hint: u64) -> anyhow::Result<()> {
    println!("| writers | batch_max | records | syncs | durable appends/s |");
    println!("|---|---|---|---|---|");
    let scale = seconds_hint.max(1);
    for (writers, batch_max, per_writer) in [
        (1usize, 1usize, 300u64),
        (64, 1, 20),
        (1, 512, 300),
        (16, 512, 400 * scale),
        (64, 512, 200 * scale),
        (256, 512, 80 * scale),
    ] {
        let dir = tempfile::tempdir()?;
        let (rate, records, syncs, _) = appends(dir.path(), writers, per_writer, batch_max).await?;
        println!("| {writers} | {batch_max} | {records} | {syncs} | {rate:.0} |");
    }

    // verify speed vs SHA-256 speed over the same bytes.
    let dir = tempfile::tempdir()?;
    let (_, records, _, vkey) = appends(dir.path(), 256, 400 * scale, 512).await?;
    let log_dir = dir.path().join("log");
    let started = Instant::now();
    let summary = jurisgate_audit::verify(&log_dir, &vkey).map_err(|e| anyhow::anyhow!("{e}"))?;
    let verify_secs = started.elapsed().as_secs_f64();
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(&log_dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            bytes.extend(std::fs::read(path)?);
        }
    }
    let lines: Vec<&[u8]> = bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let started = Instant::now();
    let mut sink = 0u8;
    for line in &lines {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(line);
        sink ^= h.finalize()[0];
    }
    let hash_secs = started.elapsed().as_secs_f64().max(1e-9);
    println!();
    println!(
        "verify: {} records ({} MiB) in {:.3} s = {:.0} records/s; SHA-256 leaf hashing alone: {:.0} records/s; ratio {:.2} (checksum {sink})",
        records,
        bytes.len() >> 20,
        verify_secs,
        summary.records as f64 / verify_secs,
        lines.len() as f64 / hash_secs,
        (summary.records as f64 / verify_secs) / (lines.len() as f64 / hash_secs)
    );
    Ok(())
}
