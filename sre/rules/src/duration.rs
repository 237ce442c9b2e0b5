//! Prometheus durations (`model.Duration`): `1h30m`, `5m`, `90s`, `1d`, `2w`, `1y`, `500ms`, `0`.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// A non-negative duration in milliseconds, parsed and printed as Prometheus does.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct PromDuration(pub i64);

static DURATION_RE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"^(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?$",
    )
    .ok()
});

const UNITS: [(i64, &str); 7] = [
    (365 * 24 * 3_600_000, "y"),
    (7 * 24 * 3_600_000, "w"),
    (24 * 3_600_000, "d"),
    (3_600_000, "h"),
    (60_000, "m"),
    (1000, "s"),
    (1, "ms"),
];

impl PromDuration {
    /// Parses `text` as `model.ParseDuration` does.
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || format!("not a valid duration string: {text:?}");
        if text == "0" {
            return Ok(Self(0));
        }
        if text.is_empty() {
            return Err("empty duration string".into());
        }
        let re = DURATION_RE.as_ref().ok_or_else(invalid)?;
        let caps = re.captures(text).ok_or_else(invalid)?;
        let mut total: i64 = 0;
        for (i, (unit_ms, _)) in UNITS.iter().enumerate() {
            if let Some(m) = caps.get(2 * i + 2) {
                let n: i64 = m.as_str().parse().map_err(|_| invalid())?;
                total = n
                    .checked_mul(*unit_ms)
                    .and_then(|v| total.checked_add(v))
                    .ok_or_else(|| "duration out of range".to_string())?;
            }
        }
        Ok(Self(total))
    }

    /// Milliseconds.
    pub fn millis(self) -> i64 {
        self.0
    }
}

impl fmt::Display for PromDuration {
    /// `model.Duration.String()`: `1h3m`, `0s`, `1d`, `500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.0;
        if ms == 0 {
            return f.write_str("0s");
        }
        if ms < 0 {
            f.write_str("-")?;
            ms = -ms;
        }
        for (unit_ms, unit) in UNITS {
            let n = ms / unit_ms;
            if n > 0 {
                write!(f, "{n}{unit}")?;
                ms -= n * unit_ms;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_and_prints_like_prometheus() {
        for (text, ms, printed) in [
            ("0", 0, "0s"),
            ("0s", 0, "0s"),
            ("1h3m", 3_780_000, "1h3m"),
            ("90s", 90_000, "1m30s"),
            ("1d", 86_400_000, "1d"),
            ("2w", 14 * 86_400_000, "2w"),
            ("500ms", 500, "500ms"),
            ("1y", 365 * 86_400_000, "1y"),
        ] {
            let d = PromDuration::parse(text).unwrap();
            assert_eq!(d.millis(), ms, "{text}");
            assert_eq!(d.to_string(), printed, "{text}");
        }
        for bad in ["", "1", "1.5m", "-1m", "5 m", "1m1h", "abc"] {
            assert!(PromDuration::parse(bad).is_err(), "{bad}");
        }
    }
}
