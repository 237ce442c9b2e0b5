#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Broken specs are reported with file, line, column and reason; good ones in both formats
//! are read into the same model.

use std::path::PathBuf;

use ballast_slo::{
    Events, ProblemKind, SpecDuration, Tier, ValidateOptions, Window, validate_texts,
};

const POLICY: &str = r#"apiVersion: openslo/v1
kind: AlertCondition
metadata:
  name: page-fast
  labels:
    tier: page
spec:
  severity: critical
  condition:
    kind: burnrate
    op: gt
    threshold: 14.4
    lookbackWindow: 1h
    alertAfter: 2m
---
apiVersion: openslo/v1
kind: AlertCondition
metadata:
  name: ticket-slow
spec:
  severity: ticket
  condition:
    kind: burnrate
    op: gte
    threshold: 1
    lookbackWindow: 3d
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata:
  name: workbook
  annotations:
    ballast.dev/min-events: "50"
spec:
  alertWhenNoData: true
  conditions:
    - conditionRef: page-fast
    - conditionRef: ticket-slow
---
apiVersion: openslo/v1
kind: Service
metadata:
  name: user
spec:
  description: accounts
"#;

/// A valid OpenSLO SLO; `{target}`, `{window}`, `{extra}` and `{query}` are substituted.
const SLO: &str = r#"apiVersion: openslo/v1
kind: SLO
metadata:
  name: user-availability
spec:
  service: user
  indicator:
    metadata:
      name: user-availability
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Prometheus
            spec:
              query: {query}
        total:
          metricSource:
            type: Prometheus
            spec:
              query: sum(rate(http_requests_total{service="user"}[{{.window}}]))
  timeWindow:
    - duration: {window}
      isRolling: true
  objectives:
    - targetPercent: {target}
{extra}  alertPolicies:
    - alertPolicyRef: workbook
"#;

const GOOD_QUERY: &str =
    r#"sum(rate(http_requests_total{service="user",code!~"5.."}[{{.window}}]))"#;

fn slo(target: &str, window: &str, extra: &str, query: &str) -> String {
    SLO.replace("{target}", target)
        .replace("{window}", window)
        .replace("{extra}", extra)
        .replace("{query}", query)
}

fn files(pairs: &[(&str, &str)]) -> Vec<(PathBuf, String)> {
    pairs
        .iter()
        .map(|(n, t)| (PathBuf::from(format!("slo/{n}")), (*t).to_owned()))
        .collect()
}

/// Validates `slo_text` beside the shared policy and returns its problems as
/// `(kind, file, line, column, reason)`.
fn problems(slo_text: &str) -> Vec<(ProblemKind, String, usize, usize, String)> {
    let f = files(&[("alerting.yaml", POLICY), ("user.yaml", slo_text)]);
    match validate_texts(&f, &ValidateOptions::default()) {
        Ok(_) => Vec::new(),
        Err(ps) => ps
            .into_iter()
            .map(|p| {
                (
                    p.kind,
                    p.file.display().to_string(),
                    p.line,
                    p.column,
                    p.reason,
                )
            })
            .collect(),
    }
}

#[test]
fn a_valid_openslo_spec_is_read_with_references_resolved() {
    let f = files(&[
        ("alerting.yaml", POLICY),
        ("user.yaml", &slo("99.95", "30d", "", GOOD_QUERY)),
    ]);
    let specs = validate_texts(&f, &ValidateOptions::default()).unwrap();
    assert_eq!(specs.slos.len(), 1);
    let s = &specs.slos[0];
    assert_eq!(s.name, "user-availability");
    assert_eq!(s.target.ppm(), Some(999_500));
    assert_eq!(s.window, Window::Rolling(SpecDuration::days(30)));
    assert!(matches!(s.sli.events, Events::GoodTotal { .. }));
    let tiers: Vec<_> = s
        .alerting
        .burn_rates
        .iter()
        .map(|b| {
            (
                b.alert.as_str(),
                b.tier,
                b.factor.to_string(),
                b.long_window.to_string(),
                b.short_window.to_string(),
                b.for_duration.as_secs(),
            )
        })
        .collect();
    assert_eq!(
        tiers,
        vec![
            (
                "SLOBurnRatePageFast",
                Tier::Page,
                "14.4".into(),
                "1h".into(),
                "5m".into(),
                120
            ),
            (
                "SLOBurnRateTicketSlow",
                Tier::Ticket,
                "1".into(),
                "3d".into(),
                "6h".into(),
                0
            ),
        ]
    );
    assert_eq!(s.alerting.min_events, 50);
    assert!(s.alerting.no_data.is_some());
    assert_eq!(specs.services.len(), 1);
}

