//! The handle the gateway holds: [`AuditLog`]. It only queues work for the
//! writer thread ([`crate::writer`]) and waits for its answer; it never
//! touches files itself, so appends from many tasks cannot interleave bytes.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::completion::{self, Relay};
use crate::storage::{DiskStorage, Storage};
use crate::writer::{Msg, Writer};
use crate::{AuditError, EncodedEvent, Event};

/// How hard the writer works to make a record survive a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `fdatasync` before an append returns (group commit shares the sync).
    Fsync,
    /// Write only; a crash can lose acknowledged records. Benchmarks only.
    None,
}

/// How the kernel schedules the writer thread.
///
/// The writer sleeps in `fdatasync` (three device waits per sync on ext4)
/// and wakes thousands of times a second. With the normal policy each wake
/// preempts whichever request thread is running on that core; a batch
/// thread instead runs when a core goes idle or the running thread's time
/// slice ends, so the request threads keep their cores and more records
/// share each sync. On this project's 2-core machine `Batch` cut the
/// gateway's CPU per request by 7–16 % and lowered its p99 (see
/// BENCHMARKS.md). It never starves the writer: a batch thread keeps its
/// fair share of CPU time.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum WriterScheduling {
    /// `SCHED_BATCH` at the process's nice level (Linux; elsewhere the
    /// default policy). Needs no privilege.
    #[default]
    Batch,
    /// The default policy (`SCHED_OTHER`).
    Normal,
}

/// How to open an audit log.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// The audit folder (created if missing).
    pub dir: PathBuf,
    /// The signing key file written by `jurisgate audit keygen`.
    pub signing_key: PathBuf,
    /// The checkpoint origin line, e.g. `jurisgate.example/replica-1`.
    pub origin: String,
    /// Sync policy.
    pub durability: Durability,
    /// How often to write a checkpoint while the log grows.
    pub checkpoint_every: Duration,
    /// Size at which a segment is sealed and a new one started.
    pub segment_max_bytes: u64,
    /// Most records written and synced together.
    pub batch_max: usize,
    /// Most appends waiting; beyond that, appends fail at once.
    pub queue_capacity: usize,
    /// The writer thread's scheduling policy.
    pub writer_scheduling: WriterScheduling,
}

impl AuditOptions {
    /// Options with the defaults for `dir`, `signing_key` and `origin`:
    /// fsync, checkpoint every second, 64 MiB segments, batches of 1024,
    /// a queue of 16384, a batch-scheduled writer.
    #[must_use]
    pub fn new(dir: impl Into<PathBuf>, signing_key: impl Into<PathBuf>, origin: &str) -> Self {
        Self {
            dir: dir.into(),
            signing_key: signing_key.into(),
            origin: origin.to_string(),
            durability: Durability::Fsync,
            checkpoint_every: Duration::from_secs(1),
            segment_max_bytes: 64 << 20,
            batch_max: 1024,
            queue_capacity: 16384,
            writer_scheduling: WriterScheduling::Batch,
        }
    }

    fn validate(&self) -> Result<(), AuditError> {
        let bad = |what: &str| Err(AuditError::Invalid(format!("audit options: {what}")));
        if self.origin.is_empty() || self.origin.chars().any(char::is_control) {
            return bad("origin must be one non-empty line");
        }
        if self.checkpoint_every.is_zero() {
            return bad("checkpoint_every must be more than zero");
        }
        if self.batch_max == 0 || self.queue_capacity == 0 {
            return bad("batch_max and queue_capacity must be at least 1");
        }
        if self.segment_max_bytes == 0 {
            return bad("segment_max_bytes must be at least 1");
        }
        Ok(())
    }
}

/// The writer's health, for `/readyz` and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditStatus {
    /// Whether the last write and sync succeeded (and the log is open).
    pub writable: bool,
    /// Appends queued and not yet taken by the writer.
    pub queue_depth: usize,
    /// The sequence number the next record will get.
    pub next_seq: u64,
    /// The last write-side error, if any since open.
    pub last_error: Option<String>,
    /// Number of segment syncs done (fewer than records under load: group commit).
    pub syncs: u64,
    /// Tree size of the latest checkpoint written.
    pub checkpoint_size: Option<u64>,
}

/// State shared by the handles and the writer thread.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) status: Mutex<AuditStatus>,
    pub(crate) queue_depth: AtomicUsize,
    pub(crate) closed: AtomicBool,
}

impl Shared {
    pub(crate) fn update(&self, f: impl FnOnce(&mut AuditStatus)) {
        // A poisoned lock only means another thread panicked mid-update;
        // the status is still the best information there is.
        let mut s = self
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut s);
    }
}

