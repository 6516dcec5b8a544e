//! The report's basis: each log verified with `jurisgate_audit::verify`,
//! and, for a log that verified, the signed checkpoints it rests on (tree
//! size and root hash, read back from the notes the verifier just checked).
//!
//! It re-implements no check: the verdict is the audit crate's.

use std::path::{Path, PathBuf};

use jurisgate_audit::layout::list_checkpoints;
use jurisgate_audit::tlog::NoteVerifier;
use jurisgate_audit::{Problem, Summary, VerifyError, verify};

/// Checkpoints listed by name in the report: the first few and the latest
/// ones (the latest covers everything before it). The rest are counted.
pub(crate) const FIRST_SHOWN: usize = 3;
const LAST_SHOWN: usize = 7;

/// One signed checkpoint a verified log rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// The note's file, relative to the audit folder.
    pub file: String,
    /// Tree size it commits to.
    pub size: u64,
    /// Root hash, base64, as in the note.
    pub root: String,
}

/// The verification of one audit folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCheck {
    /// The folder.
    pub dir: PathBuf,
    /// The verifier's summary, or the first problem it found.
    pub result: Result<Summary, VerifyError>,
    /// Checkpoints shown in the report (first and latest; empty when the
    /// log did not verify).
    pub checkpoints: Vec<CheckpointInfo>,
}

impl LogCheck {
    /// Whether the log verified.
    #[must_use]
    pub fn verified(&self) -> bool {
        self.result.is_ok()
    }
}

/// Verifies each folder with its key, in turn.
pub(crate) fn check_logs(logs: &[(PathBuf, NoteVerifier)]) -> Vec<LogCheck> {
    logs.iter()
        .map(|(dir, key)| {
            let result = verify(dir, key);
            let checkpoints = match &result {
                Ok(_) => shown_checkpoints(dir, key),
                Err(_) => Vec::new(),
            };
            LogCheck {
                dir: dir.clone(),
                result,
                checkpoints,
            }
        })
        .collect()
}

/// The verdict when the verifier thread died: every log unverified.
pub(crate) fn panicked(dirs: &[PathBuf]) -> Vec<LogCheck> {
    dirs.iter()
        .map(|dir| LogCheck {
            dir: dir.clone(),
            result: Err(VerifyError {
                file: dir.display().to_string(),
                line: None,
                problem: Problem::Unreadable("the verifier stopped unexpectedly".into()),
            }),
            checkpoints: Vec::new(),
        })
        .collect()
}

fn shown_checkpoints(dir: &Path, key: &NoteVerifier) -> Vec<CheckpointInfo> {
    let Ok(listed) = list_checkpoints(dir) else {
        return Vec::new();
    };
    let n = listed.len();
    listed
        .iter()
        .enumerate()
        .filter(|(i, _)| *i < FIRST_SHOWN || *i + LAST_SHOWN >= n)
        .filter_map(|(_, (size, path))| {
            // Verification has just opened every note; one that cannot be
            // read back now changed underneath and is simply not listed.
            let text = std::fs::read_to_string(path).ok()?;
            let body = key.open(&text).ok()?;
            Some(CheckpointInfo {
                file: path.strip_prefix(dir).unwrap_or(path).display().to_string(),
                size: *size,
                root: body.lines().nth(2)?.to_string(),
            })
        })
        .collect()
}
