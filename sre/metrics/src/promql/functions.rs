//! PromQL function calls, with the semantics of Prometheus' `promql/functions.go`.

use std::collections::HashMap;

use promql_parser::parser::{Call, Expr};

use super::{Evaluator, Matrix, Sample, Series, Value, go_max, go_min, kahan_sum_inc};
use crate::error::{MetricsError, Result};
use crate::exposition::{is_label_name, parse_float};
use crate::labels::{Labels, METRIC_NAME};

fn arg(c: &Call, i: usize) -> Result<&Expr> {
    c.args.args.get(i).map(|b| b.as_ref()).ok_or_else(|| {
        MetricsError::BadData(format!("{}: missing argument {}", c.func.name, i + 1))
    })
}

fn string_arg(ev: &mut Evaluator<'_>, c: &Call, i: usize, ts: i64) -> Result<String> {
    match ev.eval(arg(c, i)?, ts)? {
        Value::Str(s) => Ok(s),
        other => Err(MetricsError::BadData(format!(
            "{}: expected string argument, got {}",
            c.func.name,
            other.type_name()
        ))),
    }
}

fn map_vector(vec: Vec<Sample>, f: impl Fn(f64) -> f64) -> Value {
    Value::Vector(
        vec.into_iter()
            .map(|s| Sample {
                labels: s.labels.without_name(),
                t: s.t,
                v: f(s.v),
            })
            .collect(),
    )
}

