//! The pools: built once from config, shared by every request, and the one
//! place that picks an upstream.
//!
//! [`Pools::select`] only takes a [`Permitted`] request and only returns an
//! endpoint of a route pool whose region that permission approved; when none
//! is healthy it says so instead of failing over elsewhere. Health is read
//! with one atomic load per endpoint. This module does not probe (see
//! `probe`) or forward.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::Uri;
use jurisgate_policy::{Destination, Permitted};

use crate::endpoint::Base;
use crate::error::{ConsideredPool, NO_APPROVED_REGION, NoApprovedRegion, RouteError};
use crate::health::{Event, HealthCell, Thresholds};

/// Names one endpoint of one pool. Issued by [`Pools::select`]; meaningful
/// only to the [`Pools`] that issued it (an unknown id is ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndpointId {
    pool: usize,
    endpoint: usize,
}

impl EndpointId {
    pub(crate) fn new(pool: usize, endpoint: usize) -> Self {
        Self { pool, endpoint }
    }
}

/// Where a permitted request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// The pool chosen.
    pub pool: String,
    /// The pool's region (one the decision approved).
    pub region: String,
    /// The endpoint, for [`Pools::report_failure`] and [`Pools::report_success`].
    pub endpoint: EndpointId,
    /// The endpoint's `scheme://authority/`; the proxy sets path and query.
    pub base: Uri,
    /// Time for the upstream to answer with a response head.
    pub request_timeout: Duration,
    /// Time to connect to the endpoint.
    pub connect_timeout: Duration,
    /// Idle keep-alive connections kept per endpoint of the pool.
    pub max_idle_per_endpoint: usize,
}

/// One pool's health, for `/readyz` and `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolHealth {
    /// Pool name.
    pub pool: String,
    /// The pool's region.
    pub region: String,
    /// Whether any endpoint is healthy.
    pub healthy: bool,
    /// Each endpoint, in config order.
    pub endpoints: Vec<EndpointHealth>,
}

/// One endpoint's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointHealth {
    /// The endpoint's base URL.
    pub endpoint: String,
    /// Whether it takes traffic.
    pub healthy: bool,
    /// Whether active probes check it (https endpoints of a pool without TLS
    /// settings are not: a probe could not verify them).
    pub probed: bool,
}

/// Active health-check settings of a pool, as the prober needs them.
#[derive(Debug, Clone)]
pub(crate) struct ProbeSettings {
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
}

pub(crate) struct Endpoint {
    pub(crate) base: Base,
    /// The probe target; `None` for an https endpoint of a pool without TLS
    /// settings (config validation refuses those; `Pools` built directly may
    /// have them), because such a probe could only fail and eject it.
    pub(crate) probe: Option<Uri>,
    health: HealthCell,
}

pub(crate) struct Pool {
    pub(crate) name: String,
    region: String,
    pub(crate) endpoints: Vec<Endpoint>,
    /// Round-robin cursor; wraps, which only shifts the rotation.
    next: AtomicUsize,
    thresholds: Thresholds,
    pub(crate) probe: ProbeSettings,
    /// TLS to the pool's https endpoints: probes verify the upstream's
    /// certificate exactly as forwarding does.
    pub(crate) tls: Option<Arc<jurisgate_tls::UpstreamTls>>,
    request_timeout: Duration,
    connect_timeout: Duration,
    max_idle_per_endpoint: usize,
}

impl Pool {
    fn healthy(&self) -> bool {
        self.endpoints.iter().any(|e| e.health.is_healthy())
    }

    /// The next healthy endpoint in rotation, if any.
    fn pick(&self) -> Option<usize> {
        let n = self.endpoints.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n.max(1);
        (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| self.endpoints[i].health.is_healthy())
    }
}

/// Every upstream pool, with live health. Built once at start-up and shared
/// through an `Arc`.
pub struct Pools {
    pub(crate) pools: Vec<Pool>,
    by_name: HashMap<String, usize>,
}

impl std::fmt::Debug for Pools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.health_snapshot()).finish()
    }
}

