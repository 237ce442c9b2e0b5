//! The routing file (`alerts/routing.yaml`), an Alertmanager-compatible subset: the route
//! tree, receivers and inhibition rules, parsed with line numbers, and the routing decision
//! as a pure function (what `amtool config routes test` answers).

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use ballast_kit::config::Secret;

use crate::error::{AlertingError, Problem};
use crate::model::{LabelSet, MatchOp, Matcher, all_match, format_labels};
use crate::yaml::{self, Map, Node, Reader};

/// Alertmanager's defaults.
const DEFAULT_GROUP_WAIT_MS: i64 = 30_000;
const DEFAULT_GROUP_INTERVAL_MS: i64 = 300_000;
const DEFAULT_REPEAT_INTERVAL_MS: i64 = 4 * 3_600_000;
const DEFAULT_RESOLVE_TIMEOUT_MS: i64 = 300_000;

/// The whole routing configuration.
#[derive(Debug, Clone)]
pub struct RoutingConfig {
    /// Where it was read from.
    pub file: PathBuf,
    /// How long an alert without `endsAt` stays firing without being refreshed (ms).
    pub resolve_timeout_ms: i64,
    /// The root route.
    pub route: Route,
    /// Receivers by name.
    pub receivers: Vec<Receiver>,
    /// Inhibition rules.
    pub inhibit_rules: Vec<InhibitRule>,
}

/// How a route groups alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    /// By these labels (none: one group for the route).
    Labels(Vec<String>),
    /// By every label (`'...'`): one group per alert.
    All,
}

/// A node of the route tree, with inherited settings already applied.
#[derive(Debug, Clone)]
pub struct Route {
    /// Stable identifier: the path of matchers from the root (Alertmanager's route key).
    pub id: String,
    /// Receiver name.
    pub receiver: String,
    /// All must match for the route to apply.
    pub matchers: Vec<Matcher>,
    /// Keep matching siblings after this one matched.
    pub continue_matching: bool,
    /// Grouping labels.
    pub group_by: GroupBy,
    /// Wait before the first notification of a new group (ms).
    pub group_wait_ms: i64,
    /// Wait before notifying about changes to a group (ms).
    pub group_interval_ms: i64,
    /// Wait before repeating an unchanged notification (ms).
    pub repeat_interval_ms: i64,
    /// Child routes.
    pub routes: Vec<Route>,
}

/// A Slack target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackTarget {
    /// Channel (`#alerts` or an id).
    pub channel: String,
    /// Update the message when the group resolves.
    pub send_resolved: bool,
}

/// A PagerDuty Events v2 target.
#[derive(Debug, Clone)]
pub struct PagerDutyTarget {
    /// Integration (routing) key; `BALLAST_PAGERDUTY__ROUTING_KEY` when absent.
    pub routing_key: Option<Secret>,
    /// Severity sent when the alerts carry no `severity` label.
    pub severity: Option<String>,
    /// Send `resolve` when the group resolves.
    pub send_resolved: bool,
}

/// A generic webhook target (Alertmanager webhook payload, version 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    /// Where to POST.
    pub url: String,
    /// Send resolved notifications too.
    pub send_resolved: bool,
}

/// A receiver: a name and its integrations.
#[derive(Debug, Clone)]
pub struct Receiver {
    /// Name referenced by routes.
    pub name: String,
    /// Slack channels.
    pub slack: Vec<SlackTarget>,
    /// PagerDuty services.
    pub pagerduty: Vec<PagerDutyTarget>,
    /// Webhooks.
    pub webhook: Vec<WebhookTarget>,
    /// Console (log) output, with `send_resolved`.
    pub console: Option<bool>,
}

/// An inhibition rule: firing sources mute matching targets with equal labels.
#[derive(Debug, Clone)]
pub struct InhibitRule {
    /// Matchers a source alert must satisfy.
    pub source_matchers: Vec<Matcher>,
    /// Matchers a target alert must satisfy.
    pub target_matchers: Vec<Matcher>,
    /// Labels that must be equal between source and target.
    pub equal: Vec<String>,
}

