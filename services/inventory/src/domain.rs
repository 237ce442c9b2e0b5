//! Plain data and pure rules of inventory: reservation statuses, the reasons it reports, and
//! how an order's lines become the per-product quantities a reservation holds.

use std::collections::BTreeMap;
use std::fmt;

use ballast_kit::events::catalog::Line;

/// The largest quantity one restock may add.
pub const MAX_RESTOCK: i64 = 1_000_000;

/// Why a reserve was refused: not enough available stock.
pub const OUT_OF_STOCK: &str = "out_of_stock";
/// Why a reserve was refused: a line names a product inventory does not know.
pub const UNKNOWN_PRODUCT: &str = "unknown_product";
/// Why a reserve was refused: no lines, or a quantity below 1.
pub const INVALID_LINES: &str = "invalid_lines";
/// Why a commit was refused: the reservation expired or never existed.
pub const RESERVATION_EXPIRED: &str = "reservation_expired";
/// Why a commit was refused: the reservation was released (compensation or cancellation).
pub const RESERVATION_RELEASED: &str = "reservation_released";
/// Why a commit was refused: the reserve itself was rejected.
pub const RESERVATION_REJECTED: &str = "reservation_rejected";
/// The reason on `inventory.released` when the sweeper (or a late commit) expires a hold.
pub const EXPIRED: &str = "expired";

/// Where a reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationStatus {
    /// Stock is held (`available` moved to `reserved`) until `expires_at`.
    Held,
    /// The held stock is sold (`reserved` moved to `sold`).
    Committed,
    /// The stock went back to `available` on request (compensation or cancellation).
    Released,
    /// The hold ran past `expires_at` and its stock went back to `available`.
    Expired,
    /// The reserve was refused; nothing was ever held.
    Rejected,
}

impl ReservationStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Committed => "committed",
            Self::Released => "released",
            Self::Expired => "expired",
            Self::Rejected => "rejected",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "held" => Some(Self::Held),
            "committed" => Some(Self::Committed),
            "released" => Some(Self::Released),
            "expired" => Some(Self::Expired),
            "rejected" => Some(Self::Rejected),
            _ => None,
        }
    }
}

impl fmt::Display for ReservationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An order's lines as quantities per product, sorted by product id (so concurrent
/// reservations lock stock rows in the same order), or `None` when a line is invalid
/// (no lines, an empty product id, a quantity below 1, or a total that overflows).
pub fn merge_lines(lines: &[Line]) -> Option<Vec<(String, i64)>> {
    if lines.is_empty() {
        return None;
    }
    let mut merged: BTreeMap<&str, i64> = BTreeMap::new();
    for line in lines {
        if line.quantity < 1 || line.product_id.is_empty() {
            return None;
        }
        let entry = merged.entry(line.product_id.as_str()).or_default();
        *entry = entry.checked_add(line.quantity)?;
    }
    Some(
        merged
            .into_iter()
            .map(|(product, quantity)| (product.to_owned(), quantity))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(product_id: &str, quantity: i64) -> Line {
        Line {
            product_id: product_id.into(),
            quantity,
        }
    }

    #[test]
    fn lines_merge_per_product_in_product_order() {
        let merged = merge_lines(&[line("b", 1), line("a", 2), line("b", 3)]);
        assert_eq!(merged, Some(vec![("a".into(), 2), ("b".into(), 4)]));
    }

    #[test]
    fn invalid_lines_are_refused() {
        assert_eq!(merge_lines(&[]), None);
        assert_eq!(merge_lines(&[line("a", 0)]), None);
        assert_eq!(merge_lines(&[line("a", -1)]), None);
        assert_eq!(merge_lines(&[line("", 1)]), None);
        assert_eq!(merge_lines(&[line("a", i64::MAX), line("a", 1)]), None);
    }

    #[test]
    fn statuses_round_trip() {
        for status in [
            ReservationStatus::Held,
            ReservationStatus::Committed,
            ReservationStatus::Released,
            ReservationStatus::Expired,
            ReservationStatus::Rejected,
        ] {
            assert_eq!(ReservationStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ReservationStatus::parse("sold"), None);
    }
}
