//! Shipment statuses and how they move (pure): `label_created → in_transit → delivered`, then
//! `returned` on request; `cancelled` only from `label_created`.

use std::time::Duration;

/// Where a shipment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShipmentStatus {
    /// The label is printed; the carrier has not picked it up. Cancellable.
    LabelCreated,
    /// With the carrier.
    InTransit,
    /// At the recipient. A return may be requested.
    Delivered,
    /// Sent back by the recipient.
    Returned,
    /// Cancelled before pickup (the order was cancelled).
    Cancelled,
}

impl ShipmentStatus {
    /// Every status, in life order.
    pub const ALL: [Self; 5] = [
        Self::LabelCreated,
        Self::InTransit,
        Self::Delivered,
        Self::Returned,
        Self::Cancelled,
    ];

    /// The stored and published name (`label_created`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LabelCreated => "label_created",
            Self::InTransit => "in_transit",
            Self::Delivered => "delivered",
            Self::Returned => "returned",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// A line for the tracking history.
    pub fn detail(self) -> &'static str {
        match self {
            Self::LabelCreated => "Shipping label created",
            Self::InTransit => "Picked up by the carrier",
            Self::Delivered => "Delivered",
            Self::Returned => "Return requested by the recipient",
            Self::Cancelled => "Cancelled before pickup",
        }
    }
}

/// When the carrier moves shipments on: how long a label waits for pickup, and how long a
/// shipment is in transit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// `label_created` → `in_transit` this long after the label.
    pub in_transit_after: Duration,
    /// `in_transit` → `delivered` this long after pickup.
    pub delivered_after: Duration,
}

impl Schedule {
    /// The status a shipment in `status` since `since` (Unix ms) moves to at `now`, if any.
    pub fn next(&self, status: ShipmentStatus, since: i64, now: i64) -> Option<ShipmentStatus> {
        let (wait, next) = self.step(status)?;
        (now.saturating_sub(since) >= millis(wait)).then_some(next)
    }

    /// The timed step out of `status`: how long it waits and where it goes.
    pub fn step(&self, status: ShipmentStatus) -> Option<(Duration, ShipmentStatus)> {
        match status {
            ShipmentStatus::LabelCreated => {
                Some((self.in_transit_after, ShipmentStatus::InTransit))
            }
            ShipmentStatus::InTransit => Some((self.delivered_after, ShipmentStatus::Delivered)),
            ShipmentStatus::Delivered | ShipmentStatus::Returned | ShipmentStatus::Cancelled => {
                None
            }
        }
    }
}

/// A duration in whole milliseconds, saturating.
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A new carrier tracking number: `BL` and 16 upper-case hex digits (random, so unique in
/// practice; the column is UNIQUE besides).
pub fn tracking_number() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    format!("BL{}", &random[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULE: Schedule = Schedule {
        in_transit_after: Duration::from_secs(30),
        delivered_after: Duration::from_secs(60),
    };

    #[test]
    fn statuses_round_trip() {
        for status in ShipmentStatus::ALL {
            assert_eq!(ShipmentStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ShipmentStatus::parse("lost"), None);
    }

    #[test]
    fn shipments_move_on_when_their_time_is_up() {
        use ShipmentStatus::*;
        assert_eq!(SCHEDULE.next(LabelCreated, 0, 29_999), None);
        assert_eq!(SCHEDULE.next(LabelCreated, 0, 30_000), Some(InTransit));
        assert_eq!(SCHEDULE.next(InTransit, 30_000, 89_999), None);
        assert_eq!(SCHEDULE.next(InTransit, 30_000, 90_000), Some(Delivered));
        for done in [Delivered, Returned, Cancelled] {
            assert_eq!(SCHEDULE.next(done, 0, i64::MAX), None);
        }
    }

    #[test]
    fn tracking_numbers_are_distinct() {
        let a = tracking_number();
        assert_eq!(a.len(), 18);
        assert!(a.starts_with("BL"));
        assert_ne!(a, tracking_number());
    }
}
