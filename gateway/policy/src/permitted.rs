//! `Permitted<T>`: a value that a policy decision allowed, carrying the only
//! regions it may go to. The router accepts nothing else, so there is no code
//! path that forwards without an allow, or outside the approved regions.

use std::sync::Arc;

use crate::Decision;

/// A request (or anything) that an allowing decision let through.
#[derive(Debug)]
pub struct Permitted<T> {
    inner: T,
    decision: Arc<Decision>,
}

impl<T> Permitted<T> {
    /// Wraps `inner` if `decision` allows it and names at least one region;
    /// otherwise hands `inner` back.
    ///
    /// # Errors
    /// Returns `inner` unchanged when the decision does not permit it.
    pub fn new(inner: T, decision: Arc<Decision>) -> Result<Self, T> {
        if decision.allow && !decision.regions.is_empty() {
            Ok(Self { inner, decision })
        } else {
            Err(inner)
        }
    }

    /// Whether `region` is one the decision approved.
    #[must_use]
    pub fn allows_region(&self, region: &str) -> bool {
        self.decision.regions.iter().any(|r| r == region)
    }

    /// The approved regions.
    #[must_use]
    pub fn regions(&self) -> &[String] {
        &self.decision.regions
    }

    /// The decision behind the permission.
    #[must_use]
    pub fn decision(&self) -> &Arc<Decision> {
        &self.decision
    }

    /// The wrapped value, by reference.
    #[must_use]
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped value, mutably (the permission stays attached).
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Unwraps into the value and its decision.
    #[must_use]
    pub fn into_parts(self) -> (T, Arc<Decision>) {
        (self.inner, self.decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowing_decisions_with_regions_permit() {
        let deny = Arc::new(Decision::deny("no"));
        assert!(Permitted::new((), deny).is_err());
        let empty = Arc::new(Decision {
            allow: true,
            ..Decision::deny("")
        });
        assert!(Permitted::new((), empty).is_err());
        let ok = Arc::new(Decision {
            allow: true,
            regions: vec!["us-east".into()],
            ..Decision::deny("fine")
        });
        let p = Permitted::new(7, ok).unwrap();
        assert!(p.allows_region("us-east"));
        assert!(!p.allows_region("eu-west"));
    }
}
