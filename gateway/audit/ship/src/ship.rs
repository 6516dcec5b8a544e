//! One shipping pass, and the loop `serve` runs: upload every sealed
//! segment in order, with the quarantine files it names and the checkpoint
//! notes it covers, confirm each copy, remember it in `shipped.json`.
//!
//! Sealed means the writer will never append to it again: a later segment
//! exists (rotation and every restart start a new one), or it ends with a
//! `shutdown` record whose final checkpoint note is written. Segments go up
//! strictly in order and a pass stops at the first failure, so the bucket
//! always holds a prefix of the log. Between passes it is a complete,
//! verifiable log; during a pass the newest segment may be there before
//! the notes it announces.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use jurisgate_audit::layout::{CHECKPOINT_DIR, list_checkpoints, list_segments, segment_name};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};

use crate::local::{digest, note_origin, read_segment};
use crate::manifest::{Manifest, Shipped};
use crate::{ShipError, Target};

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    /// The log's origin (from its first checkpoint note), if it has one yet.
    pub origin: Option<String>,
    /// Files uploaded and confirmed in this pass, relative to the audit folder.
    pub uploaded: Vec<String>,
    /// Files confirmed before this pass, or found already in the bucket by it.
    pub already: usize,
    /// The first segment not shipped because the writer may still append to it.
    pub open_segment: Option<String>,
}

/// Counters of a shipper's passes (the run loop's and any other), for
/// the gateway's `/metrics`: alert on the time since the last completed
/// pass, not on single failures (each is retried).
#[derive(Debug, Default)]
pub struct ShipStats {
    passes_completed: AtomicU64,
    passes_failed: AtomicU64,
    files_shipped: AtomicU64,
    last_completed_unix: AtomicU64,
}

impl ShipStats {
    /// Passes that completed (everything sealed is in the bucket).
    #[must_use]
    pub fn passes_completed(&self) -> u64 {
        self.passes_completed.load(Ordering::Relaxed)
    }

    /// Passes that stopped at a failure.
    #[must_use]
    pub fn passes_failed(&self) -> u64 {
        self.passes_failed.load(Ordering::Relaxed)
    }

    /// Files uploaded and confirmed.
    #[must_use]
    pub fn files_shipped(&self) -> u64 {
        self.files_shipped.load(Ordering::Relaxed)
    }

    /// Unix time of the last completed pass; 0 before the first.
    #[must_use]
    pub fn last_completed_unix(&self) -> u64 {
        self.last_completed_unix.load(Ordering::Relaxed)
    }

