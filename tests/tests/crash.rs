//! Crash consistency: the real gateway under load is killed with SIGKILL
//! at random moments, restarted on the same audit folder, stopped cleanly
//! and verified with `jurisgate audit verify`, ten rounds. At the end every
//! request id any store received has a decision record: nothing forwarded
//! was lost, and torn last lines were quarantined and named, not dropped.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use jurisgate_audit::Event;
use jurisgate_e2e::{Harness, RawConn, Who, run_cli};
use rand::Rng as _;

const ROUNDS: usize = 10;
const CLIENTS: usize = 6;

/// Keeps `CLIENTS` keep-alive connections posting until `stop` is set.
fn load(
    addr: SocketAddr,
    auth: String,
    round: usize,
    stop: &Arc<AtomicBool>,
    sent: &Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..CLIENTS)
        .map(|c| {
            let (auth, stop, sent) = (auth.clone(), Arc::clone(stop), Arc::clone(sent));
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let Ok(mut conn) = RawConn::connect(addr).await else { return };
                    loop {
                        let body = format!("{{\"round\":{round},\"client\":{c},\"n\":{n}}}");
                        let req = format!(
                            "POST /v1/messages/r{round}-c{c}-{n} HTTP/1.1\r\nHost: api.demo.jurisgate\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        n += 1;
                        sent.fetch_add(1, Ordering::SeqCst);
                        if conn.send(req.as_bytes()).await.is_err() || conn.read(Duration::from_secs(5)).await.is_none() || stop.load(Ordering::SeqCst) {
                            break;
                        }
                    }
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_record() {
    let mut h = Harness::start().await;
    let (auth, _) = h.credentials(&Who::user("alice", "US"));
    let auth = auth.unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let dir = h.files.audit_dir.display().to_string();
    let key = h.files.vkey_file.display().to_string();
    for round in 0..ROUNDS {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = load(h.addr, auth.clone(), round, &stop, &sent);
        // Let the load reach the store, then kill at a random moment.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while h.stores.iter().map(|s| s.received().len()).sum::<usize>() == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no request reached a store"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let wait = rand::thread_rng().gen_range(20..400);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        h.kill9();
        stop.store(true, Ordering::SeqCst);
        for t in tasks {
            let _ = t.await;
        }
        // Recover on the same folder, close cleanly, verify offline.
        h.restart().await;
        // serve.rs prints its addresses before it installs its SIGTERM
        // handler (reported); one admin round trip outlasts that gap.
        let _ = h.admin_get("/healthz").await;
        assert_eq!(
            h.stop(),
            0,
            "round {round}: the restarted gateway did not stop cleanly"
        );
        let (code, out, err) = run_cli(&["audit", "verify", &dir, "--key", &key]);
        assert_eq!(
            code, 0,
            "round {round}: audit verify failed after a SIGKILL at {wait} ms:\n{out}\n{err}"
        );
        h.restart().await;
    }
    let _ = h.admin_get("/healthz").await;
    assert_eq!(h.stop(), 0);

    let records = h.records();
    let decided: HashSet<String> = records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Decision(d) => Some(d.request_id.clone()),
            _ => None,
        })
        .collect();
    let quarantined = records
        .iter()
        .filter(|r| matches!(&r.event, Event::Startup(s) if s.quarantined.is_some()))
        .count();
    let received: Vec<String> = h
        .stores
        .iter()
        .flat_map(|s| s.received())
        .filter_map(|r| r.request_id)
        .collect();
    let lost: Vec<&String> = received
        .iter()
        .filter(|id| !decided.contains(*id))
        .collect();
    println!(
        "crash: {ROUNDS} SIGKILL rounds, {} requests sent, {} reached stores, {} decision records, {quarantined} torn lines quarantined, {} records lost",
        sent.load(Ordering::SeqCst),
        received.len(),
        decided.len(),
        lost.len()
    );
    assert!(
        lost.is_empty(),
        "forwarded without a surviving record: {lost:?}"
    );
    let (code, out, err) = run_cli(&["audit", "verify", &dir, "--key", &key]);
    assert_eq!(code, 0, "{out}\n{err}");
}
