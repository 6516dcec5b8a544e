//! The single writer thread: group commit, rotation, checkpoints, and
//! fail-closed handling of write errors.
//!
//! One thread owns the files, so there is no locking around them. It takes
//! every queued append (up to `batch_max`), writes their lines with one
//! write and one `fdatasync`, and only then answers each caller: one sync is
//! shared by the whole batch. It is a plain thread rather than a tokio task
//! because `fdatasync` blocks, and it should not stall the runtime's workers.
//!
//! Checkpoints: a note for tree size N is written (and synced) first, then
//! a `checkpoint` record with `seq == size == N` and N's root. So the
//! checkpoint covers the records before its own record, and the next
//! checkpoint covers that record too. The one exception is the checkpoint
//! written at close: it follows the `shutdown` record and covers everything,
//! with no record after it, so a cleanly closed log is fully signed.
//! `verify` checks both rules: every checkpoint record and every shutdown
//! record has its note.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jurisgate_audit_tlog::{Checkpoint, CompactTree, NoteSigner, leaf_hash};
use tokio::sync::oneshot;

use crate::completion::{Answers, Reply};
use crate::layout::{CHECKPOINT_DIR, checkpoint_name, segment_name, sync_dir};
use crate::log::Shared;
use crate::recover::{LastKind, recover};
use crate::storage::{SegmentFile, Storage};
use crate::{
    AuditError, AuditOptions, CheckpointEvent, Durability, EncodedEvent, Event, Shutdown, Startup,
    format_ts,
};

/// Work for the writer.
#[derive(Debug)]
pub(crate) enum Msg {
    /// Append a record; answer with its seq once durable.
    Append(EncodedEvent, Reply),
    /// Shutdown record, final checkpoint, stop.
    Close(String, oneshot::Sender<Result<(), AuditError>>),
}

pub(crate) struct Writer {
    opts: AuditOptions,
    signer: NoteSigner,
    storage: Box<dyn Storage>,
    shared: Arc<Shared>,
    seg: Box<dyn SegmentFile>,
    seg_no: u32,
    /// Bytes of the segment that hold whole, acknowledged records.
    seg_len: u64,
    /// A failed write or sync may have left bytes past `seg_len`.
    dirty: bool,
    tree: CompactTree,
    /// Tree size after the latest checkpoint and its record: the log has
    /// grown since the last checkpoint iff `tree.size() > covered`.
    covered: u64,
    /// The batch being written, kept between batches to reuse its memory.
    buf: Vec<u8>,
}

impl Writer {
    /// Recovers the folder, opens a fresh segment and appends `startup`.
    pub(crate) fn open(
        opts: AuditOptions,
        signer: NoteSigner,
        storage: Box<dyn Storage>,
        shared: Arc<Shared>,
        version: &str,
    ) -> Result<Self, AuditError> {
        let found = recover(&opts.dir)?;
        // A restart starts a new segment (unless the last is empty), so a
        // segment, once its writer has moved on, is never written again.
        let (seg_no, seg_len) = match &found.last_segment {
            Some((n, _, 0)) => (*n, 0),
            Some((n, _, _)) => (n + 1, 0),
            None => (1, 0),
        };
        let path = opts.dir.join(segment_name(seg_no));
        let seg = storage
            .open_segment(&path)
            .map_err(|e| AuditError::io(&path, e))?;
        sync_dir(&opts.dir).map_err(|e| AuditError::io(&opts.dir, e))?;
        let recovered_records = found.tree.size();
        let mut w = Self {
            covered: found.latest_note.unwrap_or(0),
            opts,
            signer,
            storage,
            shared,
            seg,
            seg_no,
            seg_len,
            dirty: false,
            tree: found.tree,
            buf: Vec::new(),
        };
        w.publish();
        let size = w.tree.size();
        if size > 0
            && found.latest_note == Some(size)
            && found.last_kind != Some(LastKind::Shutdown)
        {
            // Crashed between a checkpoint note and its record: add the record.
            w.commit_events(vec![checkpoint_event(size, &w.tree)])?;
            w.covered = w.tree.size();
        } else if found.last_kind == Some(LastKind::Shutdown) && found.latest_note != Some(size) {
            // Crashed between the shutdown record and the final note.
            w.write_note()?;
            w.covered = size;
        }
        w.commit_events(vec![Event::Startup(Startup {
            version: version.to_string(),
            recovered_records,
            quarantined: found.quarantined,
        })])?;
        Ok(w)
    }

