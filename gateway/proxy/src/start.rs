//! Start-up and shutdown: turn a validated [`Config`] into a running
//! gateway (keys read, policy loaded and tested, audit log recovered, pools
//! health-checked, listeners bound), and stop it cleanly (in-flight
//! requests finished, `shutdown` record and final checkpoint written).

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use jurisgate_attribution::{Attributor, Pseudonymizer};
use jurisgate_audit::{
    AuditLog, AuditOptions, ConfigLoaded, Event, PolicyFile, PolicyLoaded, WriterScheduling,
};
use jurisgate_config::{Config, RuntimeFlavor};
use jurisgate_policy::{EngineOptions, PolicyEngine};
use jurisgate_route::Pools;
use jurisgate_tls::{ListenerTls, UpstreamTls};
use sha2::{Digest, Sha256};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::forward::Upstreams;
use crate::gateway::{Gateway, Limits, Pseudonymizers};
use crate::metrics::Metrics;
use crate::server::{self, ConnSettings};

/// Why the gateway could not start. The message names the file or key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

fn read_key(path: &Path, key: &str) -> Result<Vec<u8>, StartError> {
    let bytes = std::fs::read(path)
        .map_err(|e| StartError(format!("{key}: cannot read {}: {e}", path.display())))?;
    let trimmed = bytes.trim_ascii_end().to_vec();
    if trimmed.len() < 16 {
        return Err(StartError(format!(
            "{key}: {} holds {} bytes; a key needs at least 16",
            path.display(),
            trimmed.len()
        )));
    }
    Ok(trimmed)
}

fn pseudonymizer(path: &Path, key: &str) -> Result<Pseudonymizer, StartError> {
    Pseudonymizer::new(&read_key(path, key)?).map_err(|e| StartError(format!("{key}: {e}")))
}

/// A running gateway: its listeners' addresses and a way to stop it.
pub struct Running {
    gateway: Arc<Gateway>,
    proxy_addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    policy_dir: std::path::PathBuf,
    /// `[audit.ship]`: the shipper and the time its last pass may take.
    shipper: Option<(jurisgate_audit_ship::Shipper, Duration)>,
    engine_options: EngineOptions,
    tls: Option<Arc<ListenerTls>>,
    /// The startup `config_loaded` record, written again with new key-set
    /// fingerprints when a reload changes the identity keys.
    config_loaded: ConfigLoaded,
    /// Serialises identity key reloads.
    key_reload: tokio::sync::Mutex<()>,
}

