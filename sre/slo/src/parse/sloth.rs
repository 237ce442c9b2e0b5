//! Sloth's `prometheus/v1` format (plain, `version: prometheus/v1`) and its Kubernetes form
//! (`apiVersion: sloth.slok.dev/v1`, `kind: PrometheusServiceLevel`).
//!
//! As in Sloth, every SLO has a 30-day rolling window, `sli.events` gives `error_query` and
//! `total_query`, the page alert covers the Workbook's 14.4× and 6× tiers and the ticket alert
//! the 3× and 1× tiers, each switchable with `disable` and its severity taken from its
//! `labels.severity`. The SLO's name is `<service>-<name>`, as Sloth's SLO id. Ballast adds
//! the low-traffic guard ([`crate::DEFAULT_MIN_EVENTS`]) and a no-data alert with the ticket
//! severity. Sloth `labels` and `annotations` are accepted; generated rules carry Ballast's
//! own labels.

use crate::duration::SpecDuration;
use crate::exact::Target;
use crate::parse::{
    Parsed, RawAlerting, RawSli, RawSlo, RefOr, check_name, read_query, read_target,
};
use crate::problem::ProblemKind;
use crate::spec::{
    Alerting, BurnRateAlert, Events, NoDataAlert, ServiceSpec, SpecFormat, Tier, Window,
    workbook_tiers,
};
use crate::yaml::{Map, Node, Reader};

/// Reads a plain Sloth document (`version: prometheus/v1`).
pub(crate) fn parse_plain(r: &mut Reader, mut doc: Map<'_, '_>, out: &mut Parsed) {
    let version_node = doc.req(r, "version");
    if let Some(v) = version_node
        && let Some(version) = r.string(v, "version")
        && version != "prometheus/v1"
    {
        r.report(
            v,
            ProblemKind::UnsupportedKind,
            format!("unsupported Sloth version `{version}` (Ballast reads prometheus/v1)"),
        );
        return;
    }
    read_body(r, doc, out);
}

/// Reads a `sloth.slok.dev/v1` `PrometheusServiceLevel` (its `apiVersion` already read).
pub(crate) fn parse_crd(r: &mut Reader, mut doc: Map<'_, '_>, out: &mut Parsed) {
    let kind_node = doc.req(r, "kind");
    doc.allow("metadata");
    let spec = doc.req(r, "spec");
    doc.finish(r);
    let Some(kind_node) = kind_node else { return };
    let Some(kind) = r.string(kind_node, "kind") else {
        return;
    };
    if kind != "PrometheusServiceLevel" {
        r.report(
            kind_node,
            ProblemKind::UnsupportedKind,
            format!("unsupported Sloth kind `{kind}` (only PrometheusServiceLevel)"),
        );
        return;
    }
    if let Some(spec) = spec
        && let Some(m) = Map::of(r, spec, "PrometheusServiceLevel spec")
    {
        read_body(r, m, out);
    }
}

fn read_body(r: &mut Reader, mut doc: Map<'_, '_>, out: &mut Parsed) {
    let location = r.loc(doc.node());
    let service_node = doc.req(r, "service");
    let service = service_node.and_then(|n| r.string(n, "service"));
    if let Some(l) = doc.opt("labels") {
        r.string_map(l, "labels");
    }
    let slos = doc.req(r, "slos");
    doc.finish(r);
    let (Some(service), Some(service_node)) = (service, service_node) else {
        return;
    };
    if !check_name(r, service_node, &service) {
        return;
    }
    out.implicit_services.push(ServiceSpec {
        name: service.clone(),
        description: String::new(),
        location,
    });
    for item in slos.map(|s| r.sequence(s, "slos")).unwrap_or_default() {
        if let Some(slo) = read_slo(r, item, &service, service_node) {
            out.slos.push(slo);
        }
    }
}

