//! Proofs for auditors: that a record is in the log (inclusion) and that
//! the log only grew between two checkpoints (consistency), as JSON
//! documents that carry the signed checkpoint notes they are checked
//! against, so [`check_proof`] needs nothing but the document and the
//! public key.

use std::fs;
use std::path::Path;

use jurisgate_audit_tlog::proof::{
    consistency_proof, inclusion_proof, root_of, verify_consistency, verify_inclusion,
};
use jurisgate_audit_tlog::{
    Checkpoint, CheckpointError, Hash, NoteError, NoteVerifier, ProofError, leaf_hash,
};
use serde::{Deserialize, Serialize};

use crate::layout::{checkpoint_name, list_checkpoints};
use crate::lines::AllLines;
use crate::{AuditError, Record};

/// Proof that one record is in the log at the latest checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The record's seq (its leaf index).
    pub seq: u64,
    /// The record's line, exactly as stored.
    pub record: String,
    /// Its leaf hash, hex.
    pub leaf_hash: String,
    /// Tree size of the checkpoint.
    pub tree_size: u64,
    /// Root hash of the checkpoint, hex.
    pub root: String,
    /// The RFC 9162 audit path, leaf upwards, hex.
    pub proof: Vec<String>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

/// Proof that the tree at `second_size` extends the tree at `first_size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// Older tree size.
    pub first_size: u64,
    /// Older root, hex.
    pub first_root: String,
    /// Newer tree size.
    pub second_size: u64,
    /// Newer root, hex.
    pub second_root: String,
    /// The RFC 9162 consistency proof, hex.
    pub proof: Vec<String>,
    /// The signed checkpoint note at the older size.
    pub first_checkpoint: String,
    /// The signed checkpoint note at the newer size.
    pub second_checkpoint: String,
}

/// Either proof, tagged by `"type"` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProofDoc {
    /// An inclusion proof.
    Inclusion(InclusionProof),
    /// A consistency proof.
    Consistency(ConsistencyProof),
}

/// Why a proof document did not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofCheckError {
    /// A checkpoint note is not signed by the key.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// A checkpoint's text is malformed.
    #[error("checkpoint text: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// A field disagrees with the signed checkpoint or the record.
    #[error("{0}")]
    Mismatch(String),
    /// A hash is not 64 hex digits.
    #[error("{field} is not a 32-byte hex hash")]
    Hex {
        /// The field.
        field: &'static str,
    },
    /// The proof's hashes do not lead to the signed root(s).
    #[error("proof: {0}")]
    Proof(#[from] ProofError),
}

/// Builds the inclusion proof of record `seq` against the latest checkpoint.
///
/// # Errors
/// [`AuditError::Invalid`] when there is no checkpoint or it does not cover
/// `seq`; [`AuditError::Corrupt`] when the log does not match the checkpoint.
pub fn prove_inclusion(dir: &Path, seq: u64) -> Result<InclusionProof, AuditError> {
    let (size, note, cp) = latest_checkpoint(dir)?;
    if seq >= size {
        return Err(AuditError::Invalid(format!(
            "seq {seq} is not covered by the latest checkpoint (tree size {size})"
        )));
    }
    let (leaves, record) = read_leaves(dir, size, Some(seq))?;
    check_root(dir, &leaves, size, &cp)?;
    let proof = inclusion_proof(&leaves, seq).map_err(|e| AuditError::Invalid(e.to_string()))?;
    Ok(InclusionProof {
        seq,
        record: record.unwrap_or_default(),
        leaf_hash: hex::encode(leaves[seq as usize]),
        tree_size: size,
        root: hex::encode(cp.root),
        proof: proof.iter().map(hex::encode).collect(),
        checkpoint: note,
    })
}

/// Builds the consistency proof between the checkpoints at `first` and
/// `second` records.
///
/// # Errors
/// [`AuditError::Invalid`] when either size has no checkpoint;
/// [`AuditError::Corrupt`] when the log does not match a checkpoint.
pub fn prove_consistency(
    dir: &Path,
    first: u64,
    second: u64,
) -> Result<ConsistencyProof, AuditError> {
    if first == 0 || first > second {
        return Err(AuditError::Invalid(format!(
            "consistency needs 0 < from <= to, got from {first}, to {second}"
        )));
    }
    let (first_note, first_cp) = checkpoint_at(dir, first)?;
    let (second_note, second_cp) = checkpoint_at(dir, second)?;
    let (leaves, _) = read_leaves(dir, second, None)?;
    check_root(dir, &leaves[..first as usize], first, &first_cp)?;
    check_root(dir, &leaves, second, &second_cp)?;
    let proof = consistency_proof(&leaves, first, second)
        .map_err(|e| AuditError::Invalid(e.to_string()))?;
    Ok(ConsistencyProof {
        first_size: first,
        first_root: hex::encode(first_cp.root),
        second_size: second,
        second_root: hex::encode(second_cp.root),
        proof: proof.iter().map(hex::encode).collect(),
        first_checkpoint: first_note,
        second_checkpoint: second_note,
    })
}

