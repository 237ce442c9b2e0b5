//! Binary operators: arithmetic, comparison (with and without `bool`) and the set operators,
//! with `on` / `ignoring` and `group_left` / `group_right` vector matching.

use std::collections::{HashMap, HashSet};

use promql_parser::parser::{BinModifier, BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::{Evaluator, Sample, Value};
use crate::error::{MetricsError, Result};
use crate::labels::{Labels, METRIC_NAME};

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

fn drops_name(op: &str) -> bool {
    matches!(op, "+" | "-" | "*" | "/" | "%" | "^" | "atan2")
}

/// `(value, keep)` of `lhs op rhs` as Prometheus' `vectorElemBinop`.
fn elem_binop(op: &str, lhs: f64, rhs: f64) -> Result<(f64, bool)> {
    Ok(match op {
        "+" => (lhs + rhs, true),
        "-" => (lhs - rhs, true),
        "*" => (lhs * rhs, true),
        "/" => (lhs / rhs, true),
        "^" => (lhs.powf(rhs), true),
        "%" => (lhs % rhs, true),
        "atan2" => (lhs.atan2(rhs), true),
        "==" => (lhs, lhs == rhs),
        "!=" => (lhs, lhs != rhs),
        ">" => (lhs, lhs > rhs),
        "<" => (lhs, lhs < rhs),
        ">=" => (lhs, lhs >= rhs),
        "<=" => (lhs, lhs <= rhs),
        other => {
            return Err(MetricsError::Unsupported(format!(
                "binary operator {other:?}"
            )));
        }
    })
}

/// Scalar `op` scalar.
fn scalar_binop(op: &str, lhs: f64, rhs: f64) -> Result<f64> {
    let (v, keep) = elem_binop(op, lhs, rhs)?;
    Ok(if is_comparison(op) {
        if keep { 1.0 } else { 0.0 }
    } else {
        v
    })
}

/// Evaluates a binary expression at `ts`.
pub(crate) fn eval_binary(ev: &mut Evaluator<'_>, b: &BinaryExpr, ts: i64) -> Result<Value> {
    let op = b.op.to_string();
    let modifier = b.modifier.clone().unwrap_or_default();
    if modifier.fill_values.lhs.is_some() || modifier.fill_values.rhs.is_some() {
        return Err(MetricsError::Unsupported(
            "fill modifiers on binary operators".into(),
        ));
    }
    let return_bool = modifier.return_bool;
    let lhs = ev.eval(&b.lhs, ts)?;
    let rhs = ev.eval(&b.rhs, ts)?;
    match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => Ok(Value::Scalar(scalar_binop(&op, l, r)?)),
        (Value::Vector(l), Value::Scalar(r)) => {
            Ok(Value::Vector(vector_scalar(&op, l, r, false, return_bool)?))
        }
        (Value::Scalar(l), Value::Vector(r)) => {
            Ok(Value::Vector(vector_scalar(&op, r, l, true, return_bool)?))
        }
        (Value::Vector(l), Value::Vector(r)) => match op.as_str() {
            "and" => Ok(Value::Vector(and(l, r, &modifier))),
            "or" => Ok(Value::Vector(or(l, r, &modifier))),
            "unless" => Ok(Value::Vector(unless(l, r, &modifier))),
            _ => Ok(Value::Vector(vector_vector(&op, l, r, &modifier)?)),
        },
        (l, r) => Err(MetricsError::BadData(format!(
            "binary expression must contain only scalar and instant vector types, got {} and {}",
            l.type_name(),
            r.type_name()
        ))),
    }
}

fn vector_scalar(
    op: &str,
    vec: Vec<Sample>,
    scalar: f64,
    swap: bool,
    return_bool: bool,
) -> Result<Vec<Sample>> {
    let mut out = Vec::with_capacity(vec.len());
    for mut s in vec {
        let (lv, rv) = if swap { (scalar, s.v) } else { (s.v, scalar) };
        let (mut value, mut keep) = elem_binop(op, lv, rv)?;
        if is_comparison(op) && swap {
            value = rv;
        }
        if return_bool {
            value = if keep { 1.0 } else { 0.0 };
            keep = true;
        }
        if keep {
            s.v = value;
            if drops_name(op) || return_bool {
                s.labels.del(METRIC_NAME);
            }
            out.push(s);
        }
    }
    Ok(out)
}