/// Evaluates a function call at `ts`.
pub(crate) fn eval_call(ev: &mut Evaluator<'_>, c: &Call, ts: i64) -> Result<Value> {
    let name = c.func.name;
    match name {
        "time" => Ok(Value::Scalar(ts as f64 / 1000.0)),
        "pi" => Ok(Value::Scalar(std::f64::consts::PI)),
        "vector" => {
            let v = ev.eval_scalar(arg(c, 0)?, ts)?;
            Ok(Value::Vector(vec![Sample {
                labels: Labels::empty(),
                t: ts,
                v,
            }]))
        }
        "scalar" => {
            let vec = ev.eval_vector(arg(c, 0)?, ts)?;
            Ok(Value::Scalar(if vec.len() == 1 {
                vec[0].v
            } else {
                f64::NAN
            }))
        }
        "abs" | "ceil" | "floor" | "exp" | "sqrt" | "ln" | "log2" | "log10" | "sgn" | "sin"
        | "cos" | "tan" | "asin" | "acos" | "atan" | "sinh" | "cosh" | "tanh" | "asinh"
        | "acosh" | "atanh" | "deg" | "rad" => {
            let vec = ev.eval_vector(arg(c, 0)?, ts)?;
            let f: fn(f64) -> f64 = match name {
                "abs" => f64::abs,
                "ceil" => f64::ceil,
                "floor" => f64::floor,
                "exp" => f64::exp,
                "sqrt" => f64::sqrt,
                "ln" => f64::ln,
                "log2" => f64::log2,
                "log10" => f64::log10,
                "sgn" => |v: f64| {
                    if v < 0.0 {
                        -1.0
                    } else if v > 0.0 {
                        1.0
                    } else {
                        v
                    }
                },
                "sin" => f64::sin,
                "cos" => f64::cos,
                "tan" => f64::tan,
                "asin" => f64::asin,
                "acos" => f64::acos,
                "atan" => f64::atan,
                "sinh" => f64::sinh,
                "cosh" => f64::cosh,
                "tanh" => f64::tanh,
                "asinh" => f64::asinh,
                "acosh" => f64::acosh,
                "atanh" => f64::atanh,
                "deg" => f64::to_degrees,
                _ => f64::to_radians,
            };
            Ok(map_vector(vec, f))
        }
        "round" => {
            let vec = ev.eval_vector(arg(c, 0)?, ts)?;
            let to_nearest = match c.args.args.get(1) {
                Some(e) => ev.eval_scalar(e, ts)?,
                None => 1.0,
            };
            let inv = 1.0 / to_nearest;
            Ok(map_vector(vec, |v| (v * inv + 0.5).floor() / inv))
        }
        "clamp" => {
            let vec = ev.eval_vector(arg(c, 0)?, ts)?;
            let min = ev.eval_scalar(arg(c, 1)?, ts)?;
            let max = ev.eval_scalar(arg(c, 2)?, ts)?;
            if max < min {
                return Ok(Value::Vector(Vec::new()));
            }
            Ok(map_vector(vec, |v| go_max(min, go_min(max, v))))
        }
        "clamp_min" => {
            let vec = ev.eval_vector(arg(c, 0)?, ts)?;
            let min = ev.eval_scalar(arg(c, 1)?, ts)?;
            Ok(map_vector(vec, |v| go_max(min, v)))
        }
        "clamp_max" => {
            let vec = ev.eval_vector(arg(c, 0)?, ts)?;
            let max = ev.eval_scalar(arg(c, 1)?, ts)?;
            Ok(map_vector(vec, |v| go_min(max, v)))
        }
        "timestamp" => {
            let is_selector = matches!(arg(c, 0)?, Expr::VectorSelector(_));
            let vec = ev.eval_vector(arg(c, 0)?, ts)?;
            Ok(Value::Vector(
                vec.into_iter()
                    .map(|s| Sample {
                        labels: s.labels.without_name(),
                        t: ts,
                        v: if is_selector { s.t } else { ts } as f64 / 1000.0,
                    })
                    .collect(),
            ))
        }
        "sort" | "sort_desc" => {
            let mut vec = ev.eval_vector(arg(c, 0)?, ts)?;
            let desc = name == "sort_desc";
            vec.sort_by(|a, b| match (a.v.is_nan(), b.v.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ => {
                    let o = a.v.partial_cmp(&b.v).unwrap_or(std::cmp::Ordering::Equal);
                    if desc { o.reverse() } else { o }
                }
            });
            Ok(Value::Vector(vec))
        }
        "absent" => {
            let vec = ev.eval_vector(arg(c, 0)?, ts)?;
            if !vec.is_empty() {
                return Ok(Value::Vector(Vec::new()));
            }
            Ok(Value::Vector(vec![Sample {
                labels: absent_labels(arg(c, 0)?),
                t: ts,
                v: 1.0,
            }]))
        }
        "absent_over_time" => {
            let m = ev.eval_matrix(arg(c, 0)?, ts)?;
            if m.series.iter().any(|s| !s.points.is_empty()) {
                return Ok(Value::Vector(Vec::new()));
            }
            Ok(Value::Vector(vec![Sample {
                labels: absent_labels(arg(c, 0)?),
                t: ts,
                v: 1.0,
            }]))
        }
        "label_replace" => label_replace(ev, c, ts),
        "label_join" => label_join(ev, c, ts),
        "histogram_quantile" => {
            let q = ev.eval_scalar(arg(c, 0)?, ts)?;
            let vec = ev.eval_vector(arg(c, 1)?, ts)?;
            Ok(Value::Vector(histogram_quantile(q, vec, ts)))
        }
        "rate" | "increase" | "delta" => {
            let m = ev.eval_matrix(arg(c, 0)?, ts)?;
            let is_counter = name != "delta";
            let is_rate = name == "rate";
            Ok(over_matrix(&m, ts, |pts| {
                extrapolated_rate(pts, m.range_start, m.range_end, is_counter, is_rate)
            }))
        }
        "irate" | "idelta" => {
            let m = ev.eval_matrix(arg(c, 0)?, ts)?;
            let is_rate = name == "irate";
            Ok(over_matrix(&m, ts, |pts| instant_value(pts, is_rate)))
        }
        "deriv" => {
            let m = ev.eval_matrix(arg(c, 0)?, ts)?;
            Ok(over_matrix(&m, ts, |pts| {
                (pts.len() >= 2).then(|| linear_regression(pts, pts[0].0).0)
            }))
        }
        "predict_linear" => {
            let m = ev.eval_matrix(arg(c, 0)?, ts)?;
            let duration = ev.eval_scalar(arg(c, 1)?, ts)?;
            Ok(over_matrix(&m, ts, |pts| {
                (pts.len() >= 2).then(|| {
                    let (slope, intercept) = linear_regression(pts, ts);
                    slope * duration + intercept
                })
            }))
        }
        "changes" => {
            let m = ev.eval_matrix(arg(c, 0)?, ts)?;
            Ok(over_matrix(&m, ts, |pts| {
                let mut changes = 0.0;
                let mut prev = pts.first()?.1;
                for &(_, cur) in &pts[1..] {
                    if cur != prev && !(cur.is_nan() && prev.is_nan()) {
                        changes += 1.0;
                    }
                    prev = cur;
                }
                Some(changes)
            }))
        }
        "resets" => {
            let m = ev.eval_matrix(arg(c, 0)?, ts)?;
            Ok(over_matrix(&m, ts, |pts| {
                let mut resets = 0.0;
                let mut prev = pts.first()?.1;
                for &(_, cur) in &pts[1..] {
                    if cur < prev {
                        resets += 1.0;
                    }
                    prev = cur;
                }
                Some(resets)
            }))
        }
        "avg_over_time" | "sum_over_time" | "count_over_time" | "min_over_time"
        | "max_over_time" | "stddev_over_time" | "stdvar_over_time" | "present_over_time" => {
            let m = ev.eval_matrix(arg(c, 0)?, ts)?;
            Ok(over_matrix(&m, ts, |pts| {
                if pts.is_empty() {
                    return None;
                }
                Some(match name {
                    "avg_over_time" => avg_over_time(pts),
                    "sum_over_time" => {
                        let (mut sum, mut c) = (0.0, 0.0);
                        for &(_, v) in pts {
                            (sum, c) = kahan_sum_inc(v, sum, c);
                        }
                        if sum.is_infinite() { sum } else { sum + c }
                    }
                    "count_over_time" => pts.len() as f64,
                    "min_over_time" => {
                        let mut min = pts[0].1;
                        for &(_, v) in pts {
                            if v < min || min.is_nan() {
                                min = v;
                            }
                        }
                        min
                    }
                    "max_over_time" => {
                        let mut max = pts[0].1;
                        for &(_, v) in pts {
                            if v > max || max.is_nan() {
                                max = v;
                            }
                        }
                        max
                    }
                    "present_over_time" => 1.0,
                    _ => {
                        let var = variance(pts);
                        if name == "stddev_over_time" {
                            var.sqrt()
                        } else {
                            var
                        }
                    }
                })
            }))
        }
        "quantile_over_time" => {
            let q = ev.eval_scalar(arg(c, 0)?, ts)?;
            let m = ev.eval_matrix(arg(c, 1)?, ts)?;
            Ok(over_matrix(&m, ts, |pts| {
                if pts.is_empty() {
                    return None;
                }
                let mut values: Vec<f64> = pts.iter().map(|p| p.1).collect();
                Some(super::aggregate::quantile(q, &mut values))
            }))
        }
        "last_over_time" => {
            let m = ev.eval_matrix(arg(c, 0)?, ts)?;
            Ok(Value::Vector(
                m.series
                    .iter()
                    .filter_map(|s| {
                        s.points.last().map(|p| Sample {
                            labels: s.labels.clone(),
                            t: ts,
                            v: p.1,
                        })
                    })
                    .collect(),
            ))
        }
        other => Err(MetricsError::Unsupported(format!("function {other}()"))),
    }
}

