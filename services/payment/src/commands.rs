//! The `payment` consumer of `payments.commands`, the provider calls, and the retry sweeper.
//!
//! A `payment.charge` is recorded `pending` in the consumer's transaction (idempotent by
//! order id). Only after that commits is the provider called ([`settle_order`]), outside any
//! transaction; its answer moves the charge `pending` → `captured`/`declined` with a
//! conditional update and emits `payment.captured`/`payment.declined` in the same
//! transaction. A provider call lost in a crash is retried by the sweeper ([`retry_stale`]).
//!
//! A `payment.refund` answers with `payment.refunded` whenever it is settled: a captured
//! charge is refunded (the amount asked, or everything left), a pending one is voided
//! (amount 0), and a declined, voided or fully refunded charge — or an order never charged,
//! which gets a voided marker so a late charge cannot capture — is answered with amount 0,
//! so a compensating saga always learns that no money is held. Only a partial refund asking
//! for more than is left is dropped (logged), changing nothing.

use std::sync::Arc;
use std::time::Duration;

use ballast_kit::events::catalog::{
    ChargePayment, PaymentCaptured, PaymentDeclined, PaymentRefunded, RefundPayment, topics,
};
use ballast_kit::events::consumer::{self, Consumer, Handler};
use ballast_kit::events::{Event, outbox};
use ballast_kit::service::ServiceContext;
use ballast_kit::store::{Store, now_millis};
use futures::future::BoxFuture;
use sqlx::AnyConnection;

use crate::charges::{self, Charge, Recorded, RefundOutcome};
use crate::provider::{Answer, Provider, TokenKind};

/// The consumer group.
pub const GROUP: &str = "payment";

/// How many provider calls one instance has in flight at most.
const MAX_IN_FLIGHT: usize = 64;

/// Handles payment commands inside the consumer's transaction.
#[derive(Debug, Clone, Copy, Default)]
pub struct CommandHandler;

impl Handler for CommandHandler {
    fn handle<'a>(
        &'a self,
        event: &'a Event,
        conn: &'a mut AnyConnection,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(handle(event, conn))
    }
}

async fn emit<T: ballast_kit::events::catalog::Payload>(
    conn: &mut AnyConnection,
    order_id: &str,
    payload: &T,
) -> anyhow::Result<()> {
    outbox::enqueue(conn, &Event::of(order_id, payload)?).await
}

/// Handles one command on `conn`.
pub async fn handle(event: &Event, conn: &mut AnyConnection) -> anyhow::Result<()> {
    let now = now_millis();
    if let Some(command) = event.decode::<ChargePayment>() {
        let command = command?;
        match charges::record_pending(conn, &command, now).await {
            Ok(Recorded::New(charge)) => {
                tracing::info!(
                    order_id = charge.order_id,
                    charge_id = charge.id,
                    "charge recorded"
                );
            }
            Ok(Recorded::Existing(charge)) => re_emit(conn, &charge).await?,
            Err(crate::error::PaymentError::Invalid { field, reason }) => {
                tracing::warn!(
                    order_id = command.order_id,
                    field,
                    reason,
                    "charge command refused"
                );
                emit(
                    conn,
                    &command.order_id,
                    &PaymentDeclined {
                        order_id: command.order_id.clone(),
                        user_id: command.user_id.clone(),
                        reason: format!("invalid_{field}"),
                    },
                )
                .await?;
            }
            Err(error) => return Err(error.into()),
        }
    } else if let Some(command) = event.decode::<RefundPayment>() {
        let command = command?;
        refund(conn, &command, now).await?;
    }
    Ok(())
}

/// Answers a repeated charge command with the charge's outcome so far.
async fn re_emit(conn: &mut AnyConnection, charge: &Charge) -> anyhow::Result<()> {
    match charge.status.as_str() {
        "captured" => emit(conn, &charge.order_id, &captured(charge)).await,
        "declined" => emit(conn, &charge.order_id, &declined(charge)).await,
        // Pending: the provider's answer will be emitted when it comes. Voided: the refund
        // that voided it was answered already.
        _ => Ok(()),
    }
}

