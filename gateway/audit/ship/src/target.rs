//! Where shipped logs go: an `s3://bucket/prefix` URL (AWS S3 or any
//! S3-compatible server, with S3 Object Lock retention when configured) or
//! a `file:///folder` URL (the same code path against a local folder, for
//! tests and for a WORM-mounted file system).
//!
//! It opens object stores; it does not decide what to upload (that is
//! [`crate::ship`]) and it holds no credentials of its own: S3 credentials
//! come from the standard `AWS_*` environment variables (access keys, or a
//! web-identity token file as Kubernetes service accounts provide).

use std::sync::{Arc, Once};
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, Checksum};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::ShipError;

/// S3 Object Lock retention mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Nobody, the bucket owner included, can delete or shorten it before
    /// it expires.
    Compliance,
    /// Users with `s3:BypassGovernanceRetention` can lift it.
    Governance,
}

impl LockMode {
    fn header_value(self) -> &'static str {
        match self {
            Self::Compliance => "COMPLIANCE",
            Self::Governance => "GOVERNANCE",
        }
    }
}

/// Object Lock retention given to every uploaded object: locked for `days`
/// from the time of upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Compliance or governance.
    pub mode: LockMode,
    /// Days each object stays locked after its upload.
    pub days: u32,
}

/// How to reach the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetOptions {
    /// `s3://bucket[/prefix]` or `file:///absolute/folder`.
    pub url: String,
    /// Endpoint of an S3-compatible server (`http://127.0.0.1:9000`);
    /// `None` for AWS itself (or `AWS_ENDPOINT` from the environment).
    pub endpoint: Option<String>,
    /// S3 region; `None` takes `AWS_REGION` or `us-east-1`.
    pub region: Option<String>,
    /// Object Lock retention for uploads (S3 only).
    pub retention: Option<Retention>,
}

impl TargetOptions {
    /// Options for `url` with everything else left to the environment.
    #[must_use]
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            endpoint: None,
            region: None,
            retention: None,
        }
    }
}

/// An opened target: a store to read and list with, and a prefix under
/// which each log's origin gets its own folder.
#[derive(Debug, Clone)]
pub struct Target {
    opts: TargetOptions,
    kind: Kind,
    reader: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
}

#[derive(Debug, Clone)]
enum Kind {
    S3 { bucket: String },
    File,
}

impl Target {
    /// Parses the URL and builds the client. Nothing is contacted yet.
    ///
    /// # Errors
    /// [`ShipError::Target`] naming the URL and what is wrong with it.
    pub fn open(opts: TargetOptions) -> Result<Self, ShipError> {
        let bad = |what: String| ShipError::Target {
            url: opts.url.clone(),
            what,
        };
        if let Some(rest) = opts.url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket name after s3://".into()));
            }
            let prefix = ObjectPath::parse(prefix.trim_end_matches('/'))
                .map_err(|e| bad(format!("bad prefix: {e}")))?;
            let kind = Kind::S3 {
                bucket: bucket.to_string(),
            };
            let reader = s3_store(&opts, bucket, None).map_err(|e| bad(e.to_string()))?;
            Ok(Self {
                opts,
                kind,
                reader,
                prefix,
            })
        } else if let Some(path) = opts.url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad(
                    "a file URL needs an absolute path: file:///folder".into()
                ));
            }
            if opts.retention.is_some() {
                return Err(bad(
                    "Object Lock retention needs an s3:// URL; a folder cannot enforce it (mount a WORM file system instead)".into(),
                ));
            }
            std::fs::create_dir_all(path).map_err(|e| bad(format!("creating {path}: {e}")))?;
            let store = LocalFileSystem::new_with_prefix(path).map_err(|e| bad(e.to_string()))?;
            Ok(Self {
                opts,
                kind: Kind::File,
                reader: Arc::new(store),
                prefix: ObjectPath::default(),
            })
        } else {
            Err(bad("expected s3://bucket/prefix or file:///folder".into()))
        }
    }

    /// The URL as given.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.opts.url
    }

    /// The store for reads, heads and lists (no upload-only headers).
    pub(crate) fn reader(&self) -> &Arc<dyn ObjectStore> {
        &self.reader
    }

    /// The store for one pass of uploads: for S3 with retention, a client
    /// whose every request carries the Object Lock headers, with the
    /// retain-until date counted from now.
    pub(crate) fn writer(&self) -> Result<Arc<dyn ObjectStore>, ShipError> {
        match (&self.kind, self.opts.retention) {
            (Kind::S3 { bucket }, Some(retention)) => s3_store(&self.opts, bucket, Some(retention))
                .map_err(|e| ShipError::Target {
                    url: self.opts.url.clone(),
                    what: e.to_string(),
                }),
            _ => Ok(Arc::clone(&self.reader)),
        }
    }

    /// Where the object `name` (relative to an audit folder, `/`-separated)
    /// of the log `origin` lives.
    pub(crate) fn key(&self, origin: &str, name: &str) -> Result<ObjectPath, ShipError> {
        let mut parts: Vec<String> = self
            .prefix
            .parts()
            .map(|p| p.as_ref().to_string())
            .collect();
        parts.extend(origin_folder(origin));
        parts.extend(name.split('/').map(str::to_string));
        let joined = parts.join("/");
        ObjectPath::parse(&joined).map_err(|e| ShipError::Target {
            url: self.opts.url.clone(),
            what: format!("object key {joined:?}: {e}"),
        })
    }

    /// The prefix everything of this target lives under.
    pub(crate) fn prefix(&self) -> &ObjectPath {
        &self.prefix
    }
}

