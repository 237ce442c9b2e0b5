//! The `charges` and `refunds` tables: at most one charge per order (`order_id UNIQUE`), and
//! every state change a conditional `UPDATE` checked by rows affected.
//!
//! A charge is `pending` until the provider answers (`captured` or `declined`) or a refund
//! command voids it (`voided`, which no late provider answer can undo: settling requires
//! `status = 'pending'`). Refunds add to `refunded_minor`, which a CHECK keeps within the
//! captured amount.

use ballast_kit::events::catalog::ChargePayment;
use ballast_kit::store::{Dialect, Store};
use serde::Serialize;
use sqlx::{AnyConnection, Transaction};

use crate::error::PaymentError;
use crate::provider::{Answer, TokenKind};

/// A charge with every column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Charge {
    /// Charge id.
    pub id: String,
    /// The order it pays (unique).
    pub order_id: String,
    /// The buyer.
    pub user_id: String,
    /// Amount, minor units.
    pub amount_minor: i64,
    /// ISO 4217.
    pub currency: String,
    /// `ok`, `decline`, `timeout`, `other`, `invalid` (the token itself is not kept), or
    /// `none` for the marker a refund leaves for an order that was never charged.
    pub card_token_kind: String,
    /// `pending`, `captured`, `declined` or `voided`.
    pub status: String,
    /// Refunded so far, minor units.
    pub refunded_minor: i64,
    /// Why the provider declined.
    pub decline_reason: Option<String>,
    /// Provider calls so far.
    pub attempts: i64,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last change, Unix ms.
    pub updated_at: i64,
}

/// A refund of (part of) a captured charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Refund {
    /// Refund id.
    pub id: String,
    /// The charge.
    pub charge_id: String,
    /// Amount, minor units (positive).
    pub amount_minor: i64,
    /// Why.
    pub reason: String,
    /// When, Unix ms.
    pub created_at: i64,
}

const COLUMNS: &str = "id, order_id, user_id, amount_minor, currency, card_token_kind, status, \
    refunded_minor, decline_reason, attempts, created_at, updated_at";

/// Opens a write transaction (`BEGIN IMMEDIATE` on SQLite, so it never fails to upgrade).
pub async fn begin_write(store: &Store) -> Result<Transaction<'static, sqlx::Any>, sqlx::Error> {
    match store.dialect() {
        Dialect::Sqlite => store.pool().begin_with("BEGIN IMMEDIATE").await,
        Dialect::Postgres => store.pool().begin().await,
    }
}

/// The charge of `order_id`.
pub async fn by_order(
    conn: &mut AnyConnection,
    order_id: &str,
) -> Result<Option<Charge>, PaymentError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM charges WHERE order_id = $1"
    )))
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Every charge, oldest first.
pub async fn all(store: &Store) -> Result<Vec<Charge>, PaymentError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM charges ORDER BY created_at, id"
    )))
    .fetch_all(store.pool())
    .await?)
}

