//! Exact arithmetic for targets, error budgets and burn-rate thresholds.
//!
//! Nothing here touches floating point: a target is parsed from its text into a [`Decimal`]
//! (an integer mantissa and a power-of-ten scale), so `99.95` % is exactly 999 500 parts per
//! million, its error budget exactly `0.0005`, the budget of 30 days exactly 21 min 36 s, and
//! the 14.4× page threshold exactly `0.0072`, rendered into PromQL digit for digit.

use std::cmp::Ordering;
use std::fmt;

/// The largest scale (digits after the point) a [`Decimal`] may carry.
const MAX_SCALE: u32 = 30;

/// A non-negative decimal number `mantissa / 10^scale`, exact.
#[derive(Debug, Clone, Copy)]
pub struct Decimal {
    mantissa: u128,
    scale: u32,
}

/// Why a decimal could not be parsed or computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// The text is not a plain decimal number (`12`, `99.95`, `0.0005`).
    #[error("`{0}` is not a plain decimal number")]
    Syntax(String),
    /// The number has more digits than Ballast keeps.
    #[error("`{0}` has too many digits")]
    TooLong(String),
    /// The result would be negative or overflow.
    #[error("arithmetic out of range")]
    OutOfRange,
}

impl Decimal {
    /// Zero.
    pub const ZERO: Decimal = Decimal {
        mantissa: 0,
        scale: 0,
    };
    /// One.
    pub const ONE: Decimal = Decimal {
        mantissa: 1,
        scale: 0,
    };

    /// `mantissa / 10^scale`, normalised.
    pub fn new(mantissa: u128, scale: u32) -> Decimal {
        Decimal { mantissa, scale }.normalized()
    }

    /// An integer.
    pub fn from_int(n: u64) -> Decimal {
        Decimal::new(u128::from(n), 0)
    }

    /// Parses a plain non-negative decimal (`"99.95"`, `"14.4"`, `"6"`, `".5"`); no sign, no
    /// exponent, no floating point involved.
    pub fn parse(text: &str) -> Result<Decimal, DecimalError> {
        let t = text.trim();
        let (int, frac) = match t.split_once('.') {
            Some((i, f)) => (i, f),
            None => (t, ""),
        };
        let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits_ok(int) || !digits_ok(frac) {
            return Err(DecimalError::Syntax(text.to_owned()));
        }
        let frac = frac.trim_end_matches('0');
        let scale =
            u32::try_from(frac.len()).map_err(|_| DecimalError::TooLong(text.to_owned()))?;
        if scale > MAX_SCALE || int.len() + frac.len() > 36 {
            return Err(DecimalError::TooLong(text.to_owned()));
        }
        let mut mantissa: u128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            mantissa = mantissa * 10 + u128::from(b - b'0');
        }
        Ok(Decimal::new(mantissa, scale))
    }

    /// The mantissa (after normalisation).
    pub fn mantissa(&self) -> u128 {
        self.mantissa
    }

    /// The number of digits after the point (after normalisation).
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    fn normalized(mut self) -> Decimal {
        while self.scale > 0 && self.mantissa.is_multiple_of(10) {
            self.mantissa /= 10;
            self.scale -= 1;
        }
        if self.mantissa == 0 {
            self.scale = 0;
        }
        self
    }

    /// The mantissa at a larger scale.
    fn rescaled(&self, scale: u32) -> Option<u128> {
        let up = scale.checked_sub(self.scale)?;
        10u128.checked_pow(up)?.checked_mul(self.mantissa)
    }

    /// Exact product.
    pub fn mul(&self, other: &Decimal) -> Result<Decimal, DecimalError> {
        let mantissa = self
            .mantissa
            .checked_mul(other.mantissa)
            .ok_or(DecimalError::OutOfRange)?;
        let scale = self.scale + other.scale;
        let d = Decimal::new(mantissa, scale);
        if d.scale > MAX_SCALE {
            return Err(DecimalError::OutOfRange);
        }
        Ok(d)
    }

    /// Exact difference; an error if it would be negative.
    pub fn sub(&self, other: &Decimal) -> Result<Decimal, DecimalError> {
        let scale = self.scale.max(other.scale);
        let a = self.rescaled(scale).ok_or(DecimalError::OutOfRange)?;
        let b = other.rescaled(scale).ok_or(DecimalError::OutOfRange)?;
        let m = a.checked_sub(b).ok_or(DecimalError::OutOfRange)?;
        Ok(Decimal::new(m, scale))
    }

    /// `self × 10^-2`: a percentage as a fraction.
    pub fn percent_to_fraction(&self) -> Decimal {
        Decimal::new(self.mantissa, self.scale + 2)
    }

    /// The integer part and whether the number is an integer.
    pub fn as_integer(&self) -> Option<u128> {
        (self.scale == 0).then_some(self.mantissa)
    }

    /// `ceil(self)` as an integer.
    pub fn ceil(&self) -> u128 {
        let d = 10u128.pow(self.scale);
        self.mantissa.div_ceil(d)
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Decimal {}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let scale = self.scale.max(other.scale);
        match (self.rescaled(scale), other.rescaled(scale)) {
            (Some(a), Some(b)) => a.cmp(&b),
            // Only reachable with absurd magnitudes; compare integer parts then.
            _ => (self.mantissa / 10u128.pow(self.scale))
                .cmp(&(other.mantissa / 10u128.pow(other.scale))),
        }
    }
}

