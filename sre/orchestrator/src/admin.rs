//! The orchestrator's admin API, served on a loopback listener only: list deployments and
//! instances, scale, restart, release, roll back, crash an instance, set and clear faults.
//! `ballast ctl` is its client; the SRE suite's remediations and chaos experiments use it too.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use ballast_kit::error::ApiError;
use ballast_kit::extract::{Json, Path};
use ballast_kit::faults::FaultSpec;
use serde::{Deserialize, Serialize};

use crate::runtime::{Orchestrator, OrchestratorError, ReleaseSpec};

impl From<OrchestratorError> for ApiError {
    fn from(error: OrchestratorError) -> Self {
        match error {
            OrchestratorError::UnknownDeployment(_)
            | OrchestratorError::UnknownInstance(_)
            | OrchestratorError::UnknownService(_) => ApiError::NotFound(error.to_string()),
            OrchestratorError::DeploymentExists(_)
            | OrchestratorError::NoSuchRevision { .. }
            | OrchestratorError::NoPreviousRevision(_) => ApiError::Conflict(error.to_string()),
            OrchestratorError::Invalid { field, reason } => ApiError::invalid(field, reason),
        }
    }
}

/// Body of `POST /deployments/{name}/scale`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleRequest {
    /// Desired replicas.
    pub replicas: u32,
}

/// Body of `POST /deployments/{name}/rollback`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RollbackRequest {
    /// The revision to return to; default the one before the current.
    pub to_revision: Option<u32>,
}

/// Body of `POST /deployments/{name}/releases`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// The new version label.
    pub version: String,
    /// A defect built into the release (to rehearse a bad deploy).
    #[serde(default)]
    pub defect: FaultSpec,
    /// Why (shown in the revision history).
    #[serde(default)]
    pub change_cause: Option<String>,
}

/// The admin router over `orchestrator`.
pub fn router(orchestrator: Orchestrator) -> Router {
    Router::new()
        .route("/deployments", get(deployments))
        .route("/instances", get(instances))
        .route("/deployments/{name}/revisions", get(revisions))
        .route("/deployments/{name}/scale", post(scale))
        .route("/deployments/{name}/restart", post(restart))
        .route("/deployments/{name}/rollback", post(rollback))
        .route("/deployments/{name}/releases", post(release))
        .route(
            "/deployments/{name}/faults",
            put(set_faults).delete(clear_faults),
        )
        .route("/instances/{name}/crash", post(crash))
        .route("/health/live", get(|| async { "ok" }))
        .fallback(|| async { ApiError::NotFound("no such admin route".into()) })
        .with_state(orchestrator)
}

async fn deployments(State(o): State<Orchestrator>) -> impl IntoResponse {
    Json(o.deployments())
}

async fn instances(State(o): State<Orchestrator>) -> impl IntoResponse {
    Json(o.instances())
}

async fn revisions(
    State(o): State<Orchestrator>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(o.revisions(&name)?))
}

async fn scale(
    State(o): State<Orchestrator>,
    Path(name): Path<String>,
    Json(body): Json<ScaleRequest>,
) -> Result<impl IntoResponse, ApiError> {
    o.scale(&name, body.replicas)?;
    Ok(StatusCode::ACCEPTED)
}

async fn restart(
    State(o): State<Orchestrator>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    o.restart(&name)?;
    Ok(StatusCode::ACCEPTED)
}

async fn rollback(
    State(o): State<Orchestrator>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let to = if body.is_empty() {
        None
    } else {
        serde_json::from_slice::<RollbackRequest>(&body)
            .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?
            .to_revision
    };
    let revision = o.rollback(&name, to)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "revision": revision })),
    ))
}

async fn release(
    State(o): State<Orchestrator>,
    Path(name): Path<String>,
    Json(body): Json<ReleaseRequest>,
) -> Result<impl IntoResponse, ApiError> {
    if body.version.trim().is_empty() || body.version.len() > 64 {
        return Err(ApiError::invalid("version", "must be 1 to 64 characters"));
    }
    let revision = o.release(
        &name,
        ReleaseSpec {
            version: body.version,
            defect: body.defect,
        },
        body.change_cause,
    )?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "revision": revision })),
    ))
}

async fn set_faults(
    State(o): State<Orchestrator>,
    Path(name): Path<String>,
    Json(spec): Json<FaultSpec>,
) -> Result<impl IntoResponse, ApiError> {
    o.set_faults(&name, spec)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn clear_faults(
    State(o): State<Orchestrator>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    o.set_faults(&name, FaultSpec::default())?;
    Ok(StatusCode::NO_CONTENT)
}

async fn crash(
    State(o): State<Orchestrator>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    o.crash(&name)?;
    Ok(StatusCode::ACCEPTED)
}
