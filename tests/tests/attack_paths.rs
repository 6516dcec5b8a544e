//! Path and header ambiguity: a generated corpus of encodings of the
//! protected (and public) routes' paths, sent to the real binary over raw
//! keep-alive sockets. Each case is built from one canonical path C; the only
//! acceptable outcomes are a refusal (4xx, nothing forwarded) or a request
//! classified as C and forwarded with exactly C as its path. Anything else
//! (another path, another route's region, a second request) "got through".
//!
//! The exhaustive part (every per-character escape combination of one
//! path, hundreds of thousands of targets) runs in-process on the same
//! `normalize_path` the binary uses. Both tests print their counts, which
//! `SECURITY.md` quotes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jurisgate_audit::Event;
use jurisgate_e2e::{Harness, RawConn, RawResponse, Who};
use jurisgate_proxy::normalize::normalize_path;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

/// Canonical paths and the region a verified US user's request for them
/// reaches (protected routes: us-east; the public route: ap-southeast).
const CANONICAL: [(&str, &str); 3] = [
    ("/v1/messages/a1", "us-east"),
    ("/v1/profiles/p-7/settings", "us-east"),
    ("/v1/public/news~1", "ap-southeast"),
];

const HOST: &str = "api.demo.jurisgate";

/// One request of the corpus.
#[derive(Debug, Clone)]
struct Case {
    /// The request target as sent.
    target: String,
    /// Host header lines (empty: none).
    hosts: Vec<String>,
    /// The canonical path this case encodes.
    canonical: &'static str,
    /// The region C goes to.
    region: &'static str,
    /// The query the upstream must get, if any.
    query: Option<String>,
    /// Whether every RFC 3986 reader decodes the target to C. When false
    /// (a double-encoded letter, a look-alike character, another letter
    /// case), only a reader that decodes twice or folds would read C: then
    /// an accepted target must still stay on C's route and region, and the
    /// upstream must get exactly what the gateway classified.
    exact: bool,
}

fn case(target: String, c: (&'static str, &'static str)) -> Case {
    Case {
        target,
        hosts: vec![HOST.into()],
        canonical: c.0,
        region: c.1,
        query: None,
        exact: true,
    }
}

fn lookalike(target: String, c: (&'static str, &'static str)) -> Case {
    Case {
        exact: false,
        ..case(target, c)
    }
}

fn escape(b: u8, lower: bool) -> String {
    if lower {
        format!("%{b:02x}")
    } else {
        format!("%{b:02X}")
    }
}

/// Detours inserted at a `/`: each either leaves the path as it was or is
/// one of the tricks a backend may read differently (and must be refused).
const DETOURS: [&str; 33] = [
    "/",
    "//",
    "///",
    "/./",
    "/%2e/",
    "/%2E/",
    "/zz/../",
    "/zz/%2e%2e/",
    "/zz/%2E%2e/",
    "/zz/.%2E/",
    "/zz/%2e./",
    "/public/../",
    "/v1/public/../../",
    "/zz/..;/",
    "/zz/%2e%2e;/",
    "/zz/..%3b/",
    "/zz/..%3B/",
    "/zz/.;/",
    "/zz/..\\",
    "/zz/..%5c",
    "/zz/..%5C",
    "/zz/%2e%2e%2f",
    "/zz/%252e%252e/",
    "/zz/%25%32%65%25%32%65/",
    "/zz/..%00/",
    "/zz/%c0%ae%c0%ae/",
    "/zz/%e0%80%ae%e0%80%ae/",
    "/zz%c0%af..%c0%af",
    "/zz/..%2f",
    "/zz/%2e%2e%5c",
    "/%2f/",
    "/%3F/../",
    "/%23/../",
];

