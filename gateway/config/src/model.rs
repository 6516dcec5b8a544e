//! The config file's shape. Every struct refuses unknown keys, so a typo is an
//! error that names the key rather than a setting silently ignored.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

use crate::Dur;

/// The whole config file, validated.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listeners, limits and timeouts.
    pub server: Server,
    /// Sources of subject jurisdiction and requester identity, tried in order.
    #[serde(default)]
    pub attribution: Vec<AttributionSource>,
    /// Verification of access-approval tokens (Project Texas style approvals).
    #[serde(default)]
    pub approvals: Option<Approvals>,
    /// The policy to load.
    pub policy: PolicySettings,
    /// The audit log.
    pub audit: AuditSettings,
    /// Keys for pseudonymising response fields, per jurisdiction.
    #[serde(default)]
    pub pseudonymization: Pseudonymization,
    /// The data classes routes may name. Defaults to protected, excepted, public.
    #[serde(default = "default_data_classes")]
    pub data_classes: Vec<String>,
    /// The route table, matched in order.
    #[serde(rename = "route", default)]
    pub routes: Vec<Route>,
    /// Upstream pools, each in one region.
    #[serde(rename = "pool", default)]
    pub pools: Vec<Pool>,
    /// The file this config was read from.
    #[serde(skip)]
    pub source: PathBuf,
}

fn default_data_classes() -> Vec<String> {
    ["protected", "excepted", "public"]
        .map(String::from)
        .to_vec()
}

/// Listeners, limits and timeouts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Address of the proxy listener.
    pub listen: SocketAddr,
    /// Address of the admin listener (`/healthz`, `/readyz`, `/metrics`).
    #[serde(default)]
    pub admin_listen: Option<SocketAddr>,
    /// Listen backlog; the kernel default of 128 overflows under bursts.
    #[serde(default = "default_backlog")]
    pub backlog: u32,
    /// Largest request head (request line plus headers) accepted, in bytes.
    #[serde(default = "default_max_header_bytes")]
    pub max_header_bytes: usize,
    /// Most headers accepted on one request.
    #[serde(default = "default_max_headers")]
    pub max_headers: usize,
    /// Largest request body forwarded, in bytes.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: u64,
    /// Largest response body buffered to apply pseudonymise/redact obligations.
    #[serde(default = "default_max_obligation_body_bytes")]
    pub max_obligation_body_bytes: usize,
    /// Time allowed for a client to send the request head.
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout: Dur,
    /// Time an idle keep-alive client connection is kept open.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: Dur,
    /// Time in-flight requests are given to finish at shutdown.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace: Dur,
    /// Peers whose `X-Forwarded-For` is believed (for the GeoIP weak signal).
    #[serde(default)]
    pub trusted_proxies: Vec<IpNet>,
    /// TLS on the proxy listener. Absent means plain HTTP (h1 and h2c).
    #[serde(default)]
    pub tls: Option<ServerTls>,
    /// How the proxy's work is spread over threads.
    #[serde(default)]
    pub runtime: RuntimeFlavor,
    /// Worker threads (`multi_thread`) or runtimes (`per_core`); defaults
    /// to the number of cores available to the process.
    #[serde(default)]
    pub workers: Option<Spanned<usize>>,
}

impl Server {
    /// `workers`, or the number of cores available to the process (1 when
    /// it cannot be told).
    #[must_use]
    pub fn worker_count(&self) -> usize {
        self.workers.as_ref().map_or_else(
            || std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            |w| *w.get_ref(),
        )
    }
}

/// How the proxy's work is spread over threads.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeFlavor {
    /// One work-stealing runtime with a worker thread per core; every
    /// connection can run on any thread.
    MultiThread,
    /// One single-threaded runtime per core, each with its own listening
    /// socket on the same address (`SO_REUSEPORT`, the kernel spreads new
    /// connections); a connection stays on the thread that accepted it,
    /// with its own upstream pools. The default: 20–27 % more requests per
    /// second than `MultiThread` in the benchmark (BENCHMARKS.md).
    #[default]
    PerCore,
}

fn default_backlog() -> u32 {
    4096
}
fn default_max_header_bytes() -> usize {
    16 * 1024
}
fn default_max_headers() -> usize {
    100
}
fn default_max_body_bytes() -> u64 {
    10 * 1024 * 1024
}
fn default_max_obligation_body_bytes() -> usize {
    8 * 1024 * 1024
}
fn default_header_read_timeout() -> Dur {
    Dur::secs(10)
}
fn default_idle_timeout() -> Dur {
    Dur::secs(60)
}
fn default_shutdown_grace() -> Dur {
    Dur::secs(30)
}