impl Running {
    /// Builds everything from `config`, binds the listeners and starts serving.
    ///
    /// # Errors
    /// A [`StartError`] naming the key, file or address at fault.
    pub async fn start(config: &Config) -> Result<Self, StartError> {
        let subject_key = pseudonymizer(&config.audit.subject_key, "audit.subject_key")?;
        let attributor = Attributor::from_config(
            &config.attribution,
            config.approvals.as_ref(),
            &config.server.trusted_proxies,
            subject_key.clone(),
        )
        .map_err(|e| StartError(format!("attribution: {e}")))?;

        let engine_options = EngineOptions {
            timeout: config.policy.eval_timeout.0,
            kind: match config.policy.engine {
                jurisgate_config::Engine::Rego => jurisgate_policy::EngineKind::Rego,
                jurisgate_config::Engine::Wasm => jurisgate_policy::EngineKind::Wasm,
            },
        };
        let policy = jurisgate_policy::load_checked(&config.policy.dir, &engine_options)
            .map_err(|e| StartError(format!("policy.dir {}: {e}", config.policy.dir.display())))?;

        let mut by_jurisdiction = BTreeMap::new();
        let mut default = subject_key.clone();
        let mut key_ids =
            BTreeMap::from([("subject".to_string(), subject_key.key_id().to_string())]);
        for (jurisdiction, path) in &config.pseudonymization.keys {
            let p = pseudonymizer(path, &format!("pseudonymization.keys.{jurisdiction}"))?;
            key_ids.insert(
                format!("pseudonymization.{jurisdiction}"),
                p.key_id().to_string(),
            );
            if jurisdiction == "default" {
                default = p;
            } else {
                by_jurisdiction.insert(jurisdiction.clone(), p);
            }
        }

        // `{hostname}` gives each replica of one config its own origin (pod names in a StatefulSet).
        let origin = config.audit.origin.as_deref().map_or_else(
            || format!("jurisgate/{}", host_name()),
            |o| o.replace("{hostname}", &host_name()),
        );
        if config.audit.durability == jurisgate_config::Durability::None {
            tracing::warn!(
                "audit.durability = \"none\": records are not synced before forwarding; a crash can lose them. Use only for benchmarks."
            );
        }
        let audit = AuditLog::open(
            AuditOptions {
                dir: config.audit.dir.clone(),
                signing_key: config.audit.signing_key.clone(),
                origin,
                durability: match config.audit.durability {
                    jurisgate_config::Durability::Fsync => jurisgate_audit::Durability::Fsync,
                    jurisgate_config::Durability::None => jurisgate_audit::Durability::None,
                },
                checkpoint_every: config.audit.checkpoint_every.0,
                segment_max_bytes: config.audit.segment_max_bytes,
                batch_max: config.audit.batch_max,
                queue_capacity: config.audit.queue_capacity,
                writer_scheduling: match config.audit.writer_scheduling {
                    jurisgate_config::WriterScheduling::Batch => WriterScheduling::Batch,
                    jurisgate_config::WriterScheduling::Normal => WriterScheduling::Normal,
                },
            },
            env!("CARGO_PKG_VERSION"),
        )
        .await
        .map_err(|e| StartError(format!("audit.dir {}: {e}", config.audit.dir.display())))?;

        // The identity providers' key sets are named too: an auditor sees
        // which keys vouched for identities, and when they rotated.
        key_ids.extend(attributor.key_set_ids(None));
        let config_bytes = std::fs::read(&config.source).unwrap_or_default();
        let config_loaded = ConfigLoaded {
            config_sha256: hex::encode(Sha256::digest(&config_bytes)),
            key_ids,
        };
        audit
            .append(Event::ConfigLoaded(config_loaded.clone()))
            .await
            .map_err(|e| StartError(format!("audit: {e}")))?;
        audit
            .append(policy_loaded_event(&policy))
            .await
            .map_err(|e| StartError(format!("audit: {e}")))?;

        let pools = Arc::new(
            Pools::from_config(&config.pools).map_err(|e| StartError(format!("pool: {e}")))?,
        );
        let connect_timeout = config
            .pools
            .iter()
            .map(|p| p.connect_timeout.0)
            .max()
            .unwrap_or(Duration::from_secs(1));
        let mut upstream_tls = std::collections::HashMap::new();
        for pool in &config.pools {
            if let Some(tls) = &pool.tls {
                let name = pool.name.get_ref();
                let loaded =
                    UpstreamTls::from_config(tls, name).map_err(|e| StartError(e.to_string()))?;
                upstream_tls.insert(name.clone(), Arc::new(loaded));
            }
        }
        let tls = match &config.server.tls {
            Some(settings) => Some(Arc::new(
                ListenerTls::load(settings).map_err(|e| StartError(e.to_string()))?,
            )),
            None => None,
        };

        let upstreams = Upstreams::new(connect_timeout, upstream_tls);
        let shipper = config
            .audit
            .ship
            .as_ref()
            .map(|ship| Ok::<_, StartError>((ship_target(ship, &config.audit.dir)?, ship)))
            .transpose()?;
        let gateway = Arc::new(Gateway {
            attributor,
            routes: crate::classify::RouteTable::new(&config.routes),
            policy: ArcSwap::from_pointee(policy),
            audit,
            pools: Arc::clone(&pools),
            pseudonymizers: Pseudonymizers {
                by_jurisdiction,
                default,
            },
            limits: Limits {
                max_body_bytes: config.server.max_body_bytes,
                max_obligation_body_bytes: config.server.max_obligation_body_bytes,
            },
            metrics: Metrics::default(),
            shipping: shipper.as_ref().map(|(s, _)| s.stats()),
            listener_tls: tls.clone(),
        });

        let workers = config.server.worker_count();
        let listen_error =
            |e: std::io::Error| StartError(format!("server.listen {}: {e}", config.server.listen));
        let proxy = match config.server.runtime {
            RuntimeFlavor::MultiThread => ProxyListeners::Shared(
                server::bind(config.server.listen, config.server.backlog).map_err(listen_error)?,
            ),
            RuntimeFlavor::PerCore => ProxyListeners::PerCore(
                server::bind_shared(config.server.listen, config.server.backlog, workers)
                    .map_err(listen_error)?,
            ),
        };
        let proxy_addr = proxy.local_addr().map_err(listen_error)?;
        let admin = match config.server.admin_listen {
            Some(addr) => Some(
                server::bind(addr, 128)
                    .map_err(|e| StartError(format!("server.admin_listen {addr}: {e}")))?,
            ),
            None => None,
        };
        let admin_addr = admin.as_ref().and_then(|l| l.local_addr().ok());

        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        let settings = ConnSettings {
            header_read_timeout: config.server.header_read_timeout.0,
            idle_timeout: config.server.idle_timeout.0,
            max_header_bytes: config.server.max_header_bytes,
            max_headers: config.server.max_headers,
            shutdown_grace: config.server.shutdown_grace.0,
        };
        let serving: Pin<Box<dyn Future<Output = ()> + Send>> = match proxy {
            ProxyListeners::Shared(proxy) => Box::pin(server::serve_proxy(
                proxy,
                Arc::clone(&gateway),
                upstreams,
                settings,
                tls.clone(),
                until_stop(stopped.clone()),
            )),
            ProxyListeners::PerCore(listeners) => Box::pin(serve_per_core(
                listeners,
                &gateway,
                &upstreams,
                settings,
                tls.as_ref(),
                &stopped,
            )?),
        };
        let health = pools.spawn_health_checks();
        tasks.push(tokio::spawn(async move {
            serving.await;
            drop(health);
        }));
        if let Some(admin) = admin {
            let gateway = Arc::clone(&gateway);
            tasks.push(tokio::spawn(server::serve_admin(
                admin,
                gateway,
                until_stop(stopped.clone()),
            )));
        }
        if config.policy.watch {
            let gateway = Arc::clone(&gateway);
            let dir = config.policy.dir.clone();
            let opts = engine_options;
            let stopped = until_stop(stopped.clone());
            tasks.push(tokio::spawn(async move {
                crate::reload::watch_policy(gateway, dir, opts, stopped).await;
            }));
        }
        if let Some(tls) = &tls {
            // New certificate files are picked up by new handshakes within a second.
            tasks.push(tokio::spawn(
                Arc::clone(tls).watch(Duration::from_secs(1), until_stop(stopped.clone())),
            ));
        }
        // Shipping only reads sealed files beside the writer; its failures
        // are logged and retried, never a reason to stop serving.
        let shipper = match shipper {
            Some((shipper, ship)) => {
                let (s, every, stopped) =
                    (shipper.clone(), ship.every.0, until_stop(stopped.clone()));
                tasks.push(tokio::spawn(async move { s.run(every, stopped).await }));
                Some((shipper, ship.final_pass_timeout.0))
            }
            None => None,
        };
        tracing::info!(
            %proxy_addr,
            admin = ?admin_addr,
            tls = tls.is_some(),
            runtime = ?config.server.runtime,
            workers,
            "jurisgate serving"
        );
        Ok(Self {
            gateway,
            proxy_addr,
            admin_addr,
            stop,
            tasks,
            policy_dir: config.policy.dir.clone(),
            engine_options,
            tls,
            shipper,
            config_loaded,
            key_reload: tokio::sync::Mutex::new(()),
        })
    }

