//! Development certificates: a throw-away CA and the server and client
//! certificates it signs, made with rcgen (ECDSA P-256). Used by
//! `jurisgate certs dev`, the demo and the tests, so none of them needs
//! external tools or committed keys.
//!
//! Nothing here is fit for production: keys live in memory until the caller
//! writes them, and the CA has no name constraints or revocation.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};

/// A local certificate authority.
pub struct DevCa {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

impl std::fmt::Debug for DevCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevCa").finish_non_exhaustive()
    }
}

/// What a leaf certificate says.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    /// Subject CN.
    pub common_name: String,
    /// Subject O.
    pub organization: Option<String>,
    /// Subject OU.
    pub organizational_unit: Option<String>,
    /// Subject C.
    pub country: Option<String>,
    /// Subject L.
    pub locality: Option<String>,
    /// Subject ST.
    pub state: Option<String>,
    /// SAN DNS names.
    pub dns_names: Vec<String>,
    /// SAN IP addresses.
    pub ips: Vec<IpAddr>,
    /// SAN URIs (SPIFFE ids, for one).
    pub uris: Vec<String>,
    /// Usable by a TLS server.
    pub server: bool,
    /// Usable by a TLS client.
    pub client: bool,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

impl LeafSpec {
    /// A server certificate for `names` (DNS names or IP addresses), valid
    /// from an hour ago for a year.
    #[must_use]
    pub fn server(names: &[&str]) -> Self {
        let (ips, dns): (Vec<&str>, Vec<&str>) =
            names.iter().partition(|n| n.parse::<IpAddr>().is_ok());
        Self {
            common_name: names.first().map_or_else(String::new, |n| (*n).to_string()),
            dns_names: dns.into_iter().map(str::to_string).collect(),
            ips: ips.into_iter().filter_map(|n| n.parse().ok()).collect(),
            server: true,
            client: false,
            ..Self::client("")
        }
    }

    /// A client certificate for `common_name`, valid from an hour ago for a year.
    #[must_use]
    pub fn client(common_name: &str) -> Self {
        let now = OffsetDateTime::now_utc();
        Self {
            common_name: common_name.to_string(),
            organization: None,
            organizational_unit: None,
            country: None,
            locality: None,
            state: None,
            dns_names: Vec::new(),
            ips: Vec::new(),
            uris: Vec::new(),
            server: false,
            client: true,
            not_before: now - Duration::hours(1),
            not_after: now + Duration::days(365),
        }
    }
}

/// A signed certificate and its private key.
#[derive(Debug, Clone)]
pub struct DevCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
    der: CertificateDer<'static>,
}

impl DevCert {
    /// The certificate, DER.
    #[must_use]
    pub fn der(&self) -> CertificateDer<'static> {
        self.der.clone()
    }
}

impl DevCa {
    /// A new CA named `common_name`, valid from an hour ago for ten years.
    ///
    /// # Errors
    /// When rcgen cannot make the key or certificate.
    pub fn generate(common_name: &str) -> Result<Self, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        dn.push(
            DnType::OrganizationName,
            "jurisgate development (not for production)",
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(3650);
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate, PEM (the trust anchor to configure).
    #[must_use]
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues a certificate as `spec` says, with a new key.
    ///
    /// # Errors
    /// When a name cannot be encoded or rcgen cannot sign.
    pub fn issue(&self, spec: &LeafSpec) -> Result<DevCert, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, spec.common_name.as_str());
        let optional = [
            (DnType::OrganizationName, &spec.organization),
            (DnType::OrganizationalUnitName, &spec.organizational_unit),
            (DnType::CountryName, &spec.country),
            (DnType::LocalityName, &spec.locality),
            (DnType::StateOrProvinceName, &spec.state),
        ];
        for (ty, value) in optional {
            if let Some(v) = value {
                dn.push(ty, v.as_str());
            }
        }
        params.distinguished_name = dn;
        for name in &spec.dns_names {
            params
                .subject_alt_names
                .push(SanType::DnsName(name.as_str().try_into()?));
        }
        for ip in &spec.ips {
            params.subject_alt_names.push(SanType::IpAddress(*ip));
        }
        for uri in &spec.uris {
            params
                .subject_alt_names
                .push(SanType::URI(uri.as_str().try_into()?));
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if spec.server {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
        }
        if spec.client {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ClientAuth);
        }
        params.not_before = spec.not_before;
        params.not_after = spec.not_after;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(DevCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        })
    }
}
