//! The auditor's check of a whole audit folder with only the public key:
//! every line is a record in sequence, every checkpoint is signed by the key
//! and matches the tree recomputed from the lines, every checkpoint the log
//! announces exists, and every quarantined line is accounted for.
//!
//! What it can and cannot see: records covered by a checkpoint cannot be
//! changed, reordered, inserted or removed without detection. Records after
//! the latest checkpoint (a crash before the next one) are only checked for
//! shape and sequence; [`Summary::unsigned_tail`] says how many. A cleanly
//! closed log has none. Comparing with checkpoints held elsewhere (witnesses,
//! WORM copies) is what catches a log rolled back as a whole.
//!
//! Speed: hashing every byte is the floor, and verification stays close to
//! it. Segments are read in large blocks, lines are never copied, and the
//! lines of a block are hashed and read on every core before the checks
//! run in order. A line a signed checkpoint covers is read only for its
//! sequence number, time and kind ([`RecordView::parse_head`]): the signed
//! root proves the rest. Lines after the latest checkpoint, and any line
//! that does not start as the writer writes it, are checked in full
//! against the record schema ([`RecordView::parse`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jurisgate_audit_tlog::{Checkpoint, CompactTree, Hash, NoteError, NoteVerifier, leaf_hash};
use serde::Serialize;

use crate::layout::{
    CHECKPOINT_DIR, QUARANTINE_DIR, checkpoint_name, list_checkpoints, list_segments, relative,
    segment_name,
};
use crate::lines::{SegmentReader, block_lines};
use crate::parse_ts;
use crate::view::{KindView, RecordView};

/// What a verified log holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The checkpoints' origin line.
    pub origin: Option<String>,
    /// Number of records.
    pub records: u64,
    /// Number of segment files.
    pub segments: usize,
    /// Number of checkpoint notes.
    pub checkpoints: usize,
    /// First record's seq.
    pub first_seq: Option<u64>,
    /// Last record's seq.
    pub last_seq: Option<u64>,
    /// First record's time.
    pub first_ts: Option<String>,
    /// Last record's time.
    pub last_ts: Option<String>,
    /// Tree size of the latest checkpoint.
    pub latest_checkpoint: Option<u64>,
    /// Records after the latest checkpoint (not yet signed).
    pub unsigned_tail: u64,
    /// Quarantined torn lines, each named by a startup record.
    pub quarantined: Vec<String>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        write!(
            f,
            "{} in {}, {}",
            plural(self.records, "record", "records"),
            plural(self.segments as u64, "segment", "segments"),
            plural(self.checkpoints as u64, "checkpoint", "checkpoints"),
        )?;
        if let Some(origin) = &self.origin {
            write!(f, " of {origin}")?;
        }
        if let (Some(first), Some(last)) = (&self.first_ts, &self.last_ts) {
            write!(f, ", {first} to {last}")?;
        }
        if self.unsigned_tail > 0 {
            write!(
                f,
                ", {} records after the latest checkpoint",
                self.unsigned_tail
            )?;
        }
        if !self.quarantined.is_empty() {
            write!(
                f,
                ", {} quarantined torn lines (reported at startup)",
                self.quarantined.len()
            )?;
        }
        Ok(())
    }
}

/// The log's verifier key as [`verify`] takes it: parsed, or its text
/// (`<name>+<hex id>+<base64>`).
pub trait VerifierKey {
    /// The parsed key.
    ///
    /// # Errors
    /// The [`NoteError`] of a malformed key text.
    fn to_verifier(&self) -> Result<NoteVerifier, NoteError>;
}

impl VerifierKey for NoteVerifier {
    fn to_verifier(&self) -> Result<NoteVerifier, NoteError> {
        Ok(self.clone())
    }
}

impl VerifierKey for str {
    fn to_verifier(&self) -> Result<NoteVerifier, NoteError> {
        NoteVerifier::parse(self)
    }
}

impl VerifierKey for String {
    fn to_verifier(&self) -> Result<NoteVerifier, NoteError> {
        NoteVerifier::parse(self)
    }
}

/// The first problem found, and where: a file relative to the audit folder
/// and, for segment files, the line (from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    /// File, relative to the audit folder.
    pub file: String,
    /// Line number, from 1.
    pub line: Option<u64>,
    /// What is wrong.
    pub problem: Problem,
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} line {line}: {}", self.file, self.problem),
            None => write!(f, "{}: {}", self.file, self.problem),
        }
    }
}

