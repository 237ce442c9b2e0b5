//! Shipping quotes (pure): a rate table by weight band and zone, where the zone comes from the
//! destination country as seen from the warehouse in the US.
//!
//! | band | domestic (US) | near (CA, MX) | far (elsewhere) |
//! | --- | ---: | ---: | ---: |
//! | up to 0.5 kg | 5.99 | 12.99 | 24.99 |
//! | up to 2 kg | 8.99 | 17.99 | 34.99 |
//! | up to 5 kg | 12.99 | 25.99 | 49.99 |
//! | up to 20 kg | 24.99 | 44.99 | 89.99 |
//! | up to 70 kg | 49.99 | 89.99 | 159.99 |
//!
//! Standard service takes 3, 6 or 10 days by zone. Heavier parcels are not shipped.

/// The heaviest parcel quoted, in grams.
pub const MAX_WEIGHT_GRAMS: i64 = 70_000;

/// The currency of every rate.
pub const CURRENCY: &str = "USD";

/// The only service level offered.
pub const STANDARD: &str = "standard";

/// Upper weight bound (grams, inclusive) of each band.
const BANDS: [i64; 5] = [500, 2_000, 5_000, 20_000, MAX_WEIGHT_GRAMS];

/// How far a destination is from the warehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The United States.
    Domestic,
    /// Canada and Mexico.
    Near,
    /// Anywhere else.
    Far,
}

impl Zone {
    /// The zone of an ISO 3166-1 alpha-2 country code (upper case).
    pub fn of(country: &Country) -> Self {
        match country.as_str() {
            "US" => Self::Domestic,
            "CA" | "MX" => Self::Near,
            _ => Self::Far,
        }
    }

    /// Rates per band, in US cents.
    fn rates(self) -> [i64; 5] {
        match self {
            Self::Domestic => [599, 899, 1_299, 2_499, 4_999],
            Self::Near => [1_299, 1_799, 2_599, 4_499, 8_999],
            Self::Far => [2_499, 3_499, 4_999, 8_999, 15_999],
        }
    }

    /// Days in transit with standard service.
    fn days(self) -> i64 {
        match self {
            Self::Domestic => 3,
            Self::Near => 6,
            Self::Far => 10,
        }
    }
}

/// A request field that fails validation: which one and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    /// The field, as the client wrote it (`destination.country`).
    pub field: &'static str,
    /// Why.
    pub reason: &'static str,
}

fn invalid(field: &'static str, reason: &'static str) -> Invalid {
    Invalid { field, reason }
}

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Country(String);

impl Country {
    /// Two ASCII letters, any case.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let text = text.trim();
        if text.len() == 2 && text.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(text.to_ascii_uppercase()))
        } else {
            Err(invalid(
                "destination.country",
                "must be a two-letter ISO 3166-1 country code",
            ))
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A postal code: 1 to 16 letters, digits, spaces or hyphens, with at least one of the
/// first two.
pub fn postal_code(text: &str) -> Result<String, Invalid> {
    let text = text.trim();
    let allowed = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-');
    if text.is_empty()
        || text.len() > 16
        || !allowed
        || !text.chars().any(|c| c.is_ascii_alphanumeric())
    {
        return Err(invalid(
            "destination.postal_code",
            "must be 1 to 16 letters, digits, spaces or hyphens",
        ));
    }
    Ok(text.to_ascii_uppercase())
}

/// A parcel weight: 1 g to [`MAX_WEIGHT_GRAMS`].
pub fn weight(grams: i64) -> Result<i64, Invalid> {
    if (1..=MAX_WEIGHT_GRAMS).contains(&grams) {
        Ok(grams)
    } else {
        Err(invalid("weight_grams", "must be between 1 and 70000"))
    }
}

/// A price for a parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    /// Minor units of [`CURRENCY`].
    pub amount_minor: i64,
    /// [`STANDARD`].
    pub service_level: &'static str,
    /// Days to deliver.
    pub estimated_days: i64,
    /// The destination's zone.
    pub zone: Zone,
}

/// The rate for a parcel of `weight_grams` (already checked by [`weight`]) to `country`.
pub fn quote(weight_grams: i64, country: &Country) -> Rate {
    let zone = Zone::of(country);
    let band = BANDS
        .iter()
        .position(|&limit| weight_grams <= limit)
        .unwrap_or(BANDS.len() - 1);
    Rate {
        amount_minor: zone.rates()[band],
        service_level: STANDARD,
        estimated_days: zone.days(),
        zone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn country(code: &str) -> Country {
        Country::parse(code).unwrap()
    }

    #[test]
    fn zones_follow_the_country() {
        assert_eq!(Zone::of(&country("us")), Zone::Domestic);
        assert_eq!(Zone::of(&country("CA")), Zone::Near);
        assert_eq!(Zone::of(&country("mx")), Zone::Near);
        assert_eq!(Zone::of(&country("DE")), Zone::Far);
    }

    #[test]
    fn bands_include_their_upper_bound() {
        let us = country("US");
        assert_eq!(quote(1, &us).amount_minor, 599);
        assert_eq!(quote(500, &us).amount_minor, 599);
        assert_eq!(quote(501, &us).amount_minor, 899);
        assert_eq!(quote(2_000, &us).amount_minor, 899);
        assert_eq!(quote(5_000, &us).amount_minor, 1_299);
        assert_eq!(quote(20_001, &us).amount_minor, 4_999);
        assert_eq!(quote(MAX_WEIGHT_GRAMS, &us).amount_minor, 4_999);
        let far = quote(1_200, &country("JP"));
        assert_eq!((far.amount_minor, far.estimated_days), (3_499, 10));
        assert_eq!(far.service_level, "standard");
    }

    #[test]
    fn rates_grow_with_weight_and_distance() {
        for zone in [Zone::Domestic, Zone::Near, Zone::Far] {
            assert!(zone.rates().windows(2).all(|w| w[0] < w[1]));
        }
        for band in 0..BANDS.len() {
            assert!(Zone::Domestic.rates()[band] < Zone::Near.rates()[band]);
            assert!(Zone::Near.rates()[band] < Zone::Far.rates()[band]);
        }
    }

    #[test]
    fn bad_input_names_its_field() {
        assert_eq!(weight(0).unwrap_err().field, "weight_grams");
        assert_eq!(weight(70_001).unwrap_err().field, "weight_grams");
        assert_eq!(weight(-5).unwrap_err().field, "weight_grams");
        for bad in ["", "U", "USA", "1A", "ü "] {
            assert_eq!(
                Country::parse(bad).unwrap_err().field,
                "destination.country",
                "{bad:?}"
            );
        }
        for bad in ["", "   ", "12345678901234567", "94103;DROP", "--"] {
            assert!(postal_code(bad).is_err(), "{bad:?}");
        }
        assert_eq!(postal_code(" sw1a 1aa ").unwrap(), "SW1A 1AA");
    }
}
