//! Reading records back, in sequence order across segments: the API that
//! `audit query` and `policy replay` build on. It checks only what it must
//! to keep the order honest (parsable lines, no sequence gaps); proving the
//! log untampered is [`crate::verify`]'s job.

use std::path::Path;

use crate::lines::AllLines;
use crate::{AuditError, Record};

/// Every record of the log in `dir`, in seq order.
///
/// A final line without its newline is not yielded: it is either being
/// written right now or torn by a crash (the writer quarantines it at its
/// next start). A bad line elsewhere or a sequence gap yields one
/// [`AuditError::Corrupt`] naming the file and line, and ends the iteration.
///
/// # Errors
/// [`AuditError::Io`] when `dir` cannot be listed.
pub fn read_records(
    dir: &Path,
) -> Result<impl Iterator<Item = Result<Record, AuditError>>, AuditError> {
    if !dir.is_dir() {
        return Err(AuditError::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "audit folder not found"),
        ));
    }
    Ok(Records {
        lines: AllLines::open(dir)?,
        next_seq: 0,
        done: false,
    })
}

struct Records {
    lines: AllLines,
    next_seq: u64,
    done: bool,
}

impl Iterator for Records {
    type Item = Result<Record, AuditError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let raw = match self.lines.next()? {
            Ok(raw) => raw,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        let corrupt = |what: String| AuditError::Corrupt {
            file: raw.path.clone(),
            line: raw.line,
            what,
        };
        if !raw.complete {
            self.done = true;
            if raw.last_segment {
                return None;
            }
            return Some(Err(corrupt("line has no newline".into())));
        }
        let result = match Record::from_line(&raw.bytes) {
            Err(e) => Err(corrupt(format!("not a valid record: {e}"))),
            Ok(r) if r.seq != self.next_seq => Err(corrupt(format!(
                "sequence gap: expected seq {}, found {}",
                self.next_seq, r.seq
            ))),
            Ok(r) => {
                self.next_seq += 1;
                Ok(r)
            }
        };
        self.done = result.is_err();
        Some(result)
    }
}
