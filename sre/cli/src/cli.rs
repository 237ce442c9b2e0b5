//! The command line: every role of the platform as a subcommand of one binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Ballast: an observability-first SRE platform and the shop it watches.
#[derive(Debug, Parser)]
#[command(name = "ballast", version, about, long_about = None)]
pub struct Cli {
    /// The role to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every role.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole platform in this process (embedded: SQLite per service, in-process
    /// orchestrator), seed a catalog and an admin account, and serve the shop through the
    /// gateway until Ctrl-C.
    Up(UpArgs),
    /// Run one service instance (for containers): user, product, or gateway.
    Serve(ServeArgs),
    /// Operate the embedded orchestrator through its admin listener (deployments, instances,
    /// scale, restart, rollback, crash, faults).
    Ctl(CtlArgs),
    /// Drive synthetic users against the gateway at a fixed rate for a fixed time (loopback
    /// only) and print a latency summary.
    Load(LoadArgs),
    /// Check the shop's invariants (no order lost, no double charge, stock conserved, every
    /// failed order compensated, every event delivered) against a running platform; exits
    /// non-zero when one is violated.
    Verify(VerifyArgs),
    /// Check alert rule files (Prometheus format) and run their unit tests (the `promtool test
    /// rules` format) with the suite's own rule evaluator; list firing and pending alerts and
    /// manage silences on the running suite.
    Alerts(AlertsArgs),
    /// Query metrics: serve the Prometheus HTTP API over an OpenMetrics file, or evaluate one
    /// PromQL expression over it.
    Metrics(MetricsArgs),
    /// Measure request throughput and latency of a product read three ways (service, gateway,
    /// bare handler) in one run, for docs/BENCHMARKS.md.
    Bench(BenchArgs),
    /// SLOs: validate specs, generate rules and dashboards, show every SLO's status.
    Slo(crate::slo::SloArgs),
}

/// `ballast up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Configuration file (TOML); `BALLAST_SECTION__KEY` variables override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Data directory (SQLite files, generated keys); overrides `data_dir`.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where the public gateway listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub gateway_addr: SocketAddr,
    /// Where the admin listener listens (loopback only).
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub admin_addr: SocketAddr,
    /// First port for service instances (0: any free port).
    #[arg(long, default_value_t = 9100)]
    pub base_port: u16,
    /// Where the SRE suite's HTTP API listens (Prometheus-compatible `/api/v1/query` and
    /// friends over the embedded store).
    #[arg(long, default_value = "127.0.0.1:9300")]
    pub sre_addr: SocketAddr,
    /// Run N times faster than real time (a whole number): SLO windows and steps, rule
    /// intervals, `for` durations and ranges, notification timings, probes and backoffs.
    #[arg(long)]
    pub time_scale: Option<f64>,
    /// Log format on stdout.
    #[arg(long, value_enum, default_value = "json")]
    pub log_format: LogFormatArg,
}

/// Log formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormatArg {
    /// One JSON object per line.
    Json,
    /// Compact human-readable lines.
    Pretty,
}

/// `ballast serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The service to run.
    pub service: String,
    /// Configuration file (TOML).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where to listen.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub addr: SocketAddr,
    /// For the gateway: an upstream as `SERVICE=URL` (a Kubernetes Service address); repeat.
    #[arg(long = "upstream", value_name = "SERVICE=URL")]
    pub upstreams: Vec<String>,
}

/// `ballast ctl`.
#[derive(Debug, Args)]
pub struct CtlArgs {
    /// The admin listener of `ballast up`.
    #[arg(long, default_value = "127.0.0.1:8081", global = true)]
    pub admin_addr: SocketAddr,
    /// The operation.
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// Orchestrator operations.
#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// List deployments or instances.
    Get {
        /// `deployments` or `instances`.
        #[arg(value_parser = ["deployments", "instances"])]
        what: String,
        /// Output format: `table` or `json`.
        #[arg(short = 'o', long = "output", default_value = "table", value_parser = ["table", "json"])]
        output: String,
    },
    /// Set a deployment's replicas.
    Scale {
        /// The service.
        service: String,
        /// Desired replicas.
        replicas: u32,
    },
    /// Replace every instance of a deployment, one at a time.
    Restart {
        /// The service.
        service: String,
    },
    /// Roll a deployment back to its previous revision (or `--to-revision N`).
    Rollback {
        /// The service.
        service: String,
        /// The revision to return to.
        #[arg(long)]
        to_revision: Option<u32>,
    },
    /// Roll out a new release (revision), optionally with a built-in defect to rehearse a bad
    /// deploy.
    Release {
        /// The service.
        service: String,
        /// The version label.
        #[arg(long)]
        version: String,
        /// Share of requests the release fails (0 to 1).
        #[arg(long, default_value_t = 0.0)]
        error_rate: f64,
        /// Latency the release adds (e.g. `250ms`).
        #[arg(long)]
        latency: Option<humantime::Duration>,
    },
    /// Show a deployment's revision history.
    History {
        /// The service.
        service: String,
    },
    /// Crash one instance now.
    Crash {
        /// The instance (`product-1`).
        instance: String,
    },
    /// Inject or clear faults on every instance of a service.
    Fault {
        /// `set` or `clear`.
        #[command(subcommand)]
        action: FaultAction,
    },
}

/// Fault operations.
#[derive(Debug, Subcommand)]
pub enum FaultAction {
    /// Inject errors and/or latency.
    Set {
        /// The service.
        service: String,
        /// Share of API requests answered with 500 (0 to 1).
        #[arg(long, default_value_t = 0.0)]
        error_rate: f64,
        /// Added latency per request (e.g. `200ms`).
        #[arg(long)]
        latency: Option<humantime::Duration>,
    },
    /// Remove injected faults.
    Clear {
        /// The service.
        service: String,
    },
}