impl std::error::Error for VerifyError {}

/// What [`verify`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The verifier key given is malformed.
    #[error("bad verifier key: {0}")]
    BadKey(String),
    /// A file or folder could not be read.
    #[error("cannot read: {0}")]
    Unreadable(String),
    /// The folder has no segment files.
    #[error("no audit segments (segment-000001.jsonl, ...) in this folder")]
    NoSegments,
    /// Segment numbering has a hole.
    #[error("segment file is missing (segments are numbered without gaps)")]
    MissingSegment,
    /// A line is not a record.
    #[error("not a valid record: {0}")]
    BadJson(String),
    /// A line has no newline.
    #[error(
        "line has no newline: a torn write not yet recovered (reopen the log to quarantine it) or a truncated file"
    )]
    TornLine,
    /// A record has the wrong sequence number.
    #[error("sequence gap: expected seq {expected}, found {found}")]
    SequenceGap {
        /// The seq that should be here.
        expected: u64,
        /// The seq found.
        found: u64,
    },
    /// A timestamp is not RFC 3339.
    #[error("timestamp {0:?} is not RFC 3339")]
    BadTimestamp(String),
    /// The records do not hash to a signed root.
    #[error(
        "records seq {from} to {to} do not hash to the root signed in {checkpoint}: a record was altered, reordered, inserted or removed"
    )]
    RootMismatch {
        /// The checkpoint file.
        checkpoint: String,
        /// First seq that may differ (the previous checkpoint matched up to here).
        from: u64,
        /// Last seq covered by this checkpoint.
        to: u64,
    },
    /// A checkpoint's signature does not verify.
    #[error("checkpoint signature: {0}")]
    BadSignature(String),
    /// A checkpoint's text is malformed.
    #[error("checkpoint text: {0}")]
    BadCheckpoint(String),
    /// Checkpoints name different logs.
    #[error("checkpoint origin {found:?} differs from {expected:?}")]
    WrongOrigin {
        /// Origin of the first checkpoint.
        expected: String,
        /// Origin of this one.
        found: String,
    },
    /// A checkpoint file's name does not match its tree size.
    #[error("file name does not match the checkpoint's tree size {0}")]
    MisnamedCheckpoint(u64),
    /// A checkpoint covers more records than exist.
    #[error("checkpoint covers {size} records but the log holds {records}: records were removed")]
    CheckpointBeyondLog {
        /// Checkpoint size.
        size: u64,
        /// Records present.
        records: u64,
    },
    /// The log announces a checkpoint whose note is missing.
    #[error("the log records a checkpoint at size {size} but {file} is missing")]
    MissingCheckpoint {
        /// Tree size.
        size: u64,
        /// The missing file.
        file: String,
    },
    /// A checkpoint record does not describe the tree before it.
    #[error(
        "checkpoint record says size {size}, root {root}; the log before it has size {actual_size}, root {actual_root}"
    )]
    CheckpointRecordMismatch {
        /// Size in the record.
        size: u64,
        /// Root in the record (base64).
        root: String,
        /// Records before it.
        actual_size: u64,
        /// Root of those records (base64).
        actual_root: String,
    },
    /// A checkpoint note no record announces.
    #[error("checkpoint at size {0} is announced by no checkpoint or shutdown record")]
    UnannouncedCheckpoint(u64),
    /// A quarantine file no startup record names.
    #[error("quarantined line is not reported by any startup record")]
    UnrecordedQuarantine,
    /// A startup record names a quarantine file that is gone.
    #[error("startup record reports quarantine file {0}, which is missing")]
    MissingQuarantine(String),
    /// Two folders given together hold logs of the same origin.
    #[error(
        "origin {origin:?} is also the origin of {other}: each replica needs its own audit.origin"
    )]
    SameOrigin {
        /// The shared origin.
        origin: String,
        /// The other folder.
        other: String,
    },
}

struct Note {
    file: String,
    root: Hash,
    announced: bool,
}

fn err(file: impl Into<String>, line: Option<u64>, problem: Problem) -> VerifyError {
    VerifyError {
        file: file.into(),
        line,
        problem,
    }
}

/// How far [`verify_with`] has got, reported after each block of lines
/// read (a few MiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Records checked so far.
    pub records: u64,
    /// Segment bytes checked so far.
    pub bytes: u64,
    /// Size of all the segments, as listed when verification started.
    pub total_bytes: u64,
}

