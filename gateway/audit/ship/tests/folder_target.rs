//! The shipper against the local-folder backend (`file://`), with a real
//! audit log written by `AuditLog`: sealed segments only, a verifiable copy
//! after every pass, resumable from the manifest or from the bucket itself,
//! and never an overwrite of a different object. The same code runs against
//! S3 in `tests/tests/shipping.rs` (moto server).

use std::path::Path;
use std::time::Duration;

use jurisgate_audit::{AuditLog, AuditOptions, Event, PolicyLoaded};
use jurisgate_audit_ship::{MANIFEST_NAME, ShipError, Shipper, Target, TargetOptions, fetch};

fn event(i: usize) -> Event {
    Event::PolicyLoaded(PolicyLoaded {
        revision: format!("rev-{i:04}-{}", "x".repeat(200)),
        engine: "rego".into(),
        files: Vec::new(),
    })
}

async fn open(dir: &Path, key: &Path) -> AuditLog {
    let mut o = AuditOptions::new(dir, key, "jurisgate.test/us-east/replica-1");
    o.checkpoint_every = Duration::from_secs(3600);
    o.segment_max_bytes = 4096;
    AuditLog::open(o, "0.1.0-test").await.unwrap()
}

struct Setup {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    key: std::path::PathBuf,
    vkey: String,
    bucket: std::path::PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let key = tmp.path().join("audit.key");
    let (skey, vkey) = jurisgate_audit::keygen("jurisgate.test");
    std::fs::write(&key, skey).unwrap();
    let bucket = tmp.path().join("bucket");
    Setup {
        dir,
        key,
        vkey,
        bucket,
        _tmp: tmp,
    }
}

fn target(s: &Setup) -> Target {
    Target::open(TargetOptions::new(&format!(
        "file://{}",
        s.bucket.display()
    )))
    .unwrap()
}

async fn verify_remote(s: &Setup) -> jurisgate_audit::Summary {
    let fetched = fetch(&target(s), None).await.unwrap();
    assert_eq!(fetched.logs.len(), 1, "{:?}", fetched.logs);
    assert!(
        fetched.logs[0].ends_with("jurisgate.test/us-east/replica-1"),
        "{:?}",
        fetched.logs
    );
    jurisgate_audit::verify(&fetched.logs[0], &s.vkey)
        .unwrap_or_else(|e| panic!("remote copy does not verify: {e}"))
}

#[tokio::test]
async fn sealed_segments_ship_verify_and_resume() {
    let s = setup();
    let log = open(&s.dir, &s.key).await;
    for i in 0..40 {
        log.append(event(i)).await.unwrap();
    }
    let shipper = Shipper::new(&s.dir, target(&s));

    // While the writer runs, its current segment stays local.
    let first = shipper.ship_once().await.unwrap();
    let segments = jurisgate_audit::layout::list_segments(&s.dir).unwrap();
    assert!(
        segments.len() >= 3,
        "expected rotations, got {} segments",
        segments.len()
    );
    let last = jurisgate_audit::layout::segment_name(segments.last().unwrap().0);
    assert_eq!(first.open_segment.as_deref(), Some(last.as_str()));
    assert!(!first.uploaded.contains(&last), "{:?}", first.uploaded);
    assert_eq!(
        first.origin.as_deref(),
        Some("jurisgate.test/us-east/replica-1")
    );
    let partial = verify_remote(&s).await;
    assert!(
        partial.records > 0 && partial.records < log.status().next_seq,
        "{partial}"
    );

    // A clean close seals the last segment; the next pass completes the copy.
    log.close("test").await.unwrap();
    let second = shipper.ship_once().await.unwrap();
    assert!(second.uploaded.contains(&last), "{:?}", second.uploaded);
    assert_eq!(second.open_segment, None);
    let local = jurisgate_audit::verify(&s.dir, &s.vkey).unwrap();
    let remote = verify_remote(&s).await;
    assert_eq!(remote.records, local.records);
    assert_eq!(remote.checkpoints, local.checkpoints);
    assert_eq!(remote.unsigned_tail, 0);

    // Nothing left: a third pass uploads nothing.
    let third = shipper.ship_once().await.unwrap();
    assert!(third.uploaded.is_empty(), "{:?}", third.uploaded);

    // Without the manifest (a lost disk cache), the bucket is checked
    // object by object and nothing is uploaded twice.
    std::fs::remove_file(s.dir.join(MANIFEST_NAME)).unwrap();
    let rebuilt = shipper.ship_once().await.unwrap();
    assert!(rebuilt.uploaded.is_empty(), "{:?}", rebuilt.uploaded);
    assert_eq!(rebuilt.already, third.already);

    // A restart starts a new segment; only it (and its notes) go up.
    let log = open(&s.dir, &s.key).await;
    log.append(event(99)).await.unwrap();
    log.close("test").await.unwrap();
    let after_restart = shipper.ship_once().await.unwrap();
    assert!(
        after_restart
            .uploaded
            .iter()
            .any(|f| f.starts_with("segment-")),
        "{:?}",
        after_restart.uploaded
    );
    assert_eq!(
        verify_remote(&s).await.records,
        jurisgate_audit::verify(&s.dir, &s.vkey).unwrap().records
    );
}

#[tokio::test]
async fn a_different_remote_object_is_never_overwritten() {
    let s = setup();
    let log = open(&s.dir, &s.key).await;
    log.append(event(1)).await.unwrap();
    log.close("test").await.unwrap();
    let shipper = Shipper::new(&s.dir, target(&s));
    shipper.ship_once().await.unwrap();

    // Someone else's segment under this origin's key, and no manifest.
    let remote = s
        .bucket
        .join("jurisgate.test/us-east/replica-1/segment-000001.jsonl");
    let before = std::fs::read(&remote).unwrap();
    std::fs::write(&remote, b"{\"not\":\"ours\"}\n").unwrap();
    std::fs::remove_file(s.dir.join(MANIFEST_NAME)).unwrap();
    let err = shipper.ship_once().await.unwrap_err();
    assert!(matches!(err, ShipError::RemoteDiffers { .. }), "{err}");
    assert!(err.to_string().contains("segment-000001.jsonl"), "{err}");
    assert_eq!(std::fs::read(&remote).unwrap(), b"{\"not\":\"ours\"}\n");
    assert_ne!(before, b"{\"not\":\"ours\"}\n");
    // Local data is untouched by shipping.
    jurisgate_audit::verify(&s.dir, &s.vkey).unwrap();
}

#[tokio::test]
async fn an_empty_folder_ships_nothing() {
    let s = setup();
    std::fs::create_dir_all(&s.dir).unwrap();
    let report = Shipper::new(&s.dir, target(&s)).ship_once().await.unwrap();
    assert_eq!(report.origin, None);
    assert!(report.uploaded.is_empty());
}
