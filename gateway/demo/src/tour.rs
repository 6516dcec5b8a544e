//! The scripted tour: who asks for what, what the gateway should do, and a
//! check of every expectation against the responses, the stores and the
//! audit log.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use jurisgate_audit::{Event, Record};
use jurisgate_proxy::start::Running;
use jurisgate_tls::HttpsConnector;
use serde_json::{Value, json};

use crate::setup::{AUDIENCE, write_demo_files};
use crate::store::RegionalStore;

/// Options of `jurisgate demo`.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// Keep the demo's config, audit log and verifier key in this folder.
    pub keep: Option<PathBuf>,
    /// Serve over TLS, asking for client certificates; the tour's client presents one.
    pub tls: bool,
}

/// The demo's regions, in the order the routes list their pools.
const REGIONS: [&str; 4] = ["us-east", "us-west", "eu-west", "ap-southeast"];

/// A person or service in the tour.
#[derive(Clone, Copy)]
enum Who {
    /// Alice, a US user.
    Alice,
    /// Émile, an EU user.
    Emile,
    /// An engineer outside the US, without an approval.
    Engineer,
    /// The same engineer, with a verified access approval.
    ApprovedEngineer,
    /// Nobody: no credentials at all.
    Anonymous,
    /// Someone presenting a token signed by a key the gateway does not trust.
    Forger,
}

impl Who {
    fn label(self) -> &'static str {
        match self {
            Self::Alice => "alice (US user)",
            Self::Emile => "emile (EU user)",
            Self::Engineer => "eng-sg (employee, SG)",
            Self::ApprovedEngineer => "eng-sg + approval",
            Self::Anonymous => "anonymous",
            Self::Forger => "forged token",
        }
    }
}

/// A check of a successful response's JSON body.
type BodyCheck = fn(&Value) -> Result<(), String>;

/// One step of the tour.
struct Step {
    name: &'static str,
    who: Who,
    method: Method,
    path: &'static str,
    body: Option<Value>,
    extra_headers: Vec<(&'static str, &'static str)>,
    before: Option<Outage>,
    expect_status: StatusCode,
    expect_region: Option<&'static str>,
    check: Option<BodyCheck>,
}

#[derive(Clone, Copy)]
enum Outage {
    Down(&'static str),
    Up(&'static str),
}

fn steps() -> Vec<Step> {
    let alice_message = json!({"user": {"id": "alice", "email": "alice@example.com", "phone": "+1-555-0100"}, "text": "hello from Texas"});
    let emile_message =
        json!({"user": {"id": "emile", "email": "emile@example.eu"}, "text": "bonjour de Paris"});
    let step = |name, who, method, path, expect_status, expect_region| Step {
        name,
        who,
        method,
        path,
        body: None,
        extra_headers: Vec::new(),
        before: None,
        expect_status,
        expect_region,
        check: None,
    };
    vec![
        Step {
            body: Some(alice_message.clone()),
            ..step(
                "US user writes",
                Who::Alice,
                Method::POST,
                "/v1/messages/alice-1",
                StatusCode::CREATED,
                Some("us-east"),
            )
        },
        Step {
            body: Some(emile_message.clone()),
            ..step(
                "EU user writes",
                Who::Emile,
                Method::POST,
                "/v1/messages/emile-1",
                StatusCode::CREATED,
                Some("eu-west"),
            )
        },
        Step {
            check: Some(|v| {
                (v.pointer("/user/email") == Some(&json!("alice@example.com")))
                    .then_some(())
                    .ok_or_else(|| "the owner should see her own email".into())
            }),
            ..step(
                "US user reads own data",
                Who::Alice,
                Method::GET,
                "/v1/messages/alice-1",
                StatusCode::OK,
                Some("us-east"),
            )
        },
        step(
            "engineer abroad reads US data",
            Who::Engineer,
            Method::GET,
            "/v1/messages/alice-1",
            StatusCode::FORBIDDEN,
            None,
        ),
        Step {
            check: Some(|v| {
                let email = v
                    .pointer("/user/email")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if email.starts_with("hs256:") && !v.to_string().contains("alice@example.com") {
                    Ok(())
                } else {
                    Err(format!("expected a pseudonymised email, got {email:?}"))
                }
            }),
            ..step(
                "... with an approval: pseudonymised",
                Who::ApprovedEngineer,
                Method::GET,
                "/v1/messages/alice-1",
                StatusCode::OK,
                Some("us-east"),
            )
        },
        Step {
            body: Some(emile_message),
            extra_headers: vec![
                ("x-jurisgate-jurisdiction", "US"),
                ("x-jurisgate-region", "us-east"),
            ],
            ..step(
                "EU user spoofs x-jurisgate-jurisdiction: US",
                Who::Emile,
                Method::POST,
                "/v1/messages/emile-2",
                StatusCode::CREATED,
                Some("eu-west"),
            )
        },
        Step {
            extra_headers: vec![("x-jurisgate-jurisdiction", "US")],
            ..step(
                "no identity, spoofed header",
                Who::Anonymous,
                Method::GET,
                "/v1/messages/alice-1",
                StatusCode::FORBIDDEN,
                None,
            )
        },
        step(
            "forged token claiming US",
            Who::Forger,
            Method::GET,
            "/v1/messages/alice-1",
            StatusCode::FORBIDDEN,
            None,
        ),
        Step {
            body: Some(json!({"banner": "welcome"})),
            ..step(
                "public content, any region",
                Who::Anonymous,
                Method::PUT,
                "/v1/public/banner",
                StatusCode::CREATED,
                Some("ap-southeast"),
            )
        },
        Step {
            body: Some(alice_message.clone()),
            before: Some(Outage::Down("us-east")),
            ..step(
                "us-east down: fails over to us-west",
                Who::Alice,
                Method::POST,
                "/v1/messages/alice-2",
                StatusCode::CREATED,
                Some("us-west"),
            )
        },
        Step {
            body: Some(alice_message),
            before: Some(Outage::Down("us-west")),
            ..step(
                "both US regions down: refused",
                Who::Alice,
                Method::POST,
                "/v1/messages/alice-3",
                StatusCode::SERVICE_UNAVAILABLE,
                None,
            )
        },
        Step {
            before: Some(Outage::Up("us-east")),
            ..step(
                "us-east back: served again",
                Who::Alice,
                Method::GET,
                "/v1/messages/alice-1",
                StatusCode::OK,
                Some("us-east"),
            )
        },
        step(
            "encoded slash path trick",
            Who::Alice,
            Method::GET,
            "/v1/public/..%2f..%2fv1/messages/alice-1",
            StatusCode::BAD_REQUEST,
            None,
        ),
        step(
            "no route",
            Who::Alice,
            Method::GET,
            "/admin/users",
            StatusCode::NOT_FOUND,
            None,
        ),
    ]
}

/// What one step produced.
struct Outcome {
    step: &'static str,
    who: &'static str,
    request_id: String,
    status: StatusCode,
    region: Option<String>,
    problems: Vec<String>,
}

/// Runs the demo. Returns whether every expectation held.
///
/// # Errors
/// When the demo cannot be set up (ports, files).
pub fn run(opts: &DemoOptions) -> anyhow::Result<bool> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(opts))
}

