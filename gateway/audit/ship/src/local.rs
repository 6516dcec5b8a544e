//! What the shipper needs to know about local files: a segment's bytes,
//! where its records end, whether it ends with a clean shutdown, which
//! quarantine files its startup records name; and the log's origin.
//!
//! It reads only; it checks no hashes or signatures (the fetched copy is
//! verified by `jurisgate-audit`). A segment whose last line lacks its
//! newline is reported as incomplete: either the writer is in the middle
//! of it or a crash tore it, and recovery will quarantine that line first.

use std::path::Path;

use jurisgate_audit::{Event, Record};
use sha2::{Digest, Sha256};

use crate::ShipError;

/// One segment file, read whole.
#[derive(Debug)]
pub(crate) struct SegmentInfo {
    pub(crate) bytes: Vec<u8>,
    /// Seq one past the last record; `None` for an empty segment.
    pub(crate) end_seq: Option<u64>,
    /// Whether the last line is a `shutdown` record.
    pub(crate) ends_with_shutdown: bool,
    /// Whether every line ends with a newline.
    pub(crate) complete: bool,
    /// Quarantine files (relative to the audit folder) named by startup records.
    pub(crate) quarantined: Vec<String>,
}

/// Reads and parses a segment (call from a blocking thread).
pub(crate) fn read_segment(path: &Path) -> Result<SegmentInfo, ShipError> {
    let bytes = std::fs::read(path).map_err(|e| ShipError::local(path, e))?;
    let mut info = SegmentInfo {
        end_seq: None,
        ends_with_shutdown: false,
        complete: bytes.is_empty() || bytes.ends_with(b"\n"),
        quarantined: Vec::new(),
        bytes: Vec::new(),
    };
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    if !bytes.is_empty() && info.complete {
        for (i, line) in body.split(|b| *b == b'\n').enumerate() {
            let record = Record::from_line(line).map_err(|e| ShipError::Segment {
                path: path.to_path_buf(),
                line: i as u64 + 1,
                what: format!("not a record: {e}"),
            })?;
            info.end_seq = Some(record.seq + 1);
            info.ends_with_shutdown = matches!(record.event, Event::Shutdown(_));
            if let Event::Startup(s) = &record.event {
                info.quarantined.extend(s.quarantined.clone());
            }
        }
    }
    info.bytes = bytes;
    Ok(info)
}

/// Size and SHA-256 (hex) of `bytes`.
pub(crate) fn digest(bytes: &[u8]) -> (u64, String) {
    (bytes.len() as u64, hex::encode(Sha256::digest(bytes)))
}

/// The origin line of a checkpoint note: its first line.
pub(crate) fn note_origin(path: &Path) -> Result<String, ShipError> {
    let text = std::fs::read_to_string(path).map_err(|e| ShipError::local(path, e))?;
    match text.lines().next() {
        Some(line) if !line.trim().is_empty() => Ok(line.to_string()),
        _ => Err(ShipError::Segment {
            path: path.to_path_buf(),
            line: 1,
            what: "checkpoint note has no origin line".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_says_where_it_ends_and_what_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("segment-000002.jsonl");
        let startup = r#"{"v":1,"seq":5,"ts":"2026-01-01T00:00:00Z","kind":"startup","version":"0.1.0","recovered_records":5,"quarantined":"quarantine/segment-000001.jsonl.at-10.torn"}"#;
        let shutdown =
            r#"{"v":1,"seq":6,"ts":"2026-01-01T00:00:01Z","kind":"shutdown","reason":"SIGTERM"}"#;
        std::fs::write(&path, format!("{startup}\n{shutdown}\n")).unwrap();
        let info = read_segment(&path).unwrap();
        assert_eq!(info.end_seq, Some(7));
        assert!(info.complete && info.ends_with_shutdown);
        assert_eq!(
            info.quarantined,
            ["quarantine/segment-000001.jsonl.at-10.torn"]
        );

        std::fs::write(&path, format!("{startup}\n{{\"v\":1")).unwrap();
        let torn = read_segment(&path).unwrap();
        assert!(!torn.complete);

        std::fs::write(&path, "not json\n").unwrap();
        let err = read_segment(&path).unwrap_err().to_string();
        assert!(err.contains("segment-000002.jsonl line 1"), "{err}");
    }
}