impl InhibitRule {
    /// Whether `source` (firing) inhibits `target` under this rule.
    pub fn inhibits(&self, source: &LabelSet, target: &LabelSet) -> bool {
        all_match(&self.source_matchers, source)
            && all_match(&self.target_matchers, target)
            // An alert matching both sides cannot inhibit itself.
            && source != target
            && self.equal.iter().all(|l| source.get(l) == target.get(l))
    }
}

impl RoutingConfig {
    /// The same routing with every timing (`group_wait`, `group_interval`, `repeat_interval`,
    /// `resolve_timeout`) divided by `factor`, for a suite running `factor` times faster than
    /// real time (`ballast up --time-scale`); at least 1 ms each.
    pub fn time_scaled(&self, factor: f64) -> RoutingConfig {
        if !factor.is_finite() || factor <= 0.0 || (factor - 1.0).abs() < f64::EPSILON {
            return self.clone();
        }
        let scale = |ms: i64| ((ms as f64 / factor).round() as i64).max(1);
        fn walk(route: &mut Route, scale: &dyn Fn(i64) -> i64) {
            route.group_wait_ms = scale(route.group_wait_ms);
            route.group_interval_ms = scale(route.group_interval_ms);
            route.repeat_interval_ms = scale(route.repeat_interval_ms);
            for child in &mut route.routes {
                walk(child, scale);
            }
        }
        let mut out = self.clone();
        out.resolve_timeout_ms = scale(out.resolve_timeout_ms);
        walk(&mut out.route, &scale);
        out
    }

    /// Reads and validates a routing file.
    pub fn load(path: &Path) -> Result<Self, AlertingError> {
        let text = std::fs::read_to_string(path).map_err(|source| AlertingError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text).map_err(AlertingError::Config)
    }

    /// Parses and validates routing YAML; every problem is reported with file and line.
    pub fn parse(file: &Path, text: &str) -> Result<Self, Vec<Problem>> {
        let doc = yaml::load(file, text).map_err(|p| vec![p])?;
        let mut r = Reader::new(file);
        let Some(doc) = doc else {
            return Err(vec![Problem {
                file: file.to_owned(),
                line: 1,
                reason: "the file is empty; a `route` is required".into(),
            }]);
        };
        let Some(mut top) = Map::of(&mut r, &doc, "the routing file") else {
            return Err(r.problems);
        };
        let mut resolve_timeout_ms = DEFAULT_RESOLVE_TIMEOUT_MS;
        if let Some(g) = top.opt("global")
            && let Some(mut gm) = Map::of(&mut r, g, "global")
        {
            if let Some(n) = gm.opt("resolve_timeout") {
                resolve_timeout_ms =
                    duration(&mut r, n, "resolve_timeout").unwrap_or(resolve_timeout_ms);
            }
            gm.finish(&mut r);
        }
        let receivers: Vec<Receiver> = match top.opt("receivers") {
            Some(n) => r
                .sequence(n, "receivers")
                .into_iter()
                .filter_map(|n| receiver(&mut r, n))
                .collect(),
            None => {
                r.report_line(top.line(), "missing field `receivers`");
                Vec::new()
            }
        };
        let mut seen = HashSet::new();
        for rc in &receivers {
            if !seen.insert(rc.name.clone()) {
                r.report_line(
                    top.line(),
                    format!("receiver `{}` is defined twice", rc.name),
                );
            }
        }
        let defaults = Route {
            id: "{}".into(),
            receiver: String::new(),
            matchers: Vec::new(),
            continue_matching: false,
            group_by: GroupBy::Labels(Vec::new()),
            group_wait_ms: DEFAULT_GROUP_WAIT_MS,
            group_interval_ms: DEFAULT_GROUP_INTERVAL_MS,
            repeat_interval_ms: DEFAULT_REPEAT_INTERVAL_MS,
            routes: Vec::new(),
        };
        let route = match top.opt("route") {
            Some(n) => route(&mut r, n, &defaults, "{}".into(), true, &seen),
            None => {
                r.report_line(top.line(), "missing field `route`");
                None
            }
        };
        let inhibit_rules = match top.opt("inhibit_rules") {
            Some(n) => r
                .sequence(n, "inhibit_rules")
                .into_iter()
                .filter_map(|n| inhibit_rule(&mut r, n))
                .collect(),
            None => Vec::new(),
        };
        top.allow_templates();
        top.finish(&mut r);
        match route {
            Some(route) if r.problems.is_empty() => Ok(RoutingConfig {
                file: file.to_owned(),
                resolve_timeout_ms,
                route,
                receivers,
                inhibit_rules,
            }),
            _ => Err(r.problems),
        }
    }

