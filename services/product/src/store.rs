//! The product service's queries over its own database (SQLite or PostgreSQL).
//!
//! All SQL is portable except the full-text search clause, chosen by [`Store::dialect`].
//! Functions take validated values from [`crate::model`] and return the API's views. Every
//! write to a product also writes its catalog event (`product.created`, `product.updated`,
//! `product.deleted`) into the outbox in the same transaction.

use ballast_kit::events::catalog::{Payload, ProductCreated, ProductDeleted, ProductUpdated};
use ballast_kit::events::{Event, outbox};
use ballast_kit::store::{Dialect, Store, millis_to_rfc3339, now_millis};
use sqlx::AnyConnection;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe, Row};

use crate::domain::{Page, average_rating};
use crate::model::{
    CategoryRef, CategoryView, NewCategory, NewProduct, NewReview, PriceView, ProductView,
    RatingView, ReviewView,
};
use crate::search;

/// The columns every product query selects, joined with its category.
const PRODUCT_COLUMNS: &str = "p.id, p.sku, p.name, p.description, p.price_minor, p.currency, \
     p.weight_grams, p.rating_sum, p.rating_count, p.created_at, p.updated_at, \
     c.id AS category_id, c.slug AS category_slug, c.name AS category_name";

/// What `GET /v1/products` filters on (already validated).
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    /// Normalised search text.
    pub search: Option<String>,
    /// A category slug or id.
    pub category: Option<String>,
    /// Lowest price in minor units, inclusive.
    pub min_price: Option<i64>,
    /// Highest price in minor units, inclusive.
    pub max_price: Option<i64>,
}

/// The result of adding a review.
#[derive(Debug)]
pub enum ReviewOutcome {
    /// Stored; the product's rating is updated.
    Added(ReviewView),
    /// The product does not exist.
    NoSuchProduct,
    /// This user already reviewed this product.
    AlreadyReviewed,
}

/// A value bound to a dynamically built statement.
#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

/// A statement being built with numbered `$n` placeholders.
#[derive(Debug, Default)]
struct Statement {
    binds: Vec<Bind>,
}

impl Statement {
    /// Records a value and answers its placeholder.
    fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    /// The query for `sql` with every recorded value bound in order.
    fn query<'q>(&self, sql: String) -> Query<'q, Any, AnyArguments> {
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for bind in &self.binds {
            query = match bind {
                Bind::Text(text) => query.bind(text.clone()),
                Bind::Int(int) => query.bind(*int),
            };
        }
        query
    }
}

fn product_from_row(row: &AnyRow) -> Result<ProductView, sqlx::Error> {
    let rating_sum: i64 = row.try_get("rating_sum")?;
    let rating_count: i64 = row.try_get("rating_count")?;
    Ok(ProductView {
        id: row.try_get("id")?,
        sku: row.try_get("sku")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        category: CategoryRef {
            id: row.try_get("category_id")?,
            slug: row.try_get("category_slug")?,
            name: row.try_get("category_name")?,
        },
        price: PriceView {
            amount_minor: row.try_get("price_minor")?,
            currency: row.try_get("currency")?,
        },
        weight_grams: row.try_get("weight_grams")?,
        rating: RatingView {
            average: average_rating(rating_sum, rating_count),
            count: rating_count,
        },
        created_at: millis_to_rfc3339(row.try_get("created_at")?),
        updated_at: millis_to_rfc3339(row.try_get("updated_at")?),
    })
}

fn review_from_row(row: &AnyRow) -> Result<ReviewView, sqlx::Error> {
    Ok(ReviewView {
        id: row.try_get("id")?,
        product_id: row.try_get("product_id")?,
        user_id: row.try_get("user_id")?,
        rating: row.try_get("rating")?,
        title: row.try_get("title")?,
        body: row.try_get("body")?,
        created_at: millis_to_rfc3339(row.try_get("created_at")?),
    })
}

