//! Rule files in Prometheus' format, read and checked as `promtool check rules` does: strict
//! fields, group names present and unique per file, exactly one of `record` / `alert`, `expr`
//! parsed with `promql-parser`, valid metric, label and annotation names, durations, templates
//! that expand, and no two rules of a group producing the same name with the same labels.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use crate::duration::PromDuration;
use crate::problem::{Location, Problem};
use crate::template::Template;
use crate::yaml::{self, Map, Reader};

/// Every rule file read, in the order given.
#[derive(Debug, Clone, Default)]
pub struct RuleFiles {
    /// The files.
    pub files: Vec<RuleFile>,
}

impl RuleFiles {
    /// Every group of every file, in file order.
    pub fn groups(&self) -> impl Iterator<Item = &RuleGroup> {
        self.files.iter().flat_map(|f| f.groups.iter())
    }
}

/// One rule file.
#[derive(Debug, Clone)]
pub struct RuleFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its groups.
    pub groups: Vec<RuleGroup>,
}

/// A rule group: rules evaluated in order, at one interval.
#[derive(Debug, Clone)]
pub struct RuleGroup {
    /// The group's name.
    pub name: String,
    /// The file it was read from.
    pub file: PathBuf,
    /// Its own evaluation interval (the global one when absent).
    pub interval: Option<PromDuration>,
    /// Maximum alerts / series a rule may produce (0: no limit).
    pub limit: usize,
    /// The rules, in order.
    pub rules: Vec<Rule>,
}

/// Whether a rule records or alerts, with its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleKind {
    /// `record: NAME`.
    Record(String),
    /// `alert: NAME`.
    Alert(String),
}

/// One recording or alerting rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Record or alert, and the name.
    pub kind: RuleKind,
    /// The PromQL expression.
    pub expr: String,
    /// `for`: how long the condition must hold before firing (alerts only).
    pub for_: PromDuration,
    /// `keep_firing_for`: how long a firing alert keeps firing after the condition clears.
    pub keep_firing_for: PromDuration,
    /// Labels added (templated for alerts).
    pub labels: BTreeMap<String, String>,
    /// Annotations (templated; alerts only).
    pub annotations: BTreeMap<String, String>,
    /// Where the rule starts.
    pub location: Location,
}

impl Rule {
    /// The record or alert name.
    pub fn name(&self) -> &str {
        match &self.kind {
            RuleKind::Record(n) | RuleKind::Alert(n) => n,
        }
    }
}

static METRIC_NAME_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$").ok());
static LABEL_NAME_RE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z_][a-zA-Z0-9_]*$").ok());

/// Whether `name` is a valid metric name.
pub fn is_valid_metric_name(name: &str) -> bool {
    METRIC_NAME_RE.as_ref().is_some_and(|re| re.is_match(name))
}

/// Whether `name` is a valid label name.
pub fn is_valid_label_name(name: &str) -> bool {
    LABEL_NAME_RE.as_ref().is_some_and(|re| re.is_match(name))
}

/// Checks a rule file, or every `*.rules.yaml` / `*.rules.yml` file under a directory
/// (recursively, sorted), as `promtool check rules` does. All problems of all files are
/// returned together.
pub fn check_rules(path: &Path) -> Result<RuleFiles, Vec<Problem>> {
    let files = if path.is_dir() {
        let mut found = Vec::new();
        collect_rule_files(path, &mut found).map_err(|e| {
            vec![Problem {
                file: path.to_owned(),
                line: 0,
                column: 0,
                reason: format!("reading directory: {e}"),
            }]
        })?;
        found.sort();
        found
    } else {
        vec![path.to_owned()]
    };
    check_rule_files(&files)
}

fn collect_rule_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.is_dir() {
            collect_rule_files(&p, out)?;
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".rules.yaml") || n.ends_with(".rules.yml"))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// Checks the given rule files.
pub fn check_rule_files(paths: &[PathBuf]) -> Result<RuleFiles, Vec<Problem>> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        match std::fs::read_to_string(p) {
            Ok(text) => match parse_rule_file(p, &text) {
                Ok(f) => files.push(f),
                Err(mut ps) => problems.append(&mut ps),
            },
            Err(e) => problems.push(Problem {
                file: p.clone(),
                line: 0,
                column: 0,
                reason: format!("reading file: {e}"),
            }),
        }
    }
    if problems.is_empty() {
        Ok(RuleFiles { files })
    } else {
        Err(problems)
    }
}

