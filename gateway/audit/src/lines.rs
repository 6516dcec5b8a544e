//! Reading segment files line by line, keeping the raw bytes (the leaf
//! hash is over them, not over a re-serialisation) and noticing a final
//! line without its newline. Parsing the JSON is the caller's business.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::AuditError;
use crate::layout::list_segments;

/// One line of a segment.
#[derive(Debug, Clone)]
pub(crate) struct RawLine {
    /// Segment file.
    pub(crate) path: PathBuf,
    /// Line number in that file, from 1.
    pub(crate) line: u64,
    /// Byte offset of the line's start in that file.
    pub(crate) offset: u64,
    /// The line without its newline.
    pub(crate) bytes: Vec<u8>,
    /// Whether the line ended with a newline.
    pub(crate) complete: bool,
    /// Whether this segment is the last one.
    pub(crate) last_segment: bool,
}

/// Every line of every segment of a folder, in segment order.
pub(crate) struct AllLines {
    segments: std::vec::IntoIter<(u32, PathBuf)>,
    remaining: usize,
    current: Option<(PathBuf, BufReader<File>, u64, u64)>,
    done: bool,
}

impl AllLines {
    pub(crate) fn open(dir: &Path) -> Result<Self, AuditError> {
        let segments = list_segments(dir)?;
        Ok(Self {
            remaining: segments.len(),
            segments: segments.into_iter(),
            current: None,
            done: false,
        })
    }
}

impl Iterator for AllLines {
    type Item = Result<RawLine, AuditError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            if self.current.is_none() {
                let (_, path) = self.segments.next()?;
                self.remaining -= 1;
                match File::open(&path) {
                    Ok(f) => self.current = Some((path, BufReader::new(f), 0, 0)),
                    Err(e) => {
                        self.done = true;
                        return Some(Err(AuditError::io(path, e)));
                    }
                }
            }
            let (path, reader, line, offset) = self.current.as_mut()?;
            let mut buf = Vec::new();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => self.current = None,
                Ok(n) => {
                    *line += 1;
                    let start = *offset;
                    *offset += n as u64;
                    let complete = buf.last() == Some(&b'\n');
                    if complete {
                        buf.pop();
                    }
                    return Some(Ok(RawLine {
                        path: path.clone(),
                        line: *line,
                        offset: start,
                        bytes: buf,
                        complete,
                        last_segment: self.remaining == 0,
                    }));
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(AuditError::io(path.clone(), e)));
                }
            }
        }
    }
}
