//! Reading spec files: each YAML document is dispatched on its `apiVersion`/`kind` (or Sloth's
//! `version`) to [`openslo`] or [`sloth`], which produce raw objects whose references are
//! resolved later by [`crate::load`].

pub(crate) mod openslo;
pub(crate) mod sloth;

use std::path::Path;

use crate::duration::SpecDuration;
use crate::exact::{Decimal, Target};
use crate::problem::{Location, ProblemKind};
use crate::spec::{Alerting, DataSourceSpec, Events, Query, ServiceSpec, SpecFormat, Tier, Window};
use crate::yaml::{self, Map, Node, Reader};

/// A reference by name or an inline definition.
#[derive(Debug, Clone)]
pub(crate) enum RefOr<T> {
    /// `fooRef: name`.
    Ref(String, Location),
    /// Defined in place.
    Inline(T),
}

/// An SLI before resolution.
#[derive(Debug, Clone)]
pub(crate) struct RawSli {
    pub name: String,
    pub location: Location,
    pub events: Events,
    /// `metricSourceRef`s to check.
    pub source_refs: Vec<(String, Location)>,
}

/// A burn-rate alert condition before resolution.
#[derive(Debug, Clone)]
pub(crate) struct RawCondition {
    pub name: String,
    pub location: Location,
    pub severity: String,
    pub tier: Tier,
    pub factor: Decimal,
    pub long_window: SpecDuration,
    pub for_duration: SpecDuration,
}

/// An alert policy before resolution.
#[derive(Debug, Clone)]
pub(crate) struct RawPolicy {
    pub name: String,
    pub location: Location,
    pub no_data: bool,
    pub no_data_for: Option<SpecDuration>,
    pub no_data_severity: Option<String>,
    pub min_events: Option<u64>,
    pub conditions: Vec<RefOr<RawCondition>>,
}

/// How an SLO's alerting is given.
#[derive(Debug, Clone)]
pub(crate) enum RawAlerting {
    /// OpenSLO alert policies, to resolve.
    Policies(Vec<RefOr<RawPolicy>>),
    /// Already complete (Sloth).
    Resolved(Alerting),
}

/// An SLO before resolution.
#[derive(Debug, Clone)]
pub(crate) struct RawSlo {
    pub name: String,
    pub location: Location,
    pub service: String,
    pub service_location: Location,
    pub description: String,
    pub target: Target,
    pub window: Window,
    pub window_location: Location,
    pub indicator: RefOr<RawSli>,
    pub alerting: RawAlerting,
    pub format: SpecFormat,
}

/// Everything read from the files of a folder.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub slos: Vec<RawSlo>,
    pub slis: Vec<RawSli>,
    pub policies: Vec<RawPolicy>,
    pub conditions: Vec<RawCondition>,
    pub services: Vec<ServiceSpec>,
    /// Services implied by Sloth files (not checked for duplicates).
    pub implicit_services: Vec<ServiceSpec>,
    pub data_sources: Vec<DataSourceSpec>,
}

/// Reads one file's documents into `out`, recording problems in `r`.
pub(crate) fn parse_file(r: &mut Reader, path: &Path, text: &str, out: &mut Parsed) {
    let docs = match yaml::load(path, text) {
        Ok(d) => d,
        Err(p) => {
            r.problems.push(p);
            return;
        }
    };
    for doc in &docs {
        parse_document(r, doc, out);
    }
}

fn parse_document(r: &mut Reader, doc: &Node<'_>, out: &mut Parsed) {
    let Some(mut map) = Map::of(r, doc, "document") else {
        return;
    };
    if map.has("version") && !map.has("apiVersion") {
        sloth::parse_plain(r, map, out);
        return;
    }
    let Some(api_node) = map.req(r, "apiVersion") else {
        return;
    };
    let Some(api) = r.string(api_node, "apiVersion") else {
        return;
    };
    match api.as_str() {
        "openslo/v1" => openslo::parse(r, map, out),
        "sloth.slok.dev/v1" => sloth::parse_crd(r, map, out),
        other => r.report(
            api_node,
            ProblemKind::UnsupportedKind,
            format!(
                "unsupported apiVersion `{other}` (Ballast reads openslo/v1 and Sloth's \
                 prometheus/v1)"
            ),
        ),
    }
}

/// Reads a PromQL query template: it must contain `[{{.window}}]` and parse once a window is
/// substituted.
pub(crate) fn read_query(r: &mut Reader, node: &Node<'_>, what: &str) -> Option<Query> {
    let text = r.string(node, what)?;
    let q = Query::new(&text);
    if !q.has_window() {
        r.report(
            node,
            ProblemKind::BadQuery,
            format!(
                "`{what}` must select a range `[{{{{.window}}}}]` (the generator substitutes \
                 each window), e.g. sum(rate(http_requests_total{{...}}[{{{{.window}}}}]))"
            ),
        );
        return None;
    }
    let probe = q.at(SpecDuration::minutes(5));
    if let Err(e) = promql_parser::parser::parse(&probe) {
        r.report(
            node,
            ProblemKind::BadQuery,
            format!("`{what}` does not parse as PromQL: {}", e.trim()),
        );
        return None;
    }
    Some(q)
}

/// Reads a duration field.
pub(crate) fn read_duration(r: &mut Reader, node: &Node<'_>, what: &str) -> Option<SpecDuration> {
    let text = r.string(node, what)?;
    match SpecDuration::parse(&text) {
        Ok(d) => Some(d),
        Err(e) => {
            r.report(node, ProblemKind::InvalidValue, format!("`{what}`: {e}"));
            None
        }
    }
}

/// Reads a decimal field.
pub(crate) fn read_decimal(r: &mut Reader, node: &Node<'_>, what: &str) -> Option<Decimal> {
    let text = r.string(node, what)?;
    match Decimal::parse(&text) {
        Ok(d) => Some(d),
        Err(e) => {
            r.report(node, ProblemKind::InvalidValue, format!("`{what}`: {e}"));
            None
        }
    }
}

/// Reads a target with `parse` (percent or fraction), reporting a bad target.
pub(crate) fn read_target(
    r: &mut Reader,
    node: &Node<'_>,
    what: &str,
    parse: fn(&str) -> Result<Target, crate::exact::TargetError>,
) -> Option<Target> {
    let text = r.string(node, what)?;
    match parse(&text) {
        Ok(t) => Some(t),
        Err(e) => {
            r.report(node, ProblemKind::BadTarget, format!("`{what}`: {e}"));
            None
        }
    }
}

/// Whether `name` is usable as a Prometheus label value and alert-name part: lowercase DNS-ish.
pub(crate) fn check_name(r: &mut Reader, node: &Node<'_>, name: &str) -> bool {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if !ok {
        r.report(
            node,
            ProblemKind::InvalidValue,
            format!(
                "name `{name}` must be 1-63 lowercase letters, digits, `-` or `_`, starting \
                 with a letter or digit"
            ),
        );
    }
    ok
}

/// `page-fast` → `PageFast`.
pub(crate) fn camel(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::camel;

    #[test]
    fn camel_cases_names() {
        assert_eq!(camel("page-fast"), "PageFast");
        assert_eq!(camel("ticket_slow_burn"), "TicketSlowBurn");
    }
}
