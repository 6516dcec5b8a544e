//! JWT and signed-header sources: valid credentials verify, and every
//! forged, stale, confused or malformed one yields no verified jurisdiction.

use jurisgate_attribution::dev_idp::{DevIdp, sign_identity_header};
use jurisgate_attribution::{RequesterKind, Source};
use rsa::pkcs1::EncodeRsaPublicKey;
use serde_json::{Value, json};

use crate::support::*;

/// Claims with one field changed.
fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

#[test]
fn jwt_cases_table() {
    let fx = Fixture::new();
    let attributor = fx.attributor(vec![fx.jwt()]);
    let us = fx.claims("alice", Some("US"));
    let secs = NOW_SECS;
    let valid = fx.idp.sign(&us);
    let (head, _) = valid.rsplit_once('.').unwrap();
    let (_, valid_sig) = valid.rsplit_once('.').unwrap();
    let eu_payload = {
        let (header_b64, _) = head.split_once('.').unwrap();
        let payload =
            serde_json::to_string(&with(us.clone(), "jurisdiction", json!("EU"))).unwrap();
        use base64::Engine as _;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload);
        format!("{header_b64}.{payload}.{valid_sig}")
    };
    let rsa_public_pem = rsa_key()
        .to_public_key()
        .to_pkcs1_pem(Default::default())
        .unwrap();
    let rsa_public_der = rsa_key().to_public_key().to_pkcs1_der().unwrap();
    let stranger = DevIdp::generate(ISSUER, AUDIENCE);

    let cases: Vec<(&str, String, Option<&str>)> = vec![
        ("valid EdDSA token", valid.clone(), Some("US")),
        (
            "valid RS256 token",
            fx.sign_rs256(Some(RSA_KID), &us),
            Some("US"),
        ),
        (
            "valid ES256 token",
            fx.sign_es256(Some(EC_KID), &us),
            Some("US"),
        ),
        (
            "valid RS256 token without kid",
            fx.sign_rs256(None, &us),
            Some("US"),
        ),
        (
            "lower-case jurisdiction is normalised",
            fx.idp.sign(&with(us.clone(), "jurisdiction", json!("us"))),
            Some("US"),
        ),
        (
            "exp within leeway",
            fx.idp.sign(&with(us.clone(), "exp", json!(secs - 20))),
            Some("US"),
        ),
        ("forged: same kid, another key", stranger.sign(&us), None),
        ("forged: payload changed, signature kept", eu_payload, None),
        (
            "forged: signature truncated",
            valid[..valid.len() - 4].to_string(),
            None,
        ),
        (
            "expired",
            fx.idp.sign(&with(us.clone(), "exp", json!(secs - 31))),
            None,
        ),
        ("no exp", fx.idp.sign(&without(us.clone(), "exp")), None),
        (
            "not yet valid",
            fx.idp.sign(&with(us.clone(), "nbf", json!(secs + 120))),
            None,
        ),
        (
            "wrong issuer",
            fx.idp
                .sign(&with(us.clone(), "iss", json!("https://evil.example"))),
            None,
        ),
        ("no issuer", fx.idp.sign(&without(us.clone(), "iss")), None),
        (
            "token for another audience",
            fx.idp.sign(&with(us.clone(), "aud", json!("billing"))),
            None,
        ),
        (
            "audience list without ours",
            fx.idp
                .sign(&with(us.clone(), "aud", json!(["billing", "ads"]))),
            None,
        ),
        (
            "no audience",
            fx.idp.sign(&without(us.clone(), "aud")),
            None,
        ),
        (
            "alg none",
            raw_token(&json!({"alg": "none", "typ": "JWT"}), &us, b""),
            None,
        ),
        (
            "alg none with kid",
            raw_token(&json!({"alg": "none", "kid": DEV_KID_FOR_TESTS}), &us, b""),
            None,
        ),
        (
            "HS256 keyed with the RSA public key PEM",
            hs256_token(RSA_KID, &us, rsa_public_pem.as_bytes()),
            None,
        ),
        (
            "HS256 keyed with the RSA public key DER",
            hs256_token(RSA_KID, &us, rsa_public_der.as_bytes()),
            None,
        ),
        (
            "HS256 keyed with the EC public point",
            hs256_token(EC_KID, &us, fx.ec.public_key_raw()),
            None,
        ),
        ("unknown kid", swap_kid(&valid, "rotated-away"), None),
        (
            "kid confusion: Ed25519 kid on an RS256 token",
            fx.sign_rs256(Some(DEV_KID_FOR_TESTS), &us),
            None,
        ),
        (
            "kid confusion: RSA kid on an ES256 token",
            fx.sign_es256(Some(RSA_KID), &us),
            None,
        ),
        (
            "implausible jurisdiction claim",
            fx.idp
                .sign(&with(us.clone(), "jurisdiction", json!("United States"))),
            None,
        ),
        (
            "numeric jurisdiction claim",
            fx.idp.sign(&with(us.clone(), "jurisdiction", json!(840))),
            None,
        ),
        ("two dots too many", format!("{valid}.x"), None),
        ("empty", String::new(), None),
    ];
    for (name, token, want) in cases {
        let got = attributor.attribute(
            &headers(&[("authorization", &bearer(&token))]),
            &peer(ELSEWHERE),
            now(),
        );
        match want {
            Some(j) => {
                assert_eq!(
                    (
                        got.subject.jurisdiction.as_str(),
                        got.subject.source,
                        got.subject.verified
                    ),
                    (j, Source::Jwt, true),
                    "{name}"
                );
                assert_eq!(
                    got.subject.pseudonym,
                    Some(pseudonymizer().pseudonym("alice")),
                    "{name}"
                );
            }
            None => {
                assert!(!got.subject.verified, "{name}: {got:?}");
                assert_ne!(got.subject.source, Source::Jwt, "{name}");
            }
        }
    }
}