/// Parses and checks the text of one rule file.
pub fn parse_rule_file(path: &Path, text: &str) -> Result<RuleFile, Vec<Problem>> {
    let doc = yaml::load(path, text).map_err(|p| vec![p])?;
    let mut r = Reader::new(path);
    let mut groups = Vec::new();
    if let Some(doc) = &doc
        && let Some(mut top) = Map::of(&mut r, doc, "rulefmt.RuleGroups")
    {
        if let Some(gs) = top.opt("groups") {
            let mut seen: HashMap<String, usize> = HashMap::new();
            for g in r.sequence(gs, "groups") {
                if let Some(group) = read_group(&mut r, g) {
                    if let Some(first) = seen.get(&group.name) {
                        let at = r.loc(g);
                        r.problems.push(at.problem(format!(
                            "{}: groupname: \"{}\" is repeated in the same file (first at line {first})",
                            path.display(),
                            group.name
                        )));
                    } else {
                        seen.insert(group.name.clone(), r.loc(g).line);
                    }
                    groups.push(group);
                }
            }
        }
        top.finish(&mut r);
    }
    if r.problems.is_empty() {
        Ok(RuleFile {
            path: path.to_owned(),
            groups,
        })
    } else {
        Err(r.problems)
    }
}

fn duration_at(r: &mut Reader, m: &mut Map<'_, '_>, key: &str) -> Option<PromDuration> {
    let (text, loc) = m.opt_string(r, key)?;
    match PromDuration::parse(&text) {
        Ok(d) => Some(d),
        Err(e) => {
            r.problems.push(loc.problem(format!("{key}: {e}")));
            None
        }
    }
}

fn read_group(r: &mut Reader, node: &yaml::Node<'_>) -> Option<RuleGroup> {
    let mut m = Map::of(r, node, "rulefmt.RuleGroup")?;
    let name = m.opt_string(r, "name").map(|(s, _)| s).unwrap_or_default();
    if name.is_empty() {
        r.problems
            .push(m.loc(r).problem("Groupname must not be empty"));
    }
    let interval = duration_at(r, &mut m, "interval");
    let limit = match m.opt_string(r, "limit") {
        Some((text, loc)) => match text.parse::<usize>() {
            Ok(n) => n,
            Err(_) => {
                r.problems
                    .push(loc.problem(format!("limit: `{text}` is not a non-negative integer")));
                0
            }
        },
        None => 0,
    };
    let mut rules = Vec::new();
    if let Some(rs) = m.opt_any("rules") {
        for rn in r.sequence(rs, "rules") {
            if let Some(rule) = read_rule(r, rn, &name) {
                rules.push(rule);
            }
        }
    }
    m.finish(r);
    // Duplicate rules: the same name with the same labels in one group.
    let mut seen: HashMap<(String, bool, BTreeMap<String, String>), usize> = HashMap::new();
    for rule in &rules {
        let key = (
            rule.name().to_string(),
            matches!(rule.kind, RuleKind::Alert(_)),
            rule.labels.clone(),
        );
        if let Some(first) = seen.get(&key) {
            r.problems.push(rule.location.problem(format!(
                "group {name:?}, rule {}: duplicate rule: the same name and labels as the rule at line {first}",
                rule.name()
            )));
        } else {
            seen.insert(key, rule.location.line);
        }
    }
    Some(RuleGroup {
        name,
        file: r.file.clone(),
        interval,
        limit,
        rules,
    })
}

