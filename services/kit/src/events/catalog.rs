//! The event catalog: every topic, kind and payload that crosses a service boundary.
//!
//! Topics are per domain; commands (asking a service to do something) have their own
//! `*.commands` topic. Everything about one order is keyed by the order id. Money is integer
//! minor units with an ISO 4217 currency.
//!
//! | topic | kinds | producer | consumers |
//! |---|---|---|---|
//! | `catalog` | `product.created`, `product.updated`, `product.deleted` | product | inventory, order |
//! | `orders` | `order.created`, `order.confirmed`, `order.failed`, `order.cancelled` | order | shipping, notification |
//! | `inventory.commands` | `inventory.reserve`, `inventory.commit`, `inventory.release` | order | inventory |
//! | `inventory` | `inventory.reserved`, `inventory.rejected`, `inventory.committed`, `inventory.released` | inventory | order |
//! | `payments.commands` | `payment.charge`, `payment.refund` | order | payment |
//! | `payments` | `payment.captured`, `payment.declined`, `payment.refunded` | payment | order, notification |
//! | `shipping` | `shipment.created`, `shipment.status_changed` | shipping | order, notification |

use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// A payload type: which topic and kind it travels as.
pub trait Payload: Serialize + DeserializeOwned {
    /// The topic.
    const TOPIC: &'static str;
    /// The kind.
    const KIND: &'static str;
}

macro_rules! payload {
    ($type:ty, $topic:expr, $kind:expr) => {
        impl Payload for $type {
            const TOPIC: &'static str = $topic;
            const KIND: &'static str = $kind;
        }
    };
}

/// Topic names.
pub mod topics {
    /// Product lifecycle.
    pub const CATALOG: &str = "catalog";
    /// Order lifecycle.
    pub const ORDERS: &str = "orders";
    /// Commands to inventory.
    pub const INVENTORY_COMMANDS: &str = "inventory.commands";
    /// Inventory outcomes.
    pub const INVENTORY: &str = "inventory";
    /// Commands to payment.
    pub const PAYMENT_COMMANDS: &str = "payments.commands";
    /// Payment outcomes.
    pub const PAYMENTS: &str = "payments";
    /// Shipment lifecycle.
    pub const SHIPPING: &str = "shipping";
}

/// A product as other services need it (price for orders, initial stock for inventory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductCreated {
    /// Product id.
    pub product_id: String,
    /// SKU.
    pub sku: String,
    /// Name, for messages.
    pub name: String,
    /// Unit price, minor units.
    pub price_minor: i64,
    /// ISO 4217.
    pub currency: String,
    /// Shipping weight.
    pub weight_grams: i64,
    /// Stock the inventory starts with (0 for products created through the API).
    pub initial_stock: i64,
}
payload!(ProductCreated, topics::CATALOG, "product.created");

/// A product's sellable fields changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductUpdated {
    /// Product id.
    pub product_id: String,
    /// Name.
    pub name: String,
    /// Unit price, minor units.
    pub price_minor: i64,
    /// ISO 4217.
    pub currency: String,
    /// Shipping weight.
    pub weight_grams: i64,
}
payload!(ProductUpdated, topics::CATALOG, "product.updated");

/// A product was removed from the catalog (no new orders).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductDeleted {
    /// Product id.
    pub product_id: String,
}
payload!(ProductDeleted, topics::CATALOG, "product.deleted");

/// One order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Product id.
    pub product_id: String,
    /// Units.
    pub quantity: i64,
}

/// A shipping address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Address {
    /// Recipient.
    pub name: String,
    /// Street and number.
    pub line1: String,
    /// City.
    pub city: String,
    /// Postal code.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
}

/// An order was accepted and its saga started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderCreated {
    /// Order id.
    pub order_id: String,
    /// Buyer.
    pub user_id: String,
    /// Lines.
    pub lines: Vec<Line>,
    /// Total, minor units.
    pub total_minor: i64,
    /// ISO 4217.
    pub currency: String,
}
payload!(OrderCreated, topics::ORDERS, "order.created");

/// Stock committed and payment captured: the order stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderConfirmed {
    /// Order id.
    pub order_id: String,
    /// Buyer.
    pub user_id: String,
    /// Lines (for the shipment's weight).
    pub lines: Vec<Line>,
    /// Total shipping weight.
    pub weight_grams: i64,
    /// Where to ship.
    pub shipping_address: Address,
    /// Total, minor units.
    pub total_minor: i64,
    /// ISO 4217.
    pub currency: String,
}
payload!(OrderConfirmed, topics::ORDERS, "order.confirmed");

/// The saga failed and was compensated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderFailed {
    /// Order id.
    pub order_id: String,
    /// Buyer.
    pub user_id: String,
    /// Why (`out_of_stock`, `payment_declined`, `timeout`, ...).
    pub reason: String,
}
payload!(OrderFailed, topics::ORDERS, "order.failed");