/// The deterministic corpus (seeded, so a failure reproduces).
fn corpus() -> Vec<Case> {
    let mut rng = StdRng::seed_from_u64(0x6a75_7269_7367_6174);
    let mut out = Vec::new();
    for c in CANONICAL {
        let (path, _) = c;
        let bytes = path.as_bytes();
        // Every single character escaped, upper and lower hex.
        for i in 0..bytes.len() {
            for lower in [false, true] {
                let mut t = path[..i].to_string();
                t.push_str(&escape(bytes[i], lower));
                t.push_str(&path[i + 1..]);
                out.push(case(t, c));
            }
        }
        // Everything escaped: with and without the separators, mixed case.
        for (keep_slash, mode) in [(true, 0), (true, 1), (true, 2), (false, 0), (false, 2)] {
            let t: String = bytes
                .iter()
                .enumerate()
                .map(|(i, &b)| {
                    if b == b'/' && keep_slash {
                        "/".to_string()
                    } else {
                        escape(b, mode == 1 || (mode == 2 && i % 2 == 0))
                    }
                })
                .collect();
            out.push(case(t, c));
        }
        // Detours at every separator.
        let slashes: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i] == b'/').collect();
        for &s in &slashes {
            for d in DETOURS {
                out.push(case(format!("{}{d}{}", &path[..s], &path[s + 1..]), c));
            }
        }
        // Climbing above the root first.
        for prefix in [
            "/..", "/%2e%2e", "/%2E%2E", "/.%2e", "/../..", "/..;", "/%2e%2e;",
        ] {
            out.push(case(format!("{prefix}{path}"), c));
        }
        // Separators replaced by backslashes and their escapes.
        for &s in slashes.iter().skip(1) {
            for sep in [
                "\\",
                "%5c",
                "%5C",
                "%2f",
                "%2F",
                "%252f",
                "%25%32%66",
                "%c0%af",
                "%e0%80%af",
            ] {
                out.push(case(format!("{}{sep}{}", &path[..s], &path[s + 1..]), c));
            }
            // Full-width solidus: a reader applying NFKC would see '/'.
            out.push(lookalike(
                format!("{}%ef%bc%8f{}", &path[..s], &path[s + 1..]),
                c,
            ));
        }
        // NUL and control bytes at every position.
        for i in 1..=bytes.len() {
            for ins in ["%00", "%0a", "%0d%0a", "%09", "%7f"] {
                out.push(case(format!("{}{ins}{}", &path[..i], &path[i..]), c));
            }
        }
        // Overlong UTF-8 and odd encodings of letters of the path.
        for (i, b) in bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| b.is_ascii_alphanumeric())
        {
            let overlong2 = format!("%{:02X}%{:02X}", 0xC0 | (b >> 6), 0x80 | (b & 0x3F));
            let overlong3 = format!("%E0%{:02X}%{:02X}", 0x80 | (b >> 6), 0x80 | (b & 0x3F));
            for enc in [overlong2, overlong3, format!("%u00{b:02x}")] {
                out.push(case(format!("{}{enc}{}", &path[..i], &path[i + 1..]), c));
            }
            out.push(lookalike(
                format!("{}%25{b:02X}{}", &path[..i], &path[i + 1..]),
                c,
            ));
        }
        // `?` and `#` tricks.
        for (suffix, query) in [
            ("?x=/../../public", Some("x=/../../public")),
            ("?", Some("")),
            ("?a=%2f..%2f&b=\\", Some("a=%2f..%2f&b=\\")),
            ("?/v1/public/x", Some("/v1/public/x")),
            ("#frag", None),
            // The HTTP layer drops a fragment after a query before the
            // gateway sees the target; classification and forwarding agree.
            ("?x=1#frag", Some("x=1")),
            ("?x=%00", None),
            ("?x=%zz", None),
        ] {
            let mut k = case(format!("{path}{suffix}"), c);
            k.query = query.map(String::from);
            out.push(k);
        }
        // Absolute-form targets and Host vs authority.
        for (authority, hosts) in [
            (HOST, vec![HOST]),
            ("API.Demo.JURISGATE", vec![HOST]),
            (HOST, vec![]),
            ("evil.example", vec![HOST]),
            (HOST, vec!["evil.example"]),
            ("api.demo.jurisgate:80", vec![HOST]),
            ("user@api.demo.jurisgate", vec![HOST]),
        ] {
            let mut k = case(format!("http://{authority}{path}"), c);
            k.hosts = hosts.into_iter().map(String::from).collect();
            out.push(k);
        }
        for hosts in [
            vec![HOST, HOST],
            vec![HOST, "evil.example"],
            vec![],
            vec!["user@api.demo.jurisgate"],
            vec!["api.demo.jurisgate/x"],
        ] {
            let mut k = case(path.to_string(), c);
            k.hosts = hosts.into_iter().map(String::from).collect();
            out.push(k);
        }
        // Very long targets: under the limit (a detour that resolves to C)
        // and over it.
        let s = slashes[1];
        for (unit, times) in [
            ("/.", 3000),
            ("/zz/..", 1300),
            ("/.", 4200),
            ("//", 5000),
            ("/zz/..", 20_000),
        ] {
            out.push(case(
                format!("{}{}{}", &path[..s], unit.repeat(times), &path[s..]),
                c,
            ));
        }
        // Case variants (a case-insensitive backend would read C).
        for _ in 0..8 {
            let t: String = path
                .chars()
                .map(|ch| {
                    if rng.r#gen::<bool>() {
                        ch.to_ascii_uppercase()
                    } else {
                        ch
                    }
                })
                .collect();
            out.push(lookalike(t, c));
        }
        // Random mixtures of all of the above.
        for _ in 0..1100 {
            let (t, exact) = random_disguise(path, &mut rng);
            let query = t.split_once('?').map(|(_, q)| q.to_string());
            out.push(Case {
                exact,
                query,
                ..case(t, c)
            });
        }
    }
    out
}

