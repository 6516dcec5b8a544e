//! Key files: making a signing key (the only randomness in the audit crates)
//! and loading signing and verifier keys from their C2SP text forms.
//!
//! Files are written by the CLI (`jurisgate audit keygen`), not here, so the
//! library never decides where secrets live.

use std::path::Path;

use jurisgate_audit_tlog::note::valid_name;
use jurisgate_audit_tlog::{NoteSigner, NoteVerifier};
use rand::RngCore as _;

use crate::AuditError;

/// Makes a new Ed25519 key named `name` and returns (signing key text,
/// verifier key text). Characters a key name may not hold (whitespace,
/// `+`) become `-`, and an empty name becomes `jurisgate`; use [`try_keygen`]
/// to have such names rejected instead.
#[must_use]
pub fn keygen(name: &str) -> (String, String) {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_whitespace() || c == '+' || c.is_control() {
                '-'
            } else {
                c
            }
        })
        .collect();
    let cleaned = if cleaned.is_empty() {
        "jurisgate".to_string()
    } else {
        cleaned
    };
    // Cleaning leaves no character `valid_name` rejects and no empty name,
    // so this is an invariant, not a reaction to input.
    let signer = new_signer(&cleaned).expect("a cleaned key name is always valid");
    (signer.to_text(), signer.verifier().to_text())
}

/// Like [`keygen`], but an invalid key name is an error.
///
/// # Errors
/// [`AuditError::Invalid`] naming the bad key name.
pub fn try_keygen(name: &str) -> Result<(String, String), AuditError> {
    if !valid_name(name) {
        return Err(AuditError::Invalid(format!(
            "invalid key name {name:?}: use a non-empty name without spaces or '+', e.g. jurisgate.example/replica-1"
        )));
    }
    let signer = new_signer(name)?;
    Ok((signer.to_text(), signer.verifier().to_text()))
}

fn new_signer(name: &str) -> Result<NoteSigner, AuditError> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    NoteSigner::from_seed(name, seed).map_err(|e| AuditError::Invalid(e.to_string()))
}

/// Loads a signing key file written by keygen (`PRIVATE+KEY+…`).
///
/// # Errors
/// [`AuditError::Io`] or [`AuditError::Key`] naming the file.
pub fn load_signing_key(path: &Path) -> Result<NoteSigner, AuditError> {
    let text = std::fs::read_to_string(path).map_err(|e| AuditError::io(path, e))?;
    NoteSigner::parse(&text).map_err(|e| AuditError::Key {
        path: path.to_path_buf(),
        what: e.to_string(),
    })
}

/// Loads a verifier key given either as its text (`name+id+base64`) or as
/// the path of a file holding it.
///
/// # Errors
/// [`AuditError::Io`] or [`AuditError::Key`].
pub fn load_verifier_key(text_or_path: &str) -> Result<NoteVerifier, AuditError> {
    if let Ok(v) = NoteVerifier::parse(text_or_path) {
        return Ok(v);
    }
    let path = Path::new(text_or_path);
    let text = std::fs::read_to_string(path).map_err(|e| AuditError::io(path, e))?;
    NoteVerifier::parse(&text).map_err(|e| AuditError::Key {
        path: path.to_path_buf(),
        what: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_match() {
        let (skey, vkey) = keygen("jurisgate.example/replica-1");
        let signer = NoteSigner::parse(&skey).unwrap();
        assert_eq!(signer.verifier(), NoteVerifier::parse(&vkey).unwrap());
        assert!(vkey.starts_with("jurisgate.example/replica-1+"));
        let (skey2, _) = keygen("jurisgate.example/replica-1");
        assert_ne!(skey, skey2, "two keys must differ");
    }

    #[test]
    fn bad_names_are_cleaned_by_keygen_and_rejected_by_try_keygen() {
        let (_, vkey) = keygen("my log+1");
        assert!(vkey.starts_with("my-log-1+"));
        assert!(keygen("").1.starts_with("jurisgate+"));
        assert!(matches!(try_keygen("my log"), Err(AuditError::Invalid(_))));
    }
}