    /// The receiver named `name`.
    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name == name)
    }

    /// The routes an alert with `labels` goes to, in order (Alertmanager's algorithm: depth
    /// first, the first matching child wins unless it has `continue`, the parent when no child
    /// matches).
    pub fn routes_for(&self, labels: &LabelSet) -> Vec<&Route> {
        match_route(&self.route, labels)
    }

    /// The receivers an alert with `labels` goes to, as `amtool config routes test` prints them.
    pub fn test_route(&self, labels: &LabelSet) -> Vec<String> {
        self.routes_for(labels)
            .into_iter()
            .map(|r| r.receiver.clone())
            .collect()
    }
}

/// Checks an alerts folder as `ballast alerts validate` does: `routing.yaml` and the
/// templates in `templates/`; every problem with file, line and reason (empty: valid).
pub fn validate_dir(dir: &Path) -> Vec<Problem> {
    let mut problems = match RoutingConfig::load(&dir.join("routing.yaml")) {
        Ok(_) => Vec::new(),
        Err(AlertingError::Config(p)) => p,
        Err(e) => vec![Problem {
            file: dir.join("routing.yaml"),
            line: 1,
            reason: e.to_string(),
        }],
    };
    let templates = dir.join("templates");
    match crate::templates::Templates::load(templates.is_dir().then_some(templates.as_path())) {
        Ok(_) => {}
        Err(AlertingError::Config(p)) => problems.extend(p),
        Err(e) => problems.push(Problem {
            file: templates,
            line: 1,
            reason: e.to_string(),
        }),
    }
    problems
}

impl Map<'_, '_> {
    /// The `templates` key of Alertmanager files is accepted and ignored (Ballast's
    /// templates come from its template folder).
    fn allow_templates(&mut self) {
        let _ = self.opt("templates");
    }
}

fn match_route<'a>(route: &'a Route, labels: &LabelSet) -> Vec<&'a Route> {
    if !all_match(&route.matchers, labels) {
        return Vec::new();
    }
    let mut all = Vec::new();
    for child in &route.routes {
        let matched = match_route(child, labels);
        let found = !matched.is_empty();
        all.extend(matched);
        if found && !child.continue_matching {
            break;
        }
    }
    if all.is_empty() {
        all.push(route);
    }
    all
}

impl Route {
    /// The labels of `alert` this route groups by.
    pub fn group_labels(&self, labels: &LabelSet) -> LabelSet {
        match &self.group_by {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => names
                .iter()
                .filter_map(|n| labels.get(n).map(|v| (n.clone(), v.clone())))
                .collect(),
        }
    }

    /// The aggregation group key for an alert on this route (`route id:{group labels}`).
    pub fn group_key(&self, labels: &LabelSet) -> String {
        format!("{}:{}", self.id, format_labels(&self.group_labels(labels)))
    }
}

fn duration(r: &mut Reader, node: &Node<'_>, what: &str) -> Option<i64> {
    let text = r.scalar(node, what)?;
    match humantime::parse_duration(text.trim()) {
        Ok(d) if !d.is_zero() || what == "group_wait" => i64::try_from(d.as_millis()).ok(),
        Ok(_) => {
            r.report(node, format!("`{what}` must be positive"));
            None
        }
        Err(e) => {
            r.report(node, format!("`{what}`: invalid duration `{text}`: {e}"));
            None
        }
    }
}

