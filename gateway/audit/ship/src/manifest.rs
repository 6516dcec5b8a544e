//! `shipped.json`: what has been uploaded and confirmed, per target URL, so
//! a restarted shipper resumes where it stopped instead of reading and
//! re-uploading the whole log. It is written atomically (temporary file,
//! sync, rename, sync the folder) after every confirmed object.
//!
//! The manifest is a cache, not the truth: an entry is only added after
//! the remote copy was read back and matched, and an object missing from
//! it is checked against the bucket before it is uploaded again. It sits
//! in the audit folder, where `verify` and recovery ignore it.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ShipError;

/// File name of the manifest inside the audit folder.
pub const MANIFEST_NAME: &str = "shipped.json";

/// One confirmed remote copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipped {
    /// The object key.
    pub key: String,
    /// Size in bytes, local and remote.
    pub size: u64,
    /// SHA-256 (hex), local and remote.
    pub sha256: String,
    /// For segments: the seq one past the segment's last record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_seq: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    /// Target URL → file name (relative to the audit folder) → copy.
    targets: BTreeMap<String, BTreeMap<String, Shipped>>,
}

/// The manifest of one audit folder, loaded for one target.
#[derive(Debug)]
pub(crate) struct Manifest {
    path: PathBuf,
    url: String,
    file: File,
}

impl Manifest {
    /// Loads `dir/shipped.json` (empty if missing).
    pub(crate) fn load(dir: &Path, url: &str) -> Result<Self, ShipError> {
        let path = dir.join(MANIFEST_NAME);
        let file = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ShipError::Manifest {
                path: path.clone(),
                what: format!(
                    "not a shipping manifest: {e} (move it aside to rebuild it from the bucket)"
                ),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => File {
                version: 1,
                targets: BTreeMap::new(),
            },
            Err(e) => {
                return Err(ShipError::Manifest {
                    path,
                    what: e.to_string(),
                });
            }
        };
        Ok(Self {
            path,
            url: url.to_string(),
            file,
        })
    }

    /// The confirmed copy of `name`, if any.
    pub(crate) fn get(&self, name: &str) -> Option<&Shipped> {
        self.file.targets.get(&self.url)?.get(name)
    }

    /// Number of confirmed copies for this target.
    pub(crate) fn len(&self) -> usize {
        self.file.targets.get(&self.url).map_or(0, BTreeMap::len)
    }

    /// Records a confirmed copy and writes the manifest durably.
    pub(crate) fn confirm(&mut self, name: &str, shipped: Shipped) -> Result<(), ShipError> {
        self.file
            .targets
            .entry(self.url.clone())
            .or_default()
            .insert(name.to_string(), shipped);
        self.save()
    }

    fn save(&self) -> Result<(), ShipError> {
        let fail = |e: std::io::Error| ShipError::Manifest {
            path: self.path.clone(),
            what: e.to_string(),
        };
        let mut bytes = serde_json::to_vec_pretty(&self.file).map_err(|e| ShipError::Manifest {
            path: self.path.clone(),
            what: e.to_string(),
        })?;
        bytes.push(b'\n');
        let tmp = self.path.with_extension("json.tmp");
        let mut f = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&tmp)
            .map_err(fail)?;
        f.write_all(&bytes).map_err(fail)?;
        f.sync_all().map_err(fail)?;
        fs::rename(&tmp, &self.path).map_err(fail)?;
        if let Some(dir) = self.path.parent() {
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(fail)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_reload_per_target() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Manifest::load(dir.path(), "s3://a").unwrap();
        let s = Shipped {
            key: "k".into(),
            size: 3,
            sha256: "ab".into(),
            end_seq: Some(9),
        };
        m.confirm("segment-000001.jsonl", s.clone()).unwrap();
        let again = Manifest::load(dir.path(), "s3://a").unwrap();
        assert_eq!(again.get("segment-000001.jsonl"), Some(&s));
        let other = Manifest::load(dir.path(), "s3://b").unwrap();
        assert_eq!(other.get("segment-000001.jsonl"), None);
    }

    #[test]
    fn a_damaged_manifest_is_named() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(MANIFEST_NAME), "{not json").unwrap();
        let err = Manifest::load(dir.path(), "s3://a")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(MANIFEST_NAME) && err.contains("move it aside"),
            "{err}"
        );
    }
}