/// Checks a proof document offline: the notes are signed by `key`, the
/// document's sizes and roots are the signed ones, the record hashes to the
/// leaf, and the proof leads to the root(s).
///
/// # Errors
/// The first [`ProofCheckError`].
pub fn check_proof(doc: &ProofDoc, key: &NoteVerifier) -> Result<(), ProofCheckError> {
    match doc {
        ProofDoc::Inclusion(p) => {
            let cp = Checkpoint::parse(key.open(&p.checkpoint)?)?;
            expect_signed(&cp, p.tree_size, &p.root, "tree_size/root")?;
            let leaf = leaf_hash(p.record.as_bytes());
            if hex_hash(&p.leaf_hash, "leaf_hash")? != leaf {
                return Err(ProofCheckError::Mismatch(
                    "leaf_hash is not the hash of record".into(),
                ));
            }
            let record = Record::from_line(p.record.as_bytes())
                .map_err(|e| ProofCheckError::Mismatch(format!("record is not a record: {e}")))?;
            if record.seq != p.seq {
                return Err(ProofCheckError::Mismatch(format!(
                    "record has seq {} but the proof is for seq {}",
                    record.seq, p.seq
                )));
            }
            let path = hex_path(&p.proof)?;
            verify_inclusion(&leaf, p.seq, cp.size, &path, &cp.root)?;
            Ok(())
        }
        ProofDoc::Consistency(p) => {
            let first = Checkpoint::parse(key.open(&p.first_checkpoint)?)?;
            let second = Checkpoint::parse(key.open(&p.second_checkpoint)?)?;
            expect_signed(&first, p.first_size, &p.first_root, "first_size/first_root")?;
            expect_signed(
                &second,
                p.second_size,
                &p.second_root,
                "second_size/second_root",
            )?;
            if first.origin != second.origin {
                return Err(ProofCheckError::Mismatch(format!(
                    "checkpoints are of different logs: {:?} and {:?}",
                    first.origin, second.origin
                )));
            }
            let path = hex_path(&p.proof)?;
            verify_consistency(first.size, second.size, &first.root, &second.root, &path)?;
            Ok(())
        }
    }
}

fn expect_signed(
    cp: &Checkpoint,
    size: u64,
    root: &str,
    what: &str,
) -> Result<(), ProofCheckError> {
    if cp.size != size || hex_hash(root, "root")? != cp.root {
        return Err(ProofCheckError::Mismatch(format!(
            "{what} differ from the signed checkpoint (size {})",
            cp.size
        )));
    }
    Ok(())
}

fn hex_hash(s: &str, field: &'static str) -> Result<Hash, ProofCheckError> {
    let bytes = hex::decode(s).map_err(|_| ProofCheckError::Hex { field })?;
    bytes.try_into().map_err(|_| ProofCheckError::Hex { field })
}

fn hex_path(hashes: &[String]) -> Result<Vec<Hash>, ProofCheckError> {
    hashes.iter().map(|h| hex_hash(h, "proof")).collect()
}

/// The body of a note without checking its signature: the prover is the
/// log's owner reading its own files; the checker verifies the signature.
fn unverified(note: &str) -> Option<Checkpoint> {
    let split = note.rfind("\n\n")?;
    Checkpoint::parse(&note[..=split]).ok()
}

fn read_note(path: &Path) -> Result<(String, Checkpoint), AuditError> {
    let note = fs::read_to_string(path).map_err(|e| AuditError::io(path, e))?;
    let cp = unverified(&note).ok_or_else(|| AuditError::Corrupt {
        file: path.to_path_buf(),
        line: 0,
        what: "not a checkpoint note".into(),
    })?;
    Ok((note, cp))
}

fn latest_checkpoint(dir: &Path) -> Result<(u64, String, Checkpoint), AuditError> {
    let (size, path) = list_checkpoints(dir)?
        .pop()
        .ok_or_else(|| AuditError::Invalid(format!("{}: no checkpoints yet", dir.display())))?;
    let (note, cp) = read_note(&path)?;
    Ok((size, note, cp))
}

fn checkpoint_at(dir: &Path, size: u64) -> Result<(String, Checkpoint), AuditError> {
    let listed = list_checkpoints(dir)?;
    match listed.iter().find(|(n, _)| *n == size) {
        Some((_, path)) => read_note(path),
        None => {
            let sizes: Vec<String> = listed
                .iter()
                .rev()
                .take(10)
                .map(|(n, _)| n.to_string())
                .collect();
            Err(AuditError::Invalid(format!(
                "no checkpoint at size {size} ({} missing); latest sizes: {}",
                checkpoint_name(size),
                sizes.join(", ")
            )))
        }
    }
}

/// Leaf hashes of the first `size` records, and the line of `want` if asked.
fn read_leaves(
    dir: &Path,
    size: u64,
    want: Option<u64>,
) -> Result<(Vec<Hash>, Option<String>), AuditError> {
    let mut leaves = Vec::new();
    let mut found = None;
    for raw in AllLines::open(dir)? {
        if leaves.len() as u64 == size {
            break;
        }
        let raw = raw?;
        if !raw.complete {
            break;
        }
        if want == Some(leaves.len() as u64) {
            found =
                Some(
                    String::from_utf8(raw.bytes.clone()).map_err(|_| AuditError::Corrupt {
                        file: raw.path.clone(),
                        line: raw.line,
                        what: "record is not UTF-8".into(),
                    })?,
                );
        }
        leaves.push(leaf_hash(&raw.bytes));
    }
    if (leaves.len() as u64) < size {
        return Err(AuditError::Corrupt {
            file: dir.to_path_buf(),
            line: 0,
            what: format!(
                "checkpoint covers {size} records but only {} are on disk",
                leaves.len()
            ),
        });
    }
    Ok((leaves, found))
}

fn check_root(dir: &Path, leaves: &[Hash], size: u64, cp: &Checkpoint) -> Result<(), AuditError> {
    if root_of(leaves) != cp.root {
        return Err(AuditError::Corrupt {
            file: dir.join(crate::layout::CHECKPOINT_DIR).join(checkpoint_name(size)),
            line: 0,
            what: "the log's records do not hash to this checkpoint's root; run `jurisgate audit verify`".into(),
        });
    }
    Ok(())
}
