//! Shared helpers for the audit integration tests: a temporary audit folder
//! with a freshly generated key, and realistic decision events.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use jurisgate_audit::tlog::NoteVerifier;
use jurisgate_audit::{
    AuditLog, AuditOptions, DecisionEvent, Durability, Event, Outcome, RequesterFacts, SubjectFacts,
};

pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub key: PathBuf,
    pub verifier: NoteVerifier,
}

impl Fixture {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("audit");
        let key = tmp.path().join("audit.key");
        let (skey, vkey) = jurisgate_audit::keygen("jurisgate.test/replica-1");
        std::fs::write(&key, skey).unwrap();
        Self {
            verifier: NoteVerifier::parse(&vkey).unwrap(),
            tmp,
            dir,
            key,
        }
    }

    pub fn options(&self) -> AuditOptions {
        let mut o = AuditOptions::new(&self.dir, &self.key, "jurisgate.test/replica-1");
        o.durability = Durability::Fsync;
        o.checkpoint_every = Duration::from_secs(3600);
        o
    }

    pub async fn open(&self, opts: AuditOptions) -> AuditLog {
        AuditLog::open(opts, "0.1.0-test").await.unwrap()
    }

    pub fn segment(&self, n: u32) -> PathBuf {
        self.dir.join(jurisgate_audit::layout::segment_name(n))
    }
}

pub fn decision(i: u64) -> Event {
    let (jurisdiction, region, allow) = match i % 3 {
        0 => ("US", Some("us-east"), true),
        1 => ("EU", Some("eu-west"), true),
        _ => ("US", None, false),
    };
    Event::Decision(Box::new(DecisionEvent {
        request_id: format!("req-{i}"),
        subject: SubjectFacts {
            jurisdiction: jurisdiction.into(),
            source: "jwt".into(),
            verified: true,
            pseudonym: Some(format!("hs256:{i:08x}")),
        },
        requester: RequesterFacts {
            kind: "user".into(),
            id: Some(format!("user-{}", i % 5)),
            org: None,
            location: Some(jurisdiction.into()),
            source: "jwt".into(),
            verified: true,
            approval: None,
        },
        method: "GET".into(),
        host: "api.example.com".into(),
        path: format!("/v1/messages/{i}"),
        route: Some(
            if i.is_multiple_of(2) {
                "messages"
            } else {
                "profile"
            }
            .into(),
        ),
        service: Some("messages".into()),
        data_class: Some("protected".into()),
        decision: Outcome {
            allow,
            regions: region.map(|r| vec![r.to_string()]).unwrap_or_default(),
            reason: if allow {
                "stays in region"
            } else {
                "cross-border"
            }
            .into(),
            obligations: serde_json::json!({}),
        },
        pool: region.map(|r| format!("messages-{r}")),
        region: region.map(str::to_string),
        status: None,
        refusal: None,
        policy_revision: Some("sha256:abc".into()),
        input: None,
        input_rest: None,
    }))
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