    /// The proxy listener's address.
    #[must_use]
    pub fn proxy_addr(&self) -> SocketAddr {
        self.proxy_addr
    }

    /// The admin listener's address, if one was configured.
    #[must_use]
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The gateway itself (for reloads, metrics and tests).
    #[must_use]
    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// Loads, checks and tests the policy folder again and swaps it in if
    /// all pass (what SIGHUP does).
    ///
    /// # Errors
    /// Why the new policy was refused; the old one keeps deciding.
    pub async fn reload_policy(&self) -> Result<String, String> {
        crate::reload::reload(&self.gateway, &self.policy_dir, &self.engine_options).await
    }

    /// Re-reads the listener's certificate, key and CA files (what SIGHUP
    /// does). New handshakes use them; established connections keep theirs.
    /// Without `[server.tls]` there is nothing to reload.
    ///
    /// # Errors
    /// Why the new files were refused; the previous certificates stay in use.
    pub fn reload_tls(&self) -> Result<(), String> {
        self.tls
            .as_ref()
            .map_or(Ok(()), |tls| tls.reload().map_err(|e| e.to_string()))
    }

    /// Re-reads the JWKS files of the identity sources and of approvals
    /// (what SIGHUP does), so an identity provider's key rotation needs no
    /// restart. Tokens verified under the old keys are verified again.
    /// When a key set changed, a `config_loaded` record with the new
    /// fingerprints is made durable first, and only then are the new keys
    /// used. Returns how many key sets changed.
    ///
    /// # Errors
    /// Each file refused (a source whose file was refused keeps its keys),
    /// or the audit log refusing the record (then no new key is used).
    pub async fn reload_identity_keys(&self) -> Result<usize, Vec<String>> {
        use std::sync::atomic::Ordering::Relaxed;
        // One reload at a time: what is recorded is what is then used.
        let _one_at_a_time = self.key_reload.lock().await;
        let attributor = &self.gateway.attributor;
        let metrics = &self.gateway.metrics;
        let read = attributor.read_keys();
        let changed = read.changed();
        let mut errors: Vec<String> = read.refused.iter().map(ToString::to_string).collect();
        if changed > 0 {
            // Recorded before use, as a policy is: no identity is vouched
            // for by keys the log does not name.
            let mut loaded = self.config_loaded.clone();
            loaded.key_ids.extend(attributor.key_set_ids(Some(&read)));
            match self.gateway.audit.append(Event::ConfigLoaded(loaded)).await {
                Ok(_) => {
                    attributor.use_keys(read);
                    metrics.identity_key_reloads_changed.fetch_add(1, Relaxed);
                }
                Err(e) => errors.push(format!(
                    "audit: the new keys could not be recorded, so they are not used: {e}"
                )),
            }
        }
        if errors.is_empty() {
            if changed == 0 {
                metrics.identity_key_reloads_unchanged.fetch_add(1, Relaxed);
            }
            Ok(changed)
        } else {
            metrics.identity_key_reloads_refused.fetch_add(1, Relaxed);
            Err(errors)
        }
    }

