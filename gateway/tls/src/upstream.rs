//! TLS to a pool's upstreams: trust only the pool's CA, require the pool's
//! expected server name (so an upstream whose certificate names another
//! region fails the handshake before a byte of the request is sent), and
//! present a client certificate when one is configured.
//!
//! This module builds the rustls client config; [`crate::HttpsConnector`]
//! uses it. It does not connect.

use std::sync::Arc;

use jurisgate_config::PoolTls;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;

use crate::{ALPN_HTTP11, TlsError, pem, provider, versions};

/// One pool's upstream TLS settings, ready to use.
#[derive(Debug, Clone)]
pub struct UpstreamTls {
    pub(crate) config: Arc<ClientConfig>,
    /// The name every endpoint's certificate must carry; `None` means each
    /// endpoint's own host.
    pub(crate) server_name: Option<ServerName<'static>>,
}

impl UpstreamTls {
    /// Reads pool `pool`'s CA and client certificate files.
    ///
    /// # Errors
    /// A [`TlsError`] naming the `pool[...]` key and the file at fault.
    pub fn from_config(tls: &PoolTls, pool: &str) -> Result<Self, TlsError> {
        let key = |k: &str| format!("pool `{pool}`: tls.{k}");
        let roots = pem::roots(&tls.ca, &key("ca"))?;
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(versions(tls.min_version))
            .map_err(|e| TlsError::rustls(&key("min_version"), e))?
            .with_root_certificates(roots);
        let mut config = match (&tls.client_cert, &tls.client_key) {
            (Some(cert), Some(private)) => {
                let chain = pem::certs(cert, &key("client_cert"))?;
                let private_key = pem::private_key(private, &key("client_key"))?;
                builder
                    .with_client_auth_cert(chain, private_key)
                    .map_err(|e| {
                        TlsError::file(
                            &key("client_key"),
                            private,
                            format!("does not fit {} ({e})", cert.display()),
                        )
                    })?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => {
                return Err(TlsError::Setting {
                    key: key("client_cert"),
                    why: "client_cert and client_key go together".into(),
                });
            }
        };
        // The forwarder speaks HTTP/1.1 to upstreams.
        config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        let server_name = match &tls.server_name {
            Some(name) => {
                Some(
                    ServerName::try_from(name.clone()).map_err(|e| TlsError::Setting {
                        key: key("server_name"),
                        why: format!("`{name}` is not a DNS name or IP address ({e})"),
                    })?,
                )
            }
            None => None,
        };
        Ok(Self {
            config: Arc::new(config),
            server_name,
        })
    }
}
