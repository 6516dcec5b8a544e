//! The segment file seen by the writer: append, sync, truncate. A trait so
//! the fail-closed tests can substitute a file whose disk "fails": a full or
//! broken disk cannot be produced on demand in a test (and tests run as
//! root, where permission bits do not stop writes).

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;

/// An open segment, opened for appending.
pub(crate) trait SegmentFile: Send {
    /// Appends all of `buf` (may fail part-way).
    fn append(&mut self, buf: &[u8]) -> io::Result<()>;
    /// `fdatasync`: makes appended data durable.
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the file back to `len` bytes.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

/// Opens segment files.
pub(crate) trait Storage: Send {
    /// Opens (creating if needed) a segment for appending.
    fn open_segment(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>>;
}

/// The real disk.
pub(crate) struct DiskStorage;

impl Storage for DiskStorage {
    fn open_segment(&self, path: &Path) -> io::Result<Box<dyn SegmentFile>> {
        // O_APPEND: after a truncate the next write lands at the new end.
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Box::new(DiskSegment(file)))
    }
}

struct DiskSegment(File);

impl SegmentFile for DiskSegment {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
}
