//! Reading PEM files: certificate chains, one private key, trust anchors.
//! Errors name the config key and the file, and say what was expected.
//! Nothing here verifies a certificate; rustls does, with what this returns.

use std::path::Path;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::TlsError;

fn read(path: &Path, key: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::file(key, path, format!("cannot read: {e}")))
}

/// Every `CERTIFICATE` in the file, in order (end entity first for a chain).
pub(crate) fn certs(path: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path, key)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::file(key, path, format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::file(
            key,
            path,
            "holds no \"BEGIN CERTIFICATE\" block",
        ));
    }
    Ok(certs)
}

/// The one private key in the file (PKCS#8, SEC1 or PKCS#1).
pub(crate) fn private_key(path: &Path, key: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path, key)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::file(
            key,
            path,
            "holds no \"BEGIN PRIVATE KEY\" (or EC/RSA PRIVATE KEY) block",
        ),
        e => TlsError::file(key, path, format!("not a valid PEM private key: {e}")),
    })
}

/// The trust anchors in a CA file. Every certificate must be usable as one.
pub(crate) fn roots(path: &Path, key: &str) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for (i, cert) in certs(path, key)?.into_iter().enumerate() {
        store.add(cert).map_err(|e| {
            TlsError::file(
                key,
                path,
                format!("certificate #{} is not a usable trust anchor: {e}", i + 1),
            )
        })?;
    }
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_key_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "nothing here\n").unwrap();
        let e = certs(&empty, "server.tls.cert").unwrap_err().to_string();
        assert!(
            e.starts_with("server.tls.cert: ")
                && e.contains("empty.pem")
                && e.contains("no \"BEGIN CERTIFICATE\""),
            "{e}"
        );
        let e = private_key(&empty, "server.tls.key")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("server.tls.key") && e.contains("no \"BEGIN PRIVATE KEY\""),
            "{e}"
        );
        let e = certs(&dir.path().join("missing.pem"), "pool[0].tls.ca")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("pool[0].tls.ca") && e.contains("missing.pem") && e.contains("cannot read"),
            "{e}"
        );
        let torn = dir.path().join("torn.pem");
        std::fs::write(&torn, "-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap();
        assert!(
            certs(&torn, "k")
                .unwrap_err()
                .to_string()
                .contains("not valid PEM")
        );
    }
}