/// The buyer cancelled before shipment; compensated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderCancelled {
    /// Order id.
    pub order_id: String,
    /// Buyer.
    pub user_id: String,
}
payload!(OrderCancelled, topics::ORDERS, "order.cancelled");

/// Command: hold stock for an order until `expires_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReserveStock {
    /// Order id (also the reservation's idempotency key).
    pub order_id: String,
    /// Lines.
    pub lines: Vec<Line>,
    /// Unix ms after which an uncommitted reservation returns its stock.
    pub expires_at: i64,
}
payload!(
    ReserveStock,
    topics::INVENTORY_COMMANDS,
    "inventory.reserve"
);

/// Command: make an order's reservation permanent (sold).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitStock {
    /// Order id.
    pub order_id: String,
}
payload!(CommitStock, topics::INVENTORY_COMMANDS, "inventory.commit");

/// Command: return an order's reserved (or committed, for a cancellation) stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseStock {
    /// Order id.
    pub order_id: String,
    /// Why.
    pub reason: String,
}
payload!(
    ReleaseStock,
    topics::INVENTORY_COMMANDS,
    "inventory.release"
);

/// Stock is held for the order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockReserved {
    /// Order id.
    pub order_id: String,
}
payload!(StockReserved, topics::INVENTORY, "inventory.reserved");

/// Stock could not be held (nothing was reserved).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockRejected {
    /// Order id.
    pub order_id: String,
    /// Why (`out_of_stock`, `unknown_product`).
    pub reason: String,
}
payload!(StockRejected, topics::INVENTORY, "inventory.rejected");

/// The reservation is now sold stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockCommitted {
    /// Order id.
    pub order_id: String,
}
payload!(StockCommitted, topics::INVENTORY, "inventory.committed");

/// The reservation's stock is available again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockReleased {
    /// Order id.
    pub order_id: String,
    /// Why (`compensation`, `expired`, `cancelled`).
    pub reason: String,
}
payload!(StockReleased, topics::INVENTORY, "inventory.released");

/// Command: charge a card for an order (idempotent by order id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargePayment {
    /// Order id (the charge's idempotency key).
    pub order_id: String,
    /// Buyer.
    pub user_id: String,
    /// Amount, minor units.
    pub amount_minor: i64,
    /// ISO 4217.
    pub currency: String,
    /// Card token of the built-in provider (`tok_ok`, `tok_decline`, `tok_timeout`).
    pub card_token: String,
}
payload!(ChargePayment, topics::PAYMENT_COMMANDS, "payment.charge");

/// Command: refund an order's captured charge (all of it when `amount_minor` is `None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundPayment {
    /// Order id.
    pub order_id: String,
    /// Amount, minor units; `None` refunds what is left.
    pub amount_minor: Option<i64>,
    /// Why.
    pub reason: String,
}
payload!(RefundPayment, topics::PAYMENT_COMMANDS, "payment.refund");

/// The charge succeeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentCaptured {
    /// Order id.
    pub order_id: String,
    /// Buyer.
    pub user_id: String,
    /// Charge id.
    pub charge_id: String,
    /// Amount, minor units.
    pub amount_minor: i64,
    /// ISO 4217.
    pub currency: String,
}
payload!(PaymentCaptured, topics::PAYMENTS, "payment.captured");

/// The card was declined (nothing was charged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentDeclined {
    /// Order id.
    pub order_id: String,
    /// Buyer.
    pub user_id: String,
    /// Why.
    pub reason: String,
}
payload!(PaymentDeclined, topics::PAYMENTS, "payment.declined");

/// Money went back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentRefunded {
    /// Order id.
    pub order_id: String,
    /// Buyer.
    pub user_id: String,
    /// Charge id.
    pub charge_id: String,
    /// Refund id.
    pub refund_id: String,
    /// Amount refunded now, minor units.
    pub amount_minor: i64,
}
payload!(PaymentRefunded, topics::PAYMENTS, "payment.refunded");

/// A shipment was created for a confirmed order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShipmentCreated {
    /// Order id.
    pub order_id: String,
    /// Buyer.
    pub user_id: String,
    /// Shipment id.
    pub shipment_id: String,
    /// Carrier tracking number.
    pub tracking_number: String,
}
payload!(ShipmentCreated, topics::SHIPPING, "shipment.created");

/// A shipment moved (`label_created`, `in_transit`, `delivered`, `returned`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShipmentStatusChanged {
    /// Order id.
    pub order_id: String,
    /// Buyer.
    pub user_id: String,
    /// Shipment id.
    pub shipment_id: String,
    /// New status.
    pub status: String,
}
payload!(
    ShipmentStatusChanged,
    topics::SHIPPING,
    "shipment.status_changed"
);
