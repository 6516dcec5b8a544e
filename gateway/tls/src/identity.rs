//! The requester identity a verified client certificate carries: subject
//! CN, O, OU, C, L, ST and the SAN URIs (SPIFFE ids among them).
//!
//! Call it only with a certificate rustls verified: the result is trusted
//! as-is by attribution. This module does not verify anything, and a
//! certificate it cannot parse yields no identity rather than a partial one.

use jurisgate_attribution::ClientCertIdentity;
use rustls_pki_types::CertificateDer;
use x509_parser::prelude::{FromDer as _, GeneralName, X509Certificate, X509Name};

/// The identity in the verified end-entity certificate `der`, or `None` when
/// it cannot be parsed.
#[must_use]
pub fn client_identity(der: &CertificateDer<'_>) -> Option<ClientCertIdentity> {
    let (_, cert) = X509Certificate::from_der(der.as_ref()).ok()?;
    let subject = cert.subject();
    let san_uris = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::URI(uri) => Some((*uri).to_string()),
                _ => None,
            })
            .collect(),
        Ok(None) => Vec::new(),
        // A duplicated or malformed SAN extension: refuse the whole identity.
        Err(_) => return None,
    };
    Some(ClientCertIdentity {
        common_name: first(subject, X509Name::iter_common_name),
        organization: first(subject, X509Name::iter_organization),
        organizational_unit: first(subject, X509Name::iter_organizational_unit),
        country: first(subject, X509Name::iter_country),
        locality: first(subject, X509Name::iter_locality),
        state: first(subject, X509Name::iter_state_or_province),
        san_uris,
    })
}

/// The first attribute of one kind, when it is a string.
fn first<'a, I>(name: &'a X509Name<'a>, attrs: impl Fn(&'a X509Name<'a>) -> I) -> Option<String>
where
    I: Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>,
{
    attrs(name)
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::{DevCa, LeafSpec};

    #[test]
    fn reads_subject_fields_and_san_uris() {
        let ca = DevCa::generate("test CA").unwrap();
        let leaf = ca
            .issue(&LeafSpec {
                common_name: "billing".into(),
                organization: Some("usds".into()),
                organizational_unit: Some("payments".into()),
                country: Some("US".into()),
                locality: Some("Austin".into()),
                state: Some("TX".into()),
                uris: vec!["spiffe://us.example/ns/billing".into()],
                ..LeafSpec::client("billing")
            })
            .unwrap();
        let id = client_identity(&leaf.der()).unwrap();
        assert_eq!(
            id,
            ClientCertIdentity {
                common_name: Some("billing".into()),
                organization: Some("usds".into()),
                organizational_unit: Some("payments".into()),
                country: Some("US".into()),
                locality: Some("Austin".into()),
                state: Some("TX".into()),
                san_uris: vec!["spiffe://us.example/ns/billing".into()],
            }
        );
        assert_eq!(
            client_identity(&CertificateDer::from(vec![0x30, 0x03, 0x01])),
            None
        );
    }
}
