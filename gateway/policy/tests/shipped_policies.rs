//! The shipped policy sets decided over every subject jurisdiction × data
//! class × requester kind, through the same `decide(&PolicyInput)` the
//! gateway calls. Each table row reads as a sentence of the policy.

use std::path::{Path, PathBuf};

use jurisgate_attribution::{Approval, Requester, RequesterKind, Source, Subject};
use jurisgate_policy::{
    Decision, Destination, EngineOptions, PolicyEngine, PolicyInput, RequestFacts, Resource,
};

const NOW: &str = "2026-11-27T18:00:00Z";
/// The route offers pools in these regions (one unhealthy: health is the
/// router's business, not the policy's).
const ROUTE_REGIONS: [(&str, bool); 3] = [
    ("us-east", true),
    ("eu-west", true),
    ("ap-southeast", false),
];
const JURISDICTIONS: [&str; 4] = ["US", "EU", "JP", "unknown"];
const REQUESTERS: [&str; 7] = [
    "user@US",
    "user@FR",
    "service@US",
    "employee@US",
    "employee@DE",
    "employee@IE+approval",
    "unknown",
];

fn engine(set: &str) -> PolicyEngine {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../policies")
        .join(set);
    PolicyEngine::load(&dir, &EngineOptions::default()).unwrap()
}

/// `kind@LOCATION[+approval]`, or `unknown`.
fn requester(spec: &str) -> Requester {
    if spec == "unknown" {
        return Requester::unknown();
    }
    let (kind, rest) = spec.split_once('@').unwrap();
    let (location, approved) = match rest.split_once('+') {
        Some((loc, _)) => (loc, true),
        None => (rest, false),
    };
    Requester {
        kind: RequesterKind::parse(kind),
        id: Some(format!("{kind}-1")),
        org: None,
        location: Some(location.into()),
        source: Source::Mtls,
        verified: true,
        approval: approved.then(|| Approval {
            id: "APR-17".into(),
            scope: "support".into(),
            expires: "2026-11-28T00:00:00Z".into(),
            verified: true,
        }),
    }
}

fn input(jurisdiction: &str, class: &str, requester_spec: &str, method: &str) -> PolicyInput {
    let subject = if jurisdiction == "unknown" {
        Subject::unknown()
    } else {
        Subject {
            jurisdiction: jurisdiction.into(),
            source: Source::Jwt,
            verified: true,
            pseudonym: Some("hs256:abc".into()),
        }
    };
    PolicyInput {
        request: RequestFacts {
            id: "01JTEST".into(),
            method: method.into(),
            host: "api.example.com".into(),
            path: "/v1/things/1".into(),
            query: Default::default(),
            headers: Default::default(),
        },
        subject,
        requester: requester(requester_spec),
        resource: Resource {
            route: "things".into(),
            service: "things".into(),
            data_class: class.into(),
        },
        destinations: ROUTE_REGIONS
            .iter()
            .map(|(r, healthy)| Destination {
                pool: format!("things-{r}"),
                region: (*r).into(),
                healthy: *healthy,
            })
            .collect(),
        time: NOW.into(),
    }
}

/// `deny`, or `allow r1 r2` with ` pseudonymised` when fields are pseudonymised.
fn outcome(d: &Decision) -> String {
    if !d.allow {
        assert!(d.regions.is_empty());
        assert!(!d.reason.is_empty(), "a deny always says why");
        return "deny".into();
    }
    let mut s = format!("allow {}", d.regions.join(" "));
    if !d.obligations.pseudonymize.is_empty() {
        s.push_str(" pseudonymised");
    }
    s
}

/// Open data goes to every region the route offers, whoever asks.
fn assert_open_classes_go_anywhere(engine: &PolicyEngine) {
    for class in ["excepted", "public"] {
        for j in JURISDICTIONS {
            for r in REQUESTERS {
                let d = engine.decide(&input(j, class, r, "GET"));
                assert_eq!(
                    outcome(&d),
                    "allow ap-southeast eu-west us-east",
                    "{class} {j} {r}"
                );
            }
        }
    }
}

fn assert_protected(engine: &PolicyEngine, method: &str, table: &[(&str, &str, &str)]) {
    assert_eq!(
        table.len(),
        JURISDICTIONS.len() * REQUESTERS.len(),
        "the table covers every pair"
    );
    for (j, r, expected) in table {
        let d = engine.decide(&input(j, "protected", r, method));
        assert_eq!(
            outcome(&d),
            *expected,
            "protected {method}: subject {j}, requester {r} ({})",
            d.reason
        );
        // An unknown class is treated exactly like protected.
        let unknown_class = engine.decide(&input(j, "telemetry", r, method));
        assert_eq!(outcome(&unknown_class), *expected, "unknown class: {j} {r}");
    }
}

