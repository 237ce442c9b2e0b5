//! The PromQL evaluator: queries are parsed with `promql-parser` and evaluated here with
//! Prometheus 2.x semantics (5 minute lookback, staleness markers, extrapolated `rate`,
//! counter resets, `__name__` dropping, vector matching).
//!
//! Evaluation works one instant at a time: a range query evaluates the expression at every
//! step. Before evaluating, every selector's whole time range is fetched once from the
//! [`Querier`] so steps only binary-search in memory.
//!
//! - [`functions`]: function calls
//! - [`aggregate`]: aggregation operators
//! - [`binary`]: arithmetic, comparison and set operators with vector matching

pub mod aggregate;
pub mod binary;
pub mod functions;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{self, AtModifier, Expr, Offset, VectorSelector};

use crate::error::{MetricsError, Result};
use crate::labels::{Labels, METRIC_NAME};
use crate::storage::{SeriesSamples, Storage, is_stale_nan};

/// Where the evaluator reads raw samples from.
pub trait Querier: Send + Sync {
    /// Samples (staleness markers included) of the series matching all matchers in `[mint, maxt]`.
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesSamples>;
}

impl Querier for Storage {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesSamples> {
        Storage::select(self, matchers, mint, maxt)
    }
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Labels.
    pub labels: Labels,
    /// Timestamp in ms (the evaluation time in query results).
    pub t: i64,
    /// Value.
    pub v: f64,
}

/// One series of a range vector / matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Labels.
    pub labels: Labels,
    /// `(timestamp ms, value)` points in time order.
    pub points: Vec<(i64, f64)>,
}

/// A query result, shaped as the Prometheus API's `resultType`s.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryValue {
    /// `scalar`: one value at the evaluation time.
    Scalar {
        /// Timestamp ms.
        t: i64,
        /// Value.
        v: f64,
    },
    /// `string`: a string literal.
    String {
        /// Timestamp ms.
        t: i64,
        /// Value.
        v: String,
    },
    /// `vector`: an instant vector.
    Vector(Vec<Sample>),
    /// `matrix`: a range vector or a range query's result.
    Matrix(Vec<Series>),
}

impl QueryValue {
    /// The Prometheus API `resultType`.
    pub fn result_type(&self) -> &'static str {
        match self {
            Self::Scalar { .. } => "scalar",
            Self::String { .. } => "string",
            Self::Vector(_) => "vector",
            Self::Matrix(_) => "matrix",
        }
    }
}

/// Engine options.
#[derive(Debug, Clone, Copy)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (Prometheus: 5m).
    pub lookback_delta: Duration,
    /// Subquery step when none is given (Prometheus: the global evaluation interval, 1m).
    pub default_subquery_step: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            lookback_delta: Duration::from_secs(300),
            default_subquery_step: Duration::from_secs(60),
        }
    }
}

/// Parses a PromQL expression.
pub fn parse(query: &str) -> Result<Expr> {
    parser::parse(query).map_err(|e| MetricsError::BadData(format!("parse error: {e}")))
}

/// Evaluates `query` at one instant (`time_ms`).
pub fn instant_query(
    querier: &dyn Querier,
    query: &str,
    time_ms: i64,
    opts: EngineOptions,
) -> Result<QueryValue> {
    instant_query_expr(querier, &parse(query)?, time_ms, opts)
}

/// Evaluates a parsed expression at one instant: for callers that evaluate the same
/// expression again and again (rule groups), so it is parsed, and its regular expressions
/// compiled, once.
pub fn instant_query_expr(
    querier: &dyn Querier,
    expr: &Expr,
    time_ms: i64,
    opts: EngineOptions,
) -> Result<QueryValue> {
    let mut ev = Evaluator::new(querier, time_ms, time_ms, opts);
    ev.prefetch(expr)?;
    Ok(match ev.eval(expr, time_ms)? {
        Value::Scalar(v) => QueryValue::Scalar { t: time_ms, v },
        Value::Str(v) => QueryValue::String { t: time_ms, v },
        Value::Vector(vec) => {
            check_unique(&vec)?;
            QueryValue::Vector(
                vec.into_iter()
                    .map(|s| Sample { t: time_ms, ..s })
                    .collect(),
            )
        }
        Value::Matrix(m) => QueryValue::Matrix(m.series),
    })
}