    /// Stops accepting, finishes in-flight requests, writes the shutdown
    /// record and the final checkpoint.
    ///
    /// # Errors
    /// When the audit log could not be closed cleanly.
    pub async fn shutdown(self, reason: &str) -> Result<(), StartError> {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        let closed = self
            .gateway
            .audit
            .close(reason)
            .await
            .map_err(|e| StartError(format!("audit close: {e}")));
        // The closed log's last segment is sealed now: ship it before exiting.
        if let Some((shipper, limit)) = self.shipper {
            match tokio::time::timeout(limit, shipper.ship_once()).await {
                Ok(Ok(r)) => {
                    tracing::info!(files = r.uploaded.len(), "final audit shipping pass done")
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "final audit shipping pass failed; the next start ships the rest")
                }
                Err(_) => tracing::error!(
                    "final audit shipping pass timed out; the next start ships the rest"
                ),
            }
        }
        closed
    }
}

/// The proxy's listening sockets, bound before anything starts serving.
enum ProxyListeners {
    /// One listener on the runtime `start` was called on (`multi_thread`).
    Shared(tokio::net::TcpListener),
    /// One `SO_REUSEPORT` socket per runtime, all on one address (`per_core`).
    PerCore(Vec<std::net::TcpListener>),
}

impl ProxyListeners {
    /// The address they listen on.
    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match self {
            Self::Shared(l) => l.local_addr(),
            Self::PerCore(ls) => ls.first().map_or_else(
                || Err(std::io::Error::other("no listening socket")),
                std::net::TcpListener::local_addr,
            ),
        }
    }
}