#[test]
fn texas_decisions_for_every_jurisdiction_class_and_requester() {
    let e = engine("texas");
    assert_open_classes_go_anywhere(&e);
    #[rustfmt::skip]
    let protected = [
        // subject  requester                decision
        ("US", "user@US",              "allow us-east us-west"),
        ("US", "user@FR",              "allow us-east us-west"),   // a user's own data, wherever they are
        ("US", "service@US",           "allow us-east us-west"),
        ("US", "employee@US",          "allow us-east us-west"),
        ("US", "employee@DE",          "deny"),                    // abroad, no approval
        ("US", "employee@IE+approval", "allow us-east us-west pseudonymised"),
        ("US", "unknown",              "deny"),                    // unverified requester
        ("EU", "user@US",              "allow eu-west"),
        ("EU", "user@FR",              "allow eu-west"),
        ("EU", "service@US",           "allow eu-west"),
        ("EU", "employee@US",          "deny"),                    // outside the data's jurisdiction
        ("EU", "employee@DE",          "deny"),                    // DE is not "EU" to this policy
        ("EU", "employee@IE+approval", "allow eu-west pseudonymised"),
        ("EU", "unknown",              "deny"),
        ("JP", "user@US",              "deny"),                    // no approved regions for JP
        ("JP", "user@FR",              "deny"),
        ("JP", "service@US",           "deny"),
        ("JP", "employee@US",          "deny"),
        ("JP", "employee@DE",          "deny"),
        ("JP", "employee@IE+approval", "deny"),
        ("JP", "unknown",              "deny"),
        ("unknown", "user@US",         "deny"),                    // unverified subject
        ("unknown", "user@FR",         "deny"),
        ("unknown", "service@US",      "deny"),
        ("unknown", "employee@US",     "deny"),
        ("unknown", "employee@DE",     "deny"),
        ("unknown", "employee@IE+approval", "deny"),
        ("unknown", "unknown",         "deny"),
    ];
    assert_protected(&e, "GET", &protected);
    assert_protected(&e, "POST", &protected);
}

#[test]
fn clover_decisions_for_every_jurisdiction_class_and_requester() {
    let e = engine("clover");
    assert_open_classes_go_anywhere(&e);
    #[rustfmt::skip]
    let reads = [
        // subject  requester                decision
        ("EU", "user@US",              "allow eu-west eu-central"),  // a user's own data is no transfer
        ("EU", "user@FR",              "allow eu-west eu-central"),
        ("EU", "service@US",           "allow eu-west eu-central pseudonymised"),
        ("EU", "employee@US",          "allow eu-west eu-central pseudonymised"),
        ("EU", "employee@DE",          "allow eu-west eu-central"),
        ("EU", "employee@IE+approval", "allow eu-west eu-central"),  // IE is in the EU
        ("EU", "unknown",              "deny"),
        ("US", "user@US",              "allow us-east us-west"),
        ("US", "user@FR",              "allow us-east us-west"),
        ("US", "service@US",           "allow us-east us-west"),
        ("US", "employee@US",          "allow us-east us-west"),
        ("US", "employee@DE",          "allow us-east us-west"),
        ("US", "employee@IE+approval", "allow us-east us-west"),
        ("US", "unknown",              "deny"),
        ("JP", "user@US",              "deny"),
        ("JP", "user@FR",              "deny"),
        ("JP", "service@US",           "deny"),
        ("JP", "employee@US",          "deny"),
        ("JP", "employee@DE",          "deny"),
        ("JP", "employee@IE+approval", "deny"),
        ("JP", "unknown",              "deny"),
        ("unknown", "user@US",         "deny"),
        ("unknown", "user@FR",         "deny"),
        ("unknown", "service@US",      "deny"),
        ("unknown", "employee@US",     "deny"),
        ("unknown", "employee@DE",     "deny"),
        ("unknown", "employee@IE+approval", "deny"),
        ("unknown", "unknown",         "deny"),
    ];
    assert_protected(&e, "GET", &reads);
    // Writes differ only where a transfer out of the EU would be a change.
    let writes: Vec<(&str, &str, &str)> = reads
        .iter()
        .map(|&(j, r, d)| {
            (
                j,
                r,
                if d.ends_with("pseudonymised") {
                    "deny"
                } else {
                    d
                },
            )
        })
        .collect();
    assert_protected(&e, "PUT", &writes);
}
