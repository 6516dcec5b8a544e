//! Jurisdiction codes: what counts as a plausible code, and how a GeoIP
//! country becomes a jurisdiction.
//!
//! This module only shapes codes; it does not decide whether a source is
//! trusted (the sources do) or what a jurisdiction permits (the policy does).

/// Normalises a claimed jurisdiction code: 2–8 characters of `A–Z`, `0–9`
/// or `-`, upper-cased. Anything else is `None`, so a malformed claim gives
/// no jurisdiction rather than a surprising one.
#[must_use]
pub fn normalize_jurisdiction(value: &str) -> Option<String> {
    let plausible = (2..=8).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        // A code of only dashes is not a code.
        && value.bytes().any(|b| b.is_ascii_alphanumeric());
    plausible.then(|| value.to_ascii_uppercase())
}

/// ISO 3166-1 alpha-2 codes of the European Union member states. Their data
/// subjects share one jurisdiction (`EU`), so GeoIP maps them there.
const EU_MEMBER_STATES: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// The jurisdiction of an ISO 3166-1 alpha-2 country code: `EU` for member
/// states of the European Union, the code itself otherwise. `None` when the
/// code is not two ASCII letters.
#[must_use]
pub fn country_to_jurisdiction(iso_code: &str) -> Option<String> {
    if iso_code.len() != 2 || !iso_code.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let code = iso_code.to_ascii_uppercase();
    // Greece is `GR` in ISO 3166 but `EL` in some EU tables; GeoIP uses ISO.
    if EU_MEMBER_STATES.contains(&code.as_str()) {
        Some("EU".to_string())
    } else {
        Some(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_codes_are_upper_cased_and_others_refused() {
        let cases = [
            ("us", Some("US")),
            ("EU", Some("EU")),
            ("us-ca", Some("US-CA")),
            ("ABCDEFGH", Some("ABCDEFGH")),
            ("A", None),
            ("ABCDEFGHI", None),
            ("", None),
            ("--", None),
            ("U S", None),
            ("US;", None),
            ("ÜS", None),
            ("US\n", None),
        ];
        for (input, want) in cases {
            assert_eq!(
                normalize_jurisdiction(input).as_deref(),
                want,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn eu_members_map_to_eu_and_others_keep_their_code() {
        let cases = [
            ("DE", Some("EU")),
            ("fr", Some("EU")),
            ("IE", Some("EU")),
            ("US", Some("US")),
            ("GB", Some("GB")),
            ("CH", Some("CH")),
            ("USA", None),
            ("1X", None),
        ];
        for (input, want) in cases {
            assert_eq!(
                country_to_jurisdiction(input).as_deref(),
                want,
                "input {input:?}"
            );
        }
    }
}