fn matchers(r: &mut Reader, m: &mut Map<'_, '_>, key: &str) -> Vec<Matcher> {
    let mut out = Vec::new();
    if let Some(n) = m.opt(key) {
        for (text, line) in r.strings(n, key) {
            match Matcher::parse(&text) {
                Ok(mt) => out.push(mt),
                Err(e) => r.report_line(line, format!("`{key}`: {e}")),
            }
        }
    }
    out
}

fn legacy_matchers(r: &mut Reader, m: &mut Map<'_, '_>, key: &str, op: MatchOp) -> Vec<Matcher> {
    let mut out = Vec::new();
    if let Some(n) = m.opt(key) {
        for (k, v, line) in r.string_map(n, key) {
            match Matcher::new(&k, op, &v) {
                Ok(mt) => out.push(mt),
                Err(e) => r.report_line(line, format!("`{key}`: {e}")),
            }
        }
    }
    out
}

fn route(
    r: &mut Reader,
    node: &Node<'_>,
    parent: &Route,
    id: String,
    root: bool,
    receivers: &HashSet<String>,
) -> Option<Route> {
    let mut m = Map::of(r, node, "route")?;
    let line = m.line();
    let mut ms = matchers(r, &mut m, "matchers");
    ms.extend(legacy_matchers(r, &mut m, "match", MatchOp::Equal));
    ms.extend(legacy_matchers(r, &mut m, "match_re", MatchOp::Regex));
    if root && !ms.is_empty() {
        r.report_line(line, "the root route must not have matchers");
    }
    let receiver = m
        .opt_string(r, "receiver")
        .unwrap_or_else(|| parent.receiver.clone());
    if receiver.is_empty() {
        r.report_line(line, "the root route needs a `receiver`");
    } else if !receivers.contains(&receiver) {
        r.report_line(
            line,
            format!("receiver `{receiver}` is not defined in `receivers`"),
        );
    }
    let continue_matching = match m.opt("continue") {
        Some(n) => r.boolean(n, "continue").unwrap_or(false),
        None => false,
    };
    if root && continue_matching {
        r.report_line(line, "the root route cannot have `continue`");
    }
    let group_by = match m.opt("group_by") {
        Some(n) => {
            let names: Vec<String> = r
                .strings(n, "group_by")
                .into_iter()
                .map(|(s, _)| s)
                .collect();
            if names.iter().any(|s| s == "...") {
                GroupBy::All
            } else {
                let unique: BTreeSet<&String> = names.iter().collect();
                if unique.len() != names.len() {
                    r.report(n, "`group_by` lists a label twice");
                }
                GroupBy::Labels(names)
            }
        }
        None => parent.group_by.clone(),
    };
    let mut timing = |key: &str, inherited: i64| match m.opt(key) {
        Some(n) => duration(r, n, key).unwrap_or(inherited),
        None => inherited,
    };
    let group_wait_ms = timing("group_wait", parent.group_wait_ms);
    let group_interval_ms = timing("group_interval", parent.group_interval_ms);
    let repeat_interval_ms = timing("repeat_interval", parent.repeat_interval_ms);
    let mut this = Route {
        id,
        receiver,
        matchers: ms,
        continue_matching,
        group_by,
        group_wait_ms,
        group_interval_ms,
        repeat_interval_ms,
        routes: Vec::new(),
    };
    if let Some(children) = m.opt("routes") {
        let items = r.sequence(children, "routes");
        let mut ids = HashSet::new();
        for (i, child) in items.into_iter().enumerate() {
            // The id only needs the child's matchers; parse once to learn them.
            let probe_id = format!("{}/{i}", this.id);
            if let Some(mut c) = route(r, child, &this, probe_id, false, receivers) {
                let mtext: Vec<String> = c.matchers.iter().map(ToString::to_string).collect();
                let mut cid = format!("{}/{{{}}}", this.id, mtext.join(","));
                if !ids.insert(cid.clone()) {
                    cid = format!("{cid}/{i}");
                }
                rename(&mut c, &this.id, &cid);
                this.routes.push(c);
            }
        }
    }
    m.finish(r);
    Some(this)
}

