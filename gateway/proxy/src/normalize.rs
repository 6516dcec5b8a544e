//! Request normalisation: the first step of the request path.
//!
//! [`normalize_path`] turns a raw origin-form request target into one
//! canonical path that is both classified (route table, policy input) and
//! forwarded, so the gateway and the upstream can never disagree about which
//! resource a request names. Ambiguous input is rejected, not repaired.
//! [`check_headers`] rejects header sets that framing or routing could read
//! two ways (request smuggling), and [`sanitize_request_headers`] strips
//! hop-by-hop headers and any client-supplied `x-jurisgate-*` header before
//! attribution sets the trusted ones.
//!
//! Everything here is a pure function: no I/O, no allocation beyond the
//! output. Absolute-form targets (`GET http://host/path`) are the caller's
//! job: it passes their path and query.

use http::{HeaderMap, HeaderName, Version, header};

/// Longest request target (path and query, in bytes) that is accepted.
pub const MAX_TARGET_LEN: usize = 8 * 1024;

/// Largest total size of all header names and values, in bytes.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Headers that describe one connection rather than the message (RFC 9110
/// §7.6.1, plus the legacy `proxy-connection` and `trailer`): never forwarded
/// in either direction.
pub(crate) const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Prefix of the headers only the gateway may set.
pub(crate) const GATEWAY_PREFIX: &str = "x-jurisgate-";

/// The canonical form of an accepted request target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedTarget {
    /// Canonical, percent-encoded path: it starts with `/`, has no empty,
    /// `.` or `..` segments, escapes only bytes outside RFC 3986 `pchar`
    /// (with upper-case hex digits) and never escapes an unreserved
    /// character. It is what the route table sees and what the upstream gets.
    pub path: String,
    /// The query exactly as received (without the `?`), after validation.
    pub query: Option<String>,
}

/// Why a request was refused (the proxy answers 400).
///
/// `reason` is one of: `too_long`, `not_origin_form`, `fragment`, `nul`,
/// `control_char`, `invalid_char` (query only), `backslash`, `encoded_slash`,
/// `encoded_backslash`, `double_encoding`, `bad_percent_encoding`,
/// `invalid_utf8`, `dot_segment_escapes`, `dot_segment_parameter` (from
/// [`normalize_path`]) and `duplicate_host`, `missing_host`, `invalid_host`,
/// `host_authority_mismatch`, `invalid_content_length`,
/// `conflicting_content_length`, `content_length_with_transfer_encoding`,
/// `unsupported_transfer_encoding`, `connection_specific_header`,
/// `connection_names_protected`, `invalid_connection`, `headers_too_large`
/// (from [`check_headers`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Rejection {
    /// Machine-readable reason, stable across releases (recorded in the audit log).
    pub reason: &'static str,
    /// Human-readable detail naming the offending byte, offset or header.
    pub detail: String,
}

impl Rejection {
    fn new(reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}

/// Normalises a raw origin-form request target (`/path?query`).
///
/// The path is decoded and normalised exactly once:
/// 1. escapes of unreserved characters (`ALPHA DIGIT - . _ ~`) are decoded,
///    the hex digits of all other escapes are upper-cased, and printable
///    bytes outside `pchar` (such as `"` or `|`, or raw UTF-8) are escaped;
/// 2. empty segments are dropped, so `//` collapses to `/` (as nginx's
///    `merge_slashes` does). A trailing `/` is kept, since `/a/` and `/a` can
///    name different resources. This happens before step 3, so `/a//../b` is
///    `/b`, not RFC 3986's `/a/b`; that is safe because the upstream receives
///    the same collapsed path that was classified;
/// 3. dot-segments are removed as in RFC 3986 §5.2.4, except that a `..`
///    that would climb above the root is rejected rather than clamped.
///
/// Rejected (see [`Rejection`] for the reasons): targets longer than
/// [`MAX_TARGET_LEN`], before or after canonicalisation; paths not starting
/// with `/`; a `#`; raw or encoded NUL or other control characters; a raw
/// `\`, `%5C` or `%2F` (a backend that decodes them would see other
/// segments than the route table); `%25` followed by the escape of `/`,
/// `\`, `.` or NUL (a backend that decodes twice would); a segment that is
/// `.` or `..` followed by `;` parameters (Tomcat reads `..;` as `..`);
/// invalid escapes; and paths whose decoded bytes are not UTF-8 (overlong
/// forms such as `%C0%AE`). The query is kept as received once it has no
/// control characters, `#`, space, `"`, `<`, `>`, `%00` or invalid escapes
/// (raw UTF-8 is kept, as hyper accepts it).
///
/// A canonical path normalises to itself.
///
/// # Errors
/// A [`Rejection`] naming the reason and the byte offset at fault.
pub fn normalize_path(raw: &str) -> Result<NormalizedTarget, Rejection> {
    if raw.len() > MAX_TARGET_LEN {
        return Err(Rejection::new(
            "too_long",
            format!(
                "request target is {} bytes, the limit is {MAX_TARGET_LEN}",
                raw.len()
            ),
        ));
    }
    let (path, query) = match raw.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (raw, None),
    };
    if let Some(query) = query {
        check_query(query, path.len() + 1)?;
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(Rejection::new(
            "not_origin_form",
            format!(
                "the path must start with '/', it starts with {:?}",
                path.chars().next()
            ),
        ));
    };