impl Pools {
    /// Builds the pools from config. Every endpoint starts healthy.
    ///
    /// # Errors
    /// A [`RouteError`] naming the pool when names repeat, a pool has no
    /// endpoints, an endpoint is not `http(s)://host:port`, the health path
    /// is not a path, or a health interval, time-out or threshold is zero.
    pub fn from_config(pools: &[jurisgate_config::Pool]) -> Result<Pools, RouteError> {
        let mut built = Vec::with_capacity(pools.len());
        let mut by_name = HashMap::with_capacity(pools.len());
        for (i, p) in pools.iter().enumerate() {
            let pool = build_pool(p)?;
            if by_name.insert(pool.name.clone(), i).is_some() {
                return Err(RouteError::DuplicatePool { pool: pool.name });
            }
            built.push(pool);
        }
        Ok(Pools {
            pools: built,
            by_name,
        })
    }

    /// The route's candidate pools in route order, with region and current
    /// health, for the policy input. Names of no pool are left out.
    #[must_use]
    pub fn destinations(&self, route_pools: &[String]) -> Vec<Destination> {
        self.route(route_pools)
            .map(|p| Destination {
                pool: p.name.clone(),
                region: p.region.clone(),
                healthy: p.healthy(),
            })
            .collect()
    }

    /// The first pool, in route order, whose region the decision approved and
    /// which has a healthy endpoint; within it the next healthy endpoint in
    /// rotation. Never returns an endpoint in a region the decision did not
    /// approve, nor one outside `route_pools`.
    ///
    /// # Errors
    /// [`NoApprovedRegion`] when no approved pool of the route is healthy.
    pub fn select<T>(
        &self,
        permitted: &Permitted<T>,
        route_pools: &[String],
    ) -> Result<Selected, NoApprovedRegion> {
        for (index, pool) in self.route_indexed(route_pools) {
            if !permitted.allows_region(&pool.region) {
                continue;
            }
            if let Some(endpoint) = pool.pick() {
                return Ok(Selected {
                    pool: pool.name.clone(),
                    region: pool.region.clone(),
                    endpoint: EndpointId::new(index, endpoint),
                    base: pool.endpoints[endpoint].base.uri.clone(),
                    request_timeout: pool.request_timeout,
                    connect_timeout: pool.connect_timeout,
                    max_idle_per_endpoint: pool.max_idle_per_endpoint,
                });
            }
        }
        Err(NoApprovedRegion {
            reason: NO_APPROVED_REGION,
            approved_regions: permitted.regions().to_vec(),
            considered: self
                .route(route_pools)
                .map(|p| ConsideredPool {
                    pool: p.name.clone(),
                    region: p.region.clone(),
                    approved: permitted.allows_region(&p.region),
                    healthy: p.healthy(),
                })
                .collect(),
        })
    }

    /// The proxy could not reach `endpoint` (connect error or time-out; not
    /// an HTTP error status, which is the application's answer). Counts
    /// toward `unhealthy_after`.
    pub fn report_failure(&self, endpoint: &EndpointId) {
        self.record(*endpoint, Event::PassiveFailed);
    }

    /// The proxy reached `endpoint`: ends a failure streak. It does not bring
    /// a down endpoint back; only probes do.
    pub fn report_success(&self, endpoint: &EndpointId) {
        self.record(*endpoint, Event::PassiveOk);
    }

    /// Per pool and endpoint, healthy or not, in config order.
    #[must_use]
    pub fn health_snapshot(&self) -> Vec<PoolHealth> {
        self.pools
            .iter()
            .map(|p| {
                let endpoints: Vec<EndpointHealth> = p
                    .endpoints
                    .iter()
                    .map(|e| EndpointHealth {
                        endpoint: e.base.uri.to_string(),
                        healthy: e.health.is_healthy(),
                        probed: e.probe.is_some(),
                    })
                    .collect();
                PoolHealth {
                    pool: p.name.clone(),
                    region: p.region.clone(),
                    healthy: endpoints.iter().any(|e| e.healthy),
                    endpoints,
                }
            })
            .collect()
    }

