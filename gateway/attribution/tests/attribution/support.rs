//! Shared fixtures: keys generated per test run (Ed25519 via the dev IdP,
//! RSA-2048 via `rsa`, P-256 via `rcgen`), their JWKS, a signed-header key,
//! a directory file and a GeoIP database, all in a temp dir.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderName, HeaderValue};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use jurisgate_attribution::dev_idp::DevIdp;
use jurisgate_attribution::{Attributor, ClientCertIdentity, PeerInfo, Pseudonymizer};
use jurisgate_config::{
    Approvals, AttributionSource, DirectorySource, Dur, GeoipSource, JwtSource, MtlsSource,
    SignedHeaderSource,
};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

pub(crate) const ISSUER: &str = "https://id.example.com";
pub(crate) const AUDIENCE: &str = "app";
pub(crate) const APPROVALS_ISSUER: &str = "https://approvals.example.com";
pub(crate) const APPROVALS_AUDIENCE: &str = "jurisgate";
pub(crate) const HMAC_KEY: &[u8] = b"jurisgate-test-identity-hmac-key";
pub(crate) const SUBJECT_KEY: &[u8] = b"jurisgate-test-subject-key-32byt";
pub(crate) const RSA_KID: &str = "rsa-1";
pub(crate) const EC_KID: &str = "ec-1";
/// A fixed "now" so every expiry is deterministic.
pub(crate) const NOW_SECS: u64 = 1_800_000_000;

pub(crate) fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW_SECS)
}

/// An RSA-2048 key, generated once per test binary (generation is slow).
pub(crate) fn rsa_key() -> &'static rsa::RsaPrivateKey {
    static KEY: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap())
}

pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) idp: DevIdp,
    pub(crate) approvals_idp: DevIdp,
    pub(crate) ec: rcgen::KeyPair,
    pub(crate) jwks: PathBuf,
    pub(crate) approvals_jwks: PathBuf,
    pub(crate) hmac_key: PathBuf,
    pub(crate) directory: PathBuf,
    pub(crate) geoip: PathBuf,
}

/// Network → country in the test GeoIP database.
pub(crate) const GEO_DE: &str = "198.51.100.7";
pub(crate) const GEO_US: &str = "203.0.113.9";
pub(crate) const TRUSTED_PROXY: &str = "10.0.0.2";

impl Fixture {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let idp = DevIdp::generate(ISSUER, AUDIENCE);
        let approvals_idp = DevIdp::generate(APPROVALS_ISSUER, APPROVALS_AUDIENCE);
        let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();