async fn refund(conn: &mut AnyConnection, command: &RefundPayment, now: i64) -> anyhow::Result<()> {
    let order_id = command.order_id.as_str();
    let charge = match charges::by_order(conn, order_id).await? {
        Some(charge) => charge,
        None => {
            tracing::warn!(
                order_id,
                "refund for an order never charged; voiding it ahead"
            );
            charges::void_unknown(conn, order_id, now).await?
        }
    };
    match charge.status.as_str() {
        "pending" => {
            if !charges::void(conn, &charge.id, now).await? {
                // The provider answered meanwhile: retry on the settled charge.
                anyhow::bail!("charge {} settled while voiding; retrying", charge.id);
            }
            tracing::info!(order_id, charge_id = charge.id, "pending charge voided");
            emit(conn, order_id, &refunded(&charge, "", 0)).await
        }
        "captured" => {
            match charges::refund_captured(
                conn,
                &charge,
                command.amount_minor,
                &command.reason,
                now,
            )
            .await?
            {
                RefundOutcome::Refunded(refund) => {
                    tracing::info!(order_id, amount_minor = refund.amount_minor, "refunded");
                    emit(
                        conn,
                        order_id,
                        &refunded(&charge, &refund.id, refund.amount_minor),
                    )
                    .await
                }
                RefundOutcome::NothingLeft => emit(conn, order_id, &refunded(&charge, "", 0)).await,
                RefundOutcome::TooMuch { remaining } => {
                    tracing::warn!(
                        order_id,
                        asked = command.amount_minor,
                        remaining,
                        "refund command for more than is left; ignored"
                    );
                    Ok(())
                }
            }
        }
        _ => emit(conn, order_id, &refunded(&charge, "", 0)).await,
    }
}

fn captured(charge: &Charge) -> PaymentCaptured {
    PaymentCaptured {
        order_id: charge.order_id.clone(),
        user_id: charge.user_id.clone(),
        charge_id: charge.id.clone(),
        amount_minor: charge.amount_minor,
        currency: charge.currency.clone(),
    }
}

fn declined(charge: &Charge) -> PaymentDeclined {
    PaymentDeclined {
        order_id: charge.order_id.clone(),
        user_id: charge.user_id.clone(),
        reason: charge
            .decline_reason
            .clone()
            .unwrap_or_else(|| crate::provider::CARD_DECLINED.to_owned()),
    }
}

/// `payment.refunded` for `charge` (`refund_id` empty for a void or nothing refunded).
pub fn refunded(charge: &Charge, refund_id: &str, amount_minor: i64) -> PaymentRefunded {
    PaymentRefunded {
        order_id: charge.order_id.clone(),
        user_id: charge.user_id.clone(),
        charge_id: charge.id.clone(),
        refund_id: refund_id.to_owned(),
        amount_minor,
    }
}

/// Asks the provider about the pending charge of `order_id` (if any, and if nobody else is
/// asking right now) and records its answer. Returns the answer applied, if one was. A charge
/// already attempted is asked about again only when its last attempt is older than
/// `stale_before` (see [`charges::claim`]); an answer in flight answers every command of the
/// order.
pub async fn settle_order(
    store: &Store,
    provider: &Provider,
    order_id: &str,
    stale_before: Option<i64>,
) -> anyhow::Result<Option<Answer>> {
    let mut conn = store.pool().acquire().await?;
    let Some(charge) = charges::by_order(&mut conn, order_id).await? else {
        return Ok(None);
    };
    drop(conn);
    let kind = TokenKind::parse(&charge.card_token_kind);
    if charge.status != "pending" || kind == TokenKind::Timeout {
        return Ok(None);
    }
    if !charges::claim(store, &charge, now_millis(), stale_before).await? {
        return Ok(None);
    }
    let answer = provider.authorize(kind).await;
    apply(store, &charge.id, &answer).await
}

