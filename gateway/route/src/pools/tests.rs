//! Selection and pool-building tests, including the property test that no
//! health state or decision ever sends data outside the approved regions.

use std::sync::Arc;

use jurisgate_config::{Dur, HealthCheck};
use jurisgate_policy::Decision;
use proptest::prelude::*;
use toml::Spanned;

use super::*;

const REGIONS: [&str; 4] = ["us-east", "us-west", "eu-west", "ap-southeast"];

fn spanned<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}

fn pool_config(name: &str, region: &str, endpoints: &[String]) -> jurisgate_config::Pool {
    jurisgate_config::Pool {
        name: spanned(name.to_owned()),
        region: spanned(region.to_owned()),
        endpoints: endpoints.iter().cloned().map(spanned).collect(),
        health: HealthCheck::default(),
        max_idle_per_endpoint: 8,
        connect_timeout: Dur::millis(250),
        request_timeout: Dur::secs(5),
        tls: None,
    }
}

fn permit(regions: &[&str]) -> Permitted<()> {
    let decision = Decision {
        allow: true,
        regions: regions.iter().map(|r| (*r).to_owned()).collect(),
        ..Decision::deny("test")
    };
    Permitted::new((), Arc::new(decision)).expect("an allowing decision")
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// Puts endpoint `e` of pool `p` down through the public passive path.
fn take_down(pools: &Pools, p: usize, e: usize) {
    let t = pools.pools[p].thresholds.unhealthy_after;
    for _ in 0..t {
        pools.report_failure(&EndpointId::new(p, e));
    }
}

fn three_pools() -> Pools {
    Pools::from_config(&[
        pool_config(
            "us-1",
            "us-east",
            &names(&["http://10.0.0.1:80", "http://10.0.0.2:80"]),
        ),
        pool_config("us-2", "us-west", &names(&["http://10.0.1.1:80"])),
        pool_config("eu-1", "eu-west", &names(&["http://10.0.2.1:80"])),
    ])
    .unwrap()
}

#[test]
fn picks_first_approved_pool_in_route_order() {
    let pools = three_pools();
    let route = names(&["eu-1", "us-2", "us-1"]);
    let s = pools
        .select(&permit(&["us-east", "us-west"]), &route)
        .unwrap();
    assert_eq!((s.pool.as_str(), s.region.as_str()), ("us-2", "us-west"));
    assert_eq!(s.base.to_string(), "http://10.0.1.1:80/");
    assert_eq!(s.connect_timeout, Duration::from_millis(250));
    assert_eq!(s.request_timeout, Duration::from_secs(5));
}

#[test]
fn fails_over_inside_the_approved_set_only() {
    let pools = three_pools();
    let route = names(&["us-2", "us-1", "eu-1"]);
    let us = permit(&["us-east", "us-west"]);
    take_down(&pools, 1, 0);
    assert_eq!(pools.select(&us, &route).unwrap().pool, "us-1");
    take_down(&pools, 0, 0);
    take_down(&pools, 0, 1);
    // eu-1 is healthy and in the route, but not approved.
    let err = pools.select(&us, &route).unwrap_err();
    assert_eq!(err.reason, "no_approved_region_available");
    assert_eq!(err.approved_regions, names(&["us-east", "us-west"]));
    let considered: Vec<(&str, bool, bool)> = err
        .considered
        .iter()
        .map(|c| (c.pool.as_str(), c.approved, c.healthy))
        .collect();
    assert_eq!(
        considered,
        [
            ("us-2", true, false),
            ("us-1", true, false),
            ("eu-1", false, true)
        ]
    );
}

#[test]
fn no_approved_region_serialises_as_the_503_body() {
    let pools = three_pools();
    let err = pools
        .select(&permit(&["ap-southeast"]), &names(&["eu-1"]))
        .unwrap_err();
    assert_eq!(
        serde_json::to_value(&err).unwrap(),
        serde_json::json!({
            "reason": "no_approved_region_available",
            "approved_regions": ["ap-southeast"],
            "considered": [{"pool": "eu-1", "region": "eu-west", "approved": false, "healthy": true}],
        })
    );
}

#[test]
fn round_robin_skips_down_endpoints() {
    let pools = Pools::from_config(&[pool_config(
        "p",
        "us-east",
        &names(&[
            "http://10.0.0.1:80",
            "http://10.0.0.2:80",
            "http://10.0.0.3:80",
        ]),
    )])
    .unwrap();
    let route = names(&["p"]);
    let us = permit(&["us-east"]);
    let mut counts = [0usize; 3];
    for _ in 0..30 {
        counts[pools.select(&us, &route).unwrap().endpoint.endpoint] += 1;
    }
    assert_eq!(counts, [10, 10, 10]);
    take_down(&pools, 0, 1);
    let mut counts = [0usize; 3];
    for _ in 0..30 {
        counts[pools.select(&us, &route).unwrap().endpoint.endpoint] += 1;
    }
    assert_eq!(counts[1], 0, "a down endpoint got traffic");
    assert_eq!(counts[0] + counts[2], 30);
    assert!(
        counts[0] >= 10 && counts[2] >= 10,
        "load not spread: {counts:?}"
    );
}

#[test]
fn passive_reports_reach_the_selected_endpoint() {
    let pools = three_pools();
    let route = names(&["us-2"]);
    let us = permit(&["us-west"]);
    let s = pools.select(&us, &route).unwrap();
    pools.report_failure(&s.endpoint);
    pools.report_success(&s.endpoint);
    // The success broke the streak: one more failure is not two in a row.
    pools.report_failure(&s.endpoint);
    assert!(pools.select(&us, &route).is_ok());
    pools.report_failure(&s.endpoint);
    assert!(pools.select(&us, &route).is_err());
    assert!(!pools.health_snapshot()[1].healthy);
}

#[test]
fn unknown_endpoint_ids_are_ignored() {
    let pools = three_pools();
    pools.report_failure(&EndpointId::new(9, 0));
    pools.report_failure(&EndpointId::new(0, 9));
    assert!(pools.health_snapshot().iter().all(|p| p.healthy));
}

#[test]
fn destinations_follow_route_order_with_health() {
    let pools = three_pools();
    take_down(&pools, 2, 0);
    let d = pools.destinations(&names(&["eu-1", "nope", "us-1"]));
    assert_eq!(
        d,
        [
            Destination {
                pool: "eu-1".into(),
                region: "eu-west".into(),
                healthy: false
            },
            Destination {
                pool: "us-1".into(),
                region: "us-east".into(),
                healthy: true
            },
        ]
    );
}

#[test]
fn snapshot_lists_every_endpoint() {
    let pools = Pools::from_config(&[pool_config(
        "p",
        "us-east",
        &names(&["http://10.0.0.1:80", "https://10.0.0.2:443"]),
    )])
    .unwrap();
    take_down(&pools, 0, 0);
    assert_eq!(
        pools.health_snapshot(),
        [PoolHealth {
            pool: "p".into(),
            region: "us-east".into(),
            healthy: true,
            endpoints: vec![
                EndpointHealth {
                    endpoint: "http://10.0.0.1:80/".into(),
                    healthy: false,
                    probed: true
                },
                EndpointHealth {
                    endpoint: "https://10.0.0.2:443/".into(),
                    healthy: true,
                    probed: false
                },
            ],
        }]
    );
}

#[test]
fn bad_pools_are_refused_with_the_pool_named() {
    let ok = || pool_config("p", "us-east", &names(&["http://10.0.0.1:80"]));
    let dup = Pools::from_config(&[ok(), ok()]).unwrap_err();
    assert_eq!(
        dup.to_string(),
        "pool `p` is defined twice; pool names must be unique"
    );

    let empty = Pools::from_config(&[pool_config("p", "us-east", &[])]).unwrap_err();
    assert!(matches!(empty, RouteError::NoEndpoints { .. }), "{empty}");

    let bad = pool_config("p", "us-east", &names(&["ftp://10.0.0.1:21"]));
    let err = Pools::from_config(&[bad]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("pool `p`: endpoint `ftp://10.0.0.1:21`: scheme `ftp`"),
        "{err}"
    );

    let mut bad = ok();
    bad.health.path = "healthz".into();
    let err = Pools::from_config(&[bad]).unwrap_err();
    assert!(
        err.to_string().starts_with("pool `p`: health.path:"),
        "{err}"
    );

    let mut bad = ok();
    bad.health.interval = Dur::millis(0);
    let err = Pools::from_config(&[bad]).unwrap_err();
    assert!(
        err.to_string().starts_with("pool `p`: health.interval:"),
        "{err}"
    );

    let mut bad = ok();
    bad.health.timeout = Dur::millis(0);
    assert!(Pools::from_config(&[bad]).is_err());

    let mut bad = ok();
    bad.health.unhealthy_after = 0;
    assert!(Pools::from_config(&[bad]).is_err());

    let mut bad = ok();
    bad.health.healthy_after = 0;
    assert!(Pools::from_config(&[bad]).is_err());
}

/// A random pool set: each pool a region index and per-endpoint health.
fn pool_sets() -> impl Strategy<Value = Vec<(usize, Vec<bool>)>> {
    prop::collection::vec(
        (0..REGIONS.len(), prop::collection::vec(any::<bool>(), 1..4)),
        1..7,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Whatever the pools, route, decision and health, `select` returns the
    /// first healthy approved pool of the route, an endpoint of it that is
    /// healthy, and otherwise `NoApprovedRegion`: never another region.
    #[test]
    fn select_never_leaves_the_approved_regions(
        set in pool_sets(),
        // Indices past the set name pools that do not exist.
        route in prop::collection::vec(0usize..9, 0..9),
        // Index 4 is a region no pool is in.
        approved in prop::collection::btree_set(0usize..5, 1..4),
        unhealthy_after in 1u32..4,
        rounds in 1usize..4,
    ) {
        let configs: Vec<jurisgate_config::Pool> = set
            .iter()
            .enumerate()
            .map(|(p, (region, health))| {
                let endpoints: Vec<String> =
                    (0..health.len()).map(|e| format!("http://10.0.{p}.{e}:80")).collect();
                let mut c = pool_config(&format!("p{p}"), REGIONS[*region], &endpoints);
                c.health.unhealthy_after = unhealthy_after;
                c
            })
            .collect();
        let pools = Pools::from_config(&configs).unwrap();
        for (p, (_, health)) in set.iter().enumerate() {
            for (e, up) in health.iter().enumerate() {
                if !up {
                    take_down(&pools, p, e);
                }
            }
        }
        let route: Vec<String> = route.iter().map(|i| format!("p{i}")).collect();
        let approved: Vec<&str> =
            approved.iter().map(|&i| REGIONS.get(i).copied().unwrap_or("mars")).collect();
        let permitted = permit(&approved);

        let region_of = |p: usize| REGIONS[set[p].0];
        let known: Vec<usize> = route
            .iter()
            .filter_map(|n| n[1..].parse::<usize>().ok().filter(|&p| p < set.len()))
            .collect();
        let expected = known
            .iter()
            .copied()
            .find(|&p| approved.contains(&region_of(p)) && set[p].1.iter().any(|&up| up));

        for _ in 0..rounds {
            match (pools.select(&permitted, &route), expected) {
                (Ok(s), Some(p)) => {
                    prop_assert!(approved.contains(&s.region.as_str()));
                    prop_assert!(route.contains(&s.pool));
                    prop_assert_eq!(&s.pool, &format!("p{p}"));
                    prop_assert_eq!(s.region.as_str(), region_of(p));
                    prop_assert_eq!(s.endpoint.pool, p);
                    prop_assert!(set[p].1[s.endpoint.endpoint], "a down endpoint was chosen");
                    prop_assert_eq!(
                        s.base.to_string(),
                        format!("http://10.0.{p}.{}:80/", s.endpoint.endpoint)
                    );
                }
                (Err(e), None) => {
                    prop_assert_eq!(e.reason, NO_APPROVED_REGION);
                    prop_assert_eq!(&e.approved_regions, &names(&approved));
                    let considered: Vec<String> =
                        e.considered.iter().map(|c| c.pool.clone()).collect();
                    let route_known: Vec<String> =
                        known.iter().map(|p| format!("p{p}")).collect();
                    prop_assert_eq!(considered, route_known);
                    prop_assert!(e.considered.iter().all(|c| !(c.approved && c.healthy)));
                }
                (got, want) => prop_assert!(false, "got {:?}, expected pool {:?}", got, want),
            }
        }

        let destinations = pools.destinations(&route);
        prop_assert_eq!(destinations.len(), known.len());
        for (d, &p) in destinations.iter().zip(&known) {
            prop_assert_eq!(d.region.as_str(), region_of(p));
            prop_assert_eq!(d.healthy, set[p].1.iter().any(|&up| up));
        }
    }
}
