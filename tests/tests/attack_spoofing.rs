//! Spoofing against the real binary: client-sent `x-jurisgate-*` headers,
//! `Forwarded` / `X-Forwarded-For` from an untrusted peer, forged, expired,
//! not-yet-valid, wrong-issuer, wrong-audience, `alg: none`,
//! HS256-keyed-with-the-public-key and key-id-confusion JWTs, and a signed
//! identity header replayed after its max age, from the future, re-signed
//! with another key, or with a changed value. Each must yield no verified
//! jurisdiction (so protected data is refused) or the true one: never a
//! verified wrong one. The audit records are the witness.
//!
//! Not here: a client certificate from another CA (the TLS listener is
//! tested by the TLS suite, where the handshake refuses it).

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use hmac::{Hmac, Mac as _};
use http::{Method, StatusCode};
use jurisgate_audit::Event;
use jurisgate_e2e::{Harness, Who};
use serde_json::{Value, json};
use sha2::Sha256;

const IDENTITY_KEY: &[u8] = b"jurisgate-e2e-identity-service-key-0123";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hs256(header: &Value, claims: &Value, key: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac key");
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(&mac.finalize().into_bytes()))
}

fn eddsa(header: &Value, claims: &Value, key: &ed25519_dalek::SigningKey) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    format!("{input}.{}", b64(&key.sign(input.as_bytes()).to_bytes()))
}

