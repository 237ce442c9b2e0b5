//! Loading a spec folder: read every `*.yaml` / `*.yml` file, resolve references across files,
//! and check what only the whole set can tell (duplicates, unknown references, windows the
//! data cannot cover).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::duration::SpecDuration;
use crate::parse::{self, Parsed, RawAlerting, RawCondition, RawPolicy, RawSli, RefOr, camel};
use crate::problem::{Location, Problem, ProblemKind};
use crate::spec::{Alerting, BurnRateAlert, NoDataAlert, Sli, Slo, Specs};
use crate::yaml::Reader;

/// Options for validation.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// How far back the metrics store keeps data; longer windows are an error.
    pub retention: SpecDuration,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions {
            retention: crate::DEFAULT_RETENTION,
        }
    }
}

/// Reads and checks every spec file under `dir` with default options.
pub fn validate_dir(dir: &Path) -> Result<Specs, Vec<Problem>> {
    validate_dir_with(dir, &ValidateOptions::default())
}

/// Reads and checks every spec file (`*.yaml`, `*.yml`, recursively, in name order) under `dir`.
pub fn validate_dir_with(dir: &Path, options: &ValidateOptions) -> Result<Specs, Vec<Problem>> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    collect_files(dir, &mut files, &mut problems);
    files.sort();
    let mut texts = Vec::new();
    for f in files {
        match std::fs::read_to_string(&f) {
            Ok(t) => texts.push((f, t)),
            Err(e) => problems.push(
                Location {
                    file: f,
                    line: 0,
                    column: 0,
                }
                .problem(ProblemKind::Io, format!("cannot read: {e}")),
            ),
        }
    }
    match validate_texts(&texts, options) {
        Ok(specs) if problems.is_empty() => Ok(specs),
        Ok(_) => Err(problems),
        Err(mut more) => {
            problems.append(&mut more);
            Err(problems)
        }
    }
}

fn collect_files(dir: &Path, files: &mut Vec<PathBuf>, problems: &mut Vec<Problem>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(
                Location {
                    file: dir.to_owned(),
                    line: 0,
                    column: 0,
                }
                .problem(ProblemKind::Io, format!("cannot read folder: {e}")),
            );
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, files, problems);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            files.push(path);
        }
    }
}

/// Reads and checks spec texts given as `(file name, contents)`.
pub fn validate_texts(
    files: &[(PathBuf, String)],
    options: &ValidateOptions,
) -> Result<Specs, Vec<Problem>> {
    let mut parsed = Parsed::default();
    let mut problems = Vec::new();
    for (path, text) in files {
        let mut r = Reader::new(path);
        parse::parse_file(&mut r, path, text, &mut parsed);
        problems.append(&mut r.problems);
    }
    let specs = resolve(parsed, options, &mut problems);
    if problems.is_empty() {
        Ok(specs)
    } else {
        problems.sort_by(|a, b| {
            (&a.file, a.line, a.column, &a.reason).cmp(&(&b.file, b.line, b.column, &b.reason))
        });
        problems.dedup();
        Err(problems)
    }
}

/// Indexes named objects, reporting duplicates at the later definition.
fn index<'a, T>(
    items: &'a [T],
    kind: &str,
    name: impl Fn(&T) -> &str,
    loc: impl Fn(&T) -> &Location,
    problems: &mut Vec<Problem>,
) -> BTreeMap<&'a str, &'a T> {
    let mut map: BTreeMap<&str, &T> = BTreeMap::new();
    for item in items {
        if let Some(first) = map.get(name(item)) {
            problems.push(loc(item).problem(
                ProblemKind::DuplicateName,
                format!(
                    "duplicate {kind} name `{}` (first defined at {})",
                    name(item),
                    loc(first)
                ),
            ));
        } else {
            map.insert(name(item), item);
        }
    }
    map
}

