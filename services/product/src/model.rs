//! The JSON the API speaks: response views and request bodies, with their OpenAPI schemas.
//!
//! Request bodies carry plain strings and numbers; [`ProductInput::validate`] and friends turn
//! them into the validated values of [`crate::domain`], so a bad field is a 422 naming it.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::{Currency, Invalid, Money, Rating, Sku, Slug, optional_text, required_text};

/// The longest product or category name.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest product description or review body.
pub const MAX_TEXT_CHARS: usize = 5000;
/// The heaviest product, in grams (a tonne).
pub const MAX_WEIGHT_GRAMS: i64 = 1_000_000;

/// A category as listed, with the number of products in it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CategoryView {
    /// The category id.
    pub id: String,
    /// The URL-friendly name (`home-kitchen`).
    pub slug: String,
    /// The display name.
    pub name: String,
    /// How many products it holds.
    pub product_count: i64,
}

/// The category a product belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CategoryRef {
    /// The category id.
    pub id: String,
    /// The URL-friendly name.
    pub slug: String,
    /// The display name.
    pub name: String,
}

/// A price in integer minor units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PriceView {
    /// The amount in minor units (cents).
    pub amount_minor: i64,
    /// The ISO 4217 currency code.
    pub currency: String,
}

/// A product's rating summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RatingView {
    /// The mean rating rounded to two decimals; `null` before the first review.
    pub average: Option<f64>,
    /// How many reviews it has.
    pub count: i64,
}

/// A product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProductView {
    /// The product id (a UUID v7).
    pub id: String,
    /// The stock keeping unit.
    pub sku: String,
    /// The display name.
    pub name: String,
    /// The description.
    pub description: String,
    /// Its category.
    pub category: CategoryRef,
    /// Its price.
    pub price: PriceView,
    /// Its shipping weight in grams.
    pub weight_grams: i64,
    /// Its rating summary.
    pub rating: RatingView,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it was last changed (RFC 3339).
    pub updated_at: String,
}

/// A review of a product.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReviewView {
    /// The review id.
    pub id: String,
    /// The product reviewed.
    pub product_id: String,
    /// Who wrote it.
    pub user_id: String,
    /// 1 to 5 stars.
    pub rating: i64,
    /// A one-line summary.
    pub title: String,
    /// The review text.
    pub body: String,
    /// When it was written (RFC 3339).
    pub created_at: String,
}

/// One page of a listing.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Paged<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many items match in all pages.
    pub total: i64,
    /// The 1-based page number.
    pub page: u32,
    /// The page size.
    pub per_page: u32,
}

/// The filters and page of `GET /v1/products`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductQuery {
    /// Full-text search over name, description and SKU; every word must match.
    pub q: Option<String>,
    /// A category slug or id.
    pub category: Option<String>,
    /// The lowest price, in minor units, inclusive.
    pub min_price: Option<i64>,
    /// The highest price, in minor units, inclusive.
    pub max_price: Option<i64>,
    /// The 1-based page (default 1).
    pub page: Option<i64>,
    /// Items per page, 1 to 100 (default 20).
    pub per_page: Option<i64>,
}

/// The page of a plain listing.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The 1-based page (default 1).
    pub page: Option<i64>,
    /// Items per page, 1 to 100 (default 20).
    pub per_page: Option<i64>,
}

/// The body of `POST /v1/categories`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryInput {
    /// The URL-friendly name: a-z, 0-9 and inner `-`.
    pub slug: String,
    /// The display name.
    pub name: String,
}

/// A category ready to store.
#[derive(Debug, Clone)]
pub struct NewCategory {
    /// Its slug.
    pub slug: Slug,
    /// Its display name.
    pub name: String,
}

impl CategoryInput {
    /// Checks the fields.
    pub fn validate(&self) -> Result<NewCategory, Invalid> {
        Ok(NewCategory {
            slug: Slug::parse(&self.slug)?,
            name: required_text("name", &self.name, MAX_NAME_CHARS)?,
        })
    }
}

/// A price as a client writes it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceInput {
    /// The amount in minor units (cents), 0 or more.
    pub amount_minor: i64,
    /// The ISO 4217 currency code (default `USD`).
    #[serde(default)]
    pub currency: Option<String>,
}

