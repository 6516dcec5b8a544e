//! Tamper detection: a closed log verifies untouched, and any single flipped
//! byte, deleted line, swapped pair, duplicated line, truncated segment or
//! removed checkpoint is caught by `verify`, which names the place.
//!
//! One real log (two runs of the writer, small segments, so several sealed
//! segments, checkpoint records and shutdown checkpoints) is built once;
//! each case damages a fresh copy of it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::common::{Fixture, copy_dir, decision};
use jurisgate_audit::layout::{list_checkpoints, list_segments, segment_name};
use jurisgate_audit::{Problem, Record, VerifyError, verify};
use proptest::prelude::*;
use proptest::sample::Index;

fn fixture() -> &'static Fixture {
    static FX: OnceLock<Fixture> = OnceLock::new();
    FX.get_or_init(|| {
        let fx = Fixture::new();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            for run in 0..2u64 {
                let mut opts = fx.options();
                opts.segment_max_bytes = 1500;
                let log = fx.open(opts).await;
                for i in 0..25 {
                    log.append(decision(run * 100 + i)).await.unwrap();
                }
                log.close("test run").await.unwrap();
            }
        });
        fx
    })
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    list_segments(dir)
        .unwrap()
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// A fresh copy of the fixture log to damage.
fn copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("audit");
    copy_dir(&fixture().dir, &dir);
    (tmp, dir)
}

fn lines_of(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    bytes
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    std::fs::write(path, lines.concat()).unwrap();
}

fn seq_of(line: &[u8]) -> u64 {
    Record::from_line(line.strip_suffix(b"\n").unwrap_or(line))
        .unwrap()
        .seq
}

/// Where the damage in segment `seg` (index) may be reported: that segment,
/// the next one (a gap seen at its first line), a checkpoint that now claims
/// more records than exist, or the checkpoint whose signed root no longer
/// matches a range that includes `seq`.
fn points_at(err: &VerifyError, seg: &Path, next: Option<&Path>, seq: u64) -> bool {
    err.file == name(seg)
        || next.is_some_and(|n| err.file == name(n))
        || matches!(err.problem, Problem::CheckpointBeyondLog { .. })
        || matches!(err.problem, Problem::RootMismatch { from, to, .. } if from <= seq && seq <= to)
}

#[test]
fn the_untouched_log_verifies_fully_signed() {
    let fx = fixture();
    let summary = verify(&fx.dir, &fx.verifier).unwrap();
    assert!(summary.segments >= 4, "{summary:?}");
    assert_eq!(summary.unsigned_tail, 0);
    assert_eq!(summary.first_seq, Some(0));
    assert_eq!(summary.last_seq, Some(summary.records - 1));
    assert_eq!(summary.origin.as_deref(), Some("jurisgate.test/replica-1"));
    // The key may also be given as its text form.
    assert_eq!(verify(&fx.dir, &fx.verifier.to_text()).unwrap(), summary);
    let err = verify(&fx.dir, "not-a-key").unwrap_err();
    assert!(matches!(err.problem, Problem::BadKey(_)), "{err}");
}

