//! Aggregation operators (`sum`, `avg`, `min`, `max`, `count`, `group`, `stddev`, `stdvar`,
//! `topk`, `bottomk`, `quantile`, `count_values`) with `by` / `without`.

use std::collections::HashMap;

use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};

use super::{Evaluator, Sample, Value, format_float, kahan_sum_inc};
use crate::error::{MetricsError, Result};
use crate::labels::{Labels, METRIC_NAME};

struct Group {
    labels: Labels,
    value: f64,
    mean: f64,
    count: f64,
    comp: f64,
    heap: Vec<Sample>,
}

/// Evaluates an aggregation at `ts`.
pub(crate) fn eval_aggregate(ev: &mut Evaluator<'_>, a: &AggregateExpr, ts: i64) -> Result<Value> {
    let op = a.op.to_string();
    let mut param_f = 0.0;
    let mut param_s = String::new();
    if let Some(p) = &a.param {
        match op.as_str() {
            "count_values" => {
                param_s = match ev.eval(p, ts)? {
                    Value::Str(s) => s,
                    other => {
                        return Err(MetricsError::BadData(format!(
                            "expected string parameter, got {}",
                            other.type_name()
                        )));
                    }
                }
            }
            _ => param_f = ev.eval_scalar(p, ts)?,
        }
    }
    let vec = ev.eval_vector(&a.expr, ts)?;
    aggregate(
        &op,
        vec,
        &a.modifier,
        param_f,
        &param_s,
        ts,
        a.param.as_deref(),
    )
}

fn group_labels(labels: &Labels, modifier: &Option<LabelModifier>) -> Labels {
    match modifier {
        None => Labels::empty(),
        Some(LabelModifier::Include(ls)) => labels.keep_only(&ls.labels),
        Some(LabelModifier::Exclude(ls)) => labels.drop_all(&ls.labels).without_name(),
    }
}

/// Go's `container/heap` over samples with Prometheus' value ordering.
struct GoHeap {
    reverse: bool,
}

impl GoHeap {
    fn less(&self, h: &[Sample], i: usize, j: usize) -> bool {
        if h[i].v.is_nan() {
            return true;
        }
        if self.reverse {
            h[i].v > h[j].v
        } else {
            h[i].v < h[j].v
        }
    }

    fn up(&self, h: &mut [Sample], mut j: usize) {
        while j > 0 {
            let i = (j - 1) / 2;
            if !self.less(h, j, i) {
                break;
            }
            h.swap(i, j);
            j = i;
        }
    }

    fn down(&self, h: &mut [Sample], i0: usize) -> bool {
        let n = h.len();
        let mut i = i0;
        loop {
            let j1 = 2 * i + 1;
            if j1 >= n {
                break;
            }
            let mut j = j1;
            let j2 = j1 + 1;
            if j2 < n && self.less(h, j2, j1) {
                j = j2;
            }
            if !self.less(h, j, i) {
                break;
            }
            h.swap(i, j);
            i = j;
        }
        i > i0
    }

    fn push(&self, h: &mut Vec<Sample>, s: Sample) {
        h.push(s);
        let last = h.len() - 1;
        self.up(h, last);
    }

    /// `heap.Pop`: moves the root to the end, restores the heap, drops it.
    fn pop(&self, h: &mut Vec<Sample>) {
        let n = h.len();
        if n == 0 {
            return;
        }
        h.swap(0, n - 1);
        self.down(&mut h[..n - 1], 0);
        h.pop();
    }
}

/// Prometheus' `quantile` over values (linear interpolation between closest ranks).
pub fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    // Sort ascending with NaN first, as Prometheus' vectorByValueHeap.
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

