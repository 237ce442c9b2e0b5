//! Validated request values: the idempotency key, an order request (lines, card token, shipping
//! address) and the hash that tells a replayed request from a different one under the same key.

use ballast_kit::events::catalog::{Address, Line};
use serde::Serialize;

use crate::error::OrderError;

/// The most lines one order may have.
pub const MAX_LINES: usize = 50;
/// The largest quantity of one line.
pub const MAX_QUANTITY: i64 = 100;
/// The longest idempotency key.
pub const MAX_KEY_LEN: usize = 128;

/// An `Idempotency-Key` header value: 1 to 128 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses the header value; `None` (header missing) and bad values are 400s.
    pub fn parse(value: Option<&str>) -> Result<Self, OrderError> {
        let value = value.ok_or_else(|| {
            OrderError::BadRequest("the Idempotency-Key header is required".into())
        })?;
        if value.is_empty() || value.len() > MAX_KEY_LEN {
            return Err(OrderError::BadRequest(
                "the Idempotency-Key header must be 1 to 128 characters".into(),
            ));
        }
        if !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(OrderError::BadRequest(
                "the Idempotency-Key header must be visible ASCII characters".into(),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One requested line before validation.
#[derive(Debug, Clone)]
pub struct LineInput<'a> {
    /// Product id.
    pub product_id: &'a str,
    /// Units.
    pub quantity: i64,
}

/// A validated order request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderRequest {
    /// Lines, in the order given, each product once.
    pub lines: Vec<Line>,
    /// The card token for payment.
    pub card_token: String,
    /// Where to ship (trimmed; country upper-cased).
    pub shipping_address: Address,
}

impl OrderRequest {
    /// Validates the parts of a request body.
    pub fn parse(
        lines: &[LineInput<'_>],
        card_token: &str,
        address: &Address,
    ) -> Result<Self, OrderError> {
        if lines.is_empty() {
            return Err(OrderError::invalid(
                "lines",
                "at least one line is required",
            ));
        }
        if lines.len() > MAX_LINES {
            return Err(OrderError::invalid(
                "lines",
                format!("at most {MAX_LINES} lines"),
            ));
        }
        let mut parsed: Vec<Line> = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let product_id = line.product_id.trim();
            if product_id.is_empty() || product_id.len() > 64 {
                return Err(OrderError::invalid(
                    format!("lines[{i}].product_id"),
                    "must be 1 to 64 characters",
                ));
            }
            if !(1..=MAX_QUANTITY).contains(&line.quantity) {
                return Err(OrderError::invalid(
                    format!("lines[{i}].quantity"),
                    format!("must be 1 to {MAX_QUANTITY}"),
                ));
            }
            if parsed.iter().any(|l| l.product_id == product_id) {
                return Err(OrderError::invalid(
                    format!("lines[{i}].product_id"),
                    "each product may appear in one line only",
                ));
            }
            parsed.push(Line {
                product_id: product_id.to_owned(),
                quantity: line.quantity,
            });
        }
        let card_token = card_token.trim();
        if card_token.is_empty() || card_token.len() > 64 {
            return Err(OrderError::invalid(
                "card_token",
                "must be 1 to 64 characters",
            ));
        }
        Ok(Self {
            lines: parsed,
            card_token: card_token.to_owned(),
            shipping_address: parse_address(address)?,
        })
    }

    /// A stable hash of the validated request, stored with its idempotency key.
    pub fn hash(&self) -> String {
        // Serializing plain strings and integers cannot fail; the Debug text is a fallback
        // that still tells requests apart.
        let text = serde_json::to_string(self).unwrap_or_else(|_| format!("{self:?}"));
        format!("{:016x}", fnv1a(text.as_bytes()))
    }
}

fn parse_address(address: &Address) -> Result<Address, OrderError> {
    let field = |name: &str, value: &str, max: usize| -> Result<String, OrderError> {
        let value = value.trim();
        if value.is_empty() || value.chars().count() > max {
            return Err(OrderError::invalid(
                format!("shipping_address.{name}"),
                format!("must be 1 to {max} characters"),
            ));
        }
        Ok(value.to_owned())
    };
    let country = address.country.trim();
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(OrderError::invalid(
            "shipping_address.country",
            "must be an ISO 3166-1 alpha-2 code",
        ));
    }
    Ok(Address {
        name: field("name", &address.name, 200)?,
        line1: field("line1", &address.line1, 200)?,
        city: field("city", &address.city, 100)?,
        postal_code: field("postal_code", &address.postal_code, 20)?,
        country: country.to_ascii_uppercase(),
    })
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn address() -> Address {
        Address {
            name: " Ada ".into(),
            line1: "1 Main St".into(),
            city: "Springfield".into(),
            postal_code: "12345".into(),
            country: "us".into(),
        }
    }

    fn line(product_id: &str, quantity: i64) -> LineInput<'_> {
        LineInput {
            product_id,
            quantity,
        }
    }

    fn field_of(error: OrderError) -> String {
        match error {
            OrderError::Invalid { field, .. } => field,
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn idempotency_key_is_required_and_bounded() {
        assert!(matches!(
            IdempotencyKey::parse(None),
            Err(OrderError::BadRequest(_))
        ));
        assert!(IdempotencyKey::parse(Some("")).is_err());
        assert!(IdempotencyKey::parse(Some(&"k".repeat(129))).is_err());
        assert!(IdempotencyKey::parse(Some("has space")).is_err());
        assert_eq!(
            IdempotencyKey::parse(Some(&"k".repeat(128)))
                .unwrap()
                .as_str()
                .len(),
            128
        );
    }

    #[test]
    fn a_valid_request_is_normalized() {
        let request = OrderRequest::parse(&[line(" p1 ", 2)], " tok_ok ", &address()).unwrap();
        assert_eq!(request.lines[0].product_id, "p1");
        assert_eq!(request.card_token, "tok_ok");
        assert_eq!(request.shipping_address.name, "Ada");
        assert_eq!(request.shipping_address.country, "US");
    }

    #[test]
    fn bad_requests_name_their_field() {
        let a = address();
        let err = |lines: &[LineInput<'_>], token: &str, a: &Address| {
            field_of(OrderRequest::parse(lines, token, a).unwrap_err())
        };
        assert_eq!(err(&[], "tok_ok", &a), "lines");
        assert_eq!(err(&[line("p", 0)], "tok_ok", &a), "lines[0].quantity");
        assert_eq!(err(&[line("p", 101)], "tok_ok", &a), "lines[0].quantity");
        assert_eq!(err(&[line(" ", 1)], "tok_ok", &a), "lines[0].product_id");
        assert_eq!(
            err(&[line("p", 1), line("p", 2)], "tok_ok", &a),
            "lines[1].product_id"
        );
        assert_eq!(err(&[line("p", 1)], "", &a), "card_token");
        let mut bad = address();
        bad.country = "USA".into();
        assert_eq!(err(&[line("p", 1)], "t", &bad), "shipping_address.country");
        let mut bad = address();
        bad.city = "  ".into();
        assert_eq!(err(&[line("p", 1)], "t", &bad), "shipping_address.city");
        let many: Vec<String> = (0..51).map(|i| format!("p{i}")).collect();
        let lines: Vec<LineInput<'_>> = many.iter().map(|p| line(p, 1)).collect();
        assert_eq!(err(&lines, "t", &a), "lines");
    }

    #[test]
    fn the_hash_tells_bodies_apart_and_ignores_formatting() {
        let a = OrderRequest::parse(&[line("p1", 1)], "tok_ok", &address()).unwrap();
        let same = OrderRequest::parse(&[line(" p1", 1)], "tok_ok ", &address()).unwrap();
        let other = OrderRequest::parse(&[line("p1", 2)], "tok_ok", &address()).unwrap();
        assert_eq!(a.hash(), same.hash());
        assert_ne!(a.hash(), other.hash());
        assert_eq!(a.hash().len(), 16);
    }
}
