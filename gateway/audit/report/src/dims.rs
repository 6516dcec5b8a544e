//! Bounded dimensions: each distinct value (a jurisdiction, a route, a
//! reason…) gets a small id, up to a cap; values past the cap share one
//! `(other)` id. This keeps every counter keyed by them bounded however
//! varied a hostile or buggy log is, at the price of lumping the rare tail.

use std::collections::HashMap;

/// The name shared by values past the cap.
pub(crate) const OTHER: &str = "(other)";

/// One dimension's values.
#[derive(Debug, Default)]
pub(crate) struct Dim {
    ids: HashMap<String, u32>,
    names: Vec<String>,
    cap: usize,
}

impl Dim {
    /// A dimension of at most `cap` distinct values (plus `(other)`).
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap,
            ..Self::default()
        }
    }

    /// The id of `value`, adding it while there is room.
    pub(crate) fn id(&mut self, value: &str) -> u32 {
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        let value = if self.names.len() >= self.cap {
            OTHER
        } else {
            value
        };
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(value.to_string(), id);
        self.names.push(value.to_string());
        id
    }

    /// The value of `id`.
    pub(crate) fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or(OTHER, String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_past_the_cap_share_other() {
        let mut d = Dim::new(2);
        let a = d.id("a");
        assert_eq!(d.id("a"), a);
        let b = d.id("b");
        let c = d.id("c");
        assert_eq!(d.id("zzz"), c);
        assert_eq!(d.name(c), OTHER);
        assert_eq!((d.name(a), d.name(b)), ("a", "b"));
    }
}