/// Evaluates `query` at every step from `start_ms` to `end_ms`; the result is a matrix.
pub fn range_query(
    querier: &dyn Querier,
    query: &str,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
    opts: EngineOptions,
) -> Result<QueryValue> {
    if step_ms <= 0 {
        return Err(MetricsError::BadData(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
                .into(),
        ));
    }
    if end_ms < start_ms {
        return Err(MetricsError::BadData(
            "end timestamp must not be before start time".into(),
        ));
    }
    let expr = parse(query)?;
    match expr.value_type() {
        parser::value::ValueType::Scalar | parser::value::ValueType::Vector => {}
        other => {
            return Err(MetricsError::BadData(format!(
                "invalid expression type \"{other}\" for range query, must be Scalar or instant Vector"
            )));
        }
    }
    let mut ev = Evaluator::new(querier, start_ms, end_ms, opts);
    ev.prefetch(&expr)?;
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<Series> = Vec::new();
    let mut ts = start_ms;
    while ts <= end_ms {
        let samples = match ev.eval(&expr, ts)? {
            Value::Scalar(v) => vec![Sample {
                labels: Labels::empty(),
                t: ts,
                v,
            }],
            Value::Vector(vec) => {
                check_unique(&vec)?;
                vec
            }
            _ => {
                return Err(MetricsError::Execution(
                    "range query must return a scalar or an instant vector".into(),
                ));
            }
        };
        for s in samples {
            let i = *index.entry(s.labels.clone()).or_insert_with(|| {
                out.push(Series {
                    labels: s.labels.clone(),
                    points: Vec::new(),
                });
                out.len() - 1
            });
            out[i].points.push((ts, s.v));
        }
        ts += step_ms;
    }
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(QueryValue::Matrix(out))
}

fn check_unique(vec: &[Sample]) -> Result<()> {
    if vec.len() < 2 {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::with_capacity(vec.len());
    for s in vec {
        if !seen.insert(&s.labels) {
            return Err(MetricsError::Execution(
                "vector cannot contain metrics with the same labelset".into(),
            ));
        }
    }
    Ok(())
}

/// A range vector handed to functions, with the window it was selected over.
#[derive(Debug, Clone, Default)]
pub struct Matrix {
    /// The series (points inside the window, staleness markers removed).
    pub series: Vec<Series>,
    /// Window start in ms (inclusive).
    pub range_start: i64,
    /// Window end in ms (inclusive).
    pub range_end: i64,
}

/// An intermediate value at one instant.
#[derive(Debug, Clone)]
pub enum Value {
    /// A scalar.
    Scalar(f64),
    /// A string.
    Str(String),
    /// An instant vector.
    Vector(Vec<Sample>),
    /// A range vector.
    Matrix(Matrix),
}

impl Value {
    fn type_name(&self) -> &'static str {
        match self {
            Self::Scalar(_) => "scalar",
            Self::Str(_) => "string",
            Self::Vector(_) => "vector",
            Self::Matrix(_) => "matrix",
        }
    }
}

/// Converts an `@` time to ms.
fn system_time_ms(t: &SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
    }
}

fn dur_ms(d: &Duration) -> i64 {
    d.as_millis() as i64
}

