//! Whole-file checks that serde cannot make: names that refer to each other,
//! files that must exist, values that must make sense together.

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::{AttributionSource, ClientAuth, Config, ConfigError};

struct Checker<'a> {
    file: &'a Path,
    text: &'a str,
    base: PathBuf,
}

impl Checker<'_> {
    fn err(&self, span: Option<Range<usize>>, key: &str, msg: impl Into<String>) -> ConfigError {
        ConfigError::at(self.file, self.text, span, key, msg)
    }

    /// Resolves `path` against the config's folder and requires it to exist.
    fn existing(&self, path: &mut PathBuf, key: &str, what: &str) -> Result<(), ConfigError> {
        let shown = path.display().to_string();
        if path.is_relative() {
            *path = self.base.join(&*path);
        }
        if path.exists() {
            Ok(())
        } else {
            Err(self.err(
                find_quoted(self.text, &shown),
                key,
                format!("{what} `{}` does not exist", path.display()),
            ))
        }
    }

    fn resolve(&self, path: &mut PathBuf) {
        if path.is_relative() {
            *path = self.base.join(&*path);
        }
    }
}

/// Byte span of the first `"value"` in `text`, to place errors about values
/// that serde does not keep spans for.
fn find_quoted(text: &str, value: &str) -> Option<Range<usize>> {
    for quote in ['"', '\''] {
        let needle = format!("{quote}{value}{quote}");
        if let Some(at) = text.find(&needle) {
            return Some(at..at + needle.len());
        }
    }
    None
}

pub(crate) fn validate(config: &mut Config, text: &str) -> Result<(), ConfigError> {
    let file = config.source.clone();
    let base = file
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    let c = Checker {
        file: &file,
        text,
        base,
    };

    check_server(&c, config)?;
    check_attribution(&c, config)?;
    check_policy_and_audit(&c, config)?;
    check_pools(&c, config)?;
    check_routes(&c, config)?;
    Ok(())
}

fn check_server(c: &Checker<'_>, config: &mut Config) -> Result<(), ConfigError> {
    if config.server.backlog == 0 {
        return Err(c.err(
            None,
            "server.backlog",
            "must be at least 1 (4096 is a good start)",
        ));
    }
    if let Some(workers) = &config.server.workers
        && !(1..=1024).contains(workers.get_ref())
    {
        return Err(c.err(
            Some(workers.span()),
            "server.workers",
            format!(
                "{} is out of range: give 1 to 1024, or leave it out for one per core",
                workers.get_ref()
            ),
        ));
    }
    if let Some(tls) = &mut config.server.tls {
        c.existing(&mut tls.cert, "server.tls.cert", "certificate file")?;
        c.existing(&mut tls.key, "server.tls.key", "key file")?;
        match (&mut tls.client_ca, tls.client_auth) {
            (Some(ca), _) => c.existing(ca, "server.tls.client_ca", "CA file")?,
            (None, ClientAuth::None) => {}
            (None, _) => {
                return Err(c.err(
                    None,
                    "server.tls.client_ca",
                    "client_auth asks for client certificates, so client_ca must name the CA file that signs them",
                ));
            }
        }
        let mut names = BTreeSet::new();
        for (i, sni) in tls.sni.iter_mut().enumerate() {
            let key = |k: &str| format!("server.tls.sni[{i}].{k}");
            let name = sni.server_name.to_ascii_lowercase();
            if let Err(why) = check_dns_name(&name) {
                return Err(c.err(
                    find_quoted(c.text, &sni.server_name),
                    &key("server_name"),
                    why,
                ));
            }
            if !names.insert(name) {
                return Err(c.err(
                    find_quoted(c.text, &sni.server_name),
                    &key("server_name"),
                    format!(
                        "`{}` is listed twice; each SNI name gets one certificate",
                        sni.server_name
                    ),
                ));
            }
            c.existing(&mut sni.cert, &key("cert"), "certificate file")?;
            c.existing(&mut sni.key, &key("key"), "key file")?;
        }
    }
    Ok(())
}

