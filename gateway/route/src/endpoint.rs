//! Endpoint base URLs: parsing `http://host:port` into the base URI the
//! proxy forwards to and the URI the health probe asks.
//!
//! Config validation already checked the shape; this parse is the route
//! crate's own guard, because [`crate::Pools::from_config`] is public and must
//! not trust its caller. It does not resolve names or connect.

use std::str::FromStr;

use http::Uri;
use http::uri::{PathAndQuery, Scheme};

/// An upstream endpoint's scheme and authority.
#[derive(Debug, Clone)]
pub(crate) struct Base {
    /// `scheme://authority/`: the proxy replaces the path and query.
    pub(crate) uri: Uri,
}

impl Base {
    /// Parses a configured endpoint. The error says what is wrong in words.
    pub(crate) fn parse(text: &str) -> Result<Base, String> {
        let uri = Uri::from_str(text).map_err(|e| format!("not a URL ({e})"))?;
        let scheme = match uri.scheme() {
            Some(s) if *s == Scheme::HTTP || *s == Scheme::HTTPS => s.clone(),
            Some(s) => return Err(format!("scheme `{s}` is not supported; use http or https")),
            None => return Err("no scheme; write it like \"http://host:port\"".into()),
        };
        let Some(authority) = uri.authority().cloned() else {
            return Err("no host; write it like \"http://host:port\"".into());
        };
        if authority.as_str().contains('@') {
            return Err("user information is not allowed in an endpoint".into());
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err("an endpoint is scheme, host and port only; remove the path".into());
        }
        let uri = Uri::builder()
            .scheme(scheme)
            .authority(authority)
            .path_and_query(PathAndQuery::from_static("/"))
            .build()
            .map_err(|e| format!("not a URL ({e})"))?;
        Ok(Base { uri })
    }

    /// Whether the endpoint speaks TLS.
    pub(crate) fn is_https(&self) -> bool {
        self.uri.scheme() == Some(&Scheme::HTTPS)
    }

    /// The URI of `path` on this endpoint (the health probe target).
    pub(crate) fn join(&self, path: &str) -> Result<Uri, String> {
        if !path.starts_with('/') {
            return Err(format!("health path `{path}` must start with '/'"));
        }
        let path = PathAndQuery::from_str(path)
            .map_err(|e| format!("health path `{path}` is not a valid path ({e})"))?;
        let mut parts = self.uri.clone().into_parts();
        parts.path_and_query = Some(path);
        Uri::from_parts(parts).map_err(|e| format!("health URL is not valid ({e})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_keeps_scheme_and_authority_only() {
        let b = Base::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(b.uri.to_string(), "http://127.0.0.1:8080/");
        assert!(!b.is_https());
        let b = Base::parse("https://[::1]:8443/").unwrap();
        assert_eq!(b.uri.to_string(), "https://[::1]:8443/");
        assert!(b.is_https());
    }

    #[test]
    fn rejects_what_cannot_be_a_base() {
        for bad in [
            "127.0.0.1:8080",
            "ftp://host:21",
            "http://user@host:80",
            "http://host:80/api",
            "http://host:80/?q=1",
            "",
            "http://",
        ] {
            assert!(Base::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn join_builds_the_probe_uri() {
        let b = Base::parse("http://10.0.0.1:9000").unwrap();
        assert_eq!(
            b.join("/healthz?deep=1").unwrap().to_string(),
            "http://10.0.0.1:9000/healthz?deep=1"
        );
        assert!(b.join("healthz").is_err());
        assert!(b.join("/a b").is_err());
    }
}