/// Verifies the audit log in `dir` against the log's verifier key.
///
/// # Errors
/// The first [`VerifyError`] found, naming the file and line.
pub fn verify<K: VerifierKey + ?Sized>(dir: &Path, key: &K) -> Result<Summary, VerifyError> {
    verify_with(dir, key, &mut |_| {})
}

/// [`verify`], calling `progress` as it goes (for a progress bar).
///
/// # Errors
/// The first [`VerifyError`] found, naming the file and line.
pub fn verify_with<K: VerifierKey + ?Sized>(
    dir: &Path,
    key: &K,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary, VerifyError> {
    let dir_name = dir.display().to_string();
    let key = key
        .to_verifier()
        .map_err(|e| err("verifier key", None, Problem::BadKey(e.to_string())))?;
    let segments =
        list_segments(dir).map_err(|e| err(&dir_name, None, Problem::Unreadable(e.to_string())))?;
    if segments.is_empty() {
        return Err(err(&dir_name, None, Problem::NoSegments));
    }
    let mut total_bytes = 0;
    for (i, (n, path)) in segments.iter().enumerate() {
        let want = i as u32 + 1;
        if *n != want {
            return Err(err(segment_name(want), None, Problem::MissingSegment));
        }
        total_bytes += fs::metadata(path)
            .map_err(|e| {
                err(
                    relative(dir, path),
                    None,
                    Problem::Unreadable(e.to_string()),
                )
            })?
            .len();
    }
    let (notes, origin) = load_notes(dir, &key)?;
    let mut walk = Walk {
        dir,
        notes,
        tree: CompactTree::new(),
        matched_up_to: 0,
        first_ts: None,
        last_ts: None,
        named_quarantine: BTreeSet::new(),
    };
    let mut done = Progress {
        records: 0,
        bytes: 0,
        total_bytes,
    };
    progress(done);
    let mut buf = Vec::new();
    for (_, path) in &segments {
        let file = relative(dir, path);
        let unreadable =
            |e: std::io::Error| err(file.clone(), None, Problem::Unreadable(e.to_string()));
        let mut reader = SegmentReader::open(path, buf).map_err(unreadable)?;
        let mut lines_before = 0;
        while let Some(block) = reader.next_block().map_err(unreadable)? {
            lines_before = walk.block(&file, lines_before, block)?;
            done.records = walk.tree.size();
            done.bytes += block.len() as u64;
            progress(done);
        }
        buf = reader.into_buffer();
    }
    let Walk {
        notes,
        tree,
        first_ts,
        last_ts,
        named_quarantine,
        ..
    } = walk;

    let records = tree.size();
    for (size, note) in &notes {
        if *size > records {
            return Err(err(
                note.file.clone(),
                None,
                Problem::CheckpointBeyondLog {
                    size: *size,
                    records,
                },
            ));
        }
        // The newest note may lack its record: a crash between the two.
        if !note.announced && *size != records {
            return Err(err(
                note.file.clone(),
                None,
                Problem::UnannouncedCheckpoint(*size),
            ));
        }
    }
    let quarantined = check_quarantine(dir, &named_quarantine)?;
    let latest_checkpoint = notes.keys().next_back().copied();
    Ok(Summary {
        origin,
        records,
        segments: segments.len(),
        checkpoints: notes.len(),
        first_seq: (records > 0).then_some(0),
        last_seq: records.checked_sub(1),
        first_ts,
        last_ts,
        latest_checkpoint,
        unsigned_tail: records - latest_checkpoint.unwrap_or(0),
        quarantined,
    })
}

/// The state of [`verify_with`] as it walks the lines in order.
struct Walk<'d> {
    dir: &'d Path,
    notes: BTreeMap<u64, Note>,
    tree: CompactTree,
    /// Records up to here hash to a signed root.
    matched_up_to: u64,
    first_ts: Option<String>,
    last_ts: Option<String>,
    named_quarantine: BTreeSet<String>,
}

/// Lines a thread takes at a time (few in unit tests, so that their
/// blocks are shared between threads).
const PIECE: usize = if cfg!(test) { 2 } else { 128 };

/// Most threads a block is shared between.
const MAX_THREADS: usize = 8;