fn read_rule(r: &mut Reader, node: &yaml::Node<'_>, group: &str) -> Option<Rule> {
    let mut m = Map::of(r, node, "rulefmt.Rule")?;
    let location = m.loc(r);
    let before = r.problems.len();
    let record = m.opt_string(r, "record");
    let alert = m.opt_string(r, "alert");
    let expr = m.opt_string(r, "expr");
    let for_node = m.opt("for").map(|n| r.loc(n));
    let for_ = duration_at(r, &mut m, "for").unwrap_or_default();
    let kff_node = m.opt("keep_firing_for").map(|n| r.loc(n));
    let keep_firing_for = duration_at(r, &mut m, "keep_firing_for").unwrap_or_default();
    let labels = m.opt("labels").map(|n| r.string_map(n, "labels"));
    let ann_node = m.opt("annotations");
    let annotations = ann_node.map(|n| r.string_map(n, "annotations"));
    m.finish(r);

    let name_for_msgs = record
        .as_ref()
        .or(alert.as_ref())
        .map(|(n, _)| n.clone())
        .unwrap_or_default();
    let mut problem = |loc: &Location, reason: String| {
        r.problems
            .push(loc.problem(format!("group {group:?}, rule {name_for_msgs:?}: {reason}")));
    };
    let kind = match (&record, &alert) {
        (Some(_), Some(_)) => {
            problem(
                &location,
                "only one of 'record' and 'alert' must be set".into(),
            );
            None
        }
        (None, None) => {
            problem(&location, "one of 'record' or 'alert' must be set".into());
            None
        }
        (Some((name, loc)), None) => {
            if !is_valid_metric_name(name) {
                problem(loc, format!("invalid recording rule name: {name}"));
            }
            if for_node.is_some() && for_.millis() != 0 {
                problem(&location, "invalid field 'for' in recording rule".into());
            }
            if kff_node.is_some() && keep_firing_for.millis() != 0 {
                problem(
                    &location,
                    "invalid field 'keep_firing_for' in recording rule".into(),
                );
            }
            if annotations.as_ref().is_some_and(|a| !a.is_empty()) {
                problem(
                    &location,
                    "invalid field 'annotations' in recording rule".into(),
                );
            }
            Some(RuleKind::Record(name.clone()))
        }
        (None, Some((name, loc))) => {
            if name.trim().is_empty() {
                problem(loc, "alert name must not be empty".into());
            }
            Some(RuleKind::Alert(name.clone()))
        }
    };
    match &expr {
        None => problem(&location, "field 'expr' must be set in rule".into()),
        Some((text, loc)) => {
            if let Err(e) = promql_parser::parser::parse(text) {
                problem(loc, format!("could not parse expression: {e}"));
            }
        }
    }
    let is_alert = matches!(kind, Some(RuleKind::Alert(_)));
    for (k, v, loc) in labels.iter().flatten() {
        if !is_valid_label_name(k) || k == "__name__" {
            problem(loc, format!("invalid label name: {k}"));
        }
        if is_alert && let Err(e) = Template::parse(v) {
            problem(loc, format!("label {k}: template: {e}"));
        }
    }
    for (k, v, loc) in annotations.iter().flatten() {
        if !is_valid_label_name(k) {
            problem(loc, format!("invalid annotation name: {k}"));
        }
        if let Err(e) = Template::parse(v) {
            problem(loc, format!("annotation {k}: template: {e}"));
        }
    }
    if r.problems.len() != before {
        return None;
    }
    Some(Rule {
        kind: kind?,
        expr: expr.map(|(e, _)| e).unwrap_or_default(),
        for_,
        keep_firing_for,
        labels: labels
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v, _)| (k, v))
            .collect(),
        annotations: annotations
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v, _)| (k, v))
            .collect(),
        location,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const GOOD: &str = r#"groups:
  - name: g
    interval: 30s
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: Down
        expr: up == 0
        for: 5m
        keep_firing_for: 1m
        labels: { severity: page }
        annotations:
          summary: "{{ $labels.job }} down ({{ $value }})"
"#;

    #[test]
    fn reads_a_good_file() {
        let f = parse_rule_file(Path::new("g.yaml"), GOOD).unwrap();
        let g = &f.groups[0];
        assert_eq!(g.interval.unwrap().millis(), 30_000);
        assert_eq!(g.rules[0].kind, RuleKind::Record("job:up:sum".into()));
        assert_eq!(g.rules[1].for_.millis(), 300_000);
        assert_eq!(g.rules[1].keep_firing_for.millis(), 60_000);
        assert_eq!(g.rules[1].labels["severity"], "page");
        assert_eq!(g.rules[1].location.line, 7);
    }

    #[test]
    fn reports_each_problem_with_line_and_reason() {
        let bad = r#"groups:
  - name: g
    rules:
      - record: 1bad
        expr: sum(up)
      - alert: A
        expr: sum(up
      - alert: B
        expr: up
        for: 5 minutes
        labels: { "bad-name": x }
      - record: r
        alert: r
        expr: up
      - alert: C
        expr: up
        annotations: { s: "{{ if $value }}x{{ end }}" }
        colour: red
      - alert: D
        expr: up
      - alert: D
        expr: up
  - name: g
    rules: []
"#;
        let ps = parse_rule_file(Path::new("b.yaml"), bad).unwrap_err();
        let find = |needle: &str| {
            ps.iter()
                .find(|p| p.reason.contains(needle))
                .unwrap_or_else(|| panic!("{needle} not in {ps:#?}"))
                .line
        };
        assert_eq!(find("invalid recording rule name: 1bad"), 4);
        assert_eq!(find("could not parse expression"), 7);
        assert_eq!(find("not a valid duration"), 10);
        assert_eq!(find("invalid label name: bad-name"), 11);
        assert_eq!(find("only one of 'record' and 'alert'"), 12);
        assert_eq!(find("not supported by Ballast's template subset"), 17);
        assert_eq!(find("field colour not found"), 18);
        assert_eq!(find("duplicate rule"), 21);
        assert_eq!(find("is repeated in the same file"), 23);
    }

    #[test]
    fn the_generated_slo_rules_are_clean() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../alerts/generated");
        let files = check_rules(&dir).unwrap();
        assert!(files.files.len() >= 16);
    }
}
