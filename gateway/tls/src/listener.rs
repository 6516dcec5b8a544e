//! The proxy listener's TLS: a rustls server config built from the
//! `[server.tls]` files, swapped atomically when they change.
//!
//! Every accepted connection takes the config current at that moment, so a
//! reload changes what *new* handshakes see while established connections
//! keep their session. A reload that fails (a missing file, a key that does
//! not match its certificate) is logged and leaves the previous config in
//! use. Which settings apply (client_auth, min_version, the SNI names) is
//! fixed at start-up; reload re-reads the files only. This module does not
//! accept connections.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use jurisgate_config::{ClientAuth, ServerTls};
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

use crate::{TlsError, pem, provider, versions};

/// ALPN id of HTTP/2.
pub const ALPN_H2: &[u8] = b"h2";
/// ALPN id of HTTP/1.1.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The listener's TLS config, reloadable.
#[derive(Debug)]
pub struct ListenerTls {
    settings: ServerTls,
    current: ArcSwap<ServerConfig>,
    /// The files' fingerprint when `current` was built (for the watcher).
    seen: Mutex<Vec<Fingerprint>>,
    /// Reloads applied since start.
    applied: AtomicU64,
    /// Reloads refused since start.
    refused: AtomicU64,
    /// The earliest `notAfter` (unix seconds) of the certificates in use,
    /// intermediates included.
    not_after: AtomicI64,
}

/// What the listener's TLS has done since start, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsStats {
    /// Reloads whose new files were taken into use.
    pub reloads_applied: u64,
    /// Reloads whose files were refused (the previous ones stayed).
    pub reloads_refused: u64,
    /// The earliest expiry (unix seconds) among the served certificate
    /// chains (the default one and every SNI one, intermediates included):
    /// the next one to renew.
    pub earliest_not_after: i64,
}

type Fingerprint = (PathBuf, Option<(u64, SystemTime)>);

impl ListenerTls {
    /// Builds the config from the files `settings` names.
    ///
    /// # Errors
    /// A [`TlsError`] naming the key and file at fault.
    pub fn load(settings: &ServerTls) -> Result<Self, TlsError> {
        let seen = fingerprint(settings);
        let (config, not_after) = build(settings)?;
        Ok(Self {
            settings: settings.clone(),
            current: ArcSwap::from(config),
            seen: Mutex::new(seen),
            applied: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            not_after: AtomicI64::new(not_after),
        })
    }

    /// Reload counts and the next certificate expiry.
    #[must_use]
    pub fn stats(&self) -> TlsStats {
        TlsStats {
            reloads_applied: self.applied.load(Ordering::Relaxed),
            reloads_refused: self.refused.load(Ordering::Relaxed),
            earliest_not_after: self.not_after.load(Ordering::Relaxed),
        }
    }

    /// An acceptor with the current config, for one new connection.
    #[must_use]
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current.load_full())
    }

    /// Whether clients are asked for certificates. When `None`, no
    /// connection ever has a verified client certificate.
    #[must_use]
    pub fn client_auth(&self) -> ClientAuth {
        self.settings.client_auth
    }

    /// Re-reads every file and swaps the new config in. New handshakes use
    /// it; established connections are untouched.
    ///
    /// # Errors
    /// Why the files were refused; the previous config stays in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        let seen = fingerprint(&self.settings);
        match build(&self.settings) {
            Ok((config, not_after)) => {
                self.current.store(config);
                self.not_after.store(not_after, Ordering::Relaxed);
                self.applied.fetch_add(1, Ordering::Relaxed);
                *self
                    .seen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = seen;
                tracing::info!(cert = %self.settings.cert.display(), "TLS certificates reloaded");
                Ok(())
            }
            Err(e) => {
                // Remember the bad state too, so the watcher reports it once, not every poll.
                *self
                    .seen
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = seen;
                self.refused.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "new TLS certificates refused; the previous ones stay in use");
                Err(e)
            }
        }
    }

    /// Polls the files every `every` and reloads when one changed (size or
    /// modification time), until `stop` resolves. Does nothing when the
    /// config turned watching off.
    pub async fn watch(self: Arc<Self>, every: Duration, stop: impl Future<Output = ()>) {
        if !self.settings.watch {
            return;
        }
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = &mut stop => return,
            }
            let now = fingerprint(&self.settings);
            let changed = *self
                .seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                != now;
            if changed {
                let _ = self.reload();
            }
        }
    }
}