impl Walk<'_> {
    /// Checks one block of lines of segment `file`, in order. The lines are
    /// hashed and parsed in pieces taken in turn by one thread per core (a
    /// busy core then holds up no more than one piece); the checks then run
    /// in line order on this thread, so the first fault found is the first
    /// in the log, whatever the threads did.
    /// `lines_before` is the number of lines of `file` before this block;
    /// returns the number after it.
    fn block(&mut self, file: &str, lines_before: u64, block: &[u8]) -> Result<u64, VerifyError> {
        let lines: Vec<Line<'_>> = (lines_before + 1..)
            .zip(block_lines(block))
            .map(|(n, (bytes, complete))| (n, bytes, complete))
            .collect();
        let pieces: Vec<&[Line<'_>]> = lines.chunks(PIECE).collect();
        let signed = self.notes.keys().next_back().copied().unwrap_or(0);
        let next = AtomicUsize::new(0);
        let work = || {
            let mut out = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(piece) = pieces.get(index) else {
                    break out;
                };
                out.push(check_run(index, piece, signed));
            }
        };
        let runs = std::thread::scope(|s| {
            // A helper that cannot be started leaves its share to the others.
            let helpers: Vec<_> = (1..threads().min(pieces.len()))
                .filter_map(|_| std::thread::Builder::new().spawn_scoped(s, work).ok())
                .collect();
            let mut runs = work();
            for helper in helpers {
                // A helper that panicked leaves its pieces empty: redone below.
                if let Ok(done) = helper.join() {
                    runs.extend(done);
                }
            }
            runs
        });
        let mut slots: Vec<Option<Run<'_>>> = pieces.iter().map(|_| None).collect();
        for run in runs {
            if let Some(slot) = slots.get_mut(run.index) {
                *slot = Some(run);
            }
        }
        let done = slots
            .into_iter()
            .zip(&pieces)
            .enumerate()
            .flat_map(|(i, (slot, piece))| {
                slot.unwrap_or_else(|| check_run(i, piece, signed)).checked
            });
        let mut last_ts = None;
        for ((line, _, complete), (leaf, view)) in lines.iter().zip(done) {
            let here = |p| err(file, Some(*line), p);
            if !complete {
                return Err(here(Problem::TornLine));
            }
            let view = view.map_err(|e| here(Problem::BadJson(e)))?;
            self.record(&view, leaf).map_err(here)?;
            if self.first_ts.is_none() {
                self.first_ts = Some(view.ts.to_string());
            }
            last_ts = Some(view.ts);
        }
        if let Some(ts) = last_ts {
            self.last_ts = Some(ts.into_owned());
        }
        Ok(lines_before + lines.len() as u64)
    }

    /// Checks one record and adds its leaf to the tree.
    fn record(&mut self, view: &RecordView<'_>, leaf: Hash) -> Result<(), Problem> {
        if view.seq != self.tree.size() {
            return Err(Problem::SequenceGap {
                expected: self.tree.size(),
                found: view.seq,
            });
        }
        if parse_ts(&view.ts).is_none() {
            return Err(Problem::BadTimestamp(view.ts.to_string()));
        }
        match &view.kind {
            KindView::Checkpoint { size, root } => {
                let actual_root = STANDARD.encode(self.tree.root());
                if *size != self.tree.size() || *root != actual_root {
                    return Err(Problem::CheckpointRecordMismatch {
                        size: *size,
                        root: root.to_string(),
                        actual_size: self.tree.size(),
                        actual_root,
                    });
                }
                announce(self.dir, &mut self.notes, *size)?;
            }
            KindView::Startup {
                quarantined: Some(q),
            } => {
                self.named_quarantine.insert(q.to_string());
            }
            _ => {}
        }
        self.tree.push(leaf);
        let size = self.tree.size();
        if let Some(note) = self.notes.get(&size) {
            if note.root != self.tree.root() {
                return Err(Problem::RootMismatch {
                    checkpoint: note.file.clone(),
                    from: self.matched_up_to,
                    to: size - 1,
                });
            }
            self.matched_up_to = size;
        }
        if view.kind == KindView::Shutdown {
            // A clean close is always followed by a checkpoint of everything.
            announce(self.dir, &mut self.notes, size)?;
        }
        Ok(())
    }
}

/// A line as read: line number, bytes without the newline, whether the
/// newline was there.
type Line<'a> = (u64, &'a [u8], bool);

/// A line's leaf hash and what it says, or why it is not a record.
type Checked<'a> = (Hash, Result<RecordView<'a>, String>);