const DEV_KID_FOR_TESTS: &str = jurisgate_attribution::dev_idp::DEV_KID;

/// The token with its header's `kid` replaced (the signature is kept).
fn swap_kid(token: &str, kid: &str) -> String {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (header, rest) = token.split_once('.').unwrap();
    let mut header: Value = serde_json::from_slice(&engine.decode(header).unwrap()).unwrap();
    header["kid"] = json!(kid);
    format!("{}.{rest}", engine.encode(header.to_string()))
}

#[test]
fn an_unknown_kid_fails_even_when_a_published_key_made_the_signature() {
    // No fallback to "try every key": the RSA key is published as `rsa-1`,
    // so a token it signed that names `rsa-2` fails.
    use jurisgate_attribution::{JwtError, JwtVerifier, parse_jwks};
    let fx = Fixture::new();
    let keys = parse_jwks(&std::fs::read(&fx.jwks).unwrap()).unwrap();
    let verifier = JwtVerifier::new(
        keys,
        ISSUER,
        AUDIENCE,
        vec![jsonwebtoken::Algorithm::RS256],
        std::time::Duration::from_secs(30),
    );
    let claims = fx.claims("alice", Some("US"));
    assert_eq!(
        verifier.verify(&fx.sign_rs256(Some("rsa-2"), &claims), now()),
        Err(JwtError::UnknownKid("rsa-2".into()))
    );
    assert!(
        verifier
            .verify(&fx.sign_rs256(Some(RSA_KID), &claims), now())
            .is_ok()
    );
    assert!(
        verifier
            .verify(&fx.sign_rs256(None, &claims), now())
            .is_ok()
    );
}

#[test]
fn a_verified_token_without_jurisdiction_still_vouches_for_its_user() {
    let fx = Fixture::new();
    let attributor = fx.attributor(vec![fx.jwt(), fx.directory()]);
    let token = fx.idp.sign(&fx.claims("bob", None));
    let got = attributor.attribute(
        &headers(&[("authorization", &bearer(&token))]),
        &peer(ELSEWHERE),
        now(),
    );
    assert_eq!(
        (
            got.subject.jurisdiction.as_str(),
            got.subject.source,
            got.subject.verified
        ),
        ("EU", Source::Directory, true)
    );
    assert_eq!(
        got.subject.pseudonym,
        Some(pseudonymizer().pseudonym("bob"))
    );
}

