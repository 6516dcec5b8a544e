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

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jurisgate_audit_tlog::{Checkpoint, CompactTree, Hash, NoteError, NoteVerifier, leaf_hash};
use serde::Serialize;

use crate::layout::{
    CHECKPOINT_DIR, QUARANTINE_DIR, checkpoint_name, list_checkpoints, list_segments, relative,
    segment_name,
};
use crate::lines::AllLines;
use crate::{Event, Record, parse_ts};

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

/// Verifies the audit log in `dir` against the log's verifier key.
///
/// # Errors
/// The first [`VerifyError`] found, naming the file and line.
pub fn verify<K: VerifierKey + ?Sized>(dir: &Path, key: &K) -> Result<Summary, VerifyError> {
    let dir_name = dir.display().to_string();
    let key = key
        .to_verifier()
        .map_err(|e| err("verifier key", None, Problem::BadKey(e.to_string())))?;
    let key = &key;
    let segments =
        list_segments(dir).map_err(|e| err(&dir_name, None, Problem::Unreadable(e.to_string())))?;
    if segments.is_empty() {
        return Err(err(&dir_name, None, Problem::NoSegments));
    }
    for (i, (n, _)) in segments.iter().enumerate() {
        let want = i as u32 + 1;
        if *n != want {
            return Err(err(segment_name(want), None, Problem::MissingSegment));
        }
    }
    let (mut notes, origin) = load_notes(dir, key)?;

    let mut tree = CompactTree::new();
    let mut matched_up_to = 0u64;
    let mut first_ts = None;
    let mut last_ts = None;
    let mut named_quarantine = BTreeSet::new();
    let lines = AllLines::open(dir)
        .map_err(|e| err(&dir_name, None, Problem::Unreadable(e.to_string())))?;
    for raw in lines {
        let raw = raw.map_err(|e| err(&dir_name, None, Problem::Unreadable(e.to_string())))?;
        let file = relative(dir, &raw.path);
        let here = |p| err(file.clone(), Some(raw.line), p);
        if !raw.complete {
            return Err(here(Problem::TornLine));
        }
        let record =
            Record::from_line(&raw.bytes).map_err(|e| here(Problem::BadJson(e.to_string())))?;
        if record.seq != tree.size() {
            return Err(here(Problem::SequenceGap {
                expected: tree.size(),
                found: record.seq,
            }));
        }
        if parse_ts(&record.ts).is_none() {
            return Err(here(Problem::BadTimestamp(record.ts)));
        }
        match &record.event {
            Event::Checkpoint(c) => {
                let actual_root = STANDARD.encode(tree.root());
                if c.size != tree.size() || c.root != actual_root {
                    return Err(here(Problem::CheckpointRecordMismatch {
                        size: c.size,
                        root: c.root.clone(),
                        actual_size: tree.size(),
                        actual_root,
                    }));
                }
                announce(dir, &mut notes, c.size).map_err(here)?;
            }
            Event::Startup(s) => {
                if let Some(q) = &s.quarantined {
                    named_quarantine.insert(q.clone());
                }
            }
            _ => {}
        }
        tree.push(leaf_hash(&raw.bytes));
        let size = tree.size();
        if let Some(note) = notes.get(&size) {
            if note.root != tree.root() {
                return Err(here(Problem::RootMismatch {
                    checkpoint: note.file.clone(),
                    from: matched_up_to,
                    to: size - 1,
                }));
            }
            matched_up_to = size;
        }
        if matches!(record.event, Event::Shutdown(_)) {
            // A clean close is always followed by a checkpoint of everything.
            announce(dir, &mut notes, size).map_err(here)?;
        }
        if first_ts.is_none() {
            first_ts = Some(record.ts.clone());
        }
        last_ts = Some(record.ts);
    }

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

/// Verifies several audit folders, one per replica, each on its own with
/// its own key, and checks that no two share an origin (two replicas
/// writing under one name could not be told apart by an auditor).
/// Returns one result per folder, in the order given.
#[must_use]
pub fn verify_all<K: VerifierKey + ?Sized>(
    logs: &[(&Path, &K)],
) -> Vec<Result<Summary, VerifyError>> {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    logs.iter()
        .map(|(dir, key)| {
            let summary = verify(dir, *key)?;
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
