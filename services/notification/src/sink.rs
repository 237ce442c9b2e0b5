//! Where notifications are delivered: a [`Sink`]. The [`LogSink`] (the default) writes each
//! one as a structured log event; an SMTP, SMS-gateway or push sink would implement the same
//! trait.

use futures::future::BoxFuture;

use crate::store::Pending;

/// A delivery that failed; the dispatcher retries it later.
#[derive(Debug, thiserror::Error)]
#[error("delivery through {sink} failed: {reason}")]
pub struct SinkError {
    /// The sink's name.
    pub sink: &'static str,
    /// Why (no secrets, no message body).
    pub reason: String,
}

/// A way to deliver notifications to users.
pub trait Sink: Send + Sync + 'static {
    /// The sink's name, recorded with each notification it delivered.
    fn name(&self) -> &'static str;
    /// Delivers one notification.
    fn deliver<'a>(&'a self, notification: &'a Pending) -> BoxFuture<'a, Result<(), SinkError>>;
}

/// Delivers to the log: one `notification delivered` event per notification, with its id,
/// user, channel, kind and subject as fields (the body stays in the database).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSink;

impl Sink for LogSink {
    fn name(&self) -> &'static str {
        "log"
    }

    fn deliver<'a>(&'a self, notification: &'a Pending) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            tracing::info!(
                notification_id = notification.id,
                user_id = notification.user_id,
                channel = notification.channel,
                kind = notification.kind,
                subject = notification.subject,
                "notification delivered"
            );
            Ok(())
        })
    }
}
