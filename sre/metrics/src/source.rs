//! [`MetricSource`]: where the SRE suite reads metrics from, with two implementations:
//! the embedded store ([`EmbeddedSource`]) and a Prometheus server's HTTP API
//! ([`PrometheusSource`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value as Json;

use crate::api::parse_match_params;
use crate::error::{MetricsError, Result};
use crate::labels::Labels;
use crate::promql::{self, EngineOptions, QueryValue, Sample, Series};
use crate::storage::Storage;

/// A queryable metrics backend.
#[async_trait]
pub trait MetricSource: Send + Sync {
    /// Instant query at `time_ms`.
    async fn query(&self, expr: &str, time_ms: i64) -> Result<QueryValue>;
    /// Range query from `start_ms` to `end_ms` every `step_ms`.
    async fn query_range(
        &self,
        expr: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryValue>;
    /// Label sets of the series matching any selector in `[start_ms, end_ms]`.
    async fn series(&self, selectors: &[String], start_ms: i64, end_ms: i64)
    -> Result<Vec<Labels>>;
}

/// The embedded store as a [`MetricSource`].
#[derive(Debug, Clone)]
pub struct EmbeddedSource {
    storage: Arc<Storage>,
    opts: EngineOptions,
}

impl EmbeddedSource {
    /// Wraps a store.
    pub fn new(storage: Arc<Storage>) -> Self {
        Self {
            storage,
            opts: EngineOptions::default(),
        }
    }
}

#[async_trait]
impl MetricSource for EmbeddedSource {
    async fn query(&self, expr: &str, time_ms: i64) -> Result<QueryValue> {
        let (s, e, o) = (self.storage.clone(), expr.to_string(), self.opts);
        tokio::task::spawn_blocking(move || promql::instant_query(s.as_ref(), &e, time_ms, o))
            .await
            .map_err(|e| MetricsError::Execution(e.to_string()))?
    }

    async fn query_range(
        &self,
        expr: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryValue> {
        let (s, e, o) = (self.storage.clone(), expr.to_string(), self.opts);
        tokio::task::spawn_blocking(move || {
            promql::range_query(s.as_ref(), &e, start_ms, end_ms, step_ms, o)
        })
        .await
        .map_err(|e| MetricsError::Execution(e.to_string()))?
    }

    async fn series(
        &self,
        selectors: &[String],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Labels>> {
        let sets = parse_match_params(selectors)?;
        Ok(self.storage.series(&sets, start_ms, end_ms))
    }
}

/// A Prometheus server (or anything speaking its HTTP API) as a [`MetricSource`].
#[derive(Debug, Clone)]
pub struct PrometheusSource {
    base: String,
    client: reqwest::Client,
}

fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

impl PrometheusSource {
    /// A source for the server at `base_url` (e.g. `http://127.0.0.1:9090`).
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self> {
        // Installing twice is harmless; reqwest needs a process-wide provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| MetricsError::Remote(e.to_string()))?;
        Ok(Self {
            base: base_url.trim_end_matches('/').to_string(),
            client,
        })
    }

    async fn call(&self, path: &str, form: &[(&str, String)]) -> Result<Json> {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| MetricsError::Remote(e.to_string()))?;
        let body: Json = resp
            .json()
            .await
            .map_err(|e| MetricsError::Remote(e.to_string()))?;
        if body["status"] == "success" {
            return Ok(body["data"].clone());
        }
        let msg = body["error"]
            .as_str()
            .unwrap_or("unknown error")
            .to_string();
        Err(match body["errorType"].as_str() {
            Some("bad_data") => MetricsError::BadData(msg),
            Some("execution") => MetricsError::Execution(msg),
            _ => MetricsError::Remote(msg),
        })
    }
}

/// Decodes the `data` object of a Prometheus query response.
pub fn decode_query_data(data: &Json) -> Result<QueryValue> {
    let bad = |what: &str| MetricsError::Remote(format!("malformed query response: {what}"));
    let point = |p: &Json| -> Result<(i64, String)> {
        let t = p[0].as_f64().ok_or_else(|| bad("timestamp"))?;
        let v = p[1].as_str().ok_or_else(|| bad("value"))?.to_string();
        Ok(((t * 1000.0).round() as i64, v))
    };
    let float = |s: &str| crate::exposition::parse_float(s).ok_or_else(|| bad("float"));
    let labels = |m: &Json| -> Result<Labels> {
        let obj = m.as_object().ok_or_else(|| bad("metric"))?;
        Ok(Labels::from_pairs(obj.iter().map(|(k, v)| {
            (k.clone(), v.as_str().unwrap_or_default().to_string())
        })))
    };
    let result = &data["result"];
    Ok(match data["resultType"].as_str() {
        Some("scalar") => {
            let (t, v) = point(result)?;
            QueryValue::Scalar { t, v: float(&v)? }
        }
        Some("string") => {
            let (t, v) = point(result)?;
            QueryValue::String { t, v }
        }
        Some("vector") => {
            let mut out = Vec::new();
            for s in result.as_array().ok_or_else(|| bad("result"))? {
                let (t, v) = point(&s["value"])?;
                out.push(Sample {
                    labels: labels(&s["metric"])?,
                    t,
                    v: float(&v)?,
                });
            }
            QueryValue::Vector(out)
        }
        Some("matrix") => {
            let mut out = Vec::new();
            for s in result.as_array().ok_or_else(|| bad("result"))? {
                let mut points = Vec::new();
                for p in s["values"].as_array().ok_or_else(|| bad("values"))? {
                    let (t, v) = point(p)?;
                    points.push((t, float(&v)?));
                }
                out.push(Series {
                    labels: labels(&s["metric"])?,
                    points,
                });
            }
            QueryValue::Matrix(out)
        }
        _ => return Err(bad("resultType")),
    })
}

#[async_trait]
impl MetricSource for PrometheusSource {
    async fn query(&self, expr: &str, time_ms: i64) -> Result<QueryValue> {
        let data = self
            .call(
                "/api/v1/query",
                &[("query", expr.to_string()), ("time", secs(time_ms))],
            )
            .await?;
        decode_query_data(&data)
    }

    async fn query_range(
        &self,
        expr: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryValue> {
        let data = self
            .call(
                "/api/v1/query_range",
                &[
                    ("query", expr.to_string()),
                    ("start", secs(start_ms)),
                    ("end", secs(end_ms)),
                    ("step", secs(step_ms)),
                ],
            )
            .await?;
        decode_query_data(&data)
    }

    async fn series(
        &self,
        selectors: &[String],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Labels>> {
        let mut form: Vec<(&str, String)> =
            selectors.iter().map(|s| ("match[]", s.clone())).collect();
        form.push(("start", secs(start_ms)));
        form.push(("end", secs(end_ms)));
        let data = self.call("/api/v1/series", &form).await?;
        let mut out = Vec::new();
        for m in data.as_array().into_iter().flatten() {
            let obj = m
                .as_object()
                .ok_or_else(|| MetricsError::Remote("malformed series response".into()))?;
            out.push(Labels::from_pairs(obj.iter().map(|(k, v)| {
                (k.clone(), v.as_str().unwrap_or_default().to_string())
            })));
        }
        out.sort();
        Ok(out)
    }
}
