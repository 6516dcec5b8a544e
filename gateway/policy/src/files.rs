//! Reading a policy folder: its Rego modules, its tests, its `data.json` and
//! its sample inputs, and the revision hash over what decides.
//!
//! Only the folder's own files are read (no subfolders, apart from
//! `samples/`). The revision covers the modules and `data.json`, not the tests
//! or samples, because only those change decisions. It is the SHA-256 of a
//! `sha256sum`-style manifest (`<hex>  <path>\n` per file, sorted by path), so
//! an auditor can recompute it with `sha256sum data.json *.rego | sha256sum`
//! after excluding `*_test.rego`. This module does not parse Rego.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::PolicyError;

/// The file holding static data, beside the Rego.
pub const DATA_FILE: &str = "data.json";
/// Suffix of Rego test files (`opa test` convention).
pub const TEST_SUFFIX: &str = "_test.rego";
/// Folder of sample inputs checked by `policy check`.
pub const SAMPLES_DIR: &str = "samples";

/// One file of a policy revision and its own hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFileHash {
    /// Path relative to the policy folder, `/`-separated.
    pub path: String,
    /// SHA-256 of the file's bytes, lower-case hex.
    pub sha256: String,
}

/// One Rego source file.
#[derive(Debug, Clone)]
pub(crate) struct RegoFile {
    /// The path as found (the folder joined with the file name).
    pub(crate) path: PathBuf,
    /// The text.
    pub(crate) text: String,
}

/// Everything read from a policy folder.
#[derive(Debug, Clone)]
pub(crate) struct PolicySources {
    pub(crate) dir: PathBuf,
    pub(crate) modules: Vec<RegoFile>,
    pub(crate) tests: Vec<RegoFile>,
    /// Parsed `data.json` (an object), if present.
    pub(crate) data: Option<serde_json::Value>,
    pub(crate) files: Vec<PolicyFileHash>,
    pub(crate) revision: String,
}

impl PolicySources {
    /// Reads `dir`.
    pub(crate) fn read(dir: &Path) -> Result<Self, PolicyError> {
        let mut names = list(dir)?;
        names.sort();
        let mut modules = Vec::new();
        let mut tests = Vec::new();
        let mut data = None;
        let mut files = Vec::new();
        for name in names {
            let path = dir.join(&name);
            let is_rego = name.ends_with(".rego");
            if !(is_rego || name == DATA_FILE) || !path.is_file() {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|source| PolicyError::ReadFile {
                path: path.clone(),
                source,
            })?;
            let is_test = name.ends_with(TEST_SUFFIX);
            if !is_test {
                files.push(PolicyFileHash {
                    path: name.clone(),
                    sha256: hex::encode(Sha256::digest(&bytes)),
                });
            }
            if name == DATA_FILE {
                data = Some(parse_data(&path, &bytes)?);
                continue;
            }
            let text = String::from_utf8(bytes).map_err(|e| PolicyError::Parse {
                path: path.clone(),
                line: None,
                column: None,
                message: format!(
                    "{}: not UTF-8 (invalid byte at offset {})",
                    path.display(),
                    e.utf8_error().valid_up_to()
                ),
            })?;
            let file = RegoFile { path, text };
            if is_test {
                tests.push(file);
            } else {
                modules.push(file);
            }
        }
        if modules.is_empty() {
            return Err(PolicyError::NoPolicyFiles {
                dir: dir.to_path_buf(),
            });
        }
        let revision = revision(&files);
        Ok(Self {
            dir: dir.to_path_buf(),
            modules,
            tests,
            data,
            files,
            revision,
        })
    }
}

/// The sample inputs of the policy folder `dir` (`samples/*.json`), sorted
/// by name. A missing folder means no samples.
pub(crate) fn sample_paths(dir: &Path) -> Result<Vec<PathBuf>, PolicyError> {
    let dir = dir.join(SAMPLES_DIR);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut names: Vec<String> = list(&dir)?
        .into_iter()
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    Ok(names.into_iter().map(|n| dir.join(n)).collect())
}

pub(crate) fn list(dir: &Path) -> Result<Vec<String>, PolicyError> {
    let read_err = |source| PolicyError::ReadDir {
        dir: dir.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        // Non-UTF-8 names cannot be Rego we were asked to load; skip them.
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}

pub(crate) fn parse_data(path: &Path, bytes: &[u8]) -> Result<serde_json::Value, PolicyError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| PolicyError::Data {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
    if !value.is_object() {
        return Err(PolicyError::Data {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: "the top level must be an object (its keys become data.<key>)".into(),
        });
    }
    Ok(value)
}

/// `sha256:` + SHA-256 of the `sha256sum`-style manifest of `files`.
pub(crate) fn revision(files: &[PolicyFileHash]) -> String {
    let mut sorted: Vec<&PolicyFileHash> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut h = Sha256::new();
    for f in sorted {
        h.update(format!("{}  {}\n", f.sha256, f.path));
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn revision_covers_modules_and_data_but_not_tests() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "p.rego", "package jurisgate\n");
        write(tmp.path(), "data.json", "{}");
        let r1 = PolicySources::read(tmp.path()).unwrap().revision;
        write(
            tmp.path(),
            "p_test.rego",
            "package jurisgate\ntest_x if true\n",
        );
        assert_eq!(PolicySources::read(tmp.path()).unwrap().revision, r1);
        write(tmp.path(), "data.json", "{\"a\": 1}");
        let r2 = PolicySources::read(tmp.path()).unwrap().revision;
        assert_ne!(r2, r1);
        write(tmp.path(), "p.rego", "package jurisgate\n# changed\n");
        assert_ne!(PolicySources::read(tmp.path()).unwrap().revision, r2);
    }

    #[test]
    fn revision_matches_sha256sum_manifest() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "b.rego", "package jurisgate\n");
        write(tmp.path(), "a.rego", "package x\n");
        let src = PolicySources::read(tmp.path()).unwrap();
        let names: Vec<_> = src.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["a.rego", "b.rego"]);
        let manifest = format!(
            "{}  a.rego\n{}  b.rego\n",
            hex::encode(Sha256::digest(b"package x\n")),
            hex::encode(Sha256::digest(b"package jurisgate\n"))
        );
        assert_eq!(
            src.revision,
            format!("sha256:{}", hex::encode(Sha256::digest(manifest)))
        );
    }

    #[test]
    fn bad_data_json_names_file_and_line() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "p.rego", "package jurisgate\n");
        write(tmp.path(), "data.json", "{\n  \"a\": [1,\n}");
        let e = PolicySources::read(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("data.json:3:"), "{e}");
        write(tmp.path(), "data.json", "[1]");
        let e = PolicySources::read(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("must be an object"), "{e}");
    }

    #[test]
    fn a_folder_of_tests_only_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "p_test.rego", "package jurisgate\n");
        assert!(matches!(
            PolicySources::read(tmp.path()),
            Err(PolicyError::NoPolicyFiles { .. })
        ));
    }
}
