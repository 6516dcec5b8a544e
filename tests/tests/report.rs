//! `jurisgate audit report`: the auditor's HTML report, built by the real
//! binary from a log the real demo wrote, opened in headless Chromium, and
//! checked against `jurisgate audit query` on the same log; a tampered log
//! gives a report that says so first; a synthetic month of traffic (written
//! line by line, hashed and signed with the log's own tree and note code,
//! so it verifies) shows the anomalies planted in it.
//!
//! Chromium is Debian's `chromium` package (`.ci/run` installs it). Without
//! it the browser test fails under CI=true and is skipped, saying why,
//! elsewhere.

use std::collections::BTreeSet;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use jurisgate_audit::layout::{CHECKPOINT_DIR, checkpoint_name, segment_name};
use jurisgate_audit::tlog::{Checkpoint, CompactTree, NoteSigner, leaf_hash};
use jurisgate_audit::{
    ConfigLoaded, DecisionEvent, Event, FORMAT_VERSION, ForwardFailed, Outcome, PolicyLoaded,
    Record, RequesterFacts, Shutdown, Startup, SubjectFacts, keygen,
};
use jurisgate_e2e::run_cli;
use serde_json::{Value, json};

/// The demo's log, kept in a temp folder: (folder, audit dir, verifier key file).
fn demo_log() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run_cli(&["demo", "--keep", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "demo failed:\n{out}\n{err}");
    let audit = dir.path().join("audit");
    let vkey = dir.path().join("audit.vkey");
    (dir, audit, vkey)
}

fn report(audit: &Path, vkey: &Path, out: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "audit",
        "report",
        audit.to_str().unwrap(),
        "--key",
        vkey.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run_cli(&args)
}

/// The records `audit query DIR --format json FILTERS…` prints.
fn query(audit: &Path, filters: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "audit",
        "query",
        audit.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(filters);
    let (code, out, err) = run_cli(&args);
    assert_eq!(code, 0, "audit query {filters:?} failed: {err}");
    out.lines()
        .map(|l| serde_json::from_str(l).expect("query prints JSON lines"))
        .collect()
}

