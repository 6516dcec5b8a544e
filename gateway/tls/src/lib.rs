//! TLS for jurisgate, with rustls and the ring provider.
//!
//! - [`ListenerTls`]: the proxy listener's server config from PEM files
//!   (TLS 1.3 and 1.2, AEAD suites with forward secrecy only, ALPN `h2` and
//!   `http/1.1`, several certificates chosen by SNI, client certificates
//!   verified against a CA), reloadable on SIGHUP or file change.
//! - [`client_identity`]: the verified client certificate's subject and SAN
//!   URIs as a [`jurisgate_attribution::ClientCertIdentity`].
//! - [`UpstreamTls`] and [`HttpsConnector`]: TLS (and mTLS) to a pool's
//!   `https://` endpoints, trusting only the pool's CA and requiring the
//!   pool's expected server name.
//! - [`dev`]: a throw-away CA and certificates for tests, demos and
//!   `jurisgate certs dev`.
//!
//! This crate does not accept connections or speak HTTP; the proxy does. It
//! never trusts the system's root store: every trust anchor is a configured file.

mod connector;
pub mod dev;
mod error;
mod identity;
mod listener;
mod pem;
mod upstream;

pub use connector::{HttpsConnector, MaybeTlsStream};
pub use error::TlsError;
pub use identity::client_identity;
pub use listener::{ALPN_H2, ALPN_HTTP11, ListenerTls, TlsStats};
pub use upstream::UpstreamTls;

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// The crypto provider every config here uses: ring, with its default
/// suites, which are all AEAD with ephemeral key exchange (TLS 1.3:
/// AES-GCM and ChaCha20-Poly1305; TLS 1.2: ECDHE with the same ciphers).
/// No CBC, no static RSA key exchange, nothing before TLS 1.2.
#[must_use]
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The protocol versions for a configured minimum.
fn versions(
    min: jurisgate_config::TlsVersion,
) -> &'static [&'static rustls::SupportedProtocolVersion] {
    static BOTH: [&rustls::SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    static ONLY_13: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    match min {
        jurisgate_config::TlsVersion::Tls12 => &BOTH,
        jurisgate_config::TlsVersion::Tls13 => &ONLY_13,
    }
}