impl fmt::Display for Decimal {
    /// Plain digits, no exponent, no trailing zeros: `0.0072`, `14.4`, `1296`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.to_string();
        let scale = self.scale as usize;
        if scale == 0 {
            return f.write_str(&digits);
        }
        if digits.len() > scale {
            let (i, frac) = digits.split_at(digits.len() - scale);
            write!(f, "{i}.{frac}")
        } else {
            write!(f, "0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    }
}

/// An SLO target: the fraction of good events promised, strictly between 0 and 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target(Decimal);

/// Why a target is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not a number.
    #[error(transparent)]
    Number(#[from] DecimalError),
    /// Outside (0 %, 100 %).
    #[error("target {0} must be strictly between 0 % and 100 %")]
    OutOfRange(String),
}

impl Target {
    /// A target written as a percentage (`"99.95"`).
    pub fn from_percent(text: &str) -> Result<Target, TargetError> {
        let d = Decimal::parse(text)?;
        Target::from_fraction_decimal(d.percent_to_fraction(), &format!("{text} %"))
    }

    /// A target written as a fraction (`"0.9995"`).
    pub fn from_fraction(text: &str) -> Result<Target, TargetError> {
        let d = Decimal::parse(text)?;
        Target::from_fraction_decimal(d, text)
    }

    fn from_fraction_decimal(d: Decimal, text: &str) -> Result<Target, TargetError> {
        if d.is_zero() || d >= Decimal::ONE {
            return Err(TargetError::OutOfRange(text.to_owned()));
        }
        Ok(Target(d))
    }

    /// The target as an exact fraction (`0.9995`).
    pub fn fraction(&self) -> Decimal {
        self.0
    }

    /// The target in parts per million, when it is a whole number of them (`999500`).
    pub fn ppm(&self) -> Option<u64> {
        let m = self.0.mul(&Decimal::from_int(1_000_000)).ok()?;
        m.as_integer().and_then(|v| u64::try_from(v).ok())
    }

    /// The target as a percentage, exactly (`99.95`).
    pub fn percent(&self) -> Decimal {
        // Multiplying by 100 cannot overflow: the mantissa is below 10^36 and the scale ≥ 1.
        self.0.mul(&Decimal::from_int(100)).unwrap_or(self.0)
    }

    /// The error budget `1 − target`, exactly (`0.0005`).
    pub fn error_budget(&self) -> Decimal {
        // target < 1, so the difference is positive.
        Decimal::ONE.sub(&self.0).unwrap_or(Decimal::ZERO)
    }

    /// The error-ratio threshold of a burn-rate `factor`: `factor × budget` (`14.4 × 0.0005 =
    /// 0.0072`).
    pub fn burn_threshold(&self, factor: &Decimal) -> Result<Decimal, DecimalError> {
        factor.mul(&self.error_budget())
    }

    /// The budget of a window as time of full outage, in exact seconds (`30d` at 99.95 % is
    /// `1296`, 21 min 36 s).
    pub fn budget_seconds(&self, window_seconds: u64) -> Result<Decimal, DecimalError> {
        Decimal::from_int(window_seconds).mul(&self.error_budget())
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.percent())
    }
}

/// Renders exact seconds as `21m36s` (fractions of a second as `0.5s`, `1m0.25s`).
pub fn format_seconds(seconds: &Decimal) -> String {
    let whole = seconds.mantissa() / 10u128.pow(seconds.scale());
    let frac = seconds
        .sub(&Decimal::new(whole, 0))
        .unwrap_or(Decimal::ZERO);
    let (d, rest) = (whole / 86_400, whole % 86_400);
    let (h, rest) = (rest / 3600, rest % 3600);
    let (m, s) = (rest / 60, rest % 60);
    let mut out = String::new();
    for (v, unit) in [(d, "d"), (h, "h"), (m, "m")] {
        if v > 0 {
            out.push_str(&format!("{v}{unit}"));
        }
    }
    if s > 0 || !frac.is_zero() || out.is_empty() {
        let secs = Decimal::new(s, 0);
        // s < 60 and frac < 1, so the sum is exact and small.
        let total = Decimal::new(
            secs.rescaled(frac.scale()).unwrap_or(0) + frac.mantissa(),
            frac.scale(),
        );
        out.push_str(&format!("{total}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn parses_without_floating_point() {
        assert_eq!(d("99.95"), Decimal::new(9995, 2));
        assert_eq!(d("14.40"), Decimal::new(144, 1));
        assert_eq!(d("6"), Decimal::from_int(6));
        assert_eq!(d(".5").to_string(), "0.5");
        assert_eq!(d("0.000").to_string(), "0");
        for bad in ["", ".", "-1", "1e3", "1.2.3", "abc", " 1 2"] {
            assert!(Decimal::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn target_is_exact_in_ppm() {
        let t = Target::from_percent("99.95").unwrap();
        assert_eq!(t.ppm(), Some(999_500));
        assert_eq!(t.fraction().to_string(), "0.9995");
        assert_eq!(Target::from_fraction("0.9995").unwrap(), t);
        assert_eq!(Target::from_percent("99").unwrap().ppm(), Some(990_000));
        assert_eq!(Target::from_percent("99.99995").unwrap().ppm(), None);
        assert_eq!(t.to_string(), "99.95%");
    }

    #[test]
    fn error_budget_is_exactly_five_ten_thousandths() {
        let t = Target::from_percent("99.95").unwrap();
        let budget = t.error_budget();
        assert_eq!(budget, Decimal::new(5, 4));
        assert_eq!(budget.to_string(), "0.0005");
        // 1e6 − 999500 = 500 ppm.
        assert_eq!(1_000_000 - t.ppm().unwrap(), 500);
        assert_eq!(
            Target::from_percent("99.9")
                .unwrap()
                .error_budget()
                .to_string(),
            "0.001"
        );
    }

    #[test]
    fn thirty_day_budget_is_21m36s() {
        let t = Target::from_percent("99.95").unwrap();
        let secs = t.budget_seconds(30 * 86_400).unwrap();
        assert_eq!(secs, Decimal::from_int(1296));
        assert_eq!(format_seconds(&secs), "21m36s");
        // 99.9 % over 7 days is 10 min 4.8 s.
        let t = Target::from_percent("99.9").unwrap();
        assert_eq!(
            format_seconds(&t.budget_seconds(7 * 86_400).unwrap()),
            "10m4.8s"
        );
    }

    #[test]
    fn burn_thresholds_are_exact() {
        let t = Target::from_percent("99.95").unwrap();
        let cases = [
            ("14.4", "0.0072"),
            ("6", "0.003"),
            ("3", "0.0015"),
            ("1", "0.0005"),
        ];
        for (factor, want) in cases {
            assert_eq!(t.burn_threshold(&d(factor)).unwrap().to_string(), want);
        }
        // The classic floating-point trap: 1 − 0.999 is not 0.001 in f64; here it is.
        let t = Target::from_percent("99.9").unwrap();
        assert_eq!(t.burn_threshold(&d("14.4")).unwrap().to_string(), "0.0144");
        // Full outage time to reach 2 % of a 30-day budget at 14.4× over 1h: 25.92 s.
        let t = Target::from_percent("99.95").unwrap();
        let secs = t
            .burn_threshold(&d("14.4"))
            .unwrap()
            .mul(&Decimal::from_int(3600))
            .unwrap();
        assert_eq!(secs.to_string(), "25.92");
    }

    #[test]
    fn targets_must_be_strictly_between_zero_and_hundred() {
        for bad in ["0", "100", "100.0", "150", "0.000"] {
            assert!(Target::from_percent(bad).is_err(), "{bad}");
        }
        assert!(Target::from_fraction("1").is_err());
        assert!(Target::from_fraction("0.5").is_ok());
    }

    #[test]
    fn arithmetic_orders_and_subtracts() {
        assert!(d("0.0072") > d("0.003"));
        assert_eq!(d("1").sub(&d("0.25")).unwrap().to_string(), "0.75");
        assert!(d("0.25").sub(&d("1")).is_err());
        assert_eq!(d("25.92").ceil(), 26);
        assert_eq!(format_seconds(&Decimal::ZERO), "0s");
        assert_eq!(format_seconds(&Decimal::from_int(90_061)), "1d1h1m1s");
    }
}
