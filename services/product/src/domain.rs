//! The catalog's validated values: SKUs, slugs, money, ratings and pagination.
//!
//! Each type has a parsing constructor, so a value that reached the store or the domain has
//! already been checked; a failed parse is a [`Invalid`] naming the field, which the API turns
//! into a 422.

use std::fmt;

use ballast_kit::ApiError;
use serde::{Deserialize, Serialize};

/// A value that failed validation: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    /// The field, as the client wrote it.
    pub field: &'static str,
    /// Why it was rejected.
    pub reason: String,
}

impl Invalid {
    /// A validation failure of `field`.
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        ApiError::invalid(invalid.field, invalid.reason)
    }
}

/// A stock keeping unit: 3 to 32 characters of `A-Z`, `0-9` and `-`, starting with a letter or
/// digit; lowercase input is upper-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sku(String);

impl Sku {
    /// Parses and normalises (trims, upper-cases) a SKU.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let sku = text.trim().to_ascii_uppercase();
        if !(3..=32).contains(&sku.len()) {
            return Err(Invalid::new("sku", "must be 3 to 32 characters"));
        }
        if !sku
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(Invalid::new(
                "sku",
                "may contain only letters, digits and '-'",
            ));
        }
        if sku.starts_with('-') || sku.ends_with('-') {
            return Err(Invalid::new("sku", "must not start or end with '-'"));
        }
        Ok(Self(sku))
    }

    /// The SKU text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A category slug: 1 to 64 characters of `a-z`, `0-9` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    /// Parses a slug (trimmed, lower-cased).
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let slug = text.trim().to_ascii_lowercase();
        if !(1..=64).contains(&slug.len()) {
            return Err(Invalid::new("slug", "must be 1 to 64 characters"));
        }
        if !slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            || slug.starts_with('-')
            || slug.ends_with('-')
        {
            return Err(Invalid::new(
                "slug",
                "may contain only a-z, 0-9 and inner '-'",
            ));
        }
        Ok(Self(slug))
    }

    /// The slug text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ISO 4217 currency code: three upper-case ASCII letters (`USD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// The default currency of the catalog.
    pub const USD: Currency = Currency(*b"USD");

    /// Parses a currency code (trimmed, upper-cased).
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let code = text.trim().to_ascii_uppercase();
        match code.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => Ok(Self([*a, *b, *c])),
            _ => Err(Invalid::new(
                "currency",
                "must be an ISO 4217 code of three letters",
            )),
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored (see `parse`), so this never fails.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl Default for Currency {
    fn default() -> Self {
        Self::USD
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Currency::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The largest price the catalog accepts, in minor units (ten billion major units).
pub const MAX_AMOUNT_MINOR: i64 = 1_000_000_000_000;

/// An amount of money in integer minor units (cents) of a currency; never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    /// The amount in minor units.
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// A price: `minor` between 0 and [`MAX_AMOUNT_MINOR`].
    pub fn price(minor: i64, currency: Currency) -> Result<Self, Invalid> {
        if !(0..=MAX_AMOUNT_MINOR).contains(&minor) {
            return Err(Invalid::new(
                "price.amount_minor",
                format!("must be between 0 and {MAX_AMOUNT_MINOR}"),
            ));
        }
        Ok(Self { minor, currency })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        write!(f, "{sign}{}.{:02} {}", abs / 100, abs % 100, self.currency)
    }
}

/// A review rating: a whole number of stars from 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rating(u8);

impl Rating {
    /// Parses a rating of 1 to 5 stars.
    pub fn parse(stars: i64) -> Result<Self, Invalid> {
        match u8::try_from(stars) {
            Ok(value @ 1..=5) => Ok(Self(value)),
            _ => Err(Invalid::new("rating", "must be a whole number from 1 to 5")),
        }
    }

    /// The number of stars.
    pub fn stars(self) -> i64 {
        i64::from(self.0)
    }
}

/// The average of `count` ratings summing to `sum`, rounded to two decimals; `None` unrated.
pub fn average_rating(sum: i64, count: i64) -> Option<f64> {
    if count <= 0 {
        return None;
    }
    // Ratings are at most 5 each, so both fit an f64 exactly for any realistic count.
    let average = sum as f64 / count as f64;
    Some((average * 100.0).round() / 100.0)
}

/// The page size when the client names none.
pub const DEFAULT_PER_PAGE: u32 = 20;
/// The largest page size.
pub const MAX_PER_PAGE: u32 = 100;

/// A page of a listing: `page` from 1, `per_page` from 1 to [`MAX_PER_PAGE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// The 1-based page number.
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
}

impl Page {
    /// Validates the query's `page` and `per_page` (defaults 1 and [`DEFAULT_PER_PAGE`]).
    pub fn parse(page: Option<i64>, per_page: Option<i64>) -> Result<Self, Invalid> {
        let page = match page {
            None => 1,
            Some(p) => u32::try_from(p)
                .ok()
                .filter(|p| *p >= 1 && *p <= 1_000_000)
                .ok_or_else(|| Invalid::new("page", "must be 1 or more"))?,
        };
        let per_page = match per_page {
            None => DEFAULT_PER_PAGE,
            Some(n) => u32::try_from(n)
                .ok()
                .filter(|n| (1..=MAX_PER_PAGE).contains(n))
                .ok_or_else(|| Invalid::new("per_page", format!("must be 1 to {MAX_PER_PAGE}")))?,
        };
        Ok(Self { page, per_page })
    }

