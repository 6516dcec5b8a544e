//! The cache of verified tokens, through `Attributor::attribute`: an
//! attributor that remembers tokens says exactly what one that verifies
//! every token anew (`token_cache = 0`) says, whatever the token and time.

use std::sync::OnceLock;
use std::time::Duration;

use jurisgate_attribution::dev_idp::DevIdp;
use jurisgate_attribution::{Attribution, Attributor, Source};
use jurisgate_config::AttributionSource;
use proptest::prelude::*;

use crate::support::*;

/// The JWT source of `fx` remembering up to `entries` tokens.
fn jwt_with_cache(fx: &Fixture, entries: usize) -> AttributionSource {
    let AttributionSource::Jwt(mut jwt) = fx.jwt() else {
        unreachable!("Fixture::jwt is a jwt source")
    };
    jwt.token_cache = entries;
    AttributionSource::Jwt(jwt)
}

fn attribute(attributor: &Attributor, token: &str, at_secs: u64) -> Attribution {
    attributor.attribute(
        &headers(&[("authorization", &bearer(token))]),
        &peer(ELSEWHERE),
        std::time::UNIX_EPOCH + Duration::from_secs(at_secs),
    )
}

#[test]
fn a_cached_token_gives_the_facts_of_a_fresh_verification() {
    let fx = Fixture::new();
    let cached = fx.attributor(vec![fx.jwt(), fx.directory()]);
    let fresh = fx.attributor(vec![jwt_with_cache(&fx, 0), fx.directory()]);
    let mut employee = fx.claims("emp-7", Some("EU"));
    employee["kind"] = "employee".into();
    employee["location"] = "de".into();
    employee["org"] = "support".into();
    let tokens = [
        fx.idp.sign(&fx.claims("alice", Some("US"))),
        fx.sign_rs256(Some(RSA_KID), &fx.claims("bob", Some("EU"))),
        fx.sign_es256(Some(EC_KID), &employee),
        // No jurisdiction claim: the directory answers for the verified `sub`.
        fx.idp.sign(&fx.claims("mallory", None)),
    ];
    for token in &tokens {
        let want = attribute(&fresh, token, NOW_SECS);
        assert!(want.subject.verified && want.requester.verified, "{want:?}");
        // The first call verifies and stores, the next ones are hits.
        for later in [0, 1, 600] {
            let got = attribute(&cached, token, NOW_SECS + later);
            assert_eq!(got, want, "{later} s after the first use");
        }
    }
    let employee = attribute(&cached, &tokens[2], NOW_SECS);
    assert_eq!(
        (
            employee.requester.id.as_deref(),
            employee.requester.location.as_deref()
        ),
        (Some("emp-7"), Some("DE"))
    );
    assert_eq!(
        attribute(&cached, &tokens[3], NOW_SECS).subject.source,
        Source::Directory
    );
}

#[test]
fn a_token_that_expires_after_being_cached_is_refused() {
    let fx = Fixture::new();
    let attributor = fx.attributor(vec![fx.jwt()]);
    let token = fx.idp.sign(&fx.claims("alice", Some("US")));
    assert!(attribute(&attributor, &token, NOW_SECS).subject.verified);
    // `exp` is an hour after NOW_SECS; the leeway is 30 s.
    let last_valid = NOW_SECS + 3600 + 30;
    assert!(attribute(&attributor, &token, last_valid).subject.verified);
    let expired = attribute(&attributor, &token, last_valid + 1);
    assert!(
        !expired.subject.verified && !expired.requester.verified,
        "{expired:?}"
    );
    assert_eq!(expired.subject.pseudonym, None);
}

#[test]
fn a_key_rotated_out_of_the_jwks_stops_its_cached_tokens() {
    // Keys are read when the attributor is built (at start-up); rotating
    // means a new JWKS file and a new attributor, with a new, empty cache.
    let fx = Fixture::new();
    let jwks = fx.dir.path().join("rotating-jwks.json");
    let old = DevIdp::generate(ISSUER, AUDIENCE);
    std::fs::write(&jwks, old.jwks_json()).unwrap();
    let source = || {
        let AttributionSource::Jwt(mut jwt) = fx.jwt() else {
            unreachable!("Fixture::jwt is a jwt source")
        };
        jwt.jwks = jwks.clone();
        AttributionSource::Jwt(jwt)
    };
    let before = fx.attributor(vec![source()]);
    let old_token = old.sign(&fx.claims("alice", Some("US")));
    assert!(attribute(&before, &old_token, NOW_SECS).subject.verified);
    assert!(
        attribute(&before, &old_token, NOW_SECS + 1)
            .subject
            .verified
    );

    // The new key has the same `kid` as the old one, as a careless IdP might.
    let new = DevIdp::generate(ISSUER, AUDIENCE);
    std::fs::write(&jwks, new.jwks_json()).unwrap();
    let after = fx.attributor(vec![source()]);
    let refused = attribute(&after, &old_token, NOW_SECS + 2);
    assert!(
        !refused.subject.verified && !refused.requester.verified,
        "{refused:?}"
    );
    let new_token = new.sign(&fx.claims("alice", Some("US")));
    assert!(attribute(&after, &new_token, NOW_SECS + 2).subject.verified);
}