        // One JWKS with all three key types, as a real IdP mid-rotation might publish.
        let mut jwks: Value = serde_json::from_str(&idp.jwks_json()).unwrap();
        let keys = jwks["keys"].as_array_mut().unwrap();
        let rsa = rsa_key().to_public_key();
        keys.push(json!({"kty": "RSA", "kid": RSA_KID, "use": "sig",
            "n": URL_SAFE_NO_PAD.encode(rsa.n().to_bytes_be()), "e": URL_SAFE_NO_PAD.encode(rsa.e().to_bytes_be())}));
        let point = ec.public_key_raw();
        keys.push(json!({"kty": "EC", "crv": "P-256", "kid": EC_KID, "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])}));

        let path = |name: &str| dir.path().join(name);
        std::fs::write(path("jwks.json"), jwks.to_string()).unwrap();
        std::fs::write(path("approvals-jwks.json"), approvals_idp.jwks_json()).unwrap();
        std::fs::write(path("identity.key"), format!("{}\n", hex::encode(HMAC_KEY))).unwrap();
        std::fs::write(
            path("users.json"),
            r#"{"alice": "US", "bob": "EU", "mallory": "CN"}"#,
        )
        .unwrap();
        super::mmdb::write_country_db(
            &path("country.mmdb"),
            &[
                (Ipv4Addr::new(198, 51, 100, 0), 24, "DE"),
                (Ipv4Addr::new(203, 0, 113, 0), 24, "US"),
                (Ipv4Addr::new(192, 0, 2, 0), 24, "GB"),
            ],
        );
        Self {
            jwks: path("jwks.json"),
            approvals_jwks: path("approvals-jwks.json"),
            hmac_key: path("identity.key"),
            directory: path("users.json"),
            geoip: path("country.mmdb"),
            dir,
            idp,
            approvals_idp,
            ec,
        }
    }

    pub(crate) fn jwt(&self) -> AttributionSource {
        AttributionSource::Jwt(JwtSource {
            header: "authorization".into(),
            jwks: self.jwks.clone(),
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            jurisdiction_claim: "jurisdiction".into(),
            requester_kind_claim: "kind".into(),
            location_claim: "location".into(),
            org_claim: "org".into(),
            algorithms: ["RS256", "ES256", "EdDSA"].map(String::from).to_vec(),
            leeway: Dur::secs(30),
            token_cache: 10_000,
        })
    }

    pub(crate) fn signed_header(&self) -> AttributionSource {
        AttributionSource::SignedHeader(SignedHeaderSource {
            header: "x-identity".into(),
            key_file: self.hmac_key.clone(),
            max_age: Dur::secs(60),
        })
    }

    pub(crate) fn directory(&self) -> AttributionSource {
        AttributionSource::Directory(DirectorySource {
            file: self.directory.clone(),
        })
    }

    pub(crate) fn mtls() -> AttributionSource {
        AttributionSource::Mtls(MtlsSource {
            location_from: "subject.C".into(),
            requester_kind: "service".into(),
        })
    }

    pub(crate) fn geoip(&self) -> AttributionSource {
        AttributionSource::Geoip(GeoipSource {
            database: self.geoip.clone(),
        })
    }

    pub(crate) fn approvals(&self) -> Approvals {
        Approvals {
            header: "x-access-approval".into(),
            jwks: self.approvals_jwks.clone(),
            issuer: APPROVALS_ISSUER.into(),
            audience: APPROVALS_AUDIENCE.into(),
        }
    }

    /// Every source, in the documented order, with approvals and a trusted proxy.
    pub(crate) fn all_sources(&self) -> Attributor {
        self.attributor(vec![
            self.jwt(),
            self.signed_header(),
            self.directory(),
            Self::mtls(),
            self.geoip(),
        ])
    }

    pub(crate) fn attributor(&self, sources: Vec<AttributionSource>) -> Attributor {
        let approvals = self.approvals();
        Attributor::from_config(
            &sources,
            Some(&approvals),
            &[format!("{TRUSTED_PROXY}/32").parse().unwrap()],
            pseudonymizer(),
        )
        .unwrap()
    }

    /// Standard identity claims at [`now`].
    pub(crate) fn claims(&self, sub: &str, jurisdiction: Option<&str>) -> Value {
        self.idp.claims(sub, jurisdiction, now())
    }

    pub(crate) fn sign_rs256(&self, kid: Option<&str>, claims: &Value) -> String {
        let der = rsa_key().to_pkcs1_der().unwrap();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = kid.map(String::from);
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(der.as_bytes())).unwrap()
    }

    pub(crate) fn sign_es256(&self, kid: Option<&str>, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = kid.map(String::from);
        jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_ec_der(&self.ec.serialize_der()),
        )
        .unwrap()
    }
}

pub(crate) fn pseudonymizer() -> Pseudonymizer {
    Pseudonymizer::new(SUBJECT_KEY).unwrap()
}

/// A compact token with any header, claims and raw signature bytes.
pub(crate) fn raw_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// An HS256 token whose "secret" is `secret` (e.g. a public key's bytes).
pub(crate) fn hs256_token(kid: &str, claims: &Value, secret: &[u8]) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

pub(crate) fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

pub(crate) fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

pub(crate) fn peer(ip: &str) -> PeerInfo {
    PeerInfo {
        remote_addr: SocketAddr::new(ip.parse::<IpAddr>().unwrap(), 40000),
        client_cert: None,
    }
}

pub(crate) fn peer_with_cert(ip: &str, cert: ClientCertIdentity) -> PeerInfo {
    PeerInfo {
        client_cert: Some(cert),
        ..peer(ip)
    }
}

/// A client address outside every test GeoIP network.
pub(crate) const ELSEWHERE: &str = "100.64.0.1";
