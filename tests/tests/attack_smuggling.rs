//! Request smuggling over raw sockets against the real binary: CL.TE,
//! TE.CL, TE.TE obfuscations, duplicate and malformed Content-Length,
//! chunk-size tricks, and HTTP/2 (h2c prior knowledge, frames made by hand
//! so that forbidden headers really go on the wire) with
//! `transfer-encoding` / `content-length` mismatches.
//!
//! Every case carries an outer request with its own path
//! (`/v1/messages/case-N`) and an inner request that tries to ride in its
//! body (`/v1/public/SMUGGLED-N`, a route that needs no credentials, so a
//! desync would deliver it). The stores' received lists then show: no outer
//! request reached an upstream twice, no inner request reached any store,
//! and every request a store saw has a gateway request id, once, with a
//! decision record in the audit log. `smugglex_finds_nothing` runs the
//! `smugglex` scanner (crates.io) against the gateway when it is installed.

use std::collections::HashMap;
use std::time::Duration;

use jurisgate_audit::Event;
use jurisgate_e2e::{Harness, Who};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const HOST: &str = "api.demo.jurisgate";

fn inner(i: usize) -> String {
    format!("GET /v1/public/SMUGGLED-{i} HTTP/1.1\r\nHost: {HOST}\r\n\r\n")
}