#[test]
fn unknown_field_is_reported_at_its_line() {
    let text = slo("99.95", "30d", "  tagret: 3\n", GOOD_QUERY);
    let ps = problems(&text);
    assert_eq!(ps.len(), 1, "{ps:?}");
    let (kind, file, line, column, reason) = &ps[0];
    assert_eq!(*kind, ProblemKind::UnknownField);
    assert_eq!(file, "slo/user.yaml");
    assert_eq!((*line, *column), (28, 3));
    assert!(reason.contains("tagret"), "{reason}");
}

#[test]
fn missing_field_is_reported() {
    let text = slo("99.95", "30d", "", GOOD_QUERY).replace("  service: user\n", "");
    let ps = problems(&text);
    assert!(
        ps.iter()
            .any(|p| p.0 == ProblemKind::MissingField && p.4.contains("`service`") && p.2 == 6),
        "{ps:?}"
    );
}

#[test]
fn bad_targets_are_reported() {
    for (target, line) in [("100", 27), ("0", 27), ("150", 27), ("99.9x", 27)] {
        let ps = problems(&slo(target, "30d", "", GOOD_QUERY));
        let want = ProblemKind::BadTarget;
        assert_eq!(ps.len(), 1, "{target}: {ps:?}");
        assert_eq!(
            (ps[0].0, ps[0].2, ps[0].3),
            (want, line, 22),
            "{target}: {ps:?}"
        );
    }
}

#[test]
fn queries_that_do_not_parse_are_reported() {
    let broken = r#"sum(rate(http_requests_total{service="user"[{{.window}}]))"#;
    let ps = problems(&slo("99.95", "30d", "", broken));
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!((ps[0].0, ps[0].2), (ProblemKind::BadQuery, 17));
    assert!(ps[0].4.contains("does not parse"), "{}", ps[0].4);

    let no_window = r#"sum(http_requests_total{service="user"})"#;
    let ps = problems(&slo("99.95", "30d", "", no_window));
    assert_eq!((ps[0].0, ps[0].2), (ProblemKind::BadQuery, 17));
    assert!(ps[0].4.contains("{{.window}}"), "{}", ps[0].4);
}

#[test]
fn duplicate_names_point_at_the_first_definition() {
    let text = slo("99.95", "30d", "", GOOD_QUERY);
    let f = files(&[
        ("alerting.yaml", POLICY),
        ("a.yaml", &text),
        ("b.yaml", &text),
    ]);
    let ps = validate_texts(&f, &ValidateOptions::default()).unwrap_err();
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(ps[0].kind, ProblemKind::DuplicateName);
    assert_eq!(ps[0].file, PathBuf::from("slo/b.yaml"));
    assert!(ps[0].reason.contains("slo/a.yaml:4:9"), "{}", ps[0].reason);
}

#[test]
fn unknown_references_are_reported() {
    let text = slo("99.95", "30d", "", GOOD_QUERY)
        .replace("alertPolicyRef: workbook", "alertPolicyRef: nope")
        .replace("service: user", "service: ghost");
    let ps = problems(&text);
    let kinds: Vec<_> = ps.iter().map(|p| (p.0, p.2, p.4.clone())).collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(kinds.iter().all(|k| k.0 == ProblemKind::UnknownReference));
    assert!(kinds.iter().any(|k| k.1 == 6 && k.2.contains("ghost")));
    assert!(kinds.iter().any(|k| k.1 == 29 && k.2.contains("nope")));

    let sli_ref = r#"apiVersion: openslo/v1
kind: SLO
metadata:
  name: user-availability
spec:
  service: user
  indicatorRef: missing-sli
  timeWindow:
    - duration: 30d
      isRolling: true
  objectives:
    - target: 0.9995
"#;
    let ps = problems(sli_ref);
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!((ps[0].0, ps[0].2), (ProblemKind::UnknownReference, 7));
}

