//! Where things live in an audit folder, and listing them in order.
//!
//! ```text
//! DIR/segment-000001.jsonl        records, one JSON object per line; rotate by size
//! DIR/checkpoints/000000000123.ckpt   signed note of the checkpoint at tree size 123
//! DIR/quarantine/segment-000004.jsonl.at-81920.torn   a torn final line moved aside
//! ```
//!
//! One file per checkpoint (rather than one growing file of notes) so each
//! is immutable once written, can be shipped to WORM storage on its own, and
//! a removed one is visible by name. Nothing here reads file contents.

use std::fs;
use std::path::{Path, PathBuf};

use crate::AuditError;

/// Sub-folder holding checkpoint notes.
pub const CHECKPOINT_DIR: &str = "checkpoints";
/// Sub-folder holding torn lines moved aside at recovery.
pub const QUARANTINE_DIR: &str = "quarantine";

/// File name of segment number `n` (from 1).
#[must_use]
pub fn segment_name(n: u32) -> String {
    format!("segment-{n:06}.jsonl")
}

fn parse_segment_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("segment-")?.strip_suffix(".jsonl")?;
    let n = digits.parse().ok()?;
    (segment_name(n) == name).then_some(n)
}

/// File name of the checkpoint note at tree size `size`.
#[must_use]
pub fn checkpoint_name(size: u64) -> String {
    format!("{size:012}.ckpt")
}

fn parse_checkpoint_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".ckpt")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segments in `dir`, by number.
///
/// # Errors
/// [`AuditError::Io`] when the folder cannot be read.
pub fn list_segments(dir: &Path) -> Result<Vec<(u32, PathBuf)>, AuditError> {
    let mut out = list(dir, parse_segment_name)?;
    out.sort_by_key(|(n, _)| *n);
    Ok(out)
}

/// The checkpoint notes in `dir/checkpoints`, by tree size (empty if the
/// folder does not exist).
///
/// # Errors
/// [`AuditError::Io`] when the folder exists but cannot be read.
pub fn list_checkpoints(dir: &Path) -> Result<Vec<(u64, PathBuf)>, AuditError> {
    let sub = dir.join(CHECKPOINT_DIR);
    if !sub.exists() {
        return Ok(Vec::new());
    }
    let mut out = list(&sub, parse_checkpoint_name)?;
    out.sort_by_key(|(n, _)| *n);
    Ok(out)
}

fn list<T>(dir: &Path, parse: fn(&str) -> Option<T>) -> Result<Vec<(T, PathBuf)>, AuditError> {
    let entries = fs::read_dir(dir).map_err(|e| AuditError::io(dir, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| AuditError::io(dir, e))?;
        if let Some(n) = entry.file_name().to_str().and_then(parse) {
            out.push((n, entry.path()));
        }
    }
    Ok(out)
}

/// A file's path relative to the audit folder, for messages.
pub(crate) fn relative(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir).unwrap_or(path).display().to_string()
}

/// Makes a folder's entries (new or renamed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_lookalikes_are_ignored() {
        assert_eq!(segment_name(7), "segment-000007.jsonl");
        assert_eq!(parse_segment_name("segment-000007.jsonl"), Some(7));
        assert_eq!(parse_segment_name("segment-7.jsonl"), None);
        assert_eq!(parse_segment_name("segment-000007.jsonl.bak"), None);
        assert_eq!(checkpoint_name(123), "000000000123.ckpt");
        assert_eq!(parse_checkpoint_name("000000000123.ckpt"), Some(123));
        assert_eq!(parse_checkpoint_name("000000000123.ckpt.tmp"), None);
        assert_eq!(parse_checkpoint_name(".ckpt"), None);
    }
}