/// An origin line as folder names: each `/`-separated part kept when it is
/// made of letters, digits, `.`, `_` and `-`; anything else becomes `_`, so
/// no origin can climb out of the prefix or collide with `checkpoints/`.
fn origin_folder(origin: &str) -> Vec<String> {
    let mut out: Vec<String> = origin
        .split('/')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let clean: String = p
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            if clean.chars().all(|c| c == '.') {
                clean.replace('.', "_")
            } else {
                clean
            }
        })
        .collect();
    if out.is_empty() {
        out.push("_".into());
    }
    out
}

/// reqwest is built without a bundled crypto provider; install ring (the
/// one the rest of jurisgate uses) once, unless the process already chose.
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

fn s3_store(
    opts: &TargetOptions,
    bucket: &str,
    retention: Option<Retention>,
) -> Result<Arc<dyn ObjectStore>, object_store::Error> {
    install_crypto_provider();
    let mut client = ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(120));
    if let Some(r) = retention {
        let until = OffsetDateTime::now_utc() + time::Duration::days(i64::from(r.days));
        let until = until
            .replace_nanosecond(0)
            .unwrap_or(until)
            .format(&Rfc3339)
            .unwrap_or_default();
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("x-amz-object-lock-mode"),
            HeaderValue::from_static(r.mode.header_value()),
        );
        // S3 wants Content-MD5 or this header on an Object Lock upload;
        // the SHA-256 checksum itself is sent by `with_checksum_algorithm`.
        headers.insert(
            HeaderName::from_static("x-amz-sdk-checksum-algorithm"),
            HeaderValue::from_static("SHA256"),
        );
        if let Ok(v) = HeaderValue::from_str(&until) {
            headers.insert(
                HeaderName::from_static("x-amz-object-lock-retain-until-date"),
                v,
            );
        }
        client = client.with_default_headers(headers);
    }
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        // S3 requires a checksum on every Object Lock upload; SHA-256 is
        // also what the shipper compares afterwards.
        .with_checksum_algorithm(Checksum::SHA256)
        .with_retry(RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
            ..RetryConfig::default()
        });
    if let Some(endpoint) = &opts.endpoint {
        client = client.with_allow_http(endpoint.starts_with("http://"));
        builder = builder
            .with_endpoint(endpoint)
            // Self-hosted S3 servers rarely have per-bucket DNS names.
            .with_virtual_hosted_style_request(false);
    }
    builder = builder.with_client_options(client);
    if let Some(region) = &opts.region {
        builder = builder.with_region(region);
    }
    Ok(Arc::new(builder.build()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_become_safe_folders() {
        assert_eq!(
            origin_folder("jurisgate.example.com/us-east-1/replica-1"),
            ["jurisgate.example.com", "us-east-1", "replica-1"]
        );
        assert_eq!(origin_folder("a b/../c"), ["a_b", "__", "c"]);
        assert_eq!(origin_folder("//"), ["_"]);
    }

    #[test]
    fn urls_are_checked() {
        for (url, want) in [
            ("s3://", "no bucket"),
            ("file://relative", "absolute path"),
            ("gs://b", "expected s3://"),
        ] {
            let err = Target::open(TargetOptions::new(url))
                .unwrap_err()
                .to_string();
            assert!(err.contains(want) && err.contains(url), "{url}: {err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let mut opts = TargetOptions::new(&format!("file://{}", dir.path().display()));
        opts.retention = Some(Retention {
            mode: LockMode::Compliance,
            days: 1,
        });
        let err = Target::open(opts).unwrap_err().to_string();
        assert!(err.contains("needs an s3:// URL"), "{err}");
    }

    #[test]
    fn keys_put_each_origin_under_the_prefix() {
        let t = Target::open(TargetOptions::new("s3://bucket/audit/us")).unwrap();
        let key = t
            .key(
                "jurisgate.example/replica-2",
                "checkpoints/000000000007.ckpt",
            )
            .unwrap();
        assert_eq!(
            key.as_ref(),
            "audit/us/jurisgate.example/replica-2/checkpoints/000000000007.ckpt"
        );
    }
}