/// The matcher sets of a selector (`or` groups each get the name matcher).
fn selector_matchers(vs: &VectorSelector) -> Vec<Vec<Matcher>> {
    let name = vs
        .name
        .as_ref()
        .map(|n| Matcher::new(MatchOp::Equal, METRIC_NAME, n));
    let mut sets = Vec::new();
    if vs.matchers.or_matchers.is_empty() {
        sets.push(vs.matchers.matchers.clone());
    } else {
        for group in &vs.matchers.or_matchers {
            sets.push(group.clone());
        }
    }
    for set in &mut sets {
        if let Some(n) = &name {
            set.push(n.clone());
        }
    }
    sets
}

fn key(vs: &VectorSelector) -> usize {
    std::ptr::from_ref(vs) as usize
}

/// Evaluates expressions over prefetched data.
pub struct Evaluator<'a> {
    querier: &'a dyn Querier,
    start: i64,
    end: i64,
    opts: EngineOptions,
    ranges: HashMap<usize, (i64, i64)>,
    data: HashMap<usize, Vec<SeriesSamples>>,
}

impl<'a> Evaluator<'a> {
    fn new(querier: &'a dyn Querier, start: i64, end: i64, opts: EngineOptions) -> Self {
        Self {
            querier,
            start,
            end,
            opts,
            ranges: HashMap::new(),
            data: HashMap::new(),
        }
    }

    fn at_ms(&self, at: &Option<AtModifier>) -> Option<i64> {
        at.as_ref().map(|a| match a {
            AtModifier::Start => self.start,
            AtModifier::End => self.end,
            AtModifier::At(t) => system_time_ms(t),
        })
    }

    /// The reference time of a selector evaluated at `ts`.
    fn ref_time(&self, at: &Option<AtModifier>, offset: &Option<Offset>, ts: i64) -> i64 {
        self.at_ms(at).unwrap_or(ts) - offset_ms(offset)
    }

    fn prefetch(&mut self, expr: &Expr) -> Result<()> {
        self.plan(expr, self.start, self.end)?;
        let ranges: Vec<(usize, (i64, i64))> = self.ranges.iter().map(|(k, v)| (*k, *v)).collect();
        let mut selectors: HashMap<usize, &VectorSelector> = HashMap::new();
        collect_selectors(expr, &mut selectors);
        for (k, (mint, maxt)) in ranges {
            let Some(vs) = selectors.get(&k) else {
                continue;
            };
            let sets = selector_matchers(vs);
            let mut merged: Vec<SeriesSamples> = Vec::new();
            for set in &sets {
                for s in self.querier.select(set, mint, maxt) {
                    if !merged.iter().any(|m| m.labels == s.labels) {
                        merged.push(s);
                    }
                }
            }
            merged.sort_by(|a, b| a.labels.cmp(&b.labels));
            self.data.insert(k, merged);
        }
        Ok(())
    }

    fn note_range(&mut self, vs: &VectorSelector, mint: i64, maxt: i64) {
        let e = self.ranges.entry(key(vs)).or_insert((mint, maxt));
        e.0 = e.0.min(mint);
        e.1 = e.1.max(maxt);
    }

    /// Records the time range each selector needs when `expr` is evaluated over `[start, end]`.
    fn plan(&mut self, expr: &Expr, start: i64, end: i64) -> Result<()> {
        match expr {
            Expr::VectorSelector(vs) => {
                let (s, e) = self.ref_range(&vs.at, &vs.offset, start, end);
                self.note_range(vs, s - dur_ms(&self.opts.lookback_delta), e);
            }
            Expr::MatrixSelector(ms) => {
                let (s, e) = self.ref_range(&ms.vs.at, &ms.vs.offset, start, end);
                self.note_range(&ms.vs, s - dur_ms(&ms.range), e);
            }
            Expr::Subquery(sq) => {
                let (s, e) = self.ref_range(&sq.at, &sq.offset, start, end);
                self.plan(&sq.expr, s - dur_ms(&sq.range), e)?;
            }
            Expr::Aggregate(a) => {
                self.plan(&a.expr, start, end)?;
                if let Some(p) = &a.param {
                    self.plan(p, start, end)?;
                }
            }
            Expr::Unary(u) => self.plan(&u.expr, start, end)?,
            Expr::Binary(b) => {
                self.plan(&b.lhs, start, end)?;
                self.plan(&b.rhs, start, end)?;
            }
            Expr::Paren(p) => self.plan(&p.expr, start, end)?,
            Expr::Call(c) => {
                for a in &c.args.args {
                    self.plan(a, start, end)?;
                }
            }
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
            Expr::Extension(_) => {
                return Err(MetricsError::Unsupported("extension expressions".into()));
            }
        }
        Ok(())
    }