/// The number shown in the element with `data-k="key"` (thousands
/// separators removed), if there is one.
fn shown(html: &str, key: &str) -> Option<u64> {
    let at = html.find(&format!(r#"data-k="{key}">"#))?;
    let rest = &html[at..];
    let text = &rest[rest.find('>')? + 1..];
    let text = &text[..text.find('<')?];
    text.replace(',', "").trim().parse().ok()
}

/// An attribute of the first element whose opening tag contains `marker`.
fn attr(html: &str, marker: &str, name: &str) -> Option<String> {
    let at = html.find(marker)?;
    let start = html[..at].rfind('<')?;
    let tag = &html[start..start + html[start..].find('>')?];
    let v = &tag[tag.find(&format!(r#"{name}=""#))? + name.len() + 2..];
    Some(v[..v.find('"')?].to_string())
}

/// Debian's Chromium, or why it cannot be used here.
fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"].iter().find_map(|name| {
        let out = Command::new("which").arg(name).output().ok()?;
        out.status
            .success()
            .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    })
}

/// Runs headless Chromium on `url` with `what` (`--dump-dom`,
/// `--screenshot=…`); returns its standard output.
fn browse(chromium: &Path, url: &str, what: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // Let the page's script run before the DOM is dumped or drawn.
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(what)
        .arg(url)
        .output()
        .expect("running chromium");
    assert!(
        out.status.success(),
        "chromium {what:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_demo_report_shows_what_audit_query_counts_in_a_browser() {
    let Some(chromium) = chromium() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "chromium is not installed: .ci/run installs Debian's `chromium` package for this test"
            );
        }
        eprintln!(
            "skipped: chromium is not installed (apt-get install -y chromium); CI installs it"
        );
        return;
    };
    let (dir, audit, vkey) = demo_log();
    let html_path = dir.path().join("report.html");
    let (code, out, err) = report(&audit, &vkey, &html_path, &[]);
    assert_eq!(code, 0, "audit report failed:\n{out}\n{err}");
    assert!(out.starts_with("OK: verified"), "{out}");
    let url = format!("file://{}", html_path.display());

    let dom = browse(&chromium, &url, &["--dump-dom"]);
    // The verdict is the first thing in the page.
    let body = &dom[dom.find("<body>").expect("a body") + 6..];
    assert!(
        body.trim_start().starts_with(
            r#"<p id="verdict" class="verdict ok" data-verified="true">Verification passed"#
        ),
        "{}",
        &body[..300.min(body.len())]
    );

    // Every count shown matches what `audit query` counts on the same log.
    let all = query(&audit, &[]);
    let decisions: Vec<&Value> = all.iter().filter(|r| r["kind"] == "decision").collect();
    assert!(decisions.len() >= 10, "the demo makes a dozen decisions");
    assert_eq!(shown(&dom, "records"), Some(all.len() as u64));
    assert_eq!(shown(&dom, "decisions"), Some(decisions.len() as u64));
    assert_eq!(
        shown(&dom, "allow"),
        Some(query(&audit, &["--decision", "allow"]).len() as u64)
    );
    assert_eq!(
        shown(&dom, "deny"),
        Some(query(&audit, &["--decision", "deny"]).len() as u64)
    );
    let values = |field: &dyn Fn(&Value) -> &Value| -> BTreeSet<String> {
        decisions
            .iter()
            .filter_map(|d| field(d).as_str().map(str::to_string))
            .collect()
    };
    let mut checked = 0;
    for j in values(&|d| &d["subject"]["jurisdiction"]) {
        let n = query(&audit, &["--jurisdiction", &j]).len() as u64;
        assert_eq!(
            shown(&dom, &format!("jurisdiction:{j}")),
            Some(n),
            "jurisdiction {j}"
        );
        checked += 1;
    }
    for route in values(&|d| &d["route"]) {
        let n = query(&audit, &["--route", &route]).len() as u64;
        assert_eq!(
            shown(&dom, &format!("route:{route}")),
            Some(n),
            "route {route}"
        );
        checked += 1;
    }
    for region in values(&|d| &d["region"]) {
        // `--region` also lists the region's failed forwards; the table
        // counts decisions.
        let n = query(&audit, &["--region", &region])
            .iter()
            .filter(|r| r["kind"] == "decision")
            .count() as u64;
        assert_eq!(
            shown(&dom, &format!("region:{region}")),
            Some(n),
            "region {region}"
        );
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} breakdowns checked");
    // The demo's failover (us-east down) and its engineer abroad show up.
    assert_eq!(shown(&dom, "anomaly:failover"), Some(1));
    assert_eq!(shown(&dom, "cross-border"), Some(2));

    // The script rendered the records table with every record embedded…
    assert_eq!(
        attr(&dom, r#"id="rows""#, "data-rendered").as_deref(),
        Some("1")
    );
    assert_eq!(
        attr(&dom, r#"id="rows""#, "data-matching"),
        Some(all.len().to_string())
    );
    // …and a chart's link opens the rows behind it: the denied ones.
    let denied = browse(&chromium, &format!("{url}#f/allow=false"), &["--dump-dom"]);
    assert_eq!(
        attr(&denied, r#"id="rows""#, "data-matching"),
        Some(query(&audit, &["--decision", "deny"]).len().to_string())
    );

    // The screenshot, kept as a CI artefact.
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("output");
    std::fs::create_dir_all(&out_dir).unwrap();
    let png = out_dir.join("report.png");
    let _ = std::fs::remove_file(&png);
    browse(
        &chromium,
        &url,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1400,2400",
        ],
    );
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 20_000,
        "screenshot {} is {size} bytes",
        png.display()
    );
}

#[test]
fn a_tampered_log_gives_a_report_whose_first_line_says_verification_failed() {
    let (dir, audit, vkey) = demo_log();
    let segment = audit.join(segment_name(1));
    let text = std::fs::read_to_string(&segment).unwrap();
    let tampered = text.replacen("/v1/messages/alice-1", "/v1/messages/alice-9", 1);
    assert_ne!(text, tampered);
    std::fs::write(&segment, tampered).unwrap();

    let html_path = dir.path().join("report.html");
    let (code, out, err) = report(&audit, &vkey, &html_path, &[]);
    assert_eq!(code, 1, "a tampered log must fail:\n{out}\n{err}");
    assert!(out.contains("FAILED"), "{out}");
    let html = std::fs::read_to_string(&html_path).unwrap();
    let body = &html[html.find("<body>").unwrap() + 6..];
    let first = &body[..body.find("</p>").unwrap()];
    assert!(
        first.starts_with(
            r#"<p id="verdict" class="verdict fail" data-verified="false">Verification FAILED: "#
        ),
        "{first}"
    );
    // It names where: the segment, and the records whose hash no longer
    // matches the signed root.
    assert!(first.contains("segment-000001.jsonl"), "{first}");
    assert!(first.contains("do not hash to the root"), "{first}");
    assert!(html.contains("<title>VERIFICATION FAILED"));
}

/// A deterministic stream of pseudo-random numbers (no seeding from the
/// clock: the same test writes the same log).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// What a synthetic log plants, to be found in its report.
struct Planted {
    records: u64,
    failovers: u64,
    burst_denials: u64,
    /// `forward_failed` records: (504 upstream_timeout, 499 not_answered).
    failed_forwards: (u64, u64),
}

fn ts(secs: u64, micros: u64) -> String {
    // 2026-11-01T00:00:00Z plus `secs`: every month here has 30 days.
    let (day, rest) = (secs / 86_400, secs % 86_400);
    format!(
        "2026-11-{:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        day + 1,
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Writes a log of `n` records spread over `days` days into `dir`, with
/// the writer's line format, RFC 9162 hashing and a signed checkpoint of
/// the whole tree; returns the verifier key text and what it planted: two
/// policy revisions (the second denies unverified public writes), a burst
/// of denials, a two-hour silence while up, a restart without shutdown,
/// failovers while us-east is marked down.
fn synthetic_log(dir: &Path, n: u64, days: u64) -> (String, Planted) {
    let origin = "synthetic.example/replica-1";
    let (signing, vkey) = keygen(origin);
    let signer = NoteSigner::parse(&signing).unwrap();
    std::fs::create_dir_all(dir.join(CHECKPOINT_DIR)).unwrap();
    let mut file = BufWriter::new(std::fs::File::create(dir.join(segment_name(1))).unwrap());
    let mut tree = CompactTree::new();
    let mut rng = Lcg(7);
    let mut planted = Planted {
        records: 0,
        failovers: 0,
        burst_denials: 0,
        failed_forwards: (0, 0),
    };
    let span = days * 86_400;
    let step = (span * 1_000_000 / n).max(1);
    let (gap_from, gap_to) = (span / 3, span / 3 + 7200);
    let burst_at = span / 2;
    let restart_at = span * 2 / 3;
    let outage = (span / 5, span / 5 + 3 * 3600);
    let rev = |i: u8| format!("sha256:{}", format!("{i:x}").repeat(64));
    let mut push = |tree: &mut CompactTree, event: Event, micros_total: u64| {
        let record = Record {
            v: FORMAT_VERSION,
            seq: tree.size(),
            ts: ts(micros_total / 1_000_000, micros_total % 1_000_000),
            event,
        };
        let line = record.to_line().unwrap();
        tree.push(leaf_hash(&line));
        file.write_all(&line).unwrap();
        file.write_all(b"\n").unwrap();
    };
    let lifecycle = |revision: String| {
        [
            Event::Startup(Startup {
                version: "0.1.0".into(),
                recovered_records: 0,
                quarantined: None,
            }),
            Event::ConfigLoaded(ConfigLoaded {
                config_sha256: "ab".repeat(32),
                key_ids: Default::default(),
            }),
            Event::PolicyLoaded(PolicyLoaded {
                revision,
                engine: "rego".into(),
                files: Vec::new(),
            }),
        ]
    };
    let mut clock = 0u64;
    for e in lifecycle(rev(1)) {
        push(&mut tree, e, clock);
        clock += 1;
    }
    let mut revision = rev(1);
    let mut restarted = false;
    let mut burst_done = false;
    while tree.size() + 1 < n {
        clock += step;
        let secs = clock / 1_000_000;
        if (gap_from..gap_to).contains(&secs) {
            clock = gap_to * 1_000_000;
            continue;
        }
        if !restarted && secs >= restart_at {
            // A crash: the gateway comes back with no shutdown record before.
            restarted = true;
            revision = rev(2);
            for e in lifecycle(revision.clone()) {
                push(&mut tree, e, clock);
                clock += 1;
            }
            continue;
        }
        let burst = !burst_done && secs >= burst_at;
        let count = if burst { 300 } else { 1 };
        for k in 0..count {
            let d = decision(
                &mut rng,
                &revision,
                burst,
                (outage.0..outage.1).contains(&secs),
            );
            if burst {
                planted.burst_denials += 1;
            }
            if d.pool.as_deref() == Some("us-west") && d.data_class.as_deref() == Some("protected")
            {
                planted.failovers += 1;
            }
            // Now and then a forward fails after its decision record.
            let failed = match (&d.pool, &d.region, rng.below(200)) {
                (Some(pool), Some(region), 0) => Some((pool.clone(), region.clone(), 504)),
                (Some(pool), Some(region), 1) => Some((pool.clone(), region.clone(), 499)),
                _ => None,
            };
            let request_id = d.request_id.clone();
            push(&mut tree, Event::Decision(Box::new(d)), clock + k);
            if let Some((pool, region, status)) = failed {
                let reason = if status == 504 {
                    planted.failed_forwards.0 += 1;
                    "upstream_timeout"
                } else {
                    planted.failed_forwards.1 += 1;
                    "not_answered"
                };
                let event = Event::ForwardFailed(ForwardFailed {
                    request_id,
                    pool,
                    region,
                    status,
                    reason: reason.into(),
                });
                push(&mut tree, event, clock + k);
            }
        }
        burst_done |= burst;
    }
    clock += step;
    push(
        &mut tree,
        Event::Shutdown(Shutdown {
            reason: "signal".into(),
        }),
        clock,
    );
    file.flush().unwrap();
    drop(file);
    let size = tree.size();
    let note = signer
        .sign(&Checkpoint::new(origin, size, tree.root()).to_text())
        .unwrap();
    std::fs::write(dir.join(CHECKPOINT_DIR).join(checkpoint_name(size)), note).unwrap();
    planted.records = size;
    (vkey, planted)
}

/// One decision as the gateway records it, input included.
fn decision(rng: &mut Lcg, revision: &str, burst: bool, us_east_down: bool) -> DecisionEvent {
    let roll = rng.below(100);
    let (jurisdiction, location, verified) = match roll {
        _ if burst => ("unknown", None, false),
        0..=54 => ("US", Some("US"), true),
        55..=84 => ("EU", Some(["FR", "DE", "IE"][rng.below(3) as usize]), true),
        85..=89 => ("US", Some("SG"), true),
        _ => ("unknown", None, false),
    };
    let public = !burst && rng.below(10) == 0;
    let employee = location == Some("SG");
    let approval = (employee && rng.below(2) == 0).then(|| "APR-17".to_string());
    let (class, route) = if public {
        ("public", "public")
    } else {
        ("protected", "messages")
    };
    let approved: Vec<&str> = match (jurisdiction, class) {
        (_, "public") => vec!["ap-southeast", "eu-west", "us-east", "us-west"],
        ("US", _) => vec!["us-east", "us-west"],
        ("EU", _) => vec!["eu-west"],
        _ => vec![],
    };
    let strict = revision.ends_with("2222");
    let needs_approval = employee && approval.is_none();
    let strict_denies = strict && public && !verified;
    let allow = !(approved.is_empty() || needs_approval || strict_denies);
    let pools = if public {
        vec!["ap-southeast", "us-east", "us-west", "eu-west"]
    } else {
        vec!["us-east", "us-west", "eu-west", "ap-southeast"]
    };
    let destinations: Vec<Value> = pools
        .iter()
        .map(|p| json!({"pool": p, "region": p, "healthy": !(us_east_down && *p == "us-east")}))
        .collect();
    let region = allow
        .then(|| {
            pools
                .iter()
                .find(|p| approved.contains(p) && !(us_east_down && **p == "us-east"))
                .map(|p| p.to_string())
        })
        .flatten();
    let reason = match (allow, employee, verified) {
        (true, true, _) => "access from abroad under approval APR-17, pseudonymised",
        (true, ..) => "data stays in approved regions",
        (false, true, _) => {
            "access from outside the data's jurisdiction needs a verified, unexpired approval"
        }
        (false, _, false) => "protected data needs a verified subject jurisdiction",
        (false, ..) => "denied",
    };
    let obligations = if allow && employee {
        json!({"pseudonymize": ["/user/email"], "redact": ["/user/phone"]})
    } else {
        json!({})
    };
    let method = if rng.below(3) == 0 { "POST" } else { "GET" };
    DecisionEvent {
        request_id: format!("req-{}", rng.below(u64::MAX >> 1)),
        subject: SubjectFacts {
            jurisdiction: jurisdiction.into(),
            source: if verified { "jwt" } else { "none" }.into(),
            verified,
            pseudonym: verified.then(|| format!("hs256:{:032x}", rng.below(1 << 40))),
        },
        requester: RequesterFacts {
            kind: if employee { "employee" } else { "user" }.into(),
            id: Some(format!("u-{}", rng.below(5000))),
            org: None,
            location: location.map(str::to_string),
            source: "jwt".into(),
            verified,
            approval,
        },
        method: method.into(),
        host: "api.example.com".into(),
        path: format!("/v1/{route}/{}", rng.below(100_000)),
        route: Some(route.into()),
        service: Some(route.into()),
        data_class: Some(class.into()),
        decision: Outcome {
            allow,
            regions: approved.iter().map(|r| r.to_string()).collect(),
            reason: reason.into(),
            obligations,
        },
        pool: region.clone(),
        region: region.clone(),
        status: (!allow).then_some(403),
        refusal: (!allow).then(|| reason.to_string()),
        policy_revision: Some(revision.into()),
        input: None,
        input_rest: Some(json!({
            "request": {"query": {}, "headers": {}},
            "destinations": destinations,
            "time": "2026-11-01T00:00:00Z",
        })),
    }
}

#[test]
fn a_synthetic_month_shows_its_planted_anomalies_and_a_bounded_sample() {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit");
    let (vkey, planted) = synthetic_log(&audit, 30_000, 6);
    let vkey_file = dir.path().join("audit.vkey");
    std::fs::write(&vkey_file, &vkey).unwrap();
    let html_path = dir.path().join("report.html");
    let (code, out, err) = report(&audit, &vkey_file, &html_path, &[]);
    assert_eq!(code, 0, "report failed:\n{out}\n{err}");
    let html = std::fs::read_to_string(&html_path).unwrap();

    assert_eq!(shown(&html, "records"), Some(planted.records));
    assert_eq!(shown(&html, "verified-records:0"), Some(planted.records));
    // The two-hour silence while up, the crash before the second startup.
    assert_eq!(shown(&html, "anomaly:gaps"), Some(1));
    assert_eq!(shown(&html, "anomaly:unclean_restarts"), Some(1));
    // 300 unverified denials in a minute against a trickle: one burst.
    assert_eq!(shown(&html, "anomaly:bursts"), Some(1));
    assert!(planted.burst_denials == 300);
    assert_eq!(shown(&html, "anomaly:failover"), Some(planted.failovers));
    assert!(planted.failovers > 0);
    let (timeouts, gone) = planted.failed_forwards;
    assert!(timeouts > 0 && gone > 0, "{:?}", planted.failed_forwards);
    assert_eq!(
        shown(&html, "anomaly:forward_failed"),
        Some(timeouts + gone)
    );
    let by_reason = |status: &str, reason: &str| -> u64 {
        [
            "us-east",
            "us-west",
            "eu-west",
            "eu-central",
            "ap-southeast",
        ]
        .iter()
        .filter_map(|r| shown(&html, &format!("forward_failed:{r}|{status}|{reason}")))
        .sum()
    };
    assert_eq!(by_reason("504", "upstream_timeout"), timeouts);
    assert_eq!(by_reason("499", "not_answered"), gone);
    // The second revision denies unverified public writes: a change.
    assert!(
        html.contains("moved by 10 points or more"),
        "no revision change listed"
    );
    assert_eq!(shown(&html, "policy-loads"), Some(2));
    // Six days: one bar per hour at most 200 bars.
    assert!(html.contains("One bar per hour"), "bucket width");
    // The rows table is a sample, bounded, and says so.
    let rows: Value = {
        let start = html.find(r#"id="rows-data">"#).unwrap() + 15;
        let end = start + html[start..].find("</script>").unwrap();
        serde_json::from_str(&html[start..end]).unwrap()
    };
    let embedded = rows["r"].as_array().unwrap().len();
    assert!(
        (2000..12_000).contains(&embedded),
        "{embedded} rows embedded of {}",
        planted.records
    );
    assert!(html.contains("are embedded, sampled so that every chart element links"));
    assert!(html.len() < 4 << 20, "report is {} bytes", html.len());
}

/// Measures a big report: `REPORT_BIG_RECORDS` (default 1,000,000)
/// records over 29 days, reported by the binary in `REPORT_BIN` (default:
/// the debug build the harness uses; give the release binary by its absolute
/// path, as tests run in `tests/`, for a figure that means something). The report is copied to
/// `tests/output/report-big.html`. Run by hand:
/// `cargo test -p jurisgate-e2e --test e2e report:: -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, minutes long: run by hand"]
fn a_million_record_report_time_and_size() {
    let n: u64 = std::env::var("REPORT_BIG_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit");
    let started = Instant::now();
    let (vkey, planted) = synthetic_log(&audit, n, 29);
    let bytes = std::fs::metadata(audit.join(segment_name(1)))
        .unwrap()
        .len();
    eprintln!(
        "wrote {} records ({} MB) in {:.1?}",
        planted.records,
        bytes >> 20,
        started.elapsed()
    );
    let vkey_file = dir.path().join("audit.vkey");
    std::fs::write(&vkey_file, &vkey).unwrap();
    let html_path = dir.path().join("report.html");
    let bin = std::env::var_os("REPORT_BIN")
        .map_or_else(|| jurisgate_e2e::binary().to_path_buf(), PathBuf::from);
    let started = Instant::now();
    let out = Command::new(&bin)
        .args(["audit", "report"])
        .arg(&audit)
        .arg("--key")
        .arg(&vkey_file)
        .arg("--out")
        .arg(&html_path)
        .output()
        .expect("running jurisgate");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "report failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let size = std::fs::metadata(&html_path).unwrap().len();
    eprintln!(
        "{}: report in {took:.1?}, {} KB; {}",
        bin.display(),
        size >> 10,
        stdout.trim()
    );
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("output");
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::copy(&html_path, out_dir.join("report-big.html")).unwrap();
}