fn fingerprint(settings: &ServerTls) -> Vec<Fingerprint> {
    let mut paths = vec![settings.cert.clone(), settings.key.clone()];
    paths.extend(settings.client_ca.clone());
    for sni in &settings.sni {
        paths.push(sni.cert.clone());
        paths.push(sni.key.clone());
    }
    paths
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p)
                .ok()
                .and_then(|m| Some((m.len(), m.modified().ok()?)));
            (p, meta)
        })
        .collect()
}

/// The certificate and key pair from two files, and the earliest
/// `notAfter` (unix seconds) in the chain.
fn certified_key(
    cert: &std::path::Path,
    key: &std::path::Path,
    cert_key: &str,
    key_key: &str,
) -> Result<(Arc<CertifiedKey>, i64), TlsError> {
    let chain = pem::certs(cert, cert_key)?;
    let mut not_after = i64::MAX;
    for (i, der) in chain.iter().enumerate() {
        let (_, parsed) = x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| {
            TlsError::file(
                cert_key,
                cert,
                format!("certificate {} cannot be parsed ({e})", i + 1),
            )
        })?;
        not_after = not_after.min(parsed.validity().not_after.timestamp());
    }
    let private = pem::private_key(key, key_key)?;
    let signing = provider()
        .key_provider
        .load_private_key(private)
        .map_err(|e| TlsError::file(key_key, key, format!("not a usable private key ({e})")))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        // Some key types cannot say; the handshake would still fail on a mismatch.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok((Arc::new(certified), not_after))
        }
        Err(e) => Err(TlsError::file(
            key_key,
            key,
            format!("does not match the certificate in {} ({e})", cert.display()),
        )),
    }
}

/// The server config, and the earliest `notAfter` of its certificates.
fn build(settings: &ServerTls) -> Result<(Arc<ServerConfig>, i64), TlsError> {
    let (default, mut not_after) = certified_key(
        &settings.cert,
        &settings.key,
        "server.tls.cert",
        "server.tls.key",
    )?;
    let mut by_name = HashMap::new();
    for (i, sni) in settings.sni.iter().enumerate() {
        let (key, expires) = certified_key(
            &sni.cert,
            &sni.key,
            &format!("server.tls.sni[{i}].cert"),
            &format!("server.tls.sni[{i}].key"),
        )?;
        not_after = not_after.min(expires);
        by_name.insert(sni.server_name.to_ascii_lowercase(), key);
    }
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions(settings.min_version))
        .map_err(|e| TlsError::rustls("server.tls.min_version", e))?;
    let builder = match (&settings.client_ca, settings.client_auth) {
        (_, ClientAuth::None) => builder.with_no_client_auth(),
        (None, _) => {
            return Err(TlsError::Setting {
                key: "server.tls.client_ca".into(),
                why: "client_auth asks for client certificates, so a CA file is needed".into(),
            });
        }
        (Some(ca), auth) => {
            let roots = Arc::new(pem::roots(ca, "server.tls.client_ca")?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider());
            // "optional": no certificate is fine, a certificate that does not verify is not.
            let verifier = if auth == ClientAuth::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let verifier = verifier.build().map_err(|e| TlsError::Setting {
                key: "server.tls.client_ca".into(),
                why: format!(
                    "cannot verify client certificates with {}: {e}",
                    ca.display()
                ),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(SniResolver { default, by_name }));
    config.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()];
    Ok((Arc::new(config), not_after))
}

/// Picks the certificate for the SNI name; the default one for other names
/// and for clients that send none (curl to an IP address, for one).
#[derive(Debug)]
struct SniResolver {
    default: Arc<CertifiedKey>,
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = hello
            .server_name()
            .and_then(|name| self.by_name.get(&name.to_ascii_lowercase()))
            .unwrap_or(&self.default);
        Some(Arc::clone(chosen))
    }
}
