//! Which records the report's rows table embeds: a bounded sample, so a
//! report of ten million records stays a file a browser opens.
//!
//! Every chart element (a time bucket × outcome, a flow, a denial reason, a
//! route, a policy revision, each anomaly kind, cross-border access) keeps
//! its own reservoir (Vitter's algorithm R: each of its records has the
//! same chance to be kept), and one more reservoir samples the whole log
//! uniformly. A record is embedded while at least one reservoir holds it,
//! so the link from any chart element finds rows of its own, and a log
//! smaller than the uniform reservoir is embedded whole. The counts the
//! charts show are exact; only the rows are sampled. The random choices
//! come from a fixed seed: the same log gives the same report.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use crate::facts::Outcome;

/// A record in the rows table, every field as the table shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) log: u16,
    pub(crate) seq: u64,
    pub(crate) ts: String,
    pub(crate) kind: &'static str,
    pub(crate) jurisdiction: String,
    pub(crate) verified: &'static str,
    pub(crate) source: String,
    pub(crate) requester: String,
    pub(crate) location: String,
    pub(crate) approval: String,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) route: String,
    pub(crate) class: String,
    pub(crate) allow: &'static str,
    pub(crate) outcome: &'static str,
    pub(crate) destination: String,
    pub(crate) reason: String,
    pub(crate) reason_group: String,
    pub(crate) region: String,
    pub(crate) pool: String,
    pub(crate) status: String,
    pub(crate) revision: String,
    pub(crate) obligations: String,
    pub(crate) bucket: i64,
    pub(crate) tags: Vec<&'static str>,
}

/// A chart element whose records are sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// The whole log, uniformly.
    All,
    /// A record kind other than `decision`.
    Kind(&'static str),
    /// A time bucket and outcome.
    Time(i64, Outcome),
    /// A flow: jurisdiction, data class, destination ids.
    Flow(u32, u32, u32),
    /// A reason for not forwarding (id).
    Reason(u32),
    /// A route with refusals (id).
    Route(u32),
    /// A policy revision (id).
    Revision(u32),
    /// Access from outside the subject's jurisdiction.
    CrossBorder,
    /// An anomaly kind (the row tag).
    Anomaly(&'static str),
    /// A failover: route, first approved region, region used (ids).
    Failover(u32, u32, u32),
    /// Failed forwards: region id, status, reason group id.
    FailedForward(u32, u16, u32),
}

impl Key {
    /// How many records this element keeps.
    fn cap(self) -> usize {
        match self {
            Self::All => 2000,
            Self::Kind(_) => 100,
            Self::Time(..) => 8,
            Self::Flow(..)
            | Self::Reason(_)
            | Self::Route(_)
            | Self::Revision(_)
            | Self::Failover(..)
            | Self::FailedForward(..) => 20,
            Self::CrossBorder => 200,
            Self::Anomaly(_) => 300,
        }
    }
}

/// A row's identity: log index and seq.
type RowId = (u16, u64);

struct Reservoir {
    seen: u64,
    ids: Vec<RowId>,
}

/// The reservoirs and the rows they hold.
pub(crate) struct Sampler {
    reservoirs: HashMap<Key, Reservoir>,
    rows: HashMap<RowId, (Row, u32)>,
    rng: StdRng,
}

impl Default for Sampler {
    fn default() -> Self {
        Self {
            reservoirs: HashMap::new(),
            rows: HashMap::new(),
            rng: StdRng::seed_from_u64(0x6a75_7269_7367_6174),
        }
    }
}

impl Sampler {
    /// Offers record `id` to the reservoirs of `keys`; builds its row with
    /// `make` only if one of them keeps it.
    pub(crate) fn offer(&mut self, id: RowId, keys: &[Key], make: impl FnOnce() -> Row) {
        let mut kept = 0u32;
        let mut evicted = Vec::new();
        for key in keys {
            let cap = key.cap();
            let res = self.reservoirs.entry(*key).or_insert_with(|| Reservoir {
                seen: 0,
                ids: Vec::new(),
            });
            res.seen += 1;
            if res.ids.len() < cap {
                res.ids.push(id);
                kept += 1;
            } else {
                let j = self.rng.gen_range(0..res.seen);
                if let Some(slot) = res.ids.get_mut(j as usize) {
                    evicted.push(std::mem::replace(slot, id));
                    kept += 1;
                }
            }
        }
        if kept > 0 {
            self.rows
                .entry(id)
                .and_modify(|(_, refs)| *refs += kept)
                .or_insert_with(|| (make(), kept));
        }
        for old in evicted {
            if let Some((_, refs)) = self.rows.get_mut(&old) {
                *refs -= 1;
                if *refs == 0 {
                    self.rows.remove(&old);
                }
            }
        }
    }

    /// Rows held.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// The rows held, in log and seq order.
    pub(crate) fn rows(&self) -> Vec<&Row> {
        let mut rows: Vec<&Row> = self.rows.values().map(|(r, _)| r).collect();
        rows.sort_by_key(|r| (r.log, r.seq));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: u64) -> Row {
        Row {
            seq,
            ..Row::default()
        }
    }

    #[test]
    fn a_small_log_is_kept_whole() {
        let mut s = Sampler::default();
        for seq in 0..500 {
            s.offer((0, seq), &[Key::All, Key::Reason(1)], || row(seq));
        }
        assert_eq!(s.len(), 500);
        let seqs: Vec<u64> = s.rows().iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (0..500).collect::<Vec<_>>());
    }

    #[test]
    fn a_big_log_keeps_every_element_represented_within_the_caps() {
        let mut s = Sampler::default();
        let mut rare_seen = 0;
        for seq in 0..200_000u64 {
            let mut keys = vec![Key::All, Key::Time((seq / 1000) as i64, Outcome::Forwarded)];
            if seq % 50_000 == 7 {
                keys.push(Key::Anomaly("failover"));
                rare_seen += 1;
            }
            s.offer((0, seq), &keys, || row(seq));
        }
        // 2000 uniform + 8 per each of 200 buckets at most, and every rare record.
        assert!(s.len() <= 2000 + 200 * 8 + rare_seen, "{}", s.len());
        let rare = s.rows().iter().filter(|r| r.seq % 50_000 == 7).count();
        assert_eq!(rare, rare_seen);
        for bucket in 0..200u64 {
            let in_bucket = s.rows().iter().filter(|r| r.seq / 1000 == bucket).count();
            assert!(in_bucket >= 8, "bucket {bucket} has {in_bucket} rows");
        }
    }
}