fn read_slo(
    r: &mut Reader,
    node: &Node<'_>,
    service: &str,
    service_node: &Node<'_>,
) -> Option<RawSlo> {
    let location = r.loc(node);
    let mut m = Map::of(r, node, "Sloth SLO")?;
    let name_node = m.req(r, "name");
    let name = name_node.and_then(|n| r.string(n, "name"));
    let target = m
        .req(r, "objective")
        .and_then(|o| read_target(r, o, "objective", Target::from_percent));
    let description = m.opt_string(r, "description").unwrap_or_default();
    if let Some(l) = m.opt("labels") {
        r.string_map(l, "labels");
    }
    let sli = m.req(r, "sli").and_then(|s| read_sli(r, s));
    let alerting = m.req(r, "alerting").and_then(|a| read_alerting(r, a));
    m.finish(r);
    let name = name?;
    let full = format!("{service}-{name}");
    if let Some(n) = name_node
        && !check_name(r, n, &full)
    {
        return None;
    }
    let events = sli?;
    Some(RawSlo {
        name: full.clone(),
        location: location.clone(),
        service: service.to_owned(),
        service_location: r.loc(service_node),
        description,
        target: target?,
        window: Window::Rolling(SpecDuration::days(30)),
        window_location: location.clone(),
        indicator: RefOr::Inline(RawSli {
            name: full,
            location,
            events,
            source_refs: Vec::new(),
        }),
        alerting: RawAlerting::Resolved(alerting?),
        format: SpecFormat::Sloth,
    })
}

fn read_sli(r: &mut Reader, node: &Node<'_>) -> Option<Events> {
    let mut m = Map::of(r, node, "sli")?;
    for unsupported in ["raw", "plugin"] {
        if let Some(n) = m.opt(unsupported) {
            r.report(
                n,
                ProblemKind::UnsupportedKind,
                format!("`sli.{unsupported}` is not supported; use `sli.events`"),
            );
        }
    }
    let events = m.req(r, "events");
    m.finish(r);
    let mut e = Map::of(r, events?, "sli.events")?;
    let error = e
        .req(r, "error_query")
        .and_then(|q| read_query(r, q, "error_query"));
    let total = e
        .req(r, "total_query")
        .and_then(|q| read_query(r, q, "total_query"));
    e.finish(r);
    Some(Events::BadTotal {
        bad: error?,
        total: total?,
    })
}

struct TierSwitch {
    enabled: bool,
    severity: Option<String>,
}

fn read_tier(r: &mut Reader, node: Option<&Node<'_>>, what: &str) -> Option<TierSwitch> {
    let Some(node) = node else {
        return Some(TierSwitch {
            enabled: true,
            severity: None,
        });
    };
    let mut m = Map::of(r, node, what)?;
    let enabled = match m.opt("disable") {
        Some(d) => !r.boolean(d, "disable")?,
        None => true,
    };
    let labels = m
        .opt("labels")
        .map(|l| r.string_map(l, "labels"))
        .unwrap_or_default();
    if let Some(a) = m.opt("annotations") {
        r.string_map(a, "annotations");
    }
    m.finish(r);
    let severity = labels
        .into_iter()
        .find(|(k, _)| k == "severity")
        .map(|(_, v)| v);
    Some(TierSwitch { enabled, severity })
}

fn read_alerting(r: &mut Reader, node: &Node<'_>) -> Option<Alerting> {
    let mut m = Map::of(r, node, "alerting")?;
    let base = m
        .opt_string(r, "name")
        .unwrap_or_else(|| "SLOBurnRate".to_owned());
    if !base.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        r.report(
            node,
            ProblemKind::InvalidValue,
            format!("alert name `{base}` must be letters, digits and `_`"),
        );
        return None;
    }
    if let Some(l) = m.opt("labels") {
        r.string_map(l, "labels");
    }
    if let Some(a) = m.opt("annotations") {
        r.string_map(a, "annotations");
    }
    let page_node = m.opt("page_alert");
    let ticket_node = m.opt("ticket_alert");
    m.finish(r);
    let page = read_tier(r, page_node, "page_alert")?;
    let ticket = read_tier(r, ticket_node, "ticket_alert")?;
    let mut burn_rates = Vec::new();
    for (suffix, tier, factor, long_window, short_window, for_duration) in workbook_tiers() {
        let (switch, default_severity) = match tier {
            Tier::Page => (&page, "critical"),
            Tier::Ticket => (&ticket, "warning"),
        };
        if switch.enabled {
            burn_rates.push(BurnRateAlert {
                alert: format!("{base}{suffix}"),
                tier,
                severity: switch
                    .severity
                    .clone()
                    .unwrap_or_else(|| default_severity.to_owned()),
                factor,
                long_window,
                short_window,
                for_duration,
            });
        }
    }
    Some(Alerting {
        burn_rates,
        min_events: crate::DEFAULT_MIN_EVENTS,
        no_data: Some(NoDataAlert {
            alert: "SLONoData".to_owned(),
            severity: ticket.severity.unwrap_or_else(|| "warning".to_owned()),
            for_duration: crate::DEFAULT_NO_DATA_FOR,
        }),
    })
}