/// The lines of one piece of a block, hashed and read.
struct Run<'a> {
    /// Which piece of the block.
    index: usize,
    checked: Vec<Checked<'a>>,
}

/// Hashes and reads each line of piece `index` of a block. A line that a
/// signed checkpoint covers (seq below `signed`, the latest note's size) is
/// read only as far as `verify` needs: its bytes are proven by the signed
/// root, which is checked when the tree reaches that size. Any other line,
/// and any line not laid out as the writer writes it, is checked in full.
fn check_run<'a>(index: usize, piece: &[Line<'a>], signed: u64) -> Run<'a> {
    let checked = piece
        .iter()
        .map(|(_, bytes, _)| {
            let view = match RecordView::parse_head(bytes) {
                Some(view) if view.seq < signed => Ok(view),
                _ => RecordView::parse(bytes),
            };
            (leaf_hash(bytes), view)
        })
        .collect();
    Run { index, checked }
}

/// How many threads to check a block on: the cores there are.
fn threads() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
    })
}

/// Verifies several audit folders, one per replica, each on its own with
/// its own key, and checks that no two share an origin (two replicas
/// writing under one name could not be told apart by an auditor).
/// Returns one result per folder, in the order given.
#[must_use]
pub fn verify_all<K: VerifierKey + ?Sized>(
    logs: &[(&Path, &K)],
) -> Vec<Result<Summary, VerifyError>> {
    verify_all_with(logs, &mut |_, _| {})
}

/// [`verify_all`], calling `progress` with the folder's index in `logs`
/// and how far its verification has got.
#[must_use]
pub fn verify_all_with<K: VerifierKey + ?Sized>(
    logs: &[(&Path, &K)],
    progress: &mut dyn FnMut(usize, Progress),
) -> Vec<Result<Summary, VerifyError>> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    logs.iter()
        .enumerate()
        .map(|(i, (dir, key))| {
            let summary = verify_with(dir, *key, &mut |p| progress(i, p))?;
            if let Some(origin) = &summary.origin
                && let Some(other) = seen.insert(origin.clone(), dir.display().to_string())
            {
                return Err(err(
                    CHECKPOINT_DIR,
                    None,
                    Problem::SameOrigin {
                        origin: origin.clone(),
                        other,
                    },
                ));
            }
            Ok(summary)
        })
        .collect()
}

fn announce(dir: &Path, notes: &mut BTreeMap<u64, Note>, size: u64) -> Result<(), Problem> {
    match notes.get_mut(&size) {
        Some(note) => {
            note.announced = true;
            Ok(())
        }
        None => Err(Problem::MissingCheckpoint {
            size,
            file: relative(dir, &dir.join(CHECKPOINT_DIR).join(checkpoint_name(size))),
        }),
    }
}

type Notes = (BTreeMap<u64, Note>, Option<String>);

fn load_notes(dir: &Path, key: &NoteVerifier) -> Result<Notes, VerifyError> {
    let listed = list_checkpoints(dir)
        .map_err(|e| err(CHECKPOINT_DIR, None, Problem::Unreadable(e.to_string())))?;
    let mut notes = BTreeMap::new();
    let mut origin: Option<String> = None;
    for (_, path) in listed {
        let file = relative(dir, &path);
        let bad = |p| err(file.clone(), None, p);
        let text =
            fs::read_to_string(&path).map_err(|e| bad(Problem::Unreadable(e.to_string())))?;
        let body = key
            .open(&text)
            .map_err(|e| bad(Problem::BadSignature(e.to_string())))?;
        let cp = Checkpoint::parse(body).map_err(|e| bad(Problem::BadCheckpoint(e.to_string())))?;
        if path.file_name().and_then(|n| n.to_str()) != Some(checkpoint_name(cp.size).as_str()) {
            return Err(bad(Problem::MisnamedCheckpoint(cp.size)));
        }
        match &origin {
            Some(o) if *o != cp.origin => {
                return Err(bad(Problem::WrongOrigin {
                    expected: o.clone(),
                    found: cp.origin,
                }));
            }
            Some(_) => {}
            None => origin = Some(cp.origin.clone()),
        }
        notes.insert(
            cp.size,
            Note {
                file,
                root: cp.root,
                announced: false,
            },
        );
    }
    Ok((notes, origin))
}

