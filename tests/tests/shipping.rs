//! Shipping audit logs to WORM object storage, against a real S3-compatible
//! server: moto (`pip install 'moto[server]'`, run as `moto_server` on
//! 127.0.0.1), with an Object Lock bucket. What a platform team and an
//! auditor would check: the gateway keeps serving while the bucket is
//! down, a restart ships what an earlier process could not, every object
//! carries its COMPLIANCE retention and cannot be deleted, and
//! `audit verify --from-bucket` verifies the bucket's copy with the
//! public key alone.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use jurisgate_e2e::{Harness, Who, run_cli, run_cli_env};
use serde_json::{Value, json};

const CREDS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "jurisgate-test"),
    ("AWS_SECRET_ACCESS_KEY", "jurisgate-test"),
    ("AWS_REGION", "us-east-1"),
];
const BUCKET: &str = "jurisgate-audit";

/// A moto S3 server on a loopback port, killed on drop.
struct Moto {
    addr: SocketAddr,
    child: Option<Child>,
}

impl Moto {
    /// Picks a free port without starting the server yet.
    fn reserve() -> Self {
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port");
        Self { addr, child: None }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn start(&mut self) {
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &self.addr.port().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server not found: install it with `pip install 'moto[server]'` (.ci/run does)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(self.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {}",
                self.addr
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs one S3 call through boto3 (installed with moto), signed like
    /// any AWS client; prints JSON.
    fn s3(&self, op: &str, args: &[&str]) -> Value {
        const SCRIPT: &str = r#"
import json, sys, boto3, botocore
endpoint, op, args = sys.argv[1], sys.argv[2], sys.argv[3:]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
if op == "mkbucket":
    s3.create_bucket(Bucket=args[0], ObjectLockEnabledForBucket=True)
    out = {}
elif op == "keys":
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=args[0], Prefix=args[1])
    out = {"keys": [o["Key"] for p in pages for o in p.get("Contents", [])]}
elif op == "lock":
    h = s3.head_object(Bucket=args[0], Key=args[1])
    import datetime
    left = h["ObjectLockRetainUntilDate"] - datetime.datetime.now(datetime.timezone.utc)
    out = {"mode": h.get("ObjectLockMode"), "days_left": left.total_seconds() / 86400}
    try:
        s3.delete_object(Bucket=args[0], Key=args[1], VersionId=h["VersionId"])
        out["delete"] = "deleted"
    except botocore.exceptions.ClientError as e:
        out["delete"] = e.response["Error"]["Code"]
print(json.dumps(out))
"#;
        let out = Command::new("python3")
            .arg("-c")
            .arg(SCRIPT)
            .arg(self.endpoint())
            .arg(op)
            .args(args)
            .envs(CREDS)
            .output()
            .expect("python3 with boto3");
        assert!(
            out.status.success(),
            "boto3 {op}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON from boto3")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One series of a replica's admin `/metrics` (0 when absent).
fn metric(admin: SocketAddr, series: &str) -> f64 {
    use std::io::{Read as _, Write as _};
    let mut s = TcpStream::connect(admin).expect("admin");
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").expect("ask");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("metrics");
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn records(out: &str) -> u64 {
    let v: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v["records"].as_u64().expect("records")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_segments_reach_an_object_lock_bucket_and_verify_from_it() {
    let mut moto = Moto::reserve();
    let h = Harness::start().await;
    let ship = format!(
        "\n[audit.ship]\nurl = \"s3://{BUCKET}/us\"\nendpoint = \"{}\"\nregion = \"us-east-1\"\nevery = \"1s\"\nretention_days = 1\nfinal_pass_timeout = \"3s\"\n",
        moto.endpoint()
    );
    let mut r = h
        .start_replica_with(
            2,
            |t| {
                *t = t.replacen(
                    "checkpoint_every = \"500ms\"",
                    "checkpoint_every = \"500ms\"\nsegment_max_bytes = 4096",
                    1,
                );
                t.push_str(&ship);
            },
            &CREDS,
        )
        .await;

    // The bucket is down: requests are still served and recorded locally.
    for i in 0..12 {
        let reply = h
            .send_to(
                r.addr,
                Who::user("alice", "US"),
                Method::POST,
                &format!("/v1/messages/s{i}"),
                Some(json!({"i": i})),
                &[],
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.json);
    }
    // An SRE sees it: failed passes count up, and the time of the last
    // completed pass stands still (a pass before the first sealed segment
    // had nothing to ship, so it may have completed).
    let failed = "jurisgate_audit_ship_passes_total{result=\"failed\"}";
    let last_completed = "jurisgate_audit_ship_last_completed_timestamp_seconds";
    let wait_failed = |at_least: f64| async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        while metric(r.admin, failed) < at_least {
            assert!(
                Instant::now() < deadline,
                "fewer than {at_least} failed passes"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    wait_failed(1.0).await;
    let stood = metric(r.admin, last_completed);
    wait_failed(metric(r.admin, failed) + 1.0).await;
    assert_eq!(metric(r.admin, last_completed), stood);
    let started = Instant::now();
    assert_eq!(
        r.stop(),
        0,
        "a failed final shipping pass must not fail the shutdown"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "shutdown took {:?}",
        started.elapsed()
    );
    let segments = jurisgate_audit::layout::list_segments(&r.audit_dir)
        .unwrap()
        .len();
    assert!(segments >= 3, "expected rotations, got {segments} segments");

    // The bucket comes up; the restarted replica ships what the first
    // process could not, while serving.
    moto.start();
    moto.s3("mkbucket", &[BUCKET]);
    r.restart().await;
    for i in 12..18 {
        let reply = h
            .send_to(
                r.addr,
                Who::user("emile", "EU"),
                Method::POST,
                &format!("/v1/messages/s{i}"),
                Some(json!({"i": i})),
                &[],
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    let key = h.files.vkey_file.display().to_string();
    let url = format!("s3://{BUCKET}/us");
    let endpoint = moto.endpoint();
    let verify_bucket = || {
        run_cli_env(
            &[
                "audit",
                "verify",
                "--from-bucket",
                &url,
                "--endpoint",
                &endpoint,
                "--key",
                &key,
                "--json",
            ],
            &CREDS,
        )
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut shipped_while_serving = 0;
    while shipped_while_serving == 0 {
        let (code, out, _) = verify_bucket();
        if code == 0 {
            shipped_while_serving = records(&out);
        }
        assert!(Instant::now() < deadline, "nothing shipped while serving");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The metrics say so too: a completed pass, just now, with files.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let last = metric(
        r.admin,
        "jurisgate_audit_ship_last_completed_timestamp_seconds",
    );
    assert!(
        now - last < 60.0,
        "last completed pass at {last}, now {now}"
    );
    assert!(
        metric(
            r.admin,
            "jurisgate_audit_ship_passes_total{result=\"completed\"}"
        ) >= 1.0
    );
    assert!(metric(r.admin, "jurisgate_audit_ship_files_total") >= 1.0);

    // A clean stop seals the last segment and ships it: the bucket's copy
    // is the whole log.
    assert_eq!(r.stop(), 0);
    let dir = r.audit_dir.display().to_string();
    let (code, local, err) = run_cli(&["audit", "verify", &dir, "--key", &key, "--json"]);
    assert_eq!(code, 0, "{local}{err}");
    let (code, remote, err) = verify_bucket();
    assert_eq!(code, 0, "{remote}{err}");
    assert_eq!(records(&remote), records(&local));
    assert!(records(&remote) > shipped_while_serving);
    let remote: Value = serde_json::from_str(&remote).unwrap();
    assert_eq!(remote["origin"], "jurisgate.demo/replica-2");
    assert_eq!(remote["unsigned_tail"], 0);

    // The auditor's report straight from the bucket covers the same
    // records as one from the replica's own folder.
    let reports = tempfile::tempdir().unwrap();
    let report = |from: &[&str], name: &str| {
        let out = reports.path().join(name).display().to_string();
        let mut args = vec!["audit", "report", "--key", &key, "--out", &out];
        args.extend_from_slice(from);
        let (code, said, err) = run_cli_env(&args, &CREDS);
        assert_eq!(code, 0, "{said}{err}");
        assert!(said.starts_with("OK: verified; report of "), "{said}");
        let html = std::fs::read_to_string(&out).unwrap();
        assert!(html.contains("jurisgate.demo/replica-2"), "{name}");
        said.split(" records").next().unwrap().to_string()
    };
    let from_bucket = report(
        &["--from-bucket", &url, "--endpoint", &endpoint],
        "bucket.html",
    );
    assert_eq!(from_bucket, report(&[&dir], "local.html"));
    assert!(
        from_bucket.ends_with(&records(&local).to_string()),
        "{from_bucket}"
    );

    // Every object is under the replica's origin and locked in COMPLIANCE
    // mode for a day; deleting a version is refused.
    let keys = moto.s3("keys", &[BUCKET, "us/"]);
    let keys: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(
        keys.iter()
            .all(|k| k.starts_with("us/jurisgate.demo/replica-2/")),
        "{keys:?}"
    );
    assert_eq!(
        keys.iter().filter(|k| k.ends_with(".jsonl")).count(),
        jurisgate_audit::layout::list_segments(&r.audit_dir)
            .unwrap()
            .len()
    );
    let lock = moto.s3(
        "lock",
        &[BUCKET, "us/jurisgate.demo/replica-2/segment-000001.jsonl"],
    );
    assert_eq!(lock["mode"], "COMPLIANCE");
    let days_left = lock["days_left"].as_f64().unwrap();
    assert!(
        days_left > 0.95 && days_left <= 1.0,
        "retained for {days_left} more days"
    );
    assert_eq!(lock["delete"], "AccessDenied");

    // Local data is never removed, and a manual pass finds nothing new.
    assert_eq!(run_cli(&["audit", "verify", &dir, "--key", &key]).0, 0);
    let (code, out, err) = run_cli_env(
        &[
            "audit",
            "ship",
            &dir,
            "--to",
            &url,
            "--endpoint",
            &endpoint,
            "--retention-days",
            "1",
        ],
        &CREDS,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("OK: 0 files shipped"), "{out}");
}

#[test]
fn ship_settings_are_checked_before_start() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    std::fs::write(p("k"), "0123456789abcdef0123456789abcdef").unwrap();
    let base = "[server]\nlisten = \"127.0.0.1:0\"\n[policy]\ndir = \".\"\n[audit]\ndir = \"audit\"\nsigning_key = \"k\"\nsubject_key = \"k\"\n[[route]]\nname = \"m\"\nmatch = { path_prefix = \"/m\" }\ndata_class = \"protected\"\npools = [\"us\"]\n[[pool]]\nname = \"us\"\nregion = \"us-east\"\nendpoints = [\"http://127.0.0.1:9\"]\n";
    for (ship, key, what) in [
        (
            "url = \"file:///srv/audit\"\nretention_days = 30",
            "audit.ship.retention_days",
            "needs an s3:// url",
        ),
        (
            "url = \"gs://bucket\"",
            "audit.ship.url",
            "expected s3://bucket/prefix or file:///folder",
        ),
        (
            "url = \"s3://b\"\nendpoint = \"minio:9000\"",
            "audit.ship.endpoint",
            "http://",
        ),
    ] {
        std::fs::write(p("c.toml"), format!("{base}\n[audit.ship]\n{ship}\n")).unwrap();
        let (code, out, err) = run_cli(&["check", "--config", &p("c.toml")]);
        assert_eq!(code, 2, "{ship}: {out}{err}");
        assert!(err.contains(key) && err.contains(what), "{ship}: {err}");
    }
    std::fs::write(
        p("c.toml"),
        format!("{base}[audit.ship]\nurl = \"s3://bucket/us\"\nretention_days = 2555\n"),
    )
    .unwrap();
    let (code, out, err) = run_cli(&["check", "--config", &p("c.toml")]);
    assert_eq!(code, 0, "{out}{err}");
}