#[test]
fn windows_the_data_cannot_cover_are_reported() {
    // Shorter than the 3d alert window.
    let ps = problems(&slo("99.95", "1d", "", GOOD_QUERY));
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(ps[0].0, ProblemKind::UncoverableWindow);
    assert!(ps[0].4.contains("shorter than"), "{}", ps[0].4);
    // Longer than the retention.
    let f = files(&[
        ("alerting.yaml", POLICY),
        ("user.yaml", &slo("99.95", "30d", "", GOOD_QUERY)),
    ]);
    let options = ValidateOptions {
        retention: SpecDuration::days(15),
    };
    let ps = validate_texts(&f, &options).unwrap_err();
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(ps[0].kind, ProblemKind::UncoverableWindow);
    assert!(ps[0].reason.contains("retention"), "{}", ps[0].reason);
}

#[test]
fn unsupported_kinds_and_versions_are_reported() {
    let ps = problems("apiVersion: openslo/v1\nkind: Composite\nmetadata:\n  name: x\nspec: {}\n");
    assert_eq!(
        (ps[0].0, ps[0].2, ps[0].3),
        (ProblemKind::UnsupportedKind, 2, 7)
    );
    let ps = problems("apiVersion: openslo/v2alpha\nkind: SLO\n");
    assert_eq!((ps[0].0, ps[0].2), (ProblemKind::UnsupportedKind, 1));
}

#[test]
fn yaml_syntax_errors_are_reported_with_position() {
    let ps = problems("apiVersion: openslo/v1\nkind: [SLO\nmetadata: {}\n");
    assert_eq!(ps.len(), 1, "{ps:?}");
    assert_eq!(ps[0].0, ProblemKind::Syntax);
    assert!(ps[0].2 >= 2, "{ps:?}");
}

#[test]
fn problems_print_as_file_line_column_reason() {
    let f = files(&[
        ("alerting.yaml", POLICY),
        ("user.yaml", &slo("100", "30d", "", GOOD_QUERY)),
    ]);
    let ps = validate_texts(&f, &ValidateOptions::default()).unwrap_err();
    assert_eq!(
        ps[0].to_string(),
        "slo/user.yaml:27:22: bad-target: `targetPercent`: target 100 % must be strictly \
         between 0 % and 100 %"
    );
}

const SLOTH: &str = r#"version: "prometheus/v1"
service: "notification"
slos:
  - name: "availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{service="notification",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{service="notification"}[{{.window}}]))
    alerting:
      page_alert:
        labels:
          severity: pager
      ticket_alert:
        disable: true
"#;

#[test]
fn sloth_specs_are_read_with_tier_switches_and_severities() {
    let f = files(&[("notification.yaml", SLOTH)]);
    let specs = validate_texts(&f, &ValidateOptions::default()).unwrap();
    let s = &specs.slos[0];
    assert_eq!(s.name, "notification-availability");
    assert_eq!(s.target.ppm(), Some(999_000));
    assert_eq!(s.error_budget().to_string(), "0.001");
    assert!(matches!(s.sli.events, Events::BadTotal { .. }));
    let tiers: Vec<_> = s
        .alerting
        .burn_rates
        .iter()
        .map(|b| (b.alert.as_str(), b.severity.as_str(), b.tier))
        .collect();
    assert_eq!(
        tiers,
        vec![
            ("SLOBurnRatePageFast", "pager", Tier::Page),
            ("SLOBurnRatePageSlow", "pager", Tier::Page)
        ]
    );

    // The Kubernetes form of the same file.
    let crd = format!(
        "apiVersion: sloth.slok.dev/v1\nkind: PrometheusServiceLevel\nmetadata:\n  name: n\nspec:\n{}",
        SLOTH
            .lines()
            .skip(1)
            .map(|l| format!("  {l}\n"))
            .collect::<String>()
    );
    let specs = validate_texts(&files(&[("crd.yaml", &crd)]), &ValidateOptions::default()).unwrap();
    assert_eq!(specs.slos[0].name, "notification-availability");
}

#[test]
fn sloth_problems_have_positions() {
    let text = SLOTH
        .replace("objective: 99.9", "objective: 100")
        .replace("ticket_alert:", "tickt_alert:");
    let ps = validate_texts(&files(&[("n.yaml", &text)]), &ValidateOptions::default()).unwrap_err();
    let got: Vec<_> = ps.iter().map(|p| (p.kind, p.line, p.column)).collect();
    assert_eq!(
        got,
        vec![
            (ProblemKind::BadTarget, 5, 16),
            (ProblemKind::UnknownField, 14, 7)
        ]
    );
}
