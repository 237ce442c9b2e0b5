//! Agreement: the engine and the generated recording rules, evaluated by the metrics layer's
//! PromQL engine over the same synthetic series, give the same burn rates and budgets.
//!
//! Tolerance: 1 % relative (plus 1e-9 absolute). Where the two differ, and why:
//! - The engine sums 1-minute steps, each `rate(x[1m]) × 60`; a rule reads `rate(x[W])` once.
//!   `rate` extrapolates to the edges of its range, so each 1-minute read covers the minute and
//!   the sum covers the window; with counters scraped every 30 s the two agree closely but
//!   not bit for bit.
//! - The full-window rule sums recorded 5-minute rates (`sum_over_time`), sampled here every
//!   minute (the ratio of two sums is the same at any regular sampling interval); the engine
//!   sums 1-hour buckets plus the current partial hour with the oldest hour interpolated.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::sync::Arc;

use ballast_metrics::promql::{EngineOptions, QueryValue, instant_query, range_query};
use ballast_metrics::{EmbeddedSource, Labels, Storage, StorageConfig};
use ballast_slo::engine::{Engine, EngineConfig};
use ballast_slo::rules::{Rule, slo_groups};
use ballast_slo::{RuleOptions, ValidateOptions, validate_texts};

const SPEC: &str = r#"version: "prometheus/v1"
service: "shop"
slos:
  - name: "availability"
    objective: 99.95
    sli:
      events:
        error_query: sum(rate(http_requests_total{service="shop",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{service="shop"}[{{.window}}]))
    alerting:
      page_alert:
        labels:
          severity: page
      ticket_alert:
        labels:
          severity: ticket
"#;

const MIN: i64 = 60_000;
const DAY: i64 = 1440 * MIN;
const SCRAPE: i64 = 30_000;

/// Errors per second at `t`: a 0.02 % baseline, a 2 % bad hour on day 20, a 40 % incident of
/// 20 minutes that ended 20 minutes before the end.
fn error_rate(t: i64, end: i64) -> f64 {
    let total = 20.0;
    if t > end - 40 * MIN && t <= end - 20 * MIN {
        total * 0.4
    } else if t > 20 * DAY && t <= 20 * DAY + 60 * MIN {
        total * 0.02
    } else {
        total * 0.0002
    }
}

fn storage(start: i64, end: i64) -> Arc<Storage> {
    let storage = Storage::new(StorageConfig {
        retention: std::time::Duration::from_secs(100 * 86_400),
        max_bytes: usize::MAX,
        snapshot_path: None,
    })
    .unwrap();
    let ok = Labels::from_pairs([
        ("__name__", "http_requests_total"),
        ("service", "shop"),
        ("code", "200"),
    ]);
    let bad = Labels::from_pairs([
        ("__name__", "http_requests_total"),
        ("service", "shop"),
        ("code", "500"),
    ]);
    let (mut good_c, mut bad_c) = (0.0, 0.0);
    let mut t = start;
    while t <= end {
        let e = error_rate(t, end) * (SCRAPE as f64 / 1000.0);
        bad_c += e;
        good_c += 20.0 * (SCRAPE as f64 / 1000.0) - e;
        storage.append(&ok, t, good_c).unwrap();
        storage.append(&bad, t, bad_c).unwrap();
        t += SCRAPE;
    }
    Arc::new(storage)
}

fn scalar(v: QueryValue) -> f64 {
    match v {
        QueryValue::Vector(s) => {
            assert_eq!(s.len(), 1, "{s:?}");
            s[0].v
        }
        QueryValue::Scalar { v, .. } => v,
        other => panic!("{other:?}"),
    }
}

fn close(a: f64, b: f64, what: &str) {
    let tol = 1e-9 + 0.01 * a.abs().max(b.abs());
    assert!((a - b).abs() <= tol, "{what}: engine {a} vs rules {b}");
}

#[tokio::test(flavor = "multi_thread")]
async fn engine_agrees_with_generated_rules() {
    let specs = validate_texts(
        &[(PathBuf::from("shop.yaml"), SPEC.to_string())],
        &ValidateOptions::default(),
    )
    .unwrap();
    let slo = specs.slos[0].clone();
    let end = 31 * DAY;
    let store = storage(0, end);
    let opts = EngineOptions::default();

    // The rules: the SLI group's expressions for each window, evaluated at `end`.
    let groups = slo_groups(&slo, &RuleOptions::default());
    let expr = |record: &str| -> String {
        groups
            .iter()
            .flat_map(|g| &g.rules)
            .find_map(|r| match r {
                Rule::Record {
                    record: n, expr, ..
                } if n == record => Some(expr.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no rule {record}"))
    };

    // The engine over the same store, backfilled in one tick.
    let mut engine = Engine::new(
        &specs,
        Arc::new(EmbeddedSource::new(store.clone())),
        EngineConfig::default(),
    )
    .unwrap();
    assert!(engine.tick(end).await.is_empty());
    let report = engine.report();
    let status = &report.slos[0];
    assert!(!report.scaled);
    assert_eq!(status.budget.total, "21m36s");

    let budget = 0.0005;
    for w in ["5m", "30m", "1h", "2h", "6h", "1d", "3d"] {
        let bad = scalar(
            instant_query(
                store.as_ref(),
                &expr(&format!("slo:sli_error:rate{w}")),
                end,
                opts,
            )
            .unwrap(),
        );
        let total = scalar(
            instant_query(
                store.as_ref(),
                &expr(&format!("slo:sli_total:rate{w}")),
                end,
                opts,
            )
            .unwrap(),
        );
        let rules_burn = bad / total / budget;
        let engine_burn = status
            .burn_rates
            .iter()
            .find(|b| b.window == w)
            .and_then(|b| b.burn_rate)
            .unwrap();
        close(engine_burn, rules_burn, &format!("burn rate {w}"));
    }

    // The full-window rule reads recorded 5m rates: record them (every minute), then
    // evaluate the generated expression itself.
    let recorded = Storage::new(StorageConfig {
        retention: std::time::Duration::from_secs(100 * 86_400),
        max_bytes: usize::MAX,
        snapshot_path: None,
    })
    .unwrap();
    for (record, name) in [
        ("slo:sli_error:rate5m", "slo:sli_error:rate5m"),
        ("slo:sli_total:rate5m", "slo:sli_total:rate5m"),
    ] {
        let v = range_query(
            store.as_ref(),
            &expr(record),
            end - 30 * DAY,
            end,
            MIN,
            opts,
        )
        .unwrap();
        let QueryValue::Matrix(series) = v else {
            panic!("matrix")
        };
        let labels = Labels::from_pairs([
            ("__name__", name),
            ("slo", slo.name.as_str()),
            ("service", slo.service.as_str()),
        ]);
        for (t, v) in &series[0].points {
            recorded.append(&labels, *t, *v).unwrap();
        }
    }
    let full_ratio =
        scalar(instant_query(&recorded, &expr("slo:sli_error:ratio_rate30d"), end, opts).unwrap());
    let full_burn = status
        .burn_rates
        .iter()
        .find(|b| b.window.ends_with("(full)"))
        .and_then(|b| b.burn_rate)
        .unwrap();
    close(full_burn, full_ratio / budget, "burn rate 30d");
    close(
        status.budget.remaining_ratio,
        1.0 - full_ratio / budget,
        "budget remaining",
    );
    // The incident burns fast enough to page: 40 % errors is 800x; the 5m window is past it.
    let page = status
        .tiers
        .iter()
        .find(|t| t.alert.ends_with("PageFast"))
        .unwrap();
    assert_eq!(
        page.condition,
        ballast_slo::engine::eval::Condition::BelowThreshold
    );
    let slow = status
        .tiers
        .iter()
        .find(|t| t.alert.ends_with("PageSlow"))
        .unwrap();
    assert!(slow.firing, "{slow:?}");
}
