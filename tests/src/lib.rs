//! The end-to-end harness: starts the real `jurisgate` binary (a child
//! process) on a free loopback port in front of real regional stores, and
//! gives tests a client, signed tokens and the audit log to check.
//!
//! ```ignore
//! let h = Harness::start().await;
//! let resp = h.send(Who::user("alice", "US"), Method::GET, "/v1/messages/1", None).await;
//! ```

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jurisgate_demo::{DemoFiles, RegionalStore};
use serde_json::{Value, json};

pub mod tls;

/// The regions every harness starts a store for, in route order.
pub const REGIONS: [&str; 4] = ["us-east", "us-west", "eu-west", "ap-southeast"];

/// Path of the `jurisgate` binary, built once per test run if needed.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // A prebuilt binary (e.g. a release build for the resource tests).
        if let Some(bin) = std::env::var_os("JURISGATE_E2E_BIN") {
            return PathBuf::from(bin);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root")
            .to_path_buf();
        let target =
            std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
        // Build the binary of this same profile, so the tests run the code under test.
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "jurisgate", "--bin", "jurisgate"])
            .current_dir(&root)
            .status()
            .expect("running cargo build");
        assert!(status.success(), "cargo build -p jurisgate failed");
        target.join("debug").join("jurisgate")
    })
}

/// Runs `jurisgate ARGS…` to completion; returns (exit code, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    run_cli_env(args, &[])
}

