//! Hot policy reload: on SIGHUP or when the policy folder changes, the new
//! policy is loaded, checked and its tests run in the background; it is
//! swapped in atomically only if all pass. A bad policy leaves the old one
//! deciding. Requests in flight finish on the policy they started with,
//! because each holds its own `Arc` of the engine.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use jurisgate_policy::EngineOptions;

use crate::gateway::Gateway;

/// Reloads the policy in `dir` into `gateway`; returns the new revision.
///
/// # Errors
/// Why the new policy was refused (the old one keeps deciding).
pub async fn reload(
    gateway: &Arc<Gateway>,
    dir: &Path,
    opts: &EngineOptions,
) -> Result<String, String> {
    let dir_owned = dir.to_path_buf();
    let opts = *opts;
    let loaded =
        tokio::task::spawn_blocking(move || jurisgate_policy::load_checked(&dir_owned, &opts))
            .await
            .map_err(|e| format!("policy load task failed: {e}"))?;
    match loaded {
        Ok(engine) => {
            let revision = engine.revision().to_string();
            if revision == gateway.policy.load().revision() {
                return Ok(revision);
            }
            gateway
                .audit
                .append(crate::start::policy_loaded_event(&engine))
                .await
                .map_err(|e| {
                    format!(
                        "policy not swapped: its policy_loaded record could not be written: {e}"
                    )
                })?;
            gateway.policy.store(Arc::new(engine));
            gateway
                .metrics
                .policy_reloads
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(%revision, "policy reloaded");
            Ok(revision)
        }
        Err(e) => {
            gateway
                .metrics
                .policy_reload_failures
                .fetch_add(1, Ordering::Relaxed);
            tracing::error!(dir = %dir.display(), error = %e, "new policy refused; the previous policy keeps deciding");
            Err(e.to_string())
        }
    }
}

/// A cheap fingerprint of a folder: names, sizes and modification times.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(path);
            } else {
                out.push((path, meta.len(), meta.modified().ok()));
            }
        }
    }
    out.sort();
    out
}

/// Polls `dir` once a second and reloads when it changes, until `stop`.
pub async fn watch_policy(
    gateway: Arc<Gateway>,
    dir: PathBuf,
    opts: EngineOptions,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut last = fingerprint(&dir);
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = &mut stop => return,
        }
        let now = fingerprint(&dir);
        if now != last {
            last = now;
            let _ = reload(&gateway, &dir, &opts).await;
        }
    }
}