/// Attributors sharing one fixture: `cached` lives across cases (so valid
/// tokens are hits after their first case), `fresh` remembers nothing.
struct World {
    /// Holds the key files.
    _fx: Fixture,
    cached: Attributor,
    fresh: Attributor,
    tokens: Vec<String>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let fx = Fixture::new();
        let cached = fx.attributor(vec![fx.jwt(), fx.directory()]);
        let fresh = fx.attributor(vec![jwt_with_cache(&fx, 0), fx.directory()]);
        let mut nbf = fx.claims("bob", None);
        nbf["nbf"] = (NOW_SECS + 600).into();
        let tokens = vec![
            fx.idp.sign(&fx.claims("alice", Some("US"))),
            fx.sign_rs256(Some(RSA_KID), &fx.claims("bob", Some("EU"))),
            fx.sign_es256(None, &fx.claims("carol", Some("GB"))),
            fx.idp.sign(&nbf),
        ];
        World {
            _fx: fx,
            cached,
            fresh,
            tokens,
        }
    })
}

/// A change to a token's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    None,
    /// Replace the byte at this position (mod length) with this character.
    Replace(usize, char),
    /// Flip one bit of the byte at this position; may leave base64url.
    FlipBit(usize, u8),
    /// Keep only this many bytes (mod length).
    Truncate(usize),
    /// Insert this character at this position.
    Insert(usize, char),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let base64url = prop::sample::select(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
            .chars()
            .collect::<Vec<_>>(),
    );
    prop_oneof![
        Just(Mutation::None),
        (any::<usize>(), base64url.clone()).prop_map(|(i, c)| Mutation::Replace(i, c)),
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), base64url).prop_map(|(i, c)| Mutation::Insert(i, c)),
    ]
}

fn mutate(token: &str, mutation: &Mutation) -> String {
    let mut bytes = token.as_bytes().to_vec();
    match *mutation {
        Mutation::None => {}
        Mutation::Replace(i, c) => bytes[i % token.len()] = c as u8,
        Mutation::FlipBit(i, b) => bytes[i % token.len()] ^= 1 << b,
        Mutation::Truncate(n) => bytes.truncate(n % token.len()),
        Mutation::Insert(i, c) => bytes.insert(i % (token.len() + 1), c as u8),
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn cached_and_uncached_attribution_agree(
        which in 0usize..4,
        changes in prop::collection::vec(mutation(), 1..3),
        // From before `nbf`-leeway of the nbf token to past `exp`+leeway.
        offset in 0u64..4000,
    ) {
        let w = world();
        let token = changes
            .iter()
            .fold(w.tokens[which].clone(), |t, m| mutate(&t, m));
        let Ok(value) = http::HeaderValue::from_str(&bearer(&token)) else {
            // Not a header value at all: no request could carry it.
            return Ok(());
        };
        let mut map = http::HeaderMap::new();
        map.insert(http::header::AUTHORIZATION, value);
        let at = now() + Duration::from_secs(offset);
        let want = w.fresh.attribute(&map, &peer(ELSEWHERE), at);
        // Twice: the first may store the token, the second is then a hit.
        for round in 0..2 {
            let got = w.cached.attribute(&map, &peer(ELSEWHERE), at);
            prop_assert_eq!(&got, &want, "round {}, token {}", round, token);
        }
        if changes.iter().all(|m| matches!(m, Mutation::None)) {
            let valid = offset <= 3630 && (which != 3 || offset >= 570);
            prop_assert_eq!(want.subject.verified, valid, "offset {}", offset);
        } else if token != w.tokens[which] {
            prop_assert!(!want.requester.verified, "a changed token verified: {}", token);
        }
    }
}

#[test]
fn rotated_keys_are_read_again_and_the_old_keys_tokens_stop_counting() {
    let fx = Fixture::new();
    let attributor = fx.attributor(vec![fx.jwt()]);
    let verified = |token: &str| attribute(&attributor, token, NOW_SECS).subject.verified;
    let old = fx.idp.sign(&fx.claims("alice", Some("US")));
    assert!(verified(&old), "the old key's token, now cached");

    // The identity provider rotates: its JWKS now holds only the new key.
    let rotated = DevIdp::generate(ISSUER, AUDIENCE);
    let new = rotated.sign(&fx.claims("alice", Some("US")));
    std::fs::write(&fx.jwks, rotated.jwks_json()).unwrap();
    assert!(
        !verified(&new),
        "nothing changes until the keys are reloaded"
    );
    assert!(verified(&old));

    let before = attributor.key_set_ids(None);
    let read = attributor.read_keys();
    assert_eq!((read.changed(), read.refused.len()), (1, 0));
    let pending = attributor.key_set_ids(Some(&read));
    assert!(
        !verified(&new),
        "read is not use: the caller records the new keys first"
    );
    assert_eq!(attributor.key_set_ids(None), before);
    attributor.use_keys(read);
    let after = attributor.key_set_ids(None);
    assert_eq!(after, pending, "what was recorded is what is used");
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    assert_ne!(before, after, "the audit log's key-set fingerprint changes");
    assert!(verified(&new), "the new key's token verifies");
    assert!(
        !verified(&old),
        "the old key's token no longer counts, cached or not"
    );

    // The same file again changes nothing.
    assert_eq!(attributor.read_keys().changed(), 0);
    assert_eq!(attributor.key_set_ids(None), after);

    // A broken file is refused with its name, and the keys in use stay.
    std::fs::write(&fx.jwks, "{\"keys\": [").unwrap();
    let read = attributor.read_keys();
    assert_eq!(read.changed(), 0);
    let err = read.refused[0].to_string();
    assert!(err.contains("jwks.json"), "{err}");
    attributor.use_keys(read);
    assert!(verified(&new));
    assert_eq!(attributor.key_set_ids(None), after);
}