/// A DNS name as SNI carries it: dot-separated labels of letters, digits and
/// '-', no wildcard, no trailing dot, not an IP address (SNI never is one).
fn check_dns_name(name: &str) -> Result<(), String> {
    let valid_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.len() > 253
        || !name.split('.').all(valid_label)
        || name.parse::<std::net::IpAddr>().is_ok()
    {
        return Err(format!(
            "`{name}` is not a DNS name like \"api.example.com\" (no wildcards, no IP addresses)"
        ));
    }
    Ok(())
}

fn check_attribution(c: &Checker<'_>, config: &mut Config) -> Result<(), ConfigError> {
    for (i, source) in config.attribution.iter_mut().enumerate() {
        let key = |k: &str| format!("attribution[{i}].{k}");
        match source {
            AttributionSource::Jwt(jwt) => {
                c.existing(&mut jwt.jwks, &key("jwks"), "JWKS file")?;
                for alg in &jwt.algorithms {
                    if !matches!(
                        alg.as_str(),
                        "RS256" | "RS384" | "RS512" | "PS256" | "ES256" | "ES384" | "EdDSA"
                    ) {
                        return Err(c.err(
                            find_quoted(c.text, alg),
                            &key("algorithms"),
                            format!("`{alg}` is not accepted; use asymmetric algorithms only: RS256, RS384, RS512, PS256, ES256, ES384, EdDSA"),
                        ));
                    }
                }
            }
            AttributionSource::SignedHeader(sh) => {
                c.existing(&mut sh.key_file, &key("key_file"), "HMAC key file")?;
            }
            AttributionSource::Directory(dir) => {
                c.existing(&mut dir.file, &key("file"), "directory file")?;
            }
            AttributionSource::Mtls(m) => {
                if !matches!(
                    m.location_from.as_str(),
                    "subject.C" | "subject.O" | "subject.OU" | "subject.L" | "subject.ST"
                ) {
                    return Err(c.err(
                        find_quoted(c.text, &m.location_from),
                        &key("location_from"),
                        "must be one of subject.C, subject.O, subject.OU, subject.L, subject.ST",
                    ));
                }
            }
            AttributionSource::Geoip(g) => {
                c.existing(&mut g.database, &key("database"), "GeoIP database")?;
            }
        }
    }
    if let Some(approvals) = &mut config.approvals {
        c.existing(&mut approvals.jwks, "approvals.jwks", "JWKS file")?;
        if approvals
            .header
            .to_ascii_lowercase()
            .starts_with("x-jurisgate-")
        {
            return Err(c.err(
                find_quoted(c.text, &approvals.header),
                "approvals.header",
                "x-jurisgate-* headers are stripped from every request; choose another name",
            ));
        }
    }
    Ok(())
}

fn check_policy_and_audit(c: &Checker<'_>, config: &mut Config) -> Result<(), ConfigError> {
    c.existing(&mut config.policy.dir, "policy.dir", "policy folder")?;
    c.resolve(&mut config.audit.dir);
    c.existing(
        &mut config.audit.signing_key,
        "audit.signing_key",
        "signing key (make one with `jurisgate audit keygen`)",
    )?;
    c.existing(
        &mut config.audit.subject_key,
        "audit.subject_key",
        "subject pseudonym key",
    )?;
    if config.audit.batch_max == 0 || config.audit.queue_capacity == 0 {
        return Err(c.err(
            None,
            "audit.batch_max",
            "batch_max and queue_capacity must be at least 1",
        ));
    }
    if config.audit.segment_max_bytes < 4096 {
        return Err(c.err(
            None,
            "audit.segment_max_bytes",
            "must be at least 4096 bytes",
        ));
    }
    if let Some(ship) = &config.audit.ship {
        check_ship(c, ship)?;
    }
    for (jurisdiction, path) in &mut config.pseudonymization.keys {
        c.existing(
            path,
            &format!("pseudonymization.keys.{jurisdiction}"),
            "pseudonymisation key",
        )?;
    }
    let mut seen = BTreeSet::new();
    for class in &config.data_classes {
        if class.is_empty() || !seen.insert(class.as_str()) {
            return Err(c.err(
                find_quoted(c.text, class),
                "data_classes",
                format!("`{class}` is empty or listed twice"),
            ));
        }
    }
    Ok(())
}

