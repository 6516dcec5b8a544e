//! The [`Attributor`]: runs the configured sources in order and combines
//! what they say into one [`Attribution`].
//!
//! - Subject: the first source giving a *verified* jurisdiction wins (a JWT
//!   claim, a signed header, or the directory entry of the first verified
//!   user id seen so far). GeoIP is consulted only when nothing verified was
//!   found, and is never verified. With nothing, [`Subject::unknown`].
//! - Pseudonym: of the user id tied to the winning source, else of the first
//!   verified user id; never the raw id.
//! - Requester: the first verified JWT or mTLS certificate, in source order;
//!   for `kind = user` tokens the id is the pseudonym.
//! - Approval: verified separately, attached to the requester; an invalid
//!   one is dropped.
//!
//! Nothing here reads client-supplied jurisdiction headers, and no failure
//! becomes an error response: the policy decides on what is reported.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use http::{HeaderMap, HeaderName};
use ipnet::IpNet;
use jurisgate_config::{Approvals, AttributionSource};

use crate::approval::ApprovalVerifier;
use crate::bearer::single_value;
use crate::directory::Directory;
use crate::geoip::{GeoIp, client_addr};
use crate::identity_token::JwtIdentitySource;
use crate::jwks::KeySet;
use crate::jwt::JwtVerifier;
use crate::load::load_jwks;
use crate::load::parse_header_name;
use crate::mtls::MtlsIdentity;
use crate::signed_header::{SignedHeaderVerifier, load_hmac_key};
use crate::{
    Attribution, AttributionError, PeerInfo, Pseudonymizer, Requester, RequesterKind, Source,
    Subject,
};

/// One built source.
#[derive(Debug)]
enum Built {
    Jwt(JwtIdentitySource),
    SignedHeader {
        header: HeaderName,
        verifier: SignedHeaderVerifier,
    },
    Directory(Directory),
    Mtls(MtlsIdentity),
    Geoip(GeoIp),
}

/// Attributes requests. Built once at start-up; shared across tasks.
#[derive(Debug)]
pub struct Attributor {
    sources: Vec<Built>,
    approvals: Option<ApprovalVerifier>,
    trusted_proxies: Vec<IpNet>,
    subject_key: Pseudonymizer,
}

/// A verified subject jurisdiction and the user id it belongs to.
struct VerifiedSubject {
    jurisdiction: String,
    source: Source,
    user: Option<String>,
}

impl Attributor {
    /// Builds every source: reads key files, JWKS, the directory and the
    /// GeoIP database once.
    ///
    /// # Errors
    /// An [`AttributionError`] naming the file or value at fault.
    pub fn from_config(
        sources: &[AttributionSource],
        approvals: Option<&Approvals>,
        trusted_proxies: &[IpNet],
        subject_key: Pseudonymizer,
    ) -> Result<Self, AttributionError> {
        let mut built = Vec::with_capacity(sources.len());
        for source in sources {
            built.push(match source {
                AttributionSource::Jwt(c) => Built::Jwt(JwtIdentitySource::from_config(c)?),
                AttributionSource::SignedHeader(c) => Built::SignedHeader {
                    header: parse_header_name(&c.header)?,
                    verifier: SignedHeaderVerifier::new(&load_hmac_key(&c.key_file)?, c.max_age.0),
                },
                AttributionSource::Directory(c) => {
                    let user_sources = built
                        .iter()
                        .filter(|b| matches!(b, Built::Jwt(_) | Built::SignedHeader { .. }))
                        .count();
                    if user_sources == 0 {
                        // Legal, but it can never answer: say so at start-up.
                        tracing::warn!(
                            file = %c.file.display(),
                            "directory source placed before any jwt or signed_header source: \
                             it has no verified user id to look up"
                        );
                    }
                    Built::Directory(Directory::load(&c.file)?)
                }
                AttributionSource::Mtls(c) => Built::Mtls(MtlsIdentity::from_config(c)?),
                AttributionSource::Geoip(c) => Built::Geoip(GeoIp::open(&c.database)?),
            });
        }
        Ok(Self {
            sources: built,
            approvals: approvals.map(ApprovalVerifier::from_config).transpose()?,
            trusted_proxies: trusted_proxies.to_vec(),
            subject_key,
        })
    }