/// HTTP/1.1 attacks: (name, head lines after the request line, body).
/// `{auth}` in a head is replaced by the Authorization line.
fn h1_cases(i: usize) -> Vec<(&'static str, String, String)> {
    let smuggled = inner(i);
    let chunk = |s: &str| format!("{:x}\r\n{s}\r\n0\r\n\r\n", s.len());
    let te_variants: [(&str, &str); 16] = [
        ("te.te xchunked", "Transfer-Encoding: xchunked"),
        ("te.te space before colon", "Transfer-Encoding : chunked"),
        ("te.te tab value", "Transfer-Encoding:\tchunked"),
        (
            "te.te chunked then x",
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: x",
        ),
        (
            "te.te x then chunked",
            "Transfer-Encoding: x\r\nTransfer-Encoding: chunked",
        ),
        (
            "te.te chunked, identity",
            "Transfer-Encoding: chunked, identity",
        ),
        (
            "te.te identity, chunked",
            "Transfer-Encoding: identity, chunked",
        ),
        ("te.te upper case", "Transfer-Encoding: CHUNKED"),
        ("te.te quoted", "Transfer-Encoding: \"chunked\""),
        ("te.te underscore name", "Transfer_Encoding: chunked"),
        ("te.te obs-fold", "Transfer-Encoding:\r\n chunked"),
        (
            "te.te leading space line",
            "X-Pad: 1\r\n Transfer-Encoding: chunked",
        ),
        ("te.te bare LF", "X-Pad: 1\nTransfer-Encoding: chunked"),
        ("te.te vertical tab", "Transfer-Encoding:\u{b}chunked"),
        ("te.te comma chunked", "Transfer-Encoding: ,chunked"),
        ("te.te gzip, chunked", "Transfer-Encoding: gzip, chunked"),
    ];
    let mut out: Vec<(&'static str, String, String)> = Vec::new();
    // CL.TE: a front reading Content-Length sends it all; a back reading
    // chunked sees the inner request after the empty chunk.
    let body = format!("0\r\n\r\n{smuggled}");
    out.push((
        "cl.te",
        format!(
            "Content-Length: {}\r\nTransfer-Encoding: chunked",
            body.len()
        ),
        body,
    ));
    // TE.CL: the inner request inside a chunk; Content-Length covers only its size line.
    let body = chunk(&smuggled);
    out.push((
        "te.cl",
        "Content-Length: 4\r\nTransfer-Encoding: chunked".into(),
        body,
    ));
    for (name, te) in te_variants {
        let body = format!("0\r\n\r\n{smuggled}");
        out.push((
            name,
            format!("Content-Length: {}\r\n{te}", body.len()),
            body.clone(),
        ));
        out.push((name, te.to_string(), body));
    }
    // Duplicate and malformed Content-Length.
    let body = format!("x{smuggled}");
    for cl in [
        "Content-Length: 1\r\nContent-Length: 200",
        "Content-Length: 200\r\nContent-Length: 1",
        "Content-Length: 1, 200",
        "Content-Length: +1",
        "Content-Length: 0x1",
        "Content-Length: 1 1",
        "Content-Length: -1",
        "Content-Length: 1.0",
        "Content-Length: 99999999999999999999999",
        "Content-Length : 1",
        "Content-Length:\u{b}1",
        "Content-Length: 1\r\nContent-length: 1, 2",
    ] {
        out.push((
            "duplicate or malformed content-length",
            cl.to_string(),
            body.clone(),
        ));
    }
    // Chunk-size tricks.
    for (name, body) in [
        (
            "chunk extension",
            format!("1;ext=\"x\r\n\"\r\nx\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "chunk size 0x prefix",
            format!("0x1\r\nx\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "chunk size leading zeros",
            format!("0000000000000000001\r\nx\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "chunk size trailing space",
            format!("1 \r\nx\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "chunk size negative",
            format!("-1\r\nx\r\n0\r\n\r\n{smuggled}"),
        ),
        (
            "chunk size overflow",
            format!("10000000000000001\r\nx\r\n0\r\n\r\n{smuggled}"),
        ),
        ("chunk size bare LF", format!("1\nx\n0\n\n{smuggled}")),
        (
            "chunk data longer than size",
            format!("1\r\nxxxx\r\n0\r\n\r\n{smuggled}"),
        ),
        ("chunk without CRLF", format!("1\r\nx0\r\n\r\n{smuggled}")),
        (
            "trailer framing headers",
            format!(
                "1\r\nx\r\n0\r\nContent-Length: 500\r\nTransfer-Encoding: chunked\r\n\r\n{smuggled}"
            ),
        ),
        (
            "chunk size as smuggled request",
            format!("{}\r\n{smuggled}\r\n0\r\n\r\n", smuggled.len() + 5),
        ),
    ] {
        out.push((name, "Transfer-Encoding: chunked".into(), body));
    }
    // HTTP/1.0 with Transfer-Encoding is refused (marked by the version placeholder).
    out.push((
        "http/1.0 chunked",
        "Transfer-Encoding: chunked\r\nX-Version: 1.0".into(),
        format!("0\r\n\r\n{smuggled}"),
    ));
    out
}

/// The raw bytes of one HTTP/1.1 attack, keep-alive, no closing header.
fn h1_bytes(i: usize, head: &str, body: &str, auth: &str) -> Vec<u8> {
    let version = if head.contains("X-Version: 1.0") {
        "HTTP/1.0"
    } else {
        "HTTP/1.1"
    };
    format!(
        "POST /v1/messages/case-{i} {version}\r\nHost: {HOST}\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\n{head}\r\n\r\n{body}"
    )
    .into_bytes()
}

/// An HPACK integer with an `n`-bit prefix (RFC 7541 §5.1); `first` holds the prefix bits.
fn hpack_int(out: &mut Vec<u8>, first: u8, n: u32, mut v: usize) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(first | u8::try_from(v).unwrap_or(0));
        return;
    }
    out.push(first | u8::try_from(max).unwrap_or(0));
    v -= max;
    while v >= 128 {
        out.push(u8::try_from(v % 128).unwrap_or(0) | 0x80);
        v /= 128;
    }
    out.push(u8::try_from(v).unwrap_or(0));
}

/// A header block of literal fields without indexing, new names (RFC 7541 §6.2.2),
/// so any name and value go on the wire as given.
fn hpack(headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        out.push(0);
        hpack_int(&mut out, 0, 7, name.len());
        out.extend_from_slice(name.as_bytes());
        hpack_int(&mut out, 0, 7, value.len());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap_or(0).to_be_bytes();
    let mut out = vec![len[1], len[2], len[3], kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// HTTP/2 attacks: (name, extra headers, DATA payload, content-length header).
fn h2_bytes(i: usize, auth: &str) -> Vec<(&'static str, Vec<u8>)> {
    let smuggled = inner(i);
    let path = format!("/v1/messages/case-{i}");
    let base = |extra: &[(&str, &str)]| {
        let mut h: Vec<(&str, &str)> = vec![
            (":method", "POST"),
            (":scheme", "http"),
            (":authority", HOST),
            (":path", &path),
            ("authorization", auth),
        ];
        h.extend_from_slice(extra);
        hpack(&h)
    };
    let big = format!("{}", smuggled.len() + 100);
    let variants: Vec<(&'static str, Vec<u8>, Vec<u8>)> = vec![
        (
            "h2 transfer-encoding chunked",
            base(&[("transfer-encoding", "chunked")]),
            format!("0\r\n\r\n{smuggled}").into_bytes(),
        ),
        (
            "h2 content-length shorter than data",
            base(&[("content-length", "1")]),
            format!("x{smuggled}").into_bytes(),
        ),
        (
            "h2 content-length longer than data",
            base(&[("content-length", &big)]),
            b"x".to_vec(),
        ),
        (
            "h2 content-length and transfer-encoding",
            base(&[("content-length", "5"), ("transfer-encoding", "chunked")]),
            format!("0\r\n\r\n{smuggled}").into_bytes(),
        ),
        (
            "h2 connection header",
            base(&[("connection", "keep-alive")]),
            format!("x{smuggled}").into_bytes(),
        ),
        ("h2 te gzip", base(&[("te", "gzip")]), b"{}".to_vec()),
        (
            "h2 upgrade header",
            base(&[("upgrade", "h2c")]),
            b"{}".to_vec(),
        ),
        (
            "h2 host differs from authority",
            base(&[("host", "evil.example")]),
            b"{}".to_vec(),
        ),
        (
            "h2 CRLF in a header value",
            base(&[("x-inject", "a\r\nTransfer-Encoding: chunked")]),
            format!("0\r\n\r\n{smuggled}").into_bytes(),
        ),
        (
            "h2 CRLF in :path",
            hpack(&[
                (":method", "POST"),
                (":scheme", "http"),
                (":authority", HOST),
                (
                    ":path",
                    &format!("{path} HTTP/1.1\r\nHost: x\r\n\r\n{smuggled}"),
                ),
                ("authorization", auth),
            ]),
            b"{}".to_vec(),
        ),
        (
            "h2 upper-case header name",
            base(&[("Transfer-Encoding", "chunked")]),
            format!("0\r\n\r\n{smuggled}").into_bytes(),
        ),
        (
            "h2 content-length twice",
            base(&[("content-length", "1"), ("content-length", "90")]),
            format!("x{smuggled}").into_bytes(),
        ),
    ];
    variants
        .into_iter()
        .map(|(name, block, data)| {
            let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
            bytes.extend(frame(0x4, 0, 0, &[])); // SETTINGS
            bytes.extend(frame(0x1, 0x4, 1, &block)); // HEADERS, END_HEADERS
            bytes.extend(frame(0x0, 0x1, 1, &data)); // DATA, END_STREAM
            (name, bytes)
        })
        .collect()
}

/// Sends `bytes` on a fresh connection and reads until the gateway closes
/// it or goes quiet; returns what it answered.
async fn attack(addr: std::net::SocketAddr, bytes: Vec<u8>) -> Vec<u8> {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let _ = s.write_all(&bytes).await;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(Duration::from_millis(1500), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => out.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_reaches_an_upstream_twice_or_smuggled() {
    let mut h = Harness::start().await;
    let (auth, _) = h.credentials(&Who::user("alice", "US"));
    let auth = auth.unwrap();
    let mut names: Vec<&'static str> = Vec::new();
    let mut payloads = Vec::new();
    let h1_count = h1_cases(0).len();
    for n in 0..h1_count {
        let (name, head, body) = h1_cases(n).swap_remove(n);
        names.push(name);
        payloads.push(h1_bytes(n, &head, &body, &auth));
    }
    for k in 0..h2_bytes(0, &auth).len() {
        let (name, bytes) = h2_bytes(h1_count + k, &auth).swap_remove(k);
        names.push(name);
        payloads.push(bytes);
    }
    // Eight at a time: each waits for the gateway to go quiet (1.5 s).
    let mut answers = Vec::new();
    for chunk in payloads.chunks(8) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|p| tokio::spawn(attack(h.addr, p.clone())))
            .collect();
        for t in tasks {
            answers.push(t.await.expect("attack task"));
        }
    }

    // What the stores saw.
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut smuggled = Vec::new();
    let mut inner_seen = Vec::new();
    let mut per_case = vec![0usize; names.len()];
    let mut no_id = 0;
    for store in &h.stores {
        for r in store.received() {
            match &r.request_id {
                Some(id) => *by_id.entry(id.clone()).or_default() += 1,
                None => no_id += 1,
            }
            if let Some(n) = r
                .target
                .strip_prefix("/v1/public/SMUGGLED-")
                .and_then(|n| n.parse::<usize>().ok())
            {
                inner_seen.push((n, format!("{} got {}", store.region(), r.target)));
            }
            if let Some(n) = r
                .target
                .strip_prefix("/v1/messages/case-")
                .and_then(|n| n.parse::<usize>().ok())
            {
                per_case[n] += 1;
            }
        }
    }
    // An inner request after an outer one the gateway accepted and read to
    // its end is, by that framing, the client's next pipelined request: it
    // gets its own id, decision and record (checked below). After an outer
    // request the gateway refused, reading on would be smuggling.
    let mut pipelined = 0;
    for (n, what) in inner_seen {
        if per_case[n] == 1 {
            pipelined += 1;
        } else {
            smuggled.push(format!("{} ({n}): {what}", names[n]));
        }
    }
    let twice: Vec<String> = per_case
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 1)
        .map(|(n, c)| format!("{} ({n}) reached upstreams {c} times", names[n]))
        .collect();
    let duplicate_ids = by_id.values().filter(|c| **c > 1).count();
    let forwarded = per_case.iter().filter(|c| **c == 1).count();
    let got_through = smuggled.len() + twice.len() + duplicate_ids + no_id;
    println!(
        "attack_smuggling: {} cases ({h1_count} HTTP/1.1, {} HTTP/2), {forwarded} forwarded once ({pipelined} with a pipelined second request), {} refused, {got_through} got through",
        names.len(),
        names.len() - h1_count,
        names.len() - forwarded
    );
    for (n, a) in answers.iter().enumerate() {
        let first = String::from_utf8_lossy(a)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        println!(
            "  {:<40} {}",
            names[n],
            if first.starts_with("HTTP/") {
                first
            } else {
                format!("({} bytes of h2 frames or none)", a.len())
            }
        );
    }
    assert!(
        smuggled.is_empty(),
        "smuggled requests reached stores: {smuggled:?}"
    );
    assert!(twice.is_empty(), "{twice:?}");
    assert_eq!(
        duplicate_ids, 0,
        "a request id reached upstreams more than once"
    );
    assert_eq!(
        no_id, 0,
        "a store received a request without a gateway request id"
    );

    // Every forwarded request has its decision record.
    assert_eq!(h.stop(), 0);
    let decided: std::collections::HashSet<String> = h
        .records()
        .into_iter()
        .filter_map(|r| match r.event {
            Event::Decision(d) => Some(d.request_id),
            _ => None,
        })
        .collect();
    assert!(
        by_id.keys().all(|id| decided.contains(id)),
        "a forwarded request has no decision record"
    );
}

/// Runs `smugglex` (`cargo install smugglex`) against the gateway: every
/// check that applies to a cleartext HTTP/1.1 target. Skipped (with a note)
/// when the scanner is not installed, except under CI, where it must be.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smugglex_finds_nothing() {
    let bin = std::env::var("SMUGGLEX").unwrap_or_else(|_| "smugglex".into());
    if std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install smugglex (cargo install smugglex)"
        );
        println!("attack_smuggling: smugglex not installed; scan skipped");
        return;
    }
    let h = Harness::start().await;
    let (auth, _) = h.credentials(&Who::user("alice", "US"));
    let url = format!("http://{}/v1/messages/scan", h.addr);
    let auth_header = format!("Authorization: {}", auth.unwrap());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin)
            .args([
                "--json",
                "--no-color",
                "-t",
                "5",
                "--vhost",
                HOST,
                "-H",
                &auth_header,
                "-H",
                "Content-Type: application/json",
            ])
            .args([
                "-c",
                "cl-te,te-cl,te-te,h2c,cl-edge,cl-0,0-cl,parser-discrepancy",
            ])
            .arg(url)
            .output()
            .expect("running smugglex")
    })
    .await
    .expect("smugglex");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    println!("{stdout}");
    let findings = count_findings(&report);
    let checks = report
        .pointer("/results/0/checks")
        .and_then(|c| c.as_array())
        .map_or(0, Vec::len);
    println!("attack_smuggling: smugglex ran {checks} checks, {findings} findings");
    assert!(
        out.status.success() || findings == 0,
        "smugglex failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(findings, 0, "smugglex found something:\n{stdout}");
    assert!(
        h.stores
            .iter()
            .all(|s| s.received().iter().all(|r| !r.target.contains("GPOST")))
    );
}

/// Counts `"vulnerable": true` anywhere in smugglex's JSON report.
fn count_findings(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Object(m) => {
            usize::from(m.get("vulnerable").and_then(serde_json::Value::as_bool) == Some(true))
                + m.values().map(count_findings).sum::<usize>()
        }
        serde_json::Value::Array(a) => a.iter().map(count_findings).sum(),
        _ => 0,
    }
}
