//! `server.runtime` through the real binary. `per_core` (the default): one
//! single-threaded runtime per worker, each accepting on its own
//! `SO_REUSEPORT` socket. Many connections are spread over the runtimes and
//! answered correctly, every runtime drains its in-flight requests on
//! SIGTERM. On both runtimes, `per_core` and `multi_thread`, TLS, the idle
//! timeout and hot policy reload work. The audit log verifies after each run.

use std::collections::BTreeMap;
use std::time::Duration;

use http::{Method, StatusCode};
use jurisgate_audit::Event;
use jurisgate_e2e::tls::{TlsClient, certs_dev, server_tls_section};
use jurisgate_e2e::{Harness, RawConn, Who, decision};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt as _;

/// Runtimes the tests ask for: more than this machine's 2 cores, so a
/// connection lands on a runtime other than the first one's most of the time.
const WORKERS: usize = 4;

/// `runtime` with [`WORKERS`] threads or runtimes and `extra` lines, in `[server]`.
fn with_runtime(text: &mut String, runtime: &str, extra: &str) {
    let server = "[server]\n";
    assert!(text.contains(server), "the demo config has no [server]");
    *text = text.replacen(
        server,
        &format!("{server}runtime = \"{runtime}\"\nworkers = {WORKERS}\n{extra}"),
        1,
    );
}

/// Context switches (voluntary and not) of each of the gateway's per-core
/// runtime threads, by thread name (`jurisgate-rt-N`). An idle runtime
/// sleeps in the kernel without waking; one serving a connection wakes for
/// each request that arrives (or is preempted while busy).
fn runtime_threads(pid: u32) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc/PID/task") {
        let task = task.expect("task entry").path();
        let Ok(name) = std::fs::read_to_string(task.join("comm")) else {
            continue;
        };
        let name = name.trim();
        if !name.starts_with("jurisgate-rt-") {
            continue;
        }
        let status = std::fs::read_to_string(task.join("status")).expect("status");
        let switches = status
            .lines()
            .filter_map(|l| {
                l.strip_prefix("voluntary_ctxt_switches:")
                    .or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
            })
            .map(|v| v.trim().parse::<u64>().expect("switch count"))
            .sum();
        out.insert(name.to_string(), switches);
    }
    out
}