    /// Serves the queue until closed or every handle is gone.
    pub(crate) fn run(mut self, rx: &Receiver<Msg>) {
        let every = self.opts.checkpoint_every;
        let mut next_checkpoint = Instant::now() + every;
        loop {
            let wait = next_checkpoint.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok(first) => {
                    let mut batch = vec![first];
                    while batch.len() < self.opts.batch_max {
                        match rx.try_recv() {
                            Ok(m) => batch.push(m),
                            Err(_) => break,
                        }
                    }
                    self.shared
                        .queue_depth
                        .fetch_sub(batch.len(), Ordering::Relaxed);
                    if self.serve(batch, rx) {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    // Every handle dropped without close: sign what there is.
                    self.checkpoint_if_grown();
                    return;
                }
            }
            if Instant::now() >= next_checkpoint {
                self.checkpoint_if_grown();
                next_checkpoint = Instant::now() + every;
            }
        }
    }

    /// Handles one batch; returns true when the log was closed.
    fn serve(&mut self, batch: Vec<Msg>, rx: &Receiver<Msg>) -> bool {
        let mut appends = Vec::new();
        let mut close = None;
        let mut after_close = Vec::new();
        for m in batch {
            match m {
                Msg::Append(ev, reply) if close.is_none() => appends.push((ev, reply)),
                Msg::Close(reason, reply) if close.is_none() => close = Some((reason, reply)),
                other => after_close.push(other),
            }
        }
        if !appends.is_empty() {
            let (events, replies): (Vec<_>, Vec<_>) = appends.into_iter().unzip();
            let mut answers = Answers::default();
            match self.commit(&events) {
                Ok(first) => {
                    for (seq, reply) in (first..).zip(replies) {
                        answers.answer(reply, Ok(seq));
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    for reply in replies {
                        answers.answer(reply, Err(AuditError::Unavailable(msg.clone())));
                    }
                }
            }
            answers.wake_all();
            self.rotate_if_full();
        }
        let Some((reason, reply)) = close else {
            return false;
        };
        self.shared.closed.store(true, Ordering::Release);
        let result = self
            .commit_events(vec![Event::Shutdown(Shutdown { reason })])
            .and_then(|_| self.write_note());
        let _ = reply.send(result);
        self.shared.update(|s| s.writable = false);
        // Answer whatever was queued behind the close.
        let rest = after_close.into_iter().chain(rx.try_iter());
        for m in rest {
            let closed = || AuditError::Unavailable("audit log is closed".into());
            match m {
                Msg::Append(_, r) => r.send(Err(closed())),
                Msg::Close(_, r) => {
                    let _ = r.send(Err(closed()));
                }
            }
        }
        true
    }

    /// [`Self::commit`] for the writer's own events.
    fn commit_events(&mut self, events: Vec<Event>) -> Result<u64, AuditError> {
        let encoded = events
            .iter()
            .map(EncodedEvent::of)
            .collect::<Result<Vec<_>, _>>()
            .map_err(AuditError::Encode)?;
        self.commit(&encoded)
    }

    /// Writes `events` as consecutive records with one write and one sync.
    /// Returns the first seq. On failure nothing is acknowledged, the file
    /// is cut back to its last good length (now, or before the next try)
    /// and the status turns unhealthy.
    fn commit(&mut self, events: &[EncodedEvent]) -> Result<u64, AuditError> {
        if self.dirty {
            self.repair().map_err(|e| self.fail(&e))?;
        }
        let first = self.tree.size();
        let ts = format_ts(time::OffsetDateTime::now_utc());
        let mut tree = self.tree.clone();
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        for event in events {
            let start = buf.len();
            event.write_line(tree.size(), &ts, &mut buf);
            tree.push(leaf_hash(&buf[start..]));
            buf.push(b'\n');
        }
        let fsync = self.opts.durability == Durability::Fsync;
        let written = self
            .seg
            .append(&buf)
            .and_then(|()| if fsync { self.seg.sync() } else { Ok(()) });
        let len = buf.len() as u64;
        self.buf = buf;
        if let Err(e) = written {
            // Unacknowledged bytes (a half line, or whole lines whose sync
            // failed) must not stay in front of later records.
            self.dirty = true;
            let err = self.fail(&e);
            if self.repair().is_ok() {
                self.dirty = false;
            }
            return Err(err);
        }
        self.seg_len += len;
        self.tree = tree;
        let next = self.tree.size();
        self.shared.update(|s| {
            s.writable = true;
            s.next_seq = next;
            if fsync {
                s.syncs += 1;
            }
        });
        Ok(first)
    }

    /// Cuts the segment back to the last acknowledged byte.
    fn repair(&mut self) -> std::io::Result<()> {
        self.seg.truncate(self.seg_len)?;
        if self.opts.durability == Durability::Fsync {
            self.seg.sync()?;
        }
        self.dirty = false;
        Ok(())
    }

    fn fail(&self, e: &std::io::Error) -> AuditError {
        let path = self.opts.dir.join(segment_name(self.seg_no));
        let msg = format!("writing {}: {e}", path.display());
        tracing::error!(error = %msg, "audit write failed; failing closed");
        self.shared.update(|s| {
            s.writable = false;
            s.last_error = Some(msg.clone());
        });
        AuditError::Unavailable(msg)
    }

    /// Writes a checkpoint and its record if records were added since the
    /// last one (its own record does not count). Failures are reported in
    /// the status and retried at the next interval.
    fn checkpoint_if_grown(&mut self) {
        if self.tree.size() <= self.covered {
            return;
        }
        if let Err(e) = self.checkpoint_with_record() {
            let msg = format!("checkpoint: {e}");
            tracing::error!(error = %msg, "audit checkpoint failed");
            self.shared.update(|s| s.last_error = Some(msg));
        }
    }

    fn checkpoint_with_record(&mut self) -> Result<(), AuditError> {
        let size = self.tree.size();
        self.write_note()?;
        self.commit_events(vec![checkpoint_event(size, &self.tree)])?;
        self.covered = self.tree.size();
        Ok(())
    }

    /// Seals the segment (after a checkpoint) once it reached its size.
    fn rotate_if_full(&mut self) {
        if self.seg_len < self.opts.segment_max_bytes {
            return;
        }
        if let Err(e) = self.checkpoint_with_record() {
            let msg = format!("checkpoint before rotation: {e}");
            self.shared.update(|s| s.last_error = Some(msg));
            return;
        }
        let next = self.seg_no + 1;
        let path = self.opts.dir.join(segment_name(next));
        match self.storage.open_segment(&path).and_then(|seg| {
            sync_dir(&self.opts.dir)?;
            Ok(seg)
        }) {
            Ok(seg) => {
                self.seg = seg;
                self.seg_no = next;
                self.seg_len = 0;
                self.dirty = false;
            }
            Err(e) => {
                // Keep writing the current segment; rotation is retried later.
                let msg = format!("opening {}: {e}", path.display());
                tracing::error!(error = %msg, "audit segment rotation failed");
                self.shared.update(|s| s.last_error = Some(msg));
            }
        }
    }

    /// Signs a checkpoint of the whole current tree and stores it durably
    /// (temporary file, sync, rename, sync the folder).
    fn write_note(&mut self) -> Result<(), AuditError> {
        let size = self.tree.size();
        let text = Checkpoint::new(self.opts.origin.clone(), size, self.tree.root()).to_text();
        let note = self
            .signer
            .sign(&text)
            .map_err(|e| AuditError::Invalid(format!("checkpoint text: {e}")))?;
        let dir = self.opts.dir.join(CHECKPOINT_DIR);
        let path = dir.join(checkpoint_name(size));
        let fsync = self.opts.durability == Durability::Fsync;
        store_atomically(&dir, &path, note.as_bytes(), fsync)
            .map_err(|e| AuditError::Unavailable(format!("writing {}: {e}", path.display())))?;
        self.shared.update(|s| s.checkpoint_size = Some(size));
        Ok(())
    }

    fn publish(&self) {
        let next = self.tree.size();
        self.shared.update(|s| s.next_seq = next);
    }
}

fn checkpoint_event(size: u64, tree: &CompactTree) -> Event {
    Event::Checkpoint(CheckpointEvent {
        size,
        root: STANDARD.encode(tree.root()),
    })
}

fn store_atomically(dir: &Path, path: &Path, bytes: &[u8], fsync: bool) -> std::io::Result<()> {
    let tmp: PathBuf = path.with_extension("ckpt.tmp");
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&tmp)?;
    f.write_all(bytes)?;
    if fsync {
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if fsync {
        sync_dir(dir)?;
    }
    Ok(())
}
