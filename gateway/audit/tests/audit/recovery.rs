//! Crash recovery: a torn final line is quarantined and reported, the tree
//! and sequence continue, and the log still verifies. Also the two crash
//! windows around checkpoints.

use crate::common::{Fixture, decision};
use jurisgate_audit::layout::{checkpoint_name, list_checkpoints};
use jurisgate_audit::{AuditError, Event, read_records, verify};

#[tokio::test]
async fn a_torn_final_line_is_quarantined_reported_and_the_log_verifies() {
    let fx = Fixture::new();
    let log = fx.open(fx.options()).await;
    for i in 0..5 {
        log.append(decision(i)).await.unwrap();
    }
    drop(log); // a crash: no close, no final checkpoint
    // Give the writer thread a moment to notice the handles are gone.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let torn = br#"{"v":1,"seq":6,"ts":"2026-11-27T18:00:00.000000Z","kind":"decis"#;
    let mut bytes = std::fs::read(fx.segment(1)).unwrap();
    let good_len = bytes.len();
    bytes.extend_from_slice(torn);
    std::fs::write(fx.segment(1), &bytes).unwrap();
    // Before recovery, verify names the torn line.
    let err = verify(&fx.dir, &fx.verifier).unwrap_err();
    assert_eq!(err.file, "segment-000001.jsonl");
    assert_eq!(err.line, Some(8), "{err}");

    let log = fx.open(fx.options()).await;
    let seq = log.append(decision(99)).await.unwrap();
    log.close("test").await.unwrap();

    let records: Vec<_> = read_records(&fx.dir)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let startup = records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Startup(s) => Some(s.clone()),
            _ => None,
        })
        .next_back()
        .unwrap();
    let name = format!("quarantine/segment-000001.jsonl.at-{good_len}.torn");
    assert_eq!(startup.quarantined.as_deref(), Some(name.as_str()));
    assert_eq!(std::fs::read(fx.dir.join(&name)).unwrap(), torn);
    // 1 startup + 5 decisions + the checkpoint the dropped writer left.
    assert_eq!(startup.recovered_records, 7);
    assert_eq!(records[seq as usize].event, decision(99));

    let summary = verify(&fx.dir, &fx.verifier).unwrap();
    assert_eq!(summary.quarantined, vec![name.clone()]);
    assert_eq!(summary.unsigned_tail, 0);

    // Deleting the quarantined evidence is detected.
    std::fs::remove_file(fx.dir.join(&name)).unwrap();
    let err = verify(&fx.dir, &fx.verifier).unwrap_err();
    assert_eq!(err.file, name);
}

#[tokio::test]
async fn damage_before_the_last_line_refuses_to_open() {
    let fx = Fixture::new();
    let log = fx.open(fx.options()).await;
    for i in 0..3 {
        log.append(decision(i)).await.unwrap();
    }
    log.close("test").await.unwrap();
    let text = std::fs::read_to_string(fx.segment(1)).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(1);
    std::fs::write(fx.segment(1), lines.join("\n") + "\n").unwrap();
    let err = jurisgate_audit::AuditLog::open(fx.options(), "t")
        .await
        .unwrap_err();
    assert!(matches!(&err, AuditError::Corrupt { line: 2, .. }), "{err}");
}

#[tokio::test]
async fn a_restart_continues_the_sequence_in_a_new_segment() {
    let fx = Fixture::new();
    let log = fx.open(fx.options()).await;
    log.append(decision(0)).await.unwrap();
    log.close("first run").await.unwrap();
    let log = fx.open(fx.options()).await;
    let seq = log.append(decision(1)).await.unwrap();
    assert_eq!(seq, 4, "startup, decision, shutdown, startup came before");
    log.close("second run").await.unwrap();
    assert!(fx.segment(2).exists());
    let summary = verify(&fx.dir, &fx.verifier).unwrap();
    assert_eq!(summary.segments, 2);
    assert_eq!(summary.records, 6);
    assert_eq!(summary.checkpoints, 2);
}

#[tokio::test]
async fn crash_windows_around_checkpoints_are_repaired_at_open() {
    let fx = Fixture::new();
    let log = fx.open(fx.options()).await;
    log.append(decision(0)).await.unwrap();
    log.close("test").await.unwrap();
    // A crash after the shutdown record, before the final note.
    let (size, path) = list_checkpoints(&fx.dir).unwrap().pop().unwrap();
    assert_eq!(size, 3);
    std::fs::remove_file(&path).unwrap();
    assert!(verify(&fx.dir, &fx.verifier).is_err());
    let log = fx.open(fx.options()).await;
    log.close("test").await.unwrap();
    assert!(fx.dir.join("checkpoints").join(checkpoint_name(3)).exists());
    verify(&fx.dir, &fx.verifier).unwrap();
}

#[tokio::test]
async fn interval_checkpoints_are_written_only_when_the_log_grew() {
    let fx = Fixture::new();
    let mut opts = fx.options();
    opts.checkpoint_every = std::time::Duration::from_millis(50);
    let log = fx.open(opts).await;
    log.append(decision(0)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    // startup + decision = 2 records -> one checkpoint at 2 and its record.
    let sizes: Vec<u64> = list_checkpoints(&fx.dir)
        .unwrap()
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(sizes, vec![2], "idle intervals must not add checkpoints");
    assert_eq!(log.status().checkpoint_size, Some(2));
    log.close("test").await.unwrap();
    let summary = verify(&fx.dir, &fx.verifier).unwrap();
    assert_eq!(summary.checkpoints, 2);
    assert_eq!(summary.latest_checkpoint, Some(summary.records));
}

#[tokio::test]
async fn segments_rotate_by_size_with_a_checkpoint_at_each_seal() {
    let fx = Fixture::new();
    let mut opts = fx.options();
    opts.segment_max_bytes = 2048;
    let log = fx.open(opts).await;
    for i in 0..40 {
        log.append(decision(i)).await.unwrap();
    }
    log.close("test").await.unwrap();
    let summary = verify(&fx.dir, &fx.verifier).unwrap();
    assert!(summary.segments > 5, "{summary:?}");
    // Every sealed segment ends with a checkpoint record.
    for n in 1..summary.segments as u32 {
        let text = std::fs::read_to_string(fx.segment(n)).unwrap();
        let last = text.lines().last().unwrap();
        assert!(last.contains(r#""kind":"checkpoint""#), "{n}: {last}");
    }
}
