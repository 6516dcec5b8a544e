//! The user directory: verified user id → home jurisdiction (residency, not
//! current location), loaded once at start-up from a JSON object
//! `{ "user-id": "US", ... }`.
//!
//! It is only ever asked about user ids that a verified source vouched for;
//! the attributor enforces that. It does not reload and does not fetch.

use std::collections::HashMap;
use std::path::Path;

use crate::AttributionError;
use crate::jurisdiction::normalize_jurisdiction;

/// The loaded directory.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    homes: HashMap<String, String>,
}

impl Directory {
    /// Loads the directory file.
    ///
    /// # Errors
    /// [`AttributionError::Read`] or [`AttributionError::Directory`] naming
    /// the file and the entry at fault.
    pub fn load(path: &Path) -> Result<Self, AttributionError> {
        let bytes = std::fs::read(path).map_err(|source| AttributionError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&bytes).map_err(|reason| AttributionError::Directory {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parses directory JSON. Every value must be a plausible jurisdiction
    /// code, so a typo fails at start-up instead of mis-routing one user.
    ///
    /// # Errors
    /// A message naming the entry at fault.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let raw: HashMap<String, String> = serde_json::from_slice(bytes)
            .map_err(|e| format!("expected a JSON object of user id → jurisdiction: {e}"))?;
        let mut homes = HashMap::with_capacity(raw.len());
        for (user, jurisdiction) in raw {
            let code = normalize_jurisdiction(&jurisdiction).ok_or_else(|| {
                format!("entry `{user}`: `{jurisdiction}` is not a jurisdiction code (2–8 of A–Z, 0–9, '-')")
            })?;
            homes.insert(user, code);
        }
        Ok(Self { homes })
    }

    /// The home jurisdiction of a verified user id.
    #[must_use]
    pub fn home_of(&self, verified_user: &str) -> Option<&str> {
        self.homes.get(verified_user).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_normalised_and_bad_ones_named() {
        let dir = Directory::parse(br#"{"alice": "us", "bob": "EU"}"#).unwrap();
        assert_eq!(dir.home_of("alice"), Some("US"));
        assert_eq!(dir.home_of("bob"), Some("EU"));
        assert_eq!(dir.home_of("carol"), None);
        let err = Directory::parse(br#"{"alice": "United States"}"#).unwrap_err();
        assert!(err.contains("entry `alice`"), "{err}");
        assert!(Directory::parse(br#"["alice"]"#).is_err());
        assert!(Directory::parse(br#"{"alice": 1}"#).is_err());
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.json");
        std::fs::write(&path, "{").unwrap();
        let err = Directory::load(&path).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
    }
}