/// A handle to the audit writer. Cheap to clone; `Send + Sync`.
#[derive(Clone, Debug)]
pub struct AuditLog {
    tx: SyncSender<Msg>,
    shared: Arc<Shared>,
    /// Where the writer hands this handle's wake-ups (see [`Self::for_this_runtime`]).
    relay: Option<Arc<Relay>>,
}

impl AuditLog {
    /// Opens (recovering if needed) the log in `opts.dir`, starts the writer
    /// and appends a `startup` record saying what recovery found.
    ///
    /// # Errors
    /// [`AuditError::Invalid`] for bad options, [`AuditError::Key`] for a bad
    /// key, [`AuditError::Corrupt`] when the log on disk is damaged beyond a
    /// torn final line, [`AuditError::Unavailable`] when the startup record
    /// cannot be written.
    pub async fn open(opts: AuditOptions, version: &str) -> Result<AuditLog, AuditError> {
        Self::open_with(opts, version, Box::new(DiskStorage)).await
    }

    pub(crate) async fn open_with(
        opts: AuditOptions,
        version: &str,
        storage: Box<dyn Storage>,
    ) -> Result<AuditLog, AuditError> {
        opts.validate()?;
        let signer = crate::keys::load_signing_key(&opts.signing_key)?;
        if opts.durability == Durability::None {
            tracing::warn!(
                dir = %opts.dir.display(),
                "audit durability is 'none': acknowledged records can be lost in a crash; use only for benchmarks"
            );
        }
        let shared = Arc::new(Shared {
            status: Mutex::new(AuditStatus {
                writable: false,
                queue_depth: 0,
                next_seq: 0,
                last_error: None,
                syncs: 0,
                checkpoint_size: None,
            }),
            queue_depth: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::sync_channel(opts.queue_capacity);
        let (ready_tx, ready_rx) = oneshot::channel();
        let thread_shared = Arc::clone(&shared);
        let version = version.to_string();
        std::thread::Builder::new()
            .name("jurisgate-audit-writer".into())
            .spawn(move || {
                apply_scheduling(opts.writer_scheduling);
                match Writer::open(opts, signer, storage, thread_shared, &version) {
                    Ok(writer) => {
                        let _ = ready_tx.send(Ok(()));
                        writer.run(&rx);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| AuditError::Unavailable(format!("cannot start the audit writer: {e}")))?;
        ready_rx
            .await
            .map_err(|_| AuditError::Unavailable("audit writer stopped while opening".into()))??;
        Ok(AuditLog {
            tx,
            shared,
            relay: None,
        })
    }

    /// A handle for appends made on the current tokio runtime: the writer
    /// wakes them through one task on this runtime, once per group commit,
    /// rather than each from its own thread (a system call per append). It
    /// spawns that task, so call it once per runtime and share the handle.
    /// Outside a runtime it is a plain clone. Once the runtime is gone,
    /// appends through the handle are woken directly.
    #[must_use]
    pub fn for_this_runtime(&self) -> AuditLog {
        let mut log = self.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (relay, task) = Relay::new();
            runtime.spawn(task);
            log.relay = Some(relay);
        }
        log
    }

    /// Appends a record and returns its sequence number once it is written
    /// and (with [`Durability::Fsync`]) synced.
    ///
    /// # Errors
    /// [`AuditError::Unavailable`] when the queue is full, the log is
    /// closed, or the write or sync failed: the record is not in the log.
    pub async fn append(&self, event: Event) -> Result<u64, AuditError> {
        self.append_encoded(EncodedEvent::of(&event).map_err(AuditError::Encode)?)
            .await
    }

    /// [`Self::append`] for an event already encoded by the caller (the
    /// writer thread then only frames, hashes and writes it).
    ///
    /// # Errors
    /// As [`Self::append`].
    pub async fn append_encoded(&self, event: EncodedEvent) -> Result<u64, AuditError> {
        let (reply, answer) = completion::channel(self.relay.clone());
        self.send(Msg::Append(event, reply))?;
        answer.await
    }

    /// Queues a record without waiting for it to be written: for records
    /// made where nothing can wait (a destructor). It lands after every
    /// record already queued; a write that fails later turns the log
    /// unavailable, as for any record, and nothing else reports it.
    ///
    /// # Errors
    /// [`AuditError::Encode`] when the record cannot be encoded;
    /// [`AuditError::Unavailable`] when the queue is full or the log closed.
    pub fn append_detached(&self, event: &Event) -> Result<(), AuditError> {
        let encoded = EncodedEvent::of(event).map_err(AuditError::Encode)?;
        let (reply, _unwatched) = completion::channel(None);
        self.send(Msg::Append(encoded, reply))
    }

    /// The writer's health.
    #[must_use]
    pub fn status(&self) -> AuditStatus {
        let mut s = self
            .shared
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        s.queue_depth = self.shared.queue_depth.load(Ordering::Relaxed);
        s
    }

    /// Appends a `shutdown` record, writes the final checkpoint (covering
    /// every record, the shutdown included) and stops the writer. Later
    /// appends fail with [`AuditError::Unavailable`].
    ///
    /// # Errors
    /// [`AuditError::Unavailable`] when the log was already closed or the
    /// final writes failed.
    pub async fn close(&self, reason: &str) -> Result<(), AuditError> {
        let (tx, rx) = oneshot::channel();
        self.send(Msg::Close(reason.to_string(), tx))?;
        rx.await
            .map_err(|_| AuditError::Unavailable("audit writer stopped".into()))?
    }

    fn send(&self, msg: Msg) -> Result<(), AuditError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(AuditError::Unavailable("audit log is closed".into()));
        }
        self.shared.queue_depth.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(msg) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.shared.queue_depth.fetch_sub(1, Ordering::Relaxed);
                Err(AuditError::Unavailable(match e {
                    TrySendError::Full(_) => "audit queue is full".into(),
                    TrySendError::Disconnected(_) => "audit log is closed".into(),
                }))
            }
        }
    }
}

