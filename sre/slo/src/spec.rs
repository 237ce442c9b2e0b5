//! The domain model every spec format is read into: SLOs with their SLI, target, window and
//! alerting, resolved (no references left) and checked.

use std::fmt;

use crate::duration::SpecDuration;
use crate::exact::{Decimal, Target};
use crate::problem::Location;

/// The placeholder a query uses for its range (Sloth's convention): `[{{.window}}]`.
pub const WINDOW_PLACEHOLDER: &str = "{{.window}}";

/// Every SLO read from a spec folder, plus the services and data sources declared there.
#[derive(Debug, Clone, Default)]
pub struct Specs {
    /// SLOs, sorted by name.
    pub slos: Vec<Slo>,
    /// Declared services (OpenSLO `Service`, and every Sloth file's service), sorted by name.
    pub services: Vec<ServiceSpec>,
    /// Declared data sources (OpenSLO `DataSource`), sorted by name.
    pub data_sources: Vec<DataSourceSpec>,
}

impl Specs {
    /// The SLO named `name`.
    pub fn slo(&self, name: &str) -> Option<&Slo> {
        self.slos.iter().find(|s| s.name == name)
    }

    /// The names of the services that have at least one SLO, sorted and unique.
    pub fn services_with_slos(&self) -> Vec<String> {
        let mut v: Vec<String> = self.slos.iter().map(|s| s.service.clone()).collect();
        v.sort();
        v.dedup();
        v
    }
}

/// A service SLOs are attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Service name (the `service` label of its metrics).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Where it was declared.
    pub location: Location,
}

/// A data source SLIs read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSourceSpec {
    /// Name.
    pub name: String,
    /// The source type (`Prometheus`).
    pub kind: String,
    /// Where it was declared.
    pub location: Location,
}

/// Which format an SLO was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecFormat {
    /// OpenSLO v1 (`apiVersion: openslo/v1`).
    OpenSlo,
    /// Sloth (`version: prometheus/v1` or `kind: PrometheusServiceLevel`).
    Sloth,
}

/// One service level objective.
#[derive(Debug, Clone)]
pub struct Slo {
    /// Unique name; the `slo` label of every generated series and alert.
    pub name: String,
    /// The service it measures; the `service` label.
    pub service: String,
    /// Free text.
    pub description: String,
    /// The promised fraction of good events.
    pub target: Target,
    /// The compliance window.
    pub window: Window,
    /// How good and total events are counted.
    pub sli: Sli,
    /// Burn-rate tiers, low-traffic guard and no-data alert.
    pub alerting: Alerting,
    /// The format it was read from.
    pub format: SpecFormat,
    /// Where it was declared.
    pub location: Location,
}

impl Slo {
    /// The error budget as an exact fraction (`0.0005` for 99.95 %).
    pub fn error_budget(&self) -> Decimal {
        self.target.error_budget()
    }
}

/// A compliance window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Window {
    /// The last `duration`, sliding.
    Rolling(SpecDuration),
    /// Calendar periods in a time zone; generated rules use the nominal length.
    Calendar {
        /// Week, month or quarter.
        unit: CalendarUnit,
        /// IANA time zone name.
        time_zone: String,
    },
}

impl Window {
    /// The window's length (for calendar windows the nominal length: 7, 30 or 90 days).
    pub fn length(&self) -> SpecDuration {
        match self {
            Window::Rolling(d) => *d,
            Window::Calendar { unit, .. } => unit.nominal(),
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Window::Rolling(d) => write!(f, "rolling {d}"),
            Window::Calendar { unit, time_zone } => write!(f, "calendar {unit:?} ({time_zone})"),
        }
    }
}

/// A calendar period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarUnit {
    /// A week (`1w`).
    Week,
    /// A month (`1M`).
    Month,
    /// A quarter (`1Q`).
    Quarter,
}

impl CalendarUnit {
    /// The nominal length used where a fixed duration is needed.
    pub fn nominal(&self) -> SpecDuration {
        match self {
            CalendarUnit::Week => SpecDuration::days(7),
            CalendarUnit::Month => SpecDuration::days(30),
            CalendarUnit::Quarter => SpecDuration::days(90),
        }
    }
}

/// An SLI: good (or bad) events over total events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sli {
    /// The SLI's name (OpenSLO SLI name, or the SLO's for inline SLIs).
    pub name: String,
    /// The event queries.
    pub events: Events,
}

/// The event queries of a ratio SLI; each yields events per second over `[{{.window}}]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Events {
    /// Good events and total events.
    GoodTotal {
        /// Good events.
        good: Query,
        /// All events.
        total: Query,
    },
    /// Bad events and total events.
    BadTotal {
        /// Bad events.
        bad: Query,
        /// All events.
        total: Query,
    },
}

impl Events {
    /// The total-events query.
    pub fn total(&self) -> &Query {
        match self {
            Events::GoodTotal { total, .. } | Events::BadTotal { total, .. } => total,
        }
    }