    fn ref_range(
        &self,
        at: &Option<AtModifier>,
        offset: &Option<Offset>,
        start: i64,
        end: i64,
    ) -> (i64, i64) {
        match self.at_ms(at) {
            Some(t) => (t - offset_ms(offset), t - offset_ms(offset)),
            None => (start - offset_ms(offset), end - offset_ms(offset)),
        }
    }

    /// Evaluates `expr` at `ts`.
    pub fn eval(&mut self, expr: &Expr, ts: i64) -> Result<Value> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Value::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, ts),
            Expr::VectorSelector(vs) => Ok(Value::Vector(self.instant_selector(vs, ts))),
            Expr::MatrixSelector(ms) => {
                let maxt = self.ref_time(&ms.vs.at, &ms.vs.offset, ts);
                let mint = maxt - dur_ms(&ms.range);
                Ok(Value::Matrix(Matrix {
                    series: self.range_selector(&ms.vs, mint, maxt),
                    range_start: mint,
                    range_end: maxt,
                }))
            }
            Expr::Subquery(sq) => {
                let maxt = self.ref_time(&sq.at, &sq.offset, ts);
                let range = dur_ms(&sq.range);
                let step = sq
                    .step
                    .as_ref()
                    .map(dur_ms)
                    .unwrap_or_else(|| dur_ms(&self.opts.default_subquery_step));
                if step <= 0 {
                    return Err(MetricsError::BadData(
                        "subquery step must be positive".into(),
                    ));
                }
                let mint = maxt - range;
                let mut t = step * mint.div_euclid(step);
                if t < mint {
                    t += step;
                }
                let mut index: HashMap<Labels, usize> = HashMap::new();
                let mut series: Vec<Series> = Vec::new();
                while t <= maxt {
                    let samples = match self.eval(&sq.expr, t)? {
                        Value::Scalar(v) => vec![Sample {
                            labels: Labels::empty(),
                            t,
                            v,
                        }],
                        Value::Vector(v) => v,
                        other => {
                            return Err(MetricsError::BadData(format!(
                                "subquery is only allowed on instant vector or scalar, got {}",
                                other.type_name()
                            )));
                        }
                    };
                    for s in samples {
                        let i = *index.entry(s.labels.clone()).or_insert_with(|| {
                            series.push(Series {
                                labels: s.labels.clone(),
                                points: Vec::new(),
                            });
                            series.len() - 1
                        });
                        series[i].points.push((t, s.v));
                    }
                    t += step;
                }
                Ok(Value::Matrix(Matrix {
                    series,
                    range_start: mint,
                    range_end: maxt,
                }))
            }
            Expr::Unary(u) => match self.eval(&u.expr, ts)? {
                Value::Scalar(v) => Ok(Value::Scalar(-v)),
                Value::Vector(vec) => Ok(Value::Vector(
                    vec.into_iter()
                        .map(|s| Sample {
                            labels: s.labels.without_name(),
                            t: s.t,
                            v: -s.v,
                        })
                        .collect(),
                )),
                other => Err(MetricsError::BadData(format!(
                    "unary expression only allowed on scalar or vector, got {}",
                    other.type_name()
                ))),
            },
            Expr::Binary(b) => {
                let v = binary::eval_binary(self, b, ts)?;
                if let Value::Vector(vec) = &v {
                    check_unique(vec)?;
                }
                Ok(v)
            }
            Expr::Aggregate(a) => aggregate::eval_aggregate(self, a, ts),
            Expr::Call(c) => {
                let v = functions::eval_call(self, c, ts)?;
                if let Value::Vector(vec) = &v {
                    check_unique(vec)?;
                }
                Ok(v)
            }
            Expr::Extension(_) => Err(MetricsError::Unsupported("extension expressions".into())),
        }
    }

    /// Evaluates to a scalar (for function and aggregation parameters).
    fn eval_scalar(&mut self, expr: &Expr, ts: i64) -> Result<f64> {
        match self.eval(expr, ts)? {
            Value::Scalar(v) => Ok(v),
            other => Err(MetricsError::BadData(format!(
                "expected scalar, got {}",
                other.type_name()
            ))),
        }
    }

    /// Evaluates to an instant vector.
    fn eval_vector(&mut self, expr: &Expr, ts: i64) -> Result<Vec<Sample>> {
        match self.eval(expr, ts)? {
            Value::Vector(v) => Ok(v),
            other => Err(MetricsError::BadData(format!(
                "expected instant vector, got {}",
                other.type_name()
            ))),
        }
    }

    /// Evaluates to a range vector.
    fn eval_matrix(&mut self, expr: &Expr, ts: i64) -> Result<Matrix> {
        match self.eval(expr, ts)? {
            Value::Matrix(m) => Ok(m),
            other => Err(MetricsError::BadData(format!(
                "expected range vector, got {}",
                other.type_name()
            ))),
        }
    }

    fn instant_selector(&self, vs: &VectorSelector, ts: i64) -> Vec<Sample> {
        let ref_t = self.ref_time(&vs.at, &vs.offset, ts);
        let lookback = dur_ms(&self.opts.lookback_delta);
        let Some(data) = self.data.get(&key(vs)) else {
            return Vec::new();
        };
        data.iter()
            .filter_map(|s| {
                let idx = s.samples.partition_point(|(t, _)| *t <= ref_t);
                let (t, v) = *s.samples.get(idx.checked_sub(1)?)?;
                if t < ref_t - lookback || is_stale_nan(v) {
                    return None;
                }
                Some(Sample {
                    labels: s.labels.clone(),
                    t,
                    v,
                })
            })
            .collect()
    }

    fn range_selector(&self, vs: &VectorSelector, mint: i64, maxt: i64) -> Vec<Series> {
        let Some(data) = self.data.get(&key(vs)) else {
            return Vec::new();
        };
        data.iter()
            .filter_map(|s| {
                let lo = s.samples.partition_point(|(t, _)| *t < mint);
                let hi = s.samples.partition_point(|(t, _)| *t <= maxt);
                let points: Vec<(i64, f64)> = s.samples[lo..hi]
                    .iter()
                    .copied()
                    .filter(|(_, v)| !is_stale_nan(*v))
                    .collect();
                (!points.is_empty()).then(|| Series {
                    labels: s.labels.clone(),
                    points,
                })
            })
            .collect()
    }
}