/// Puts the calling thread under `policy`. A refusal (a seccomp profile
/// that forbids it, say) leaves the thread as it was: only slower.
fn apply_scheduling(policy: WriterScheduling) {
    #[cfg(target_os = "linux")]
    if policy == WriterScheduling::Batch {
        use rustix::process::{getpriority_process, setpriority_process};
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadPriorityOsValue,
            ThreadSchedulePolicy, set_thread_priority_and_policy, thread_native_id,
        };
        let batch = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
        // The crate sets the policy, then the thread's nice level to the
        // value given (its only one here, 0). The writer should keep the
        // nice level it inherited, so read it first and put it back: a
        // process started with `nice` keeps its writer as nice as itself.
        let inherited_nice = getpriority_process(None).ok();
        let set = set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Os(ThreadPriorityOsValue::default()),
            batch,
        );
        // Raising the nice level back is always allowed; lowering it (a
        // negative inherited level) needs the privilege the process had.
        if let Some(nice) = inherited_nice
            && let Err(e) = setpriority_process(None, nice)
        {
            tracing::warn!(error = %e, nice, "audit writer: cannot restore its nice level");
        }
        // Setting the nice level can fail after the policy was set: what
        // counts is the policy the kernel now reports.
        if thread_priority::thread_schedule_policy() != Ok(batch) {
            tracing::warn!(error = ?set.err(), "audit writer: cannot switch to SCHED_BATCH; it keeps the default policy");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = policy;
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::{WriterScheduling, apply_scheduling};

    /// A field of the calling thread's `stat` as the kernel reports it
    /// (numbered as in proc(5)).
    fn stat_field(number: usize) -> i64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 2..];
        after_name
            .split(' ')
            .nth(number - 3)
            .unwrap()
            .parse()
            .unwrap()
    }

    /// The thread's (policy, nice) after `apply_scheduling`, and the nice
    /// level it started at: `raise` above the test process's own (so the
    /// test needs no privilege). Policy 0 is SCHED_OTHER, 3 SCHED_BATCH.
    fn policy_and_nice_after(scheduling: WriterScheduling, raise: i32) -> ((i64, i64), i64) {
        std::thread::spawn(move || {
            let nice = (rustix::process::getpriority_process(None).unwrap() + raise).min(19);
            rustix::process::setpriority_process(None, nice).unwrap();
            apply_scheduling(scheduling);
            ((stat_field(41), stat_field(19)), i64::from(nice))
        })
        .join()
        .unwrap()
    }

    #[test]
    fn the_writer_runs_as_a_batch_thread_unless_told_otherwise() {
        assert_eq!(WriterScheduling::default(), WriterScheduling::Batch);
        let ((policy, nice), started) = policy_and_nice_after(WriterScheduling::Batch, 0);
        assert_eq!((policy, nice), (3, started));
        let ((policy, nice), started) = policy_and_nice_after(WriterScheduling::Normal, 0);
        assert_eq!((policy, nice), (0, started));
    }

    #[test]
    fn a_batch_writer_keeps_the_nice_level_it_inherited() {
        // A gateway started under `nice -n 5`: its writer must not run at 0.
        let ((policy, nice), started) = policy_and_nice_after(WriterScheduling::Batch, 5);
        assert_eq!((policy, nice), (3, started));
    }
}
