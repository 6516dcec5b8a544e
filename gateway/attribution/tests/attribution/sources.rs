//! How the sources combine: order, the directory, mTLS, GeoIP and trusted
//! proxies, approvals, pseudonyms, and start-up errors.

use jurisgate_attribution::dev_idp::sign_identity_header;
use jurisgate_attribution::{Attributor, ClientCertIdentity, RequesterKind, Source, Subject};
use jurisgate_config::{AttributionSource, JwtSource};
use serde_json::json;

use crate::support::*;

#[test]
fn attributor_is_shareable_across_tasks() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Attributor>();
}

#[test]
fn nothing_presented_gives_unknown() {
    let fx = Fixture::new();
    let got = fx
        .attributor(vec![
            fx.jwt(),
            fx.signed_header(),
            fx.directory(),
            Fixture::mtls(),
        ])
        .attribute(&headers(&[]), &peer(GEO_US), now());
    assert_eq!(got.subject, Subject::unknown());
    assert_eq!(got.requester, jurisgate_attribution::Requester::unknown());
}

#[test]
fn spoofed_headers_change_nothing() {
    let fx = Fixture::new();
    let attributor = fx.all_sources();
    let spoof = [
        ("x-jurisgate-jurisdiction", "US"),
        ("x-jurisgate-region", "us-east"),
        ("x-forwarded-for", GEO_US),
        ("forwarded", "for=203.0.113.9"),
        ("x-real-ip", GEO_US),
        ("x-identity-jurisdiction", "US"),
    ];
    // From an untrusted peer in DE: GeoIP says EU (unverified) whatever the headers claim.
    for (name, value) in spoof {
        let got = attributor.attribute(&headers(&[(name, value)]), &peer(GEO_DE), now());
        assert_eq!(
            (
                got.subject.jurisdiction.as_str(),
                got.subject.source,
                got.subject.verified
            ),
            ("EU", Source::Geoip, false),
            "{name}: {value}"
        );
    }
    let all: Vec<_> = spoof.to_vec();
    let got = attributor.attribute(&headers(&all), &peer(GEO_DE), now());
    assert_eq!(
        got,
        attributor.attribute(&headers(&[]), &peer(GEO_DE), now())
    );
}

#[test]
fn geoip_believes_forwarded_for_only_from_trusted_proxies() {
    let fx = Fixture::new();
    let attributor = fx.attributor(vec![fx.geoip()]);
    let cases = [
        ("untrusted peer in DE", GEO_DE, vec![], "EU"),
        (
            "untrusted peer, spoofed XFF",
            GEO_DE,
            vec![("x-forwarded-for", GEO_US)],
            "EU",
        ),
        (
            "untrusted peer outside the database",
            ELSEWHERE,
            vec![],
            "unknown",
        ),
        ("dual-stack mapped peer", "::ffff:203.0.113.9", vec![], "US"),
        (
            "trusted proxy, client in US",
            TRUSTED_PROXY,
            vec![("x-forwarded-for", GEO_US)],
            "US",
        ),
        (
            "trusted proxy, client-written entries to the left are ignored",
            TRUSTED_PROXY,
            vec![("x-forwarded-for", "192.0.2.1, 203.0.113.9")],
            "US",
        ),
        ("trusted proxy, no XFF", TRUSTED_PROXY, vec![], "unknown"),
        (
            "trusted proxy, garbage XFF",
            TRUSTED_PROXY,
            vec![("x-forwarded-for", "not-an-ip")],
            "unknown",
        ),
        (
            "IPv6 client in an IPv4 database",
            "2001:db8::1",
            vec![],
            "unknown",
        ),
    ];
    for (name, peer_ip, pairs, want) in cases {
        let got = attributor.attribute(&headers(&pairs), &peer(peer_ip), now());
        assert_eq!(got.subject.jurisdiction, want, "{name}");
        assert!(!got.subject.verified, "{name}: GeoIP is never verified");
        let source = if want == "unknown" {
            Source::None
        } else {
            Source::Geoip
        };
        assert_eq!(got.subject.source, source, "{name}");
    }
}

#[test]
fn a_verified_source_beats_geoip_whatever_the_order() {
    let fx = Fixture::new();
    let attributor = fx.attributor(vec![fx.geoip(), fx.jwt()]);
    let token = fx.idp.sign(&fx.claims("alice", Some("US")));
    let got = attributor.attribute(
        &headers(&[("authorization", &bearer(&token))]),
        &peer(GEO_DE),
        now(),
    );
    assert_eq!(
        (
            got.subject.jurisdiction.as_str(),
            got.subject.source,
            got.subject.verified
        ),
        ("US", Source::Jwt, true)
    );
}