/// Resolves once `rx` says stop (or its sender is gone).
async fn until_stop(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// `runtime = "per_core"`: one thread per listener, each running its own
/// single-threaded runtime that accepts on and serves that listener until
/// `stopped`, then drains its connections. Each runtime forwards through
/// its own replica of `upstreams` (its own connection pools), so a request
/// stays on one thread from accept to answer. The returned future resolves
/// when every runtime has shut down; a runtime that has drained waits for
/// the others, so all stop together.
fn serve_per_core(
    listeners: Vec<std::net::TcpListener>,
    gateway: &Arc<Gateway>,
    upstreams: &Upstreams,
    settings: ConnSettings,
    tls: Option<&Arc<ListenerTls>>,
    stopped: &watch::Receiver<bool>,
) -> Result<impl Future<Output = ()> + Send + use<>, StartError> {
    let count = listeners.len();
    let (drained_tx, drained_rx) = watch::channel(0usize);
    let drained_tx = Arc::new(drained_tx);
    let mut done = Vec::with_capacity(count);
    for (i, listener) in listeners.into_iter().enumerate() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StartError(format!("server.runtime: cannot start runtime {i}: {e}")))?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener)
        }
        .map_err(|e| StartError(format!("server.listen: runtime {i}: {e}")))?;
        let gateway = Arc::clone(gateway);
        let upstreams = upstreams.replica();
        let tls = tls.cloned();
        let stopped = until_stop(stopped.clone());
        let drained = Drained(Arc::clone(&drained_tx));
        let mut all_drained = drained_rx.clone();
        let (finished, finished_rx) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(format!("jurisgate-rt-{i}"))
            .spawn(move || {
                runtime.block_on(async move {
                    server::serve_proxy(listener, gateway, upstreams, settings, tls, stopped).await;
                    drop(drained);
                    let _ = all_drained.wait_for(|n| *n >= count).await;
                });
                // Dropping the runtime ends whatever it still drives, before
                // the audit log is closed.
                drop(runtime);
                let _ = finished.send(());
            })
            .map_err(|e| StartError(format!("server.runtime: cannot start thread {i}: {e}")))?;
        done.push(finished_rx);
    }
    Ok(async move {
        for finished in done {
            let _ = finished.await;
        }
    })
}

/// Counts a runtime as drained when dropped, also when its thread unwinds.
struct Drained(Arc<watch::Sender<usize>>);

impl Drop for Drained {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n += 1);
    }
}

/// The `policy_loaded` record for `engine`.
#[must_use]
pub fn policy_loaded_event(engine: &PolicyEngine) -> Event {
    Event::PolicyLoaded(PolicyLoaded {
        revision: engine.revision().to_string(),
        engine: engine.kind().name().into(),
        files: engine
            .files()
            .iter()
            .map(|f| PolicyFile {
                path: f.path.clone(),
                sha256: f.sha256.clone(),
            })
            .collect(),
    })
}

fn ship_target(
    ship: &jurisgate_config::ShipSettings,
    dir: &Path,
) -> Result<jurisgate_audit_ship::Shipper, StartError> {
    use jurisgate_audit_ship::{LockMode, Retention, Shipper, Target, TargetOptions};
    let retention = ship.retention_days.map(|days| Retention {
        mode: match ship.lock_mode {
            jurisgate_config::LockMode::Compliance => LockMode::Compliance,
            jurisgate_config::LockMode::Governance => LockMode::Governance,
        },
        days,
    });
    let target = Target::open(TargetOptions {
        url: ship.url.clone(),
        endpoint: ship.endpoint.clone(),
        region: ship.region.clone(),
        retention,
    })
    .map_err(|e| StartError(format!("audit.ship.url: {e}")))?;
    Ok(Shipper::new(dir, target))
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
