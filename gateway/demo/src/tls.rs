//! `jurisgate demo --tls`: the demo's gateway listener over TLS, asking for
//! (optional) client certificates, and the tour's client over rustls with a
//! client certificate of its own. A throw-away CA signs everything; the
//! files go under `keys/tls/` in the demo folder (keys 0600). The regional
//! stores stay plain HTTP on loopback.
//!
//! The tour's expectations do not change: its users are still identified by
//! their tokens, which attribution tries before the certificate.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use hyper_util::client::legacy::connect::HttpConnector;
use jurisgate_tls::dev::{DevCa, LeafSpec};
use jurisgate_tls::{HttpsConnector, UpstreamTls};

use crate::setup::{DemoFiles, write_private};

/// Writes the demo's certificates, turns TLS on in its config, and returns
/// the connector the tour's client uses.
///
/// # Errors
/// When a certificate cannot be made or a file written.
pub(crate) fn enable(files: &DemoFiles) -> anyhow::Result<HttpsConnector> {
    let dir = files.dir.join("keys").join("tls");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let ca = DevCa::generate("jurisgate demo CA").context("making the demo CA")?;
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.cert_pem())?;
    let server = ca.issue(&LeafSpec::server(&["localhost", "127.0.0.1"]))?;
    let client = ca.issue(&LeafSpec {
        organization: Some("jurisgate-demo".into()),
        country: Some("US".into()),
        uris: vec!["spiffe://jurisgate.demo/tour".into()],
        ..LeafSpec::client("demo-tour")
    })?;
    let write =
        |name: &str, cert: &jurisgate_tls::dev::DevCert| -> anyhow::Result<(String, String)> {
            let (c, k) = (
                dir.join(format!("{name}.pem")),
                dir.join(format!("{name}-key.pem")),
            );
            std::fs::write(&c, &cert.cert_pem)?;
            write_private(&k, cert.key_pem.as_bytes())?;
            Ok((c.display().to_string(), k.display().to_string()))
        };
    let (server_cert, server_key) = write("server", &server)?;
    let (client_cert, client_key) = write("client", &client)?;

    let mut config = std::fs::read_to_string(&files.config)?;
    config.push_str(&format!(
        "\n[server.tls]\ncert = \"{server_cert}\"\nkey = \"{server_key}\"\nclient_ca = \"{}\"\nclient_auth = \"optional\"\n\n[[attribution]]\nkind = \"mtls\"\n",
        ca_path.display()
    ));
    std::fs::write(&files.config, config)?;

    let tls = UpstreamTls::from_config(
        &jurisgate_config::PoolTls {
            ca: ca_path,
            server_name: Some("localhost".into()),
            client_cert: Some(client_cert.into()),
            client_key: Some(client_key.into()),
            min_version: jurisgate_config::TlsVersion::Tls12,
        },
        "demo client",
    )?;
    Ok(HttpsConnector::new(
        HttpConnector::new(),
        Some(Arc::new(tls)),
        Duration::from_secs(5),
    ))
}

/// The plain-HTTP connector of the default demo.
pub(crate) fn plain() -> HttpsConnector {
    HttpsConnector::new(HttpConnector::new(), None, Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn enable_writes_private_keys_and_a_valid_tls_config() {
        let dir = tempfile::tempdir().unwrap();
        let files = crate::write_demo_files(
            dir.path(),
            &[("us-east".into(), "http://127.0.0.1:9".into())],
        )
        .unwrap();
        enable(&files).unwrap();
        let config = jurisgate_config::load(&files.config).unwrap();
        let tls = config.server.tls.expect("[server.tls]");
        assert_eq!(tls.client_auth, jurisgate_config::ClientAuth::Optional);
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&tls.key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        jurisgate_tls::ListenerTls::load(&tls).unwrap();
        assert!(Path::new(&files.dir.join("keys/tls/client-key.pem")).exists());
    }
}
