//! Resource limits against the real binary: slow-loris headers and bodies,
//! 10,000 idle connections (as many as the file limit allows), huge
//! headers, huge bodies, and deep JSON under a pseudonymise obligation. The
//! gateway keeps serving a well-behaved client throughout, and its memory
//! stays bounded: the test prints the child's peak resident set
//! (`VmHWM`), which `SECURITY.md` quotes.

use std::process::Command;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use jurisgate_e2e::{Harness, Who};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const IDLE_TARGET: u64 = 10_000;

/// Raises this process's open-file limit to `want` (root may raise the hard
/// limit too); returns the soft limit in force afterwards.
fn raise_nofile(pid: u32, want: u64) -> u64 {
    let _ = Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            &format!("--nofile={want}:{want}"),
        ])
        .status();
    let out = Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            "--nofile",
            "--output=SOFT",
            "--noheadings",
        ])
        .output();
    out.ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(1024)
}

/// A well-behaved request must be answered within two seconds.
async fn still_serving(h: &Harness, what: &str) -> Duration {
    let started = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        h.send(
            Who::user("alice", "US"),
            Method::POST,
            "/v1/messages/ok",
            Some(json!({"ok": true})),
        ),
    )
    .await
    .unwrap_or_else(|_| panic!("{what}: a normal request got no answer in 10 s"));
    assert_eq!(r.status, StatusCode::CREATED, "{what}: {:?}", r.json);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "{what}: a normal request took {took:?}"
    );
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_do_not_starve_others_or_grow_memory() {
    // Enough descriptors for the idle connections, on both ends.
    let own = raise_nofile(std::process::id(), IDLE_TARGET * 2 + 1000);
    let h = Harness::start_with(|c| {
        *c = c.replacen(
            "shutdown_grace = \"5s\"",
            "shutdown_grace = \"5s\"\nheader_read_timeout = \"2s\"\nmax_body_bytes = 1048576",
            1,
        )
    })
    .await;
    let child = raise_nofile(h.pid(), IDLE_TARGET + 1000);
    still_serving(&h, "baseline").await;
    let baseline_kib = h.peak_rss_kib().unwrap_or(0);
    let mut report = Vec::new();

    // Slow-loris headers: 200 connections dribbling a header byte every 200 ms.
    let mut loris = Vec::new();
    for _ in 0..200 {
        let addr = h.addr;
        loris.push(tokio::spawn(async move {
            let Ok(mut s) = TcpStream::connect(addr).await else {
                return false;
            };
            let _ = s
                .write_all(b"GET /v1/public/x HTTP/1.1\r\nHost: api.demo.jurisgate\r\nX-Slow: ")
                .await;
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                if s.write_all(b"a").await.is_err() {
                    return true;
                }
                let mut buf = [0u8; 256];
                if let Ok(Ok(n)) =
                    tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await
                {
                    // The gateway answered (408) or closed: cut off.
                    let _ = n;
                    return true;
                }
            }
            false
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = still_serving(&h, "slow-loris headers").await;
    let mut cut = 0;
    for l in loris {
        cut += usize::from(l.await.unwrap_or(false));
    }
    assert_eq!(
        cut, 200,
        "slow-loris header connections were not cut off by header_read_timeout"
    );
    report.push(format!(
        "200 slow-loris header connections cut off by header_read_timeout, others served in {} ms",
        t.as_millis()
    ));

    // Slow bodies: 100 uploads sending a byte every 200 ms.
    let (auth, _) = h.credentials(&Who::user("alice", "US"));
    let auth = auth.unwrap();
    let mut slow = Vec::new();
    for i in 0..100 {
        let addr = h.addr;
        let head = format!(
            "POST /v1/messages/slow-{i} HTTP/1.1\r\nHost: api.demo.jurisgate\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        );
        slow.push(tokio::spawn(async move {
            let Ok(mut s) = TcpStream::connect(addr).await else {
                return;
            };
            let _ = s.write_all(head.as_bytes()).await;
            for _ in 0..15 {
                if s.write_all(b" ").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = still_serving(&h, "slow bodies").await;
    report.push(format!(
        "100 slow-body uploads in flight, others served in {} ms",
        t.as_millis()
    ));
    for s in slow {
        s.abort();
    }

    // Idle connections.
    let want = IDLE_TARGET
        .min(own.saturating_sub(1000))
        .min(child.saturating_sub(1000));
    let mut idle = Vec::new();
    for _ in 0..want {
        match TcpStream::connect(h.addr).await {
            Ok(s) => idle.push(s),
            Err(_) => break,
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = still_serving(&h, "idle connections").await;
    let idle_kib = h.rss_kib().unwrap_or(0);
    report.push(format!("{} idle connections open (file limit: test {own}, gateway {child}), others served in {} ms, RSS {} MiB", idle.len(), t.as_millis(), idle_kib / 1024));
    drop(idle);

    // Huge headers: 1 MiB of header, and 5,000 small header lines.
    for (name, req) in [
        (
            "1 MiB header",
            format!(
                "GET /v1/public/x HTTP/1.1\r\nHost: api.demo.jurisgate\r\nX-Big: {}\r\n\r\n",
                "a".repeat(1 << 20)
            ),
        ),
        (
            "5000 header lines",
            format!(
                "GET /v1/public/x HTTP/1.1\r\nHost: api.demo.jurisgate\r\n{}\r\n",
                "X-H: 1\r\n".repeat(5000)
            ),
        ),
    ] {
        let reply = h.raw(req.as_bytes()).await;
        let status: u16 = reply
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        assert!(
            status == 431 || status == 400 || reply.is_empty(),
            "{name}: {}",
            reply.lines().next().unwrap_or_default()
        );
        report.push(format!(
            "{name}: {}",
            if reply.is_empty() {
                "connection closed".into()
            } else {
                format!("{status}")
            }
        ));
    }
    still_serving(&h, "huge headers").await;

    // Huge bodies: declared (refused before reading) and chunked (cut at the
    // limit, 413).
    let r = h
        .send(
            Who::user("alice", "US"),
            Method::POST,
            "/v1/messages/huge",
            Some(json!({"t": "x".repeat(2 << 20)})),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let mut s = TcpStream::connect(h.addr).await.expect("connect");
    let head = format!(
        "POST /v1/messages/huge-chunked HTTP/1.1\r\nHost: api.demo.jurisgate\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let _ = s.write_all(head.as_bytes()).await;
    let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "x".repeat(64 * 1024));
    let mut sent = 0usize;
    while sent < 64 << 20 {
        if s.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
        sent += 64 * 1024;
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer)).await;
    let first = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    // 413 once the stream crosses `max_body_bytes`; the client may instead
    // see the connection reset, as it was still sending when the gateway
    // closed (RFC 9112 §9.6), but never another answer.
    assert!(
        first.is_empty() || first.starts_with("HTTP/1.1 413 "),
        "chunked body over the limit: {first}"
    );
    report.push(format!(
        "2 MiB declared body: 413; chunked body cut after {} MiB sent: {}",
        sent >> 20,
        if first.is_empty() {
            "connection closed".into()
        } else {
            first
        }
    ));
    still_serving(&h, "huge bodies").await;

    // Deep JSON read under a pseudonymise obligation (an approved engineer
    // abroad reading US data): stored as `+json`, so the store keeps it raw.
    for (name, depth) in [("arrays", 100_000usize), ("objects", 50_000)] {
        let body = if name == "arrays" {
            format!("{}{}", "[".repeat(depth), "]".repeat(depth))
        } else {
            format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
        };
        let put = format!(
            "POST /v1/messages/deep-{name} HTTP/1.1\r\nHost: api.demo.jurisgate\r\nAuthorization: {auth}\r\nContent-Type: application/problem+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        assert!(
            h.raw(put.as_bytes()).await.starts_with("HTTP/1.1 201"),
            "storing deep {name}"
        );
        let r = h
            .send(
                Who::Employee("eng-1".into(), "SG".into(), true),
                Method::GET,
                &format!("/v1/messages/deep-{name}"),
                None,
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_GATEWAY,
            "deep {name}: {:?}",
            r.json
        );
        assert!(
            r.json["reason"]
                .as_str()
                .unwrap_or_default()
                .starts_with("obligation_failed"),
            "{:?}",
            r.json
        );
        report.push(format!("JSON nested {depth} deep ({name}) under pseudonymise: 502 obligation_failed, not passed through"));
    }
    still_serving(&h, "deep JSON").await;

    let peak = h.peak_rss_kib().unwrap_or(0);
    for line in &report {
        println!("resources: {line}");
    }
    println!(
        "resources: peak RSS {} MiB (baseline {} MiB)",
        peak / 1024,
        baseline_kib / 1024
    );
    // Bounded: far below what buffering the hostile input would take
    // (64 MiB of chunked body, 10,000 connections' worth of buffers).
    assert!(peak < 512 * 1024, "peak RSS {peak} KiB");
}