/// A new time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Every category with its product count, by name.
pub async fn list_categories(store: &Store) -> Result<Vec<CategoryView>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.id, c.slug, c.name, CAST(COUNT(p.id) AS BIGINT) AS product_count
         FROM categories c LEFT JOIN products p ON p.category_id = c.id
         GROUP BY c.id, c.slug, c.name
         ORDER BY c.name, c.id",
    )
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(CategoryView {
                id: row.try_get("id")?,
                slug: row.try_get("slug")?,
                name: row.try_get("name")?,
                product_count: row.try_get("product_count")?,
            })
        })
        .collect()
}

/// Stores a new category (a taken slug is a unique violation).
pub async fn insert_category(
    store: &Store,
    category: &NewCategory,
) -> Result<CategoryView, sqlx::Error> {
    let id = new_id();
    sqlx::query("INSERT INTO categories (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&id)
        .bind(category.slug.as_str())
        .bind(&category.name)
        .bind(now_millis())
        .execute(store.pool())
        .await?;
    Ok(CategoryView {
        id,
        slug: category.slug.as_str().to_owned(),
        name: category.name.clone(),
        product_count: 0,
    })
}

/// The category named by slug or id, if any.
pub async fn find_category(
    store: &Store,
    slug_or_id: &str,
) -> Result<Option<CategoryRef>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, slug, name FROM categories WHERE slug = $1 OR id = $2 ORDER BY slug = $3 DESC",
    )
    .bind(slug_or_id.to_ascii_lowercase())
    .bind(slug_or_id)
    .bind(slug_or_id.to_ascii_lowercase())
    .fetch_optional(store.pool())
    .await?;
    row.map(|row| {
        Ok(CategoryRef {
            id: row.try_get("id")?,
            slug: row.try_get("slug")?,
            name: row.try_get("name")?,
        })
    })
    .transpose()
}

/// One page of the products matching `filter` and the total number matching: by relevance
/// when searching, otherwise by name.
pub async fn list_products(
    store: &Store,
    filter: &ProductFilter,
    page: Page,
) -> Result<(Vec<ProductView>, i64), sqlx::Error> {
    let mut statement = Statement::default();
    let mut from = String::from("products p JOIN categories c ON c.id = p.category_id");
    let mut conditions: Vec<String> = Vec::new();
    let mut order = String::from("p.name, p.id");
    if let Some(text) = &filter.search {
        match store.dialect() {
            Dialect::Sqlite => {
                let matched = statement.bind(Bind::Text(search::fts5_query(text)));
                from.push_str(&format!(
                    " JOIN (SELECT product_id, rank AS score FROM products_fts \
                     WHERE products_fts MATCH {matched}) s ON s.product_id = p.id"
                ));
                order = format!("s.score, {order}");
            }
            Dialect::Postgres => {
                let query = statement.bind(Bind::Text(text.clone()));
                from.push_str(&format!(
                    " CROSS JOIN websearch_to_tsquery('english', {query}) AS tsq"
                ));
                conditions.push("p.search @@ tsq".into());
                order = format!("ts_rank(p.search, tsq) DESC, {order}");
            }
        }
    }
    if let Some(category) = &filter.category {
        let slug = statement.bind(Bind::Text(category.to_ascii_lowercase()));
        let id = statement.bind(Bind::Text(category.clone()));
        conditions.push(format!("(c.slug = {slug} OR c.id = {id})"));
    }
    if let Some(min) = filter.min_price {
        conditions.push(format!(
            "p.price_minor >= {}",
            statement.bind(Bind::Int(min))
        ));
    }
    if let Some(max) = filter.max_price {
        conditions.push(format!(
            "p.price_minor <= {}",
            statement.bind(Bind::Int(max))
        ));
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };

    let count_sql = format!("SELECT CAST(COUNT(*) AS BIGINT) AS total FROM {from}{where_clause}");
    let total: i64 = statement
        .query(count_sql)
        .fetch_one(store.pool())
        .await?
        .try_get("total")?;

    let limit = statement.bind(Bind::Int(page.limit()));
    let offset = statement.bind(Bind::Int(page.offset()));
    let list_sql = format!(
        "SELECT {PRODUCT_COLUMNS} FROM {from}{where_clause} ORDER BY {order} \
         LIMIT {limit} OFFSET {offset}"
    );
    let rows = statement.query(list_sql).fetch_all(store.pool()).await?;
    let items = rows
        .iter()
        .map(product_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, total))
}