    /// PromQL for the rate of bad events over `window`. A good (or bad) query that selects
    /// nothing counts as zero (`or vector(0)`): a service whose every request failed has no
    /// series for successful ones, and its outage must still count.
    pub fn bad_rate(&self, window: SpecDuration) -> String {
        match self {
            Events::GoodTotal { good, total } => format!(
                "({}) - (({}) or vector(0))",
                total.at(window),
                good.at(window)
            ),
            Events::BadTotal { bad, .. } => format!("({}) or vector(0)", bad.at(window)),
        }
    }
}

/// A PromQL query template containing `[{{.window}}]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    template: String,
}

impl Query {
    /// A query from its template text (whitespace trimmed, `{{ .window }}` normalised).
    pub fn new(template: &str) -> Query {
        let t = template
            .trim()
            .replace("{{ .window }}", WINDOW_PLACEHOLDER)
            .replace("{{.window }}", WINDOW_PLACEHOLDER)
            .replace("{{ .window}}", WINDOW_PLACEHOLDER);
        Query { template: t }
    }

    /// The template as written (normalised).
    pub fn template(&self) -> &str {
        &self.template
    }

    /// Whether the template uses the window placeholder.
    pub fn has_window(&self) -> bool {
        self.template.contains(WINDOW_PLACEHOLDER)
    }

    /// The query over `window`.
    pub fn at(&self, window: SpecDuration) -> String {
        self.template.replace(WINDOW_PLACEHOLDER, &window.promql())
    }
}

/// Page or ticket: the two tiers of the Workbook's alerting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// Wake someone up.
    Page,
    /// Look at it in working hours.
    Ticket,
}

impl Tier {
    /// `page` or `ticket` (the `tier` label).
    pub fn as_str(&self) -> &'static str {
        match self {
            Tier::Page => "page",
            Tier::Ticket => "ticket",
        }
    }
}

/// The alerting of one SLO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alerting {
    /// Enabled burn-rate alerts, fastest first.
    pub burn_rates: Vec<BurnRateAlert>,
    /// Minimum total events in a tier's long window before it may fire (0 disables the guard).
    pub min_events: u64,
    /// The alert when the SLI's series vanish, if enabled.
    pub no_data: Option<NoDataAlert>,
}

/// One multi-window burn-rate alert: fires when the error ratio over both windows exceeds
/// `factor × error budget`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BurnRateAlert {
    /// Prometheus alert name (`SLOBurnRatePageFast`).
    pub alert: String,
    /// Page or ticket.
    pub tier: Tier,
    /// The `severity` label.
    pub severity: String,
    /// Burn-rate factor (`14.4`).
    pub factor: Decimal,
    /// Long window (`1h`).
    pub long_window: SpecDuration,
    /// Short window (`5m`), the long window / 12 as in the Workbook.
    pub short_window: SpecDuration,
    /// How long the condition must hold before firing (Prometheus `for`).
    pub for_duration: SpecDuration,
}

/// The no-data alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoDataAlert {
    /// Prometheus alert name.
    pub alert: String,
    /// The `severity` label.
    pub severity: String,
    /// How long the series must be absent.
    pub for_duration: SpecDuration,
}

/// The four tiers of the SRE Workbook (chapter 5, table 5-8): `(alert suffix, tier, factor,
/// long window, short window, for)`. The `for` durations follow Pyrra's defaults.
pub fn workbook_tiers() -> [(
    &'static str,
    Tier,
    Decimal,
    SpecDuration,
    SpecDuration,
    SpecDuration,
); 4] {
    [
        (
            "PageFast",
            Tier::Page,
            Decimal::new(144, 1),
            SpecDuration::hours(1),
            SpecDuration::minutes(5),
            SpecDuration::minutes(2),
        ),
        (
            "PageSlow",
            Tier::Page,
            Decimal::from_int(6),
            SpecDuration::hours(6),
            SpecDuration::minutes(30),
            SpecDuration::minutes(15),
        ),
        (
            "TicketFast",
            Tier::Ticket,
            Decimal::from_int(3),
            SpecDuration::days(1),
            SpecDuration::hours(2),
            SpecDuration::hours(1),
        ),
        (
            "TicketSlow",
            Tier::Ticket,
            Decimal::from_int(1),
            SpecDuration::days(3),
            SpecDuration::hours(6),
            SpecDuration::hours(3),
        ),
    ]
}

/// The windows for which error ratios are recorded (besides the full SLO window).
pub const RECORDED_WINDOWS: [SpecDuration; 7] = [
    SpecDuration::minutes(5),
    SpecDuration::minutes(30),
    SpecDuration::hours(1),
    SpecDuration::hours(2),
    SpecDuration::hours(6),
    SpecDuration::days(1),
    SpecDuration::days(3),
];
