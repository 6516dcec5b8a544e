//! GeoIP: the country of the client address as a weak, never verified hint
//! of the subject's jurisdiction.
//!
//! The client address is the TCP peer, unless the peer is a trusted proxy:
//! then it is the right-most `X-Forwarded-For` entry that is not itself a
//! trusted proxy (entries to its left were written by the client and prove
//! nothing). When the peer is trusted but the header is absent, malformed or
//! names only trusted proxies, there is no client address and no hint: the
//! proxy's own location would be misleading. Countries map to jurisdictions
//! with [`country_to_jurisdiction`]. This module never marks anything verified.

use std::net::IpAddr;
use std::path::Path;

use http::HeaderMap;
use http::header::HeaderName;
use ipnet::IpNet;

use crate::AttributionError;
use crate::jurisdiction::country_to_jurisdiction;

/// Most `X-Forwarded-For` entries read; a longer chain is treated as malformed.
pub const MAX_FORWARDED_ENTRIES: usize = 64;

/// Why an `X-Forwarded-For` chain was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForwardedError {
    /// An entry is not an IP address (position counted over all header lines).
    #[error("entry {0} is not an IP address")]
    BadEntry(usize),
    /// More than [`MAX_FORWARDED_ENTRIES`] entries.
    #[error("more than {MAX_FORWARDED_ENTRIES} entries")]
    TooMany,
}

/// Parses `X-Forwarded-For` header values (in header order) into one chain,
/// left (client side) to right (nearest proxy).
///
/// # Errors
/// A [`ForwardedError`] when an entry is not a bare IP address or the chain
/// is too long.
pub fn parse_forwarded_for<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<IpAddr>, ForwardedError> {
    let mut chain = Vec::new();
    for value in values {
        for entry in value.split(|b| *b == b',') {
            if chain.len() == MAX_FORWARDED_ENTRIES {
                return Err(ForwardedError::TooMany);
            }
            let addr = std::str::from_utf8(entry)
                .ok()
                .and_then(|s| s.trim_matches([' ', '\t']).parse::<IpAddr>().ok())
                .ok_or(ForwardedError::BadEntry(chain.len()))?;
            chain.push(addr.to_canonical());
        }
    }
    Ok(chain)
}

/// The client address for GeoIP, per the module docs; `None` when unknown.
#[must_use]
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> Option<IpAddr> {
    // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d.
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let name = HeaderName::from_static("x-forwarded-for");
    let chain = match parse_forwarded_for(headers.get_all(name).iter().map(|v| v.as_bytes())) {
        Ok(chain) => chain,
        Err(e) => {
            tracing::debug!(reason = %e, "geoip: X-Forwarded-For from a trusted proxy not used");
            return None;
        }
    };
    chain.into_iter().rev().find(|ip| !is_trusted(ip))
}

/// A MaxMind-format country database.
pub struct GeoIp {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoIp")
            .field("database_type", &self.reader.metadata.database_type)
            .finish_non_exhaustive()
    }
}

impl GeoIp {
    /// Opens (reads into memory) the database.
    ///
    /// # Errors
    /// [`AttributionError::Geoip`] naming the file.
    pub fn open(path: &Path) -> Result<Self, AttributionError> {
        let reader =
            maxminddb::Reader::open_readfile(path).map_err(|source| AttributionError::Geoip {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self { reader })
    }

    /// The jurisdiction of `ip`'s country, when the database knows it.
    #[must_use]
    pub fn jurisdiction(&self, ip: IpAddr) -> Option<String> {
        match self.reader.lookup::<maxminddb::geoip2::Country<'_>>(ip) {
            Ok(found) => found?.country?.iso_code.and_then(country_to_jurisdiction),
            Err(e) => {
                tracing::debug!(%ip, reason = %e, "geoip: lookup failed");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    type ParseCase = (
        &'static [&'static [u8]],
        Result<Vec<IpAddr>, ForwardedError>,
    );

    #[test]
    fn forwarded_for_parsing_table() {
        let cases: [ParseCase; 6] = [
            (&[b"203.0.113.7"], Ok(vec![ip("203.0.113.7")])),
            (
                &[b"1.1.1.1, 2.2.2.2", b"3.3.3.3"],
                Ok(vec![ip("1.1.1.1"), ip("2.2.2.2"), ip("3.3.3.3")]),
            ),
            (
                &[b" 2001:db8::1 ,::ffff:10.0.0.1"],
                Ok(vec![ip("2001:db8::1"), ip("10.0.0.1")]),
            ),
            (&[b"1.1.1.1,,2.2.2.2"], Err(ForwardedError::BadEntry(1))),
            (&[b"1.1.1.1:443"], Err(ForwardedError::BadEntry(0))),
            (&[b"unknown"], Err(ForwardedError::BadEntry(0))),
        ];
        for (values, want) in cases {
            assert_eq!(
                parse_forwarded_for(values.iter().copied()),
                want,
                "{values:?}"
            );
        }
        let long = vec!["9.9.9.9"; MAX_FORWARDED_ENTRIES + 1].join(",");
        assert_eq!(
            parse_forwarded_for([long.as_bytes()]),
            Err(ForwardedError::TooMany)
        );
    }

    #[test]
    fn client_address_believes_forwarded_for_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let with_xff = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert("x-forwarded-for", http::HeaderValue::from_static(v));
            h
        };
        let cases = [
            // Untrusted peer: its own address, whatever the header says.
            (
                "198.51.100.1",
                with_xff("203.0.113.9"),
                Some("198.51.100.1"),
            ),
            (
                "::ffff:198.51.100.1",
                HeaderMap::new(),
                Some("198.51.100.1"),
            ),
            // Trusted peer: right-most untrusted entry; spoofed left entries ignored.
            (
                "10.0.0.2",
                with_xff("1.2.3.4, 203.0.113.9, 10.0.0.7"),
                Some("203.0.113.9"),
            ),
            // Trusted peer without a usable chain: no address at all.
            ("10.0.0.2", HeaderMap::new(), None),
            ("10.0.0.2", with_xff("10.0.0.3"), None),
            ("10.0.0.2", with_xff("203.0.113.9, garbage"), None),
        ];
        for (peer, headers, want) in cases {
            assert_eq!(
                client_addr(ip(peer), &headers, &trusted),
                want.map(ip),
                "peer {peer} {headers:?}"
            );
        }
    }
}
