//! OpenSLO v1: `SLO`, `SLI`, `AlertPolicy`, `AlertCondition`, `Service`, `DataSource`.
//!
//! Ballast's reading of OpenSLO, where the standard leaves room:
//! - SLIs are `ratioMetric`s with `good` or `bad` and `total`, each a Prometheus
//!   `metricSource.spec.query` selecting a range `[{{.window}}]`.
//! - A `burnrate` condition's `lookbackWindow` is the long window; the short window is a
//!   twelfth of it, as in the SRE Workbook (1h/5m, 6h/30m, 1d/2h, 3d/6h); `alertAfter` is the
//!   Prometheus `for`. Its tier is the condition's `metadata.labels.tier` (`page` or `ticket`),
//!   else its `severity` when that is `page` or `ticket`, else `page` for long windows up to 6h.
//! - An alert policy's `alertWhenNoData` enables the no-data alert; annotations
//!   `ballast.dev/min-events`, `ballast.dev/no-data-for` and `ballast.dev/no-data-severity` set
//!   the low-traffic guard and the no-data alert.

use crate::exact::Target;
use crate::parse::{
    Parsed, RawAlerting, RawCondition, RawPolicy, RawSli, RawSlo, RefOr, check_name, read_decimal,
    read_duration, read_query, read_target,
};
use crate::problem::ProblemKind;
use crate::spec::{CalendarUnit, DataSourceSpec, Events, ServiceSpec, SpecFormat, Tier, Window};
use crate::yaml::{Map, Node, Reader};

/// Annotation: minimum events in the long window before a tier may fire.
pub const MIN_EVENTS_ANNOTATION: &str = "ballast.dev/min-events";
/// Annotation: how long series must be absent before the no-data alert fires.
pub const NO_DATA_FOR_ANNOTATION: &str = "ballast.dev/no-data-for";
/// Annotation: severity of the no-data alert.
pub const NO_DATA_SEVERITY_ANNOTATION: &str = "ballast.dev/no-data-severity";

struct Meta {
    name: String,
    location: crate::problem::Location,
    labels: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
}

fn read_meta(r: &mut Reader, node: &Node<'_>, kind: &str) -> Option<Meta> {
    let mut m = Map::of(r, node, &format!("{kind} metadata"))?;
    let name_node = m.req(r, "name");
    let name = name_node.and_then(|n| r.string(n, "metadata.name"));
    m.allow("displayName");
    let labels = m
        .opt("labels")
        .map(|l| r.string_map(l, "metadata.labels"))
        .unwrap_or_default();
    let annotations = m
        .opt("annotations")
        .map(|a| r.string_map(a, "metadata.annotations"))
        .unwrap_or_default();
    m.finish(r);
    let name = name?;
    let name_node = name_node?;
    if !check_name(r, name_node, &name) {
        return None;
    }
    Some(Meta {
        name,
        location: r.loc(name_node),
        labels,
        annotations,
    })
}