#[test]
fn the_first_verified_source_in_config_order_wins() {
    let fx = Fixture::new();
    let token = fx.idp.sign(&fx.claims("alice", Some("US")));
    let header = sign_identity_header(HMAC_KEY, "alice", Some("EU"), NOW_SECS);
    let request = headers(&[("authorization", &bearer(&token)), ("x-identity", &header)]);
    let jwt_first = fx.attributor(vec![fx.jwt(), fx.signed_header()]).attribute(
        &request,
        &peer(ELSEWHERE),
        now(),
    );
    assert_eq!(
        (
            jwt_first.subject.jurisdiction.as_str(),
            jwt_first.subject.source
        ),
        ("US", Source::Jwt)
    );
    let header_first = fx.attributor(vec![fx.signed_header(), fx.jwt()]).attribute(
        &request,
        &peer(ELSEWHERE),
        now(),
    );
    assert_eq!(
        (
            header_first.subject.jurisdiction.as_str(),
            header_first.subject.source
        ),
        ("EU", Source::SignedHeader)
    );
}

#[test]
fn the_directory_is_asked_only_about_verified_users() {
    let fx = Fixture::new();
    let attributor = fx.attributor(vec![fx.jwt(), fx.signed_header(), fx.directory()]);
    let forged_jwt = crate::support::raw_token(
        &json!({"alg": "EdDSA", "kid": "dev-ed25519"}),
        &fx.claims("alice", None),
        &[0; 64],
    );
    let expired_header = sign_identity_header(HMAC_KEY, "bob", None, NOW_SECS - 3600);
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, Option<(&'a str, Source)>);
    let cases: Vec<Case> = vec![
        (
            "verified JWT sub without jurisdiction",
            vec![(
                "authorization",
                bearer(&fx.idp.sign(&fx.claims("alice", None))),
            )],
            Some(("US", Source::Directory)),
        ),
        (
            "verified signed header without jurisdiction",
            vec![(
                "x-identity",
                sign_identity_header(HMAC_KEY, "bob", None, NOW_SECS),
            )],
            Some(("EU", Source::Directory)),
        ),
        (
            "verified JWT with its own jurisdiction (residency claim wins)",
            vec![(
                "authorization",
                bearer(&fx.idp.sign(&fx.claims("alice", Some("GB")))),
            )],
            Some(("GB", Source::Jwt)),
        ),
        (
            "forged JWT naming a directory user",
            vec![("authorization", bearer(&forged_jwt))],
            None,
        ),
        (
            "stale signed header naming a directory user",
            vec![("x-identity", expired_header)],
            None,
        ),
        (
            "user id in a plain header",
            vec![
                ("x-user-id", "alice".into()),
                ("x-jurisgate-user", "alice".into()),
            ],
            None,
        ),
        (
            "verified user not in the directory",
            vec![(
                "authorization",
                bearer(&fx.idp.sign(&fx.claims("zoe", None))),
            )],
            None,
        ),
    ];
    for (name, pairs, want) in cases {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let got = attributor.attribute(&headers(&pairs), &peer(ELSEWHERE), now());
        match want {
            Some((j, source)) => assert_eq!(
                (
                    got.subject.jurisdiction.as_str(),
                    got.subject.source,
                    got.subject.verified
                ),
                (j, source, true),
                "{name}"
            ),
            None => assert!(!got.subject.verified, "{name}: {got:?}"),
        }
    }
    // A directory placed before every identity source has nobody to look up.
    let early = fx.attributor(vec![fx.directory(), fx.jwt()]);
    let got = early.attribute(
        &headers(&[(
            "authorization",
            &bearer(&fx.idp.sign(&fx.claims("alice", None))),
        )]),
        &peer(ELSEWHERE),
        now(),
    );
    assert!(!got.subject.verified);
    assert_eq!(
        got.subject.pseudonym,
        Some(pseudonymizer().pseudonym("alice")),
        "the verified user still gets a pseudonym"
    );
}

#[test]
fn raw_user_ids_never_appear_in_the_output() {
    let fx = Fixture::new();
    let attributor = fx.all_sources();
    let requests = [
        headers(&[(
            "authorization",
            &bearer(&fx.idp.sign(&fx.claims("alice", Some("US")))),
        )]),
        headers(&[(
            "authorization",
            &bearer(&fx.idp.sign(&fx.claims("alice", None))),
        )]),
        headers(&[(
            "x-identity",
            &sign_identity_header(HMAC_KEY, "alice", None, NOW_SECS),
        )]),
        headers(&[(
            "authorization",
            &bearer(&fx.idp.sign(&fx.claims("alice", Some("not a code")))),
        )]),
    ];
    for request in requests {
        let got = attributor.attribute(&request, &peer(GEO_DE), now());
        let json = serde_json::to_string(&got).unwrap();
        assert!(!json.contains("alice"), "{json}");
        assert_eq!(
            got.subject.pseudonym,
            Some(pseudonymizer().pseudonym("alice")),
            "{json}"
        );
    }
}

#[test]
fn subject_and_requester_each_get_their_own_users_pseudonym() {
    let fx = Fixture::new();
    let attributor = fx.all_sources();
    // alice's token names no jurisdiction: she is the requester, and the
    // signed header's bob (in DE) is the subject.
    let request = headers(&[
        (
            "authorization",
            &bearer(&fx.idp.sign(&fx.claims("alice", None))),
        ),
        (
            "x-identity",
            &sign_identity_header(HMAC_KEY, "bob", Some("DE"), NOW_SECS),
        ),
    ]);
    let got = attributor.attribute(&request, &peer(ELSEWHERE), now());
    let key = pseudonymizer();
    assert_eq!(got.subject.jurisdiction, "DE");
    assert_eq!(got.subject.pseudonym, Some(key.pseudonym("bob")));
    assert_eq!(got.requester.id, Some(key.pseudonym("alice")));

    // One user as both: the same pseudonym in both places.
    let request = headers(&[(
        "authorization",
        &bearer(&fx.idp.sign(&fx.claims("alice", Some("US")))),
    )]);
    let got = attributor.attribute(&request, &peer(ELSEWHERE), now());
    assert_eq!(got.subject.pseudonym, Some(key.pseudonym("alice")));
    assert_eq!(got.requester.id, got.subject.pseudonym);
}

#[test]
fn mtls_gives_the_requester_when_no_token_did() {
    let fx = Fixture::new();
    let cert = ClientCertIdentity {
        common_name: Some("billing".into()),
        organization: Some("usds".into()),
        country: Some("US".into()),
        san_uris: vec!["spiffe://usds.example/billing".into()],
        ..ClientCertIdentity::default()
    };
    let attributor = fx.attributor(vec![fx.jwt(), Fixture::mtls()]);
    let got = attributor.attribute(
        &headers(&[]),
        &peer_with_cert(ELSEWHERE, cert.clone()),
        now(),
    );
    let r = &got.requester;
    assert_eq!(
        (r.kind, r.source, r.verified),
        (RequesterKind::Service, Source::Mtls, true)
    );
    assert_eq!(
        (r.id.as_deref(), r.org.as_deref(), r.location.as_deref()),
        (
            Some("spiffe://usds.example/billing"),
            Some("usds"),
            Some("US")
        )
    );
    assert!(
        !got.subject.verified,
        "a client certificate says nothing about whose data it is"
    );

    let employee = json!({"kind": "employee", "location": "IE"});
    let mut claims = fx.claims("eng-1", None);
    claims
        .as_object_mut()
        .unwrap()
        .extend(employee.as_object().unwrap().clone());
    let got = attributor.attribute(
        &headers(&[("authorization", &bearer(&fx.idp.sign(&claims)))]),
        &peer_with_cert(ELSEWHERE, cert),
        now(),
    );
    assert_eq!(
        (got.requester.kind, got.requester.source),
        (RequesterKind::Employee, Source::Jwt),
        "the JWT source comes first"
    );
}

#[test]
fn approvals_verify_like_identity_tokens_and_bad_ones_are_dropped() {
    let fx = Fixture::new();
    let attributor = fx.attributor(vec![fx.jwt()]);
    let approval = |claims: serde_json::Value| fx.approvals_idp.sign(&claims);
    let base = json!({"iss": APPROVALS_ISSUER, "aud": APPROVALS_AUDIENCE, "approval_id": "APR-17", "scope": "read:messages", "sub": "eng-7", "exp": NOW_SECS + 600});
    // The requester the approvals were granted to, verified by their identity token.
    let eng_7 = bearer(&fx.idp.sign(&fx.claims("eng-7", None)));
    let with = |key: &str, value: serde_json::Value| {
        let mut c = base.clone();
        c[key] = value;
        c
    };
    let cases = [
        ("valid", approval(base.clone()), true),
        (
            "valid, bearer prefix",
            format!("Bearer {}", approval(base.clone())),
            true,
        ),
        (
            "expired",
            approval(with("exp", json!(NOW_SECS - 600))),
            false,
        ),
        ("wrong issuer", approval(with("iss", json!(ISSUER))), false),
        (
            "wrong audience",
            approval(with("aud", json!(AUDIENCE))),
            false,
        ),
        (
            "signed by the identity provider, not the approvals service",
            fx.idp.sign(&base),
            false,
        ),
        ("no scope", approval(with("scope", json!(null))), false),
        ("no sub", approval(with("sub", json!(null))), false),
        (
            "granted to another requester",
            approval(with("sub", json!("eng-8"))),
            false,
        ),
        ("garbage", "APR-17".to_string(), false),
    ];
    for (name, token, verified) in cases {
        let got = attributor.attribute(
            &headers(&[("authorization", &eng_7), ("x-access-approval", &token)]),
            &peer(ELSEWHERE),
            now(),
        );
        match got.requester.approval {
            Some(a) => {
                assert!(verified, "{name}: an invalid approval was passed on");
                assert_eq!(
                    (a.id.as_str(), a.scope.as_str(), a.verified),
                    ("APR-17", "read:messages", true),
                    "{name}"
                );
                assert_eq!(a.expires, "2027-01-15T08:10:00Z", "{name}");
            }
            None => assert!(!verified, "{name}: a valid approval was dropped"),
        }
    }
    let one = approval(base.clone());
    let twice = attributor.attribute(
        &headers(&[
            ("authorization", &eng_7),
            ("x-access-approval", &one),
            ("x-access-approval", &one),
        ]),
        &peer(ELSEWHERE),
        now(),
    );
    assert_eq!(
        twice.requester.approval, None,
        "a duplicated approval header is refused"
    );
    // eng-7's approval, replayed by another requester or with no identity at all.
    for (name, identity) in [
        (
            "another verified requester",
            Some(bearer(&fx.idp.sign(&fx.claims("eng-8", None)))),
        ),
        ("no identity token", None),
        (
            "a forged identity token naming eng-7",
            Some(bearer(&fx.approvals_idp.sign(&fx.claims("eng-7", None)))),
        ),
    ] {
        let mut pairs = vec![("x-access-approval", one.as_str())];
        if let Some(identity) = &identity {
            pairs.push(("authorization", identity.as_str()));
        }
        let got = attributor.attribute(&headers(&pairs), &peer(ELSEWHERE), now());
        assert_eq!(got.requester.approval, None, "{name}");
    }
}

#[test]
fn start_up_errors_name_what_is_wrong() {
    let fx = Fixture::new();
    let jwt = |f: &dyn Fn(&mut JwtSource)| {
        let AttributionSource::Jwt(mut c) = fx.jwt() else {
            unreachable!()
        };
        f(&mut c);
        AttributionSource::Jwt(c)
    };
    let missing = fx.dir.path().join("missing.json");
    let not_jwks = fx.directory.clone();
    let cases: Vec<(AttributionSource, String)> = vec![
        (
            jwt(&|c| c.algorithms = vec!["HS256".into()]),
            "`HS256` is not accepted".into(),
        ),
        (
            jwt(&|c| c.algorithms = vec!["none".into()]),
            "`none` is not accepted".into(),
        ),
        (
            jwt(&|c| c.jwks.clone_from(&missing)),
            format!("cannot read {}", missing.display()),
        ),
        (
            jwt(&|c| c.jwks.clone_from(&not_jwks)),
            format!("JWKS file {}", not_jwks.display()),
        ),
        (
            jwt(&|c| c.header = "bad header".into()),
            "`bad header` is not a valid HTTP header name".into(),
        ),
        (
            AttributionSource::Geoip(jurisgate_config::GeoipSource {
                database: fx.jwks.clone(),
            }),
            format!("GeoIP database {}", fx.jwks.display()),
        ),
        (
            AttributionSource::SignedHeader(jurisgate_config::SignedHeaderSource {
                header: "x-identity".into(),
                key_file: fx.jwks.clone(),
                max_age: jurisgate_config::Dur::secs(60),
            }),
            format!("signed-header key file {}", fx.jwks.display()),
        ),
        (
            AttributionSource::Directory(jurisgate_config::DirectorySource {
                file: fx.jwks.clone(),
            }),
            format!("directory file {}", fx.jwks.display()),
        ),
        (
            AttributionSource::Mtls(jurisgate_config::MtlsSource {
                location_from: "issuer.C".into(),
                requester_kind: "service".into(),
            }),
            "`issuer.C`".into(),
        ),
    ];
    for (source, want) in cases {
        let err = Attributor::from_config(&[source], None, &[], pseudonymizer())
            .unwrap_err()
            .to_string();
        assert!(err.contains(&want), "got {err:?}, want {want:?}");
    }
}
