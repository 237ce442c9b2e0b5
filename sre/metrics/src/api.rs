//! The Prometheus HTTP API over the embedded store: `/api/v1/query`, `/api/v1/query_range`,
//! `/api/v1/series`, `/api/v1/labels`, `/api/v1/label/{name}/values` (GET and POST form),
//! with Prometheus' JSON shapes and errors.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use promql_parser::label::Matcher;
use promql_parser::parser::Expr;

use crate::error::{MetricsError, Result};
use crate::labels::Labels;
use crate::promql::{self, EngineOptions, QueryValue, format_float};
use crate::storage::Storage;

/// Most points a range query may return per series (as Prometheus).
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

#[derive(Clone)]
struct ApiState {
    storage: Arc<Storage>,
    opts: EngineOptions,
}

/// The Prometheus-compatible API router over `storage`.
pub fn api_router(storage: Arc<Storage>) -> Router {
    api_router_with(storage, EngineOptions::default())
}

/// [`api_router`] with explicit engine options.
pub fn api_router_with(storage: Arc<Storage>, opts: EngineOptions) -> Router {
    Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route("/api/v1/series", get(series).post(series))
        .route("/api/v1/labels", get(labels).post(labels))
        .route("/api/v1/label/{name}/values", get(label_values))
        .with_state(ApiState { storage, opts })
}

/// Serves [`api_router`] on `listener` until `shutdown` fires.
pub async fn serve_api(
    listener: tokio::net::TcpListener,
    storage: Arc<Storage>,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, api_router(storage))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// Query-string and form parameters, in order, repeated keys kept.
struct Params(Vec<(String, String)>);

