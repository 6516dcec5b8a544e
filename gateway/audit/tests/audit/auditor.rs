//! The auditor's tools on a real log: inclusion and consistency proofs that
//! check offline with only the public key (and fail when altered), and
//! query filters.

use crate::common::{Fixture, decision};
use jurisgate_audit::layout::list_checkpoints;
use jurisgate_audit::{
    Event, ForwardFailed, ProofCheckError, ProofDoc, QueryFilter, check_proof, parse_ts,
    prove_consistency, prove_inclusion, query,
};

async fn closed_log(fx: &Fixture, runs: u64, per_run: u64) {
    for run in 0..runs {
        let log = fx.open(fx.options()).await;
        for i in 0..per_run {
            log.append(decision(run * 1000 + i)).await.unwrap();
        }
        log.close("test").await.unwrap();
    }
}

#[tokio::test]
async fn inclusion_proofs_check_offline_for_every_record() {
    let fx = Fixture::new();
    closed_log(&fx, 1, 20).await;
    for seq in 0..22 {
        let proof = prove_inclusion(&fx.dir, seq).unwrap();
        assert_eq!(proof.tree_size, 22);
        // Through JSON and back, as the CLI hands it to an auditor.
        let json = serde_json::to_string(&ProofDoc::Inclusion(proof)).unwrap();
        let doc: ProofDoc = serde_json::from_str(&json).unwrap();
        check_proof(&doc, &fx.verifier).unwrap();
    }
    assert!(prove_inclusion(&fx.dir, 22).is_err());
}

#[tokio::test]
async fn altered_inclusion_proofs_are_rejected() {
    let fx = Fixture::new();
    closed_log(&fx, 1, 8).await;
    let good = prove_inclusion(&fx.dir, 3).unwrap();

    let mut p = good.clone();
    p.record = p.record.replace("req-", "REQ-");
    assert!(matches!(
        check_proof(&ProofDoc::Inclusion(p), &fx.verifier),
        Err(ProofCheckError::Mismatch(_))
    ));

    let mut p = good.clone();
    p.proof[0] = "00".repeat(32);
    assert!(matches!(
        check_proof(&ProofDoc::Inclusion(p), &fx.verifier),
        Err(ProofCheckError::Proof(_))
    ));

    let mut p = good.clone();
    p.checkpoint = p.checkpoint.replacen("\n10\n", "\n11\n", 1);
    assert!(matches!(
        check_proof(&ProofDoc::Inclusion(p), &fx.verifier),
        Err(ProofCheckError::Note(_))
    ));

    let other = Fixture::new();
    assert!(check_proof(&ProofDoc::Inclusion(good), &other.verifier).is_err());
}

#[tokio::test]
async fn consistency_proofs_between_all_checkpoint_pairs_check() {
    let fx = Fixture::new();
    closed_log(&fx, 3, 7).await;
    let sizes: Vec<u64> = list_checkpoints(&fx.dir)
        .unwrap()
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(sizes.len(), 3);
    for (i, a) in sizes.iter().enumerate() {
        for b in &sizes[i..] {
            let p = prove_consistency(&fx.dir, *a, *b).unwrap();
            check_proof(&ProofDoc::Consistency(p), &fx.verifier).unwrap();
        }
    }
    let mut p = prove_consistency(&fx.dir, sizes[0], sizes[2]).unwrap();
    p.first_root = p.second_root.clone();
    assert!(check_proof(&ProofDoc::Consistency(p), &fx.verifier).is_err());
    let err = prove_consistency(&fx.dir, 5, sizes[2]).unwrap_err();
    assert!(err.to_string().contains("no checkpoint at size 5"), "{err}");
}

fn count(fx: &Fixture, filter: QueryFilter) -> usize {
    query(&fx.dir, filter).unwrap().map(Result::unwrap).count()
}

#[tokio::test]
async fn query_filters_by_each_field() {
    let fx = Fixture::new();
    closed_log(&fx, 1, 30).await;
    assert_eq!(count(&fx, QueryFilter::default()), 32);
    let us = QueryFilter {
        jurisdiction: Some("us".into()),
        ..QueryFilter::default()
    };
    assert_eq!(count(&fx, us), 20);
    let denied = QueryFilter {
        allow: Some(false),
        ..QueryFilter::default()
    };
    assert_eq!(count(&fx, denied), 10);
    let eu_west = QueryFilter {
        region: Some("eu-west".into()),
        ..QueryFilter::default()
    };
    assert_eq!(count(&fx, eu_west), 10);
    let route = QueryFilter {
        route: Some("messages".into()),
        requester: Some("user-0".into()),
        ..QueryFilter::default()
    };
    // i even and i % 5 == 0: 0, 10, 20.
    assert_eq!(count(&fx, route), 3);
    let future = QueryFilter {
        since: parse_ts("2999-01-01T00:00:00Z"),
        ..QueryFilter::default()
    };
    assert_eq!(count(&fx, future), 0);
    let past = QueryFilter {
        since: parse_ts("2000-01-01T00:00:00Z"),
        until: parse_ts("2999-01-01T00:00:00Z"),
        ..QueryFilter::default()
    };
    assert_eq!(count(&fx, past), 32);
    let only_decisions = query(
        &fx.dir,
        QueryFilter {
            allow: Some(true),
            ..QueryFilter::default()
        },
    )
    .unwrap()
    .all(|r| matches!(r.unwrap().event, Event::Decision(_)));
    assert!(only_decisions);
}

#[tokio::test]
async fn region_and_request_id_filters_find_failed_forwards_too() {
    let fx = Fixture::new();
    let log = fx.open(fx.options()).await;
    // decision(1) went to eu-west (see `common::decision`); its forward failed.
    for i in 0..6 {
        log.append(decision(i)).await.unwrap();
    }
    let failed = |id: &str, region: &str| {
        Event::ForwardFailed(ForwardFailed {
            request_id: id.into(),
            pool: region.into(),
            region: region.into(),
            status: 504,
            reason: "upstream_timeout".into(),
        })
    };
    log.append(failed("req-1", "eu-west")).await.unwrap();
    log.append(failed("req-3", "us-east")).await.unwrap();
    log.close("test").await.unwrap();

    let kinds = |filter: QueryFilter| -> Vec<(String, &'static str)> {
        query(&fx.dir, filter)
            .unwrap()
            .map(|r| match r.unwrap().event {
                Event::Decision(d) => (d.request_id, "decision"),
                Event::ForwardFailed(f) => (f.request_id, "forward_failed"),
                other => panic!("{other:?} passed a decision filter"),
            })
            .collect()
    };
    let one = kinds(QueryFilter {
        request_id: Some("req-1".into()),
        ..QueryFilter::default()
    });
    assert_eq!(
        one,
        [
            ("req-1".to_string(), "decision"),
            ("req-1".to_string(), "forward_failed")
        ]
    );
    let eu = kinds(QueryFilter {
        region: Some("eu-west".into()),
        ..QueryFilter::default()
    });
    assert_eq!(
        eu,
        [
            ("req-1".to_string(), "decision"),
            ("req-4".to_string(), "decision"),
            ("req-1".to_string(), "forward_failed")
        ]
    );
    // A filter on what only decisions carry keeps only decisions.
    let us = kinds(QueryFilter {
        jurisdiction: Some("US".into()),
        region: Some("us-east".into()),
        ..QueryFilter::default()
    });
    assert_eq!(
        us,
        [
            ("req-0".to_string(), "decision"),
            ("req-3".to_string(), "decision")
        ]
    );
}
