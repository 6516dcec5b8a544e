use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A duration written the human way in config (`"250ms"`, `"1s"`, `"5m"`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(pub Duration);

impl Dur {
    /// A duration of `ms` milliseconds, for defaults.
    #[must_use]
    pub const fn millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }

    /// A duration of `s` seconds, for defaults.
    #[must_use]
    pub const fn secs(s: u64) -> Self {
        Self(Duration::from_secs(s))
    }
}

impl fmt::Debug for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map(Dur).map_err(|e| {
            serde::de::Error::custom(format!(
                "`{text}` is not a duration ({e}); write it like \"250ms\", \"1s\" or \"5m\""
            ))
        })
    }
}
