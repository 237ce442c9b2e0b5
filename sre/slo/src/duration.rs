//! Durations as written in specs and PromQL (`5m`, `1h30m`, `30d`, `4w`), in whole seconds.

use std::fmt;

/// A duration in whole seconds, parsed from Prometheus notation and rendered back into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpecDuration(u64);

/// Why a duration could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a duration like 5m, 1h30m, 30d or 4w")]
pub struct DurationError(pub String);

const UNITS: [(&str, u64); 5] = [
    ("w", 604_800),
    ("d", 86_400),
    ("h", 3600),
    ("m", 60),
    ("s", 1),
];

impl SpecDuration {
    /// A duration of `seconds`.
    pub const fn from_secs(seconds: u64) -> SpecDuration {
        SpecDuration(seconds)
    }

    /// A duration of `minutes`.
    pub const fn minutes(minutes: u64) -> SpecDuration {
        SpecDuration(minutes * 60)
    }

    /// A duration of `hours`.
    pub const fn hours(hours: u64) -> SpecDuration {
        SpecDuration(hours * 3600)
    }

    /// A duration of `days`.
    pub const fn days(days: u64) -> SpecDuration {
        SpecDuration(days * 86_400)
    }

    /// Whole seconds.
    pub const fn as_secs(&self) -> u64 {
        self.0
    }

    /// Parses `5m`, `1h30m`, `30d`, `2w`, `90s` (units w, d, h, m, s; largest first).
    pub fn parse(text: &str) -> Result<SpecDuration, DurationError> {
        let err = || DurationError(text.to_owned());
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(err());
        }
        let mut total: u64 = 0;
        let mut last_unit = u64::MAX;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(err());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| err())?;
            rest = &rest[digits..];
            let (unit, size) = UNITS
                .iter()
                .find(|(u, _)| rest.starts_with(u) && !rest.starts_with("ms"))
                .ok_or_else(err)?;
            if *size >= last_unit {
                return Err(err());
            }
            last_unit = *size;
            rest = &rest[unit.len()..];
            total = n
                .checked_mul(*size)
                .and_then(|v| v.checked_add(total))
                .ok_or_else(err)?;
        }
        if total == 0 {
            return Err(err());
        }
        Ok(SpecDuration(total))
    }

    /// The duration as a PromQL range (`30d`, `1h30m`); the same as `Display`.
    pub fn promql(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for SpecDuration {
    /// `5m`, `1h`, `30d`, `1h30m`; weeks are written as days (`14d`), as Sloth and Pyrra do.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (unit, size) in UNITS.iter().skip(1) {
            if rest >= *size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders_prometheus_durations() {
        for (text, secs, shown) in [
            ("5m", 300, "5m"),
            ("1h30m", 5400, "1h30m"),
            ("30d", 2_592_000, "30d"),
            ("4w", 2_419_200, "28d"),
            ("90s", 90, "1m30s"),
            ("1d", 86_400, "1d"),
        ] {
            let d = SpecDuration::parse(text).unwrap();
            assert_eq!(d.as_secs(), secs, "{text}");
            assert_eq!(d.to_string(), shown, "{text}");
        }
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in ["", "5", "m", "5x", "1m1h", "0m", "5ms", "-5m", "1.5h"] {
            assert!(SpecDuration::parse(bad).is_err(), "{bad}");
        }
    }
}
