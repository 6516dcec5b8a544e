//! TLS end to end: the real binary's TLS listener with real handshakes from a
//! rustls client, certificates from `jurisgate certs dev` (and from
//! `jurisgate_tls::dev` for the ones it does not make: expired, another CA,
//! upstream certificates), and `https://` upstreams behind TLS fronts.
//! A TLS 1.0/1.1 client cannot be built with rustls; `.ci/run` checks that
//! refusal with `openssl s_client -tls1_1`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use http::{Method, StatusCode, Version};
use jurisgate_e2e::decision;
use jurisgate_e2e::tls::{TlsClient, TlsFront, certs_dev, server_tls_section, write_cert};
use jurisgate_e2e::{Harness, Who};
use jurisgate_tls::dev::{DevCa, LeafSpec};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A gateway whose listener uses `certs dev`'s server certificate, with
/// `client_auth` against `client_ca` (`None`: the dev CA) and `extra`
/// appended to the config.
async fn tls_gateway(
    client_auth: &'static str,
    client_ca: Option<PathBuf>,
    extra: impl FnOnce(&Path) -> String,
) -> Harness {
    Harness::start_with_dir(move |dir, text| {
        let certs = certs_dev(dir);
        let ca = client_ca.unwrap_or_else(|| certs.join("ca.pem"));
        text.push_str(&server_tls_section(
            &certs.join("server.pem"),
            &certs.join("server-key.pem"),
            client_auth,
            &ca,
        ));
        text.push_str(&extra(dir));
    })
    .await
}

fn ca_file(h: &Harness) -> PathBuf {
    h.files.dir.join("certs").join("ca.pem")
}

