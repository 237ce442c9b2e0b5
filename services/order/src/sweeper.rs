//! The deadline sweeper: every `sweep_interval` it feeds a [`Input::Tick`] to each unfinished
//! saga past its deadline, which compensates a running saga (reason `timeout`) and re-sends
//! the outstanding commands of a compensation still waiting for answers.
//!
//! Several instances sweep at once safely: each tick is applied with the saga's optimistic
//! version check, so of two sweepers (or a sweeper and the consumer) only one moves a saga.

use std::time::Duration;

use ballast_kit::service::ServiceContext;
use ballast_kit::store::now_millis;

use crate::OrderConfig;
use crate::metrics::OrderMetrics;
use crate::saga::Input;
use crate::store;
use crate::transition::{self, Outcome};

/// Sagas handled per sweep round.
const BATCH: i64 = 100;

/// Sweeps forever (returns only on a database error; the kit restarts it).
pub async fn run(context: ServiceContext, config: OrderConfig) -> anyhow::Result<()> {
    let metrics = OrderMetrics::for_instance(&context);
    let interval = config.sweep_interval.max(Duration::from_millis(10));
    loop {
        tokio::time::sleep(interval).await;
        sweep(&context, &metrics).await?;
    }
}

/// One round: ticks every saga due now; returns how many moved.
pub async fn sweep(context: &ServiceContext, metrics: &OrderMetrics) -> anyhow::Result<usize> {
    let now = now_millis();
    let due = store::due_sagas(&context.store, now, BATCH).await?;
    let mut moved = 0;
    for order_id in due {
        let mut tx = store::begin_write(&context.store).await?;
        match transition::apply(&mut tx, &order_id, Input::Tick { now }, metrics).await {
            Ok(Outcome::Applied { before, after }) => {
                tx.commit().await?;
                moved += 1;
                tracing::info!(
                    order_id,
                    from = %before.step,
                    to = %after.step,
                    "saga past its deadline"
                );
            }
            Ok(_) => tx.rollback().await?,
            Err(error) => {
                // Most likely a concurrent writer (SQLite reports it as busy); next round.
                let _ = tx.rollback().await;
                tracing::debug!(
                    order_id,
                    error = format!("{error:#}"),
                    "sweeping a saga failed"
                );
            }
        }
    }
    Ok(moved)
}