fn check_quarantine(dir: &Path, named: &BTreeSet<String>) -> Result<Vec<String>, VerifyError> {
    let qdir = dir.join(QUARANTINE_DIR);
    let mut present = Vec::new();
    if qdir.is_dir() {
        let entries = fs::read_dir(&qdir)
            .map_err(|e| err(QUARANTINE_DIR, None, Problem::Unreadable(e.to_string())))?;
        for entry in entries {
            let entry =
                entry.map_err(|e| err(QUARANTINE_DIR, None, Problem::Unreadable(e.to_string())))?;
            present.push(relative(dir, &entry.path()));
        }
    }
    present.sort();
    for q in &present {
        if !named.contains(q) {
            return Err(err(q.clone(), None, Problem::UnrecordedQuarantine));
        }
    }
    for q in named {
        if !present.contains(q) {
            return Err(err(q.clone(), None, Problem::MissingQuarantine(q.clone())));
        }
    }
    Ok(present)
}

#[cfg(test)]
mod tests {
    //! Run with 1 KiB blocks and two-line pieces (see `BLOCK` and `PIECE`),
    //! so lines cross block boundaries, outgrow the buffer and are shared
    //! between threads.

    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;
    use crate::{
        AuditLog, AuditOptions, DecisionEvent, Durability, Event, Outcome, PolicyFile,
        PolicyLoaded, RequesterFacts, SubjectFacts, read_records,
    };

    fn decision(i: u64) -> Event {
        Event::Decision(Box::new(DecisionEvent {
            request_id: format!("req-{i}"),
            subject: SubjectFacts {
                jurisdiction: "US".into(),
                source: "jwt".into(),
                verified: true,
                pseudonym: Some(format!("hs256:{i:08x}")),
            },
            requester: RequesterFacts {
                kind: "user".into(),
                id: None,
                org: None,
                location: None,
                source: "jwt".into(),
                verified: true,
                approval: None,
            },
            method: "GET".into(),
            host: "api.example.com".into(),
            path: format!("/v1/messages/{i}"),
            route: Some("messages".into()),
            service: None,
            data_class: None,
            decision: Outcome {
                allow: true,
                regions: vec!["us-east".into()],
                reason: "stays in region".into(),
                obligations: serde_json::json!({}),
            },
            pool: Some("us-east".into()),
            region: Some("us-east".into()),
            status: None,
            refusal: None,
            policy_revision: None,
            input: None,
            input_rest: None,
        }))
    }

    /// A policy load of ~6 KiB: longer than a test block.
    fn big_policy_load() -> Event {
        Event::PolicyLoaded(PolicyLoaded {
            revision: "sha256:abc".into(),
            engine: "rego".into(),
            files: (0..60)
                .map(|i| PolicyFile {
                    path: format!("policies/texas/module_{i:03}.rego"),
                    sha256: format!("{i:064x}"),
                })
                .collect(),
        })
    }

    struct Log {
        _tmp: tempfile::TempDir,
        dir: PathBuf,
        vkey: String,
    }