/// The match signature of a series under `on` / `ignoring`.
fn signature(labels: &Labels, matching: &Option<LabelModifier>) -> Labels {
    match matching {
        Some(LabelModifier::Include(ls)) => labels.keep_only(&ls.labels),
        Some(LabelModifier::Exclude(ls)) => labels.drop_all(&ls.labels).without_name(),
        None => labels.without_name(),
    }
}

fn and(l: Vec<Sample>, r: Vec<Sample>, m: &BinModifier) -> Vec<Sample> {
    let right: HashSet<Labels> = r
        .iter()
        .map(|s| signature(&s.labels, &m.matching))
        .collect();
    l.into_iter()
        .filter(|s| right.contains(&signature(&s.labels, &m.matching)))
        .collect()
}

fn or(l: Vec<Sample>, r: Vec<Sample>, m: &BinModifier) -> Vec<Sample> {
    let left: HashSet<Labels> = l
        .iter()
        .map(|s| signature(&s.labels, &m.matching))
        .collect();
    let mut out = l;
    out.extend(
        r.into_iter()
            .filter(|s| !left.contains(&signature(&s.labels, &m.matching))),
    );
    out
}

fn unless(l: Vec<Sample>, r: Vec<Sample>, m: &BinModifier) -> Vec<Sample> {
    let right: HashSet<Labels> = r
        .iter()
        .map(|s| signature(&s.labels, &m.matching))
        .collect();
    l.into_iter()
        .filter(|s| !right.contains(&signature(&s.labels, &m.matching)))
        .collect()
}

fn vector_vector(
    op: &str,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    m: &BinModifier,
) -> Result<Vec<Sample>> {
    let (one_to_many, include) = match &m.card {
        VectorMatchCardinality::OneToOne => (false, None),
        VectorMatchCardinality::ManyToOne(ls) => (false, Some(ls.labels.clone())),
        VectorMatchCardinality::OneToMany(ls) => (true, Some(ls.labels.clone())),
        VectorMatchCardinality::ManyToMany => {
            return Err(MetricsError::BadData(format!(
                "many-to-many matching is only allowed for set operators, not {op}"
            )));
        }
    };
    let one_to_one = matches!(m.card, VectorMatchCardinality::OneToOne);
    let (lhs, rhs) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut right: HashMap<Labels, Sample> = HashMap::with_capacity(rhs.len());
    for rs in rhs {
        let sig = signature(&rs.labels, &m.matching);
        if let Some(dup) = right.get(&sig) {
            let side = if one_to_many { "left" } else { "right" };
            return Err(MetricsError::Execution(format!(
                "found duplicate series for the match group {sig} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                rs.labels, dup.labels
            )));
        }
        right.insert(sig, rs);
    }
    let mut matched: HashMap<Labels, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();
    for ls in lhs {
        let sig = signature(&ls.labels, &m.matching);
        let Some(rs) = right.get(&sig) else {
            continue;
        };
        let (vl, vr) = if one_to_many {
            (rs.v, ls.v)
        } else {
            (ls.v, rs.v)
        };
        let (mut value, keep) = elem_binop(op, vl, vr)?;
        if m.return_bool {
            value = if keep { 1.0 } else { 0.0 };
        } else if !keep {
            continue;
        }
        let mut metric = result_metric(&ls.labels, &rs.labels, op, m, one_to_one, &include);
        if m.return_bool {
            metric.del(METRIC_NAME);
        }
        if one_to_one {
            if matched.contains_key(&sig) {
                return Err(MetricsError::Execution(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                ));
            }
            matched.insert(sig, HashSet::new());
        } else {
            let set = matched.entry(sig).or_default();
            if !set.insert(metric.clone()) {
                return Err(MetricsError::Execution(
                    "multiple matches for labels: grouping labels must ensure unique matches"
                        .into(),
                ));
            }
        }
        out.push(Sample {
            labels: metric,
            t: ls.t,
            v: value,
        });
    }
    Ok(out)
}

fn result_metric(
    lhs: &Labels,
    rhs: &Labels,
    op: &str,
    m: &BinModifier,
    one_to_one: bool,
    include: &Option<Vec<String>>,
) -> Labels {
    let mut out = lhs.clone();
    if drops_name(op) {
        out.del(METRIC_NAME);
    }
    if one_to_one {
        match &m.matching {
            Some(LabelModifier::Include(ls)) => out = out.keep_only(&ls.labels),
            Some(LabelModifier::Exclude(ls)) => out = out.drop_all(&ls.labels),
            None => {}
        }
    }
    if let Some(names) = include {
        for name in names {
            out.set(name.clone(), rhs.get(name).to_string());
        }
    }
    out
}
