//! The checkpoint body of the C2SP `tlog-checkpoint` format
//! (<https://c2sp.org/tlog-checkpoint>): origin line, decimal tree size,
//! base64 root hash, then optional extension lines, each ending in `\n`.
//!
//! This module only formats and parses that text; signing and verifying it
//! as a note is [`crate::note`]'s job. Parsing is strict (canonical decimal,
//! canonical base64, no blank lines) so that two different texts can never
//! mean the same checkpoint.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::hash::Hash;

/// Why a checkpoint text was rejected. Lines are numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The text does not end with a newline.
    #[error("checkpoint text does not end with a newline")]
    NoFinalNewline,
    /// A required line (origin, size, root) is missing.
    #[error("checkpoint line {line} ({what}) is missing")]
    Missing {
        /// Line number.
        line: usize,
        /// Which line.
        what: &'static str,
    },
    /// A line is malformed.
    #[error("checkpoint line {line} ({what}) is malformed: {why}")]
    Malformed {
        /// Line number.
        line: usize,
        /// Which line.
        what: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// A checkpoint: a commitment to the first `size` entries of the log called
/// `origin`, via their Merkle root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's unique name, e.g. `jurisgate.example/replica-1`.
    pub origin: String,
    /// Number of entries committed to.
    pub size: u64,
    /// RFC 9162 root hash of those entries.
    pub root: Hash,
    /// Extension lines (without their newline), in order.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    #[must_use]
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Self {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The checkpoint text, each line ending in `\n`: the body of a signed note.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for ext in &self.extensions {
            s.push_str(ext);
            s.push('\n');
        }
        s
    }

    /// Parses checkpoint text (the verified body of a note).
    ///
    /// # Errors
    /// A [`CheckpointError`] naming the line at fault.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let Some(body) = text.strip_suffix('\n') else {
            return Err(CheckpointError::NoFinalNewline);
        };
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        check_line(1, "origin", origin)?;
        let size_line = lines.next().ok_or(CheckpointError::Missing {
            line: 2,
            what: "tree size",
        })?;
        let size = parse_size(size_line)?;
        let root_line = lines.next().ok_or(CheckpointError::Missing {
            line: 3,
            what: "root hash",
        })?;
        let root = parse_root(root_line)?;
        let mut extensions = Vec::new();
        for (i, ext) in lines.enumerate() {
            check_line(i + 4, "extension", ext)?;
            extensions.push(ext.to_string());
        }
        Ok(Self {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }
}

fn check_line(line: usize, what: &'static str, s: &str) -> Result<(), CheckpointError> {
    if s.is_empty() {
        return Err(CheckpointError::Malformed {
            line,
            what,
            why: "empty line",
        });
    }
    if s.chars().any(char::is_control) {
        return Err(CheckpointError::Malformed {
            line,
            what,
            why: "control character",
        });
    }
    Ok(())
}

fn parse_size(s: &str) -> Result<u64, CheckpointError> {
    let bad = |why| CheckpointError::Malformed {
        line: 2,
        what: "tree size",
        why,
    };
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a decimal number"));
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(bad("leading zero"));
    }
    s.parse().map_err(|_| bad("too large"))
}

fn parse_root(s: &str) -> Result<Hash, CheckpointError> {
    let bad = |why| CheckpointError::Malformed {
        line: 3,
        what: "root hash",
        why,
    };
    // The STANDARD engine rejects non-canonical padding and trailing bits.
    let bytes = STANDARD
        .decode(s)
        .map_err(|_| bad("not canonical base64"))?;
    bytes.try_into().map_err(|_| bad("not 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_round_trips_with_extensions() {
        let mut c = Checkpoint::new("jurisgate.example/replica-1", 1234, [9; 32]);
        c.extensions.push("ts 2026-11-27".into());
        let text = c.to_text();
        assert_eq!(
            text,
            "jurisgate.example/replica-1\n1234\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\nts 2026-11-27\n"
        );
        assert_eq!(Checkpoint::parse(&text), Ok(c));
    }

    #[test]
    fn non_canonical_texts_are_rejected_naming_the_line() {
        let root = STANDARD.encode([1u8; 32]);
        for (text, line) in [
            (format!("o\n01\n{root}\n"), 2),
            (format!("o\n-1\n{root}\n"), 2),
            (format!("o\n18446744073709551616\n{root}\n"), 2),
            ("o\n1\nAQ==\n".to_string(), 3),
            (format!("\n1\n{root}\n"), 1),
            (format!("o\n1\n{root}\n\n"), 4),
        ] {
            let err = Checkpoint::parse(&text).unwrap_err();
            assert!(
                matches!(err, CheckpointError::Malformed { line: l, .. } if l == line),
                "{text:?}: {err}"
            );
        }
        assert_eq!(
            Checkpoint::parse(&format!("o\n1\n{root}")),
            Err(CheckpointError::NoFinalNewline)
        );
        assert!(matches!(
            Checkpoint::parse("o\n1\n"),
            Err(CheckpointError::Missing { line: 3, .. })
        ));
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_accepts_only_what_it_would_write(s in "\\PC{0,80}(\n\\PC{0,60}){0,5}") {
            if let Ok(c) = Checkpoint::parse(&s) {
                prop_assert_eq!(c.to_text(), s);
            }
        }

        #[test]
        fn any_checkpoint_round_trips(origin in "[a-z./0-9-]{1,40}", size: u64, root: [u8; 32]) {
            let c = Checkpoint::new(origin, size, root);
            prop_assert_eq!(Checkpoint::parse(&c.to_text()), Ok(c));
        }
    }
}