    let path = if is_plainly_canonical(rest) {
        // Most requests: nothing to decode, escape or remove.
        path.to_owned()
    } else {
        canonical_path(rest, raw.len())?
    };
    // Escaping can make the canonical form longer than the input; it must
    // fit the limit too, or it would not normalise to itself.
    let canonical_len = path.len() + query.map_or(0, |q| q.len() + 1);
    if canonical_len > MAX_TARGET_LEN {
        return Err(Rejection::new(
            "too_long",
            format!(
                "the canonical request target is {canonical_len} bytes, the limit is {MAX_TARGET_LEN}"
            ),
        ));
    }
    Ok(NormalizedTarget {
        path,
        query: query.map(str::to_owned),
    })
}

/// Whether `/rest` is canonical as it stands: only `pchar` bytes (no
/// escapes), no empty segment but the last (a trailing slash), and no
/// segment that is `.` or `..`, with or without `;` parameters.
/// [`canonical_path`] returns such a path unchanged.
fn is_plainly_canonical(rest: &str) -> bool {
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        let before_params = segment.split(';').next().unwrap_or_default();
        if (segment.is_empty() && !last)
            || matches!(before_params, "." | "..")
            || !segment.bytes().all(is_pchar)
        {
            return false;
        }
    }
    true
}

/// The canonical form of the path `/rest` (see [`normalize_path`]).
fn canonical_path(rest: &str, capacity: usize) -> Result<String, Rejection> {
    let mut kept: Vec<String> = Vec::new();
    let mut trailing_slash = false;
    let mut offset = 1;
    for raw_segment in rest.split('/') {
        let segment = canonical_segment(raw_segment, offset)?;
        // Only the last segment decides the trailing slash; the flag is
        // overwritten for every segment.
        trailing_slash = true;
        match segment.as_str() {
            "" | "." => {}
            ".." => {
                if kept.pop().is_none() {
                    return Err(Rejection::new(
                        "dot_segment_escapes",
                        format!("the '..' segment at byte {offset} climbs above the root"),
                    ));
                }
            }
            _ => {
                kept.push(segment);
                trailing_slash = false;
            }
        }
        offset += raw_segment.len() + 1;
    }

    let mut path = String::with_capacity(capacity);
    for segment in &kept {
        path.push('/');
        path.push_str(segment);
    }
    if path.is_empty() || trailing_slash {
        path.push('/');
    }
    Ok(path)
}