impl Params {
    fn new(raw: Option<String>, headers: &HeaderMap, body: &Bytes) -> Self {
        let mut pairs: Vec<(String, String)> = raw
            .as_deref()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            pairs.extend(form_urlencoded::parse(body).into_owned());
        }
        Self(pairs)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Parses a Prometheus API time: RFC 3339 or (fractional) Unix seconds; returns ms.
pub fn parse_time(s: &str) -> Result<i64> {
    if let Ok(secs) = s.parse::<f64>()
        && secs.is_finite()
    {
        return Ok((secs * 1000.0).round() as i64);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .map_err(|_| MetricsError::BadData(format!("cannot parse {s:?} to a valid timestamp")))
}

/// Parses a Prometheus duration (`1h30m`, `15s`, `500ms`) or float seconds; returns ms.
pub fn parse_duration(s: &str) -> Result<i64> {
    if let Ok(secs) = s.parse::<f64>()
        && secs.is_finite()
    {
        return Ok((secs * 1000.0).round() as i64);
    }
    let bad = || MetricsError::BadData(format!("cannot parse {s:?} to a valid duration"));
    let mut total = 0i64;
    let mut rest = s;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "y" => 31_536_000_000,
            _ => return Err(bad()),
        };
        total = total
            .checked_add(n.checked_mul(mult).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Writes a timestamp in ms as Prometheus does (seconds, 3 decimals when fractional).
fn write_ts(out: &mut String, t: i64) {
    let (sign, t) = if t < 0 { ("-", -t) } else { ("", t) };
    let _ = write!(out, "{sign}{}", t / 1000);
    let frac = t % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
}

fn write_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

fn write_labels(out: &mut String, l: &Labels) {
    out.push('{');
    for (i, (k, v)) in l.pairs().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, k);
        out.push(':');
        write_str(out, v);
    }
    out.push('}');
}

fn write_point(out: &mut String, t: i64, v: &str) {
    out.push('[');
    write_ts(out, t);
    out.push(',');
    write_str(out, v);
    out.push(']');
}

/// Renders a query result as the `data` object of the Prometheus API.
pub fn render_data(value: &QueryValue) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{{\"resultType\":\"{}\",\"result\":",
        value.result_type()
    );
    match value {
        QueryValue::Scalar { t, v } => write_point(&mut out, *t, &format_float(*v)),
        QueryValue::String { t, v } => write_point(&mut out, *t, v),
        QueryValue::Vector(vec) => {
            out.push('[');
            for (i, s) in vec.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(&mut out, &s.labels);
                out.push_str(",\"value\":");
                write_point(&mut out, s.t, &format_float(s.v));
                out.push('}');
            }
            out.push(']');
        }
        QueryValue::Matrix(m) => {
            out.push('[');
            for (i, s) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(&mut out, &s.labels);
                out.push_str(",\"values\":[");
                for (j, (t, v)) in s.points.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    write_point(&mut out, *t, &format_float(*v));
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    out.push('}');
    out
}

fn success(data: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{{\"status\":\"success\",\"data\":{data}}}"),
    )
        .into_response()
}

fn failure(err: &MetricsError) -> Response {
    let status = match err.error_type() {
        "bad_data" => StatusCode::BAD_REQUEST,
        "execution" => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %err, "metrics api internal error");
    }
    let body = serde_json::json!({
        "status": "error",
        "errorType": err.error_type(),
        "error": err.to_string(),
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn respond(r: Result<String>) -> Response {
    match r {
        Ok(data) => success(data),
        Err(e) => failure(&e),
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| MetricsError::Execution(format!("query task failed: {e}")))?
}

async fn query(
    State(st): State<ApiState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(raw, &headers, &body);
    let result = async {
        let q = p
            .get("query")
            .ok_or_else(|| {
                MetricsError::BadData("invalid parameter \"query\": no query given".into())
            })?
            .to_string();
        let t = match p.get("time") {
            Some(t) => parse_time(t)?,
            None => now_ms(),
        };
        let storage = st.storage.clone();
        let opts = st.opts;
        let value = blocking(move || promql::instant_query(storage.as_ref(), &q, t, opts)).await?;
        Ok(render_data(&value))
    }
    .await;
    respond(result)
}

async fn query_range(
    State(st): State<ApiState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(raw, &headers, &body);
    let result = async {
        let q = p
            .get("query")
            .ok_or_else(|| MetricsError::BadData("invalid parameter \"query\": no query given".into()))?
            .to_string();
        let need = |k: &str| {
            p.get(k)
                .ok_or_else(|| MetricsError::BadData(format!("invalid parameter \"{k}\": missing")))
        };
        let start = parse_time(need("start")?)?;
        let end = parse_time(need("end")?)?;
        let step = parse_duration(need("step")?)?;
        if end < start {
            return Err(MetricsError::BadData(
                "invalid parameter \"end\": end timestamp must not be before start time".into(),
            ));
        }
        if step <= 0 {
            return Err(MetricsError::BadData("invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer".into()));
        }
        if (end - start) / step > MAX_POINTS_PER_SERIES {
            return Err(MetricsError::BadData("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into()));
        }
        let storage = st.storage.clone();
        let opts = st.opts;
        let value = blocking(move || {
            promql::range_query(storage.as_ref(), &q, start, end, step, opts)
        })
        .await?;
        Ok(render_data(&value))
    }
    .await;
    respond(result)
}

/// Parses `match[]` selectors into matcher sets.
pub fn parse_match_params(selectors: &[String]) -> Result<Vec<Vec<Matcher>>> {
    let mut sets = Vec::new();
    for s in selectors {
        match promql::parse(s)? {
            Expr::VectorSelector(vs) => {
                let mut base = vs.matchers.matchers.clone();
                if let Some(n) = &vs.name {
                    base.push(Matcher::new(
                        promql_parser::label::MatchOp::Equal,
                        crate::labels::METRIC_NAME,
                        n,
                    ));
                }
                sets.push(base);
            }
            _ => {
                return Err(MetricsError::BadData(format!(
                    "invalid parameter \"match[]\": {s:?} is not a series selector"
                )));
            }
        }
    }
    Ok(sets)
}

fn time_range(p: &Params) -> Result<(i64, i64)> {
    let start = p
        .get("start")
        .map(parse_time)
        .transpose()?
        .unwrap_or(i64::MIN / 2);
    let end = p
        .get("end")
        .map(parse_time)
        .transpose()?
        .unwrap_or(i64::MAX / 2);
    Ok((start, end))
}

async fn series(
    State(st): State<ApiState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(raw, &headers, &body);
    let result = (|| {
        let selectors = p.all("match[]");
        if selectors.is_empty() {
            return Err(MetricsError::BadData(
                "no match[] parameter provided".into(),
            ));
        }
        let sets = parse_match_params(&selectors)?;
        let (start, end) = time_range(&p)?;
        let mut out = String::from("[");
        for (i, l) in st.storage.series(&sets, start, end).iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_labels(&mut out, l);
        }
        out.push(']');
        Ok(out)
    })();
    respond(result)
}

fn string_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

async fn labels(
    State(st): State<ApiState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(raw, &headers, &body);
    let result = (|| {
        let sets = parse_match_params(&p.all("match[]"))?;
        let (start, end) = time_range(&p)?;
        Ok(string_list(&st.storage.label_names(&sets, start, end)))
    })();
    respond(result)
}

async fn label_values(
    State(st): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let p = Params::new(raw, &headers, &body);
    let result = (|| {
        if !crate::exposition::is_label_name(&name) {
            return Err(MetricsError::BadData(format!(
                "invalid label name: {name:?}"
            )));
        }
        let sets = parse_match_params(&p.all("match[]"))?;
        let (start, end) = time_range(&p)?;
        Ok(string_list(
            &st.storage.label_values(&name, &sets, start, end),
        ))
    })();
    respond(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times_parse_as_prometheus() {
        assert_eq!(parse_duration("1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_duration("15").unwrap(), 15_000);
        assert_eq!(parse_duration("0.5").unwrap(), 500);
        assert!(parse_duration("abc").is_err());
        assert_eq!(parse_time("1700000000.5").unwrap(), 1_700_000_000_500);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000
        );
        let mut s = String::new();
        write_ts(&mut s, 1_435_781_451_781);
        write_ts(&mut s, 1_000_100);
        assert_eq!(s, "1435781451.7811000.100");
    }
}