/// The product with `id`, if any.
pub async fn get_product(store: &Store, id: &str) -> Result<Option<ProductView>, sqlx::Error> {
    let sql = format!(
        "SELECT {PRODUCT_COLUMNS} FROM products p JOIN categories c ON c.id = p.category_id \
         WHERE p.id = $1"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(store.pool())
        .await?;
    row.as_ref().map(product_from_row).transpose()
}

/// A product write that failed: the database, or writing its catalog event to the outbox.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The database refused the change (a taken SKU is a unique violation: 409).
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The change's event could not be written to the outbox (500; the change rolled back).
    #[error("writing the catalog event: {0:#}")]
    Outbox(#[source] anyhow::Error),
}

impl From<WriteError> for ballast_kit::error::ApiError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::Database(e) => e.into(),
            WriteError::Outbox(e) => Self::Internal(e),
        }
    }
}

/// A write transaction: `BEGIN IMMEDIATE` on SQLite, so it queues behind another writer (the
/// outbox relay) instead of failing with "database is locked"; a plain one on PostgreSQL.
async fn begin_write(store: &Store) -> Result<sqlx::Transaction<'static, Any>, sqlx::Error> {
    match store.dialect() {
        Dialect::Sqlite => store.pool().begin_with("BEGIN IMMEDIATE").await,
        Dialect::Postgres => store.pool().begin().await,
    }
}

/// Writes one catalog event into the outbox on `conn` (the change's own transaction).
async fn emit<T: Payload>(
    conn: &mut AnyConnection,
    product_id: &str,
    payload: &T,
) -> Result<(), WriteError> {
    let event = Event::of(product_id, payload).map_err(WriteError::Outbox)?;
    outbox::enqueue(conn, &event)
        .await
        .map_err(WriteError::Outbox)
}