#[test]
fn requester_comes_from_the_token_claims() {
    let fx = Fixture::new();
    let attributor = fx.attributor(vec![fx.jwt()]);
    let cases = [
        (
            json!({"kind": "employee", "location": "ie", "org": "ops"}),
            RequesterKind::Employee,
            Some("eng-7"),
            Some("IE"),
            Some("ops"),
        ),
        (
            json!({"kind": "service", "org": "billing"}),
            RequesterKind::Service,
            Some("eng-7"),
            None,
            Some("billing"),
        ),
        (json!({}), RequesterKind::User, None, None, None),
        (
            json!({"kind": "admin"}),
            RequesterKind::Unknown,
            None,
            None,
            None,
        ),
    ];
    for (extra, kind, id, location, org) in cases {
        let mut claims = fx.claims("eng-7", Some("US"));
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        let got = attributor.attribute(
            &headers(&[("authorization", &bearer(&fx.idp.sign(&claims)))]),
            &peer(ELSEWHERE),
            now(),
        );
        let r = &got.requester;
        assert_eq!(
            (r.kind, r.source, r.verified),
            (kind, Source::Jwt, true),
            "{extra}"
        );
        // Users (and unnamed kinds) are identified by pseudonym, never by raw id.
        let want_id = id
            .map(String::from)
            .or_else(|| Some(pseudonymizer().pseudonym("eng-7")));
        assert_eq!(r.id, want_id, "{extra}");
        assert_eq!(
            (r.location.as_deref(), r.org.as_deref()),
            (location, org),
            "{extra}"
        );
    }
}

#[test]
fn signed_header_cases_table() {
    let fx = Fixture::new();
    let attributor = fx.attributor(vec![fx.signed_header()]);
    let good = sign_identity_header(HMAC_KEY, "alice", Some("US"), NOW_SECS);
    let sig = good.rsplit_once(";sig=").unwrap().1.to_string();
    let cases: Vec<(&str, Vec<String>, Option<&str>)> = vec![
        ("valid", vec![good.clone()], Some("US")),
        (
            "valid, 59 s old",
            vec![sign_identity_header(
                HMAC_KEY,
                "alice",
                Some("US"),
                NOW_SECS - 59,
            )],
            Some("US"),
        ),
        (
            "replayed after max age",
            vec![sign_identity_header(
                HMAC_KEY,
                "alice",
                Some("US"),
                NOW_SECS - 61,
            )],
            None,
        ),
        (
            "more than 30 s in the future",
            vec![sign_identity_header(
                HMAC_KEY,
                "alice",
                Some("US"),
                NOW_SECS + 31,
            )],
            None,
        ),
        (
            "jurisdiction changed",
            vec![good.replace("=US;", "=EU;")],
            None,
        ),
        ("user changed", vec![good.replace("alice", "mallory")], None),
        (
            "ts changed",
            vec![good.replace(&NOW_SECS.to_string(), &(NOW_SECS - 1).to_string())],
            None,
        ),
        (
            "signature changed",
            vec![good.replace(&sig, &sig.chars().rev().collect::<String>())],
            None,
        ),
        (
            "wrong key",
            vec![sign_identity_header(
                b"another-identity-service-key-123",
                "alice",
                Some("US"),
                NOW_SECS,
            )],
            None,
        ),
        (
            "duplicate field",
            vec![format!(
                "v1;user=alice;jurisdiction=US;jurisdiction=EU;ts={NOW_SECS};sig={sig}"
            )],
            None,
        ),
        ("duplicated header", vec![good.clone(), good.clone()], None),
        (
            "duplicated header, one forged",
            vec![good.clone(), good.replace("=US;", "=EU;")],
            None,
        ),
        ("garbage", vec!["US".into()], None),
    ];
    for (name, values, want) in cases {
        let pairs: Vec<(&str, &str)> = values.iter().map(|v| ("x-identity", v.as_str())).collect();
        let got = attributor.attribute(&headers(&pairs), &peer(ELSEWHERE), now());
        match want {
            Some(j) => assert_eq!(
                (
                    got.subject.jurisdiction.as_str(),
                    got.subject.source,
                    got.subject.verified
                ),
                (j, Source::SignedHeader, true),
                "{name}"
            ),
            None => assert!(
                !got.subject.verified && got.subject.pseudonym.is_none(),
                "{name}: {got:?}"
            ),
        }
    }
}