/// Gives `route` the id `id` and re-roots its descendants' ids.
fn rename(route: &mut Route, _parent: &str, id: &str) {
    let old = std::mem::replace(&mut route.id, id.to_owned());
    for child in &mut route.routes {
        let suffix = child.id.strip_prefix(&old).unwrap_or(&child.id).to_owned();
        let new = format!("{id}{suffix}");
        rename(child, id, &new);
    }
}

fn send_resolved(r: &mut Reader, m: &mut Map<'_, '_>, default: bool) -> bool {
    match m.opt("send_resolved") {
        Some(n) => r.boolean(n, "send_resolved").unwrap_or(default),
        None => default,
    }
}

fn receiver(r: &mut Reader, node: &Node<'_>) -> Option<Receiver> {
    let mut m = Map::of(r, node, "receiver")?;
    let line = m.line();
    let name = m.opt_string(r, "name");
    let mut rc = Receiver {
        name: name.clone().unwrap_or_default(),
        slack: Vec::new(),
        pagerduty: Vec::new(),
        webhook: Vec::new(),
        console: None,
    };
    if let Some(n) = m.opt("slack_configs") {
        for item in r.sequence(n, "slack_configs") {
            let Some(mut s) = Map::of(r, item, "slack_configs") else {
                continue;
            };
            let channel = s.opt_string(r, "channel");
            let resolved = send_resolved(r, &mut s, true);
            let _ = s.opt("api_url");
            match channel {
                Some(c) if !c.trim().is_empty() => rc.slack.push(SlackTarget {
                    channel: c,
                    send_resolved: resolved,
                }),
                _ => r.report_line(s.line(), "a slack config needs a `channel`"),
            }
            s.finish(r);
        }
    }
    if let Some(n) = m.opt("pagerduty_configs") {
        for item in r.sequence(n, "pagerduty_configs") {
            let Some(mut p) = Map::of(r, item, "pagerduty_configs") else {
                continue;
            };
            let routing_key = p.opt_string(r, "routing_key").map(Secret::new);
            let severity = p.opt_string(r, "severity");
            let resolved = send_resolved(r, &mut p, true);
            rc.pagerduty.push(PagerDutyTarget {
                routing_key,
                severity,
                send_resolved: resolved,
            });
            p.finish(r);
        }
    }
    if let Some(n) = m.opt("webhook_configs") {
        for item in r.sequence(n, "webhook_configs") {
            let Some(mut w) = Map::of(r, item, "webhook_configs") else {
                continue;
            };
            let url = w.opt_string(r, "url");
            let resolved = send_resolved(r, &mut w, true);
            match url {
                Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                    rc.webhook.push(WebhookTarget {
                        url: u,
                        send_resolved: resolved,
                    })
                }
                Some(u) => r.report_line(
                    w.line(),
                    format!("webhook `url` must be http(s), not `{u}`"),
                ),
                None => r.report_line(w.line(), "a webhook config needs a `url`"),
            }
            w.finish(r);
        }
    }
    if let Some(n) = m.opt("console_configs") {
        for item in r.sequence(n, "console_configs") {
            let Some(mut c) = Map::of(r, item, "console_configs") else {
                continue;
            };
            rc.console = Some(send_resolved(r, &mut c, true));
            c.finish(r);
        }
    }
    m.finish(r);
    if name.is_none() {
        r.report_line(line, "a receiver needs a `name`");
        return None;
    }
    Some(rc)
}