/// Stores a new product in `category` (a taken SKU is a unique violation) and announces it
/// (`product.created`, with no initial stock) in the same transaction.
pub async fn insert_product(
    store: &Store,
    product: &NewProduct,
    category: &CategoryRef,
) -> Result<ProductView, WriteError> {
    let id = new_id();
    let now = now_millis();
    let mut tx = begin_write(store).await?;
    sqlx::query(
        "INSERT INTO products (id, sku, name, description, category_id, price_minor, currency, \
         weight_grams, rating_sum, rating_count, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, $9, $10)",
    )
    .bind(&id)
    .bind(product.sku.as_str())
    .bind(&product.name)
    .bind(&product.description)
    .bind(&category.id)
    .bind(product.price.minor)
    .bind(product.price.currency.as_str())
    .bind(product.weight_grams)
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let created = ProductCreated {
        product_id: id.clone(),
        sku: product.sku.as_str().to_owned(),
        name: product.name.clone(),
        price_minor: product.price.minor,
        currency: product.price.currency.as_str().to_owned(),
        weight_grams: product.weight_grams,
        initial_stock: 0,
    };
    emit(&mut tx, &id, &created).await?;
    tx.commit().await?;
    Ok(get_product(store, &id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?)
}

/// Replaces every editable field of product `id` and announces it (`product.updated`) in the
/// same transaction; `None` when it does not exist.
pub async fn update_product(
    store: &Store,
    id: &str,
    product: &NewProduct,
    category: &CategoryRef,
) -> Result<Option<ProductView>, WriteError> {
    let mut tx = begin_write(store).await?;
    let result = sqlx::query(
        "UPDATE products SET sku = $1, name = $2, description = $3, category_id = $4, \
         price_minor = $5, currency = $6, weight_grams = $7, updated_at = $8 WHERE id = $9",
    )
    .bind(product.sku.as_str())
    .bind(&product.name)
    .bind(&product.description)
    .bind(&category.id)
    .bind(product.price.minor)
    .bind(product.price.currency.as_str())
    .bind(product.weight_grams)
    .bind(now_millis())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if result.rows_affected() == 0 {
        return Ok(None);
    }
    let updated = ProductUpdated {
        product_id: id.to_owned(),
        name: product.name.clone(),
        price_minor: product.price.minor,
        currency: product.price.currency.as_str().to_owned(),
        weight_grams: product.weight_grams,
    };
    emit(&mut tx, id, &updated).await?;
    tx.commit().await?;
    Ok(get_product(store, id).await?)
}

/// Deletes product `id` and its reviews and announces it (`product.deleted`), in one
/// transaction; whether it existed.
pub async fn delete_product(store: &Store, id: &str) -> Result<bool, WriteError> {
    let mut tx = begin_write(store).await?;
    sqlx::query("DELETE FROM reviews WHERE product_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let deleted = sqlx::query("DELETE FROM products WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Ok(false);
    }
    let event = ProductDeleted {
        product_id: id.to_owned(),
    };
    emit(&mut tx, id, &event).await?;
    tx.commit().await?;
    Ok(true)
}

/// Whether product `id` exists.
pub async fn product_exists(store: &Store, id: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT CAST(1 AS BIGINT) FROM products WHERE id = $1")
            .bind(id)
            .fetch_optional(store.pool())
            .await?;
    Ok(found.is_some())
}

/// One page of a product's reviews, newest first, and how many it has.
pub async fn list_reviews(
    store: &Store,
    product_id: &str,
    page: Page,
) -> Result<(Vec<ReviewView>, i64), sqlx::Error> {
    let total: i64 =
        sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM reviews WHERE product_id = $1")
            .bind(product_id)
            .fetch_one(store.pool())
            .await?;
    let rows = sqlx::query(
        "SELECT id, product_id, user_id, rating, title, body, created_at FROM reviews \
         WHERE product_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
    )
    .bind(product_id)
    .bind(page.limit())
    .bind(page.offset())
    .fetch_all(store.pool())
    .await?;
    let items = rows
        .iter()
        .map(review_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, total))
}

/// Adds `user_id`'s review of `product_id` and folds its rating into the product's rating sum
/// and count, in one transaction.
pub async fn add_review(
    store: &Store,
    product_id: &str,
    user_id: &str,
    review: &NewReview,
) -> Result<ReviewOutcome, sqlx::Error> {
    let mut tx = begin_write(store).await?;
    // The increment comes first: it locks the product row (PostgreSQL) and tells whether it
    // exists; a duplicate review then fails the insert and the whole transaction rolls back.
    let updated = sqlx::query(
        "UPDATE products SET rating_sum = rating_sum + $1, rating_count = rating_count + 1 \
         WHERE id = $2",
    )
    .bind(review.rating.stars())
    .bind(product_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(ReviewOutcome::NoSuchProduct);
    }
    let view = ReviewView {
        id: new_id(),
        product_id: product_id.to_owned(),
        user_id: user_id.to_owned(),
        rating: review.rating.stars(),
        title: review.title.clone(),
        body: review.body.clone(),
        created_at: String::new(),
    };
    let created_at = now_millis();
    let inserted = sqlx::query(
        "INSERT INTO reviews (id, product_id, user_id, rating, title, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&view.id)
    .bind(&view.product_id)
    .bind(&view.user_id)
    .bind(view.rating)
    .bind(&view.title)
    .bind(&view.body)
    .bind(created_at)
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Ok(ReviewOutcome::AlreadyReviewed);
        }
        Err(e) => return Err(e),
    }
    tx.commit().await?;
    Ok(ReviewOutcome::Added(ReviewView {
        created_at: millis_to_rfc3339(created_at),
        ..view
    }))
}