fn resolve(parsed: Parsed, options: &ValidateOptions, problems: &mut Vec<Problem>) -> Specs {
    let slo_index = index(&parsed.slos, "SLO", |s| &s.name, |s| &s.location, problems);
    let _ = slo_index;
    let sli_index = index(&parsed.slis, "SLI", |s| &s.name, |s| &s.location, problems);
    let policy_index = index(
        &parsed.policies,
        "AlertPolicy",
        |p| &p.name,
        |p| &p.location,
        problems,
    );
    let condition_index = index(
        &parsed.conditions,
        "AlertCondition",
        |c| &c.name,
        |c| &c.location,
        problems,
    );
    let service_index = index(
        &parsed.services,
        "Service",
        |s| &s.name,
        |s| &s.location,
        problems,
    );
    let source_index = index(
        &parsed.data_sources,
        "DataSource",
        |d| &d.name,
        |d| &d.location,
        problems,
    );
    let check_sources = |sli: &RawSli, problems: &mut Vec<Problem>| {
        for (name, loc) in &sli.source_refs {
            if !source_index.contains_key(name.as_str()) {
                problems.push(loc.problem(
                    ProblemKind::UnknownReference,
                    format!("unknown DataSource `{name}`"),
                ));
            }
        }
    };
    for sli in &parsed.slis {
        check_sources(sli, problems);
    }

    let mut slos = Vec::new();
    let mut seen = BTreeMap::new();
    for raw in &parsed.slos {
        if seen.insert(raw.name.clone(), ()).is_some() {
            continue; // reported as a duplicate above
        }
        if raw.format == crate::spec::SpecFormat::OpenSlo
            && !service_index.contains_key(raw.service.as_str())
        {
            problems.push(raw.service_location.problem(
                ProblemKind::UnknownReference,
                format!(
                    "unknown Service `{}` (declare it with kind: Service)",
                    raw.service
                ),
            ));
        }
        let sli = match &raw.indicator {
            RefOr::Inline(s) => {
                check_sources(s, problems);
                Some(s)
            }
            RefOr::Ref(name, loc) => {
                let found = sli_index.get(name.as_str()).copied();
                if found.is_none() {
                    problems.push(loc.problem(
                        ProblemKind::UnknownReference,
                        format!("unknown SLI `{name}`"),
                    ));
                }
                found
            }
        };
        let alerting = match &raw.alerting {
            RawAlerting::Resolved(a) => Some(a.clone()),
            RawAlerting::Policies(policies) => {
                resolve_policies(policies, &policy_index, &condition_index, problems)
            }
        };
        let (Some(sli), Some(alerting)) = (sli, alerting) else {
            continue;
        };
        let slo = Slo {
            name: raw.name.clone(),
            service: raw.service.clone(),
            description: raw.description.clone(),
            target: raw.target,
            window: raw.window.clone(),
            sli: Sli {
                name: sli.name.clone(),
                events: sli.events.clone(),
            },
            alerting,
            format: raw.format,
            location: raw.location.clone(),
        };
        check_windows(&slo, &raw.window_location, options, problems);
        slos.push(slo);
    }
    slos.sort_by(|a, b| a.name.cmp(&b.name));

    let mut services = parsed.services.clone();
    for s in parsed.implicit_services {
        if !services.iter().any(|x| x.name == s.name) {
            services.push(s);
        }
    }
    services.sort_by(|a, b| a.name.cmp(&b.name));
    let mut data_sources = parsed.data_sources.clone();
    data_sources.sort_by(|a, b| a.name.cmp(&b.name));
    Specs {
        slos,
        services,
        data_sources,
    }
}

fn resolve_policies(
    policies: &[RefOr<RawPolicy>],
    policy_index: &BTreeMap<&str, &RawPolicy>,
    condition_index: &BTreeMap<&str, &RawCondition>,
    problems: &mut Vec<Problem>,
) -> Option<Alerting> {
    let mut ok = true;
    let mut burn_rates: Vec<BurnRateAlert> = Vec::new();
    let mut min_events = None;
    let mut no_data: Option<NoDataAlert> = None;
    for p in policies {
        let policy = match p {
            RefOr::Inline(p) => p,
            RefOr::Ref(name, loc) => match policy_index.get(name.as_str()) {
                Some(p) => p,
                None => {
                    problems.push(loc.problem(
                        ProblemKind::UnknownReference,
                        format!("unknown AlertPolicy `{name}`"),
                    ));
                    ok = false;
                    continue;
                }
            },
        };
        min_events = min_events.or(policy.min_events);
        if policy.no_data && no_data.is_none() {
            no_data = Some(NoDataAlert {
                alert: "SLONoData".to_owned(),
                severity: policy
                    .no_data_severity
                    .clone()
                    .unwrap_or_else(|| "warning".to_owned()),
                for_duration: policy.no_data_for.unwrap_or(crate::DEFAULT_NO_DATA_FOR),
            });
        }
        for c in &policy.conditions {
            let cond = match c {
                RefOr::Inline(c) => c,
                RefOr::Ref(name, loc) => match condition_index.get(name.as_str()) {
                    Some(c) => c,
                    None => {
                        problems.push(loc.problem(
                            ProblemKind::UnknownReference,
                            format!("unknown AlertCondition `{name}`"),
                        ));
                        ok = false;
                        continue;
                    }
                },
            };
            let alert = format!("SLOBurnRate{}", camel(&cond.name));
            if burn_rates.iter().any(|b| b.alert == alert) {
                problems.push(cond.location.problem(
                    ProblemKind::DuplicateName,
                    format!(
                        "condition `{}` is used twice by one SLO (alert {alert})",
                        cond.name
                    ),
                ));
                ok = false;
                continue;
            }
            burn_rates.push(BurnRateAlert {
                alert,
                tier: cond.tier,
                severity: cond.severity.clone(),
                factor: cond.factor,
                long_window: cond.long_window,
                short_window: SpecDuration::from_secs(cond.long_window.as_secs() / 12),
                for_duration: cond.for_duration,
            });
        }
    }
    burn_rates.sort_by(|a, b| {
        b.factor
            .cmp(&a.factor)
            .then(a.long_window.cmp(&b.long_window))
            .then(a.alert.cmp(&b.alert))
    });
    ok.then_some(Alerting {
        burn_rates,
        min_events: min_events.unwrap_or(crate::DEFAULT_MIN_EVENTS),
        no_data,
    })
}

fn check_windows(
    slo: &Slo,
    window_location: &Location,
    options: &ValidateOptions,
    problems: &mut Vec<Problem>,
) {
    let window = slo.window.length();
    if window > options.retention {
        problems.push(window_location.problem(
            ProblemKind::UncoverableWindow,
            format!(
                "SLO `{}`: window {window} is longer than the metrics retention {}",
                slo.name, options.retention
            ),
        ));
    }
    for b in &slo.alerting.burn_rates {
        if b.long_window > window {
            problems.push(window_location.problem(
                ProblemKind::UncoverableWindow,
                format!(
                    "SLO `{}`: window {window} is shorter than the {} alert window {}",
                    slo.name, b.alert, b.long_window
                ),
            ));
        }
    }
}