/// A random disguise of `path`, and whether it is exact (no double-encoded letter).
fn random_disguise(path: &str, rng: &mut StdRng) -> (String, bool) {
    let mut t = String::new();
    let mut exact = true;
    for (i, b) in path.bytes().enumerate() {
        if b == b'/' && i > 0 && rng.gen_ratio(1, 3) {
            t.push_str(DETOURS[rng.gen_range(0..DETOURS.len())]);
            continue;
        }
        match rng.gen_range(0..10) {
            0 | 1 => t.push_str(&escape(b, rng.r#gen())),
            2 if b != b'/' => {
                t.push_str(&format!("%25{b:02X}"));
                exact = false;
            }
            _ => t.push(char::from(b)),
        }
    }
    if rng.gen_ratio(1, 8) {
        t.push_str("?q=..%2F");
    }
    (t, exact)
}

fn request(case: &Case, auth: &str) -> Vec<u8> {
    let mut r = format!("GET {} HTTP/1.1\r\n", case.target);
    for h in &case.hosts {
        r.push_str(&format!("Host: {h}\r\n"));
    }
    r.push_str(&format!("Authorization: {auth}\r\n\r\n"));
    r.into_bytes()
}

/// Sends every case over `workers` keep-alive connections; a connection the
/// gateway closes is reopened. `None`: closed without an answer.
async fn run_cases(
    h: &Harness,
    cases: Arc<Vec<Case>>,
    auth: Arc<String>,
    workers: usize,
) -> Vec<Option<RawResponse>> {
    let addr = h.addr;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let cases = Arc::clone(&cases);
        let auth = Arc::clone(&auth);
        tasks.push(tokio::spawn(async move {
            let mut conn = RawConn::connect(addr).await.expect("connect");
            let mut out = Vec::new();
            for i in (w..cases.len()).step_by(workers) {
                conn.send(&request(&cases[i], &auth)).await.ok();
                let mut reply = conn.read(Duration::from_secs(10)).await;
                if reply.is_none() {
                    // The previous answer may have closed the connection
                    // silently: try once more on a fresh one.
                    conn = RawConn::connect(addr).await.expect("reconnect");
                    conn.send(&request(&cases[i], &auth)).await.ok();
                    reply = conn.read(Duration::from_secs(10)).await;
                }
                let close = reply.as_ref().is_none_or(|r| {
                    r.header("connection")
                        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
                });
                if close {
                    conn = RawConn::connect(addr).await.expect("reconnect");
                }
                out.push((i, reply));
            }
            out
        }));
    }
    let mut replies = vec![None; cases.len()];
    for t in tasks {
        for (i, r) in t.await.expect("worker") {
            replies[i] = r;
        }
    }
    replies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_encoding_is_refused_or_forwarded_canonically() {
    let mut h = Harness::start().await;
    let (auth, _) = h.credentials(&Who::user("alice", "US"));
    let cases = Arc::new(corpus());
    let started = Instant::now();
    let replies = run_cases(&h, Arc::clone(&cases), Arc::new(auth.unwrap()), 8).await;
    let took = started.elapsed();

    // What each store received, by request id.
    let mut seen: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let mut total_received = 0;
    for store in &h.stores {
        for r in store.received() {
            total_received += 1;
            seen.entry(r.request_id.unwrap_or_default())
                .or_default()
                .push((store.region().to_string(), r.target));
        }
    }

    let (mut refused, mut forwarded, mut got_through) = (0, 0, Vec::new());
    for (case, reply) in cases.iter().zip(&replies) {
        let Some(reply) = reply else {
            // Closed by the HTTP parser without an answer: nothing carried an id.
            refused += 1;
            continue;
        };
        let id = reply.header("x-jurisgate-request-id").unwrap_or_default();
        let hits = seen.get(id).map_or(&[][..], Vec::as_slice);
        let expected_target = match &case.query {
            Some(q) => format!("{}?{q}", case.canonical),
            None => case.canonical.to_string(),
        };
        let route_prefix = case
            .canonical
            .splitn(4, '/')
            .take(3)
            .collect::<Vec<_>>()
            .join("/")
            + "/";
        match hits {
            [] if (400..500).contains(&reply.status) => refused += 1,
            [(region, target)] if region == case.region && *target == expected_target => {
                forwarded += 1
            }
            [(region, target)]
                if !case.exact && region == case.region && target.starts_with(&route_prefix) =>
            {
                forwarded += 1;
            }
            _ => got_through.push(format!("{:?} -> {} {hits:?}", case.target, reply.status)),
        }
    }
    // Every reception by a store belongs to exactly one accepted case.
    let accounted = forwarded;
    println!(
        "attack_paths: {} cases over raw sockets in {:.1} s, {refused} refused, {forwarded} forwarded canonically, {} got through",
        cases.len(),
        took.as_secs_f64(),
        got_through.len()
    );
    assert!(
        got_through.is_empty(),
        "got through:\n{}",
        got_through.join("\n")
    );
    assert_eq!(
        total_received, accounted,
        "stores received requests no case accounts for"
    );
    assert!(cases.len() >= 4000, "the corpus shrank to {}", cases.len());
    assert!(
        forwarded > 500 && refused > 500,
        "the corpus no longer exercises both outcomes"
    );

    // What was classified is what was forwarded: each forwarded request's
    // decision record names the path and region the store saw.
    assert_eq!(h.stop(), 0);
    let mut mismatched = 0;
    for r in h.records() {
        if let Event::Decision(d) = r.event
            && let Some(hits) = seen.get(&d.request_id)
        {
            let ok = hits.iter().all(|(region, target)| {
                d.region.as_deref() == Some(region.as_str())
                    && target.split('?').next() == Some(d.path.as_str())
            });
            mismatched += usize::from(!ok);
        }
    }
    assert_eq!(
        mismatched, 0,
        "forwarded paths differ from the recorded, classified ones"
    );
}

/// Every combination of raw / `%XX` / `%xx` for each character of one path
/// and every separator form: 3^12 × a few, in-process.
#[test]
fn exhaustive_escape_combinations_normalise_to_the_canonical_path() {
    const PATH: &str = "/v1/messages/a1";
    let chars: Vec<u8> = PATH.bytes().filter(|&b| b != b'/').collect();
    let segments = [2usize, 8, 2];
    let mut cases = 0u64;
    let mut wrong = Vec::new();
    let total = 3u32.pow(u32::try_from(chars.len()).unwrap_or(0));
    let mut buf = String::with_capacity(64);
    for n in 0..total {
        buf.clear();
        let mut k = n;
        let mut at = 0;
        for len in segments {
            buf.push('/');
            for &b in &chars[at..at + len] {
                match k % 3 {
                    0 => buf.push(char::from(b)),
                    1 => buf.push_str(&escape(b, false)),
                    _ => buf.push_str(&escape(b, true)),
                }
                k /= 3;
            }
            at += len;
        }
        cases += 1;
        match normalize_path(&buf) {
            Ok(t) if t.path == PATH => {}
            other => wrong.push(format!("{buf:?}: {other:?}")),
        }
    }
    // Separator forms at each of the three inner separators.
    let forms = [
        "/",
        "//",
        "/./",
        "/%2e/",
        "/%2E/",
        "/x/../",
        "/x/%2e%2e/",
        "/%2F",
        "/%5C",
        "\\",
        "/..;/x/",
        "/%2e%2e%2f",
    ];
    for a in forms {
        for b in forms {
            for c in forms {
                let raw = format!("{a}v1{b}messages{c}a1");
                cases += 1;
                let ok_form =
                    |f: &str| !matches!(f, "/%2F" | "/%5C" | "\\" | "/..;/x/" | "/%2e%2e%2f");
                match normalize_path(&raw) {
                    Ok(t) if t.path == PATH => {}
                    Err(_) if !(ok_form(a) && ok_form(b) && ok_form(c)) => {}
                    // `/x/../` as the first separator climbs above the root only if it is first… it is not.
                    other => wrong.push(format!("{raw:?}: {other:?}")),
                }
            }
        }
    }
    println!(
        "attack_paths (in-process): {cases} cases, {} got through",
        wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "{}",
        wrong
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
