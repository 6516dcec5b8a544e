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

/// How much of a segment [`SegmentReader`] reads at once (small in unit
/// tests, so that they cross block boundaries and grow the buffer).
const BLOCK: usize = if cfg!(test) { 1 << 10 } else { 16 << 20 };

/// Reads one segment in large blocks of whole lines, without a copy or an
/// allocation per line: what `verify` uses to keep up with hashing.
pub(crate) struct SegmentReader {
    file: File,
    buf: Vec<u8>,
    /// `buf[start..end]` holds bytes read but not yet handed out.
    start: usize,
    end: usize,
    eof: bool,
}

impl SegmentReader {
    /// Opens `path`, reading into `buf` (a previous reader's, to reuse it).
    pub(crate) fn open(path: &Path, buf: Vec<u8>) -> std::io::Result<Self> {
        Ok(Self {
            file: File::open(path)?,
            buf,
            start: 0,
            end: 0,
            eof: false,
        })
    }

    /// The buffer, for the next reader.
    pub(crate) fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    /// The next run of lines, as read: each ends with a newline except, at
    /// the end of the file, a final torn line. `None` at the end of the
    /// file. A line longer than a block grows the buffer until it fits.
    pub(crate) fn next_block(&mut self) -> std::io::Result<Option<&[u8]>> {
        use std::io::Read as _;
        loop {
            let pending = &self.buf[self.start..self.end];
            let cut = match memchr::memrchr(b'\n', pending) {
                Some(p) => Some(p + 1),
                None if self.eof && !pending.is_empty() => Some(pending.len()),
                None if self.eof => return Ok(None),
                None => None,
            };
            if let Some(len) = cut {
                let start = self.start;
                self.start += len;
                return Ok(Some(&self.buf[start..start + len]));
            }
            // Keep the partial line, make room after it, read more.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.end == self.buf.len() {
                self.buf.resize((self.end * 2).max(BLOCK), 0);
            }
            let n = self.file.read(&mut self.buf[self.end..])?;
            self.eof = n == 0;
            self.end += n;
        }
    }
}

/// The lines of a block from [`SegmentReader::next_block`]: each without
/// its newline, and whether the newline was there.
pub(crate) fn block_lines(block: &[u8]) -> impl Iterator<Item = (&[u8], bool)> {
    let mut start = 0usize;
    std::iter::from_fn(move || {
        if start >= block.len() {
            return None;
        }
        let (line, complete, next) = match memchr::memchr(b'\n', &block[start..]) {
            Some(p) => (&block[start..start + p], true, start + p + 1),
            None => (&block[start..], false, block.len()),
        };
        start = next;
        Some((line, complete))
    })
}
