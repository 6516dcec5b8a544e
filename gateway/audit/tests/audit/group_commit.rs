//! Group commit under load: many concurrent appenders, every record durable
//! and in order, far fewer syncs than records.

use crate::common::{Fixture, decision};
use jurisgate_audit::{Event, read_records, verify};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_share_syncs_and_all_land_in_order() {
    let fx = Fixture::new();
    let log = fx.open(fx.options()).await;
    let tasks: Vec<_> = (0..64u64)
        .map(|t| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..50u64 {
                    seqs.push(log.append(decision(t * 1000 + i)).await.unwrap());
                }
                seqs
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        let mine = t.await.unwrap();
        // One task's appends are ordered among themselves.
        assert!(mine.windows(2).all(|w| w[0] < w[1]));
        seqs.extend(mine);
    }
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 64 * 50, "every append got its own seq");

    let status = log.status();
    let appended = 64 * 50 + 1; // and the startup record
    assert_eq!(status.next_seq, appended);
    assert!(status.writable);
    assert!(
        status.syncs < appended / 4,
        "{} syncs for {appended} records: syncs were not shared",
        status.syncs
    );
    log.close("test").await.unwrap();

    let records: Vec<_> = read_records(&fx.dir)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.seq, i as u64);
    }
    let decisions = records
        .iter()
        .filter(|r| matches!(r.event, Event::Decision(_)))
        .count();
    assert_eq!(decisions, 64 * 50);
    let summary = verify(&fx.dir, &fx.verifier).unwrap();
    assert_eq!(summary.records, records.len() as u64);
    assert_eq!(summary.unsigned_tail, 0);
}

#[tokio::test]
async fn a_detached_append_lands_after_what_was_queued_before_it() {
    let fx = Fixture::new();
    let log = fx.open(fx.options()).await;
    // An append that is queued and then abandoned before it is durable
    // (its caller went away), and a detached one queued right after.
    let mut abandoned = Box::pin(log.append(decision(1)));
    tokio::select! {
        biased;
        // Polled once: queued. (Durable already is fine too.)
        _ = &mut abandoned => {}
        () = std::future::ready(()) => {}
    }
    drop(abandoned);
    log.append_detached(&decision(2)).unwrap();
    // The close record is queued after both, so both are written (and
    // synced) once close returns.
    log.close("test").await.unwrap();
    let records: Vec<_> = read_records(&fx.dir)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let ids: Vec<(u64, String)> = records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Decision(d) => Some((r.seq, d.request_id.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        ids,
        [(1, "req-1".to_string()), (2, "req-2".to_string())],
        "both land, in the order queued, right after the startup record"
    );
    assert!(verify(&fx.dir, &fx.verifier).is_ok());
    // Once closed, a detached append says so rather than vanishing.
    assert!(log.append_detached(&decision(3)).is_err());
}
