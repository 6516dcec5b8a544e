//! What the report reads into one decision record: its outcome category,
//! its reason grouped for counting, whether it failed over, whether it
//! crossed a border and what obligations came with it. Pure functions of
//! the record; counting them is `aggregate`'s job.

use jurisgate_audit::DecisionEvent;

/// How a decision ended, as the charts colour it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Outcome {
    /// Allowed and sent to an upstream.
    Forwarded,
    /// Denied by the policy, or refused by the gateway for the request's
    /// own sake (bad request, no route, too large).
    Denied,
    /// Not forwarded because something failed: `policy_error`, no approved
    /// region healthy, upstream errors.
    Error,
    /// Refused because the audit record could not be made durable.
    AuditUnavailable,
}

impl Outcome {
    /// Every outcome, in chart order.
    pub(crate) const ALL: [Self; 4] = [
        Self::Forwarded,
        Self::Denied,
        Self::Error,
        Self::AuditUnavailable,
    ];

    /// Stable name, used in filters and data attributes.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Self::Forwarded => "forwarded",
            Self::Denied => "denied",
            Self::Error => "error",
            Self::AuditUnavailable => "audit_unavailable",
        }
    }

    /// Name for people.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Forwarded => "allowed, forwarded",
            Self::Denied => "denied",
            Self::Error => "error (not forwarded)",
            Self::AuditUnavailable => "audit unavailable",
        }
    }

    /// Index into per-outcome arrays.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// The outcome of a decision record.
pub(crate) fn outcome(d: &DecisionEvent) -> Outcome {
    let refusal = d.refusal.as_deref();
    if refusal == Some("audit_unavailable") || d.decision.reason == "audit_unavailable" {
        return Outcome::AuditUnavailable;
    }
    if d.decision.reason == "policy_error" {
        return Outcome::Error;
    }
    match refusal {
        Some(_) if d.status.is_some_and(|s| s >= 500) => Outcome::Error,
        Some(_) => Outcome::Denied,
        None if d.decision.allow && d.region.is_some() => Outcome::Forwarded,
        // Allowed yet sent nowhere and no refusal named: the record does
        // not say why, which is itself worth a look.
        None if d.decision.allow => Outcome::Error,
        None => Outcome::Denied,
    }
}

/// Where a decision went, as the flow chart's last column names it.
pub(crate) fn destination(d: &DecisionEvent, outcome: Outcome) -> &str {
    match (outcome, d.region.as_deref()) {
        (Outcome::Forwarded, Some(region)) => region,
        (Outcome::Forwarded | Outcome::Error, _) => "not forwarded: error",
        (Outcome::Denied, _) => "not forwarded: denied",
        (Outcome::AuditUnavailable, _) => "not forwarded: audit unavailable",
    }
}

/// Whether a destination name is one of [`destination`]'s refusals.
pub(crate) fn is_refused_destination(dest: &str) -> bool {
    dest.starts_with("not forwarded: ")
}

/// The reason a decision was not forwarded, grouped: gateway reasons of the
/// form `rule: detail` (`encoded_slash: %2F at byte 13`) count under their
/// rule, so one rule is one bar whatever the detail.
pub(crate) fn reason_group(d: &DecisionEvent) -> &str {
    reason_rule(d.refusal.as_deref().unwrap_or(&d.decision.reason))
}

/// A gateway reason's rule: `upstream_error: pool us-east: connection
/// reset` → `upstream_error`; a reason without one is its own group.
pub(crate) fn reason_rule(reason: &str) -> &str {
    match reason.split_once(": ") {
        Some((rule, _))
            if !rule.is_empty()
                && rule
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
        {
            rule
        }
        _ => reason,
    }
}

/// The failover a forwarded decision took, as (first approved pool's
/// region, region used): the pool used is not the first pool of the route,
/// in route order, whose region the policy approved. `None` when it is,
/// or when the record has no input to tell.
pub(crate) fn failover(d: &DecisionEvent) -> Option<(String, String)> {
    let used_pool = d.pool.as_deref()?;
    let used_region = d.region.as_deref()?;
    // A version 1 record has the whole input, a version 2 record its
    // destinations in `input_rest`.
    let input = d.input.as_ref().or(d.input_rest.as_ref())?;
    let destinations = input.get("destinations")?.as_array()?;
    let first = destinations.iter().find(|dest| {
        dest.get("region")
            .and_then(|r| r.as_str())
            .is_some_and(|r| d.decision.regions.iter().any(|a| a == r))
    })?;
    let first_pool = first.get("pool")?.as_str()?;
    (first_pool != used_pool).then(|| {
        let first_region = first.get("region").and_then(|r| r.as_str()).unwrap_or("?");
        (first_region.to_string(), used_region.to_string())
    })
}

/// Member states of the EU, for requesters whose location is a country
/// and subjects whose jurisdiction is `EU`.
const EU_MEMBERS: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// The requester's location when it lies outside the subject's
/// jurisdiction (a country inside the EU counts as inside `EU`). `None` for
/// same-jurisdiction access, an unknown subject or no recorded location.
pub(crate) fn cross_border(d: &DecisionEvent) -> Option<&str> {
    let location = d.requester.location.as_deref()?;
    let jurisdiction = d.subject.jurisdiction.as_str();
    if jurisdiction.eq_ignore_ascii_case("unknown") || location.is_empty() {
        return None;
    }
    let inside = location.eq_ignore_ascii_case(jurisdiction)
        || (jurisdiction.eq_ignore_ascii_case("EU")
            && EU_MEMBERS.iter().any(|m| m.eq_ignore_ascii_case(location)));
    (!inside).then_some(location)
}