fn inhibit_rule(r: &mut Reader, node: &Node<'_>) -> Option<InhibitRule> {
    let mut m = Map::of(r, node, "inhibit rule")?;
    let line = m.line();
    let mut source_matchers = matchers(r, &mut m, "source_matchers");
    source_matchers.extend(legacy_matchers(r, &mut m, "source_match", MatchOp::Equal));
    source_matchers.extend(legacy_matchers(
        r,
        &mut m,
        "source_match_re",
        MatchOp::Regex,
    ));
    let mut target_matchers = matchers(r, &mut m, "target_matchers");
    target_matchers.extend(legacy_matchers(r, &mut m, "target_match", MatchOp::Equal));
    target_matchers.extend(legacy_matchers(
        r,
        &mut m,
        "target_match_re",
        MatchOp::Regex,
    ));
    let equal = match m.opt("equal") {
        Some(n) => r.strings(n, "equal").into_iter().map(|(s, _)| s).collect(),
        None => Vec::new(),
    };
    m.finish(r);
    if source_matchers.is_empty() || target_matchers.is_empty() {
        r.report_line(
            line,
            "an inhibit rule needs `source_matchers` and `target_matchers`",
        );
        return None;
    }
    Some(InhibitRule {
        source_matchers,
        target_matchers,
        equal,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const TREE: &str = r##"
route:
  receiver: default
  group_by: [alertname]
  group_wait: 10s
  routes:
    - matchers: ['tier="page"']
      receiver: oncall
      group_wait: 5s
      continue: true
    - matchers: ['tier=~"page|ticket"']
      receiver: slack
      group_by: [alertname, slo]
      routes:
        - matchers: ['team="db"']
          receiver: db
    - matchers: ['service!="gateway"']
      receiver: webhook
receivers:
  - name: default
    console_configs: [{}]
  - name: oncall
    pagerduty_configs: [{routing_key: k}]
  - name: slack
    slack_configs: [{channel: "#alerts"}]
  - name: db
    slack_configs: [{channel: "#db"}]
  - name: webhook
    webhook_configs: [{url: "http://127.0.0.1:1/hook"}]
"##;

    #[test]
    fn routes_like_amtool_config_routes_test() {
        let c = RoutingConfig::parse(Path::new("r.yaml"), TREE).unwrap();
        assert_eq!(
            c.test_route(&labels(&[("tier", "page")])),
            ["oncall", "slack"]
        );
        assert_eq!(c.test_route(&labels(&[("tier", "ticket")])), ["slack"]);
        assert_eq!(
            c.test_route(&labels(&[("tier", "ticket"), ("team", "db")])),
            ["db"]
        );
        assert_eq!(c.test_route(&labels(&[("service", "order")])), ["webhook"]);
        assert_eq!(
            c.test_route(&labels(&[("service", "gateway")])),
            ["default"]
        );
    }

    #[test]
    fn time_scaling_divides_every_timing_down_the_tree() {
        let c = RoutingConfig::parse(Path::new("r.yaml"), TREE).unwrap();
        let fast = c.time_scaled(10.0);
        assert_eq!(fast.resolve_timeout_ms, c.resolve_timeout_ms / 10);
        assert_eq!(fast.route.group_wait_ms, 1_000);
        assert_eq!(fast.route.routes[0].group_wait_ms, 500);
        assert_eq!(
            fast.route.routes[1].routes[0].group_interval_ms,
            DEFAULT_GROUP_INTERVAL_MS / 10
        );
        assert_eq!(
            fast.route.routes[2].repeat_interval_ms,
            DEFAULT_REPEAT_INTERVAL_MS / 10
        );
        assert_eq!(c.time_scaled(1.0).route.group_wait_ms, 10_000);
    }

    #[test]
    fn children_inherit_and_override() {
        let c = RoutingConfig::parse(Path::new("r.yaml"), TREE).unwrap();
        let page = &c.route.routes[0];
        assert_eq!(page.group_wait_ms, 5_000);
        assert_eq!(page.group_interval_ms, DEFAULT_GROUP_INTERVAL_MS);
        assert_eq!(page.group_by, GroupBy::Labels(vec!["alertname".into()]));
        let db = &c.route.routes[1].routes[0];
        assert_eq!(db.group_wait_ms, 10_000);
        assert_eq!(
            db.group_by,
            GroupBy::Labels(vec!["alertname".into(), "slo".into()])
        );
        assert_eq!(db.id, r#"{}/{tier=~"page|ticket"}/{team="db"}"#);
        let l = labels(&[("alertname", "Burn"), ("slo", "x"), ("team", "db")]);
        assert_eq!(
            db.group_key(&l),
            r#"{}/{tier=~"page|ticket"}/{team="db"}:{alertname="Burn", slo="x"}"#
        );
    }

    #[test]
    fn validate_reports_file_line_and_reason() {
        let text = "route:\n  receiver: nobody\n  group_wait: soon\nreceivers:\n  - name: a\n    slack_configs: [{}]\n    emails: []\ninhibit_rules:\n  - equal: [slo]\n";
        let problems = RoutingConfig::parse(Path::new("alerts/routing.yaml"), text).unwrap_err();
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            shown.iter().any(|p| p.starts_with("alerts/routing.yaml:2:")
                && p.contains("`nobody` is not defined")),
            "{shown:?}"
        );
        assert!(
            shown
                .iter()
                .any(|p| p.starts_with("alerts/routing.yaml:3:") && p.contains("invalid duration")),
            "{shown:?}"
        );
        assert!(
            shown
                .iter()
                .any(|p| p.contains(":6:") && p.contains("needs a `channel`")),
            "{shown:?}"
        );
        assert!(
            shown
                .iter()
                .any(|p| p.contains(":7:") && p.contains("unknown field `emails`")),
            "{shown:?}"
        );
        assert!(
            shown
                .iter()
                .any(|p| p.contains(":9:") && p.contains("source_matchers")),
            "{shown:?}"
        );
        let syntax = RoutingConfig::parse(Path::new("x.yaml"), "route: [\n").unwrap_err();
        assert_eq!(syntax.len(), 1);
    }

    #[test]
    fn inhibition_needs_equal_labels_and_never_self() {
        let rule = InhibitRule {
            source_matchers: vec![Matcher::parse(r#"tier="page""#).unwrap()],
            target_matchers: vec![Matcher::parse(r#"tier="ticket""#).unwrap()],
            equal: vec!["slo".into()],
        };
        let page = labels(&[("tier", "page"), ("slo", "a")]);
        assert!(rule.inhibits(&page, &labels(&[("tier", "ticket"), ("slo", "a")])));
        assert!(!rule.inhibits(&page, &labels(&[("tier", "ticket"), ("slo", "b")])));
        assert!(!rule.inhibits(&page, &labels(&[("tier", "page"), ("slo", "a")])));
    }

    #[test]
    fn the_shipped_alerts_folder_validates() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../alerts");
        assert_eq!(validate_dir(&dir), Vec::<Problem>::new());
        let bad = tempfile::tempdir().unwrap();
        std::fs::write(
            bad.path().join("routing.yaml"),
            "route:\n  receiver: x\nreceivers: []\n",
        )
        .unwrap();
        let problems = validate_dir(bad.path());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .to_string()
                .contains("routing.yaml:2: receiver `x` is not defined")
        );
    }

    #[test]
    fn the_shipped_routing_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../alerts/routing.yaml");
        let c = RoutingConfig::load(&path).unwrap();
        assert!(!c.inhibit_rules.is_empty());
        let page = labels(&[
            ("alertname", "SLOBurnRate"),
            ("tier", "page"),
            ("slo", "order-availability"),
        ]);
        let ticket = labels(&[
            ("alertname", "SLOBurnRate"),
            ("tier", "ticket"),
            ("slo", "order-availability"),
        ]);
        assert!(c.inhibit_rules.iter().any(|r| r.inhibits(&page, &ticket)));
        assert_eq!(c.test_route(&page), ["oncall"]);
        assert_eq!(c.test_route(&ticket), ["slo-tickets"]);
    }
}