fn check_pools(c: &Checker<'_>, config: &mut Config) -> Result<(), ConfigError> {
    let mut names = BTreeSet::new();
    for (i, pool) in config.pools.iter_mut().enumerate() {
        let name = pool.name.get_ref();
        if !names.insert(name.clone()) {
            return Err(c.err(
                Some(pool.name.span()),
                &format!("pool[{i}].name"),
                format!("pool `{name}` is defined twice; pool names must be unique"),
            ));
        }
        let region = pool.region.get_ref();
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(c.err(Some(pool.region.span()), &format!("pool[{i}].region"), format!("`{region}` is not a region name; use lower-case letters, digits and '-', like \"us-east\"")));
        }
        if pool.endpoints.is_empty() {
            return Err(c.err(
                Some(pool.name.span()),
                &format!("pool[{i}].endpoints"),
                format!("pool `{name}` has no endpoints; give at least one \"http://host:port\""),
            ));
        }
        for (j, endpoint) in pool.endpoints.iter().enumerate() {
            if let Err(why) = check_endpoint(endpoint.get_ref()) {
                return Err(c.err(
                    Some(endpoint.span()),
                    &format!("pool[{i}].endpoints[{j}]"),
                    why,
                ));
            }
        }
        if pool.health.unhealthy_after == 0 || pool.health.healthy_after == 0 {
            return Err(c.err(
                Some(pool.name.span()),
                &format!("pool[{i}].health"),
                "unhealthy_after and healthy_after must be at least 1",
            ));
        }
        check_pool_tls(c, i, pool)?;
    }
    Ok(())
}

/// `https://` endpoints need the pool's `tls` (only its CA is trusted), and
/// `tls` on a pool without one is a mistake worth naming.
fn check_pool_tls(c: &Checker<'_>, i: usize, pool: &mut crate::Pool) -> Result<(), ConfigError> {
    let key = |k: &str| format!("pool[{i}].{k}");
    let name = pool.name.get_ref().clone();
    let https = pool
        .endpoints
        .iter()
        .find(|e| e.get_ref().starts_with("https://"));
    let Some(tls) = &mut pool.tls else {
        return match https {
            Some(e) => Err(c.err(
                Some(e.span()),
                &key("tls"),
                format!("pool `{name}` has https endpoints, so it needs tls = {{ ca = \"ca.pem\", server_name = \"…\" }}: the CA that signs its upstreams' certificates"),
            )),
            None => Ok(()),
        };
    };
    if https.is_none() {
        return Err(c.err(
            Some(pool.name.span()),
            &key("tls"),
            format!("pool `{name}` sets tls but none of its endpoints is https://"),
        ));
    }
    c.existing(&mut tls.ca, &key("tls.ca"), "CA file")?;
    if let Some(server_name) = &tls.server_name
        && server_name.parse::<std::net::IpAddr>().is_err()
        && let Err(why) = check_dns_name(&server_name.to_ascii_lowercase())
    {
        return Err(c.err(
            find_quoted(c.text, server_name),
            &key("tls.server_name"),
            why,
        ));
    }
    match (&mut tls.client_cert, &mut tls.client_key) {
        (Some(cert), Some(k)) => {
            c.existing(cert, &key("tls.client_cert"), "client certificate file")?;
            c.existing(k, &key("tls.client_key"), "client key file")?;
        }
        (None, None) => {}
        (Some(_), None) | (None, Some(_)) => {
            return Err(c.err(
                Some(pool.name.span()),
                &key("tls"),
                "client_cert and client_key go together: give both or neither",
            ));
        }
    }
    Ok(())
}

/// An endpoint is a base URL: scheme, host and port, nothing after.
fn check_endpoint(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("`{url}` must start with http:// or https://"))?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!(
            "`{url}` must be a base URL like \"http://10.0.1.10:8080\", with no path, query or user info"
        ));
    }
    let port = authority.rsplit_once(':').map(|(_, p)| p);
    match port {
        Some(p) if p.parse::<u16>().is_ok_and(|p| p > 0) => Ok(()),
        _ => Err(format!(
            "`{url}` needs an explicit port, like \"http://10.0.1.10:8080\""
        )),
    }
}