/// The canonical form of one path segment (no `/` inside) that starts at
/// byte `offset` of the target; also checks its decoded form.
fn canonical_segment(raw: &str, offset: usize) -> Result<String, Rejection> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    // Every byte the segment stands for, so UTF-8 and `..;` are checked on
    // what a decoding backend would see.
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let at = offset + i;
        let b = bytes[i];
        if b == b'%' {
            let byte = escape_at(bytes, i).ok_or_else(|| bad_escape(bytes, i, at))?;
            match byte {
                0 => return Err(Rejection::new("nul", format!("%00 at byte {at}"))),
                b'/' => {
                    return Err(Rejection::new("encoded_slash", format!("%2F at byte {at}")));
                }
                b'\\' => {
                    return Err(Rejection::new(
                        "encoded_backslash",
                        format!("%5C at byte {at}"),
                    ));
                }
                c if c.is_ascii_control() => {
                    return Err(Rejection::new(
                        "control_char",
                        format!("escaped control character 0x{c:02X} at byte {at}"),
                    ));
                }
                c if is_unreserved(c) => out.push(char::from(c)),
                c => push_escape(&mut out, c),
            }
            decoded.push(byte);
            i += 3;
            continue;
        }
        match b {
            0 => return Err(Rejection::new("nul", format!("NUL byte at byte {at}"))),
            b'\\' => return Err(Rejection::new("backslash", format!("'\\' at byte {at}"))),
            b'#' => return Err(Rejection::new("fragment", format!("'#' at byte {at}"))),
            c if c.is_ascii_control() => {
                return Err(Rejection::new(
                    "control_char",
                    format!("control character 0x{c:02X} at byte {at}"),
                ));
            }
            c if is_pchar(c) => out.push(char::from(c)),
            // Printable ASCII outside pchar and raw UTF-8 bytes: escaped, so
            // that `"` and `%22` are one path, and the output is always a
            // valid URI path.
            c => push_escape(&mut out, c),
        }
        decoded.push(b);
        i += 1;
    }

    // Checked on the canonical form, where escaped hex digits are already
    // decoded: `%25%32F` is `%252F` too.
    let canonical = out.as_bytes();
    if let Some(j) = (0..canonical.len()).find(|&j| {
        canonical[j..].starts_with(b"%25")
            && double_encoded(canonical, j + 3).is_some_and(is_double_encoding_target)
    }) {
        return Err(Rejection::new(
            "double_encoding",
            format!(
                "the segment at byte {offset} reads {:?} once decoded, an escape of '/', '\\', '.' or NUL",
                String::from_utf8_lossy(&canonical[j..j + 5]).replacen("%25", "%", 1)
            ),
        ));
    }
    if let Err(e) = std::str::from_utf8(&decoded) {
        return Err(Rejection::new(
            "invalid_utf8",
            format!(
                "the segment at byte {offset} does not decode to UTF-8 (decoded byte {} starts an invalid sequence)",
                e.valid_up_to()
            ),
        ));
    }
    if let Some(semicolon) = decoded.iter().position(|&b| b == b';')
        && matches!(&decoded[..semicolon], b"." | b"..")
    {
        return Err(Rejection::new(
            "dot_segment_parameter",
            format!("the segment at byte {offset} is a dot-segment with ';' parameters"),
        ));
    }
    Ok(out)
}

/// The byte encoded by a valid `%XX` escape at `bytes[i]`, if there is one.
fn escape_at(bytes: &[u8], i: usize) -> Option<u8> {
    (bytes.get(i) == Some(&b'%')).then(|| double_encoded(bytes, i + 1))?
}

/// The byte that the two hex digits at `bytes[i..]` encode: for the digits
/// after `%25`, what a second decoding yields.
fn double_encoded(bytes: &[u8], i: usize) -> Option<u8> {
    match bytes.get(i..i + 2)? {
        [hi, lo] => Some(hex_value(*hi)? << 4 | hex_value(*lo)?),
        _ => None,
    }
}

fn bad_escape(bytes: &[u8], i: usize, at: usize) -> Rejection {
    let end = bytes.len().min(i + 3);
    Rejection::new(
        "bad_percent_encoding",
        format!(
            "'%' at byte {at} is not followed by two hex digits (found {:?})",
            String::from_utf8_lossy(&bytes[i..end])
        ),
    )
}

fn is_double_encoding_target(byte: u8) -> bool {
    matches!(byte, b'/' | b'\\' | b'.' | 0)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

fn push_escape(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 0x0F)]));
}

