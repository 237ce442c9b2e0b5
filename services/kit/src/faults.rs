//! Fault hooks of one instance: added latency, an error rate, and a crash.
//!
//! The embedded orchestrator holds each instance's [`Faults`] and switches them from its
//! loopback admin listener; nothing in the public API reaches them. Latency and errors apply to
//! the service's API routes (`/v1/...`), not to health or metrics, so an instance that
//! answers 500s stays live and ready, as a buggy release would.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;

/// A fault setting, as the admin API and revisions carry it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FaultSpec {
    /// Share of API requests answered with a 500, from 0 to 1.
    pub error_rate: f64,
    /// Latency added to every API request, in milliseconds.
    pub latency_ms: u64,
}

impl FaultSpec {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), ApiError> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(ApiError::invalid("error_rate", "must be between 0 and 1"));
        }
        if self.latency_ms > 600_000 {
            return Err(ApiError::invalid("latency_ms", "must be at most 600000"));
        }
        Ok(())
    }

    /// Whether this injects nothing.
    pub fn is_none(&self) -> bool {
        self.error_rate == 0.0 && self.latency_ms == 0
    }
}

/// The live fault switches of one instance.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    error_rate_ppm: AtomicU32,
    latency_ms: AtomicU64,
    crash: CancellationToken,
}

impl Faults {
    /// Applies a setting (replacing the previous one).
    pub fn set(&self, spec: FaultSpec) {
        let ppm = (spec.error_rate.clamp(0.0, 1.0) * 1_000_000.0).round() as u32;
        self.inner.error_rate_ppm.store(ppm, Ordering::Relaxed);
        self.inner
            .latency_ms
            .store(spec.latency_ms, Ordering::Relaxed);
    }

    /// The current setting.
    pub fn get(&self) -> FaultSpec {
        FaultSpec {
            error_rate: f64::from(self.inner.error_rate_ppm.load(Ordering::Relaxed)) / 1_000_000.0,
            latency_ms: self.inner.latency_ms.load(Ordering::Relaxed),
        }
    }

    /// Crashes the instance: its server drops every connection and stops.
    pub fn crash(&self) {
        self.inner.crash.cancel();
    }

    /// Cancelled when the instance is crashed.
    pub fn crash_token(&self) -> CancellationToken {
        self.inner.crash.clone()
    }
}

/// Middleware applying the instance's latency and error faults.
pub async fn inject(State(faults): State<Faults>, request: Request, next: Next) -> Response {
    let spec = faults.get();
    if spec.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(spec.latency_ms)).await;
    }
    if spec.error_rate > 0.0 && rand::random::<f64>() < spec.error_rate {
        return ApiError::Internal(anyhow::anyhow!(
            "injected fault (error_rate {})",
            spec.error_rate
        ))
        .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_validate() {
        let faults = Faults::default();
        let spec = FaultSpec {
            error_rate: 0.25,
            latency_ms: 40,
        };
        faults.set(spec);
        assert_eq!(faults.get(), spec);
        assert!(
            FaultSpec {
                error_rate: 1.5,
                latency_ms: 0
            }
            .validate()
            .is_err()
        );
        assert!(!faults.crash_token().is_cancelled());
        faults.crash();
        assert!(faults.crash_token().is_cancelled());
    }
}