/// TLS on the proxy listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTls {
    /// Certificate chain, PEM.
    pub cert: PathBuf,
    /// Private key, PEM.
    pub key: PathBuf,
    /// Trust anchors for client certificates, PEM. Needed unless `client_auth = "none"`.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// Whether clients must, may or may not present a certificate.
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// Oldest TLS version accepted: `"1.2"` (the default) or `"1.3"`.
    #[serde(default)]
    pub min_version: TlsVersion,
    /// More certificates, each chosen when the client asks for its host name
    /// (SNI). `cert`/`key` above serve every other name and clients without SNI.
    #[serde(default)]
    pub sni: Vec<SniCert>,
    /// Poll the certificate, key and CA files and reload when they change
    /// (SIGHUP always reloads).
    #[serde(default = "default_true")]
    pub watch: bool,
}

/// The oldest TLS version a listener or upstream connection accepts.
/// Versions before 1.2 are never offered.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3.
    #[default]
    #[serde(rename = "1.2")]
    Tls12,
    /// TLS 1.3 only.
    #[serde(rename = "1.3")]
    Tls13,
}

/// A certificate served to clients asking for `server_name` by SNI.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SniCert {
    /// The DNS name clients send in SNI (exact, case-insensitive; no wildcards).
    pub server_name: String,
    /// Certificate chain, PEM.
    pub cert: PathBuf,
    /// Private key, PEM.
    pub key: PathBuf,
}

/// Client-certificate policy on the TLS listener.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// No client certificate is asked for.
    #[default]
    None,
    /// A certificate is asked for; one that does not verify is refused.
    Optional,
    /// A verified certificate is required.
    Required,
}

/// One source of attribution facts.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AttributionSource {
    /// A bearer JWT verified against a JWKS file.
    Jwt(JwtSource),
    /// A header signed with HMAC-SHA256 by a trusted identity service.
    SignedHeader(SignedHeaderSource),
    /// A user directory: verified user id → home jurisdiction.
    Directory(DirectorySource),
    /// The requester identity from a verified mTLS client certificate.
    Mtls(MtlsSource),
    /// GeoIP of the client address: a weak, never verified signal.
    Geoip(GeoipSource),
}

/// A bearer JWT verified against a JWKS file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSource {
    /// Header carrying `Bearer <token>`.
    #[serde(default = "default_authorization")]
    pub header: String,
    /// The identity provider's public keys (a JWKS JSON file).
    pub jwks: PathBuf,
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
    /// Claim naming the subject's home jurisdiction.
    #[serde(default = "default_jurisdiction_claim")]
    pub jurisdiction_claim: String,
    /// Claim naming the requester kind (`user`, `service`, `employee`).
    #[serde(default = "default_kind_claim")]
    pub requester_kind_claim: String,
    /// Claim naming where the requester is (for employees).
    #[serde(default = "default_location_claim")]
    pub location_claim: String,
    /// Claim naming the requester's organisation.
    #[serde(default = "default_org_claim")]
    pub org_claim: String,
    /// Accepted algorithms. HS* are never accepted with public keys.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    #[serde(default = "default_leeway")]
    pub leeway: Dur,
    /// Verified tokens remembered, so a token seen again skips its signature
    /// check (its `exp` and `nbf` are still checked); 0 turns the cache off.
    #[serde(default = "default_token_cache")]
    pub token_cache: usize,
}

fn default_authorization() -> String {
    "authorization".into()
}
fn default_jurisdiction_claim() -> String {
    "jurisdiction".into()
}
fn default_kind_claim() -> String {
    "kind".into()
}
fn default_location_claim() -> String {
    "location".into()
}
fn default_org_claim() -> String {
    "org".into()
}
fn default_algorithms() -> Vec<String> {
    ["RS256", "ES256", "EdDSA"].map(String::from).to_vec()
}
fn default_leeway() -> Dur {
    Dur::secs(30)
}
fn default_token_cache() -> usize {
    10_000
}

/// A header signed by a trusted identity service.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedHeaderSource {
    /// The header's name.
    #[serde(default = "default_identity_header")]
    pub header: String,
    /// File holding the shared HMAC key.
    pub key_file: PathBuf,
    /// Oldest signature timestamp accepted.
    #[serde(default = "default_max_age")]
    pub max_age: Dur,
}

fn default_identity_header() -> String {
    "x-identity".into()
}
fn default_max_age() -> Dur {
    Dur::secs(60)
}

/// A user directory mapping verified user ids to home jurisdictions.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectorySource {
    /// JSON file `{ "user-id": "US", ... }`.
    pub file: PathBuf,
}

/// Requester identity from a verified client certificate.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtlsSource {
    /// Certificate field giving the requester's location (`subject.C`, `subject.O`, `subject.OU`).
    #[serde(default = "default_location_from")]
    pub location_from: String,
    /// Requester kind given to certificate holders.
    #[serde(default = "default_mtls_kind")]
    pub requester_kind: String,
}

