//! What a user is told about an event (pure): the channel and the rendered subject and body.
//!
//! | event | channel | when |
//! | --- | --- | --- |
//! | `order.created`, `order.confirmed`, `order.failed`, `order.cancelled` | email | always |
//! | `payment.captured`, `payment.declined` | push | always |
//! | `payment.refunded` | email | money went back (a void of an uncaptured charge is silent) |
//! | `shipment.status_changed` | sms | `in_transit`, `delivered` |
//! | `shipment.status_changed` | email | `returned` |
//!
//! `shipment.created` and the other shipment statuses tell the user nothing the order emails
//! do not, so they send nothing.

use ballast_kit::events::catalog::{
    OrderCancelled, OrderConfirmed, OrderCreated, OrderFailed, PaymentCaptured, PaymentDeclined,
    PaymentRefunded, ShipmentStatusChanged,
};

/// How a notification reaches the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// An email.
    Email,
    /// A text message.
    Sms,
    /// A push notification to the app.
    Push,
}

impl Channel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Push => "push",
        }
    }
}

/// A notification to record for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Who it is for.
    pub user_id: String,
    /// How it goes out.
    pub channel: Channel,
    /// The event kind it tells about (`order.confirmed`, `shipment.in_transit`, ...).
    pub kind: String,
    /// The order it is about.
    pub order_id: Option<String>,
    /// Subject (email) or title (push, sms).
    pub subject: String,
    /// The text.
    pub body: String,
}

/// Minor units as a decimal amount with its currency (`59.98 USD`); currencies without minor
/// units (`JPY`, `KRW`) have no decimals; an unknown currency shows the amount alone.
pub fn money(minor: i64, currency: Option<&str>) -> String {
    let code = currency.map(str::to_ascii_uppercase);
    let amount = match code.as_deref() {
        Some("JPY" | "KRW" | "VND" | "CLP" | "ISK") => minor.to_string(),
        _ => {
            let sign = if minor < 0 { "-" } else { "" };
            let abs = minor.unsigned_abs();
            format!("{sign}{}.{:02}", abs / 100, abs % 100)
        }
    };
    match code {
        Some(code) => format!("{amount} {code}"),
        None => amount,
    }
}

/// The first 8 characters of an id, for subjects.
fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// A failure reason in words.
pub fn reason_text(reason: &str) -> String {
    match reason {
        "out_of_stock" => "an item is out of stock".to_owned(),
        "unknown_product" => "an item is no longer sold".to_owned(),
        "payment_declined" | "declined" => "the payment was declined".to_owned(),
        "timeout" => "it could not be completed in time".to_owned(),
        "reservation_expired" => "the items could not be held long enough".to_owned(),
        other => other.replace('_', " "),
    }
}

fn message(
    user_id: &str,
    channel: Channel,
    kind: &str,
    order_id: &str,
    subject: String,
    body: String,
) -> Message {
    Message {
        user_id: user_id.to_owned(),
        channel,
        kind: kind.to_owned(),
        order_id: Some(order_id.to_owned()),
        subject,
        body,
    }
}

/// `order.created`: we have the order.
pub fn order_created(order: &OrderCreated) -> Message {
    let units: i64 = order.lines.iter().map(|l| l.quantity).sum();
    message(
        &order.user_id,
        Channel::Email,
        "order.created",
        &order.order_id,
        format!("We received your order {}", short(&order.order_id)),
        format!(
            "Thank you for your order of {units} item(s), {}. We will email you again once \
             it is confirmed.",
            money(order.total_minor, Some(&order.currency))
        ),
    )
}

/// `order.confirmed`: paid and reserved; shipping next.
pub fn order_confirmed(order: &OrderConfirmed) -> Message {
    message(
        &order.user_id,
        Channel::Email,
        "order.confirmed",
        &order.order_id,
        format!("Your order {} is confirmed", short(&order.order_id)),
        format!(
            "Your payment of {} was received and your order will ship to {}, {}.",
            money(order.total_minor, Some(&order.currency)),
            order.shipping_address.city,
            order.shipping_address.country
        ),
    )
}

/// `order.failed`: nothing was charged (or it was refunded).
pub fn order_failed(order: &OrderFailed) -> Message {
    message(
        &order.user_id,
        Channel::Email,
        "order.failed",
        &order.order_id,
        format!(
            "We could not complete your order {}",
            short(&order.order_id)
        ),
        format!(
            "Your order did not go through because {}. Any payment taken has been returned.",
            reason_text(&order.reason)
        ),
    )
}

/// `order.cancelled`: as the buyer asked.
pub fn order_cancelled(order: &OrderCancelled) -> Message {
    message(
        &order.user_id,
        Channel::Email,
        "order.cancelled",
        &order.order_id,
        format!("Your order {} is cancelled", short(&order.order_id)),
        "Your order was cancelled as you asked. Any payment taken will be refunded.".to_owned(),
    )
}

/// `payment.captured`: the card was charged.
pub fn payment_captured(payment: &PaymentCaptured) -> Message {
    message(
        &payment.user_id,
        Channel::Push,
        "payment.captured",
        &payment.order_id,
        "Payment received".to_owned(),
        format!(
            "We charged {} for order {}.",
            money(payment.amount_minor, Some(&payment.currency)),
            short(&payment.order_id)
        ),
    )
}

