//! The decision cache: decisions of one policy revision keyed on the part of
//! the input the policy can read ([`crate::footprint`]). Real requests
//! differ in their id, time, path and subject pseudonym, which the shipped
//! policies never read, so after the first request of each kind (route,
//! jurisdiction, requester kind and location, …) the gateway decides in
//! about a microsecond instead of the engine's ~30 µs.
//!
//! Correctness rests on the analysis: two inputs that agree on every
//! footprint path get the same decision from the engine. Only decisions the
//! engine actually produced are stored (never errors or time-outs), inputs
//! for which a volatile field (`time`) could matter always go to the
//! engine, and the cache belongs to one loaded [`crate::PolicyEngine`], so a
//! reload starts empty. `tests::every_combination_decides_as_the_engine`
//! checks the shipped policies over every combination of the fields they
//! read.
//!
//! A key can be made from the input's JSON ([`DecisionCache::key`]) or
//! straight from a typed input ([`DecisionCache::typed_key`], through
//! [`crate::extract`]); both give the same bytes for the same input, so the
//! two share entries.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use serde::Serialize;

use crate::Decision;
use crate::extract::PathTree;
use crate::footprint::{Footprint, lookup};

/// Entries kept before the cache starts over. Distinct keys come from
/// routes × jurisdictions × requester kinds and locations × approvals ×
/// pool health: a few hundred in practice. Starting over when full keeps
/// memory bounded whatever the traffic.
pub(crate) const CAPACITY: usize = 4096;

/// Decisions by footprint value, for one policy revision.
#[derive(Debug)]
pub(crate) struct DecisionCache {
    footprint: Footprint,
    /// The footprint's paths, made to be read from a typed input.
    values: PathTree,
    /// Every path of `footprint.guarded`, to note which are present.
    guards: PathTree,
    /// `guards`' slots for each list of `footprint.guarded`.
    guard_slots: Vec<Vec<usize>>,
    entries: RwLock<HashMap<Box<[u8]>, Arc<Decision>>>,
}

impl DecisionCache {
    /// An empty cache for a policy with `footprint`.
    pub(crate) fn new(footprint: Footprint) -> Self {
        let guard_paths: Vec<_> = footprint.guarded.iter().flatten().cloned().collect();
        let guards = PathTree::presence(&guard_paths);
        let mut slots = guards.slots().iter().copied();
        let guard_slots = footprint
            .guarded
            .iter()
            .map(|list| slots.by_ref().take(list.len()).collect())
            .collect();
        Self {
            values: PathTree::values(&footprint.paths),
            guards,
            guard_slots,
            footprint,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The key of `input`, or `None` when the engine must decide it (a
    /// volatile field could matter).
    pub(crate) fn key(&self, input: &serde_json::Value) -> Option<Box<[u8]>> {
        if !self.footprint.volatile_irrelevant(input) {
            return None;
        }
        // Each path's value as compact JSON (never empty, never a raw
        // newline) followed by a newline; a missing value is the newline
        // alone. That encoding is injective, so equal keys mean equal values.
        let mut key = Vec::with_capacity(32 * self.footprint.paths.len());
        for path in &self.footprint.paths {
            if let Some(v) = lookup(input, path) {
                serde_json::to_writer(&mut key, v).ok()?;
            }
            key.push(b'\n');
        }
        Some(key.into_boxed_slice())
    }

    /// The key of a typed input, byte for byte what [`Self::key`] gives for
    /// its `serde_json::to_value`, read without building that `Value`:
    /// `Ok(None)` when the engine must decide it.
    ///
    /// # Errors
    /// When `input` holds something the typed walk cannot render exactly
    /// (see [`crate::extract`]); [`Self::key`] on the `Value` can.
    pub(crate) fn typed_key<T: Serialize + ?Sized>(
        &self,
        input: &T,
    ) -> Result<Option<Box<[u8]>>, serde_json::Error> {
        if !self.guard_slots.is_empty() {
            let present = self.guards.extract(input)?;
            let irrelevant = self
                .guard_slots
                .iter()
                .all(|list| list.iter().any(|&slot| present.get(slot).is_none()));
            if !irrelevant {
                return Ok(None);
            }
        }
        let found = self.values.extract(input)?;
        let slots = self.values.slots();
        let len = slots
            .iter()
            .map(|&slot| found.get(slot).map_or(0, <[u8]>::len) + 1)
            .sum();
        let mut key = Vec::with_capacity(len);
        for &slot in slots {
            if let Some(value) = found.get(slot) {
                key.extend_from_slice(value);
            }
            key.push(b'\n');
        }
        Ok(Some(key.into_boxed_slice()))
    }

    /// The stored decision for `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<Arc<Decision>> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries.get(key).cloned()
    }

    /// Stores a decision the engine made for an input with `key`.
    pub(crate) fn insert(&self, key: Box<[u8]>, decision: Arc<Decision>) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, decision);
    }