/// Whether a method only reads.
pub(crate) fn is_read(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// The obligations of a decision in words: `pseudonymised /a, /b;
/// redacted /c`, or `none`.
pub(crate) fn obligations(d: &DecisionEvent) -> String {
    let list = |name: &str| -> Vec<&str> {
        d.decision
            .obligations
            .get(name)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|p| p.as_str()).collect())
            .unwrap_or_default()
    };
    let mut parts = Vec::new();
    let pseudonymised = list("pseudonymize");
    if !pseudonymised.is_empty() {
        parts.push(format!("pseudonymised {}", pseudonymised.join(", ")));
    }
    let redacted = list("redact");
    if !redacted.is_empty() {
        parts.push(format!("redacted {}", redacted.join(", ")));
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jurisgate_audit::{Outcome as Decided, RequesterFacts, SubjectFacts};
    use serde_json::json;

    fn decision(allow: bool, region: Option<&str>) -> DecisionEvent {
        DecisionEvent {
            request_id: "r".into(),
            subject: SubjectFacts {
                jurisdiction: "US".into(),
                source: "jwt".into(),
                verified: true,
                pseudonym: None,
            },
            requester: RequesterFacts {
                kind: "employee".into(),
                id: Some("eng-7".into()),
                org: None,
                location: Some("SG".into()),
                source: "jwt".into(),
                verified: true,
                approval: None,
            },
            method: "GET".into(),
            host: "h".into(),
            path: "/".into(),
            route: Some("messages".into()),
            service: None,
            data_class: Some("protected".into()),
            decision: Decided {
                allow,
                regions: vec!["us-east".into(), "us-west".into()],
                reason: "because".into(),
                obligations: json!({"pseudonymize": ["/email"], "redact": ["/phone"]}),
            },
            pool: region.map(str::to_string),
            region: region.map(str::to_string),
            status: None,
            refusal: None,
            policy_revision: None,
            input: None,
            input_rest: None,
        }
    }

    #[test]
    fn outcomes_follow_the_policy_and_the_gateways_refusal() {
        assert_eq!(
            outcome(&decision(true, Some("us-east"))),
            Outcome::Forwarded
        );
        assert_eq!(outcome(&decision(false, None)), Outcome::Denied);
        let mut no_region = decision(true, None);
        no_region.refusal = Some("no_approved_region_available".into());
        no_region.status = Some(503);
        assert_eq!(outcome(&no_region), Outcome::Error);
        assert_eq!(
            destination(&no_region, Outcome::Error),
            "not forwarded: error"
        );
        let mut audit = decision(true, None);
        audit.refusal = Some("audit_unavailable".into());
        audit.status = Some(503);
        assert_eq!(outcome(&audit), Outcome::AuditUnavailable);
        let mut bad = decision(false, None);
        bad.refusal = Some("encoded_slash: %2F at byte 13".into());
        bad.status = Some(400);
        assert_eq!(outcome(&bad), Outcome::Denied);
        assert_eq!(reason_group(&bad), "encoded_slash");
        let mut policy = decision(false, None);
        policy.decision.reason = "access needs approval: none given".into();
        assert_eq!(reason_group(&policy), "access needs approval: none given");
        policy.decision.reason = "policy_error".into();
        assert_eq!(outcome(&policy), Outcome::Error);
    }

    #[test]
    fn failover_is_a_pool_other_than_the_first_approved_one() {
        let destinations = json!({"destinations": [
            {"pool": "eu-west", "region": "eu-west", "healthy": true},
            {"pool": "us-east", "region": "us-east", "healthy": false},
            {"pool": "us-west", "region": "us-west", "healthy": true},
        ]});
        // Version 2 records keep destinations in `input_rest`, version 1 in `input`.
        for v1 in [false, true] {
            let mut d = decision(true, Some("us-west"));
            if v1 {
                d.input = Some(destinations.clone());
            } else {
                d.input_rest = Some(destinations.clone());
            }
            assert_eq!(failover(&d), Some(("us-east".into(), "us-west".into())));
            d.pool = Some("us-east".into());
            d.region = Some("us-east".into());
            assert_eq!(failover(&d), None);
            d.input = None;
            d.input_rest = None;
            assert_eq!(failover(&d), None);
        }
    }

    #[test]
    fn cross_border_knows_the_eu_and_unknown_subjects() {
        let mut d = decision(true, Some("us-east"));
        assert_eq!(cross_border(&d), Some("SG"));
        d.requester.location = Some("US".into());
        assert_eq!(cross_border(&d), None);
        d.subject.jurisdiction = "EU".into();
        d.requester.location = Some("FR".into());
        assert_eq!(cross_border(&d), None);
        d.requester.location = Some("US".into());
        assert_eq!(cross_border(&d), Some("US"));
        d.subject.jurisdiction = "unknown".into();
        assert_eq!(cross_border(&d), None);
        assert_eq!(obligations(&d), "pseudonymised /email; redacted /phone");
    }
}
