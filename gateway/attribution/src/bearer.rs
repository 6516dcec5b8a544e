//! Reading credentials out of request headers: exactly one header value, and
//! the token of an `Authorization: Bearer <token>` value.
//!
//! This module checks shape only (one value, the `Bearer` scheme, token
//! characters, a length cap); it verifies nothing.

use http::{HeaderMap, HeaderName, HeaderValue};

/// Longest bearer token accepted. Real identity tokens are a few KiB; the
/// cap keeps a hostile header from costing a large base64 decode.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why a header does not carry a usable credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    /// The header appears more than once, so which one counts is ambiguous.
    #[error("header `{0}` appears more than once")]
    Duplicated(String),
    /// The value does not start with the `Bearer` scheme.
    #[error("the value does not use the Bearer scheme")]
    NotBearer,
    /// The token is empty.
    #[error("the bearer token is empty")]
    Empty,
    /// The token is longer than [`MAX_TOKEN_BYTES`].
    #[error("the bearer token is {0} bytes, more than the {MAX_TOKEN_BYTES} accepted")]
    TooLong(usize),
    /// The token has a byte outside base64url and `.` (byte offset given).
    #[error("the bearer token has a byte outside base64url and '.' at offset {0}")]
    BadByte(usize),
}

/// The value of `name` when the header appears exactly once; `Ok(None)` when
/// absent. A duplicated credential header is refused, never resolved by
/// picking one, so a proxy and this gateway cannot read different values.
///
/// # Errors
/// [`BearerError::Duplicated`] when the header appears more than once.
pub fn single_value<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a HeaderValue>, BearerError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(BearerError::Duplicated(name.to_string()));
    }
    Ok(first)
}

/// The token of a `Bearer <token>` header value. The scheme is
/// case-insensitive (RFC 9110 §11.1); the token must be base64url characters
/// and dots, which every compact JWS is.
///
/// # Errors
/// A [`BearerError`] saying which part of the value is wrong.
pub fn extract_bearer(value: &[u8]) -> Result<&str, BearerError> {
    const SCHEME: &[u8] = b"bearer ";
    if value.len() < SCHEME.len() || !value[..SCHEME.len()].eq_ignore_ascii_case(SCHEME) {
        return Err(BearerError::NotBearer);
    }
    let rest = &value[SCHEME.len()..];
    let start = rest.iter().position(|b| *b != b' ').unwrap_or(rest.len());
    let end = rest
        .iter()
        .rposition(|b| *b != b' ')
        .map_or(start, |i| i + 1);
    let token = &rest[start..end];
    if token.is_empty() {
        return Err(BearerError::Empty);
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(BearerError::TooLong(token.len()));
    }
    if let Some(i) = token
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
    {
        return Err(BearerError::BadByte(SCHEME.len() + start + i));
    }
    // All bytes are ASCII, checked just above.
    std::str::from_utf8(token).map_err(|_| BearerError::BadByte(SCHEME.len() + start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_values_table() {
        let cases: [(&[u8], Result<&str, BearerError>); 9] = [
            (b"Bearer abc.def.ghi", Ok("abc.def.ghi")),
            (b"bearer   a-b_c.d.e  ", Ok("a-b_c.d.e")),
            (b"BEARER x.y.z", Ok("x.y.z")),
            (b"Basic dXNlcjpwYXNz", Err(BearerError::NotBearer)),
            (b"Bearer", Err(BearerError::NotBearer)),
            (b"Bearer    ", Err(BearerError::Empty)),
            (b"Bearer a.b c", Err(BearerError::BadByte(10))),
            (b"Bearer a.b=", Err(BearerError::BadByte(10))),
            (b"Bearer \xff.b", Err(BearerError::BadByte(7))),
        ];
        for (input, want) in cases {
            assert_eq!(
                extract_bearer(input),
                want,
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
        let long = [b"Bearer ".as_slice(), &vec![b'a'; MAX_TOKEN_BYTES + 1]].concat();
        assert_eq!(
            extract_bearer(&long),
            Err(BearerError::TooLong(MAX_TOKEN_BYTES + 1))
        );
    }

    #[test]
    fn duplicated_header_is_refused() {
        let name = HeaderName::from_static("authorization");
        let mut headers = HeaderMap::new();
        assert_eq!(single_value(&headers, &name), Ok(None));
        headers.append(&name, HeaderValue::from_static("Bearer a.b.c"));
        assert!(single_value(&headers, &name).unwrap().is_some());
        headers.append(&name, HeaderValue::from_static("Bearer d.e.f"));
        assert_eq!(
            single_value(&headers, &name),
            Err(BearerError::Duplicated("authorization".into()))
        );
    }
}