    /// Every verifier whose keys come from a JWKS file, in a fixed order
    /// (identity sources, then approvals), named as in the audit log.
    fn key_sources(&self) -> impl Iterator<Item = (&'static str, (&Path, &JwtVerifier))> {
        let jwt = self.sources.iter().filter_map(|s| match s {
            Built::Jwt(jwt) => Some(("jwks", jwt.keys())),
            _ => None,
        });
        jwt.chain(self.approvals.iter().map(|a| ("approvals", a.keys())))
    }

    /// Reads every JWKS file again (identity sources and approvals), for an
    /// identity provider's key rotation without a restart. Nothing changes
    /// until [`Self::use_keys`]: the caller records the new fingerprints
    /// ([`Self::key_set_ids`]) first. A file that fails to load is reported
    /// and its source keeps the keys it has; the others are still read.
    #[must_use]
    pub fn read_keys(&self) -> KeyRead {
        let mut read = KeyRead::default();
        for (i, (_, (file, verifier))) in self.key_sources().enumerate() {
            match load_jwks(file) {
                Ok(set) if !verifier.holds(&set) => read.changed.push((i, set)),
                Ok(_) => {}
                Err(e) => read.refused.push(e),
            }
        }
        read
    }

    /// Verified tokens cached now, over every identity source and
    /// approval issuer (each cache is bounded by its `token_cache`).
    #[must_use]
    pub fn cached_tokens(&self) -> usize {
        self.key_sources()
            .map(|(_, (_, v))| v.cached_tokens())
            .sum()
    }

    /// Puts the changed key sets of `read` in use. Tokens verified under a
    /// replaced set are verified again; unchanged sets keep their caches.
    pub fn use_keys(&self, read: KeyRead) {
        let verifiers: Vec<&JwtVerifier> = self.key_sources().map(|(_, (_, v))| v).collect();
        for (i, set) in read.changed {
            if let Some(verifier) = verifiers.get(i) {
                verifier.replace_keys(set);
            }
        }
    }

    /// The key sets, for the audit log: `jwks:<issuer>` for each identity
    /// source and `approvals:<issuer>`, each to its key set's fingerprint
    /// (a second source with the same issuer gets `#2`); as they are now,
    /// or as they will be once `pending` is used.
    #[must_use]
    pub fn key_set_ids(&self, pending: Option<&KeyRead>) -> BTreeMap<String, String> {
        let mut ids = BTreeMap::new();
        for (i, (what, (_, verifier))) in self.key_sources().enumerate() {
            let issuer = verifier.issuer();
            let fingerprint = pending
                .and_then(|p| p.changed.iter().find(|(at, _)| *at == i))
                .map_or_else(
                    || verifier.key_set_fingerprint(),
                    |(_, set)| set.fingerprint(),
                );
            let mut name = format!("{what}:{issuer}");
            let mut n = 1;
            while ids.contains_key(&name) {
                n += 1;
                name = format!("{what}:{issuer}#{n}");
            }
            ids.insert(name, fingerprint);
        }
        ids
    }