/// RFC 3986 §2.3 unreserved characters.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 §3.3 `pchar`, less `%` (escapes are handled on their own).
fn is_pchar(byte: u8) -> bool {
    is_unreserved(byte)
        || matches!(
            byte,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
}

/// Validates the query, which starts at byte `offset` of the target.
fn check_query(query: &str, offset: usize) -> Result<(), Rejection> {
    let bytes = query.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let at = offset + i;
        match b {
            0 => {
                return Err(Rejection::new(
                    "nul",
                    format!("NUL byte in the query at byte {at}"),
                ));
            }
            b'#' => return Err(Rejection::new("fragment", format!("'#' at byte {at}"))),
            b'%' => match escape_at(bytes, i) {
                None => return Err(bad_escape(bytes, i, at)),
                Some(0) => {
                    return Err(Rejection::new(
                        "nul",
                        format!("%00 in the query at byte {at}"),
                    ));
                }
                Some(_) => {}
            },
            c if c.is_ascii_control() => {
                return Err(Rejection::new(
                    "control_char",
                    format!("control character 0x{c:02X} in the query at byte {at}"),
                ));
            }
            // The query is forwarded as received, so it must be one the
            // `http` crate accepts (raw UTF-8 included, as hyper does).
            b' ' | b'"' | b'<' | b'>' => {
                return Err(Rejection::new(
                    "invalid_char",
                    format!(
                        "{:?} must be percent-encoded in the query (byte {at})",
                        char::from(b)
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Removes the headers a client must not pass to the upstream: hop-by-hop
/// headers (RFC 9110 §7.6.1: `connection`, `keep-alive`, `proxy-connection`,
/// `te`, `trailer`, `transfer-encoding`, `upgrade`), every header named in
/// `Connection`, and every `x-jurisgate-*` header (only the gateway sets
/// those, after attribution).
///
/// Run [`check_headers`] first: it refuses a `Connection` header that names
/// `Host` or the framing headers instead of letting this function drop them.
pub fn sanitize_request_headers(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    let ours: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with(GATEWAY_PREFIX))
        .cloned()
        .collect();
    for name in ours {
        headers.remove(name);
    }
}

/// Headers a `Connection` header may not name: dropping them would change
/// how the request is routed, framed or attributed.
const PROTECTED_FROM_CONNECTION: [&str; 4] = [
    "host",
    "content-length",
    "transfer-encoding",
    "authorization",
];

/// Rejects header sets that can be read two ways.
///
/// Checked: at most one `Host`, and exactly one for HTTP/1.1 (RFC 9112
/// §3.2); a valid `Host` without user info; `Content-Length` values that are
/// all the same decimal number; not both `Content-Length` and
/// `Transfer-Encoding`; `Transfer-Encoding` only as a single `chunked` in
/// HTTP/1.1; no connection-specific headers in HTTP/2 or later (`te` only as
/// `trailers`); a `Connection` header made of header names that does not
/// name `Host`, `Content-Length`, `Transfer-Encoding` or `Authorization`;
/// and at most [`MAX_HEADER_BYTES`] of headers. hyper already refuses some
/// of these; they are checked here again so the rules do not depend on a
/// hyper version. When the request also carries an authority (HTTP/2
/// `:authority`, or an absolute-form target), call [`check_authority`] too.
///
/// # Errors
/// A [`Rejection`] naming the reason and the header at fault.
pub fn check_headers(headers: &HeaderMap, version: Version) -> Result<(), Rejection> {
    let total: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if total > MAX_HEADER_BYTES {
        return Err(Rejection::new(
            "headers_too_large",
            format!("headers take {total} bytes, the limit is {MAX_HEADER_BYTES}"),
        ));
    }
    check_host(headers, version)?;
    check_framing(headers, version)?;
    check_connection(headers, version)
}

/// Rejects a request whose `Host` header names another authority than its
/// target (`uri.authority()`: HTTP/2 `:authority` or an absolute-form
/// target), compared case-insensitively, since routing reads one and the
/// upstream may read the other. Without a `Host` header there is nothing to
/// compare.
///
/// # Errors
/// A `host_authority_mismatch` [`Rejection`] naming both values.
pub fn check_authority(headers: &HeaderMap, authority: &str) -> Result<(), Rejection> {
    for host in headers.get_all(header::HOST) {
        if !host
            .to_str()
            .is_ok_and(|h| h.eq_ignore_ascii_case(authority))
        {
            return Err(Rejection::new(
                "host_authority_mismatch",
                format!("Host {host:?} differs from the request authority {authority:?}"),
            ));
        }
    }
    Ok(())
}

fn check_host(headers: &HeaderMap, version: Version) -> Result<(), Rejection> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(Rejection::new(
            "duplicate_host",
            "more than one Host header",
        ));
    }
    let Some(host) = host else {
        if version == Version::HTTP_11 {
            return Err(Rejection::new(
                "missing_host",
                "an HTTP/1.1 request needs a Host header",
            ));
        }
        return Ok(());
    };
    let valid = host.to_str().is_ok_and(|h| {
        !h.is_empty() && !h.contains('@') && h.parse::<http::uri::Authority>().is_ok()
    });
    if !valid {
        return Err(Rejection::new(
            "invalid_host",
            format!("Host {host:?} is not a valid host[:port]"),
        ));
    }
    Ok(())
}

fn check_framing(headers: &HeaderMap, version: Version) -> Result<(), Rejection> {
    let mut length: Option<&str> = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        // A list such as `5, 5` is one length said twice (RFC 9110 §8.6).
        for item in value.to_str().unwrap_or("\u{0}").split(',') {
            let item = item.trim();
            if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) || item.len() > 19 {
                return Err(Rejection::new(
                    "invalid_content_length",
                    format!("Content-Length {value:?} is not a decimal number"),
                ));
            }
            let item = item.trim_start_matches('0');
            match length {
                Some(seen) if seen != item => {
                    return Err(Rejection::new(
                        "conflicting_content_length",
                        format!(
                            "Content-Length says both {seen:?} and {item:?} (leading zeros removed)"
                        ),
                    ));
                }
                _ => length = Some(item),
            }
        }
    }

    let mut codings = headers.get_all(header::TRANSFER_ENCODING).iter();
    let Some(first) = codings.next() else {
        return Ok(());
    };
    if length.is_some() {
        return Err(Rejection::new(
            "content_length_with_transfer_encoding",
            "both Content-Length and Transfer-Encoding are present",
        ));
    }
    if version != Version::HTTP_11 {
        return Err(Rejection::new(
            "connection_specific_header",
            format!("Transfer-Encoding is not allowed in {version:?}"),
        ));
    }
    let chunked = first
        .to_str()
        .is_ok_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
    if !chunked || codings.next().is_some() {
        return Err(Rejection::new(
            "unsupported_transfer_encoding",
            format!("Transfer-Encoding must be a single 'chunked', it is {first:?}"),
        ));
    }
    Ok(())
}

fn check_connection(headers: &HeaderMap, version: Version) -> Result<(), Rejection> {
    if version >= Version::HTTP_2 {
        for name in [
            "connection",
            "keep-alive",
            "proxy-connection",
            "transfer-encoding",
            "upgrade",
        ] {
            if headers.contains_key(name) {
                return Err(Rejection::new(
                    "connection_specific_header",
                    format!("{name} is not allowed in {version:?} (RFC 9113 §8.2.2)"),
                ));
            }
        }
        for te in headers.get_all(header::TE) {
            if !te
                .to_str()
                .is_ok_and(|v| v.trim().eq_ignore_ascii_case("trailers"))
            {
                return Err(Rejection::new(
                    "connection_specific_header",
                    format!("te {te:?} is not allowed in {version:?}, only 'trailers'"),
                ));
            }
        }
        return Ok(());
    }
    for value in headers.get_all(header::CONNECTION) {
        let text = value.to_str().map_err(|_| {
            Rejection::new(
                "invalid_connection",
                format!("Connection {value:?} is not ASCII"),
            )
        })?;
        for token in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let name = HeaderName::from_bytes(token.as_bytes()).map_err(|_| {
                Rejection::new(
                    "invalid_connection",
                    format!("Connection lists {token:?}, which is not a header name"),
                )
            })?;
            if PROTECTED_FROM_CONNECTION.contains(&name.as_str()) {
                return Err(Rejection::new(
                    "connection_names_protected",
                    format!("Connection lists {token:?}, which a proxy may not drop"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn path_of(raw: &str) -> String {
        match normalize_path(raw) {
            Ok(target) => target.path,
            Err(e) => panic!("{raw:?} was rejected: {e}"),
        }
    }

    fn reason_of(raw: &str) -> &'static str {
        match normalize_path(raw) {
            Ok(target) => panic!("{raw:?} was accepted as {target:?}"),
            Err(e) => e.reason,
        }
    }

    #[test]
    fn canonical_forms() {
        let table = [
            ("/", "/"),
            ("/v1/users/42", "/v1/users/42"),
            ("/v1/users/42/", "/v1/users/42/"),
            ("/%7Euser/%41b%2dc", "/~user/Ab-c"),
            ("/a%2e%2E/b", "/a../b"),
            ("/a/%2e/b", "/a/b"),
            ("/a/%2E%2E/b", "/b"),
            ("/a/b/../c", "/a/c"),
            ("/a/b/..", "/a/"),
            ("/a/./b/.", "/a/b/"),
            ("/.", "/"),
            ("/a/..", "/"),
            ("//a///b//", "/a/b/"),
            ("/a//../b", "/b"),
            ("/a%3b/b%3a%40", "/a%3B/b%3A%40"),
            ("/a;v=1/b", "/a;v=1/b"),
            ("/...", "/..."),
            ("/a\"b|c", "/a%22b%7Cc"),
            ("/caf%C3%A9", "/caf%C3%A9"),
            ("/café", "/caf%C3%A9"),
            ("/%25", "/%25"),
            ("/%2541", "/%2541"),
        ];
        for (raw, canonical) in table {
            assert_eq!(path_of(raw), canonical, "normalising {raw:?}");
            assert_eq!(
                path_of(canonical),
                canonical,
                "{canonical:?} is not a fixed point"
            );
        }
    }

    #[test]
    fn query_is_kept_as_received() {
        let target = normalize_path("/a/../b?x=%2F..%2f&y=a/b\\c").unwrap();
        assert_eq!(target.path, "/b");
        assert_eq!(target.query.as_deref(), Some("x=%2F..%2f&y=a/b\\c"));
        assert_eq!(normalize_path("/b?").unwrap().query.as_deref(), Some(""));
        assert_eq!(normalize_path("/b").unwrap().query, None);
        let target = normalize_path("/b?q=café&j={|}").unwrap();
        assert_eq!(target.query.as_deref(), Some("q=café&j={|}"));
    }

    #[test]
    fn every_rejection_reason() {
        let long = format!("/{}", "a".repeat(MAX_TARGET_LEN));
        let table: [(&str, &str); 34] = [
            (&long, "too_long"),
            ("", "not_origin_form"),
            ("a/b", "not_origin_form"),
            ("*", "not_origin_form"),
            ("http://h/a", "not_origin_form"),
            ("?x", "not_origin_form"),
            ("/a#frag", "fragment"),
            ("/a?b#c", "fragment"),
            ("/a\0b", "nul"),
            ("/a%00b", "nul"),
            ("/a?x=%00", "nul"),
            ("/a\tb", "control_char"),
            ("/a%0d%0aHost:x", "control_char"),
            ("/a%7f", "control_char"),
            ("/a?x=\r\n", "control_char"),
            ("/a?x=\"1\"", "invalid_char"),
            ("/a\\..\\b", "backslash"),
            ("/a%2Fb", "encoded_slash"),
            ("/a%2fb", "encoded_slash"),
            ("/a%5cb", "encoded_backslash"),
            ("/a%252Fb", "double_encoding"),
            ("/%252e%252e/x", "double_encoding"),
            // Found by the normalize_path fuzz target: `%32` is `2`.
            ("/caf%25%32F]53F", "double_encoding"),
            ("/a%25%35%63", "double_encoding"),
            ("/a%zz", "bad_percent_encoding"),
            ("/a%4", "bad_percent_encoding"),
            ("/a?x=%g0", "bad_percent_encoding"),
            ("/%C0%AE%C0%AE/etc", "invalid_utf8"),
            ("/%FF", "invalid_utf8"),
            ("/..", "dot_segment_escapes"),
            ("/a/../../etc/passwd", "dot_segment_escapes"),
            ("/%2e%2e/%2E%2E/etc", "dot_segment_escapes"),
            ("/a/..;/admin", "dot_segment_parameter"),
            ("/a/.%3Bx/b", "dot_segment_parameter"),
        ];
        for (raw, reason) in table {
            let got = reason_of(raw);
            assert_eq!(got, reason, "rejecting {raw:?}");
        }
    }

    #[test]
    fn canonical_form_must_fit_the_length_limit() {
        // Found by the normalize_path fuzz target: 3,001 raw bytes whose
        // canonical form (every space escaped) is 9,001 bytes.
        let raw = format!("/{}", " ".repeat(3000));
        assert!(raw.len() <= MAX_TARGET_LEN);
        let e = normalize_path(&raw).unwrap_err();
        assert_eq!(e.reason, "too_long");
        assert!(e.detail.contains("canonical"), "{e}");
        let fits = format!("/{}", " ".repeat((MAX_TARGET_LEN - 1) / 3));
        let target = normalize_path(&fits).unwrap();
        assert_eq!(normalize_path(&target.path), Ok(target));
    }

    #[test]
    fn rejection_names_the_offset() {
        let e = normalize_path("/abc/d%2Fe").unwrap_err();
        assert_eq!(e.reason, "encoded_slash");
        assert!(e.detail.contains("byte 6"), "{e}");
        let e = normalize_path("/ab?q=%zz").unwrap_err();
        assert!(e.detail.contains("byte 6"), "{e}");
    }

    /// Paths made of a few segments of unreserved and sub-delim characters
    /// (including dot-only segments that are still plain names).
    fn canonical_path() -> impl Strategy<Value = String> {
        let segment = "[A-Za-z0-9_~!$&'()*+,=:@-][A-Za-z0-9._~!$&'()*+,;=:@-]{0,8}";
        (prop::collection::vec(segment, 0..6), any::<bool>()).prop_map(|(segments, slash)| {
            let mut path = String::new();
            for s in &segments {
                path.push('/');
                path.push_str(s);
            }
            if path.is_empty() || slash {
                path.push('/');
            }
            path
        })
    }

    /// Re-encodes a canonical path: some unreserved characters become
    /// escapes with random hex case, some `/` are doubled, some `./` and
    /// `x/../` detours are added.
    fn disguise(path: &str, choices: &[u8]) -> String {
        let mut out = String::new();
        for (i, c) in path.chars().enumerate() {
            let choice = choices.get(i % choices.len().max(1)).copied().unwrap_or(0);
            match c {
                '/' if choice % 5 == 0 => out.push_str("//"),
                '/' if choice % 5 == 1 => out.push_str("/./"),
                '/' if choice % 5 == 2 => out.push_str("/zz/%2e%2E/"),
                c if c.is_ascii() && is_unreserved(c as u8) && choice % 3 == 0 => {
                    let escaped = format!("%{:02X}", c as u8);
                    if choice % 2 == 0 {
                        out.push_str(&escaped.to_ascii_lowercase());
                    } else {
                        out.push_str(&escaped);
                    }
                }
                c => out.push(c),
            }
        }
        out
    }

    /// Targets built from the pieces that make paths ambiguous: dots and
    /// their escapes, separators and theirs, `;`, any escape, odd bytes.
    fn hostile_target() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("/".to_string()),
            Just(".".to_string()),
            Just("..".to_string()),
            Just("%2e".to_string()),
            Just("%2E".to_string()),
            Just("%2f".to_string()),
            Just("%5C".to_string()),
            Just("%25".to_string()),
            Just(";".to_string()),
            Just("?".to_string()),
            "%[0-9a-fA-F]{2}",
            "[a-zA-Z0-9~_:@\"|{}^`\\[\\] -]{1,3}",
            any::<char>().prop_map(String::from),
        ];
        prop::collection::vec(piece, 0..24).prop_map(|pieces| format!("/{}", pieces.concat()))
    }

    static DISGUISED_CASES: AtomicUsize = AtomicUsize::new(0);

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn disguised_canonical_paths_normalise_back(
            path in canonical_path(),
            choices in prop::collection::vec(any::<u8>(), 1..32),
        ) {
            DISGUISED_CASES.fetch_add(1, Ordering::Relaxed);
            prop_assert_eq!(path_of(&path), path.clone());
            let disguised = disguise(&path, &choices);
            prop_assert_eq!(path_of(&disguised), path);
        }

        #[test]
        fn output_is_canonical_and_idempotent(raw in hostile_target()) {
            if let Ok(target) = normalize_path(&raw) {
                let path = &target.path;
                prop_assert!(path.starts_with('/'));
                for bad in ["/../", "/./", "//", "%2F", "%5C", "%00", "\\"] {
                    prop_assert!(!path.contains(bad), "{path:?} contains {bad:?}");
                }
                prop_assert!(!path.ends_with("/..") && !path.ends_with("/."), "{path:?}");
                let mut again = path.clone();
                if let Some(q) = &target.query {
                    again.push('?');
                    again.push_str(q);
                }
                prop_assert!(http::uri::PathAndQuery::try_from(again.as_str()).is_ok(), "{again:?}");
                prop_assert_eq!(normalize_path(&again), Ok(target));
            }
        }

        #[test]
        fn the_plain_fast_path_agrees_with_the_full_one(
            rest in "[a-z.;%2F]{0,4}(/[a-z.;%2F]{0,4}){0,4}"
        ) {
            if is_plainly_canonical(&rest) {
                prop_assert_eq!(super::canonical_path(&rest, 0), Ok(format!("/{rest}")));
            }
        }

        #[test]
        fn arbitrary_input_never_panics(raw in ".{0,64}") {
            let _ = normalize_path(&raw);
        }
    }

    #[test]
    fn disguise_cases_were_generated() {
        // Runs the property alone so the count is this test's own.
        disguised_canonical_paths_normalise_back();
        assert!(DISGUISED_CASES.load(Ordering::Relaxed) >= 2000);
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn sanitize_strips_hop_by_hop_named_and_ours() {
        let mut map = headers(&[
            ("host", "api.example.com"),
            ("connection", "keep-alive, x-trace-hop"),
            ("keep-alive", "timeout=5"),
            ("x-trace-hop", "1"),
            ("te", "trailers"),
            ("upgrade", "websocket"),
            ("proxy-connection", "keep-alive"),
            ("x-jurisgate-jurisdiction", "US"),
            ("x-jurisgate-region", "us-east"),
            ("x-jurisgatex", "kept"),
            ("authorization", "Bearer t"),
            ("user-agent", "curl"),
        ]);
        sanitize_request_headers(&mut map);
        let mut left: Vec<&str> = map.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(
            left,
            ["authorization", "host", "user-agent", "x-jurisgatex"]
        );
    }

    #[test]
    fn accepted_header_sets() {
        let v11 = Version::HTTP_11;
        let accepted: Vec<(HeaderMap, Version)> = vec![
            (headers(&[("host", "a.example:8443")]), v11),
            (headers(&[("host", "[::1]:8443")]), v11),
            (
                headers(&[("host", "a.example"), ("content-length", "5, 5")]),
                v11,
            ),
            (
                headers(&[
                    ("host", "a"),
                    ("content-length", "5"),
                    ("content-length", "05"),
                ]),
                v11,
            ),
            (
                headers(&[("host", "a"), ("transfer-encoding", "Chunked")]),
                v11,
            ),
            (
                headers(&[("connection", "close, te"), ("te", "trailers")]),
                Version::HTTP_10,
            ),
            (headers(&[("te", "trailers")]), Version::HTTP_2),
            (HeaderMap::new(), Version::HTTP_2),
        ];
        for (map, version) in accepted {
            assert_eq!(check_headers(&map, version), Ok(()), "{map:?} {version:?}");
        }
        check_authority(&headers(&[("host", "A.example")]), "a.example").unwrap();
        check_authority(&HeaderMap::new(), "a.example").unwrap();
    }

    #[test]
    fn host_must_match_the_authority() {
        let e = check_authority(&headers(&[("host", "a.example")]), "b.example").unwrap_err();
        assert_eq!(e.reason, "host_authority_mismatch");
        assert!(e.detail.contains("b.example"), "{e}");
        let e = check_authority(&headers(&[("host", "a.example:1")]), "a.example").unwrap_err();
        assert_eq!(e.reason, "host_authority_mismatch");
    }

    /// Headers, the request's version, and the reason they are refused.
    type HeaderCase<'a> = (Vec<(&'a str, &'a str)>, Version, &'static str);

    #[test]
    fn every_header_rejection_reason() {
        let v11 = Version::HTTP_11;
        let v2 = Version::HTTP_2;
        let big = "x".repeat(MAX_HEADER_BYTES);
        let table: Vec<HeaderCase<'_>> = vec![
            (vec![("host", "a"), ("host", "b")], v11, "duplicate_host"),
            (vec![("host", "a"), ("host", "a")], v11, "duplicate_host"),
            (vec![], v11, "missing_host"),
            (vec![("host", "user@a.example")], v11, "invalid_host"),
            (vec![("host", "a b")], v11, "invalid_host"),
            (vec![("host", "a/b")], v11, "invalid_host"),
            (vec![("host", "")], v11, "invalid_host"),
            (
                vec![("host", "a"), ("content-length", "5, 6")],
                v11,
                "conflicting_content_length",
            ),
            (
                vec![
                    ("host", "a"),
                    ("content-length", "5"),
                    ("content-length", "6"),
                ],
                v11,
                "conflicting_content_length",
            ),
            (
                vec![("host", "a"), ("content-length", "-1")],
                v11,
                "invalid_content_length",
            ),
            (
                vec![("host", "a"), ("content-length", "+5")],
                v11,
                "invalid_content_length",
            ),
            (
                vec![("host", "a"), ("content-length", "")],
                v11,
                "invalid_content_length",
            ),
            (
                vec![("host", "a"), ("content-length", "99999999999999999999")],
                v11,
                "invalid_content_length",
            ),
            (
                vec![
                    ("host", "a"),
                    ("content-length", "5"),
                    ("transfer-encoding", "chunked"),
                ],
                v11,
                "content_length_with_transfer_encoding",
            ),
            (
                vec![("host", "a"), ("transfer-encoding", "gzip, chunked")],
                v11,
                "unsupported_transfer_encoding",
            ),
            (
                vec![
                    ("host", "a"),
                    ("transfer-encoding", "chunked"),
                    ("transfer-encoding", "chunked"),
                ],
                v11,
                "unsupported_transfer_encoding",
            ),
            (
                vec![("host", "a"), ("transfer-encoding", "xchunked")],
                v11,
                "unsupported_transfer_encoding",
            ),
            (
                vec![("transfer-encoding", "chunked")],
                Version::HTTP_10,
                "connection_specific_header",
            ),
            (
                vec![("connection", "keep-alive")],
                v2,
                "connection_specific_header",
            ),
            (vec![("upgrade", "h2c")], v2, "connection_specific_header"),
            (vec![("te", "gzip")], v2, "connection_specific_header"),
            (
                vec![("host", "a"), ("connection", "close, Host")],
                v11,
                "connection_names_protected",
            ),
            (
                vec![("host", "a"), ("connection", "content-length")],
                v11,
                "connection_names_protected",
            ),
            (
                vec![("host", "a"), ("connection", "authorization")],
                v11,
                "connection_names_protected",
            ),
            (
                vec![("host", "a"), ("connection", "a b")],
                v11,
                "invalid_connection",
            ),
            (
                vec![("host", "a"), ("x-big", &big)],
                v11,
                "headers_too_large",
            ),
        ];
        for (pairs, version, reason) in table {
            let got = check_headers(&headers(&pairs), version);
            assert_eq!(
                got.map_err(|e| e.reason),
                Err(reason),
                "{pairs:?} {version:?}"
            );
        }
    }
}