    /// How many decisions are stored.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The footprint the keys are made of.
    #[cfg(test)]
    pub(crate) fn footprint(&self) -> &Footprint {
        &self.footprint
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::DecisionCache;
    use crate::extract::tests::{input_path, policy_input};
    use crate::footprint::Footprint;
    use crate::{EngineOptions, PolicyEngine, PolicyInput};

    fn shipped(set: &str) -> PolicyEngine {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../policies")
            .join(set);
        PolicyEngine::load(&dir, &EngineOptions::default()).unwrap()
    }

    fn paths(engine: &PolicyEngine) -> Vec<String> {
        let cache = engine.cache().expect("the shipped policies are cacheable");
        cache
            .footprint()
            .paths
            .iter()
            .map(|p| p.join("."))
            .collect()
    }

    #[test]
    fn the_shipped_policies_are_keyed_on_what_they_read() {
        assert_eq!(
            paths(&shipped("texas")),
            [
                "destinations",
                "requester.approval.expires",
                "requester.approval.id",
                "requester.approval.verified",
                "requester.kind",
                "requester.location",
                "requester.verified",
                "resource.data_class",
                "subject.jurisdiction",
                "subject.verified",
            ]
        );
        let texas = shipped("texas");
        let guarded = &texas.cache().unwrap().footprint().guarded;
        assert_eq!(guarded.len(), 1, "one guarded read of `time`");
        assert_eq!(
            paths(&shipped("clover")),
            [
                "destinations",
                "request.method",
                "requester.kind",
                "requester.location",
                "requester.verified",
                "resource.data_class",
                "subject.jurisdiction",
                "subject.verified",
            ]
        );
    }

    /// One input of the combination grid; `variant` changes everything the
    /// policies must not depend on (id, host, path, query, headers,
    /// pseudonyms) and moves `time` past the approvals' expiry.
    #[allow(clippy::too_many_arguments)]
    fn input(
        variant: usize,
        jurisdiction: Option<&str>,
        subject_verified: bool,
        kind: &str,
        location: Option<&str>,
        requester_verified: bool,
        approval: &str,
        class: &str,
        method: &str,
        regions: &[&str],
    ) -> Value {
        let mut subject = json!({"source": "jwt", "verified": subject_verified,
            "pseudonym": format!("hs256:p{variant}")});
        if let Some(j) = jurisdiction {
            subject["jurisdiction"] = j.into();
        }
        let mut requester = json!({"kind": kind, "id": format!("r-{variant}"), "source": "mtls", "verified": requester_verified});
        if let Some(l) = location {
            requester["location"] = l.into();
        }
        let approval = match approval {
            "valid" => Some(true),
            "unverified" => Some(false),
            _ => None,
        };
        if let Some(verified) = approval {
            requester["approval"] = json!({"id": "APR-17", "scope": "support",
                "expires": "2026-11-28T00:00:00Z", "verified": verified});
        }
        let destinations: Vec<Value> = regions
            .iter()
            .map(|r| json!({"pool": format!("{r}-pool"), "region": r, "healthy": true}))
            .collect();
        json!({
            "request": {"id": format!("01J{variant:023}"), "method": method,
                "host": format!("h{variant}.example.com"), "path": format!("/v1/users/{variant}"),
                "query": {"page": [variant.to_string()]}, "headers": {"accept": "application/json"}},
            "subject": subject,
            "requester": requester,
            "resource": {"route": "users", "service": "users", "data_class": class},
            "destinations": destinations,
            "time": if variant == 0 { "2026-11-27T18:00:00Z" } else { "2026-11-28T09:00:00.123456789Z" },
        })
    }

    /// Every combination of the fields the shipped policies read, for one
    /// `variant` of everything else.
    fn combinations(variant: usize) -> Vec<Value> {
        const JURISDICTIONS: [Option<&str>; 4] = [Some("US"), Some("EU"), Some("unknown"), None];
        const KINDS: [&str; 4] = ["user", "employee", "service", "unknown"];
        // Home (US), abroad in the EU (IE), none. Few enough combinations
        // that every key of the grid fits in the cache at once.
        const LOCATIONS: [Option<&str>; 3] = [Some("US"), Some("IE"), None];
        const APPROVALS: [&str; 3] = ["none", "valid", "unverified"];
        const CLASSES: [&str; 3] = ["protected", "public", "secret"];
        const METHODS: [&str; 2] = ["GET", "POST"];
        const REGIONS: [&[&str]; 3] = [&[], &["us-east"], &["us-east", "eu-west"]];

        let mut all = Vec::new();
        for j in JURISDICTIONS {
            for sv in [true, false] {
                for kind in KINDS {
                    for loc in LOCATIONS {
                        for rv in [true, false] {
                            for approval in APPROVALS {
                                for class in CLASSES {
                                    for method in METHODS {
                                        for regions in REGIONS {
                                            all.push(input(
                                                variant, j, sv, kind, loc, rv, approval, class,
                                                method, regions,
                                            ));
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        all
    }

    /// Every combination of the fields the shipped policies read, decided
    /// through the cache (a miss, then hits from inputs that differ in
    /// everything else) and by the engine alone: the decisions must be equal,
    /// and decisions that depend on `time` must come from the engine.
    ///
    /// Each combination a [`PolicyInput`] can hold (all but a subject
    /// without a jurisdiction) is also decided from its typed form by a
    /// second engine with its own cache: the typed key must equal the
    /// JSON's, and `decide_input` must decide as the engine.
    #[test]
    fn every_combination_decides_as_the_engine() {
        for set in ["texas", "clover"] {
            let engine = shipped(set);
            let typed_engine = shipped(set);
            // Per variant: inputs compared, answered from the cache, and
            // left to the engine because `time` could matter; the same for
            // the typed inputs.
            let (mut compared, mut hits, mut time_dependent) =
                ([0usize; 2], [0usize; 2], [0usize; 2]);
            let (mut typed, mut typed_hits, mut typed_time_dependent) =
                ([0usize; 2], [0usize; 2], [0usize; 2]);
            for variant in 0..2 {
                for i in combinations(variant) {
                    let cache = engine.cache().unwrap();
                    let key = cache.key(&i);
                    let was_cached = key.as_ref().and_then(|k| cache.get(k));
                    let direct = engine.evaluate(&i).unwrap();
                    let decided = engine.decide_shared(&i);
                    assert_eq!(*decided, direct, "{set}: {i:#}");
                    if let Some(hit) = was_cached {
                        assert_eq!(*hit, direct, "{set}: {i:#}");
                        hits[variant] += 1;
                    }
                    if key.is_none() {
                        time_dependent[variant] += 1;
                    }
                    compared[variant] += 1;

                    let Ok(typed_input) = serde_json::from_value::<PolicyInput>(i.clone()) else {
                        assert!(i["subject"].get("jurisdiction").is_none(), "{i:#}");
                        continue;
                    };
                    assert_eq!(serde_json::to_value(&typed_input).unwrap(), i);
                    let typed_key = cache.typed_key(&typed_input).unwrap();
                    assert_eq!(typed_key, key, "{set}: {i:#}");
                    let typed_cache = typed_engine.cache().unwrap();
                    match &key {
                        Some(k) if typed_cache.get(k).is_some() => typed_hits[variant] += 1,
                        Some(_) => {}
                        None => typed_time_dependent[variant] += 1,
                    }
                    let typed_decided = typed_engine.decide_input(&typed_input);
                    assert_eq!(*typed_decided, direct, "{set}: {i:#}");
                    typed[variant] += 1;
                }
            }
            let cache = engine.cache().unwrap();
            println!(
                "{set}: {compared:?} inputs, {hits:?} hits, {time_dependent:?} left to the engine for `time`, {} entries; typed {typed:?} inputs, {typed_hits:?} hits",
                cache.len()
            );
            // The second variant differs from the first only in what the
            // policy does not read, and in `time`: each of its inputs that
            // may be cached hits an entry the first variant stored.
            assert_eq!(hits[1] + time_dependent[1], compared[1], "{set}");
            assert_eq!(time_dependent[0], time_dependent[1], "{set}");
            if set == "texas" {
                // Present approvals: 2 of 3 approval values.
                assert_eq!(time_dependent[0] * 3, compared[0] * 2);
            } else {
                assert_eq!(time_dependent[0], 0);
            }
            // Three jurisdictions of four make a typed subject; `decide_input`
            // stored what the second variant's typed inputs hit.
            assert_eq!(typed[0] * 4, compared[0] * 3, "{set}");
            assert_eq!(typed[1], typed[0], "{set}");
            assert_eq!(typed_hits[1] + typed_time_dependent[1], typed[1], "{set}");
            assert_eq!(typed_time_dependent[0] * 4, time_dependent[0] * 3, "{set}");
            assert_eq!(
                typed_engine.cache().unwrap().len() * 4,
                cache.len() * 3,
                "{set}: one entry per typed key"
            );
        }
    }

    /// A footprint read in a random order, with random guard lists.
    fn footprint() -> impl Strategy<Value = Footprint> {
        (
            prop::collection::vec(input_path(), 0..10),
            prop::collection::vec(prop::collection::vec(input_path(), 1..4), 0..3),
        )
            .prop_map(|(paths, guarded)| Footprint { paths, guarded })
    }

    proptest! {
        // Whatever the footprint, a typed input's key is its JSON's key,
        // `None` (left to the engine) included.
        #[test]
        fn typed_keys_equal_json_keys(footprint in footprint(), input in policy_input()) {
            let cache = DecisionCache::new(footprint);
            let value = serde_json::to_value(&input).unwrap();
            prop_assert_eq!(cache.typed_key(&input).unwrap(), cache.key(&value));
        }
    }

    #[test]
    fn a_full_cache_starts_over() {
        let cache = super::DecisionCache::new(crate::footprint::Footprint {
            paths: vec![vec!["n".into()]],
            guarded: Vec::new(),
        });
        let decision = std::sync::Arc::new(crate::Decision::deny("x"));
        for n in 0..=super::CAPACITY {
            let key = cache.key(&json!({ "n": n })).unwrap();
            cache.insert(key, std::sync::Arc::clone(&decision));
        }
        assert_eq!(cache.len(), 1);
        assert!(
            cache
                .get(&cache.key(&json!({"n": super::CAPACITY})).unwrap())
                .is_some()
        );
        assert!(cache.get(&cache.key(&json!({"n": 0})).unwrap()).is_none());
    }

    #[test]
    fn a_reload_starts_with_an_empty_cache() {
        let engine = shipped("clover");
        let sample: Value = serde_json::from_slice(
            &std::fs::read(engine.dir().join("samples/us_engineer_read.json")).unwrap(),
        )
        .unwrap();
        let first = engine.decide_shared(&sample);
        assert_eq!(engine.cache().unwrap().len(), 1);
        let again = engine.decide_shared(&sample);
        assert!(
            std::sync::Arc::ptr_eq(&first, &again),
            "a hit shares the stored decision"
        );
        let reloaded = shipped("clover");
        assert_eq!(reloaded.cache().unwrap().len(), 0);
    }

    #[test]
    fn errors_are_not_cached_and_impure_policies_are_not_cached() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("p.rego"),
            "package jurisgate\ndecision := {\"allow\": true, \"regions\": [\"a\"]} if input.x\ndecision := {\"allow\": false} if input.y\n",
        )
        .unwrap();
        let e = PolicyEngine::load(tmp.path(), &EngineOptions::default()).unwrap();
        let conflict = json!({"x": true, "y": true});
        assert_eq!(*e.decide_shared(&conflict), crate::Decision::policy_error());
        assert_eq!(e.cache().unwrap().len(), 0);

        std::fs::write(
            tmp.path().join("p.rego"),
            "package jurisgate\ndecision := {\"allow\": true, \"regions\": [\"a\"], \"reason\": sprintf(\"%d\", [time.now_ns()])}\n",
        )
        .unwrap();
        let e = PolicyEngine::load(tmp.path(), &EngineOptions::default()).unwrap();
        assert!(e.cache().is_none());
        assert_ne!(
            e.decide_shared(&json!({})).reason,
            "",
            "still decided, by the engine"
        );
    }
}
