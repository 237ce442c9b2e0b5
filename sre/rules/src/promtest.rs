//! The `promtool test rules` runner: reads the file format promtool reads, loads each test
//! group's input series into a fresh embedded store, evaluates every rule group at every
//! evaluation interval up to the largest `eval_time`, and checks `alert_rule_test` and
//! `promql_expr_test` expectations exactly as promtool 2.42 does (firing alerts only, label
//! sets and annotations equal, order-insensitive; samples equal after sorting by labels).
//! Failures read like promtool's.

pub mod series;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ballast_metrics::Labels;
use ballast_metrics::promql::{EngineOptions, QueryValue, instant_query};
use ballast_metrics::storage::{Storage, StorageConfig};

use crate::alert::AlertState;
use crate::duration::PromDuration;
use crate::group::{EvalOptions, GroupEvaluator};
use crate::problem::Problem;
use crate::rulefile::{RuleGroup, check_rule_files};
use crate::template::gofmt;
use crate::yaml::{self, Map, Reader};

/// The outcome of one test file.
#[derive(Debug, Clone, Default)]
pub struct TestReport {
    /// The test file.
    pub file: PathBuf,
    /// Problems reading the test file or its rule files (the tests did not run).
    pub problems: Vec<Problem>,
    /// One entry per test group, in file order.
    pub groups: Vec<TestGroupReport>,
}

/// The outcome of one test group.
#[derive(Debug, Clone, Default)]
pub struct TestGroupReport {
    /// The group's `name` (may be empty).
    pub name: String,
    /// Each failure, formatted as promtool formats it.
    pub failures: Vec<String>,
}

impl TestReport {
    /// True when the file was read and every test group passed.
    pub fn passed(&self) -> bool {
        self.problems.is_empty() && self.groups.iter().all(|g| g.failures.is_empty())
    }
}

impl fmt::Display for TestReport {
    /// As promtool prints: `Unit Testing:  FILE` then `  SUCCESS` or `  FAILED:` and each
    /// failure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Unit Testing:  {}", self.file.display())?;
        if self.passed() {
            return writeln!(f, "  SUCCESS");
        }
        writeln!(f, "  FAILED:")?;
        for p in &self.problems {
            writeln!(f, "    {p}")?;
        }
        for g in &self.groups {
            for failure in &g.failures {
                writeln!(f, "{failure}")?;
            }
        }
        Ok(())
    }
}

/// Labels and annotations of one alert.
type LabelsAndAnnotations = (BTreeMap<String, String>, BTreeMap<String, String>);

#[derive(Debug, Clone)]
struct TestFile {
    rule_files: Vec<String>,
    evaluation_interval: PromDuration,
    group_eval_order: Vec<String>,
    tests: Vec<TestGroup>,
}

#[derive(Debug, Clone)]
struct TestGroup {
    name: String,
    interval: Option<PromDuration>,
    input_series: Vec<(String, String)>,
    alert_tests: Vec<AlertTest>,
    promql_tests: Vec<PromqlTest>,
    external_labels: BTreeMap<String, String>,
    external_url: String,
}

#[derive(Debug, Clone)]
struct AlertTest {
    eval_time: PromDuration,
    alertname: String,
    exp_alerts: Vec<LabelsAndAnnotations>,
}

#[derive(Debug, Clone)]
struct PromqlTest {
    expr: String,
    eval_time: PromDuration,
    exp_samples: Vec<(String, f64)>,
}