/// Reads one `openslo/v1` document (its `apiVersion` already read).
pub(crate) fn parse(r: &mut Reader, mut doc: Map<'_, '_>, out: &mut Parsed) {
    let Some(kind_node) = doc.req(r, "kind") else {
        doc.finish(r);
        return;
    };
    let Some(kind) = r.string(kind_node, "kind") else {
        return;
    };
    let known = [
        "SLO",
        "SLI",
        "AlertPolicy",
        "AlertCondition",
        "Service",
        "DataSource",
    ];
    if !known.contains(&kind.as_str()) {
        r.report(
            kind_node,
            ProblemKind::UnsupportedKind,
            format!(
                "unsupported kind `{kind}` (Ballast reads {})",
                known.join(", ")
            ),
        );
        return;
    }
    let meta = doc.req(r, "metadata").and_then(|m| read_meta(r, m, &kind));
    let spec = doc.req(r, "spec");
    doc.finish(r);
    let (Some(meta), Some(spec)) = (meta, spec) else {
        return;
    };
    match kind.as_str() {
        "Service" => {
            if let Some(mut m) = Map::of(r, spec, "Service spec") {
                let description = m.opt_string(r, "description").unwrap_or_default();
                m.finish(r);
                out.services.push(ServiceSpec {
                    name: meta.name,
                    description,
                    location: meta.location,
                });
            }
        }
        "DataSource" => {
            if let Some(mut m) = Map::of(r, spec, "DataSource spec") {
                m.allow("description");
                m.allow("connectionDetails");
                let ty_node = m.req(r, "type");
                let ty = ty_node.and_then(|n| r.string(n, "type"));
                m.finish(r);
                if let (Some(ty), Some(n)) = (ty, ty_node) {
                    if ty != "Prometheus" {
                        r.report(
                            n,
                            ProblemKind::UnsupportedKind,
                            format!("data source type `{ty}` is not supported (only Prometheus)"),
                        );
                        return;
                    }
                    out.data_sources.push(DataSourceSpec {
                        name: meta.name,
                        kind: ty,
                        location: meta.location,
                    });
                }
            }
        }
        "SLI" => {
            let location = meta.location.clone();
            if let Some(sli) = read_sli_spec(r, spec, meta.name) {
                out.slis.push(RawSli { location, ..sli });
            }
        }
        "AlertCondition" => {
            if let Some(c) = read_condition_spec(r, spec, &meta) {
                out.conditions.push(RawCondition {
                    location: meta.location.clone(),
                    ..c
                });
            }
        }
        "AlertPolicy" => {
            if let Some(p) = read_policy_spec(r, spec, &meta) {
                out.policies.push(RawPolicy {
                    location: meta.location.clone(),
                    ..p
                });
            }
        }
        _ => {
            let location = meta.location.clone();
            if let Some(s) = read_slo_spec(r, spec, meta.name) {
                out.slos.push(RawSlo { location, ..s });
            }
        }
    }
}

fn read_sli_spec(r: &mut Reader, spec: &Node<'_>, name: String) -> Option<RawSli> {
    let location = r.loc(spec);
    let mut m = Map::of(r, spec, "SLI spec")?;
    m.allow("description");
    if let Some(t) = m.opt("thresholdMetric") {
        r.report(
            t,
            ProblemKind::UnsupportedKind,
            "`thresholdMetric` SLIs are not supported; use `ratioMetric` with good or bad and total",
        );
        m.finish(r);
        return None;
    }
    let ratio = m.req(r, "ratioMetric");
    m.finish(r);
    let mut rm = Map::of(r, ratio?, "ratioMetric")?;
    if let Some(c) = rm.opt("counter") {
        r.boolean(c, "counter");
    }
    rm.allow("rawType");
    if let Some(raw) = rm.opt("raw") {
        r.report(
            raw,
            ProblemKind::UnsupportedKind,
            "raw ratio SLIs are not supported; give good or bad and total",
        );
    }
    let good = rm.opt("good");
    let bad = rm.opt("bad");
    let total = rm.req(r, "total");
    let node = rm.node();
    rm.finish(r);
    let mut source_refs = Vec::new();
    let mut metric = |r: &mut Reader, n: &Node<'_>, what: &str| {
        let mut mm = Map::of(r, n, what)?;
        let src = mm.req(r, "metricSource");
        mm.finish(r);
        let mut sm = Map::of(r, src?, "metricSource")?;
        if let Some(reference) = sm.opt("metricSourceRef")
            && let Some(name) = r.string(reference, "metricSourceRef")
        {
            source_refs.push((name, r.loc(reference)));
        }
        if let Some(ty) = sm.opt("type")
            && let Some(t) = r.string(ty, "type")
            && t != "Prometheus"
        {
            r.report(
                ty,
                ProblemKind::UnsupportedKind,
                format!("metric source type `{t}` is not supported (only Prometheus)"),
            );
        }
        let qspec = sm.req(r, "spec");
        sm.finish(r);
        let mut qm = Map::of(r, qspec?, "metricSource.spec")?;
        let q = qm.req(r, "query");
        qm.finish(r);
        read_query(r, q?, &format!("{what} query"))
    };
    let total = total.and_then(|t| metric(r, t, "total"));
    let events = match (good, bad) {
        (Some(g), None) => Events::GoodTotal {
            good: metric(r, g, "good")?,
            total: total?,
        },
        (None, Some(b)) => Events::BadTotal {
            bad: metric(r, b, "bad")?,
            total: total?,
        },
        (Some(_), Some(b)) => {
            r.report(
                b,
                ProblemKind::InvalidValue,
                "give either `good` or `bad`, not both",
            );
            return None;
        }
        (None, None) => {
            r.report(
                node,
                ProblemKind::MissingField,
                "missing field `good` or `bad` in ratioMetric",
            );
            return None;
        }
    };
    Some(RawSli {
        name,
        location,
        events,
        source_refs,
    })
}