/// Whether the server refuses `client`: the handshake fails, or (TLS 1.3,
/// where the client finishes first) the first request on it does.
async fn refused(h: &Harness, client: &TlsClient) -> bool {
    match client.connect(h.addr).await {
        Err(_) => true,
        Ok(mut conn) => conn
            .send(h.tls_request(&Who::Anonymous, Method::GET, "/v1/public/x", None))
            .await
            .is_err(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_negotiates_h2_by_alpn_falls_back_to_http11_and_picks_certificates_by_sni() {
    let other_ca = DevCa::generate("SNI test CA").unwrap();
    let eu_cert = other_ca.issue(&LeafSpec::server(&["eu.api.test"])).unwrap();
    let eu_der = eu_cert.der();
    let h = tls_gateway("none", None, |dir| {
        let (cert, key) = write_cert(dir, "eu-api", &eu_cert);
        std::fs::write(dir.join("sni-ca.pem"), other_ca.cert_pem()).unwrap();
        format!(
            "\n[[server.tls.sni]]\nserver_name = \"eu.api.test\"\ncert = \"{}\"\nkey = \"{}\"\n",
            cert.display(),
            key.display()
        )
    })
    .await;
    let client = TlsClient::new(&ca_file(&h));

    // ALPN h2 + http/1.1 offered: HTTP/2, several requests on one connection.
    let mut h2 = client.connect(h.addr).await.expect("TLS handshake");
    assert_eq!(h2.alpn.as_deref(), Some(&b"h2"[..]));
    for i in 0..3 {
        let body = json!({"text": format!("over h2 #{i}")});
        let (reply, version) = h2
            .send(h.tls_request(
                &Who::user("alice", "US"),
                Method::POST,
                &format!("/v1/messages/h2-{i}"),
                Some(&body),
            ))
            .await
            .unwrap();
        assert_eq!(
            (reply.status, version),
            (StatusCode::CREATED, Version::HTTP_2)
        );
        assert_eq!(h.regions_that_saw(&reply.request_id), ["us-east"]);
    }

    // Only http/1.1 offered, or no ALPN at all: HTTP/1.1.
    for (offer, expected_alpn) in [
        (&[&b"http/1.1"[..]][..], Some(&b"http/1.1"[..])),
        (&[][..], None),
    ] {
        let mut conn = client
            .clone()
            .alpn(offer)
            .connect(h.addr)
            .await
            .expect("TLS handshake");
        assert_eq!(conn.alpn.as_deref(), expected_alpn);
        let (reply, version) = conn
            .send(h.tls_request(
                &Who::user("emile", "EU"),
                Method::POST,
                "/v1/messages/h1",
                Some(&json!({})),
            ))
            .await
            .unwrap();
        assert_eq!(
            (reply.status, version),
            (StatusCode::CREATED, Version::HTTP_11)
        );
        assert_eq!(h.regions_that_saw(&reply.request_id), ["eu-west"]);
    }

    // SNI: the name with its own certificate gets it (verified against its
    // own CA); any other name, or none, gets the default certificate.
    let eu = TlsClient::new(&h.files.dir.join("sni-ca.pem"))
        .server_name("eu.api.test")
        .connect(h.addr)
        .await
        .expect("SNI handshake");
    assert_eq!(eu.peer_cert, eu_der);
    let default = client.connect(h.addr).await.unwrap();
    assert_ne!(default.peer_cert, eu_der);
    assert!(
        TlsClient::new(&h.files.dir.join("sni-ca.pem"))
            .server_name("localhost")
            .connect(h.addr)
            .await
            .is_err(),
        "localhost got the SNI certificate"
    );

    // TLS 1.2 is accepted by default.
    TlsClient::new(&ca_file(&h))
        .tls12_only()
        .connect(h.addr)
        .await
        .expect("TLS 1.2 handshake");

    // Plain HTTP to the TLS port: a clear 400, nothing forwarded, and the port still serves TLS.
    let answer = h
        .raw(b"GET /v1/public/x HTTP/1.1\r\nHost: api.demo.jurisgate\r\n\r\n")
        .await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n")
            && answer.contains("this port speaks HTTPS"),
        "{answer}"
    );
    assert!(
        h.stores
            .iter()
            .all(|s| s.received().iter().all(|r| r.target != "/v1/public/x"))
    );
    client
        .connect(h.addr)
        .await
        .expect("TLS after a plaintext request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls12_can_be_switched_off() {
    let h = Harness::start_with_dir(|dir, text| {
        let certs = certs_dev(dir);
        text.push_str(&server_tls_section(
            &certs.join("server.pem"),
            &certs.join("server-key.pem"),
            "none",
            &certs.join("ca.pem"),
        ));
        text.push_str("min_version = \"1.3\"\n");
    })
    .await;
    assert!(
        TlsClient::new(&ca_file(&h))
            .tls12_only()
            .handshake(h.addr)
            .await
            .is_err(),
        "a TLS 1.2 client was accepted"
    );
    TlsClient::new(&ca_file(&h))
        .connect(h.addr)
        .await
        .expect("TLS 1.3 handshake");
}

/// A CA for client certificates, and certificates it (and another CA) signed.
struct ClientPki {
    ca: PathBuf,
    valid: (PathBuf, PathBuf),
    expired: (PathBuf, PathBuf),
    other_ca: (PathBuf, PathBuf),
}

fn client_pki(dir: &Path) -> ClientPki {
    let ca = DevCa::generate("client CA").unwrap();
    let ca_path = dir.join("client-ca.pem");
    std::fs::write(&ca_path, ca.cert_pem()).unwrap();
    let valid = ca
        .issue(&LeafSpec {
            organization: Some("usds".into()),
            country: Some("US".into()),
            uris: vec!["spiffe://jurisgate.test/us/billing".into()],
            ..LeafSpec::client("us-billing")
        })
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let expired = ca
        .issue(&LeafSpec {
            not_before: now - time::Duration::days(30),
            not_after: now - time::Duration::days(1),
            ..LeafSpec::client("expired")
        })
        .unwrap();
    let rogue = DevCa::generate("rogue CA")
        .unwrap()
        .issue(&LeafSpec::client("us-billing"))
        .unwrap();
    ClientPki {
        ca: ca_path,
        valid: write_cert(dir, "valid-client", &valid),
        expired: write_cert(dir, "expired-client", &expired),
        other_ca: write_cert(dir, "rogue-client", &rogue),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_client_certificate_becomes_the_verified_requester() {
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = client_pki(pki_dir.path());
    let mut h = tls_gateway("optional", Some(pki.ca.clone()), |_| "\n[[attribution]]\nkind = \"mtls\"\nlocation_from = \"subject.C\"\nrequester_kind = \"service\"\n".into()).await;
    let client = TlsClient::new(&ca_file(&h));

    let mut with_cert = client
        .clone()
        .client_cert(&pki.valid.0, &pki.valid.1)
        .connect(h.addr)
        .await
        .expect("mTLS handshake");
    let (verified, _) = with_cert
        .send(h.tls_request(&Who::Anonymous, Method::GET, "/v1/public/news", None))
        .await
        .unwrap();
    // No certificate is fine with "optional": the request goes on, unverified.
    let mut without = client
        .connect(h.addr)
        .await
        .expect("handshake without a certificate");
    let (anonymous, _) = without
        .send(h.tls_request(&Who::Anonymous, Method::GET, "/v1/public/news", None))
        .await
        .unwrap();
    // A certificate that does not verify is refused, not ignored.
    assert!(
        refused(
            &h,
            &client.clone().client_cert(&pki.expired.0, &pki.expired.1)
        )
        .await,
        "expired certificate accepted"
    );
    assert!(
        refused(
            &h,
            &client.clone().client_cert(&pki.other_ca.0, &pki.other_ca.1)
        )
        .await,
        "certificate from another CA accepted"
    );

    assert_eq!(h.stop(), 0);
    let records = h.records();
    let r = &decision(&records, &verified.request_id).requester;
    assert_eq!(
        (
            r.kind.as_str(),
            r.id.as_deref(),
            r.org.as_deref(),
            r.location.as_deref(),
            r.source.as_str(),
            r.verified
        ),
        (
            "service",
            Some("spiffe://jurisgate.test/us/billing"),
            Some("usds"),
            Some("US"),
            "mtls",
            true
        )
    );
    let r = &decision(&records, &anonymous.request_id).requester;
    assert!(!r.verified && r.source != "mtls", "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_client_certificate_refuses_missing_expired_and_foreign_ones() {
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = client_pki(pki_dir.path());
    let h = tls_gateway("required", Some(pki.ca.clone()), |_| String::new()).await;
    let client = TlsClient::new(&ca_file(&h));
    assert!(refused(&h, &client).await, "no certificate accepted");
    assert!(
        refused(
            &h,
            &client.clone().client_cert(&pki.expired.0, &pki.expired.1)
        )
        .await,
        "expired certificate accepted"
    );
    assert!(
        refused(
            &h,
            &client.clone().client_cert(&pki.other_ca.0, &pki.other_ca.1)
        )
        .await,
        "certificate from another CA accepted"
    );
    let mut ok = client
        .client_cert(&pki.valid.0, &pki.valid.1)
        .connect(h.addr)
        .await
        .expect("mTLS handshake");
    let (reply, _) = ok
        .send(h.tls_request(
            &Who::user("alice", "US"),
            Method::POST,
            "/v1/messages/m1",
            Some(&json!({})),
        ))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloaded_certificate_is_seen_by_new_connections_while_old_ones_keep_working() {
    let ca = DevCa::generate("server CA").unwrap();
    // Whole seconds, as certificates hold them; the second expires sooner.
    let now =
        time::OffsetDateTime::from_unix_timestamp(time::OffsetDateTime::now_utc().unix_timestamp())
            .unwrap();
    let issue = |cn: &str, days: i64| {
        let expires = now + time::Duration::days(days);
        let leaf = ca
            .issue(&LeafSpec {
                common_name: cn.into(),
                not_after: expires,
                ..LeafSpec::server(&["localhost"])
            })
            .unwrap();
        (leaf, expires.unix_timestamp() as f64)
    };
    let ((first, first_expiry), (second, second_expiry)) =
        (issue("first", 90), issue("second", 30));
    let expiry = "jurisgate_tls_certificate_expiry_timestamp_seconds";
    let applied = "jurisgate_tls_reloads_total{result=\"applied\"}";
    let refused = "jurisgate_tls_reloads_total{result=\"refused\"}";
    let first_der = first.der();
    let h = Harness::start_with_dir(|dir, text| {
        std::fs::write(dir.join("server-ca.pem"), ca.cert_pem()).unwrap();
        let (cert, key) = write_cert(dir, "server", &first);
        text.push_str(&server_tls_section(&cert, &key, "none", &cert));
    })
    .await;
    let client = TlsClient::new(&h.files.dir.join("server-ca.pem"));
    let mut old = client.connect(h.addr).await.unwrap();
    assert_eq!(old.peer_cert, first_der);
    assert_eq!(h.metric(expiry).await, Some(first_expiry));
    assert_eq!(h.metric(applied).await, Some(0.0));

    let _ = write_cert(&h.files.dir, "server", &second);
    h.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.connect(h.addr).await.unwrap().peer_cert != second.der() {
        assert!(
            Instant::now() < deadline,
            "new connections never saw the new certificate"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The connection made before the reload still works, on its old session.
    let (reply, _) = old
        .send(h.tls_request(
            &Who::user("alice", "US"),
            Method::POST,
            "/v1/messages/r1",
            Some(&json!({})),
        ))
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(old.peer_cert, first_der);
    // The metrics say which certificate expires next, and that it reloaded.
    assert_eq!(h.metric(expiry).await, Some(second_expiry));
    // (No count of refusals here: the file watcher may catch the new
    // certificate beside the old key for a moment and refuse that pair.)
    assert!(h.metric(applied).await >= Some(1.0));

    // A broken key file is refused; the last good certificate stays in use
    // (checked repeatedly across SIGHUP and two file-watch polls).
    std::fs::write(
        h.files.dir.join("server-key.pem"),
        "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    h.signal("HUP");
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        assert_eq!(
            client
                .connect(h.addr)
                .await
                .expect("handshake after a bad reload")
                .peer_cert,
            second.der()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(h.metric(refused).await >= Some(1.0));
    assert_eq!(h.metric(expiry).await, Some(second_expiry));
}

/// Points pool `pool` of the demo config at `endpoint`, with `tls` settings.
fn set_pool(text: &mut String, pool: &str, endpoint: &str, tls: &str) {
    let head = format!("name = \"{pool}\"\nregion = \"{pool}\"\nendpoints = [\"");
    let start = text.find(&head).expect("pool in demo config") + head.len();
    let end = start + text[start..].find('"').expect("endpoint end");
    text.replace_range(start..end, endpoint);
    let line_end = end + text[end..].find('\n').expect("line end");
    text.insert_str(line_end + 1, &format!("tls = {tls}\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_with_another_regions_certificate_never_receives_data() {
    let dir = tempfile::tempdir().unwrap();
    let ca = DevCa::generate("upstream CA").unwrap();
    let ca_path = dir.path().join("upstream-ca.pem");
    std::fs::write(&ca_path, ca.cert_pem()).unwrap();
    let front = |name: &str, cert: &str, require_client: bool| {
        let (cert, key) = write_cert(
            dir.path(),
            name,
            &ca.issue(&LeafSpec::server(&[cert])).unwrap(),
        );
        jurisgate_config::ServerTls {
            cert,
            key,
            client_ca: require_client.then(|| ca_path.clone()),
            client_auth: if require_client {
                jurisgate_config::ClientAuth::Required
            } else {
                jurisgate_config::ClientAuth::None
            },
            min_version: jurisgate_config::TlsVersion::Tls12,
            sni: Vec::new(),
            watch: false,
        }
    };
    // us-east's upstream presents a certificate for eu-west; us-west's is
    // genuine and requires the gateway's client certificate.
    let us_east_store = jurisgate_demo::RegionalStore::start("us-east")
        .await
        .unwrap();
    let us_west_store = jurisgate_demo::RegionalStore::start("us-west")
        .await
        .unwrap();
    let store_addr =
        |s: &jurisgate_demo::RegionalStore| s.url().trim_start_matches("http://").parse().unwrap();
    let impostor = TlsFront::start(
        &front("impostor", "eu-west.store.test", false),
        store_addr(&us_east_store),
    )
    .await;
    let genuine = TlsFront::start(
        &front("genuine", "us-west.store.test", true),
        store_addr(&us_west_store),
    )
    .await;
    let (client_cert, client_key) = write_cert(
        dir.path(),
        "gateway-client",
        &ca.issue(&LeafSpec::client("jurisgate")).unwrap(),
    );

    let h = Harness::start_with(|text| {
        let ca = ca_path.display();
        set_pool(text, "us-east", &format!("https://{}", impostor.addr), &format!("{{ ca = \"{ca}\", server_name = \"us-east.store.test\" }}"));
        set_pool(
            text,
            "us-west",
            &format!("https://{}", genuine.addr),
            &format!("{{ ca = \"{ca}\", server_name = \"us-west.store.test\", client_cert = \"{}\", client_key = \"{}\" }}", client_cert.display(), client_key.display()),
        );
    })
    .await;
    h.wait_for_region("us-east", false).await;
    h.wait_for_region("us-west", true).await;

    let reply = h
        .send(
            Who::user("alice", "US"),
            Method::POST,
            "/v1/messages/pinned",
            Some(json!({"text": "stays in us"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert!(
        us_west_store.saw(&reply.request_id),
        "the genuine us-west upstream got it over mTLS"
    );
    assert!(!us_east_store.saw(&reply.request_id));
    assert!(
        us_east_store.received().is_empty(),
        "the impostor's store received a request"
    );
    assert_eq!(impostor.relayed(), 0, "bytes reached the impostor's store");
}

/// How long until `stream` is closed by the other side (at most 10 s).
async fn closed_after(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                return;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "idle connection still open after 10 s");
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_plain_and_tls() {
    let with_idle = |text: &mut String| {
        *text = text.replacen(
            "shutdown_grace = \"5s\"",
            "shutdown_grace = \"5s\"\nidle_timeout = \"400ms\"",
            1,
        )
    };
    let h = Harness::start_with(with_idle).await;
    // A keep-alive connection that answered one request, then sat quiet.
    let mut tcp = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    tcp.write_all(b"GET /v1/public/idle HTTP/1.1\r\nHost: api.demo.jurisgate\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 "), "no answer");
    let took = closed_after(&mut tcp).await;
    assert!(
        took >= Duration::from_millis(300),
        "closed after {took:?}, before the idle timeout"
    );
    // A request waiting on a slow upstream is not idle, however quiet its
    // connection: the upstream's 1 s is within its request_timeout.
    let mut tcp = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    tcp.write_all(
        b"GET /v1/public/slow?delay_ms=1000 HTTP/1.1\r\nHost: api.demo.jurisgate\r\n\r\n",
    )
    .await
    .unwrap();
    let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf))
        .await
        .expect("no answer in 10 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(
        answer.starts_with("HTTP/1.1 ") && answer.contains("\"region\""),
        "a slow request was cut as idle, or not answered by its store: {answer:?}"
    );
    drop(h);

    let h = Harness::start_with_dir(|dir, text| {
        with_idle(text);
        let certs = certs_dev(dir);
        text.push_str(&server_tls_section(
            &certs.join("server.pem"),
            &certs.join("server-key.pem"),
            "none",
            &certs.join("ca.pem"),
        ));
    })
    .await;
    let mut stream = TlsClient::new(&ca_file(&h))
        .handshake(h.addr)
        .await
        .unwrap();
    let took = closed_after(&mut stream).await;
    assert!(
        took >= Duration::from_millis(300),
        "TLS connection closed after {took:?}, before the idle timeout"
    );
}