    fn count(&self, pass: &Result<PassReport, ShipError>) {
        match pass {
            Ok(_) => {
                self.passes_completed.fetch_add(1, Ordering::Relaxed);
                let now = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                self.last_completed_unix.store(now, Ordering::Relaxed);
            }
            Err(_) => {
                self.passes_failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Ships one audit folder to one target.
#[derive(Debug, Clone)]
pub struct Shipper {
    dir: PathBuf,
    target: Target,
    stats: Arc<ShipStats>,
}

/// Attempts per object operation on top of the client's own retries.
const ATTEMPTS: u32 = 4;

impl Shipper {
    /// A shipper for the audit folder `dir`.
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>, target: Target) -> Self {
        Self {
            dir: dir.into(),
            target,
            stats: Arc::default(),
        }
    }

    /// This shipper's counters, shared with its clones.
    #[must_use]
    pub fn stats(&self) -> Arc<ShipStats> {
        Arc::clone(&self.stats)
    }

    /// The target.
    #[must_use]
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Runs passes until `stop` resolves: the first at once (what an earlier
    /// process left goes up first, and the metrics show a completed pass
    /// soon after a start), then every `every`; a failed pass is logged and
    /// retried sooner, backing off from 1 s to `every`. A pass
    /// cut short by `stop` loses nothing: what it confirmed is recorded,
    /// and an upload it did not record is found in the bucket next time.
    pub async fn run(&self, every: Duration, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        let mut wait = Duration::ZERO;
        loop {
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(wait) => {}
            }
            let pass = tokio::select! {
                () = &mut stop => return,
                pass = self.ship_once() => pass,
            };
            wait = match pass {
                Ok(report) => {
                    if !report.uploaded.is_empty() {
                        tracing::info!(target = %self.target.url(), files = ?report.uploaded, "audit files shipped");
                    }
                    every
                }
                Err(e) => {
                    tracing::error!(target = %self.target.url(), error = %e, "audit shipping failed; will retry");
                    // The first retry after a completed pass (or the first
                    // pass) waits 1 s; later ones back off towards `every`.
                    if wait >= every || wait.is_zero() {
                        Duration::from_secs(1)
                    } else {
                        (wait * 2).min(every)
                    }
                }
            };
        }
    }

    /// One pass: uploads what is sealed and not yet confirmed.
    ///
    /// # Errors
    /// The first [`ShipError`]; what was confirmed before it stays recorded.
    pub async fn ship_once(&self) -> Result<PassReport, ShipError> {
        let pass = self.pass().await;
        self.stats.count(&pass);
        pass
    }

    async fn pass(&self) -> Result<PassReport, ShipError> {
        let mut report = PassReport::default();
        let dir = self.dir.clone();
        let url = self.target.url().to_string();
        let (mut manifest, segments, notes) = blocking(move || {
            let manifest = Manifest::load(&dir, &url)?;
            let segments = list_segments(&dir)
                .map_err(|e| ShipError::local(&dir, std::io::Error::other(e)))?;
            let notes = list_checkpoints(&dir)
                .map_err(|e| ShipError::local(&dir, std::io::Error::other(e)))?;
            Ok((manifest, segments, notes))
        })
        .await?;
        // The first note names the log for good: the remote folder never moves.
        let Some((_, first_note)) = notes.first() else {
            return Ok(report);
        };
        let first_note = first_note.clone();
        let origin = blocking(move || note_origin(&first_note)).await?;
        report.origin = Some(origin.clone());
        let writer = self.target.writer()?;
        let last_no = segments.last().map(|(n, _)| *n);
        let mut end = 0u64;
        for (n, path) in segments {
            let name = segment_name(n);
            if let Some(done) = manifest.get(&name) {
                end = done.end_seq.unwrap_or(end);
                continue;
            }
            let p = path.clone();
            let info = blocking(move || read_segment(&p)).await?;
            let seg_end = info.end_seq.unwrap_or(end);
            let sealed = info.complete
                && (Some(n) != last_no
                    || (info.ends_with_shutdown && notes.iter().any(|(s, _)| *s == seg_end)));
            if !sealed {
                report.open_segment = Some(name);
                break;
            }
            for q in &info.quarantined {
                self.ship_file(&*writer, &mut manifest, &origin, q, None, &mut report)
                    .await?;
            }
            let bytes = Bytes::from(info.bytes);
            self.put_confirmed(
                &*writer,
                &mut manifest,
                &origin,
                &name,
                bytes,
                Some(seg_end),
                &mut report,
            )
            .await?;
            end = seg_end;
            self.ship_notes(&*writer, &mut manifest, &origin, &notes, end, &mut report)
                .await?;
        }
        self.ship_notes(&*writer, &mut manifest, &origin, &notes, end, &mut report)
            .await?;
        report.already = manifest.len() - report.uploaded.len();
        Ok(report)
    }

    /// Ships the notes of tree sizes up to `end` not yet confirmed.
    async fn ship_notes(
        &self,
        writer: &dyn ObjectStore,
        manifest: &mut Manifest,
        origin: &str,
        notes: &[(u64, PathBuf)],
        end: u64,
        report: &mut PassReport,
    ) -> Result<(), ShipError> {
        for (size, path) in notes.iter().filter(|(s, _)| *s <= end) {
            let name = note_name(path, *size);
            self.ship_file(writer, manifest, origin, &name, None, report)
                .await?;
        }
        Ok(())
    }

    /// Ships the small file `name` (relative to the audit folder) unless confirmed.
    async fn ship_file(
        &self,
        writer: &dyn ObjectStore,
        manifest: &mut Manifest,
        origin: &str,
        name: &str,
        end_seq: Option<u64>,
        report: &mut PassReport,
    ) -> Result<(), ShipError> {
        if manifest.get(name).is_some() {
            return Ok(());
        }
        let path = self.dir.join(name);
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| ShipError::local(&path, e))?;
        self.put_confirmed(
            writer,
            manifest,
            origin,
            name,
            Bytes::from(bytes),
            end_seq,
            report,
        )
        .await
    }

    /// Uploads `bytes` as `name` unless the bucket already holds exactly
    /// them, reads the object back, and records it once it matches.
    #[allow(clippy::too_many_arguments)]
    async fn put_confirmed(
        &self,
        writer: &dyn ObjectStore,
        manifest: &mut Manifest,
        origin: &str,
        name: &str,
        bytes: Bytes,
        end_seq: Option<u64>,
        report: &mut PassReport,
    ) -> Result<(), ShipError> {
        let key = self.target.key(origin, name)?;
        let (size, sha256) = digest(&bytes);
        let record = |key: &ObjectPath| Shipped {
            key: key.to_string(),
            size,
            sha256: sha256.clone(),
            end_seq,
        };
        match self.remote_digest(&key).await? {
            Some(remote) if remote == (size, sha256.clone()) => {
                // Uploaded by a pass that stopped before recording it.
                return manifest.confirm(name, record(&key));
            }
            Some((remote_size, remote_sha256)) => {
                return Err(ShipError::RemoteDiffers {
                    key: key.to_string(),
                    local_size: size,
                    local_sha256: sha256,
                    remote_size,
                    remote_sha256,
                });
            }
            None => {}
        }
        with_backoff(&key, || {
            writer.put(&key, PutPayload::from_bytes(bytes.clone()))
        })
        .await?;
        if self.remote_digest(&key).await? != Some((size, sha256.clone())) {
            return Err(ShipError::NotConfirmed {
                key: key.to_string(),
            });
        }
        manifest.confirm(name, record(&key))?;
        report.uploaded.push(name.to_string());
        // Counted when confirmed, even if a later file fails this pass.
        self.stats.files_shipped.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Size and SHA-256 of the object at `key`, `None` if there is none.
    async fn remote_digest(&self, key: &ObjectPath) -> Result<Option<(u64, String)>, ShipError> {
        let reader = Arc::clone(self.target.reader());
        let got = with_backoff(key, || async {
            match reader.get(key).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await?;
        Ok(got.map(|b| digest(&b)))
    }
}

fn note_name(path: &Path, size: u64) -> String {
    let file = path.file_name().and_then(|f| f.to_str()).map_or_else(
        || jurisgate_audit::layout::checkpoint_name(size),
        str::to_string,
    );
    format!("{CHECKPOINT_DIR}/{file}")
}

/// Retries `op` with exponential backoff (250 ms, 500 ms, 1 s) on errors
/// other than "not found" and "precondition".
async fn with_backoff<T, F, Fut>(key: &ObjectPath, mut op: F) -> Result<T, ShipError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, object_store::Error>>,
{
    let mut delay = Duration::from_millis(250);
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt >= ATTEMPTS => return Err(ShipError::remote(key, e)),
            Err(e) => {
                tracing::warn!(key = %key, attempt, error = %e, "object store request failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ShipError> + Send + 'static,
) -> Result<T, ShipError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ShipError::local("(blocking task)", std::io::Error::other(e.to_string())))?
}
