//! Delivery of recorded notifications through the [`Sink`], at least once: a dispatcher
//! claims a pending notification for a while (a conditional `UPDATE`, so two replicas never
//! deliver the same one at once), delivers it, and marks it delivered. A failed delivery is
//! retried once its claim lapses.

use std::time::Duration;

use ballast_kit::store::Store;

use crate::sink::Sink;
use crate::store;

/// How long a claim keeps other dispatchers off a notification.
pub const CLAIM: Duration = Duration::from_secs(30);

/// Notifications per pass, at most.
const BATCH: i64 = 100;

/// One pass at `now`: delivers every due notification this dispatcher can claim; answers how
/// many it delivered.
pub async fn deliver_due(store: &Store, sink: &dyn Sink, now: i64) -> anyhow::Result<usize> {
    let until = now + i64::try_from(CLAIM.as_millis()).unwrap_or(i64::MAX / 2);
    let mut delivered = 0;
    for pending in store::due(store, now, BATCH).await? {
        if !store::claim(store, &pending.id, now, until).await? {
            continue;
        }
        match sink.deliver(&pending).await {
            Ok(()) => {
                store::mark_delivered(store, &pending.id, sink.name(), now).await?;
                delivered += 1;
            }
            Err(error) => tracing::warn!(
                notification_id = pending.id,
                error = %error,
                "delivery failed; retrying later"
            ),
        }
    }
    Ok(delivered)
}