/// `payment.declined`: the card was not charged.
pub fn payment_declined(payment: &PaymentDeclined) -> Message {
    message(
        &payment.user_id,
        Channel::Push,
        "payment.declined",
        &payment.order_id,
        "Payment declined".to_owned(),
        format!(
            "Your card was declined for order {} ({}). Nothing was charged.",
            short(&payment.order_id),
            reason_text(&payment.reason)
        ),
    )
}

/// `payment.refunded`: money went back; `None` for a void (nothing had been taken).
pub fn payment_refunded(refund: &PaymentRefunded, currency: Option<&str>) -> Option<Message> {
    (refund.amount_minor > 0).then(|| {
        message(
            &refund.user_id,
            Channel::Email,
            "payment.refunded",
            &refund.order_id,
            format!("Refund for order {}", short(&refund.order_id)),
            format!(
                "We refunded {} to your card. It may take a few days to appear.",
                money(refund.amount_minor, currency)
            ),
        )
    })
}

/// `shipment.status_changed`: a text when the parcel leaves and arrives, an email when its
/// return is recorded; `None` otherwise.
pub fn shipment_status(change: &ShipmentStatusChanged, tracking: Option<&str>) -> Option<Message> {
    let tracking = tracking
        .map(|t| format!(" Tracking number: {t}."))
        .unwrap_or_default();
    let order = short(&change.order_id);
    let (channel, subject, body) = match change.status.as_str() {
        "in_transit" => (
            Channel::Sms,
            "Your parcel is on its way".to_owned(),
            format!("Your parcel for order {order} is on its way.{tracking}"),
        ),
        "delivered" => (
            Channel::Sms,
            "Your parcel was delivered".to_owned(),
            format!("Your parcel for order {order} was delivered.{tracking}"),
        ),
        "returned" => (
            Channel::Email,
            format!("Return recorded for order {order}"),
            "We recorded your return. We will let you know once it reaches us.".to_owned(),
        ),
        _ => return None,
    };
    Some(message(
        &change.user_id,
        channel,
        &format!("shipment.{}", change.status),
        &change.order_id,
        subject,
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_kit::events::catalog::Line;

    #[test]
    fn money_is_formatted_in_major_units() {
        assert_eq!(money(5998, Some("usd")), "59.98 USD");
        assert_eq!(money(5, Some("EUR")), "0.05 EUR");
        assert_eq!(money(1200, Some("JPY")), "1200 JPY");
        assert_eq!(money(-150, None), "-1.50");
    }

    #[test]
    fn orders_are_emailed() {
        let created = order_created(&OrderCreated {
            order_id: "0190abcd-1234".into(),
            user_id: "u-1".into(),
            lines: vec![
                Line {
                    product_id: "a".into(),
                    quantity: 2,
                },
                Line {
                    product_id: "b".into(),
                    quantity: 1,
                },
            ],
            total_minor: 5998,
            currency: "USD".into(),
        });
        assert_eq!(created.channel, Channel::Email);
        assert_eq!(created.kind, "order.created");
        assert_eq!(created.subject, "We received your order 0190abcd");
        assert!(created.body.contains("3 item(s), 59.98 USD"));
        let failed = order_failed(&OrderFailed {
            order_id: "o".into(),
            user_id: "u-1".into(),
            reason: "out_of_stock".into(),
        });
        assert!(failed.body.contains("an item is out of stock"));
    }

    #[test]
    fn payments_push_and_refunds_email_only_real_money() {
        let declined = payment_declined(&PaymentDeclined {
            order_id: "o".into(),
            user_id: "u".into(),
            reason: "card_declined".into(),
        });
        assert_eq!(declined.channel, Channel::Push);
        assert!(declined.body.contains("card declined"));
        let refund = |amount_minor| PaymentRefunded {
            order_id: "o".into(),
            user_id: "u".into(),
            charge_id: "c".into(),
            refund_id: "r".into(),
            amount_minor,
        };
        let refunded = payment_refunded(&refund(1000), Some("USD")).unwrap();
        assert_eq!(refunded.channel, Channel::Email);
        assert!(refunded.body.contains("10.00 USD"));
        assert_eq!(payment_refunded(&refund(0), Some("USD")), None);
    }

    #[test]
    fn parcels_text_when_they_move() {
        let change = |status: &str| ShipmentStatusChanged {
            order_id: "o".into(),
            user_id: "u".into(),
            shipment_id: "s".into(),
            status: status.into(),
        };
        let moving = shipment_status(&change("in_transit"), Some("BL123")).unwrap();
        assert_eq!(moving.channel, Channel::Sms);
        assert_eq!(moving.kind, "shipment.in_transit");
        assert!(moving.body.contains("BL123"));
        assert_eq!(
            shipment_status(&change("delivered"), None).unwrap().channel,
            Channel::Sms
        );
        assert_eq!(
            shipment_status(&change("returned"), None).unwrap().channel,
            Channel::Email
        );
        assert_eq!(shipment_status(&change("label_created"), None), None);
        assert_eq!(shipment_status(&change("cancelled"), None), None);
    }
}