/// Runs one `promtool test rules` file.
pub fn run_test_file(path: &Path) -> TestReport {
    let mut report = TestReport {
        file: path.to_owned(),
        ..TestReport::default()
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            report.problems.push(Problem {
                file: path.to_owned(),
                line: 0,
                column: 0,
                reason: format!("reading file: {e}"),
            });
            return report;
        }
    };
    let file = match parse_test_file(path, &text) {
        Ok(f) => f,
        Err(ps) => {
            report.problems = ps;
            return report;
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut rule_paths = Vec::new();
    for pattern in &file.rule_files {
        match resolve(dir, pattern) {
            Ok(mut found) => rule_paths.append(&mut found),
            Err(p) => report.problems.push(Problem {
                file: path.to_owned(),
                line: 0,
                column: 0,
                reason: p,
            }),
        }
    }
    if !report.problems.is_empty() {
        return report;
    }
    let rules = match check_rule_files(&rule_paths) {
        Ok(r) => r,
        Err(ps) => {
            report.problems = ps;
            return report;
        }
    };
    let mut groups: Vec<RuleGroup> = rules.groups().cloned().collect();
    if !file.group_eval_order.is_empty() {
        let mut ordered = Vec::new();
        for g in &groups {
            if !file.group_eval_order.contains(&g.name) {
                report.problems.push(Problem {
                    file: path.to_owned(),
                    line: 0,
                    column: 0,
                    reason: format!("group name {} missed in evaluation order", g.name),
                });
            }
        }
        for name in &file.group_eval_order {
            ordered.extend(groups.iter().filter(|g| &g.name == name).cloned());
        }
        groups = ordered;
    }
    if !report.problems.is_empty() {
        return report;
    }
    for tg in &file.tests {
        report
            .groups
            .push(run_group(tg, &groups, file.evaluation_interval));
    }
    report
}

/// A `rule_files` entry relative to the test file, with `*` and `?` globs in the file name.
fn resolve(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let full = dir.join(pattern);
    let name = full
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    if !name.contains(['*', '?']) {
        return Ok(vec![full]);
    }
    let parent = full.parent().unwrap_or(dir);
    let re = regex::Regex::new(&format!(
        "^{}$",
        regex::escape(&name)
            .replace(r"\*", ".*")
            .replace(r"\?", ".")
    ))
    .map_err(|e| e.to_string())?;
    let mut out: Vec<PathBuf> = std::fs::read_dir(parent)
        .map_err(|e| format!("{}: {e}", parent.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| re.is_match(n))
        })
        .collect();
    out.sort();
    Ok(out)
}

fn run_group(tg: &TestGroup, groups: &[RuleGroup], eval_interval: PromDuration) -> TestGroupReport {
    let mut report = TestGroupReport {
        name: tg.name.clone(),
        failures: Vec::new(),
    };
    let test_name = if tg.name.is_empty() {
        String::new()
    } else {
        format!("    name: {},\n", tg.name)
    };
    let storage = match Storage::new(StorageConfig::default()) {
        Ok(s) => s,
        Err(e) => {
            report.failures.push(format!("    {e}"));
            return report;
        }
    };
    let interval = tg.interval.unwrap_or(eval_interval).millis();
    for (series, values) in &tg.input_series {
        let labels = match series::parse_metric(series) {
            Ok(l) => l,
            Err(e) => {
                report
                    .failures
                    .push(format!("    {test_name}    series {series:?}: {e}"));
                return report;
            }
        };
        let values = match series::expand_values(values) {
            Ok(v) => v,
            Err(e) => {
                report
                    .failures
                    .push(format!("    {test_name}    values {values:?}: {e}"));
                return report;
            }
        };
        let samples: Vec<(&Labels, i64, f64)> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (&labels, i as i64 * interval, v)))
            .collect();
        storage.append_batch(samples);
    }
    let options = EvalOptions {
        engine: EngineOptions::default(),
        external_labels: tg.external_labels.clone(),
        external_url: tg.external_url.clone(),
    };
    let mut evaluators: Vec<GroupEvaluator> = groups
        .iter()
        .map(|g| GroupEvaluator::new(g.clone(), options.clone()))
        .collect();
    let step = eval_interval.millis().max(1);
    let max_t = tg
        .alert_tests
        .iter()
        .map(|a| a.eval_time.millis())
        .chain(tg.promql_tests.iter().map(|p| p.eval_time.millis()))
        .max()
        .unwrap_or(0);
    let mut alert_tests: Vec<&AlertTest> = tg.alert_tests.iter().collect();
    alert_tests.sort_by_key(|a| a.eval_time);
    let mut next = 0;
    let mut ts = 0;
    while ts <= max_t {
        let mut errors = Vec::new();
        for ev in &mut evaluators {
            for failure in ev.eval(&storage, ts).failures {
                errors.push(format!(
                    "    rule: {}, time: {}, err: {}",
                    failure.rule,
                    PromDuration(ts),
                    failure.error
                ));
            }
        }
        if !errors.is_empty() {
            report.failures.extend(errors);
            return report;
        }
        while next < alert_tests.len()
            && ts <= alert_tests[next].eval_time.millis()
            && alert_tests[next].eval_time.millis() < ts + step
        {
            let test = alert_tests[next];
            let mut got: Vec<LabelsAndAnnotations> = evaluators
                .iter()
                .flat_map(|ev| ev.alerts_of(&test.alertname))
                .filter(|a| a.state == AlertState::Firing)
                .map(|a| (a.labels, a.annotations))
                .collect();
            let mut exp: Vec<LabelsAndAnnotations> = test
                .exp_alerts
                .iter()
                .map(|(l, a)| {
                    let mut l = l.clone();
                    l.insert("alertname".into(), test.alertname.clone());
                    (l, a.clone())
                })
                .collect();
            got.sort();
            exp.sort();
            if got != exp {
                report.failures.push(format!(
                    "{test_name}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                    test.alertname,
                    test.eval_time,
                    indent(&alerts_string(&exp), "            "),
                    indent(&alerts_string(&got), "            ")
                ));
            }
            next += 1;
        }
        ts += step;
    }
    for t in &tg.promql_tests {
        let got = match instant_query(
            &storage,
            &t.expr,
            t.eval_time.millis(),
            EngineOptions::default(),
        ) {
            Ok(QueryValue::Vector(v)) => v.into_iter().map(|s| (s.labels, s.v)).collect::<Vec<_>>(),
            Ok(QueryValue::Scalar { v, .. }) => vec![(Labels::empty(), v)],
            Ok(_) => {
                report.failures.push(format!(
                    "    expr: {:?}, time: {}, err: rule result is not a vector or scalar",
                    t.expr, t.eval_time
                ));
                continue;
            }
            Err(e) => {
                report.failures.push(format!(
                    "    expr: {:?}, time: {}, err: {e}",
                    t.expr, t.eval_time
                ));
                continue;
            }
        };
        let mut exp = Vec::new();
        let mut bad = None;
        for (labels, value) in &t.exp_samples {
            match series::parse_metric(labels) {
                Ok(l) => exp.push((l, *value)),
                Err(e) => {
                    bad = Some(format!(
                        "    expr: {:?}, time: {}, err: labels {labels:?}: {e}",
                        t.expr, t.eval_time
                    ));
                    break;
                }
            }
        }
        if let Some(b) = bad {
            report.failures.push(b);
            continue;
        }
        let mut got = got;
        got.sort_by(|a, b| a.0.cmp(&b.0));
        exp.sort_by(|a, b| a.0.cmp(&b.0));
        let equal =
            got.len() == exp.len() && got.iter().zip(&exp).all(|(g, e)| g.0 == e.0 && g.1 == e.1);
        if !equal {
            report.failures.push(format!(
                "    expr: {:?}, time: {},\n        exp: {}\n        got: {}",
                t.expr,
                t.eval_time,
                samples_string(&exp),
                samples_string(&got)
            ));
        }
    }
    report
}

