//! promtool's input series notation: a metric (`name{label="value"}`) and its values in the
//! expanding notation (`a`, `a+bxN`, `a-bxN`, `axN`, `_`, `_xN`, `stale`).

use ballast_metrics::Labels;
use ballast_metrics::storage::stale_nan;
use promql_parser::label::MatchOp;
use promql_parser::parser::Expr;

use crate::template::gofmt::parse_float;

/// Parses a metric with its labels (`parser.ParseMetric`); `""` and `{}` are no labels.
pub fn parse_metric(text: &str) -> Result<Labels, String> {
    let t = text.trim();
    if t.is_empty() || t == "{}" {
        return Ok(Labels::empty());
    }
    let expr = promql_parser::parser::parse(t)?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(format!("{t:?} is not a metric with labels"));
    };
    if vs.offset.is_some() || vs.at.is_some() {
        return Err(format!("{t:?} is not a metric with labels"));
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(name) = &vs.name {
        pairs.push(("__name__".into(), name.clone()));
    }
    for m in &vs.matchers.matchers {
        if m.op != MatchOp::Equal {
            return Err(format!("{t:?}: only `=` label matchers describe a series"));
        }
        pairs.push((m.name.clone(), m.value.clone()));
    }
    Ok(Labels::from_pairs(pairs))
}

/// Expands a values string; `None` is an omitted value (`_`).
pub fn expand_values(text: &str) -> Result<Vec<Option<f64>>, String> {
    let mut out = Vec::new();
    for item in text.split_whitespace() {
        let (head, times) = match item.rfind('x') {
            Some(i) if i + 1 < item.len() && item[i + 1..].bytes().all(|b| b.is_ascii_digit()) => {
                let n: usize = item[i + 1..]
                    .parse()
                    .map_err(|_| format!("bad repetition in {item:?}"))?;
                (&item[..i], Some(n))
            }
            _ => (item, None),
        };
        if head == "_" {
            out.extend(std::iter::repeat_n(None, times.unwrap_or(1)));
            continue;
        }
        if head == "stale" {
            out.extend(std::iter::repeat_n(
                Some(stale_nan()),
                times.map_or(1, |n| n + 1),
            ));
            continue;
        }
        let split = head
            .char_indices()
            .skip(1)
            .find(|(i, c)| matches!(c, '+' | '-') && !matches!(head.as_bytes()[i - 1], b'e' | b'E'))
            .map(|(i, _)| i);
        match (split, times) {
            (Some(i), Some(n)) => {
                let mut start = parse_float(&head[..i])?;
                let delta = parse_float(&head[i..])?;
                for _ in 0..=n {
                    out.push(Some(start));
                    start += delta;
                }
            }
            (Some(_), None) => return Err(format!("{item:?}: a step needs a repetition (`xN`)")),
            (None, Some(n)) => {
                let v = parse_float(head)?;
                out.extend(std::iter::repeat_n(Some(v), n + 1));
            }
            (None, None) => out.push(Some(parse_float(head)?)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ballast_metrics::storage::is_stale_nan;

    #[test]
    fn expands_promtool_notation() {
        let v = expand_values("0+10x2 _ 5 _x2 1-1x1 7x1 1e3 stale -2").unwrap();
        let f: Vec<String> = v
            .iter()
            .map(|x| match x {
                None => "_".into(),
                Some(v) if is_stale_nan(*v) => "stale".into(),
                Some(v) => v.to_string(),
            })
            .collect();
        assert_eq!(
            f,
            [
                "0", "10", "20", "_", "5", "_", "_", "1", "0", "7", "7", "1000", "stale", "-2"
            ]
        );
        assert!(expand_values("1+2").is_err());
        assert!(expand_values("abc").is_err());
    }

    #[test]
    fn parses_metrics() {
        let l = parse_metric("up{job=\"a\", instance=\"b\"}").unwrap();
        assert_eq!(l.name(), "up");
        assert_eq!(l.get("job"), "a");
        assert!(parse_metric("up{job=~\"a\"}").is_err());
        assert!(parse_metric("").unwrap().is_empty());
    }
}