    /// A closed log of 300 appended records (and the writer's own), in
    /// 8 KiB segments with a checkpoint at every rotation.
    fn log() -> Log {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("audit");
        let key = tmp.path().join("audit.key");
        let (skey, vkey) = crate::keygen("test.example/verify");
        std::fs::write(&key, skey).unwrap();
        let mut opts = AuditOptions::new(&dir, &key, "test.example/verify");
        opts.durability = Durability::None;
        opts.segment_max_bytes = 8 << 10;
        opts.checkpoint_every = Duration::from_secs(3600);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let log = AuditLog::open(opts, "0.1.0-test").await.unwrap();
            for i in 0..300 {
                let event = if i % 50 == 7 {
                    big_policy_load()
                } else {
                    decision(i)
                };
                log.append(event).await.unwrap();
            }
            log.close("test finished").await.unwrap();
        });
        Log {
            _tmp: tmp,
            dir,
            vkey,
        }
    }

    fn segments(dir: &Path) -> Vec<PathBuf> {
        list_segments(dir)
            .unwrap()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    fn lines_of(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn append(path: &Path, text: &str) {
        use std::io::Write as _;
        let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn a_log_verifies_across_blocks_threads_and_segments_with_progress() {
        let log = log();
        let records: Vec<_> = read_records(&log.dir)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let total: u64 = segments(&log.dir)
            .iter()
            .map(|p| fs::metadata(p).unwrap().len())
            .sum();
        let mut seen = Vec::new();
        let summary = verify_with(&log.dir, log.vkey.as_str(), &mut |p| seen.push(p)).unwrap();
        assert_eq!(summary.records, records.len() as u64);
        assert!(summary.segments >= 5, "{summary:?}");
        assert!(summary.checkpoints >= 5, "{summary:?}");
        assert_eq!(summary.unsigned_tail, 0);
        assert_eq!(summary.last_seq, Some(records.len() as u64 - 1));
        assert_eq!(summary.first_ts.as_ref(), Some(&records[0].ts));
        assert_eq!(summary.last_ts.as_ref(), records.last().map(|r| &r.ts));
        // Progress starts at zero, only grows, and ends at everything.
        assert_eq!(seen.first().map(|p| (p.records, p.bytes)), Some((0, 0)));
        assert!(seen.len() > summary.segments, "{}", seen.len());
        assert!(seen.iter().all(|p| p.total_bytes == total));
        assert!(
            seen.windows(2)
                .all(|w| w[0].records <= w[1].records && w[0].bytes < w[1].bytes)
        );
        let last = seen.last().unwrap();
        assert_eq!((last.records, last.bytes), (summary.records, total));
    }

    #[test]
    fn an_unsigned_record_is_checked_in_full_and_the_first_fault_is_named() {
        let log = log();
        let last = segments(&log.dir).pop().unwrap();
        let n = lines_of(&last).len() as u64;
        let next = verify(&log.dir, log.vkey.as_str()).unwrap().records;
        let ts = "2026-11-27T18:00:00.000000Z";
        // A complete record after the final checkpoint is accepted, unsigned.
        let record = crate::Record {
            v: crate::FORMAT_VERSION,
            seq: next,
            ts: ts.into(),
            event: decision(next),
        };
        append(
            &last,
            &format!(
                "{}\n",
                String::from_utf8(record.to_line().unwrap()).unwrap()
            ),
        );
        let summary = verify(&log.dir, log.vkey.as_str()).unwrap();
        assert_eq!(summary.unsigned_tail, 1);
        // One without the fields of its kind is not, nor is anything after it.
        append(
            &last,
            &format!(
                "{{\"v\":1,\"seq\":{},\"ts\":\"{ts}\",\"kind\":\"decision\",\"method\":\"GET\"}}\nnot json\n{{\"v\":1",
                next + 1
            ),
        );
        let e = verify(&log.dir, log.vkey.as_str()).unwrap_err();
        assert_eq!(e.file, relative(&log.dir, &last));
        assert_eq!(e.line, Some(n + 2));
        assert!(
            matches!(&e.problem, Problem::BadJson(why) if why.contains("missing field `request_id`")),
            "{e}"
        );
    }

    #[test]
    fn a_torn_final_line_is_named_by_its_line_number() {
        let log = log();
        let last = segments(&log.dir).pop().unwrap();
        let n = lines_of(&last).len() as u64;
        append(&last, "{\"v\":1,\"seq\":");
        let e = verify(&log.dir, log.vkey.as_str()).unwrap_err();
        assert_eq!((e.line, e.problem), (Some(n + 1), Problem::TornLine));
    }

    #[test]
    fn a_signed_record_changed_after_its_head_fails_its_checkpoint_root() {
        let log = log();
        let first = &segments(&log.dir)[0];
        let mut lines = lines_of(first);
        let (i, changed) = lines
            .iter()
            .enumerate()
            .find_map(|(i, l)| {
                let c = l.replacen("\"method\":\"GET\"", "\"method\":7", 1);
                (c != *l).then_some((i, c))
            })
            .unwrap();
        let seq = RecordView::parse(lines[i].as_bytes()).unwrap().seq;
        lines[i] = changed;
        fs::write(first, lines.join("\n") + "\n").unwrap();
        let e = verify(&log.dir, log.vkey.as_str()).unwrap_err();
        assert!(
            matches!(e.problem, Problem::RootMismatch { from, to, .. } if from <= seq && seq <= to),
            "{e}"
        );
        // A change to its sequence number is named at the line itself.
        lines[i] = lines[i].replacen(
            &format!("\"seq\":{seq},"),
            &format!("\"seq\":{},", seq + 1),
            1,
        );
        fs::write(first, lines.join("\n") + "\n").unwrap();
        let e = verify(&log.dir, log.vkey.as_str()).unwrap_err();
        assert_eq!(e.line, Some(i as u64 + 1), "{e}");
        assert!(matches!(e.problem, Problem::SequenceGap { .. }), "{e}");
    }
}
