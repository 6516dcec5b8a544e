//! Property: for arbitrary header maps with no valid credential — random
//! names and values, gateway-internal and forwarding headers, garbage and
//! near-miss bearer tokens and signed headers — the subject is never
//! verified, and neither is the requester or any approval.

use std::sync::OnceLock;

use http::{HeaderMap, HeaderName, HeaderValue};
use jurisgate_attribution::Attributor;
use proptest::prelude::*;
use serde_json::json;

use crate::support::*;

struct World {
    fx: Fixture,
    attributor: Attributor,
    /// A real token's header.payload, to build near misses from.
    signed_part: String,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let fx = Fixture::new();
        let attributor = fx.all_sources();
        let token = fx.idp.sign(&fx.claims("alice", Some("US")));
        let signed_part = token.rsplit_once('.').unwrap().0.to_string();
        World {
            fx,
            attributor,
            signed_part,
        }
    })
}

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("authorization".to_string()),
        Just("x-identity".to_string()),
        Just("x-access-approval".to_string()),
        Just("x-jurisgate-jurisdiction".to_string()),
        Just("x-jurisgate-region".to_string()),
        Just("x-forwarded-for".to_string()),
        Just("forwarded".to_string()),
        Just("x-real-ip".to_string()),
        "x-jurisgate-[a-z-]{1,12}",
        "[a-z][a-z0-9-]{0,20}",
    ]
}

fn header_value() -> impl Strategy<Value = String> {
    let w = world();
    let signed_part = w.signed_part.clone();
    let alg_none = raw_token(
        &json!({"alg": "none"}),
        &w.fx.claims("alice", Some("US")),
        b"",
    );
    prop_oneof![
        "[ -~]{0,80}",
        "(US|EU|GB|CN|unknown)",
        "([0-9]{1,3}\\.){3}[0-9]{1,3}(, ?([0-9]{1,3}\\.){3}[0-9]{1,3}){0,3}",
        "Bearer [A-Za-z0-9_.-]{0,120}",
        "[A-Za-z0-9_-]{1,40}\\.[A-Za-z0-9_-]{1,40}\\.[A-Za-z0-9_-]{0,90}"
            .prop_map(|t| format!("Bearer {t}")),
        // The real header and payload with a forged signature.
        "[A-Za-z0-9_-]{0,90}".prop_map(move |sig| format!("Bearer {signed_part}.{sig}")),
        Just(format!("Bearer {alg_none}")),
        // Signed identity headers with forged signatures.
        (
            "[a-z]{1,8}",
            "(US|EU|GB)",
            1_799_999_900u64..1_800_000_100,
            "[A-Za-z0-9_-]{43}"
        )
            .prop_map(|(u, j, ts, sig)| format!("v1;user={u};jurisdiction={j};ts={ts};sig={sig}")),
    ]
}

fn peer_ip() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(GEO_DE.to_string()),
        Just(GEO_US.to_string()),
        Just(TRUSTED_PROXY.to_string()),
        Just(ELSEWHERE.to_string()),
        any::<[u8; 4]>().prop_map(|o| std::net::Ipv4Addr::from(o).to_string()),
        any::<[u16; 8]>().prop_map(|s| std::net::Ipv6Addr::from(s).to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_valid_credential_never_verifies(
        pairs in prop::collection::vec((header_name(), header_value()), 0..12),
        ip in peer_ip(),
    ) {
        let mut map = HeaderMap::new();
        for (name, value) in &pairs {
            if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                map.append(n, v);
            }
        }
        let got = world().attributor.attribute(&map, &peer(&ip), now());
        prop_assert!(!got.subject.verified, "{:?}", got);
        prop_assert!(got.subject.pseudonym.is_none(), "{:?}", got);
        prop_assert!(!got.requester.verified, "{:?}", got);
        prop_assert!(got.requester.approval.is_none(), "{:?}", got);
    }

    #[test]
    fn parsers_of_untrusted_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = jurisgate_attribution::extract_bearer(&bytes);
        let _ = jurisgate_attribution::decode_jwt_header(&bytes);
        let _ = jurisgate_attribution::parse_signed_header(&bytes);
        let _ = jurisgate_attribution::parse_jwks(&bytes);
        let _ = jurisgate_attribution::parse_forwarded_for([bytes.as_slice()]);
    }
}