/// Like [`run_cli`], with extra environment variables (e.g. S3 credentials).
pub fn run_cli_env(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(binary())
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("running jurisgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Who sends a request.
#[derive(Debug, Clone)]
pub enum Who {
    /// No credentials.
    Anonymous,
    /// A user with a verified token: (user id, jurisdiction claim).
    User(String, String),
    /// An employee: (id, location, with a verified approval).
    Employee(String, String, bool),
    /// A correctly shaped token signed by an untrusted key.
    Forged(String, String),
    /// A raw `Authorization` value.
    RawAuthorization(String),
}

impl Who {
    /// A verified user.
    #[must_use]
    pub fn user(id: &str, jurisdiction: &str) -> Self {
        Self::User(id.into(), jurisdiction.into())
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body parsed as JSON (`Null` when it is not JSON).
    pub json: Value,
    /// The request id the gateway gave.
    pub request_id: String,
}

/// A running gateway process with its stores.
pub struct Harness {
    /// The regional stores, in [`REGIONS`] order.
    pub stores: Vec<RegionalStore>,
    /// Config, keys and policy.
    pub files: DemoFiles,
    /// The proxy address.
    pub addr: SocketAddr,
    /// The admin address.
    pub admin: SocketAddr,
    child: Child,
    _dir: tempfile::TempDir,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Harness {
    /// Starts stores and the gateway with the demo config and the Texas policy.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Like [`Harness::start`], letting `edit` change the config text first.
    pub async fn start_with(edit: impl FnOnce(&mut String)) -> Self {
        Self::start_with_dir(|_, text| edit(text)).await
    }

    /// Like [`Harness::start_with`]; `edit` also gets the harness folder (the
    /// config's folder), to write certificates or keys the config names.
    pub async fn start_with_dir(edit: impl FnOnce(&Path, &mut String)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut stores = Vec::new();
        for region in REGIONS {
            stores.push(RegionalStore::start(region).await.expect("store"));
        }
        let endpoints: Vec<(String, String)> = stores
            .iter()
            .map(|s| (s.region().to_string(), s.url()))
            .collect();
        let files = jurisgate_demo::write_demo_files(dir.path(), &endpoints).expect("demo files");
        let mut text = std::fs::read_to_string(&files.config).expect("config");
        edit(dir.path(), &mut text);
        std::fs::write(&files.config, text).expect("config");

        let (child, addr, admin) = spawn_gateway(&files.config).await;
        let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        Self {
            stores,
            files,
            addr,
            admin,
            child,
            _dir: dir,
            client,
        }
    }

    /// The gateway process id (for `/proc`, `prlimit`, signals).
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the gateway with SIGKILL (no shutdown record, no final
    /// checkpoint: a crash) and waits for it to die.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the gateway again on the same config and audit folder (after
    /// [`Harness::kill9`] or [`Harness::stop`]); the stores keep running and
    /// keep their received lists. The new listeners' addresses replace the old.
    pub async fn restart(&mut self) {
        self.kill9();
        let (child, addr, admin) = spawn_gateway(&self.files.config).await;
        self.child = child;
        self.addr = addr;
        self.admin = admin;
        // Pooled connections went to the old process.
        self.client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    }

    /// The gateway's peak resident set size in KiB (`VmHWM` in `/proc/PID/status`).
    #[must_use]
    pub fn peak_rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    /// The gateway's current resident set size in KiB (`VmRSS`).
    #[must_use]
    pub fn rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.pid(), "VmRSS:")
    }

    /// The store of `region`.
    #[must_use]
    pub fn store(&self, region: &str) -> &RegionalStore {
        self.stores
            .iter()
            .find(|s| s.region() == region)
            .expect("known region")
    }

    /// Regions whose store received `request_id`.
    #[must_use]
    pub fn regions_that_saw(&self, request_id: &str) -> Vec<String> {
        self.stores
            .iter()
            .filter(|s| s.saw(request_id))
            .map(|s| s.region().to_string())
            .collect()
    }

    /// The `Authorization` and approval header values `who` sends.
    #[must_use]
    pub fn credentials(&self, who: &Who) -> (Option<String>, Option<String>) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claims = |sub: &str, jurisdiction: &str, kind: &str, location: &str| {
            json!({"iss": "https://id.demo.jurisgate", "aud": "app", "sub": sub, "jurisdiction": jurisdiction,
                   "kind": kind, "location": location, "iat": now, "exp": now + 600})
        };
        match who {
            Who::Anonymous => (None, None),
            Who::User(id, j) => (
                Some(format!(
                    "Bearer {}",
                    self.files.idp.sign(&claims(id, j, "user", j))
                )),
                None,
            ),
            Who::Employee(id, location, approved) => {
                let token = Some(format!(
                    "Bearer {}",
                    self.files.idp.sign(&claims(id, "US", "employee", location))
                ));
                let approval = approved.then(|| {
                    self.files.approvals.sign(
                        &json!({"iss": "https://approvals.demo.jurisgate", "aud": "app",
                        "approval_id": "APR-1", "scope": "support", "sub": id, "iat": now, "exp": now + 600}),
                    )
                });
                (token, approval)
            }
            Who::Forged(id, j) => {
                let rogue = jurisgate_attribution::dev_idp::DevIdp::generate(
                    "https://id.demo.jurisgate",
                    "app",
                );
                (
                    Some(format!("Bearer {}", rogue.sign(&claims(id, j, "user", j)))),
                    None,
                )
            }
            Who::RawAuthorization(v) => (Some(v.clone()), None),
        }
    }

    /// Sends a request through the gateway and reads the whole reply.
    pub async fn send(&self, who: Who, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.send_with(who, method, path, body, &[]).await
    }

    /// Like [`Harness::send`], with extra request headers.
    pub async fn send_with(
        &self,
        who: Who,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.send_to(self.addr, who, method, path, body, headers)
            .await
    }

    /// Like [`Harness::send_with`], to the proxy at `addr` (a [`Replica`]).
    pub async fn send_to(
        &self,
        addr: SocketAddr,
        who: Who,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{addr}{path}"))
            .header("host", "api.demo.jurisgate");
        let (auth, approval) = self.credentials(&who);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        if let Some(a) = approval {
            req = req.header("x-access-approval", a);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let bytes = body
            .as_ref()
            .map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let resp = self
            .client
            .request(req.body(Full::new(bytes)).expect("request"))
            .await
            .expect("gateway answered");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        let request_id = headers
            .get("x-jurisgate-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Reply {
            status,
            headers,
            json: serde_json::from_slice(&body).unwrap_or(Value::Null),
            request_id,
        }
    }

    /// Sends raw bytes to the proxy port and returns everything it answers
    /// until it closes the connection (or 5 s pass).
    pub async fn raw(&self, request: &[u8]) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        stream.write_all(request).await.expect("write");
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Fetches an admin path; returns status and body text.
    pub async fn admin_get(&self, path: &str) -> (StatusCode, String) {
        let req = Request::builder()
            .uri(format!("http://{}{path}", self.admin))
            .body(Full::new(Bytes::new()))
            .expect("request");
        let resp = self.client.request(req).await.expect("admin answered");
        let status = resp.status();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// Waits until the gateway's admin metrics show `region`'s pool with the
    /// given health (polling, with a deadline).
    pub async fn wait_for_region(&self, region: &str, healthy: bool) {
        let want = format!("region=\"{region}\"}} {}", u8::from(healthy));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (_, metrics) = self.admin_get("/metrics").await;
            if metrics
                .lines()
                .any(|l| l.starts_with("jurisgate_pool_healthy_endpoints") && l.ends_with(&want))
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gateway did not see {region} healthy={healthy}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends SIGTERM to the gateway without waiting for it to exit.
    pub fn terminate(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Sends the signal `name` (`HUP`, `TERM`, …) to the gateway.
    pub fn signal(&self, name: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status();
    }

    /// The value of one series of the admin `/metrics`, named with its
    /// labels exactly as printed (`jurisgate_policy_reloads_total{result="ok"}`).
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let (_, text) = self.admin_get("/metrics").await;
        text.lines().find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
    }

    /// The revision of the policy deciding now (admin `jurisgate_policy_info`).
    pub async fn policy_revision(&self) -> String {
        let (_, text) = self.admin_get("/metrics").await;
        text.lines()
            .find_map(|l| {
                l.strip_prefix("jurisgate_policy_info{revision=\"")?
                    .split_once('"')
                    .map(|(r, _)| r.to_string())
            })
            .expect("jurisgate_policy_info in /metrics")
    }

    /// Stops the gateway with SIGTERM and waits for it to exit.
    pub fn stop(&mut self) -> i32 {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.child
            .wait()
            .map(|s| s.code().unwrap_or(-1))
            .unwrap_or(-1)
    }

    /// Every audit record (stop the gateway first for the final checkpoint).
    #[must_use]
    pub fn records(&self) -> Vec<jurisgate_audit::Record> {
        jurisgate_audit::read_records(&self.files.audit_dir)
            .expect("audit log")
            .collect::<Result<_, _>>()
            .expect("records")
    }
}

/// Another gateway process beside a [`Harness`]'s, as a second or third
/// replica behind one load balancer: the same stores, keys and policy; its
/// own config, audit folder (`audit-N`) and origin (`jurisgate.demo/replica-N`).
pub struct Replica {
    /// The checkpoint origin line of its audit log.
    pub origin: String,
    /// Its audit folder.
    pub audit_dir: PathBuf,
    /// Its config file.
    pub config: PathBuf,
    /// The proxy address.
    pub addr: SocketAddr,
    /// The admin address.
    pub admin: SocketAddr,
    envs: Vec<(String, String)>,
    child: Child,
}

impl Harness {
    /// Starts replica `n` (2, 3, …) from this harness's config. The
    /// harness's own gateway is replica 1 (`audit`, `jurisgate.demo/replica-1`).
    pub async fn start_replica(&self, n: u32) -> Replica {
        self.start_replica_with(n, |_| {}, &[]).await
    }

    /// Like [`Harness::start_replica`], letting `edit` change its config
    /// text and with extra environment variables for the process.
    pub async fn start_replica_with(
        &self,
        n: u32,
        edit: impl FnOnce(&mut String),
        envs: &[(&str, &str)],
    ) -> Replica {
        let base = std::fs::read_to_string(&self.files.config).expect("config");
        let origin = format!("jurisgate.demo/replica-{n}");
        let mut text = base
            .replacen("dir = \"audit\"", &format!("dir = \"audit-{n}\""), 1)
            .replacen("jurisgate.demo/replica-1", &origin, 1);
        assert!(
            text.contains(&format!("audit-{n}")) && text.contains(&origin),
            "the demo config's audit section changed shape"
        );
        edit(&mut text);
        let config = self.files.dir.join(format!("jurisgate-replica-{n}.toml"));
        std::fs::write(&config, text).expect("replica config");
        let envs: Vec<(String, String)> = envs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        let (child, addr, admin) = spawn_gateway_env(&config, &envs).await;
        Replica {
            origin,
            audit_dir: self.files.dir.join(format!("audit-{n}")),
            config,
            addr,
            admin,
            envs,
            child,
        }
    }
}

impl Replica {
    /// Starts it again on the same config, audit folder and environment
    /// (after [`Replica::stop`]); the new addresses replace the old.
    pub async fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, addr, admin) = spawn_gateway_env(&self.config, &self.envs).await;
        self.child = child;
        self.addr = addr;
        self.admin = admin;
    }

    /// Stops it with SIGTERM and waits for it to exit.
    pub fn stop(&mut self) -> i32 {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.child
            .wait()
            .map(|s| s.code().unwrap_or(-1))
            .unwrap_or(-1)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `jurisgate serve --config CONFIG` and waits until it prints its
/// listening addresses.
async fn spawn_gateway(config: &Path) -> (Child, SocketAddr, SocketAddr) {
    spawn_gateway_env(config, &[]).await
}

/// Like [`spawn_gateway`], with extra environment variables.
async fn spawn_gateway_env(
    config: &Path,
    envs: &[(String, String)],
) -> (Child, SocketAddr, SocketAddr) {
    let mut child = Command::new(binary())
        .args(["serve", "--config"])
        .arg(config)
        .env("RUST_LOG", "warn")
        .envs(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting jurisgate serve");
    let stdout = child.stdout.take().expect("stdout");
    let (addr, admin) = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let line = line.expect("stdout line");
            if let Some(rest) = line.strip_prefix("jurisgate: proxy listening on ") {
                let (proxy, admin) = rest.split_once(", admin on ").expect("admin part");
                let parsed = (
                    proxy.parse::<SocketAddr>().expect("proxy addr"),
                    admin.parse::<SocketAddr>().expect("admin addr"),
                );
                // Keep draining stdout so the child never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines {});
                return parsed;
            }
        }
        panic!("jurisgate serve exited before listening");
    })
    .await
    .expect("reading stdout");
    (child, addr, admin)
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(field)?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })
}

/// One HTTP/1.1 response read off a raw connection.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body bytes (Content-Length or chunked framing removed).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of header `name` (lower-case).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A raw keep-alive HTTP/1.1 connection: write any bytes, read responses
/// one at a time, framed as the gateway framed them.
pub struct RawConn {
    stream: tokio::io::BufReader<tokio::net::TcpStream>,
}

impl RawConn {
    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        Ok(Self {
            stream: tokio::io::BufReader::new(tokio::net::TcpStream::connect(addr).await?),
        })
    }

    /// Writes `bytes` as they are.
    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt as _;
        self.stream.get_mut().write_all(bytes).await
    }

    /// Reads the next response; `None` when the connection closed (or
    /// nothing came within `wait`) before a whole response arrived.
    pub async fn read(&mut self, wait: Duration) -> Option<RawResponse> {
        tokio::time::timeout(wait, self.read_inner())
            .await
            .ok()
            .flatten()
    }

    async fn read_inner(&mut self) -> Option<RawResponse> {
        use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _};
        let mut line = String::new();
        if self.stream.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let status = line.split_whitespace().nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if self.stream.read_line(&mut h).await.ok()? == 0 {
                return None;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (n, v) = h.split_once(':')?;
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        let mut resp = RawResponse {
            status,
            headers,
            body: Vec::new(),
        };
        if let Some(len) = resp
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
        {
            resp.body = vec![0; len];
            self.stream.read_exact(&mut resp.body).await.ok()?;
        } else if resp
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let mut size = String::new();
                self.stream.read_line(&mut size).await.ok()?;
                let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
                let mut chunk = vec![0; n + 2];
                self.stream.read_exact(&mut chunk).await.ok()?;
                if n == 0 {
                    break;
                }
                resp.body.extend_from_slice(&chunk[..n]);
            }
        }
        Some(resp)
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a test's own upstream: a raw TCP server on 127.0.0.1 that hands
/// each accepted connection to `serve`. Returns its `http://` URL.
pub async fn raw_upstream<F, Fut>(serve: F) -> String
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        loop {
            if let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream));
            }
        }
    });
    url
}