    /// Applies `event` to `id`'s health and logs a change of state.
    pub(crate) fn record(&self, id: EndpointId, event: Event) {
        let Some(pool) = self.pools.get(id.pool) else {
            return;
        };
        let Some(endpoint) = pool.endpoints.get(id.endpoint) else {
            return;
        };
        let (before, after) = endpoint.health.record(event, pool.thresholds);
        let url = &endpoint.base.uri;
        match (before.healthy, after.healthy) {
            (true, false) => tracing::warn!(
                pool = %pool.name, endpoint = %url, failures = after.failures, ?event,
                "upstream endpoint marked down"
            ),
            (false, true) => {
                tracing::info!(pool = %pool.name, endpoint = %url, "upstream endpoint back up");
            }
            _ => {}
        }
    }

    /// The route's pools that exist, in route order, with their indices.
    fn route_indexed<'a>(
        &'a self,
        route_pools: &'a [String],
    ) -> impl Iterator<Item = (usize, &'a Pool)> + 'a {
        route_pools.iter().filter_map(|name| {
            let index = *self.by_name.get(name)?;
            Some((index, self.pools.get(index)?))
        })
    }

    fn route<'a>(&'a self, route_pools: &'a [String]) -> impl Iterator<Item = &'a Pool> + 'a {
        self.route_indexed(route_pools).map(|(_, p)| p)
    }
}

/// Builds one pool, checking what config validation should already have.
fn build_pool(p: &jurisgate_config::Pool) -> Result<Pool, RouteError> {
    let name = p.name.get_ref().clone();
    let health = &p.health;
    let bad_health = |key, why: &str| RouteError::BadHealthCheck {
        pool: name.clone(),
        key,
        why: why.into(),
    };
    if health.interval.0.is_zero() {
        return Err(bad_health(
            "interval",
            "must be more than zero, like \"2s\"",
        ));
    }
    if health.timeout.0.is_zero() {
        return Err(bad_health("timeout", "must be more than zero, like \"1s\""));
    }
    if health.unhealthy_after == 0 {
        return Err(bad_health("unhealthy_after", "must be at least 1"));
    }
    if health.healthy_after == 0 {
        return Err(bad_health("healthy_after", "must be at least 1"));
    }
    if p.endpoints.is_empty() {
        return Err(RouteError::NoEndpoints { pool: name });
    }
    let tls = match &p.tls {
        Some(tls) => Some(Arc::new(
            jurisgate_tls::UpstreamTls::from_config(tls, &name).map_err(|source| {
                RouteError::UpstreamTls {
                    pool: name.clone(),
                    source,
                }
            })?,
        )),
        None => None,
    };
    let mut endpoints = Vec::with_capacity(p.endpoints.len());
    for text in &p.endpoints {
        let bad_endpoint = |why| RouteError::BadEndpoint {
            pool: name.clone(),
            endpoint: text.get_ref().clone(),
            why,
        };
        let base = Base::parse(text.get_ref()).map_err(bad_endpoint)?;
        // Checked on every endpoint, https too, so a bad path fails at start-up.
        let probe_uri = base
            .join(&health.path)
            .map_err(|why| bad_health("path", &why))?;
        let probe = (!base.is_https() || tls.is_some()).then_some(probe_uri);
        endpoints.push(Endpoint {
            base,
            probe,
            health: HealthCell::new(),
        });
    }
    Ok(Pool {
        region: p.region.get_ref().clone(),
        endpoints,
        next: AtomicUsize::new(0),
        thresholds: Thresholds {
            unhealthy_after: health.unhealthy_after,
            healthy_after: health.healthy_after,
        },
        probe: ProbeSettings {
            interval: health.interval.0,
            timeout: health.timeout.0,
            connect_timeout: p.connect_timeout.0,
        },
        tls,
        request_timeout: p.request_timeout.0,
        connect_timeout: p.connect_timeout.0,
        max_idle_per_endpoint: p.max_idle_per_endpoint,
        name,
    })
}

#[cfg(test)]
mod tests;
