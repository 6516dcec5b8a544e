//! Fail-closed behaviour under write and sync errors. The failing disk is a
//! test double wrapping the real segment file (a full or broken disk cannot
//! be produced on demand here, and tests run as root, where permission bits
//! do not stop writes); everything else is real: files, recovery, verify.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::storage::{DiskStorage, SegmentFile, Storage};
use crate::{AuditError, AuditLog, AuditOptions, Durability, Event, PolicyLoaded, read_records};

const OK: u8 = 0;
/// Half of the batch reaches the file, then ENOSPC.
const PARTIAL_WRITE: u8 = 1;
/// The write succeeds, the sync fails with EIO.
const SYNC_FAILS: u8 = 2;
/// Half a write, and truncation fails too (the file stays dirty).
const STUCK: u8 = 3;

struct FlakyStorage(Arc<AtomicU8>);

struct FlakySegment {
    inner: Box<dyn SegmentFile>,
    mode: Arc<AtomicU8>,
}

impl Storage for FlakyStorage {
    fn open_segment(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>> {
        Ok(Box::new(FlakySegment {
            inner: DiskStorage.open_segment(path)?,
            mode: Arc::clone(&self.0),
        }))
    }
}

impl SegmentFile for FlakySegment {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        match self.mode.load(Ordering::SeqCst) {
            PARTIAL_WRITE | STUCK => {
                self.inner.append(&buf[..buf.len() / 2])?;
                Err(io::Error::from_raw_os_error(28)) // ENOSPC
            }
            _ => self.inner.append(buf),
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        match self.mode.load(Ordering::SeqCst) {
            SYNC_FAILS => Err(io::Error::from_raw_os_error(5)), // EIO
            _ => self.inner.sync(),
        }
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        match self.mode.load(Ordering::SeqCst) {
            STUCK => Err(io::Error::from_raw_os_error(30)), // EROFS
            _ => self.inner.truncate(len),
        }
    }
}

fn event(n: usize) -> Event {
    Event::PolicyLoaded(PolicyLoaded {
        revision: format!("rev-{n}"),
        engine: "rego".into(),
        files: Vec::new(),
    })
}

fn segment_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("segment-000001.jsonl"))
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_and_sync_failures_are_unavailable_and_the_log_recovers_without_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let key = tmp.path().join("audit.key");
    let (skey, vkey) = crate::keygen("test.example/log");
    std::fs::write(&key, skey).unwrap();
    let mode = Arc::new(AtomicU8::new(OK));
    let mut opts = AuditOptions::new(&dir, &key, "test.example/log");
    opts.durability = Durability::Fsync;
    let log = AuditLog::open_with(opts, "test", Box::new(FlakyStorage(Arc::clone(&mode))))
        .await
        .unwrap();
    assert_eq!(log.append(event(1)).await.unwrap(), 1);
    let good_len = segment_len(&dir);

    // Truncation fails too: half a record stays until the disk comes back.
    mode.store(STUCK, Ordering::SeqCst);
    assert!(matches!(
        log.append(event(2)).await,
        Err(AuditError::Unavailable(_))
    ));
    assert!(segment_len(&dir) > good_len);

    for failing in [PARTIAL_WRITE, SYNC_FAILS] {
        mode.store(failing, Ordering::SeqCst);
        let err = log.append(event(3)).await.unwrap_err();
        assert!(matches!(err, AuditError::Unavailable(_)), "{err}");
        let status = log.status();
        assert!(!status.writable);
        assert!(status.last_error.is_some());
        // The half record of before, and this attempt's bytes, are cut off.
        assert_eq!(segment_len(&dir), good_len, "mode {failing}");
    }

    mode.store(OK, Ordering::SeqCst);
    let seq = log.append(event(4)).await.unwrap();
    assert_eq!(seq, 2, "failed records do not use up sequence numbers");
    let status = log.status();
    assert!(status.writable);
    assert_eq!(status.next_seq, 3);

    // No half record sits in front of the new one.
    let records: Vec<_> = read_records(&dir)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[2].event, event(4));

    log.close("test done").await.unwrap();
    let v = jurisgate_audit_tlog::NoteVerifier::parse(&vkey).unwrap();
    let summary = crate::verify(&dir, &v).unwrap();
    assert_eq!(summary.records, 4);
    assert_eq!(summary.unsigned_tail, 0);
}

#[tokio::test]
async fn a_full_queue_fails_at_once_instead_of_growing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    let key = tmp.path().join("audit.key");
    std::fs::write(&key, crate::keygen("q").0).unwrap();
    let mode = Arc::new(AtomicU8::new(OK));
    let mut opts = AuditOptions::new(&dir, &key, "q");
    opts.queue_capacity = 1;
    opts.batch_max = 1;
    let log = AuditLog::open_with(opts, "test", Box::new(FlakyStorage(mode)))
        .await
        .unwrap();
    // Fire many appends without awaiting between sends: with a queue of
    // one, some must be refused immediately.
    let handles: Vec<_> = (0..200)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move { log.append(event(i)).await })
        })
        .collect();
    let mut refused = 0;
    for h in handles {
        if let Err(AuditError::Unavailable(msg)) = h.await.unwrap() {
            assert!(msg.contains("queue is full"), "{msg}");
            refused += 1;
        }
    }
    assert!(refused > 0, "a queue of one never filled");
    log.close("done").await.unwrap();
    assert!(matches!(
        log.append(event(0)).await,
        Err(AuditError::Unavailable(_))
    ));
}