/// Applies `f` to every series of a matrix; the name is dropped.
fn over_matrix(m: &Matrix, ts: i64, f: impl Fn(&[(i64, f64)]) -> Option<f64>) -> Value {
    Value::Vector(
        m.series
            .iter()
            .filter_map(|s: &Series| {
                f(&s.points).map(|v| Sample {
                    labels: s.labels.without_name(),
                    t: ts,
                    v,
                })
            })
            .collect(),
    )
}

/// `rate`, `increase` and `delta` with Prometheus' extrapolation to the window edges.
pub fn extrapolated_rate(
    pts: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let first = pts[0];
    let last = pts[pts.len() - 1];
    let mut result = last.1 - first.1;
    if is_counter {
        let mut last_value = 0.0;
        for &(_, v) in pts {
            if v < last_value {
                result += last_value;
            }
            last_value = v;
        }
    }
    let mut duration_to_start = (first.0 - range_start) as f64 / 1000.0;
    let duration_to_end = (range_end - last.0) as f64 / 1000.0;
    let sampled_interval = (last.0 - first.0) as f64 / 1000.0;
    let average_between = sampled_interval / (pts.len() - 1) as f64;
    if is_counter && result > 0.0 && first.1 >= 0.0 {
        let duration_to_zero = sampled_interval * (first.1 / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    let threshold = average_between * 1.1;
    let mut extrapolate_to = sampled_interval;
    extrapolate_to += if duration_to_start < threshold {
        duration_to_start
    } else {
        average_between / 2.0
    };
    extrapolate_to += if duration_to_end < threshold {
        duration_to_end
    } else {
        average_between / 2.0
    };
    let mut factor = extrapolate_to / sampled_interval;
    if is_rate {
        factor /= (range_end - range_start) as f64 / 1000.0;
    }
    Some(result * factor)
}

fn instant_value(pts: &[(i64, f64)], is_rate: bool) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let last = pts[pts.len() - 1];
    let prev = pts[pts.len() - 2];
    let mut result = if is_rate && last.1 < prev.1 {
        last.1
    } else {
        last.1 - prev.1
    };
    let interval = last.0 - prev.0;
    if interval == 0 {
        return None;
    }
    if is_rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

/// Least-squares slope and intercept at `intercept_time`, as Prometheus' `linearRegression`.
pub fn linear_regression(pts: &[(i64, f64)], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = pts[0].1;
    let mut const_y = true;
    for (i, &(t, v)) in pts.iter().enumerate() {
        if const_y && i > 0 && v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (t - intercept_time) as f64 / 1e3;
        (sum_x, c_x) = kahan_sum_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_sum_inc(v, sum_y, c_y);
        (sum_xy, c_xy) = kahan_sum_inc(x * v, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_sum_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let sum_x = sum_x + c_x;
    let sum_y = sum_y + c_y;
    let sum_xy = sum_xy + c_xy;
    let sum_x2 = sum_x2 + c_x2;
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

fn avg_over_time(pts: &[(i64, f64)]) -> f64 {
    let (mut mean, mut count, mut c) = (0.0f64, 0.0, 0.0);
    for &(_, v) in pts {
        count += 1.0;
        if mean.is_infinite() {
            if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                continue;
            }
            if !v.is_infinite() && !v.is_nan() {
                continue;
            }
        }
        (mean, c) = kahan_sum_inc(v / count - mean / count, mean, c);
    }
    if mean.is_infinite() { mean } else { mean + c }
}

fn variance(pts: &[(i64, f64)]) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(_, v) in pts {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_sum_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_sum_inc(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// The labels `absent()` reports: the selector's equality matchers, as Prometheus.
fn absent_labels(e: &Expr) -> Labels {
    let vs = match e {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::empty(),
    };
    let mut out = Labels::empty();
    let mut has: Vec<&str> = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if matches!(m.op, promql_parser::label::MatchOp::Equal) && !has.contains(&m.name.as_str()) {
            out.set(m.name.clone(), m.value.clone());
            has.push(&m.name);
        } else {
            out.del(&m.name);
        }
    }
    out
}

fn label_replace(ev: &mut Evaluator<'_>, c: &Call, ts: i64) -> Result<Value> {
    let vec = ev.eval_vector(arg(c, 0)?, ts)?;
    let dst = string_arg(ev, c, 1, ts)?;
    let repl = string_arg(ev, c, 2, ts)?;
    let src = string_arg(ev, c, 3, ts)?;
    let re_text = string_arg(ev, c, 4, ts)?;
    let re = regex::Regex::new(&format!("^(?:{re_text})$")).map_err(|e| {
        MetricsError::BadData(format!(
            "invalid regular expression in label_replace(): {e}"
        ))
    })?;
    if !is_label_name(&dst) {
        return Err(MetricsError::BadData(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let mut out = Vec::with_capacity(vec.len());
    for mut s in vec {
        let value = s.labels.get(&src).to_string();
        if let Some(caps) = re.captures(&value) {
            let mut res = String::new();
            caps.expand(&repl, &mut res);
            s.labels.set(dst.clone(), res);
        }
        out.push(s);
    }
    Ok(Value::Vector(out))
}

fn label_join(ev: &mut Evaluator<'_>, c: &Call, ts: i64) -> Result<Value> {
    let vec = ev.eval_vector(arg(c, 0)?, ts)?;
    let dst = string_arg(ev, c, 1, ts)?;
    let sep = string_arg(ev, c, 2, ts)?;
    let mut srcs = Vec::new();
    for i in 3..c.args.args.len() {
        srcs.push(string_arg(ev, c, i, ts)?);
    }
    if !is_label_name(&dst) {
        return Err(MetricsError::BadData(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    Ok(Value::Vector(
        vec.into_iter()
            .map(|mut s| {
                let joined: Vec<&str> = srcs.iter().map(|n| s.labels.get(n)).collect();
                let joined = joined.join(&sep);
                s.labels.set(dst.clone(), joined);
                s
            })
            .collect(),
    ))
}

/// `histogram_quantile` over classic `le` buckets.
fn histogram_quantile(q: f64, vec: Vec<Sample>, ts: i64) -> Vec<Sample> {
    let mut order: Vec<Labels> = Vec::new();
    let mut groups: HashMap<Labels, Vec<(f64, f64)>> = HashMap::new();
    for s in vec {
        let Some(upper) =
            parse_float(s.labels.get("le")).or_else(|| s.labels.get("le").parse().ok())
        else {
            continue;
        };
        let mut key = s.labels.without_name();
        key.del("le");
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push((upper, s.v));
    }
    order
        .into_iter()
        .filter_map(|key| {
            let buckets = groups.remove(&key)?;
            Some(Sample {
                labels: key,
                t: ts,
                v: bucket_quantile(q, buckets),
            })
        })
        .collect()
}

/// Prometheus' `bucketQuantile` over `(upper bound, cumulative count)` pairs.
pub fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    match buckets.last() {
        Some(b) if b.0 == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    // Coalesce equal upper bounds.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for b in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == b.0 => last.1 += b.1,
            _ => merged.push(b),
        }
    }
    // Ensure monotonic counts.
    let mut max = f64::NEG_INFINITY;
    for b in &mut merged {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
    if merged.len() < 2 {
        return f64::NAN;
    }
    let observations = merged[merged.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let n = merged.len() - 1;
    let b = merged[..n].partition_point(|x| x.1 < rank);
    if b == n {
        return merged[n - 1].0;
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return merged[0].0;
    }
    let mut bucket_start = 0.0;
    let bucket_end = merged[b].0;
    let mut count = merged[b].1;
    if b > 0 {
        bucket_start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    bucket_start + (bucket_end - bucket_start) * (rank / count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_extrapolates_and_handles_resets() {
        // 0..60s at 15s steps inside a 60s window ending at 60s.
        let pts = [
            (0, 0.0),
            (15_000, 10.0),
            (30_000, 20.0),
            (45_000, 5.0),
            (60_000, 15.0),
        ];
        let inc = extrapolated_rate(&pts, 0, 60_000, true, false).unwrap();
        assert!((inc - 35.0).abs() < 1e-12, "{inc}");
        let rate = extrapolated_rate(&pts, 0, 60_000, true, true).unwrap();
        assert!((rate - 35.0 / 60.0).abs() < 1e-12);
        assert!(extrapolated_rate(&pts[..1], 0, 60_000, true, true).is_none());
    }

    #[test]
    fn bucket_quantile_interpolates() {
        let b = vec![
            (0.1, 10.0),
            (0.5, 50.0),
            (1.0, 90.0),
            (f64::INFINITY, 100.0),
        ];
        assert!((bucket_quantile(0.5, b.clone()) - 0.5).abs() < 1e-12);
        assert_eq!(bucket_quantile(0.99, b.clone()), 1.0);
        assert!(bucket_quantile(0.5, vec![(0.1, 1.0)]).is_nan());
    }

    #[test]
    fn regression_of_a_line() {
        let pts = [(0, 1.0), (1000, 3.0), (2000, 5.0)];
        let (slope, intercept) = linear_regression(&pts, 0);
        assert!((slope - 2.0).abs() < 1e-12);
        assert!((intercept - 1.0).abs() < 1e-12);
    }
}