fn default_location_from() -> String {
    "subject.C".into()
}
fn default_mtls_kind() -> String {
    "service".into()
}

/// GeoIP country of the client address.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoipSource {
    /// A MaxMind-format country database.
    pub database: PathBuf,
}

/// Verification of access-approval tokens.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approvals {
    /// The header carrying the approval token.
    #[serde(default = "default_approval_header")]
    pub header: String,
    /// The approvals service's public keys (JWKS).
    pub jwks: PathBuf,
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
}

fn default_approval_header() -> String {
    "x-access-approval".into()
}

/// Which policy engine evaluates the policy.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// Rego source, evaluated by regorus.
    #[default]
    Rego,
    /// An OPA bundle compiled to WebAssembly.
    Wasm,
}

/// The policy to load.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    /// Folder of `*.rego` files and `data.json`.
    pub dir: PathBuf,
    /// The engine.
    #[serde(default)]
    pub engine: Engine,
    /// Longest a single decision may take before it is a deny.
    #[serde(default = "default_eval_timeout")]
    pub eval_timeout: Dur,
    /// Watch the folder and reload on change (SIGHUP always reloads).
    #[serde(default = "default_true")]
    pub watch: bool,
}

fn default_eval_timeout() -> Dur {
    Dur::millis(100)
}
fn default_true() -> bool {
    true
}

/// How durable an audit record is before its request moves on.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// fdatasync (group commit) before forwarding. The only setting for production.
    #[default]
    Fsync,
    /// Written but not synced: for benchmarks only; a crash can lose records.
    None,
}

/// How the kernel schedules the audit writer thread.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriterScheduling {
    /// `SCHED_BATCH`: its wake-ups (thousands a second, one per device
    /// wait of each sync) do not preempt the request threads.
    #[default]
    Batch,
    /// The kernel's default policy.
    Normal,
}

/// The audit log.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// Folder of segments and checkpoints.
    pub dir: PathBuf,
    /// Ed25519 signing key for checkpoints (written by `jurisgate audit keygen`).
    pub signing_key: PathBuf,
    /// Key for subject pseudonyms in records (HMAC-SHA256).
    pub subject_key: PathBuf,
    /// Durability before forwarding.
    #[serde(default)]
    pub durability: Durability,
    /// Interval between signed checkpoints.
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: Dur,
    /// Segment size at which the log rotates.
    #[serde(default = "default_segment_bytes")]
    pub segment_max_bytes: u64,
    /// The checkpoint origin line; defaults to `jurisgate/<host name>`.
    /// `{hostname}` in it is replaced by the host name, so one config gives
    /// each replica (e.g. each StatefulSet pod) its own origin.
    #[serde(default)]
    pub origin: Option<String>,
    /// Most records shared by one sync.
    #[serde(default = "default_batch_max")]
    pub batch_max: usize,
    /// Most records waiting to be written before new requests are refused.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// The writer thread's scheduling policy.
    #[serde(default)]
    pub writer_scheduling: WriterScheduling,
    /// Shipping sealed segments and checkpoints to WORM object storage.
    #[serde(default)]
    pub ship: Option<ShipSettings>,
}

/// `[audit.ship]`: upload sealed segments, their checkpoints and quarantined
/// lines to object storage under the log's origin, confirm each copy, and
/// remember it in `shipped.json` (see `jurisgate-audit-ship`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipSettings {
    /// `s3://bucket/prefix` or `file:///folder`.
    pub url: String,
    /// Endpoint of an S3-compatible server (MinIO, Ceph, …); AWS when omitted.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// S3 region; `AWS_REGION` or us-east-1 when omitted.
    #[serde(default)]
    pub region: Option<String>,
    /// Time between shipping passes.
    #[serde(default = "default_ship_every")]
    pub every: Dur,
    /// Lock each object with S3 Object Lock for this many days from its
    /// upload; omit to rely on the bucket's default retention.
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// Object Lock mode for `retention_days`.
    #[serde(default)]
    pub lock_mode: LockMode,
    /// Most time the last pass may take at shutdown (it ships the final segment).
    #[serde(default = "default_ship_final_pass")]
    pub final_pass_timeout: Dur,
}

/// S3 Object Lock mode.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockMode {
    /// Nobody can delete or shorten the lock, the bucket owner included.
    #[default]
    Compliance,
    /// Users allowed to bypass governance retention can lift it.
    Governance,
}

fn default_ship_every() -> Dur {
    Dur::secs(30)
}
fn default_ship_final_pass() -> Dur {
    Dur::secs(60)
}