#[test]
fn a_different_key_does_not_verify() {
    let other = Fixture::new();
    let err = verify(&fixture().dir, &other.verifier).unwrap_err();
    assert!(err.file.starts_with("checkpoints/"), "{err}");
    assert!(matches!(err.problem, Problem::BadSignature(_)), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn any_flipped_byte_is_detected(file: Index, pos: Index, mask in 1u8..=255) {
        let (_tmp, dir) = copy();
        let segs = segments(&dir);
        let notes: Vec<PathBuf> = list_checkpoints(&dir).unwrap().into_iter().map(|(_, p)| p).collect();
        let all: Vec<PathBuf> = segs.iter().chain(notes.iter()).cloned().collect();
        let target = file.get(&all).clone();
        let mut bytes = std::fs::read(&target).unwrap();
        let i = pos.index(bytes.len());
        let original = bytes.clone();
        bytes[i] ^= mask;
        std::fs::write(&target, &bytes).unwrap();
        let err = verify(&dir, &fixture().verifier).expect_err("flipped byte accepted");
        if let Some(k) = segs.iter().position(|s| *s == target) {
            let line_start = original[..i].iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
            let line_end = original[i..].iter().position(|b| *b == b'\n').map_or(original.len(), |p| i + p);
            let seq = seq_of(&original[line_start..line_end]);
            prop_assert!(points_at(&err, &target, segs.get(k + 1).map(PathBuf::as_path), seq), "{}", err);
        } else {
            prop_assert_eq!(err.file, format!("checkpoints/{}", name(&target)));
        }
    }

    #[test]
    fn any_deleted_line_is_detected(seg: Index, line: Index) {
        let (_tmp, dir) = copy();
        let segs = segments(&dir);
        let k = seg.index(segs.len());
        let mut lines = lines_of(&segs[k]);
        let j = line.index(lines.len());
        let seq = seq_of(&lines[j]);
        lines.remove(j);
        write_lines(&segs[k], &lines);
        let err = verify(&dir, &fixture().verifier).expect_err("deleted line accepted");
        prop_assert!(points_at(&err, &segs[k], segs.get(k + 1).map(PathBuf::as_path), seq), "{}", err);
    }

    #[test]
    fn any_swapped_pair_is_detected(seg: Index, line: Index) {
        let (_tmp, dir) = copy();
        let segs = segments(&dir);
        let k = seg.index(segs.len());
        let mut lines = lines_of(&segs[k]);
        prop_assume!(lines.len() >= 2);
        let j = line.index(lines.len() - 1);
        lines.swap(j, j + 1);
        write_lines(&segs[k], &lines);
        let err = verify(&dir, &fixture().verifier).expect_err("swapped lines accepted");
        prop_assert_eq!(err.file, name(&segs[k]));
        prop_assert_eq!(err.line, Some(j as u64 + 1));
        let is_gap = matches!(err.problem, Problem::SequenceGap { .. });
        prop_assert!(is_gap);
    }

    #[test]
    fn any_duplicated_line_is_detected(seg: Index, line: Index) {
        let (_tmp, dir) = copy();
        let segs = segments(&dir);
        let k = seg.index(segs.len());
        let mut lines = lines_of(&segs[k]);
        let j = line.index(lines.len());
        lines.insert(j + 1, lines[j].clone());
        write_lines(&segs[k], &lines);
        let err = verify(&dir, &fixture().verifier).expect_err("duplicated line accepted");
        prop_assert_eq!(err.file, name(&segs[k]));
        prop_assert_eq!(err.line, Some(j as u64 + 2));
    }

    #[test]
    fn any_truncated_segment_is_detected(seg: Index, cut: Index) {
        let (_tmp, dir) = copy();
        let segs = segments(&dir);
        let k = seg.index(segs.len());
        let bytes = std::fs::read(&segs[k]).unwrap();
        let keep = cut.index(bytes.len());
        let seq = seq_of(lines_of(&segs[k]).last().unwrap());
        std::fs::write(&segs[k], &bytes[..keep]).unwrap();
        let err = verify(&dir, &fixture().verifier).expect_err("truncated segment accepted");
        prop_assert!(points_at(&err, &segs[k], segs.get(k + 1).map(PathBuf::as_path), seq), "{}", err);
    }

    #[test]
    fn any_removed_checkpoint_is_detected(which: Index) {
        let (_tmp, dir) = copy();
        let notes = list_checkpoints(&dir).unwrap();
        let (_, path) = which.get(&notes);
        std::fs::remove_file(path).unwrap();
        let err = verify(&dir, &fixture().verifier).expect_err("removed checkpoint accepted");
        let want = format!("checkpoints/{}", name(path));
        let names_it = matches!(&err.problem, Problem::MissingCheckpoint { file, .. } if *file == want);
        prop_assert!(names_it, "{}", err);
    }
}

#[test]
fn a_removed_whole_segment_is_detected() {
    let (_tmp, dir) = copy();
    std::fs::remove_file(dir.join(segment_name(2))).unwrap();
    let err = verify(&dir, &fixture().verifier).unwrap_err();
    assert_eq!(err.file, segment_name(2));
    assert_eq!(err.problem, Problem::MissingSegment);
    let (_tmp, dir) = copy();
    let last = segments(&dir).pop().unwrap();
    std::fs::remove_file(last).unwrap();
    let err = verify(&dir, &fixture().verifier).unwrap_err();
    assert!(
        matches!(err.problem, Problem::CheckpointBeyondLog { .. }),
        "{err}"
    );
}