fn check_routes(c: &Checker<'_>, config: &Config) -> Result<(), ConfigError> {
    let pool_names: BTreeSet<&str> = config
        .pools
        .iter()
        .map(|p| p.name.get_ref().as_str())
        .collect();
    let mut names = BTreeSet::new();
    if config.routes.is_empty() {
        return Err(c.err(
            None,
            "route",
            "no routes are defined; add at least one [[route]]",
        ));
    }
    for (i, route) in config.routes.iter().enumerate() {
        let key = |k: &str| format!("route[{i}].{k}");
        let name = route.name.get_ref();
        if name.is_empty() || !names.insert(name.as_str()) {
            return Err(c.err(
                Some(route.name.span()),
                &key("name"),
                format!("route `{name}` is empty or defined twice; route names must be unique"),
            ));
        }
        let m = &route.matcher;
        if m.host.is_none() && m.path_prefix.is_none() && m.path_glob.is_none() {
            return Err(c.err(Some(route.name.span()), &key("match"), format!("route `{name}` matches nothing in particular; give host, path_prefix or path_glob")));
        }
        if m.path_prefix.is_some() && m.path_glob.is_some() {
            return Err(c.err(
                Some(route.name.span()),
                &key("match"),
                "give path_prefix or path_glob, not both",
            ));
        }
        for p in m.path_prefix.iter().chain(&m.path_glob) {
            if !p.starts_with('/') {
                return Err(c.err(
                    find_quoted(c.text, p),
                    &key("match"),
                    format!("path `{p}` must start with '/'"),
                ));
            }
        }
        for method in &m.methods {
            if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(c.err(
                    find_quoted(c.text, method),
                    &key("match.methods"),
                    format!("`{method}` is not a method; write it in capitals, like \"GET\""),
                ));
            }
        }
        let class = route.data_class.get_ref();
        if !config.data_classes.iter().any(|d| d == class) {
            return Err(c.err(
                Some(route.data_class.span()),
                &key("data_class"),
                format!(
                    "`{class}` is not a data class; known: {}",
                    config.data_classes.join(", ")
                ),
            ));
        }
        if route.pools.is_empty() {
            return Err(c.err(
                Some(route.name.span()),
                &key("pools"),
                format!("route `{name}` has no pools; list at least one pool name"),
            ));
        }
        for (j, pool) in route.pools.iter().enumerate() {
            if !pool_names.contains(pool.get_ref().as_str()) {
                let known: Vec<&str> = pool_names.iter().copied().collect();
                return Err(c.err(
                    Some(pool.span()),
                    &key(&format!("pools[{j}]")),
                    format!(
                        "no pool is named `{}`; known pools: {}",
                        pool.get_ref(),
                        known.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn check_ship(c: &Checker<'_>, ship: &crate::ShipSettings) -> Result<(), ConfigError> {
    let at = find_quoted(c.text, &ship.url);
    let file = ship.url.strip_prefix("file://");
    let s3_bucket = ship
        .url
        .strip_prefix("s3://")
        .map(|r| r.split('/').next().unwrap_or(""));
    match (s3_bucket, file) {
        (Some(""), _) => return Err(c.err(at, "audit.ship.url", "no bucket name after s3://")),
        (Some(_), _) => {}
        (None, Some(path)) if path.starts_with('/') => {
            if ship.retention_days.is_some() {
                return Err(c.err(
                    at,
                    "audit.ship.retention_days",
                    "Object Lock retention needs an s3:// url; a folder cannot enforce it",
                ));
            }
        }
        (None, Some(_)) => {
            return Err(c.err(
                at,
                "audit.ship.url",
                "a file url needs an absolute path: file:///folder",
            ));
        }
        (None, None) => {
            return Err(c.err(
                at,
                "audit.ship.url",
                "expected s3://bucket/prefix or file:///folder",
            ));
        }
    }
    if ship.every.0 < std::time::Duration::from_secs(1) {
        return Err(c.err(None, "audit.ship.every", "must be at least 1s"));
    }
    if ship.retention_days == Some(0) {
        return Err(c.err(
            None,
            "audit.ship.retention_days",
            "must be at least 1 (or omitted to rely on the bucket's default retention)",
        ));
    }
    if let Some(e) = &ship.endpoint
        && !(e.starts_with("http://") || e.starts_with("https://"))
    {
        return Err(c.err(
            find_quoted(c.text, e),
            "audit.ship.endpoint",
            "must start with http:// or https://",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_need_scheme_and_port() {
        assert!(check_endpoint("http://127.0.0.1:8080").is_ok());
        assert!(check_endpoint("https://[::1]:8443/").is_ok());
        assert!(check_endpoint("127.0.0.1:8080").is_err());
        assert!(check_endpoint("http://host").is_err());
        assert!(check_endpoint("http://host:80/path").is_err());
        assert!(check_endpoint("http://user@host:80").is_err());
    }

    /// A minimal valid config in a temporary folder, with `server_extra`
    /// lines added to `[server]`; returns the folder and the config's path.
    fn config_with(server_extra: &str) -> (tempfile::TempDir, PathBuf, String) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), "0123456789abcdef0123456789abcdef").unwrap();
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n{server_extra}\n\n\
             [policy]\ndir = \".\"\n\n\
             [audit]\ndir = \"audit\"\nsigning_key = \"k\"\nsubject_key = \"k\"\n\n\
             [[route]]\nname = \"m\"\nmatch = {{ path_prefix = \"/m\" }}\n\
             data_class = \"protected\"\npools = [\"p\"]\n\n\
             [[pool]]\nname = \"p\"\nregion = \"us-east\"\nendpoints = [\"http://127.0.0.1:9\"]\n"
        );
        let path = dir.path().join("jurisgate.toml");
        (dir, path, text)
    }

    #[test]
    fn runtime_defaults_to_per_core_on_every_core() {
        let (_dir, path, text) = config_with("");
        let config = crate::parse(&text, &path).unwrap();
        assert_eq!(config.server.runtime, crate::RuntimeFlavor::PerCore);
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(config.server.worker_count(), cores);
    }

    #[test]
    fn multi_thread_runtime_and_workers_are_read() {
        let (_dir, path, text) = config_with("runtime = \"multi_thread\"\nworkers = 3");
        let config = crate::parse(&text, &path).unwrap();
        assert_eq!(config.server.runtime, crate::RuntimeFlavor::MultiThread);
        assert_eq!(config.server.worker_count(), 3);
    }

    #[test]
    fn an_unknown_runtime_is_an_error_at_its_line_naming_both_values() {
        let (_dir, path, text) = config_with("backlog = 64\nruntime = \"per-core\"");
        let err = crate::parse(&text, &path).unwrap_err();
        assert_eq!((err.line, err.column), (Some(4), Some(11)), "{err}");
        assert_eq!(err.key, "runtime");
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("{}:4:11: `runtime`:", path.display())),
            "{shown}"
        );
        assert!(
            shown.contains("per-core")
                && shown.contains("multi_thread")
                && shown.contains("per_core"),
            "{shown}"
        );
    }

    #[test]
    fn the_audit_writer_is_batch_scheduled_unless_set_to_normal() {
        let (_dir, path, text) = config_with("");
        let config = crate::parse(&text, &path).unwrap();
        assert_eq!(
            config.audit.writer_scheduling,
            crate::WriterScheduling::Batch
        );

        let text = text.replace(
            "subject_key = \"k\"\n",
            "subject_key = \"k\"\nwriter_scheduling = \"normal\"\n",
        );
        let config = crate::parse(&text, &path).unwrap();
        assert_eq!(
            config.audit.writer_scheduling,
            crate::WriterScheduling::Normal
        );

        let text = text.replace("\"normal\"", "\"realtime\"");
        let err = crate::parse(&text, &path).unwrap_err();
        assert_eq!(err.key, "writer_scheduling", "{err}");
        assert_eq!(err.line, Some(12), "{err}");
        assert!(err.to_string().contains("realtime"), "{err}");
    }

    #[test]
    fn zero_workers_is_an_error_at_its_line() {
        let (_dir, path, text) = config_with("workers = 0");
        let err = crate::parse(&text, &path).unwrap_err();
        assert_eq!((err.line, err.column), (Some(3), Some(11)), "{err}");
        assert_eq!(err.key, "server.workers");
        assert!(err.message.contains("give 1 to 1024"), "{err}");
    }
}