fn aggregate(
    op: &str,
    vec: Vec<Sample>,
    modifier: &Option<LabelModifier>,
    param: f64,
    label_param: &str,
    ts: i64,
    param_expr: Option<&Expr>,
) -> Result<Value> {
    let _ = param_expr;
    let mut k = 0i64;
    if op == "topk" || op == "bottomk" {
        if !param.is_finite() && !param.is_nan() || param.abs() > 9.2e18 {
            return Err(MetricsError::Execution(format!(
                "scalar value {param} overflows int64"
            )));
        }
        k = param as i64;
        if k < 1 {
            return Ok(Value::Vector(Vec::new()));
        }
    }
    if op == "count_values" && !crate::exposition::is_label_name(label_param) {
        return Err(MetricsError::Execution(format!(
            "invalid label name {label_param:?}"
        )));
    }
    let heap_ops = GoHeap {
        reverse: op == "bottomk",
    };
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for s in vec {
        let mut key_labels = group_labels(&s.labels, modifier);
        if op == "count_values" {
            key_labels.set(label_param.to_string(), format_float(s.v));
        }
        let gi = match index.get(&key_labels) {
            Some(i) => *i,
            None => {
                let mut g = Group {
                    labels: key_labels.clone(),
                    value: s.v,
                    mean: s.v,
                    count: 1.0,
                    comp: 0.0,
                    heap: Vec::new(),
                };
                match op {
                    "stddev" | "stdvar" => g.value = 0.0,
                    "group" => g.value = 1.0,
                    "topk" | "bottomk" | "quantile" => g.heap.push(s.clone()),
                    _ => {}
                }
                groups.push(g);
                index.insert(key_labels, groups.len() - 1);
                continue;
            }
        };
        let g = &mut groups[gi];
        match op {
            "sum" => {
                let (v, c) = kahan_sum_inc(s.v, g.value, g.comp);
                g.value = v;
                g.comp = c;
            }
            "avg" => {
                g.count += 1.0;
                if g.mean.is_infinite() {
                    if s.v.is_infinite() && (g.mean > 0.0) == (s.v > 0.0) {
                        continue;
                    }
                    if !s.v.is_infinite() && !s.v.is_nan() {
                        continue;
                    }
                }
                g.mean += s.v / g.count - g.mean / g.count;
            }
            "group" => {}
            "count" | "count_values" => g.count += 1.0,
            "max" => {
                if g.value < s.v || g.value.is_nan() {
                    g.value = s.v;
                }
            }
            "min" => {
                if g.value > s.v || g.value.is_nan() {
                    g.value = s.v;
                }
            }
            "stddev" | "stdvar" => {
                g.count += 1.0;
                let delta = s.v - g.mean;
                g.mean += delta / g.count;
                g.value += delta * (s.v - g.mean);
            }
            "topk" | "bottomk" => {
                let top = g.heap.first().map(|h| h.v);
                let wanted = match top {
                    _ if (g.heap.len() as i64) < k => true,
                    Some(h) if h.is_nan() => true,
                    Some(h) if op == "topk" => h < s.v,
                    Some(h) => h > s.v,
                    None => true,
                };
                if wanted {
                    if g.heap.len() as i64 == k {
                        if k == 1 {
                            // Prometheus replaces in place for k == 1.
                            g.heap[0] = s;
                            continue;
                        }
                        heap_ops.pop(&mut g.heap);
                    }
                    heap_ops.push(&mut g.heap, s);
                }
            }
            "quantile" => g.heap.push(s),
            other => {
                return Err(MetricsError::Unsupported(format!("aggregation {other}")));
            }
        }
    }
    let mut out = Vec::new();
    for g in groups {
        let v = match op {
            "sum" => {
                if g.value.is_infinite() {
                    g.value
                } else {
                    g.value + g.comp
                }
            }
            "avg" => g.mean,
            "count" | "count_values" => g.count,
            "stddev" => (g.value / g.count).sqrt(),
            "stdvar" => g.value / g.count,
            "quantile" => {
                let mut values: Vec<f64> = g.heap.iter().map(|s| s.v).collect();
                quantile(param, &mut values)
            }
            "topk" | "bottomk" => {
                for s in g.heap {
                    out.push(Sample {
                        labels: s.labels,
                        t: ts,
                        v: s.v,
                    });
                }
                continue;
            }
            _ => g.value,
        };
        let mut labels = g.labels;
        if op != "count_values" {
            // `by (__name__)` keeps the name; otherwise group labels never carry it.
            if !matches!(modifier, Some(LabelModifier::Include(ls)) if ls.labels.iter().any(|l| l == METRIC_NAME))
            {
                labels.del(METRIC_NAME);
            }
        }
        out.push(Sample { labels, t: ts, v });
    }
    Ok(Value::Vector(out))
}