fn label<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn read_condition_spec(r: &mut Reader, spec: &Node<'_>, meta: &Meta) -> Option<RawCondition> {
    let location = r.loc(spec);
    let mut m = Map::of(r, spec, "AlertCondition spec")?;
    m.allow("description");
    let severity = m.req_string(r, "severity");
    let cond = m.req(r, "condition");
    m.finish(r);
    let mut c = Map::of(r, cond?, "condition")?;
    let kind_node = c.req(r, "kind");
    let op_node = c.req(r, "op");
    let threshold = c
        .req(r, "threshold")
        .and_then(|t| read_decimal(r, t, "threshold"));
    let lookback = c
        .req(r, "lookbackWindow")
        .and_then(|t| read_duration(r, t, "lookbackWindow"));
    let alert_after = match c.opt("alertAfter") {
        Some(a) => Some(read_duration(r, a, "alertAfter")?),
        None => None,
    };
    c.finish(r);
    let kind = kind_node.and_then(|k| r.string(k, "kind"))?;
    if kind != "burnrate" {
        if let Some(k) = kind_node {
            r.report(
                k,
                ProblemKind::UnsupportedKind,
                format!("condition kind `{kind}` is not supported (only burnrate)"),
            );
        }
        return None;
    }
    let op = op_node.and_then(|o| r.string(o, "op"))?;
    if op != "gt" && op != "gte" {
        if let Some(o) = op_node {
            r.report(
                o,
                ProblemKind::InvalidValue,
                format!("burn-rate op must be gt or gte, not `{op}`"),
            );
        }
        return None;
    }
    let (severity, factor, long_window) = (severity?, threshold?, lookback?);
    if factor.is_zero() {
        r.report(
            spec,
            ProblemKind::InvalidValue,
            "burn-rate threshold must be above 0",
        );
        return None;
    }
    if !long_window.as_secs().is_multiple_of(12) || long_window.as_secs() < 12 * 60 {
        r.report(
            spec,
            ProblemKind::UncoverableWindow,
            format!(
                "lookbackWindow {long_window} must be at least 12m and a multiple of 12 \
                 seconds: the short window is a twelfth of it"
            ),
        );
        return None;
    }
    let tier = match label(&meta.labels, "tier").or(Some(severity.as_str())) {
        Some("page") => Tier::Page,
        Some("ticket") => Tier::Ticket,
        _ if long_window.as_secs() <= 6 * 3600 => Tier::Page,
        _ => Tier::Ticket,
    };
    Some(RawCondition {
        name: meta.name.clone(),
        location,
        severity,
        tier,
        factor,
        long_window,
        for_duration: alert_after.unwrap_or(crate::duration::SpecDuration::from_secs(0)),
    })
}