/// Records the provider's `answer` for a charge in one transaction with its event; `None`
/// when the charge was no longer pending (a void won) or there was no answer.
pub async fn apply(
    store: &Store,
    charge_id: &str,
    answer: &Answer,
) -> anyhow::Result<Option<Answer>> {
    let mut tx = charges::begin_write(store).await?;
    let Some(charge) = charges::settle(&mut tx, charge_id, answer, now_millis()).await? else {
        tx.rollback().await?;
        return Ok(None);
    };
    match answer {
        Answer::Approved => emit(&mut tx, &charge.order_id, &captured(&charge)).await?,
        Answer::Declined(_) => emit(&mut tx, &charge.order_id, &declined(&charge)).await?,
        Answer::NoAnswer => {}
    }
    tx.commit().await?;
    tracing::info!(
        order_id = charge.order_id,
        charge_id = charge.id,
        status = charge.status,
        "charge settled"
    );
    Ok(Some(answer.clone()))
}

/// Retries the provider for pending charges untouched for `retry_after`; returns how many
/// were settled now.
pub async fn retry_stale(
    store: &Store,
    provider: &Provider,
    retry_after: Duration,
) -> anyhow::Result<usize> {
    let cutoff = now_millis() - i64::try_from(retry_after.as_millis()).unwrap_or(i64::MAX);
    let mut settled = 0;
    for order_id in charges::stale_pending(store, cutoff, 100).await? {
        if settle_order(store, provider, &order_id, Some(cutoff))
            .await?
            .is_some()
        {
            settled += 1;
        }
    }
    Ok(settled)
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Consumes `payments.commands` until an error of the bus: each command is processed
/// idempotently (the kit's [`consumer::process`]), and after a charge command commits, the
/// provider is called in a task of its own so a slow provider does not hold the consumer.
pub async fn run(context: ServiceContext, provider: Arc<Provider>) -> anyhow::Result<()> {
    let consumer = Consumer::new(GROUP, &[topics::PAYMENT_COMMANDS]);
    let lag = {
        let (bus, metrics, consumer) = (
            context.bus.clone(),
            context.metrics.clone(),
            consumer.clone(),
        );
        AbortOnDrop(tokio::spawn(async move {
            loop {
                if let Ok(lags) = bus.lag(&consumer.group, &consumer.topics).await {
                    for (topic, lag) in lags {
                        metrics.set_consumer_lag(&consumer.group, &topic, lag);
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }))
    };
    let _lag = lag;
    let mut calls = tokio::task::JoinSet::new();
    let mut subscription = context
        .bus
        .subscribe(&consumer.group, &consumer.topics)
        .await?;
    loop {
        let delivery = subscription.next().await?;
        let event = &delivery.event;
        let outcome = consumer::process(
            &consumer,
            &context.store,
            context.bus.as_ref(),
            &CommandHandler,
            event,
        )
        .await?;
        context
            .metrics
            .event_consumed(&consumer.group, &event.topic, outcome);
        // Also after a duplicate: the first delivery's call may have been lost in a crash.
        if let Some(Ok(command)) = event.decode::<ChargePayment>() {
            while calls.try_join_next().is_some() {}
            if calls.len() >= MAX_IN_FLIGHT {
                calls.join_next().await;
            }
            let (store, provider) = (context.store.clone(), provider.clone());
            calls.spawn(async move {
                if let Err(error) = settle_order(&store, &provider, &command.order_id, None).await {
                    tracing::warn!(
                        order_id = command.order_id,
                        error = format!("{error:#}"),
                        "provider call failed; the sweeper retries"
                    );
                }
            });
        }
        subscription.ack(&delivery).await?;
    }
}
