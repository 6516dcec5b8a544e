//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys:
//! text, a blank line, then signature lines
//! `— <key name> <base64(4-byte key id || 64-byte signature)>`.
//!
//! Keys travel as text: verifier keys as `<name>+<hex id>+<base64(0x01 || public key)>`
//! and signing keys as `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`,
//! the forms Go's `golang.org/x/mod/sumdb/note` reads and writes. This module
//! signs and opens notes; it does not generate keys (no randomness here) and
//! does not know what the text means ([`crate::Checkpoint`] does).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The signature type byte of Ed25519 in key ids and key texts.
const ALG_ED25519: u8 = 0x01;
/// The prefix of every signature line: an em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// The prefix of a signing key's text form.
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";
/// Longest note accepted: a checkpoint is a few hundred bytes.
const MAX_NOTE_BYTES: usize = 1 << 20;
/// Most signature lines accepted, as in Go's implementation.
const MAX_SIGNATURES: usize = 100;

/// Why a key or note was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// A key name is empty, or contains whitespace or `+`.
    #[error("invalid key name {0:?}: it must be non-empty without spaces or '+'")]
    BadName(String),
    /// A key text is malformed.
    #[error("malformed {kind} key: {why}")]
    BadKey {
        /// `signing` or `verifier`.
        kind: &'static str,
        /// What is wrong.
        why: &'static str,
    },
    /// The key id in a key text does not match the key.
    #[error("{kind} key for {name:?} says id {stated:08x} but the key's id is {actual:08x}")]
    KeyIdMismatch {
        /// `signing` or `verifier`.
        kind: &'static str,
        /// Key name.
        name: String,
        /// Id written in the text.
        stated: u32,
        /// Id computed from the key.
        actual: u32,
    },
    /// The text to sign is not a valid note text.
    #[error("note text must be non-empty and end with a newline")]
    BadText,
    /// The note is not well formed.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// A signature line (numbered from 1 among signature lines) is malformed.
    #[error("malformed signature line {line}: {why}")]
    BadSignatureLine {
        /// Signature line number.
        line: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// The signature by the trusted key does not verify.
    #[error("signature by {name}+{id:08x} does not verify: the note was altered or forged")]
    BadSignature {
        /// Key name.
        name: String,
        /// Key id.
        id: u32,
    },
    /// No signature line is by the trusted key.
    #[error("note has no signature by {name}+{id:08x}")]
    NotSigned {
        /// Key name.
        name: String,
        /// Key id.
        id: u32,
    },
}

/// Whether `name` may name a key: non-empty, no Unicode whitespace, no `+`.
#[must_use]
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// The key id: the first 4 bytes, big-endian, of
/// `SHA-256(name || 0x0A || 0x01 || public key)`.
#[must_use]
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// An Ed25519 signing key with its note name. `Debug` never shows the secret.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NoteSigner({}+{:08x})", self.name, self.id)
    }
}