fn read_policy_spec(r: &mut Reader, spec: &Node<'_>, meta: &Meta) -> Option<RawPolicy> {
    let location = r.loc(spec);
    let mut m = Map::of(r, spec, "AlertPolicy spec")?;
    m.allow("description");
    m.allow("alertWhenResolved");
    m.allow("alertWhenBreaching");
    m.allow("notificationTargets");
    let no_data = match m.opt("alertWhenNoData") {
        Some(n) => r.boolean(n, "alertWhenNoData").unwrap_or(false),
        None => false,
    };
    let conditions_node = m.req(r, "conditions");
    m.finish(r);
    let mut conditions = Vec::new();
    for item in conditions_node
        .map(|c| r.sequence(c, "conditions"))
        .unwrap_or_default()
    {
        let Some(mut cm) = Map::of(r, item, "condition") else {
            continue;
        };
        if let Some(reference) = cm.opt("conditionRef") {
            cm.finish(r);
            if let Some(name) = r.string(reference, "conditionRef") {
                conditions.push(RefOr::Ref(name, r.loc(reference)));
            }
            continue;
        }
        let kind = cm.req_string(r, "kind");
        cm.allow("apiVersion");
        let meta = cm
            .req(r, "metadata")
            .and_then(|n| read_meta(r, n, "AlertCondition"));
        let cspec = cm.req(r, "spec");
        cm.finish(r);
        if kind.as_deref() != Some("AlertCondition") {
            if kind.is_some() {
                r.report(
                    item,
                    ProblemKind::UnsupportedKind,
                    "inline conditions must be of kind AlertCondition",
                );
            }
            continue;
        }
        if let (Some(meta), Some(cspec)) = (meta, cspec)
            && let Some(c) = read_condition_spec(r, cspec, &meta)
        {
            conditions.push(RefOr::Inline(c));
        }
    }
    let ann = |key: &str| label(&meta.annotations, key).map(str::to_owned);
    let min_events = match ann(MIN_EVENTS_ANNOTATION) {
        Some(v) => match v.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                r.report(
                    spec,
                    ProblemKind::InvalidValue,
                    format!("annotation {MIN_EVENTS_ANNOTATION} must be a whole number"),
                );
                None
            }
        },
        None => None,
    };
    let no_data_for = match ann(NO_DATA_FOR_ANNOTATION) {
        Some(v) => match crate::duration::SpecDuration::parse(&v) {
            Ok(d) => Some(d),
            Err(e) => {
                r.report(
                    spec,
                    ProblemKind::InvalidValue,
                    format!("annotation {NO_DATA_FOR_ANNOTATION}: {e}"),
                );
                None
            }
        },
        None => None,
    };
    Some(RawPolicy {
        name: meta.name.clone(),
        location,
        no_data,
        no_data_for,
        no_data_severity: ann(NO_DATA_SEVERITY_ANNOTATION),
        min_events,
        conditions,
    })
}

fn read_window(r: &mut Reader, node: &Node<'_>) -> Option<Window> {
    let items = r.sequence(node, "timeWindow");
    let [item] = items.as_slice() else {
        r.report(
            node,
            ProblemKind::InvalidValue,
            "`timeWindow` must hold exactly one window",
        );
        return None;
    };
    let mut m = Map::of(r, item, "timeWindow")?;
    let duration_node = m.req(r, "duration");
    let rolling = match m.opt("isRolling") {
        Some(n) => r.boolean(n, "isRolling")?,
        None => false,
    };
    let calendar = m.opt("calendar");
    m.finish(r);
    let duration_node = duration_node?;
    if rolling {
        if let Some(c) = calendar {
            r.report(
                c,
                ProblemKind::InvalidValue,
                "a rolling window has no calendar",
            );
        }
        return read_duration(r, duration_node, "duration").map(Window::Rolling);
    }
    let text = r.string(duration_node, "duration")?;
    let unit = match text.as_str() {
        "1w" | "7d" => CalendarUnit::Week,
        "1M" => CalendarUnit::Month,
        "1Q" => CalendarUnit::Quarter,
        _ => {
            r.report(
                duration_node,
                ProblemKind::InvalidValue,
                format!("calendar window `{text}` must be 1w, 1M or 1Q"),
            );
            return None;
        }
    };
    let Some(calendar) = calendar else {
        r.report(
            item,
            ProblemKind::MissingField,
            "missing field `calendar` in a calendar (non-rolling) timeWindow",
        );
        return None;
    };
    let mut cm = Map::of(r, calendar, "calendar")?;
    cm.allow("startTime");
    let time_zone = cm.req_string(r, "timeZone");
    cm.finish(r);
    Some(Window::Calendar {
        unit,
        time_zone: time_zone?,
    })
}