/// One HTTP/1.1 request with `who`'s credentials, as bytes.
fn request(h: &Harness, who: &Who, method: &str, path: &str, body: Option<&Value>) -> Vec<u8> {
    let (auth, _) = h.credentials(who);
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: api.demo.jurisgate\r\n");
    if let Some(a) = auth {
        head.push_str(&format!("authorization: {a}\r\n"));
    }
    let body = body.map(Value::to_string).unwrap_or_default();
    if !body.is_empty() {
        head.push_str("content-type: application/json\r\n");
    }
    head.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    head.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_core_spreads_connections_over_its_runtimes_and_drains_them_all_on_sigterm() {
    let mut h = Harness::start_with(|text| with_runtime(text, "per_core", "")).await;
    // A thread takes its name once it runs, a moment after the listening line.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut before = runtime_threads(h.pid());
    while before.len() < WORKERS && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
        before = runtime_threads(h.pid());
    }
    assert_eq!(
        before.len(),
        WORKERS,
        "expected {WORKERS} per-core runtime threads, found {before:?}"
    );

    // 50 keep-alive connections at once, each writing and reading back its
    // own messages: US users' data must land in us-east, EU users' in eu-west.
    const CONNS: usize = 50;
    const ROUNDS: usize = 4;
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..CONNS {
        let (who, region) = if c % 2 == 0 {
            (Who::user(&format!("u{c}"), "US"), "us-east")
        } else {
            (Who::user(&format!("u{c}"), "EU"), "eu-west")
        };
        let exchanges: Vec<(String, String, Vec<u8>, Vec<u8>)> = (0..ROUNDS)
            .map(|r| {
                let path = format!("/v1/messages/c{c}-{r}");
                let text = format!("message {r} of connection {c}");
                let write = request(&h, &who, "POST", &path, Some(&json!({ "text": text })));
                let read = request(&h, &who, "GET", &path, None);
                (path, text, write, read)
            })
            .collect();
        let addr = h.addr;
        clients.spawn(async move {
            let mut conn = RawConn::connect(addr).await.expect("connect");
            let mut ids = Vec::new();
            for (path, text, write, read) in exchanges {
                conn.send(&write).await.expect("send");
                let wrote = conn.read(Duration::from_secs(20)).await.expect("reply");
                assert_eq!(
                    wrote.status,
                    201,
                    "{path}: {:?}",
                    String::from_utf8_lossy(&wrote.body)
                );
                conn.send(&read).await.expect("send");
                let read = conn.read(Duration::from_secs(20)).await.expect("reply");
                assert_eq!(read.status, 200, "{path}");
                let got: Value = serde_json::from_slice(&read.body).expect("JSON body");
                assert_eq!(got, json!({ "text": text, "region": region }), "{path}");
                for reply in [wrote, read] {
                    let id = reply.header("x-jurisgate-request-id").expect("request id");
                    ids.push((id.to_string(), region));
                }
            }
            (conn, ids)
        });
    }
    let mut open = Vec::new();
    let mut ids = Vec::new();
    while let Some(done) = clients.join_next().await {
        let (conn, mut got) = done.expect("client task");
        open.push(conn);
        ids.append(&mut got);
    }
    assert_eq!(ids.len(), CONNS * ROUNDS * 2);

    // Every runtime did part of the work: the kernel spread the
    // connections, and each runtime woke at least as often as one
    // connection sent requests.
    let after = runtime_threads(h.pid());
    let one_connection = (ROUNDS * 2) as u64;
    for (name, switches) in &before {
        let grew = after.get(name).map_or(0, |a| a - switches);
        assert!(
            grew >= one_connection,
            "{name} was scheduled {grew} times while serving {CONNS} connections: before {before:?}, after {after:?}"
        );
    }

    // Slow requests on fresh connections, in flight when SIGTERM arrives.
    // They may ride on upstream connections another runtime opened, so a
    // runtime that drained early must keep those alive.
    const SLOW: usize = 2;
    let alice = Who::user("alice", "US");
    let mut slow = tokio::task::JoinSet::new();
    for i in 0..SLOW {
        let path = format!("/v1/messages/slow{i}?delay_ms=1500");
        let bytes = request(&h, &alice, "POST", &path, Some(&json!({ "text": "slow" })));
        let addr = h.addr;
        slow.spawn(async move {
            let mut conn = RawConn::connect(addr).await.expect("connect");
            conn.send(&bytes).await.expect("send");
            (path, conn.read(Duration::from_secs(20)).await)
        });
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let arrived = || {
        h.store("us-east")
            .received()
            .iter()
            .filter(|r| r.target.starts_with("/v1/messages/slow"))
            .count()
    };
    while arrived() < SLOW {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slow requests never all reached the store"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.terminate();
    let mut slow_ids = Vec::new();
    while let Some(done) = slow.join_next().await {
        let (path, reply) = done.expect("slow task");
        let reply = reply.unwrap_or_else(|| panic!("{path}: cut off without an answer"));
        assert_eq!(
            reply.status,
            201,
            "{path} was cut off: {}",
            String::from_utf8_lossy(&reply.body)
        );
        slow_ids.push(
            reply
                .header("x-jurisgate-request-id")
                .expect("request id")
                .to_string(),
        );
    }
    drop(open);
    assert_eq!(h.stop(), 0);

    let records = h.records();
    assert!(
        matches!(records.last().map(|r| &r.event), Some(Event::Shutdown(_))),
        "the log does not end with a shutdown record"
    );
    for (id, region) in &ids {
        let d = decision(&records, id);
        assert!(d.decision.allow, "{id}");
        assert_eq!(d.region.as_deref(), Some(*region), "{id}");
    }
    for id in &slow_ids {
        let d = decision(&records, id);
        assert!(d.decision.allow, "{id}");
        assert_eq!(d.region.as_deref(), Some("us-east"), "{id}");
    }
    let status = jurisgate_audit::verify(&h.files.audit_dir, &h.files.vkey);
    assert!(status.is_ok(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_core_serves_tls_closes_idle_connections_and_reloads_policy() {
    serves_tls_closes_idle_connections_and_reloads_policy("per_core").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_thread_serves_tls_closes_idle_connections_and_reloads_policy() {
    serves_tls_closes_idle_connections_and_reloads_policy("multi_thread").await;
}

async fn serves_tls_closes_idle_connections_and_reloads_policy(runtime: &str) {
    let h = Harness::start_with_dir(|dir, text| {
        with_runtime(text, runtime, "idle_timeout = \"400ms\"\n");
        let certs = certs_dev(dir);
        text.push_str(&server_tls_section(
            &certs.join("server.pem"),
            &certs.join("server-key.pem"),
            "none",
            &certs.join("ca.pem"),
        ));
    })
    .await;
    let client = TlsClient::new(&h.files.dir.join("certs").join("ca.pem"));
    let alice = Who::user("alice", "US");

    // Requests over TLS on many connections, so every runtime's handshakes are exercised.
    let mut conns = Vec::new();
    for i in 0..12 {
        let mut conn = client.connect(h.addr).await.expect("TLS connection");
        let body = json!({ "text": "over tls" });
        let req = h.tls_request(
            &alice,
            Method::POST,
            &format!("/v1/messages/t{i}"),
            Some(&body),
        );
        let (reply, _) = conn.send(req).await.expect("reply");
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.json);
        assert_eq!(h.regions_that_saw(&reply.request_id), ["us-east"]);
        conns.push(conn);
    }
    drop(conns);

    // A TLS connection that goes quiet is closed after the idle timeout, not before.
    let mut idle = client.handshake(h.addr).await.expect("handshake");
    let started = tokio::time::Instant::now();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while matches!(idle.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
    assert!(closed.is_ok(), "idle TLS connection still open after 10 s");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300), "closed after {took:?}");

    // A policy change (SIGHUP) is seen by every thread: requests on new
    // connections, spread over them, all decide with the new revision.
    let old = h.policy_revision().await;
    let policy = h.files.policy_dir.join("texas.rego");
    let mut text = std::fs::read_to_string(&policy).expect("policy");
    text.push_str(&format!("\n# reloaded by the {runtime} runtime test\n"));
    std::fs::write(&policy, text).expect("policy");
    h.signal("HUP");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while h.policy_revision().await == old {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the policy was never reloaded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let new = h.policy_revision().await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let mut conn = client.connect(h.addr).await.expect("TLS connection");
        let req = h.tls_request(&alice, Method::GET, &format!("/v1/messages/t{i}"), None);
        let (reply, _) = conn.send(req).await.expect("reply");
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.json);
        assert_eq!(reply.json["text"], "over tls");
        ids.push(reply.request_id);
    }

    let mut h = h;
    assert_eq!(h.stop(), 0);
    let records = h.records();
    for id in &ids {
        assert_eq!(
            decision(&records, id).policy_revision.as_deref(),
            Some(new.as_str()),
            "{id} was decided with an old policy"
        );
    }
    let status = jurisgate_audit::verify(&h.files.audit_dir, &h.files.vkey);
    assert!(status.is_ok(), "{status:?}");
}