/// `ballast load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The gateway (must be a loopback address).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub gateway: String,
    /// Requests per second to start (open loop).
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// How long to run (e.g. `30s`).
    #[arg(long, default_value = "30s")]
    pub duration: humantime::Duration,
    /// Synthetic users to register and log in first.
    #[arg(long, default_value_t = 10)]
    pub users: usize,
    /// Requests in flight at most; beyond it a scheduled request is counted as dropped.
    #[arg(long, default_value_t = 256)]
    pub max_in_flight: usize,
    /// Share of operations that place an order (0 to 1); the rest browse, search, read and
    /// review.
    #[arg(long, default_value_t = 0.2)]
    pub order_share: f64,
    /// Share of placed orders paid with the always-declining card `tok_decline`.
    #[arg(long, default_value_t = 0.05)]
    pub decline_share: f64,
    /// After the run, wait this long for placed orders to reach a terminal status.
    #[arg(long, default_value = "60s")]
    pub settle: humantime::Duration,
    /// Append every accepted order (`order_id`, `idempotency_key`) as a JSON line to this
    /// file, for `ballast verify --accepted FILE`.
    #[arg(long)]
    pub record: Option<std::path::PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `ballast verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The admin listener of `ballast up` (verify reads each service's audit endpoints on a
    /// ready instance it lists).
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub admin_addr: SocketAddr,
    /// A token with the admin or sre role; otherwise verify logs in with
    /// `BALLAST_ADMIN__EMAIL` / `BALLAST_ADMIN__PASSWORD`.
    #[arg(long, env = "BALLAST_VERIFY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Orders a client saw accepted (`ballast load --record FILE`), each checked to exist.
    #[arg(long)]
    pub accepted: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `ballast alerts`.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// The operation.
    #[command(subcommand)]
    pub command: AlertsCommand,
}

/// Alert rule operations.
#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Check every `*.rules.yaml` under DIR like `promtool check rules`: each problem with
    /// file, line and reason.
    Validate {
        /// The folder (or one file).
        #[arg(default_value = "alerts")]
        dir: PathBuf,
    },
    /// Run rule unit-test files (`rule_files`, `input_series`, `alert_rule_test`,
    /// `promql_expr_test`), as `promtool test rules` does.
    Test {
        /// The test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// What is firing and pending on the running suite, grouped as notified (receiver, group
    /// labels, acknowledgement, silenced or inhibited), like `amtool alert query`.
    List {
        /// The suite's address (`ballast up --sre-addr`).
        #[arg(long, default_value = "127.0.0.1:9300")]
        sre_addr: SocketAddr,
        /// Only alerts matching these matchers (`k=v`, `k!=v`, `k=~re`, `k!~re`; repeatable).
        #[arg(long = "matcher", short = 'm')]
        matchers: Vec<String>,
        /// Print JSON (`{"groups": [...], "pending": [...]}`).
        #[arg(long)]
        json: bool,
    },
    /// Silence matching alerts on the running suite for a while; prints the silence's id.
    Silence {
        /// The suite's address (`ballast up --sre-addr`).
        #[arg(long, default_value = "127.0.0.1:9300")]
        sre_addr: SocketAddr,
        /// Matchers (`k=v`, `k!=v`, `k=~re`, `k!~re`; repeatable, at least one).
        #[arg(long = "matcher", short = 'm', required = true)]
        matchers: Vec<String>,
        /// How long (`1h`, `30m`, `2h30m`).
        #[arg(long, default_value = "1h")]
        duration: String,
        /// Why (shown wherever the silence is).
        #[arg(long, required = true)]
        comment: String,
        /// Who (default: `$USER`).
        #[arg(long)]
        author: Option<String>,
    },
    /// Active and pending silences on the running suite (`--expired` for the ended ones too).
    Silences {
        /// The suite's address (`ballast up --sre-addr`).
        #[arg(long, default_value = "127.0.0.1:9300")]
        sre_addr: SocketAddr,
        /// Include expired silences.
        #[arg(long)]
        expired: bool,
        /// Print JSON (Alertmanager's `gettableSilences`).
        #[arg(long)]
        json: bool,
    },
    /// End silences now.
    Expire {
        /// The suite's address (`ballast up --sre-addr`).
        #[arg(long, default_value = "127.0.0.1:9300")]
        sre_addr: SocketAddr,
        /// Silence ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
}

/// `ballast metrics`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// The operation.
    #[command(subcommand)]
    pub command: MetricsCommand,
}

/// Metrics operations.
#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// Serve `/api/v1/query`, `query_range`, `series`, `labels`, `label/<name>/values` over the
    /// samples of an OpenMetrics file with timestamps (what `promtool tsdb
    /// create-blocks-from openmetrics` reads), so it can be queried beside a Prometheus fed
    /// the same file.
    Serve {
        /// The OpenMetrics file.
        #[arg(long)]
        import: PathBuf,
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:9300")]
        addr: SocketAddr,
    },
    /// Print what `/api/v1/query` would answer (the `data` object) for EXPR over the file.
    Query {
        /// The OpenMetrics file.
        #[arg(long)]
        import: PathBuf,
        /// Evaluation time (RFC 3339 or Unix seconds); default: now, as Prometheus does.
        #[arg(long)]
        time: Option<String>,
        /// The PromQL expression.
        expr: String,
    },
}

/// `ballast bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Requests per variant.
    #[arg(long, default_value_t = 20_000)]
    pub requests: u64,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Print the result as a Markdown table.
    #[arg(long)]
    pub markdown: bool,
}
