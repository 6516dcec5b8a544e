//! The demo's files: config, keys, identity-provider keys and the example
//! policy, written into one folder so `--keep` leaves a working set behind.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use include_dir::{Dir, include_dir};
use jurisgate_attribution::dev_idp::DevIdp;
use rand::RngCore;

/// The example policies, embedded so the demo runs from the binary alone.
static TEXAS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../policies/texas");

/// The issuer of the demo identity provider's tokens.
pub const ISSUER: &str = "https://id.demo.jurisgate";
/// The audience of the demo identity provider's tokens.
pub const AUDIENCE: &str = "app";
/// The issuer of the demo approvals service's tokens.
pub const APPROVALS_ISSUER: &str = "https://approvals.demo.jurisgate";

/// What `write_demo_files` produced.
pub struct DemoFiles {
    /// The folder holding everything.
    pub dir: PathBuf,
    /// The gateway config.
    pub config: PathBuf,
    /// The audit log folder.
    pub audit_dir: PathBuf,
    /// The audit verifier key (signed-note vkey text) file.
    pub vkey_file: PathBuf,
    /// The verifier key text.
    pub vkey: String,
    /// The policy folder.
    pub policy_dir: PathBuf,
    /// The identity provider (signs user and employee tokens).
    pub idp: DevIdp,
    /// The approvals service (signs access approvals).
    pub approvals: DevIdp,
}

pub(crate) fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(contents)
        .with_context(|| format!("writing {}", path.display()))
}

fn random_key_hex() -> String {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    hex::encode(key)
}

/// Writes keys, the example policy and a config whose pools point at
/// `stores` (region, base URL) into `dir`.
///
/// # Errors
/// When a file cannot be written.
pub fn write_demo_files(dir: &Path, stores: &[(String, String)]) -> anyhow::Result<DemoFiles> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys)?;

    let (signing, vkey) = jurisgate_audit::keygen("jurisgate-demo");
    write_private(&keys.join("audit-signing.key"), signing.as_bytes())?;
    let vkey_file = dir.join("audit.vkey");
    std::fs::write(&vkey_file, format!("{vkey}\n"))?;
    write_private(&keys.join("subject.key"), random_key_hex().as_bytes())?;
    write_private(&keys.join("pseudonym-us.key"), random_key_hex().as_bytes())?;
    write_private(&keys.join("pseudonym-eu.key"), random_key_hex().as_bytes())?;

    let idp = DevIdp::generate(ISSUER, AUDIENCE);
    std::fs::write(keys.join("idp-jwks.json"), idp.jwks_json())?;
    let approvals = DevIdp::generate(APPROVALS_ISSUER, AUDIENCE);
    std::fs::write(keys.join("approvals-jwks.json"), approvals.jwks_json())?;

    let policy_dir = dir.join("policies").join("texas");
    std::fs::create_dir_all(&policy_dir)?;
    TEXAS
        .extract(&policy_dir)
        .with_context(|| format!("writing the example policy to {}", policy_dir.display()))?;

    let mut pools = String::new();
    for (region, url) in stores {
        pools.push_str(&format!(
            "\n[[pool]]\nname = \"{region}\"\nregion = \"{region}\"\nendpoints = [\"{url}\"]\nhealth = {{ path = \"/healthz\", interval = \"100ms\", timeout = \"250ms\", unhealthy_after = 1, healthy_after = 1 }}\n"
        ));
    }
    let regions: Vec<&str> = stores.iter().map(|(r, _)| r.as_str()).collect();
    let all = regions
        .iter()
        .map(|r| format!("\"{r}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let public_first = {
        let mut v: Vec<&&str> = regions.iter().collect();
        v.sort_by_key(|r| **r != "ap-southeast");
        v.iter()
            .map(|r| format!("\"{r}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let audit_dir = dir.join("audit");
    let config = format!(
        r#"# jurisgate demo config, written by `jurisgate demo`.
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
shutdown_grace = "5s"

[[attribution]]
kind = "jwt"
jwks = "keys/idp-jwks.json"
issuer = "{ISSUER}"
audience = "{AUDIENCE}"

[approvals]
jwks = "keys/approvals-jwks.json"
issuer = "{APPROVALS_ISSUER}"
audience = "{AUDIENCE}"

[policy]
dir = "policies/texas"

[audit]
dir = "audit"
signing_key = "keys/audit-signing.key"
subject_key = "keys/subject.key"
origin = "jurisgate.demo/replica-1"
checkpoint_every = "500ms"

[pseudonymization.keys]
US = "keys/pseudonym-us.key"
EU = "keys/pseudonym-eu.key"
default = "keys/pseudonym-us.key"

[[route]]
name = "messages"
match = {{ path_prefix = "/v1/messages" }}
data_class = "protected"
pools = [{all}]

[[route]]
name = "profiles"
match = {{ path_prefix = "/v1/profiles" }}
data_class = "protected"
pools = [{all}]

[[route]]
name = "public"
match = {{ path_prefix = "/v1/public" }}
data_class = "public"
pools = [{public_first}]
{pools}"#
    );
    let config_path = dir.join("jurisgate.toml");
    std::fs::write(&config_path, config)?;
    Ok(DemoFiles {
        dir: dir.to_path_buf(),
        config: config_path,
        audit_dir,
        vkey_file,
        vkey,
        policy_dir,
        idp,
        approvals,
    })
}
