//! Delivery of recorded notifications through the [`Sink`], at least once: a dispatcher
//! claims a pending notification for a while (a conditional `UPDATE`, so two replicas never
//! deliver the same one at once), delivers it, and marks it delivered. A failed delivery is
//! retried once its claim lapses.

use std::time::Duration;

use ballast_kit::store::Store;

use crate::sink::Sink;
use crate::store;

/// Notifications per pass, at most.
const BATCH: i64 = 100;

/// What one dispatcher pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// The channel of each notification delivered.
    pub delivered: Vec<String>,
    /// Deliveries that failed (retried once their claim lapses).
    pub failed: usize,
}

/// One pass at `now`: delivers every due notification this dispatcher can claim, each claim
/// keeping other dispatchers off it for `claim`.
pub async fn deliver_due(
    store: &Store,
    sink: &dyn Sink,
    claim: Duration,
    now: i64,
) -> anyhow::Result<Pass> {
    let until = now.saturating_add(i64::try_from(claim.as_millis()).unwrap_or(i64::MAX));
    let mut pass = Pass::default();
    for pending in store::due(store, now, BATCH).await? {
        if !store::claim(store, &pending.id, now, until).await? {
            continue;
        }
        match sink.deliver(&pending).await {
            Ok(()) => {
                store::mark_delivered(store, &pending.id, sink.name(), now).await?;
                pass.delivered.push(pending.channel);
            }
            Err(error) => {
                tracing::warn!(
                    notification_id = pending.id,
                    error = %error,
                    "delivery failed; retrying later"
                );
                pass.failed += 1;
            }
        }
    }
    Ok(pass)
}
