//! Reading shipped logs back: download everything under a target into a
//! local folder, mirroring the bucket's layout, and name each folder that
//! holds segments (one per replica). Verifying them is the caller's job,
//! with `jurisgate_audit::verify` and the verifier key, exactly as for a
//! local folder: the bucket is not trusted more than the disk.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use futures_util::TryStreamExt as _;
use object_store::ObjectStoreExt as _;

use crate::{ShipError, Target};

/// Logs downloaded from a target.
#[derive(Debug)]
pub struct Fetched {
    /// Removed when this value is dropped, if the download went to a
    /// temporary folder.
    _temp: Option<tempfile::TempDir>,
    /// The folder the bucket was mirrored into.
    pub root: PathBuf,
    /// Each folder holding segments (an audit folder), in name order.
    pub logs: Vec<PathBuf>,
    /// Objects downloaded.
    pub objects: usize,
}

/// Downloads every object under `target` into `into` (a fresh temporary
/// folder when `None`).
///
/// # Errors
/// [`ShipError::Remote`] when listing or reading fails, [`ShipError::Local`]
/// when writing fails, [`ShipError::Target`] for an object key that could
/// not be a file name.
pub async fn fetch(target: &Target, into: Option<&Path>) -> Result<Fetched, ShipError> {
    let (temp, root) = match into {
        Some(dir) => (None, dir.to_path_buf()),
        None => {
            let t = tempfile::Builder::new()
                .prefix("jurisgate-fetch-")
                .tempdir()
                .map_err(|e| ShipError::local(std::env::temp_dir(), e))?;
            let root = t.path().to_path_buf();
            (Some(t), root)
        }
    };
    let reader = target.reader();
    let prefix = target.prefix();
    let listed: Vec<_> = reader
        .list((!prefix.as_ref().is_empty()).then_some(prefix))
        .try_collect()
        .await
        .map_err(|e| ShipError::remote(format!("{}/", target.url()), e))?;
    let mut logs = BTreeSet::new();
    let mut objects = 0;
    for meta in listed {
        let parts: Vec<String> = meta.location.prefix_match(prefix).map_or_else(
            || {
                meta.location
                    .parts()
                    .map(|p| p.as_ref().to_string())
                    .collect()
            },
            |rest| rest.map(|p| p.as_ref().to_string()).collect(),
        );
        if parts.is_empty()
            || parts
                .iter()
                .any(|p| p.is_empty() || p == "." || p == ".." || p.contains(['\\', '\0']))
        {
            return Err(ShipError::Target {
                url: target.url().to_string(),
                what: format!(
                    "object key {:?} cannot be a local file name",
                    meta.location.as_ref()
                ),
            });
        }
        let rel: PathBuf = parts.iter().collect();
        let dest = root.join(&rel);
        let bytes = reader
            .get(&meta.location)
            .await
            .map_err(|e| ShipError::remote(&meta.location, e))?
            .bytes()
            .await
            .map_err(|e| ShipError::remote(&meta.location, e))?;
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| ShipError::local(parent, e))?;
        }
        tokio::fs::write(&dest, &bytes)
            .await
            .map_err(|e| ShipError::local(&dest, e))?;
        objects += 1;
        let file = parts.last().map_or("", String::as_str);
        if file.starts_with("segment-")
            && file.ends_with(".jsonl")
            && let Some(parent) = dest.parent()
        {
            logs.insert(parent.to_path_buf());
        }
    }
    Ok(Fetched {
        _temp: temp,
        root,
        logs: logs.into_iter().collect(),
        objects,
    })
}