/// Reads one request head, through its blank line, a byte at a time so
/// nothing after it is consumed; `None` when the connection ends first.
pub async fn read_request_head(stream: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt as _;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(head)
}

/// Points `region`'s pool in the demo config `text` at `endpoint` (a test's
/// own upstream) and adds `extra` lines to that pool (e.g. a
/// `request_timeout`); for [`Harness::start_with`].
///
/// # Panics
/// When the config has no pool for `region`.
pub fn point_region(text: &mut String, region: &str, endpoint: &str, extra: &str) {
    let marker = format!("name = \"{region}\"\nregion = \"{region}\"\nendpoints = [");
    let start = text.find(&marker).expect("pool in the demo config") + marker.len();
    let end = start + text[start..].find(']').expect("endpoints end");
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!("\n{extra}")
    };
    text.replace_range(start..=end, &format!("\"{endpoint}\"]{extra}"));
}

/// The decision record of request `id`; panics (failing the test) when there is none.
#[must_use]
pub fn decision<'a>(
    records: &'a [jurisgate_audit::Record],
    id: &str,
) -> &'a jurisgate_audit::DecisionEvent {
    records
        .iter()
        .find_map(|r| match &r.event {
            jurisgate_audit::Event::Decision(d) if d.request_id == id => Some(d.as_ref()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no decision record for {id}"))
}