fn read_slo_spec(r: &mut Reader, spec: &Node<'_>, name: String) -> Option<RawSlo> {
    let location = r.loc(spec);
    let mut m = Map::of(r, spec, "SLO spec")?;
    let description = m.opt_string(r, "description").unwrap_or_default();
    let service_node = m.req(r, "service");
    let service = service_node.and_then(|n| r.string(n, "service"));
    if let Some(b) = m.opt("budgetingMethod")
        && let Some(method) = r.string(b, "budgetingMethod")
        && method != "Occurrences"
    {
        r.report(
            b,
            ProblemKind::UnsupportedKind,
            format!("budgetingMethod `{method}` is not supported (only Occurrences)"),
        );
    }
    let window_node = m.req(r, "timeWindow");
    let window = window_node.and_then(|w| read_window(r, w));
    let indicator = match (m.opt("indicatorRef"), m.opt("indicator")) {
        (Some(reference), None) => r
            .string(reference, "indicatorRef")
            .map(|n| RefOr::Ref(n, r.loc(reference))),
        (None, Some(inline)) => read_inline_sli(r, inline).map(RefOr::Inline),
        (Some(_), Some(inline)) => {
            r.report(
                inline,
                ProblemKind::InvalidValue,
                "give either `indicator` or `indicatorRef`, not both",
            );
            None
        }
        (None, None) => {
            r.report(
                spec,
                ProblemKind::MissingField,
                "missing field `indicator` or `indicatorRef` in SLO spec",
            );
            None
        }
    };
    let target = m.req(r, "objectives").and_then(|o| read_objectives(r, o));
    let mut policies = Vec::new();
    if let Some(p) = m.opt("alertPolicies") {
        for item in r.sequence(p, "alertPolicies") {
            let Some(mut pm) = Map::of(r, item, "alert policy") else {
                continue;
            };
            if let Some(reference) = pm.opt("alertPolicyRef") {
                pm.finish(r);
                if let Some(n) = r.string(reference, "alertPolicyRef") {
                    policies.push(RefOr::Ref(n, r.loc(reference)));
                }
                continue;
            }
            let kind = pm.req_string(r, "kind");
            pm.allow("apiVersion");
            let meta = pm
                .req(r, "metadata")
                .and_then(|n| read_meta(r, n, "AlertPolicy"));
            let pspec = pm.req(r, "spec");
            pm.finish(r);
            if kind.as_deref() != Some("AlertPolicy") {
                if kind.is_some() {
                    r.report(
                        item,
                        ProblemKind::UnsupportedKind,
                        "inline alert policies must be of kind AlertPolicy",
                    );
                }
                continue;
            }
            if let (Some(meta), Some(pspec)) = (meta, pspec)
                && let Some(p) = read_policy_spec(r, pspec, &meta)
            {
                policies.push(RefOr::Inline(p));
            }
        }
    }
    m.finish(r);
    Some(RawSlo {
        name,
        location,
        service: service?,
        service_location: service_node.map(|n| r.loc(n)).unwrap_or_default(),
        description,
        target: target?,
        window: window?,
        window_location: window_node.map(|n| r.loc(n)).unwrap_or_default(),
        indicator: indicator?,
        alerting: RawAlerting::Policies(policies),
        format: SpecFormat::OpenSlo,
    })
}

fn read_inline_sli(r: &mut Reader, node: &Node<'_>) -> Option<RawSli> {
    let mut m = Map::of(r, node, "indicator")?;
    let meta = m.req(r, "metadata").and_then(|n| read_meta(r, n, "SLI"));
    let spec = m.req(r, "spec");
    m.finish(r);
    read_sli_spec(r, spec?, meta?.name)
}

fn read_objectives(r: &mut Reader, node: &Node<'_>) -> Option<Target> {
    let items = r.sequence(node, "objectives");
    let [item] = items.as_slice() else {
        r.report(
            node,
            ProblemKind::InvalidValue,
            "`objectives` must hold exactly one objective (write one SLO per objective)",
        );
        return None;
    };
    let mut m = Map::of(r, item, "objective")?;
    m.allow("displayName");
    for unsupported in [
        "indicator",
        "indicatorRef",
        "compositeWeight",
        "timeSliceTarget",
    ] {
        if let Some(n) = m.opt(unsupported) {
            r.report(
                n,
                ProblemKind::UnsupportedKind,
                format!("`{unsupported}` in an objective is not supported"),
            );
        }
    }
    m.allow("timeSliceWindow");
    m.allow("op");
    m.allow("value");
    let target = match (m.opt("target"), m.opt("targetPercent")) {
        (Some(t), None) => read_target(r, t, "target", Target::from_fraction),
        (None, Some(t)) => read_target(r, t, "targetPercent", Target::from_percent),
        (Some(_), Some(t)) => {
            r.report(
                t,
                ProblemKind::InvalidValue,
                "give either `target` or `targetPercent`, not both",
            );
            None
        }
        (None, None) => {
            r.report(
                item,
                ProblemKind::MissingField,
                "missing field `target` or `targetPercent` in objective",
            );
            None
        }
    };
    m.finish(r);
    target
}
