//! The embedded orchestrator: what Kubernetes does for the distributed platform, done in
//! process for `ballast up`.
//!
//! - [`config`]: probe timings, restart backoff, revision history, time scale
//! - [`runtime`]: [`Orchestrator`], deployments of in-process instances with revisions,
//!   rolling updates, liveness and readiness probes, crash restarts with backoff, faults
//! - [`admin`]: the loopback admin API (`ballast ctl` talks to it)

pub mod admin;
pub mod config;
pub mod runtime;

pub use config::OrchestratorConfig;
pub use runtime::{DeploymentStatus, InstanceStatus, Orchestrator, OrchestratorError, Phase};