    /// The SQL `LIMIT`.
    pub fn limit(&self) -> i64 {
        i64::from(self.per_page)
    }

    /// The SQL `OFFSET`.
    pub fn offset(&self) -> i64 {
        (i64::from(self.page) - 1) * i64::from(self.per_page)
    }
}

/// Checks a required free-text field: trimmed, non-empty, at most `max` characters.
pub fn required_text(field: &'static str, text: &str, max: usize) -> Result<String, Invalid> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    optional_text(field, text, max)
}

/// Checks an optional free-text field: trimmed, at most `max` characters (may be empty).
pub fn optional_text(field: &'static str, text: &str, max: usize) -> Result<String, Invalid> {
    let text = text.trim();
    if text.chars().count() > max {
        return Err(Invalid::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_normalised_and_checked() {
        assert_eq!(
            Sku::parse(" elec-0101 ").map(|s| s.0),
            Ok("ELEC-0101".into())
        );
        assert!(Sku::parse("AB").is_err());
        assert!(Sku::parse("-ABC").is_err());
        assert!(Sku::parse("AB C").is_err());
        assert!(Sku::parse("ÄBC").is_err());
        assert!(Sku::parse(&"A".repeat(33)).is_err());
        assert_eq!(Sku::parse("x").map_err(|e| e.field), Err("sku"));
    }

    #[test]
    fn slugs_are_lowercase_words() {
        assert_eq!(
            Slug::parse("Home-Kitchen").map(|s| s.0),
            Ok("home-kitchen".into())
        );
        assert!(Slug::parse("").is_err());
        assert!(Slug::parse("home kitchen").is_err());
        assert!(Slug::parse("home-").is_err());
    }

    #[test]
    fn currencies_are_three_letters() {
        assert_eq!(
            Currency::parse("eur").map(|c| c.to_string()),
            Ok("EUR".into())
        );
        assert!(Currency::parse("EU").is_err());
        assert!(Currency::parse("EU1").is_err());
        assert!(Currency::parse("EURO").is_err());
        assert_eq!(Currency::default(), Currency::USD);
        let parsed: Currency = serde_json::from_str("\"gbp\"").unwrap();
        assert_eq!(serde_json::to_string(&parsed).unwrap(), "\"GBP\"");
        assert!(serde_json::from_str::<Currency>("\"pounds\"").is_err());
    }

    #[test]
    fn prices_are_non_negative_minor_units() {
        let price = Money::price(129_999, Currency::USD).unwrap();
        assert_eq!(price.to_string(), "1299.99 USD");
        assert_eq!(
            Money::price(5, Currency::USD).unwrap().to_string(),
            "0.05 USD"
        );
        assert!(Money::price(-1, Currency::USD).is_err());
        assert!(Money::price(MAX_AMOUNT_MINOR + 1, Currency::USD).is_err());
    }

    #[test]
    fn ratings_are_one_to_five_stars() {
        for stars in 1..=5 {
            assert_eq!(Rating::parse(stars).unwrap().stars(), stars);
        }
        for bad in [0, 6, -1, 256, i64::MAX] {
            assert_eq!(Rating::parse(bad).map_err(|e| e.field), Err("rating"));
        }
    }

    #[test]
    fn averages_round_to_two_decimals() {
        assert_eq!(average_rating(0, 0), None);
        assert_eq!(average_rating(9, 2), Some(4.5));
        assert_eq!(average_rating(13, 3), Some(4.33));
        assert_eq!(average_rating(5, 1), Some(5.0));
    }

    #[test]
    fn pages_default_and_bound() {
        assert_eq!(
            Page::parse(None, None).unwrap(),
            Page {
                page: 1,
                per_page: DEFAULT_PER_PAGE
            }
        );
        let page = Page::parse(Some(3), Some(25)).unwrap();
        assert_eq!((page.limit(), page.offset()), (25, 50));
        assert_eq!(Page::parse(Some(0), None).map_err(|e| e.field), Err("page"));
        assert_eq!(
            Page::parse(None, Some(0)).map_err(|e| e.field),
            Err("per_page")
        );
        assert_eq!(
            Page::parse(None, Some(101)).map_err(|e| e.field),
            Err("per_page")
        );
        assert!(Page::parse(None, Some(100)).is_ok());
    }

    #[test]
    fn text_fields_are_trimmed_and_bounded() {
        assert_eq!(required_text("name", "  Lamp ", 10), Ok("Lamp".into()));
        assert!(required_text("name", "   ", 10).is_err());
        assert!(required_text("name", "abcdefghijk", 10).is_err());
        assert_eq!(optional_text("body", "", 10), Ok(String::new()));
    }
}