fn default_checkpoint_every() -> Dur {
    Dur::secs(1)
}
fn default_segment_bytes() -> u64 {
    64 * 1024 * 1024
}
fn default_batch_max() -> usize {
    512
}
fn default_queue_capacity() -> usize {
    65_536
}

/// Keys for the `pseudonymize` obligation, by subject jurisdiction.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pseudonymization {
    /// Jurisdiction → key file; the key `default` serves jurisdictions not listed.
    #[serde(default)]
    pub keys: BTreeMap<String, PathBuf>,
}

/// One route: what requests it matches and where their data may go.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Unique route name, given to the policy as `resource.route`.
    pub name: Spanned<String>,
    /// What the route matches.
    #[serde(rename = "match")]
    pub matcher: RouteMatch,
    /// The service behind the route (defaults to the route name).
    #[serde(default)]
    pub service: Option<String>,
    /// The route's data class; one of `data_classes`.
    pub data_class: Spanned<String>,
    /// Candidate pools in order of preference.
    pub pools: Vec<Spanned<String>>,
}

impl Route {
    /// The service name, defaulting to the route name.
    #[must_use]
    pub fn service(&self) -> &str {
        self.service.as_deref().unwrap_or(self.name.get_ref())
    }
}

/// What a route matches. Every given part must match.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteMatch {
    /// Exact host (case-insensitive, port ignored).
    #[serde(default)]
    pub host: Option<String>,
    /// Path prefix on segment boundaries (`/v1/messages` matches `/v1/messages/7`, not `/v1/messagesX`).
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// Path glob: `*` matches within one segment, `**` across segments.
    #[serde(default)]
    pub path_glob: Option<String>,
    /// Methods; empty means any.
    #[serde(default)]
    pub methods: Vec<String>,
}

/// A pool of upstream endpoints in one region.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pool {
    /// Unique pool name.
    pub name: Spanned<String>,
    /// The region every endpoint of the pool is in.
    pub region: Spanned<String>,
    /// Endpoint base URLs (`http://host:port`).
    pub endpoints: Vec<Spanned<String>>,
    /// Active health checking.
    #[serde(default)]
    pub health: HealthCheck,
    /// Idle keep-alive connections kept per endpoint of this pool, by each
    /// runtime (`0`: a new connection for every request); one unused for
    /// 90 s is closed.
    #[serde(default = "default_max_idle")]
    pub max_idle_per_endpoint: usize,
    /// Time to connect to an endpoint.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Dur,
    /// Time for the upstream to answer with a response head.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: Dur,
    /// TLS to `https://` endpoints; required when any endpoint is https.
    #[serde(default)]
    pub tls: Option<PoolTls>,
}

/// TLS to a pool's `https://` endpoints. The upstream's certificate must
/// chain to `ca` and name `server_name`, so a pool can be pinned to the
/// upstreams whose certificate names its region.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolTls {
    /// Trust anchors for the upstream's certificate, PEM. Only these are trusted.
    pub ca: PathBuf,
    /// The name the upstream's certificate must carry (also sent as SNI).
    /// Defaults to each endpoint's host.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Client certificate chain for mTLS to the upstream, PEM.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key, PEM.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// Oldest TLS version accepted: `"1.2"` (the default) or `"1.3"`.
    #[serde(default)]
    pub min_version: TlsVersion,
}

fn default_max_idle() -> usize {
    256
}
fn default_connect_timeout() -> Dur {
    Dur::secs(1)
}
fn default_request_timeout() -> Dur {
    Dur::secs(30)
}

/// Active health checking of a pool's endpoints.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// Path probed with GET; a 2xx answer is healthy.
    #[serde(default = "default_health_path")]
    pub path: String,
    /// Interval between probes.
    #[serde(default = "default_health_interval")]
    pub interval: Dur,
    /// Probe time-out.
    #[serde(default = "default_health_timeout")]
    pub timeout: Dur,
    /// Consecutive failures (probes or proxied connections) that mark an endpoint down.
    #[serde(default = "default_unhealthy_after")]
    pub unhealthy_after: u32,
    /// Consecutive successful probes that bring it back.
    #[serde(default = "default_healthy_after")]
    pub healthy_after: u32,
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            path: default_health_path(),
            interval: default_health_interval(),
            timeout: default_health_timeout(),
            unhealthy_after: default_unhealthy_after(),
            healthy_after: default_healthy_after(),
        }
    }
}

fn default_health_path() -> String {
    "/healthz".into()
}
fn default_health_interval() -> Dur {
    Dur::secs(2)
}
fn default_health_timeout() -> Dur {
    Dur::secs(1)
}
fn default_unhealthy_after() -> u32 {
    2
}
fn default_healthy_after() -> u32 {
    1
}
