//! Crash recovery at open: rebuild the tree's right edge from every line on
//! disk, and move a torn final line (no newline, or not a record) into the
//! quarantine folder instead of dropping it.
//!
//! Only the last line of the last segment may be torn: that is the one a
//! crash can interrupt. Damage anywhere else is refused with
//! [`AuditError::Corrupt`]: writing on top of a log that does not verify
//! would hide the damage, so the gateway fails closed instead.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use jurisgate_audit_tlog::{CompactTree, leaf_hash};
use serde::Deserialize;

use crate::AuditError;
use crate::layout::{CHECKPOINT_DIR, QUARANTINE_DIR, list_checkpoints, list_segments, sync_dir};
use crate::lines::{AllLines, RawLine};

/// What the last record on disk was, as far as checkpoints care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LastKind {
    /// A checkpoint record.
    Checkpoint,
    /// A shutdown record.
    Shutdown,
    /// Anything else.
    Other,
}

/// The state found on disk.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub(crate) tree: CompactTree,
    /// Number, path and length of the last segment.
    pub(crate) last_segment: Option<(u32, PathBuf, u64)>,
    pub(crate) last_kind: Option<LastKind>,
    /// The quarantine file, relative to the audit folder.
    pub(crate) quarantined: Option<String>,
    /// Largest tree size with a checkpoint note.
    pub(crate) latest_note: Option<u64>,
}

/// Just the fields recovery needs; the rest of the line is not checked here.
#[derive(Deserialize)]
struct Head {
    seq: u64,
    kind: String,
}

/// Scans `dir` (creating it if needed) and repairs a torn tail.
pub(crate) fn recover(dir: &Path) -> Result<Recovered, AuditError> {
    for sub in [dir.to_path_buf(), dir.join(CHECKPOINT_DIR)] {
        fs::create_dir_all(&sub).map_err(|e| AuditError::io(&sub, e))?;
    }
    let mut tree = CompactTree::new();
    let mut last_kind = None;
    let mut torn: Option<RawLine> = None;
    for line in AllLines::open(dir)? {
        let line = line?;
        if let Some(t) = &torn {
            return Err(corrupt(t, "unreadable line is followed by more lines"));
        }
        let head = if line.complete {
            serde_json::from_slice::<Head>(&line.bytes).ok()
        } else {
            None
        };
        match head {
            Some(h) if h.seq == tree.size() => {
                tree.push(leaf_hash(&line.bytes));
                last_kind = Some(match h.kind.as_str() {
                    "checkpoint" => LastKind::Checkpoint,
                    "shutdown" => LastKind::Shutdown,
                    _ => LastKind::Other,
                });
            }
            Some(h) => {
                return Err(corrupt(
                    &line,
                    &format!(
                        "sequence gap: expected seq {}, found {}",
                        tree.size(),
                        h.seq
                    ),
                ));
            }
            None if line.last_segment => torn = Some(line),
            None => return Err(corrupt(&line, "not a complete record")),
        }
    }
    let quarantined = match &torn {
        Some(t) => Some(quarantine(dir, t)?),
        None => None,
    };
    let last_segment = match list_segments(dir)?.pop() {
        Some((n, path)) => {
            let len = fs::metadata(&path)
                .map_err(|e| AuditError::io(&path, e))?
                .len();
            Some((n, path, len))
        }
        None => None,
    };
    let latest_note = list_checkpoints(dir)?.last().map(|(n, _)| *n);
    if let Some(size) = latest_note.filter(|s| *s > tree.size()) {
        return Err(AuditError::Corrupt {
            file: dir
                .join(CHECKPOINT_DIR)
                .join(crate::layout::checkpoint_name(size)),
            line: 0,
            what: format!(
                "checkpoint covers {size} records but only {} are on disk: records were removed",
                tree.size()
            ),
        });
    }
    Ok(Recovered {
        tree,
        last_segment,
        last_kind,
        quarantined,
        latest_note,
    })
}

fn corrupt(line: &RawLine, what: &str) -> AuditError {
    AuditError::Corrupt {
        file: line.path.clone(),
        line: line.line,
        what: what.to_string(),
    }
}

/// Copies the torn bytes to `quarantine/`, makes that durable, then cuts
/// the segment back to where the torn line started.
fn quarantine(dir: &Path, torn: &RawLine) -> Result<String, AuditError> {
    let qdir = dir.join(QUARANTINE_DIR);
    fs::create_dir_all(&qdir).map_err(|e| AuditError::io(&qdir, e))?;
    let seg_name = torn
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = format!("{seg_name}.at-{}.torn", torn.offset);
    let qpath = qdir.join(&name);
    let mut bytes = torn.bytes.clone();
    if torn.complete {
        bytes.push(b'\n');
    }
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&qpath)
        .map_err(|e| AuditError::io(&qpath, e))?;
    f.write_all(&bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| AuditError::io(&qpath, e))?;
    sync_dir(&qdir).map_err(|e| AuditError::io(&qdir, e))?;
    let seg = OpenOptions::new()
        .write(true)
        .open(&torn.path)
        .map_err(|e| AuditError::io(&torn.path, e))?;
    seg.set_len(torn.offset)
        .and_then(|()| seg.sync_all())
        .map_err(|e| AuditError::io(&torn.path, e))?;
    tracing::warn!(
        segment = %torn.path.display(),
        line = torn.line,
        quarantine = %qpath.display(),
        "torn final audit line moved to quarantine"
    );
    Ok(format!("{QUARANTINE_DIR}/{name}"))
}