async fn run_async(opts: &DemoOptions) -> anyhow::Result<bool> {
    let temp;
    let dir = match &opts.keep {
        Some(d) => {
            if d.join("audit").exists() {
                bail!(
                    "{} already holds a demo audit log; choose an empty folder for --keep",
                    d.display()
                );
            }
            d.clone()
        }
        None => {
            temp = TempDir::new()?;
            temp.0.clone()
        }
    };

    let mut stores = Vec::new();
    for region in REGIONS {
        stores.push(
            RegionalStore::start(region)
                .await
                .with_context(|| format!("starting the {region} store"))?,
        );
    }
    let endpoints: Vec<(String, String)> = stores
        .iter()
        .map(|s| (s.region().to_string(), s.url()))
        .collect();
    let files = write_demo_files(&dir, &endpoints)?;
    let (scheme, connector) = if opts.tls {
        ("https", crate::tls::enable(&files)?)
    } else {
        ("http", crate::tls::plain())
    };
    let config = jurisgate_config::load(&files.config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let running = Running::start(&config)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let addr = running.proxy_addr();
    println!(
        "jurisgate demo: gateway on {scheme}://{addr}, stores {}",
        endpoints
            .iter()
            .map(|(r, u)| format!("{r}={u}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!();

    let client: Client<HttpsConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector);
    let mut outcomes = Vec::new();
    for step in steps() {
        if let Some(outage) = step.before {
            apply_outage(&running, &stores, outage).await?;
        }
        outcomes.push(
            drive(
                &client,
                &format!("{scheme}://{addr}"),
                &files,
                &stores,
                &step,
            )
            .await?,
        );
    }
    for store in &stores {
        store.set_up(true);
    }

    let admin = running.admin_addr();
    running
        .shutdown("demo finished")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    // The audit log must verify, and hold a record for every step.
    let verified = jurisgate_audit::verify(&files.audit_dir, &files.vkey);
    let records: Vec<Record> = jurisgate_audit::read_records(&files.audit_dir)
        .map_err(|e| anyhow::anyhow!("reading the audit log: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("reading the audit log: {e}"))?;
    check_against_audit(&mut outcomes, &records, &stores);

    print_table(&outcomes, &records);
    println!(
        "(allow* = the policy allowed it, but no approved region was healthy, so the gateway refused it)"
    );
    let mut ok = outcomes.iter().all(|o| o.problems.is_empty());
    println!();
    match &verified {
        Ok(summary) => println!("audit log: verified — {summary}"),
        Err(e) => {
            ok = false;
            println!("audit log: VERIFICATION FAILED — {e}");
        }
    }
    if let Some(admin) = admin {
        println!("(admin listener was http://{admin}: /healthz /readyz /metrics)");
    }
    if opts.keep.is_some() {
        println!();
        println!("kept in {}:", files.dir.display());
        println!("  config        {}", files.config.display());
        println!("  audit log     {}", files.audit_dir.display());
        println!("  verifier key  {}", files.vkey_file.display());
        println!("  policy        {}", files.policy_dir.display());
        println!("try:");
        println!(
            "  jurisgate audit verify {} --key {}",
            files.audit_dir.display(),
            files.vkey_file.display()
        );
        println!(
            "  jurisgate audit query {} --decision deny",
            files.audit_dir.display()
        );
        println!(
            "  jurisgate policy replay --policy {} --audit {}",
            files.policy_dir.display(),
            files.audit_dir.display()
        );
    }
    println!();
    if ok {
        println!("demo: every expectation held");
    } else {
        for o in outcomes.iter().filter(|o| !o.problems.is_empty()) {
            println!(
                "demo: step \"{}\" failed: {}",
                o.step,
                o.problems.join("; ")
            );
        }
    }
    Ok(ok)
}

async fn apply_outage(
    running: &Running,
    stores: &[RegionalStore],
    outage: Outage,
) -> anyhow::Result<()> {
    let (region, up) = match outage {
        Outage::Down(r) => (r, false),
        Outage::Up(r) => (r, true),
    };
    if let Some(store) = stores.iter().find(|s| s.region() == region) {
        store.set_up(up);
    }
    // Wait for the gateway's health checks to see it, rather than sleeping a guess.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = running
            .gateway()
            .pools
            .health_snapshot()
            .iter()
            .filter(|p| p.region == region)
            .all(|p| p.endpoints.iter().all(|e| e.healthy == up));
        if seen {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "the gateway did not notice {region} going {} within 10 s",
                if up { "up" } else { "down" }
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn token_for(files: &crate::setup::DemoFiles, who: Who) -> (Option<String>, Option<String>) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = |sub: &str, jurisdiction: Option<&str>, kind: &str, location: &str, org: &str| {
        let mut c = json!({
            "iss": crate::setup::ISSUER, "aud": AUDIENCE, "sub": sub, "kind": kind,
            "location": location, "org": org, "iat": now, "exp": now + 600,
        });
        if let Some(j) = jurisdiction {
            c["jurisdiction"] = json!(j);
        }
        c
    };
    match who {
        Who::Alice => (
            Some(
                files
                    .idp
                    .sign(&claims("alice", Some("US"), "user", "US", "consumer")),
            ),
            None,
        ),
        Who::Emile => (
            Some(
                files
                    .idp
                    .sign(&claims("emile", Some("EU"), "user", "FR", "consumer")),
            ),
            None,
        ),
        Who::Engineer => (
            Some(files.idp.sign(&claims(
                "eng-sg-7",
                Some("US"),
                "employee",
                "SG",
                "global-eng",
            ))),
            None,
        ),
        Who::ApprovedEngineer => {
            let approval = files.approvals.sign(&json!({
                "iss": crate::setup::APPROVALS_ISSUER, "aud": AUDIENCE, "approval_id": "APR-17",
                "scope": "support:read-messages", "sub": "eng-sg-7", "iat": now, "exp": now + 600,
            }));
            (
                Some(files.idp.sign(&claims(
                    "eng-sg-7",
                    Some("US"),
                    "employee",
                    "SG",
                    "global-eng",
                ))),
                Some(approval),
            )
        }
        Who::Anonymous => (None, None),
        Who::Forger => {
            let rogue =
                jurisgate_attribution::dev_idp::DevIdp::generate(crate::setup::ISSUER, AUDIENCE);
            (
                Some(rogue.sign(&claims("alice", Some("US"), "user", "US", "consumer"))),
                None,
            )
        }
    }
}

async fn drive(
    client: &Client<HttpsConnector, Full<Bytes>>,
    base: &str,
    files: &crate::setup::DemoFiles,
    stores: &[RegionalStore],
    step: &Step,
) -> anyhow::Result<Outcome> {
    let mut req = Request::builder()
        .method(step.method.clone())
        .uri(format!("{base}{}", step.path))
        .header("host", "api.demo.jurisgate");
    let (token, approval) = token_for(files, step.who);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(a) = approval {
        req = req.header("x-access-approval", a);
    }
    for (k, v) in &step.extra_headers {
        req = req.header(*k, *v);
    }
    let body = step
        .body
        .as_ref()
        .map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
    if step.body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let resp = client
        .request(req.body(Full::new(body))?)
        .await
        .with_context(|| format!("step \"{}\": sending", step.name))?;
    let status = resp.status();
    let request_id = resp
        .headers()
        .get("x-jurisgate-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = resp.into_body().collect().await?.to_bytes();
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);

    let mut problems = Vec::new();
    if status != step.expect_status {
        problems.push(format!(
            "status {status}, expected {} (body {})",
            step.expect_status,
            String::from_utf8_lossy(&bytes)
        ));
    }
    let reached: Vec<&RegionalStore> = stores.iter().filter(|s| s.saw(&request_id)).collect();
    let region = reached.first().map(|s| s.region().to_string());
    match (step.expect_region, region.as_deref()) {
        (Some(want), Some(got)) if want != got => {
            problems.push(format!("reached {got}, expected {want}"))
        }
        (Some(want), None) => problems.push(format!("reached no store, expected {want}")),
        (None, Some(got)) => problems.push(format!("reached {got}, expected no store at all")),
        _ => {}
    }
    if reached.len() > 1 {
        problems.push("reached more than one store".into());
    }
    for store in &reached {
        for r in store
            .received()
            .iter()
            .filter(|r| r.request_id.as_deref() == Some(request_id.as_str()))
        {
            if r.region_header.as_deref() != Some(store.region()) {
                problems.push(format!(
                    "store {} got x-jurisgate-region {:?}",
                    store.region(),
                    r.region_header
                ));
            }
            if step.extra_headers.iter().any(|(k, v)| {
                *k == "x-jurisgate-jurisdiction" && r.jurisdiction.as_deref() == Some(*v)
            }) && !matches!(step.who, Who::Alice)
            {
                problems.push("the spoofed jurisdiction header reached the store".into());
            }
        }
    }
    if let Some(check) = step.check
        && status.is_success()
        && let Err(e) = check(&value)
    {
        problems.push(e);
    }
    Ok(Outcome {
        step: step.name,
        who: step.who.label(),
        request_id,
        status,
        region,
        problems,
    })
}

fn decision_for<'a>(
    records: &'a [Record],
    request_id: &str,
) -> Option<&'a jurisgate_audit::DecisionEvent> {
    records.iter().find_map(|r| match &r.event {
        Event::Decision(d) if d.request_id == request_id => Some(d.as_ref()),
        _ => None,
    })
}

fn check_against_audit(outcomes: &mut [Outcome], records: &[Record], stores: &[RegionalStore]) {
    for o in outcomes.iter_mut() {
        match decision_for(records, &o.request_id) {
            None => o
                .problems
                .push("no decision record in the audit log".into()),
            Some(d) => {
                if d.region != o.region && o.status != StatusCode::BAD_GATEWAY {
                    o.problems.push(format!(
                        "audit says region {:?}, the stores saw {:?}",
                        d.region, o.region
                    ));
                }
            }
        }
    }
    // Every request any store received must have been recorded first.
    for store in stores {
        for r in store.received() {
            let id = r.request_id.unwrap_or_default();
            if decision_for(records, &id).is_none()
                && let Some(o) = outcomes.first_mut()
            {
                o.problems.push(format!(
                    "store {} received {id} with no decision record",
                    store.region()
                ));
            }
        }
    }
}

fn print_table(outcomes: &[Outcome], records: &[Record]) {
    println!(
        "{:<44} {:<22} {:<26} {:<9} {:<8} {:<13} {:>6}  ok",
        "step", "who", "jurisdiction (src)", "route", "decision", "region", "status"
    );
    println!("{}", "-".repeat(142));
    for o in outcomes {
        let d = decision_for(records, &o.request_id);
        let jurisdiction = d.map_or_else(
            || "-".to_string(),
            |d| {
                format!(
                    "{} ({}{})",
                    d.subject.jurisdiction,
                    d.subject.source,
                    if d.subject.verified {
                        ""
                    } else {
                        ", unverified"
                    }
                )
            },
        );
        let route = d
            .and_then(|d| d.route.clone())
            .unwrap_or_else(|| "-".into());
        let decision = match d {
            None => "-",
            Some(d) if d.refusal.is_some() && d.decision.allow => "allow*",
            Some(d) if d.decision.allow => "allow",
            Some(_) => "deny",
        };
        println!(
            "{:<44} {:<22} {:<26} {:<9} {:<8} {:<13} {:>6}  {}",
            o.step,
            o.who,
            jurisdiction,
            route,
            decision,
            o.region.as_deref().unwrap_or("-"),
            o.status.as_u16(),
            if o.problems.is_empty() { "yes" } else { "NO" }
        );
    }
}

/// A temporary folder removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<Self> {
        let mut bytes = [0u8; 8];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
        let dir = std::env::temp_dir().join(format!("jurisgate-demo-{}", hex::encode(bytes)));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