/// The refunds of a charge, oldest first.
pub async fn refunds_of(
    conn: &mut AnyConnection,
    charge_id: &str,
) -> Result<Vec<Refund>, PaymentError> {
    Ok(sqlx::query_as(
        "SELECT id, charge_id, amount_minor, reason, created_at FROM refunds
         WHERE charge_id = $1 ORDER BY created_at, id",
    )
    .bind(charge_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// What recording a charge command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// A new pending charge.
    New(Charge),
    /// The order already had a charge; nothing changed.
    Existing(Charge),
}

/// Records the charge of `command` as `pending`, unless the order already has one.
pub async fn record_pending(
    conn: &mut AnyConnection,
    command: &ChargePayment,
    now: i64,
) -> Result<Recorded, PaymentError> {
    if command.amount_minor < 0 {
        return Err(PaymentError::Invalid {
            field: "amount_minor",
            reason: "must not be negative".into(),
        });
    }
    let id = uuid::Uuid::now_v7().to_string();
    let inserted = sqlx::query(
        "INSERT INTO charges (id, order_id, user_id, amount_minor, currency, card_token_kind,
             status, refunded_minor, decline_reason, attempts, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, NULL, 0, $7, $7)
         ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(&id)
    .bind(&command.order_id)
    .bind(&command.user_id)
    .bind(command.amount_minor)
    .bind(&command.currency)
    .bind(TokenKind::of(&command.card_token).as_str())
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let charge = by_order(conn, &command.order_id)
        .await?
        .ok_or_else(|| PaymentError::NotFound(command.order_id.clone()))?;
    Ok(if inserted == 1 {
        Recorded::New(charge)
    } else {
        Recorded::Existing(charge)
    })
}

/// Claims a pending charge for one provider call (bumps `attempts` if nobody else did since
/// `charge` was read); false when another caller got there first, it is no longer pending, or
/// a call is already in flight. A charge attempted before is claimed again only once its last
/// attempt is older than `stale_before` (the sweeper's retry of a call lost in a crash); pass
/// `None` to claim only a charge nobody has asked the provider about yet.
pub async fn claim(
    store: &Store,
    charge: &Charge,
    now: i64,
    stale_before: Option<i64>,
) -> Result<bool, PaymentError> {
    let claimed = sqlx::query(
        "UPDATE charges SET attempts = attempts + 1, updated_at = $1
         WHERE id = $2 AND status = 'pending' AND attempts = $3
           AND (attempts = 0 OR updated_at < $4)",
    )
    .bind(now)
    .bind(&charge.id)
    .bind(charge.attempts)
    .bind(stale_before.unwrap_or(i64::MIN))
    .execute(store.pool())
    .await?
    .rows_affected();
    Ok(claimed == 1)
}

/// Applies the provider's answer to a pending charge; the charge as it is now when this call
/// moved it, `None` when it was no longer pending (voided meanwhile, or settled by another
/// caller) or there was no answer.
pub async fn settle(
    conn: &mut AnyConnection,
    charge_id: &str,
    answer: &Answer,
    now: i64,
) -> Result<Option<Charge>, PaymentError> {
    let (status, reason) = match answer {
        Answer::Approved => ("captured", None),
        Answer::Declined(reason) => ("declined", Some(reason.as_str())),
        Answer::NoAnswer => return Ok(None),
    };
    let moved = sqlx::query(
        "UPDATE charges SET status = $1, decline_reason = $2, updated_at = $3
         WHERE id = $4 AND status = 'pending'",
    )
    .bind(status)
    .bind(reason)
    .bind(now)
    .bind(charge_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok(None);
    }
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM charges WHERE id = $1"
    )))
    .bind(charge_id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Voids a pending charge so it can never capture; false when it was no longer pending.
pub async fn void(
    conn: &mut AnyConnection,
    charge_id: &str,
    now: i64,
) -> Result<bool, PaymentError> {
    let voided = sqlx::query(
        "UPDATE charges SET status = 'voided', updated_at = $1 WHERE id = $2 AND status = 'pending'",
    )
    .bind(now)
    .bind(charge_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(voided == 1)
}

/// Leaves a voided, zero-amount marker charge for an order that was never charged, so a late
/// charge command of that order can never capture. Returns the order's charge afterwards.
pub async fn void_unknown(
    conn: &mut AnyConnection,
    order_id: &str,
    now: i64,
) -> Result<Charge, PaymentError> {
    sqlx::query(
        "INSERT INTO charges (id, order_id, user_id, amount_minor, currency, card_token_kind,
             status, refunded_minor, decline_reason, attempts, created_at, updated_at)
         VALUES ($1, $2, '', 0, '', 'none', 'voided', 0, NULL, 0, $3, $3)
         ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(order_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    by_order(conn, order_id)
        .await?
        .ok_or_else(|| PaymentError::NotFound(order_id.to_owned()))
}

/// What a refund of a captured charge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// Money went back.
    Refunded(Refund),
    /// Everything captured was refunded already (or the charge is not captured).
    NothingLeft,
    /// More than what is left was asked for; nothing changed.
    TooMuch {
        /// What could still be refunded.
        remaining: i64,
    },
}

/// Refunds `amount` (everything left when `None`) of a captured charge.
pub async fn refund_captured(
    conn: &mut AnyConnection,
    charge: &Charge,
    amount: Option<i64>,
    reason: &str,
    now: i64,
) -> Result<RefundOutcome, PaymentError> {
    if charge.status != "captured" {
        return Ok(RefundOutcome::NothingLeft);
    }
    let amount = match amount {
        Some(amount) => {
            if amount < 1 {
                return Err(PaymentError::Invalid {
                    field: "amount_minor",
                    reason: "must be at least 1".into(),
                });
            }
            let applied = sqlx::query(
                "UPDATE charges SET refunded_minor = refunded_minor + $1, updated_at = $2
                 WHERE id = $3 AND status = 'captured' AND refunded_minor + $1 <= amount_minor",
            )
            .bind(amount)
            .bind(now)
            .bind(&charge.id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if applied == 0 {
                let current = by_order(conn, &charge.order_id)
                    .await?
                    .ok_or_else(|| PaymentError::NotFound(charge.order_id.clone()))?;
                let remaining = current.amount_minor - current.refunded_minor;
                return Ok(if remaining == 0 {
                    RefundOutcome::NothingLeft
                } else {
                    RefundOutcome::TooMuch { remaining }
                });
            }
            amount
        }
        None => {
            let remaining = charge.amount_minor - charge.refunded_minor;
            if remaining <= 0 {
                return Ok(RefundOutcome::NothingLeft);
            }
            // Compare-and-set on what was read: a concurrent refund makes this retry.
            let applied = sqlx::query(
                "UPDATE charges SET refunded_minor = amount_minor, updated_at = $1
                 WHERE id = $2 AND status = 'captured' AND refunded_minor = $3",
            )
            .bind(now)
            .bind(&charge.id)
            .bind(charge.refunded_minor)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if applied == 0 {
                return Err(PaymentError::Contended(charge.id.clone()));
            }
            remaining
        }
    };
    let refund = Refund {
        id: uuid::Uuid::now_v7().to_string(),
        charge_id: charge.id.clone(),
        amount_minor: amount,
        reason: reason.to_owned(),
        created_at: now,
    };
    sqlx::query(
        "INSERT INTO refunds (id, charge_id, amount_minor, reason, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&refund.id)
    .bind(&refund.charge_id)
    .bind(refund.amount_minor)
    .bind(&refund.reason)
    .bind(refund.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(RefundOutcome::Refunded(refund))
}

/// Pending charges the provider should be asked about again: untouched since `before`, and
/// not `tok_timeout` ones (that provider never answers). At most `limit`, oldest first.
pub async fn stale_pending(
    store: &Store,
    before: i64,
    limit: i64,
) -> Result<Vec<String>, PaymentError> {
    Ok(sqlx::query_scalar(
        "SELECT order_id FROM charges
         WHERE status = 'pending' AND card_token_kind <> 'timeout' AND updated_at < $1
         ORDER BY updated_at LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(store.pool())
    .await?)
}