/// The attack tokens: (name, Authorization value). Each claims a US subject.
fn hostile_tokens(h: &Harness) -> Vec<(&'static str, String)> {
    let t = now();
    let claims = |over: Value| {
        let mut c = json!({"iss": "https://id.demo.jurisgate", "aud": "app", "sub": "mallory", "jurisdiction": "US", "kind": "user", "iat": t, "exp": t + 600});
        if let (Some(c), Some(o)) = (c.as_object_mut(), over.as_object()) {
            for (k, v) in o {
                c.insert(k.clone(), v.clone());
            }
        }
        c
    };
    let idp = &h.files.idp;
    let jwks = std::fs::read_to_string(h.files.dir.join("keys/idp-jwks.json")).expect("jwks");
    let x: Value = serde_json::from_str(&jwks).expect("jwks json");
    let public = URL_SAFE_NO_PAD
        .decode(x["keys"][0]["x"].as_str().expect("x"))
        .expect("x bytes");
    let rogue = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let valid_eu = idp.sign(&claims(json!({"jurisdiction": "EU", "sub": "emile"})));
    let (head, rest) = valid_eu.split_once('.').expect("jws");
    let (_, sig) = rest.split_once('.').expect("jws");
    let swapped_payload = format!(
        "{head}.{}.{sig}",
        b64(claims(json!({})).to_string().as_bytes())
    );
    let hs = json!({"alg": "HS256", "typ": "JWT", "kid": "dev-ed25519"});
    vec![
        ("forged: right kid, rogue key", format!("Bearer {}", eddsa(&json!({"alg": "EdDSA", "kid": "dev-ed25519"}), &claims(json!({})), &rogue))),
        ("kid confusion: unknown kid", format!("Bearer {}", eddsa(&json!({"alg": "EdDSA", "kid": "other"}), &claims(json!({})), &rogue))),
        ("kid confusion: path kid", format!("Bearer {}", eddsa(&json!({"alg": "EdDSA", "kid": "../../keys/idp-jwks.json"}), &claims(json!({})), &rogue))),
        ("kid confusion: no kid", format!("Bearer {}", eddsa(&json!({"alg": "EdDSA"}), &claims(json!({})), &rogue))),
        ("expired", format!("Bearer {}", idp.sign(&claims(json!({"iat": t - 7200, "exp": t - 3600}))))),
        ("not yet valid", format!("Bearer {}", idp.sign(&claims(json!({"nbf": t + 3600}))))),
        ("no exp", format!("Bearer {}", idp.sign(&json!({"iss": "https://id.demo.jurisgate", "aud": "app", "sub": "m", "jurisdiction": "US"})))),
        ("wrong issuer", format!("Bearer {}", idp.sign(&claims(json!({"iss": "https://evil.example"}))))),
        ("wrong audience", format!("Bearer {}", idp.sign(&claims(json!({"aud": "other-app"}))))),
        ("audience list without ours", format!("Bearer {}", idp.sign(&claims(json!({"aud": ["x", "y"]}))))),
        ("alg none", format!("Bearer {}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(claims(json!({})).to_string().as_bytes()))),
        ("alg None", format!("Bearer {}.{}.", b64(br#"{"alg":"None"}"#), b64(claims(json!({})).to_string().as_bytes()))),
        ("HS256 keyed with the raw public key", format!("Bearer {}", hs256(&hs, &claims(json!({})), &public))),
        ("HS256 keyed with the JWKS text", format!("Bearer {}", hs256(&hs, &claims(json!({})), jwks.as_bytes()))),
        ("HS256 keyed with the x value", format!("Bearer {}", hs256(&hs, &claims(json!({})), x["keys"][0]["x"].as_str().unwrap_or_default().as_bytes()))),
        ("EU signature over a US payload", format!("Bearer {swapped_payload}")),
        ("jku / x5u header", format!("Bearer {}", eddsa(&json!({"alg": "EdDSA", "jku": "http://evil.example/jwks"}), &claims(json!({})), &rogue))),
        ("embedded jwk header", format!("Bearer {}", eddsa(&json!({"alg": "EdDSA", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64(rogue.verifying_key().as_bytes())}}), &claims(json!({})), &rogue))),
        ("token in another scheme", format!("Token {}", idp.sign(&claims(json!({}))))),
        ("truncated signature", format!("Bearer {}", &valid_eu[..valid_eu.len() - 4])),
    ]
}

fn signed(user: &str, jurisdiction: &str, ts: u64, key: &[u8]) -> String {
    jurisgate_attribution::sign_identity_header(key, user, Some(jurisdiction), ts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofing_never_yields_a_verified_wrong_jurisdiction() {
    let keys = tempfile::tempdir().expect("temp dir");
    let key_file = keys.path().join("identity.key");
    let hex: String = IDENTITY_KEY.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&key_file, hex).expect("key");
    let source = format!(
        "[[attribution]]\nkind = \"signed_header\"\nheader = \"x-identity\"\nkey_file = \"{}\"\nmax_age = \"60s\"\n\n[approvals]",
        key_file.display()
    );
    let mut h = Harness::start_with(|c| *c = c.replacen("[approvals]", &source, 1)).await;
    let mut cases = 0;
    // id → the only jurisdiction that may be recorded as verified for it (None: none may).
    let mut expect: HashMap<String, Option<&'static str>> = HashMap::new();
    let mut check =
        |name: &str, r: &jurisgate_e2e::Reply, truth: Option<&'static str>, h: &Harness| {
            cases += 1;
            expect.insert(r.request_id.clone(), truth);
            let went: Vec<String> = h.regions_that_saw(&r.request_id);
            match truth {
                None => {
                    assert_eq!(r.status, StatusCode::FORBIDDEN, "{name}: {:?}", r.json);
                    assert!(went.is_empty(), "{name}: forwarded to {went:?}");
                }
                Some("EU") => assert!(
                    went.iter().all(|w| w == "eu-west"),
                    "{name}: went to {went:?}"
                ),
                Some(_) => assert!(
                    went.iter().all(|w| w.starts_with("us-")),
                    "{name}: went to {went:?}"
                ),
            }
        };

    // Client-set gateway headers and forwarding headers, untrusted peer.
    let spoof: [(&str, &str); 7] = [
        ("x-jurisgate-jurisdiction", "US"),
        ("x-jurisgate-region", "us-east"),
        ("x-jurisgate-data-class", "public"),
        ("x-jurisgate-request-id", "spoofed-id"),
        ("x-forwarded-for", "8.8.8.8"),
        ("forwarded", "for=8.8.8.8;proto=https"),
        ("x-real-ip", "8.8.8.8"),
    ];
    for (k, v) in spoof {
        let r = h
            .send_with(
                Who::Anonymous,
                Method::POST,
                "/v1/messages/s1",
                Some(json!({})),
                &[(k, v)],
            )
            .await;
        check(k, &r, None, &h);
        let eu = h
            .send_with(
                Who::user("emile", "EU"),
                Method::POST,
                "/v1/messages/s2",
                Some(json!({})),
                &[(k, v)],
            )
            .await;
        assert_eq!(eu.status, StatusCode::CREATED, "{k}");
        check(k, &eu, Some("EU"), &h);
    }
    let all: Vec<(&str, &str)> = spoof.to_vec();
    let eu = h
        .send_with(
            Who::user("emile", "EU"),
            Method::POST,
            "/v1/messages/s3",
            Some(json!({})),
            &all,
        )
        .await;
    check("all spoofed headers at once", &eu, Some("EU"), &h);
    let got = h
        .store("eu-west")
        .received()
        .into_iter()
        .find(|r| r.request_id.as_deref() == Some(eu.request_id.as_str()))
        .expect("received");
    assert_eq!(
        (got.jurisdiction.as_deref(), got.data_class.as_deref()),
        (Some("EU"), Some("protected"))
    );
    assert_ne!(got.request_id.as_deref(), Some("spoofed-id"));

    // Hostile tokens.
    for (name, auth) in hostile_tokens(&h) {
        let r = h
            .send(
                Who::RawAuthorization(auth),
                Method::GET,
                "/v1/messages/s1",
                None,
            )
            .await;
        check(name, &r, None, &h);
    }
    // Two Authorization headers: one EU, one US.
    let (eu_auth, _) = h.credentials(&Who::user("emile", "EU"));
    let (us_auth, _) = h.credentials(&Who::user("alice", "US"));
    let r = h
        .send_with(
            Who::RawAuthorization(eu_auth.clone().unwrap()),
            Method::GET,
            "/v1/messages/s1",
            None,
            &[("authorization", us_auth.as_deref().unwrap())],
        )
        .await;
    check("duplicate Authorization", &r, None, &h);

    // Signed identity headers.
    let t = now();
    let valid = signed("emile", "EU", t, IDENTITY_KEY);
    // The control: the source works (the policy still wants a verified
    // requester, which a signed header alone does not give, so this is
    // refused too; its record must show the verified EU subject).
    let control = h
        .send_with(
            Who::Anonymous,
            Method::POST,
            "/v1/messages/s4",
            Some(json!({})),
            &[("x-identity", &valid)],
        )
        .await;
    check("valid signed header", &control, Some("EU"), &h);
    let changed = valid.replace("jurisdiction=EU", "jurisdiction=US");
    for (name, value) in [
        (
            "replayed after max age",
            signed("emile", "US", t - 3600, IDENTITY_KEY),
        ),
        (
            "from the future",
            signed("emile", "US", t + 3600, IDENTITY_KEY),
        ),
        (
            "signed with another key",
            signed("emile", "US", t, b"another-identity-service-key-000000"),
        ),
        ("changed value", changed),
        ("changed user", valid.replace("user=emile", "user=alice")),
        (
            "no signature",
            format!("v1;user=emile;jurisdiction=US;ts={t}"),
        ),
    ] {
        let r = h
            .send_with(
                Who::Anonymous,
                Method::GET,
                "/v1/messages/s4",
                None,
                &[("x-identity", &value)],
            )
            .await;
        check(name, &r, None, &h);
    }
    let us_signed = signed("alice", "US", t, IDENTITY_KEY);
    let r = h
        .send_with(
            Who::Anonymous,
            Method::GET,
            "/v1/messages/s4",
            None,
            &[("x-identity", &valid), ("x-identity", &us_signed)],
        )
        .await;
    check("duplicate signed header", &r, None, &h);

    // The witness: no record carries a verified jurisdiction other than the truth.
    assert_eq!(h.stop(), 0);
    let mut wrong = Vec::new();
    let mut control_verified = false;
    for r in h.records() {
        if let Event::Decision(d) = &r.event
            && d.request_id == control.request_id
        {
            control_verified = d.subject.verified
                && d.subject.jurisdiction == "EU"
                && d.subject.source == "signed_header";
        }
        if let Event::Decision(d) = r.event
            && let Some(truth) = expect.get(&d.request_id)
            && d.subject.verified
            && Some(d.subject.jurisdiction.as_str()) != *truth
        {
            wrong.push(format!(
                "{}: verified {}",
                d.request_id, d.subject.jurisdiction
            ));
        }
    }
    println!(
        "attack_spoofing: {cases} cases, {} got a verified wrong jurisdiction",
        wrong.len()
    );
    assert!(wrong.is_empty(), "{wrong:?}");
    assert!(
        control_verified,
        "the valid signed header was not recorded as a verified EU subject"
    );
}
