//! `jurisgate certs dev --out DIR`: a local CA, a server certificate for
//! localhost, client certificates for three demo requesters, and a demo
//! identity provider's signing key and JWKS, for trying TLS and mTLS on one
//! machine. Private keys are written 0600. None of it is for production, and
//! none of it belongs in version control (`.gitignore` keeps `*.pem` out).

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args, Subcommand};
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use jurisgate_tls::dev::{DevCa, LeafSpec};

/// `jurisgate certs …`.
#[derive(Subcommand, Debug)]
pub(crate) enum CertsCommand {
    /// Write a development CA, server and client certificates and IdP keys into a folder.
    Dev(DevArgs),
}

/// Arguments of `certs dev`.
#[derive(Args, Debug)]
pub(crate) struct DevArgs {
    /// The folder to write (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Replace files a previous run wrote.
    #[arg(long)]
    force: bool,
}

/// A demo requester's client certificate: file stem, CN, O, C, SPIFFE id.
const CLIENTS: [(&str, &str, &str, &str, &str); 3] = [
    (
        "client-us-service",
        "us-billing",
        "usds",
        "US",
        "spiffe://jurisgate.test/us/billing",
    ),
    (
        "client-eu-service",
        "eu-analytics",
        "clover",
        "DE",
        "spiffe://jurisgate.test/eu/analytics",
    ),
    (
        "client-engineer-sg",
        "eng-sg",
        "jurisgate-eng",
        "SG",
        "spiffe://jurisgate.test/staff/eng-sg",
    ),
];

/// The demo identity provider's key id in the JWKS.
const IDP_KID: &str = "dev-ed25519";

pub(crate) fn run(cmd: &CertsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        CertsCommand::Dev(args) => dev(args),
    }
}

fn dev(args: &DevArgs) -> anyhow::Result<ExitCode> {
    let out = &args.out;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    if out.join("ca.pem").exists() && !args.force {
        bail!(
            "{} already holds dev certificates; pass --force to replace them",
            out.display()
        );
    }
    let ca = DevCa::generate("jurisgate dev CA").context("generating the CA")?;
    write_public(&out.join("ca.pem"), ca.cert_pem())?;

    let server = ca
        .issue(&LeafSpec::server(&["localhost", "127.0.0.1", "::1"]))
        .context("issuing the server certificate")?;
    write_public(&out.join("server.pem"), &server.cert_pem)?;
    write_private(&out.join("server-key.pem"), server.key_pem.as_bytes())?;

    for (stem, cn, org, country, spiffe) in CLIENTS {
        let spec = LeafSpec {
            organization: Some(org.to_string()),
            country: Some(country.to_string()),
            uris: vec![spiffe.to_string()],
            ..LeafSpec::client(cn)
        };
        let cert = ca.issue(&spec).with_context(|| format!("issuing {stem}"))?;
        write_public(&out.join(format!("{stem}.pem")), &cert.cert_pem)?;
        write_private(
            &out.join(format!("{stem}-key.pem")),
            cert.key_pem.as_bytes(),
        )?;
    }

    let idp = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = idp
        .to_pkcs8_pem(Default::default())
        .context("encoding the IdP key")?;
    write_private(&out.join("idp-signing-key.pem"), pem.as_bytes())?;
    let x = URL_SAFE_NO_PAD.encode(idp.verifying_key().as_bytes());
    let jwks = serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": IDP_KID, "x": x}]});
    write_public(&out.join("idp-jwks.json"), &format!("{jwks}\n"))?;

    println!(
        "wrote development certificates to {} (for local use only; never commit them)",
        out.display()
    );
    println!(
        "  ca.pem                          the CA: trust it in clients, and as server.tls.client_ca"
    );
    println!("  server.pem, server-key.pem      localhost, 127.0.0.1, ::1");
    for (stem, cn, org, country, spiffe) in CLIENTS {
        println!("  {stem}.pem (+ -key.pem)  CN={cn} O={org} C={country} URI={spiffe}");
    }
    println!(
        "  idp-jwks.json, idp-signing-key.pem  a demo identity provider (EdDSA, kid {IDP_KID})"
    );
    println!();
    println!(
        "[server.tls]\ncert = \"{0}/server.pem\"\nkey = \"{0}/server-key.pem\"\nclient_ca = \"{0}/ca.pem\"\nclient_auth = \"optional\"",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn write_public(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

/// Writes a key readable by its owner only (also when replacing a file with
/// looser permissions).
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", path.display()))?;
    f.write_all(contents)
        .with_context(|| format!("writing {}", path.display()))
}