impl NoteSigner {
    /// A signer from a 32-byte Ed25519 seed.
    ///
    /// # Errors
    /// [`NoteError::BadName`].
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::BadName(name.to_string()));
        }
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_string(),
            id,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`
    /// (surrounding whitespace ignored).
    ///
    /// # Errors
    /// [`NoteError::BadKey`], [`NoteError::BadName`] or [`NoteError::KeyIdMismatch`].
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        const KIND: &str = "signing";
        let rest = text
            .trim()
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or(NoteError::BadKey {
                kind: KIND,
                why: "does not start with PRIVATE+KEY+",
            })?;
        let (name, stated, material) = split_key(KIND, rest)?;
        let seed: [u8; 32] = material.try_into().map_err(|_| NoteError::BadKey {
            kind: KIND,
            why: "seed is not 32 bytes",
        })?;
        let signer = Self::from_seed(name, seed)?;
        if signer.id != stated {
            return Err(NoteError::KeyIdMismatch {
                kind: KIND,
                name: name.to_string(),
                stated,
                actual: signer.id,
            });
        }
        Ok(signer)
    }

    /// The secret text form `PRIVATE+KEY+…`. Handle with care.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut material = vec![ALG_ED25519];
        material.extend_from_slice(&self.key.to_bytes());
        format!(
            "{PRIVATE_PREFIX}{}+{:08x}+{}",
            self.name,
            self.id,
            STANDARD.encode(material)
        )
    }

    /// Key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Key id.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The matching verifier.
    #[must_use]
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs `text` and returns the whole note: text, blank line, signature line.
    ///
    /// # Errors
    /// [`NoteError::BadText`] unless `text` is non-empty and ends in `\n`.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        if text.is_empty() || !text.ends_with('\n') || text.len() > MAX_NOTE_BYTES / 2 {
            return Err(NoteError::BadText);
        }
        let sig = self.key.sign(text.as_bytes());
        let mut blob = self.id.to_be_bytes().to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        Ok(format!(
            "{text}\n{SIG_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(blob)
        ))
    }
}

/// An Ed25519 verifier key with its note name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses `<name>+<hex id>+<base64(0x01 || public key)>` (surrounding
    /// whitespace ignored).
    ///
    /// # Errors
    /// [`NoteError::BadKey`], [`NoteError::BadName`] or [`NoteError::KeyIdMismatch`].
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        const KIND: &str = "verifier";
        let (name, stated, material) = split_key(KIND, text.trim())?;
        if !valid_name(name) {
            return Err(NoteError::BadName(name.to_string()));
        }
        let bytes: [u8; 32] = material.try_into().map_err(|_| NoteError::BadKey {
            kind: KIND,
            why: "public key is not 32 bytes",
        })?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| NoteError::BadKey {
            kind: KIND,
            why: "not a valid Ed25519 public key",
        })?;
        if key.is_weak() {
            return Err(NoteError::BadKey {
                kind: KIND,
                why: "weak (small-order) Ed25519 public key",
            });
        }
        let actual = key_id(name, &bytes);
        if actual != stated {
            return Err(NoteError::KeyIdMismatch {
                kind: KIND,
                name: name.to_string(),
                stated,
                actual,
            });
        }
        Ok(Self {
            name: name.to_string(),
            id: actual,
            key,
        })
    }

    /// The text form `<name>+<hex id>+<base64(0x01 || public key)>`.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut material = vec![ALG_ED25519];
        material.extend_from_slice(self.key.as_bytes());
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.id,
            STANDARD.encode(material)
        )
    }

    /// Key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Key id.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// Checks a signed note and returns its text (ending in `\n`).
    ///
    /// Signature lines by other keys are skipped, as the spec requires, but
    /// a line naming this key (name and id) that does not verify rejects the
    /// whole note, and at least one line must be by this key.
    ///
    /// # Errors
    /// [`NoteError::Malformed`], [`NoteError::BadSignatureLine`],
    /// [`NoteError::BadSignature`] or [`NoteError::NotSigned`].
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        if note.len() > MAX_NOTE_BYTES {
            return Err(NoteError::Malformed("note is larger than 1 MiB"));
        }
        let split = note
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let text = &note[..=split];
        let sigs = &note[split + 2..];
        let Some(sigs) = sigs.strip_suffix('\n') else {
            return Err(NoteError::Malformed(
                "signature lines do not end with a newline",
            ));
        };
        let mut verified = false;
        for (i, line) in sigs.split('\n').enumerate() {
            let n = i + 1;
            if n > MAX_SIGNATURES {
                return Err(NoteError::Malformed("more than 100 signature lines"));
            }
            let bad = |why| NoteError::BadSignatureLine { line: n, why };
            let rest = line
                .strip_prefix(SIG_PREFIX)
                .ok_or_else(|| bad("does not start with an em dash and a space"))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or_else(|| bad("no space between key name and signature"))?;
            if !valid_name(name) {
                return Err(bad("invalid key name"));
            }
            let blob = STANDARD
                .decode(b64)
                .map_err(|_| bad("signature is not canonical base64"))?;
            if blob.len() < 5 {
                return Err(bad("signature is shorter than a key id"));
            }
            let id = u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]);
            if name != self.name || id != self.id {
                // Someone else's signature (a witness, a co-signer): not ours to judge.
                continue;
            }
            let sig = Signature::from_slice(&blob[4..]).map_err(|_| NoteError::BadSignature {
                name: self.name.clone(),
                id: self.id,
            })?;
            self.key
                .verify_strict(text.as_bytes(), &sig)
                .map_err(|_| NoteError::BadSignature {
                    name: self.name.clone(),
                    id: self.id,
                })?;
            verified = true;
        }
        if !verified {
            return Err(NoteError::NotSigned {
                name: self.name.clone(),
                id: self.id,
            });
        }
        Ok(text)
    }
}

/// Splits `<name>+<hex id>+<base64(0x01 || 32 bytes)>` and checks the type byte.
fn split_key<'a>(kind: &'static str, s: &'a str) -> Result<(&'a str, u32, Vec<u8>), NoteError> {
    let bad = |why| NoteError::BadKey { kind, why };
    // The name has no '+', but base64 may: split at the first two only.
    let mut parts = s.splitn(3, '+');
    let name = parts.next().unwrap_or_default();
    let id_hex = parts.next().ok_or_else(|| bad("missing key id"))?;
    let b64 = parts.next().ok_or_else(|| bad("missing key material"))?;
    if id_hex.len() != 8
        || !id_hex
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(bad("key id is not 8 lowercase hex digits"));
    }
    let id = u32::from_str_radix(id_hex, 16).map_err(|_| bad("key id is not hex"))?;
    let material = STANDARD
        .decode(b64)
        .map_err(|_| bad("key material is not canonical base64"))?;
    match material.split_first() {
        Some((&ALG_ED25519, key)) => Ok((name, id, key.to_vec())),
        Some(_) => Err(bad("key type is not Ed25519 (0x01)")),
        None => Err(bad("empty key material")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn signer() -> NoteSigner {
        NoteSigner::from_seed("jurisgate.example/replica-1", [42; 32]).unwrap()
    }

    #[test]
    fn key_texts_round_trip() {
        let s = signer();
        let back = NoteSigner::parse(&s.to_text()).unwrap();
        assert_eq!(back.to_text(), s.to_text());
        let v = NoteVerifier::parse(&s.verifier().to_text()).unwrap();
        assert_eq!(v, s.verifier());
    }

    #[test]
    fn a_key_with_the_wrong_id_is_rejected() {
        let text = signer().verifier().to_text();
        let (name, rest) = text.split_once('+').unwrap();
        let forged = format!("{name}+00000000+{}", &rest[9..]);
        assert!(matches!(
            NoteVerifier::parse(&forged),
            Err(NoteError::KeyIdMismatch { .. })
        ));
    }

    #[test]
    fn notes_from_unknown_keys_are_not_trusted_but_do_not_block() {
        let ours = signer();
        let other = NoteSigner::from_seed("witness.example", [7; 32]).unwrap();
        let text = "hello\n";
        let by_other = other.sign(text).unwrap();
        assert!(matches!(
            ours.verifier().open(&by_other),
            Err(NoteError::NotSigned { .. })
        ));
        // A co-signed note: other's line first, then ours.
        let ours_line = ours.sign(text).unwrap();
        let both = format!("{by_other}{}", &ours_line[text.len() + 1..]);
        assert_eq!(ours.verifier().open(&both), Ok(text));
        assert_eq!(other.verifier().open(&both), Ok(text));
    }

    #[test]
    fn names_with_spaces_or_plus_are_rejected() {
        for name in ["", "a b", "a+b", "tab\there"] {
            assert!(matches!(
                NoteSigner::from_seed(name, [1; 32]),
                Err(NoteError::BadName(_))
            ));
        }
    }

    proptest! {
        #[test]
        fn any_single_byte_change_to_a_note_is_rejected(pos: usize, mask in 1u8..=255) {
            let s = signer();
            let note = s.sign("jurisgate.example/replica-1\n17\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
            let mut bytes = note.clone().into_bytes();
            let i = pos % bytes.len();
            bytes[i] ^= mask;
            if let Ok(altered) = String::from_utf8(bytes) {
                prop_assert!(s.verifier().open(&altered).is_err(), "accepted {:?}", altered);
            }
        }

        #[test]
        fn open_never_panics(s in "\\PC{0,200}") {
            let _ = signer().verifier().open(&s);
            let _ = NoteVerifier::parse(&s);
            let _ = NoteSigner::parse(&s);
        }
    }
}