/// The body of `POST /v1/products` and `PUT /v1/products/{id}` (a full replacement).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// The SKU: 3 to 32 of A-Z, 0-9 and `-` (upper-cased).
    pub sku: String,
    /// The display name.
    pub name: String,
    /// The description.
    #[serde(default)]
    pub description: String,
    /// The category, by slug or id.
    pub category: String,
    /// The price.
    pub price: PriceInput,
    /// The shipping weight in grams.
    pub weight_grams: i64,
}

/// A product ready to store (its category still named by slug or id).
#[derive(Debug, Clone)]
pub struct NewProduct {
    /// Its SKU.
    pub sku: Sku,
    /// Its display name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its category's slug or id.
    pub category: String,
    /// Its price.
    pub price: Money,
    /// Its weight in grams.
    pub weight_grams: i64,
}

impl ProductInput {
    /// Checks every field.
    pub fn validate(&self) -> Result<NewProduct, Invalid> {
        let currency = match &self.price.currency {
            Some(code) => {
                Currency::parse(code).map_err(|e| Invalid::new("price.currency", e.reason))?
            }
            None => Currency::USD,
        };
        if !(0..=MAX_WEIGHT_GRAMS).contains(&self.weight_grams) {
            return Err(Invalid::new(
                "weight_grams",
                format!("must be between 0 and {MAX_WEIGHT_GRAMS}"),
            ));
        }
        Ok(NewProduct {
            sku: Sku::parse(&self.sku)?,
            name: required_text("name", &self.name, MAX_NAME_CHARS)?,
            description: optional_text("description", &self.description, MAX_TEXT_CHARS)?,
            category: required_text("category", &self.category, 64)?,
            price: Money::price(self.price.amount_minor, currency)?,
            weight_grams: self.weight_grams,
        })
    }
}

/// The body of `POST /v1/products/{id}/reviews`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    /// 1 to 5 stars.
    pub rating: i64,
    /// A one-line summary.
    #[serde(default)]
    pub title: String,
    /// The review text.
    #[serde(default)]
    pub body: String,
}

/// A review ready to store.
#[derive(Debug, Clone)]
pub struct NewReview {
    /// Its rating.
    pub rating: Rating,
    /// Its summary.
    pub title: String,
    /// Its text.
    pub body: String,
}

impl ReviewInput {
    /// Checks every field.
    pub fn validate(&self) -> Result<NewReview, Invalid> {
        Ok(NewReview {
            rating: Rating::parse(self.rating)?,
            title: optional_text("title", &self.title, MAX_NAME_CHARS)?,
            body: optional_text("body", &self.body, MAX_TEXT_CHARS)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ProductInput {
        ProductInput {
            sku: "elec-0001".into(),
            name: " Desk Lamp ".into(),
            description: "Bright.".into(),
            category: "electronics".into(),
            price: PriceInput {
                amount_minor: 2999,
                currency: None,
            },
            weight_grams: 900,
        }
    }

    #[test]
    fn a_valid_product_is_normalised() {
        let product = input().validate().unwrap();
        assert_eq!(product.sku.as_str(), "ELEC-0001");
        assert_eq!(product.name, "Desk Lamp");
        assert_eq!(product.price, Money::price(2999, Currency::USD).unwrap());
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut bad = input();
        bad.price.amount_minor = -5;
        assert_eq!(bad.validate().unwrap_err().field, "price.amount_minor");
        let mut bad = input();
        bad.price.currency = Some("dollars".into());
        assert_eq!(bad.validate().unwrap_err().field, "price.currency");
        let mut bad = input();
        bad.weight_grams = -1;
        assert_eq!(bad.validate().unwrap_err().field, "weight_grams");
        let mut bad = input();
        bad.name = " ".into();
        assert_eq!(bad.validate().unwrap_err().field, "name");
        let mut bad = input();
        bad.sku = "no spaces".into();
        assert_eq!(bad.validate().unwrap_err().field, "sku");
    }

    #[test]
    fn reviews_need_a_valid_rating() {
        let review = ReviewInput {
            rating: 6,
            title: "Great".into(),
            body: String::new(),
        };
        assert_eq!(review.validate().unwrap_err().field, "rating");
    }
}