/// Go's `labels.Labels.String()`: `{a="b", c="d"}`.
fn labels_string<'a>(pairs: impl Iterator<Item = (&'a String, &'a String)>) -> String {
    let inner: Vec<String> = pairs.map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn alerts_string(list: &[LabelsAndAnnotations]) -> String {
    if list.is_empty() {
        return "[]".into();
    }
    let mut s = String::from("[");
    for (i, (l, a)) in list.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let one = format!(
            "\nLabels:{}\nAnnotations:{}",
            labels_string(l.iter()),
            labels_string(a.iter())
        );
        s.push_str(&format!("\n{i}:{}", indent(&one, "  ")));
    }
    s.push_str("\n]");
    s
}

fn samples_string(list: &[(Labels, f64)]) -> String {
    if list.is_empty() {
        return "nil".into();
    }
    list.iter()
        .map(|(l, v)| {
            format!(
                "{} {}",
                labels_string(l.pairs().iter().map(|(k, v)| (k, v))),
                format_upper_e(*v)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`.
fn format_upper_e(v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return gofmt::format_g(v, None);
    }
    let s = format!("{v:E}");
    let (mant, exp) = s.split_once('E').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mant}E{sign}{:02}", exp.abs())
}

fn indent(s: &str, prefix: &str) -> String {
    s.split('\n')
        .collect::<Vec<_>>()
        .join(&format!("\n{prefix}"))
}

fn parse_test_file(path: &Path, text: &str) -> Result<TestFile, Vec<Problem>> {
    let doc = yaml::load(path, text).map_err(|p| vec![p])?;
    let mut r = Reader::new(path);
    let mut file = TestFile {
        rule_files: Vec::new(),
        evaluation_interval: PromDuration(60_000),
        group_eval_order: Vec::new(),
        tests: Vec::new(),
    };
    let Some(doc) = doc else {
        return Ok(file);
    };
    let Some(mut top) = Map::of(&mut r, &doc, "main.unitTestFile") else {
        return Err(r.problems);
    };
    if let Some(n) = top.opt("rule_files") {
        for item in r.sequence(n, "rule_files") {
            if let Some(s) = r.scalar(item, "rule_files") {
                file.rule_files.push(s);
            }
        }
    }
    if let Some(d) = duration(&mut r, &mut top, "evaluation_interval") {
        file.evaluation_interval = d;
    }
    if let Some(n) = top.opt("group_eval_order") {
        for item in r.sequence(n, "group_eval_order") {
            if let Some(s) = r.scalar(item, "group_eval_order") {
                file.group_eval_order.push(s);
            }
        }
    }
    if let Some(n) = top.opt("tests") {
        for t in r.sequence(n, "tests") {
            if let Some(tg) = read_test_group(&mut r, t) {
                file.tests.push(tg);
            }
        }
    }
    top.finish(&mut r);
    if r.problems.is_empty() {
        Ok(file)
    } else {
        Err(r.problems)
    }
}

fn duration(r: &mut Reader, m: &mut Map<'_, '_>, key: &str) -> Option<PromDuration> {
    let (text, loc) = m.opt_string(r, key)?;
    match PromDuration::parse(&text) {
        Ok(d) => Some(d),
        Err(e) => {
            r.problems.push(loc.problem(format!("{key}: {e}")));
            None
        }
    }
}

fn read_test_group(r: &mut Reader, node: &yaml::Node<'_>) -> Option<TestGroup> {
    let mut m = Map::of(r, node, "main.testGroup")?;
    let mut tg = TestGroup {
        name: m.opt_string(r, "name").map(|(s, _)| s).unwrap_or_default(),
        interval: duration(r, &mut m, "interval"),
        input_series: Vec::new(),
        alert_tests: Vec::new(),
        promql_tests: Vec::new(),
        external_labels: BTreeMap::new(),
        external_url: m
            .opt_string(r, "external_url")
            .map(|(s, _)| s)
            .unwrap_or_default(),
    };
    if let Some(n) = m.opt("external_labels") {
        tg.external_labels = r
            .string_map(n, "external_labels")
            .into_iter()
            .map(|(k, v, _)| (k, v))
            .collect();
    }
    if let Some(n) = m.opt("input_series") {
        for s in r.sequence(n, "input_series") {
            let Some(mut sm) = Map::of(r, s, "main.series") else {
                continue;
            };
            let series = sm
                .opt_string(r, "series")
                .map(|(s, _)| s)
                .unwrap_or_default();
            let values = sm
                .opt_string(r, "values")
                .map(|(s, _)| s)
                .unwrap_or_default();
            sm.finish(r);
            tg.input_series.push((series, values));
        }
    }
    if let Some(n) = m.opt("alert_rule_test") {
        for a in r.sequence(n, "alert_rule_test") {
            let Some(mut am) = Map::of(r, a, "main.alertTestCase") else {
                continue;
            };
            let eval_time = duration(r, &mut am, "eval_time").unwrap_or_default();
            let alertname = am
                .opt_string(r, "alertname")
                .map(|(s, _)| s)
                .unwrap_or_default();
            let mut exp_alerts = Vec::new();
            if let Some(e) = am.opt("exp_alerts") {
                for ea in r.sequence(e, "exp_alerts") {
                    let Some(mut em) = Map::of(r, ea, "main.alert") else {
                        continue;
                    };
                    let labels = em
                        .opt("exp_labels")
                        .map(|n| r.string_map(n, "exp_labels"))
                        .unwrap_or_default();
                    let annotations = em
                        .opt("exp_annotations")
                        .map(|n| r.string_map(n, "exp_annotations"))
                        .unwrap_or_default();
                    em.finish(r);
                    exp_alerts.push((
                        labels.into_iter().map(|(k, v, _)| (k, v)).collect(),
                        annotations.into_iter().map(|(k, v, _)| (k, v)).collect(),
                    ));
                }
            }
            am.finish(r);
            tg.alert_tests.push(AlertTest {
                eval_time,
                alertname,
                exp_alerts,
            });
        }
    }
    if let Some(n) = m.opt("promql_expr_test") {
        for p in r.sequence(n, "promql_expr_test") {
            let Some(mut pm) = Map::of(r, p, "main.promqlTestCase") else {
                continue;
            };
            let expr = pm.opt_string(r, "expr").map(|(s, _)| s).unwrap_or_default();
            let eval_time = duration(r, &mut pm, "eval_time").unwrap_or_default();
            let mut exp_samples = Vec::new();
            if let Some(e) = pm.opt("exp_samples") {
                for es in r.sequence(e, "exp_samples") {
                    let Some(mut sm) = Map::of(r, es, "main.sample") else {
                        continue;
                    };
                    let labels = sm
                        .opt_string(r, "labels")
                        .map(|(s, _)| s)
                        .unwrap_or_default();
                    let value = match sm.opt_string(r, "value") {
                        Some((text, loc)) => match gofmt::parse_float(&text) {
                            Ok(v) => v,
                            Err(e) => {
                                r.problems.push(loc.problem(format!("value: {e}")));
                                0.0
                            }
                        },
                        None => 0.0,
                    };
                    sm.finish(r);
                    exp_samples.push((labels, value));
                }
            }
            pm.finish(r);
            tg.promql_tests.push(PromqlTest {
                expr,
                eval_time,
                exp_samples,
            });
        }
    }
    m.finish(r);
    Some(tg)
}
