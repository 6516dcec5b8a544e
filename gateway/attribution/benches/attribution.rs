//! What attributing one request costs, through `Attributor::attribute` as
//! the gateway calls it: `cargo bench -p jurisgate-attribution --bench attribution`.
//!
//! The attributor has one source, a JWT verified against a JWKS file (the
//! dev IdP's Ed25519 key, EdDSA, the algorithm the demo and the benchmark
//! harness use), and the subject's pseudonym is keyed with HMAC-SHA-256:
//!
//! - `attribute/jwt_eddsa`: a valid bearer token of a US user, with the
//!   token cache off (`token_cache = 0`): header lookup, bearer parsing, JWT
//!   header decoding, key lookup by `kid`, the Ed25519 signature check,
//!   claim validation and the pseudonym;
//! - `attribute/jwt_eddsa_cached`: the same token with the cache on, as
//!   configured by default, after its first use: the SHA-256 of the token,
//!   a cache lookup, the `exp`/`nbf` check, claim mapping and the pseudonym;
//! - `attribute/no_credentials`: no `Authorization` header, the floor.
//!
//! A short smoke run on the project's 2-core machine, beside other builds:
//! see `BENCHMARKS.md` for figures taken on a quiet machine.

// `criterion_main!` generates an undocumented `main`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, header};
use jurisgate_attribution::dev_idp::DevIdp;
use jurisgate_attribution::{Attributor, PeerInfo, Pseudonymizer};
use jurisgate_config::{AttributionSource, Dur, JwtSource};

const ISSUER: &str = "https://id.example.com";
const AUDIENCE: &str = "app";

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let idp = DevIdp::generate(ISSUER, AUDIENCE);
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, idp.jwks_json()).expect("JWKS written");
    let source = |token_cache| {
        AttributionSource::Jwt(JwtSource {
            header: "authorization".into(),
            jwks: jwks.clone(),
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            jurisdiction_claim: "jurisdiction".into(),
            requester_kind_claim: "kind".into(),
            location_claim: "location".into(),
            org_claim: "org".into(),
            algorithms: vec!["EdDSA".into()],
            leeway: Dur::secs(30),
            token_cache,
        })
    };
    let attributor = |token_cache| {
        let key = Pseudonymizer::new(b"jurisgate-bench-subject-key-32by").expect("subject key");
        Attributor::from_config(&[source(token_cache)], None, &[], key).expect("attributor")
    };
    let uncached = attributor(0);
    let cached = attributor(10_000);

    let now = SystemTime::now();
    let mut claims = idp.claims("alice", Some("US"), now);
    claims["kind"] = "user".into();
    let token = idp.sign(&claims);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).expect("header value"),
    );
    let peer = PeerInfo {
        remote_addr: SocketAddr::from(([127, 0, 0, 1], 40000)),
        client_cert: None,
    };
    let attribution = uncached.attribute(&headers, &peer, now);
    assert!(
        attribution.subject.verified && attribution.subject.jurisdiction == "US",
        "the token verifies: {attribution:?}"
    );
    assert_eq!(
        cached.attribute(&headers, &peer, now),
        attribution,
        "the cached path says what a verification says"
    );

    let mut group = c.benchmark_group("attribute");
    group.bench_function("jwt_eddsa", |b| {
        b.iter(|| black_box(uncached.attribute(black_box(&headers), &peer, now)));
    });
    group.bench_function("jwt_eddsa_cached", |b| {
        b.iter(|| black_box(cached.attribute(black_box(&headers), &peer, now)));
    });
    let empty = HeaderMap::new();
    group.bench_function("no_credentials", |b| {
        b.iter(|| black_box(cached.attribute(black_box(&empty), &peer, now)));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