    /// Attributes one request at time `now`.
    #[must_use]
    pub fn attribute(&self, headers: &HeaderMap, peer: &PeerInfo, now: SystemTime) -> Attribution {
        let mut subject: Option<VerifiedSubject> = None;
        let mut first_user: Option<String> = None;
        let mut requester: Option<Requester> = None;
        // The requester's id before any pseudonym: what an approval's `sub` names.
        let mut requester_raw_id: Option<String> = None;
        let mut geoip: Option<&GeoIp> = None;
        // A user is usually both the subject and the requester: one HMAC serves both.
        let mut pseudonyms = PseudonymOnce::new(&self.subject_key);
        for source in &self.sources {
            if subject.is_some() && requester.is_some() {
                break;
            }
            match source {
                Built::Jwt(jwt) => {
                    let Some(identity) = jwt.identity(headers, now) else {
                        continue;
                    };
                    if first_user.is_none() {
                        first_user.clone_from(&identity.user);
                    }
                    if subject.is_none()
                        && let Some(jurisdiction) = identity.jurisdiction
                    {
                        subject = Some(VerifiedSubject {
                            jurisdiction,
                            source: Source::Jwt,
                            user: identity.user.clone(),
                        });
                    }
                    if requester.is_none() {
                        requester_raw_id.clone_from(&identity.user);
                        let id = match identity.kind {
                            RequesterKind::Service | RequesterKind::Employee => identity.user,
                            // Users (and kinds we cannot name) are data subjects: pseudonymise.
                            RequesterKind::User | RequesterKind::Unknown => {
                                identity.user.map(|u| pseudonyms.of(&u))
                            }
                        };
                        requester = Some(Requester {
                            kind: identity.kind,
                            id,
                            org: identity.org,
                            location: identity.location,
                            source: Source::Jwt,
                            verified: true,
                            approval: None,
                        });
                    }
                }
                Built::SignedHeader { header, verifier } => {
                    let verified = single_value(headers, header)
                        .map_err(|e| e.to_string())
                        .and_then(|v| {
                            v.map(|v| {
                                verifier
                                    .verify(v.as_bytes(), now)
                                    .map_err(|e| e.to_string())
                            })
                            .transpose()
                        });
                    let identity = match verified {
                        Ok(Some(identity)) => identity,
                        Ok(None) => continue,
                        Err(reason) => {
                            tracing::debug!(%header, %reason, "signed header not used");
                            continue;
                        }
                    };
                    if first_user.is_none() {
                        first_user = Some(identity.user.clone());
                    }
                    if subject.is_none()
                        && let Some(jurisdiction) = identity.jurisdiction
                    {
                        subject = Some(VerifiedSubject {
                            jurisdiction,
                            source: Source::SignedHeader,
                            user: Some(identity.user),
                        });
                    }
                }
                Built::Directory(directory) => {
                    if subject.is_none()
                        && let Some(user) = &first_user
                        && let Some(home) = directory.home_of(user)
                    {
                        subject = Some(VerifiedSubject {
                            jurisdiction: home.to_string(),
                            source: Source::Directory,
                            user: Some(user.clone()),
                        });
                    }
                }
                Built::Mtls(mtls) => {
                    if requester.is_none()
                        && let Some(cert) = &peer.client_cert
                    {
                        let from_cert = mtls.requester(cert);
                        requester_raw_id.clone_from(&from_cert.id);
                        requester = Some(from_cert);
                    }
                }
                Built::Geoip(db) => {
                    // Looked up only after the loop, and only if still needed.
                    geoip = geoip.or(Some(db));
                }
            }
        }

        let subject = match subject {
            Some(found) => Subject {
                jurisdiction: found.jurisdiction,
                source: found.source,
                verified: true,
                pseudonym: found.user.map(|u| pseudonyms.of(&u)),
            },
            None => {
                let mut weak = geoip
                    .and_then(|db| {
                        let addr =
                            client_addr(peer.remote_addr.ip(), headers, &self.trusted_proxies)?;
                        db.jurisdiction(addr)
                    })
                    .map_or_else(Subject::unknown, |jurisdiction| Subject {
                        jurisdiction,
                        source: Source::Geoip,
                        verified: false,
                        pseudonym: None,
                    });
                weak.pseudonym = first_user.map(|u| pseudonyms.of(&u));
                weak
            }
        };
        let mut requester = requester.unwrap_or_else(Requester::unknown);
        requester.approval = self
            .approvals
            .as_ref()
            .and_then(|a| a.approval(headers, now, requester_raw_id.as_deref()));
        Attribution { subject, requester }
    }
}

/// JWKS files read again by [`Attributor::read_keys`], not yet in use.
#[derive(Debug, Default)]
pub struct KeyRead {
    /// Key sets whose document changed, by position in the attributor's sources.
    changed: Vec<(usize, KeySet)>,
    /// The files refused, each naming its file; their sources keep their keys.
    pub refused: Vec<AttributionError>,
}

impl KeyRead {
    /// How many key sets changed (a file read again unchanged does not count).
    #[must_use]
    pub fn changed(&self) -> usize {
        self.changed.len()
    }
}

/// Pseudonyms for one request, remembering the last one made.
struct PseudonymOnce<'a> {
    key: &'a Pseudonymizer,
    last: Option<(String, String)>,
}

impl<'a> PseudonymOnce<'a> {
    fn new(key: &'a Pseudonymizer) -> Self {
        Self { key, last: None }
    }

    /// The pseudonym of `user`.
    fn of(&mut self, user: &str) -> String {
        match &self.last {
            Some((u, p)) if u == user => p.clone(),
            _ => {
                let p = self.key.pseudonym(user);
                self.last = Some((user.to_string(), p.clone()));
                p
            }
        }
    }
}
