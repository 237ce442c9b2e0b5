//! Time-scaled rule groups for demos and tests (`ballast up --time-scale N`): every duration a
//! rule depends on runs N times faster than written, so a rule that says `rate(x[1h]) > 0.1
//! for 5m` behaves, after 1/N of the wall time, as it would after the written time.
//!
//! What is scaled: the group's `interval` (by the engine), each rule's `for` and
//! `keep_firing_for`, and inside each expression every range selector (`[5m]`), subquery range
//! and step, and `offset`. `@` timestamps are absolute and stay. A scaled range never drops
//! below [`TimeScale::min_range`] (a rate needs two scrapes in its range) unless the written
//! range was already shorter.

use std::time::Duration;

use promql_parser::parser::{self, Expr, Offset};

use crate::duration::PromDuration;
use crate::rulefile::RuleGroup;

/// How much faster than real time, and the shortest range a scaled selector may get.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeScale {
    /// Wall time is written time divided by this (1: real time).
    pub factor: f64,
    /// The floor for scaled range selectors and subquery ranges.
    pub min_range: Duration,
}

impl TimeScale {
    /// Real time.
    pub const REAL_TIME: TimeScale = TimeScale {
        factor: 1.0,
        min_range: Duration::ZERO,
    };

    /// Whether anything changes (a factor other than 1).
    pub fn is_scaled(&self) -> bool {
        self.factor.is_finite() && self.factor > 0.0 && (self.factor - 1.0).abs() > f64::EPSILON
    }

    /// `d` divided by the factor, whole milliseconds, at least 1 ms when `d` is not zero.
    pub fn duration(&self, d: Duration) -> Duration {
        if !self.is_scaled() || d.is_zero() {
            return d;
        }
        let ms = (d.as_secs_f64() * 1000.0 / self.factor).round().max(1.0);
        Duration::from_millis(ms as u64)
    }

    /// A range: scaled, but not below the floor unless it was written shorter.
    pub fn range(&self, d: Duration) -> Duration {
        if !self.is_scaled() {
            return d;
        }
        self.duration(d).max(self.min_range.min(d))
    }

    fn prom(&self, d: PromDuration) -> PromDuration {
        let ms = u64::try_from(d.millis()).unwrap_or(0);
        let scaled = self.duration(Duration::from_millis(ms));
        PromDuration(i64::try_from(scaled.as_millis()).unwrap_or(i64::MAX))
    }

    /// The expression with its ranges, subquery steps and offsets scaled, printed back as
    /// PromQL. Errors when `expr` does not parse.
    pub fn expr(&self, expr: &str) -> Result<String, String> {
        if !self.is_scaled() {
            return Ok(expr.to_string());
        }
        let mut ast = parser::parse(expr)?;
        self.walk(&mut ast);
        Ok(ast.to_string())
    }

    /// The group with every rule's `for`, `keep_firing_for` and expression scaled (the
    /// interval is left to the engine, which divides it when it schedules the group).
    /// Errors name the rule whose expression does not parse.
    pub fn group(&self, group: &RuleGroup) -> Result<RuleGroup, String> {
        let mut out = group.clone();
        if !self.is_scaled() {
            return Ok(out);
        }
        for rule in &mut out.rules {
            rule.expr = self
                .expr(&rule.expr)
                .map_err(|e| format!("group {}, rule {}: {e}", group.name, rule.name()))?;
            rule.for_ = self.prom(rule.for_);
            rule.keep_firing_for = self.prom(rule.keep_firing_for);
        }
        Ok(out)
    }

    fn offset(&self, offset: &mut Option<Offset>) {
        *offset = offset.take().map(|o| match o {
            Offset::Pos(d) => Offset::Pos(self.duration(d)),
            Offset::Neg(d) => Offset::Neg(self.duration(d)),
        });
    }

    fn walk(&self, expr: &mut Expr) {
        match expr {
            Expr::Aggregate(a) => {
                self.walk(&mut a.expr);
                if let Some(p) = a.param.as_mut() {
                    self.walk(p);
                }
            }
            Expr::Unary(u) => self.walk(&mut u.expr),
            Expr::Binary(b) => {
                self.walk(&mut b.lhs);
                self.walk(&mut b.rhs);
            }
            Expr::Paren(p) => self.walk(&mut p.expr),
            Expr::Subquery(s) => {
                self.walk(&mut s.expr);
                s.range = self.range(s.range);
                s.step = s.step.map(|d| self.duration(d));
                self.offset(&mut s.offset);
            }
            Expr::VectorSelector(v) => self.offset(&mut v.offset),
            Expr::MatrixSelector(m) => {
                m.range = self.range(m.range);
                self.offset(&mut m.vs.offset);
            }
            Expr::Call(c) => {
                for arg in &mut c.args.args {
                    self.walk(arg);
                }
            }
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn ten_times() -> TimeScale {
        TimeScale {
            factor: 10.0,
            min_range: Duration::from_secs(15),
        }
    }

    #[test]
    fn ranges_offsets_and_subqueries_are_divided() {
        let s = ten_times();
        assert_eq!(
            s.expr(r#"sum(rate(http_requests_total{code=~"5.."}[1h] offset 10m)) / 2"#)
                .unwrap(),
            r#"sum(rate(http_requests_total{code=~"5.."}[6m] offset 1m)) / 2"#
        );
        assert_eq!(
            s.expr("max_over_time(rate(x[5m])[30m:1m])").unwrap(),
            "max_over_time(rate(x[30s])[3m:6s])"
        );
        assert_eq!(
            s.expr("sum_over_time(slo:sli_error:rate5m[30d])").unwrap(),
            "sum_over_time(slo:sli_error:rate5m[3d])"
        );
        assert_eq!(s.expr("up offset 1m").unwrap(), "up offset 6s");
    }

    #[test]
    fn scaled_ranges_keep_two_scrapes_but_short_ranges_are_not_lengthened() {
        let s = ten_times();
        // 1m / 10 = 6s is below the 15s floor.
        assert_eq!(s.expr("rate(x[1m])").unwrap(), "rate(x[15s])");
        // 10s was already shorter than the floor: left as written.
        assert_eq!(s.expr("rate(x[10s])").unwrap(), "rate(x[10s])");
    }

    #[test]
    fn real_time_changes_nothing_and_bad_expressions_are_errors() {
        let text = "rate(x[5m])  >  1";
        assert_eq!(TimeScale::REAL_TIME.expr(text).unwrap(), text);
        assert!(ten_times().expr("rate(x[5m]").is_err());
    }

    #[test]
    fn a_group_gets_scaled_for_and_keep_firing_for() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.rules.yaml");
        std::fs::write(
            &file,
            "groups:\n  - name: g\n    rules:\n      - alert: HighErrors\n        expr: rate(errors_total[10m]) > 1\n        for: 2m\n        keep_firing_for: 30s\n      - record: r\n        expr: sum(rate(x[1h]))\n",
        )
        .unwrap();
        let files = crate::check_rules(dir.path()).unwrap();
        let group = &files.files[0].groups[0];
        let scaled = ten_times().group(group).unwrap();
        assert_eq!(scaled.rules[0].expr, "rate(errors_total[1m]) > 1");
        assert_eq!(scaled.rules[0].for_, PromDuration(12_000));
        assert_eq!(scaled.rules[0].keep_firing_for, PromDuration(3_000));
        assert_eq!(scaled.rules[1].expr, "sum(rate(x[6m]))");
        assert_eq!(scaled.interval, group.interval);
    }
}