fn collect_selectors<'e>(expr: &'e Expr, out: &mut HashMap<usize, &'e VectorSelector>) {
    match expr {
        Expr::VectorSelector(vs) => {
            out.insert(key(vs), vs);
        }
        Expr::MatrixSelector(ms) => {
            out.insert(key(&ms.vs), &ms.vs);
        }
        Expr::Subquery(sq) => collect_selectors(&sq.expr, out),
        Expr::Aggregate(a) => {
            collect_selectors(&a.expr, out);
            if let Some(p) = &a.param {
                collect_selectors(p, out);
            }
        }
        Expr::Unary(u) => collect_selectors(&u.expr, out),
        Expr::Binary(b) => {
            collect_selectors(&b.lhs, out);
            collect_selectors(&b.rhs, out);
        }
        Expr::Paren(p) => collect_selectors(&p.expr, out),
        Expr::Call(c) => {
            for a in &c.args.args {
                collect_selectors(a, out);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// Go's `math.Max`: NaN wins, +Inf wins, then the larger.
pub fn go_max(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x > 0.0 || y.is_infinite() && y > 0.0 {
        return f64::INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { y } else { x };
    }
    if x > y { x } else { y }
}

/// Go's `math.Min`: NaN wins, -Inf wins, then the smaller.
pub fn go_min(x: f64, y: f64) -> f64 {
    if x.is_infinite() && x < 0.0 || y.is_infinite() && y < 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { x } else { y };
    }
    if x < y { x } else { y }
}

/// Neumaier-compensated summation step, as Prometheus' `kahanSumInc`.
pub fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Formats a float as Go's `strconv.FormatFloat(v, 'f', -1, 64)` with Prometheus' specials.
pub fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{StorageConfig, stale_nan};

    fn store() -> Storage {
        let s = Storage::new(StorageConfig::default()).unwrap();
        let a = Labels::from_pairs([("__name__", "m"), ("k", "a")]);
        let b = Labels::from_pairs([("__name__", "m"), ("k", "b")]);
        for i in 0..10 {
            s.append(&a, i * 15_000, i as f64).unwrap();
            s.append(&b, i * 15_000, 100.0 + i as f64).unwrap();
        }
        // `a` goes stale at 150s; `b` simply stops.
        s.append(&a, 150_000, stale_nan()).unwrap();
        s
    }

    fn vector(v: QueryValue) -> Vec<(String, f64)> {
        match v {
            QueryValue::Vector(v) => v
                .into_iter()
                .map(|s| (s.labels.get("k").to_string(), s.v))
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn staleness_marker_ends_a_series_before_the_lookback_does() {
        let s = store();
        let opts = EngineOptions::default();
        assert_eq!(
            vector(instant_query(&s, "m", 140_000, opts).unwrap()).len(),
            2
        );
        let after = vector(instant_query(&s, "m", 160_000, opts).unwrap());
        assert_eq!(after, vec![("b".to_string(), 109.0)]);
        // Past the 5m lookback, `b` is gone too.
        assert!(vector(instant_query(&s, "m", 135_000 + 300_001, opts).unwrap()).is_empty());
        // Range selectors drop the marker itself.
        match instant_query(&s, "m{k=\"a\"}[1h]", 200_000, opts).unwrap() {
            QueryValue::Matrix(m) => assert_eq!(m[0].points.len(), 10),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unsupported_constructs_are_named() {
        let s = store();
        let err = instant_query(
            &s,
            "holt_winters(m[5m], 0.5, 0.5)",
            100_000,
            EngineOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("holt_winters"), "{err}");
        let err = instant_query(&s, "sum(", 0, EngineOptions::default()).unwrap_err();
        assert_eq!(err.error_type(), "bad_data");
    }

    #[test]
    fn duplicate_labelsets_after_dropping_the_name_are_an_error() {
        let s = store();
        let other = Labels::from_pairs([("__name__", "n"), ("k", "a")]);
        s.append(&other, 100_000, 1.0).unwrap();
        let err =
            instant_query(&s, "abs({k=\"a\"})", 100_000, EngineOptions::default()).unwrap_err();
        assert!(err.to_string().contains("same labelset"));
    }

    #[test]
    fn range_query_steps_and_at_modifiers() {
        let s = store();
        let opts = EngineOptions::default();
        match range_query(&s, "m{k=\"b\"} @ start()", 30_000, 90_000, 30_000, opts).unwrap() {
            QueryValue::Matrix(m) => {
                assert_eq!(
                    m[0].points,
                    vec![(30_000, 102.0), (60_000, 102.0), (90_000, 102.0)]
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(range_query(&s, "m[5m]", 0, 10, 1, opts).is_err());
    }
}
