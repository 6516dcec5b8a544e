//! The requester from a client certificate the TLS layer already verified
//! (it sets [`PeerInfo::client_cert`](crate::PeerInfo) only then).
//!
//! Identity is the SPIFFE id among the SAN URIs when there is one (it names a
//! workload, not a host), else the subject CN. This module does not verify
//! certificates and says nothing about the data subject.

use jurisgate_config::MtlsSource;

use crate::jurisdiction::normalize_jurisdiction;
use crate::{AttributionError, ClientCertIdentity, Requester, RequesterKind, Source};

/// Which subject field gives the requester's location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LocationField {
    Country,
    Organization,
    OrganizationalUnit,
    Locality,
    State,
}

/// Builds requesters from verified client certificates.
#[derive(Debug, Clone)]
pub struct MtlsIdentity {
    kind: RequesterKind,
    location_from: LocationField,
}

impl MtlsIdentity {
    /// From the `mtls` source config.
    ///
    /// # Errors
    /// When `location_from` or `requester_kind` is not supported.
    pub fn from_config(config: &MtlsSource) -> Result<Self, AttributionError> {
        let location_from = match config.location_from.as_str() {
            "subject.C" => LocationField::Country,
            "subject.O" => LocationField::Organization,
            "subject.OU" => LocationField::OrganizationalUnit,
            "subject.L" => LocationField::Locality,
            "subject.ST" => LocationField::State,
            other => {
                return Err(AttributionError::LocationField {
                    value: other.to_string(),
                });
            }
        };
        let kind = match RequesterKind::parse(&config.requester_kind) {
            RequesterKind::Unknown => {
                return Err(AttributionError::RequesterKind {
                    value: config.requester_kind.clone(),
                });
            }
            kind => kind,
        };
        Ok(Self {
            kind,
            location_from,
        })
    }

    /// The requester a verified certificate names. The location is kept only
    /// when the field holds a plausible jurisdiction code.
    #[must_use]
    pub fn requester(&self, cert: &ClientCertIdentity) -> Requester {
        let id = cert
            .san_uris
            .iter()
            .find(|uri| uri.starts_with("spiffe://"))
            .or(cert.common_name.as_ref())
            .cloned();
        let location_field = match self.location_from {
            LocationField::Country => &cert.country,
            LocationField::Organization => &cert.organization,
            LocationField::OrganizationalUnit => &cert.organizational_unit,
            LocationField::Locality => &cert.locality,
            LocationField::State => &cert.state,
        };
        Requester {
            kind: self.kind,
            id,
            org: cert.organization.clone(),
            location: location_field.as_deref().and_then(normalize_jurisdiction),
            source: Source::Mtls,
            verified: true,
            approval: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(location_from: &str, kind: &str) -> MtlsSource {
        MtlsSource {
            location_from: location_from.into(),
            requester_kind: kind.into(),
        }
    }

    #[test]
    fn spiffe_id_wins_over_cn_and_location_follows_config() {
        let cert = ClientCertIdentity {
            common_name: Some("billing.internal".into()),
            organization: Some("USDS".into()),
            country: Some("us".into()),
            san_uris: vec![
                "https://example.com".into(),
                "spiffe://prod/ns/billing".into(),
            ],
            ..ClientCertIdentity::default()
        };
        let by_c = MtlsIdentity::from_config(&config("subject.C", "service"))
            .unwrap()
            .requester(&cert);
        assert_eq!(by_c.id.as_deref(), Some("spiffe://prod/ns/billing"));
        assert_eq!(by_c.location.as_deref(), Some("US"));
        assert_eq!(by_c.org.as_deref(), Some("USDS"));
        assert_eq!(
            (by_c.kind, by_c.source, by_c.verified),
            (RequesterKind::Service, Source::Mtls, true)
        );

        let by_o = MtlsIdentity::from_config(&config("subject.O", "employee"))
            .unwrap()
            .requester(&cert);
        assert_eq!(
            (by_o.kind, by_o.location.as_deref()),
            (RequesterKind::Employee, Some("USDS"))
        );

        let cn_only = ClientCertIdentity {
            common_name: Some("ops".into()),
            ..ClientCertIdentity::default()
        };
        let r = MtlsIdentity::from_config(&config("subject.OU", "service"))
            .unwrap()
            .requester(&cn_only);
        assert_eq!((r.id.as_deref(), r.location), (Some("ops"), None));
    }

    #[test]
    fn unsupported_config_values_are_named() {
        let err = MtlsIdentity::from_config(&config("subject.CN", "service")).unwrap_err();
        assert!(err.to_string().contains("`subject.CN`"));
        let err = MtlsIdentity::from_config(&config("subject.C", "robot")).unwrap_err();
        assert!(err.to_string().contains("`robot`"));
    }
}
