//! Benchmark: Prometheus 2.42 evaluating the generated SLO rules beside Ballast's SLO engine,
//! for the same SLOs over the same data, in one run (not a test; figures go to
//! docs/BENCHMARKS.md).
//!
//! `cargo run --release -p ballast-slo --example bench_prometheus [-- SLOS [HOURS [LEAD_SECS]]]`
//!
//! 1. SLOS availability SLOs (default 10,000): 99.95 %, rolling 30d, page and ticket tiers,
//!    each on its own series `http_requests_total{service="svc-NNNNN",code="200"|"500"}`, read
//!    from Sloth specs with [`validate_texts`].
//! 2. HOURS of data (default 6), one sample a minute, ending at the start of the run plus
//!    LEAD_SECS (default: an estimate of how long the backfill takes): both counters of every
//!    SLO (1 % of the SLOs burn their budget 40 times too fast, 3 % four times, the rest at
//!    0.4), plus the 5m rates the SLI group would have recorded (`slo:sli_error:rate5m`,
//!    `slo:sli_total:rate5m`), which the full-window rule sums over 30 days. Written once as
//!    OpenMetrics with timestamps and backfilled into Prometheus with `promtool tsdb
//!    create-blocks-from openmetrics`; the counters are appended to Ballast's embedded store
//!    from the same generator.
//! 3. Prometheus: the rule files of [`generate_rules`] (every group every minute, the engine's
//!    step), `prometheus` on 127.0.0.1 over the backfilled blocks, started when the data ends
//!    (Prometheus evaluates at wall-clock time, so its 5m rates need the last minutes of data).
//!    Once every group has been evaluated twice, one more round (as many evaluations as there
//!    are groups) is measured from its own `/metrics`: `process_cpu_seconds_total` over that
//!    round, the sum of `prometheus_rule_group_last_duration_seconds` over every group (one
//!    evaluation of every SLO's rules, in wall time) and `process_resident_memory_bytes`; then
//!    the same process reloaded without rules for a minute. Prometheus is killed when done, also
//!    on error.
//! 4. Ballast: [`Engine::tick`] through [`EmbeddedSource`] ending at the data's end: the first
//!    tick backfills the longest window (30 days of steps, of which HOURS hold data), then
//!    [`STEADY_TICKS`] ticks of one step each, then [`Engine::report`]; CPU (user + system of
//!    this process, from /proc/self/stat), wall time and memory.
//! 5. Both sides' burn-rate tier conditions, counted as (SLO, tier) pairs (Prometheus: its
//!    pending and firing alerts), to show they read the same data.
//!
//! Every wait has a deadline; Prometheus listens on 127.0.0.1 only.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use ballast_metrics::exposition::{self, Format};
use ballast_metrics::{EmbeddedSource, Labels, Storage, StorageConfig};
use ballast_slo::engine::eval::Condition;
use ballast_slo::engine::{Engine, EngineConfig};
use ballast_slo::{RuleOptions, SpecDuration, Specs, ValidateOptions, generate_rules};
use ballast_slo::{rules, validate_texts};

#[path = "support/process.rs"]
mod process;
use process::{cpu_seconds, memory_mib};

/// One sample a minute, in the data and as the engine's step and the rules' interval.
const STEP_MS: i64 = 60_000;
/// Ticks of one step after the backfill tick.
const STEADY_TICKS: i64 = 10;

fn spec_text(service: &str) -> String {
    format!(
        r#"version: "prometheus/v1"
service: "{service}"
slos:
  - name: "availability"
    objective: 99.95
    sli:
      events:
        error_query: sum(rate(http_requests_total{{service="{service}",code=~"5.."}}[{{{{.window}}}}]))
        total_query: sum(rate(http_requests_total{{service="{service}"}}[{{{{.window}}}}]))
    alerting:
      page_alert:
        labels:
          severity: page
      ticket_alert:
        labels:
          severity: ticket
"#
    )
}

fn service(i: usize) -> String {
    format!("svc-{i:05}")
}

fn specs(n: usize) -> anyhow::Result<Specs> {
    let files: Vec<(PathBuf, String)> = (0..n)
        .map(|i| {
            let s = service(i);
            (PathBuf::from(format!("{s}.yaml")), spec_text(&s))
        })
        .collect();
    validate_texts(&files, &ValidateOptions::default())
        .map_err(|problems| anyhow::anyhow!("specs do not validate: {problems:?}"))
}

/// SLO `i`'s traffic: requests a minute and error ratio (burn rate 40, 4 or 0.4 for 99.95 %).
fn traffic(i: usize) -> (f64, f64) {
    let per_minute = 120.0 + (i % 7) as f64 * 60.0;
    let ratio = if i.is_multiple_of(100) {
        0.02
    } else if i.is_multiple_of(25) {
        0.002
    } else {
        0.0002
    };
    (per_minute, ratio)
}

/// SLO `i`'s cumulative (good, bad) requests after `k` minutes.
fn counters(i: usize, k: i64) -> (f64, f64) {
    let (per_minute, ratio) = traffic(i);
    let total = per_minute * k as f64;
    let bad = (total * ratio).floor();
    (total - bad, bad)
}

/// What was generated, for the report.
struct Data {
    series: usize,
    samples: usize,
    file_bytes: u64,
    embedded_samples: usize,
}

/// Writes the OpenMetrics file and fills `storage` with the same counters.
fn write_data(
    specs: &Specs,
    path: &Path,
    storage: &Storage,
    start: i64,
    end: i64,
) -> anyhow::Result<Data> {
    let steps = (end - start) / STEP_MS;
    let file = std::fs::File::create(path).with_context(|| format!("{}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut samples = 0usize;
    let mut embedded_samples = 0usize;
    writeln!(out, "# TYPE http_requests counter")?;
    for (i, slo) in specs.slos.iter().enumerate() {
        for (code, bad) in [("200", false), ("500", true)] {
            let labels = Labels::from_pairs([
                ("__name__", "http_requests_total"),
                ("service", slo.service.as_str()),
                ("code", code),
            ]);
            let points: Vec<(i64, f64)> = (0..=steps)
                .map(|k| {
                    let (good, b) = counters(i, k);
                    (start + k * STEP_MS, if bad { b } else { good })
                })
                .collect();
            for (t, v) in &points {
                writeln!(
                    out,
                    "http_requests_total{{service=\"{}\",code=\"{code}\"}} {v} {}",
                    slo.service,
                    t / 1000
                )?;
            }
            samples += points.len();
            let stats = storage.append_batch(points.iter().map(|(t, v)| (&labels, *t, *v)));
            if stats.rejected > 0 {
                bail!("the embedded store rejected {} samples", stats.rejected);
            }
            embedded_samples += stats.appended;
        }
    }
    // The 5m rates the SLI group records every minute (from 5 minutes in).
    for (name, bad) in [
        ("slo:sli_error:rate5m", true),
        ("slo:sli_total:rate5m", false),
    ] {
        writeln!(out, "# TYPE {name} gauge")?;
        for (i, slo) in specs.slos.iter().enumerate() {
            for k in 5..=steps {
                let (g1, b1) = counters(i, k);
                let (g0, b0) = counters(i, k - 5);
                let v = if bad { b1 - b0 } else { g1 + b1 - g0 - b0 } / 300.0;
                writeln!(
                    out,
                    "{name}{{slo=\"{}\",service=\"{}\"}} {v} {}",
                    slo.name,
                    slo.service,
                    (start + k * STEP_MS) / 1000
                )?;
                samples += 1;
            }
        }
    }
    writeln!(out, "# EOF")?;
    out.flush()?;
    drop(out);
    Ok(Data {
        series: specs.slos.len() * 4,
        samples,
        file_bytes: std::fs::metadata(path)?.len(),
        embedded_samples,
    })
}

/// Runs `cmd` to completion (its error output kept for the message), killed after `timeout`.
fn run_bounded(cmd: &mut Command, timeout: Duration) -> anyhow::Result<()> {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            let out = child.wait_with_output()?;
            if !status.success() {
                bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
            }
            return Ok(());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{cmd:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                dir_bytes(&p)
            } else {
                e.metadata().map_or(0, |m| m.len())
            }
        })
        .sum()
}

/// Prometheus' configuration: no scrape targets, and the rule files or none.
fn write_config(dir: &Path, with_rules: bool) -> anyhow::Result<()> {
    let mut text = "global:\n  evaluation_interval: 1m\n".to_owned();
    if with_rules {
        text.push_str(&format!(
            "rule_files:\n  - \"{}/*.rules.yaml\"\n",
            dir.join("rules").display()
        ));
    }
    std::fs::write(dir.join("prometheus.yml"), text)?;
    Ok(())
}

/// A running Prometheus, killed on drop.
struct Prometheus {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts Prometheus over `dir/tsdb` with the rule files in `dir/rules`.
    fn start(dir: &Path) -> anyhow::Result<Prometheus> {
        let config = dir.join("prometheus.yml");
        write_config(dir, true)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = dir.join("prometheus.log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg("--storage.tsdb.retention.time=100y")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-lifecycle")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting prometheus (apt-get install prometheus)")?;
        Ok(Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        })
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    async fn wait_ready(
        &mut self,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("prometheus exited ({status}):\n{}", self.log_tail());
            }
            let ready = http
                .get(format!("{}/-/ready", self.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "prometheus not ready after {timeout:?}:\n{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn snapshot(&self, http: &reqwest::Client) -> anyhow::Result<Snapshot> {
        let text = http
            .get(format!("{}/metrics", self.url))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let exp = exposition::parse(&text, Format::Prometheus)
            .map_err(|e| anyhow::anyhow!("parsing Prometheus' /metrics: {e}"))?;
        let mut s = Snapshot {
            at: Instant::now(),
            at_ms: now_ms(),
            groups: 0,
            evaluations: 0.0,
            min_evaluations: f64::INFINITY,
            missed: 0.0,
            duration_by_kind: BTreeMap::new(),
            failures: 0.0,
            out_samples: 0.0,
            cpu_seconds: 0.0,
            rss_bytes: 0.0,
        };
        // Per group: iterations scheduled and missed (`iterations_total` counts both).
        let mut iterations: HashMap<String, (f64, f64)> = HashMap::new();
        for sample in exp.samples {
            let group = sample.labels.get("rule_group");
            let kind = group.rsplit(':').next().unwrap_or("");
            match sample.labels.name() {
                "prometheus_rule_group_last_duration_seconds" => {
                    s.groups += 1;
                    *s.duration_by_kind.entry(kind.to_owned()).or_default() += sample.value;
                }
                "prometheus_rule_group_iterations_total" => {
                    iterations.entry(group.to_owned()).or_default().0 = sample.value;
                }
                "prometheus_rule_group_iterations_missed_total" => {
                    iterations.entry(group.to_owned()).or_default().1 = sample.value;
                }
                "prometheus_rule_evaluation_failures_total" => s.failures += sample.value,
                "prometheus_rule_group_last_evaluation_samples" => s.out_samples += sample.value,
                "process_cpu_seconds_total" => s.cpu_seconds = sample.value,
                "process_resident_memory_bytes" => s.rss_bytes = sample.value,
                _ => {}
            }
        }
        for (scheduled, missed) in iterations.values() {
            s.evaluations += scheduled - missed;
            s.missed += missed;
            s.min_evaluations = s.min_evaluations.min(scheduled - missed);
        }
        Ok(s)
    }

    /// Polls `/metrics` until `done` holds or `timeout` passes; returns the last snapshot and
    /// whether `done` held.
    async fn wait_until(
        &mut self,
        http: &reqwest::Client,
        timeout: Duration,
        done: impl Fn(&Snapshot) -> bool,
    ) -> anyhow::Result<(Snapshot, bool)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("prometheus exited ({status}):\n{}", self.log_tail());
            }
            let s = self.snapshot(http).await?;
            if done(&s) {
                return Ok((s, true));
            }
            if Instant::now() > deadline {
                return Ok((s, false));
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

/// Prometheus' own figures at one instant.
#[derive(Debug)]
struct Snapshot {
    at: Instant,
    at_ms: i64,
    /// Rule groups loaded.
    groups: usize,
    /// Group evaluations done, over every group.
    evaluations: f64,
    /// The fewest evaluations of one group.
    min_evaluations: f64,
    /// Iterations skipped because the group's previous evaluation was late.
    missed: f64,
    /// `prometheus_rule_group_last_duration_seconds` summed by group kind.
    duration_by_kind: BTreeMap<String, f64>,
    failures: f64,
    out_samples: f64,
    cpu_seconds: f64,
    rss_bytes: f64,
}

/// Burn-rate alerts pending or firing (`/api/v1/alerts`: the rules' own state, which exists
/// before `ALERTS` is written from the third evaluation on).
async fn active_burn_rate_alerts(http: &reqwest::Client, base: &str) -> anyhow::Result<usize> {
    let body: serde_json::Value = http
        .get(format!("{base}/api/v1/alerts"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let alerts = body["data"]["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    Ok(alerts
        .iter()
        .filter(|a| {
            a["labels"]["alertname"]
                .as_str()
                .is_some_and(|n| n.starts_with("SLOBurnRate"))
        })
        .count())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

const MIB: f64 = 1024.0 * 1024.0;

/// One side's Markdown rows, and what it decided (to check both read the same data).
struct Side {
    rows: Vec<String>,
    /// (SLO, burn-rate tier) pairs whose condition holds (Prometheus: pending or firing).
    tiers_met: usize,
    /// Lines printed under the table.
    notes: Vec<String>,
}

/// The Prometheus side.
async fn bench_prometheus(
    specs: &Specs,
    dir: &Path,
    data_end: i64,
    started: Instant,
) -> anyhow::Result<Side> {
    let options = RuleOptions {
        evaluation_interval: SpecDuration::minutes(1),
        window_interval: SpecDuration::minutes(1),
    };
    let rules_dir = dir.join("rules");
    std::fs::create_dir_all(&rules_dir)?;
    for (name, text) in generate_rules(specs, &options) {
        if name.ends_with(".rules.yaml") {
            std::fs::write(rules_dir.join(name), text)?;
        }
    }
    let groups: Vec<rules::Group> = specs
        .slos
        .iter()
        .flat_map(|s| rules::slo_groups(s, &options))
        .collect();
    let rule_count: usize = groups.iter().map(|g| g.rules.len()).sum();

    // Start when the data ends, so the first evaluations see its last minutes.
    let wait = data_end - now_ms();
    if wait > 0 {
        eprintln!(
            "waiting {:.0} s for the data's end time...",
            wait as f64 / 1000.0
        );
        tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())).await;
    }
    eprintln!(
        "starting prometheus ({} groups, {rule_count} rules) at {:.0} s into the run",
        groups.len(),
        started.elapsed().as_secs_f64()
    );
    let mut prom = Prometheus::start(dir)?;
    let http = reqwest::Client::new();
    prom.wait_ready(&http, Duration::from_secs(300)).await?;
    let ready = prom.snapshot(&http).await?;
    let g = groups.len();
    eprintln!(
        "prometheus ready at {:.0} s ({:.0} MiB); waiting for two evaluations of every group...",
        started.elapsed().as_secs_f64(),
        ready.rss_bytes / MIB
    );
    // The first evaluation of every group is cold, and alert groups restore their state
    // after the second and write `ALERTS` from the third: the measured round follows two.
    let (a, ok) = prom
        .wait_until(&http, Duration::from_secs(600), |s| {
            s.groups == g && s.min_evaluations >= 2.0
        })
        .await?;
    let warm = if ok {
        "after two evaluations of every group".to_owned()
    } else {
        format!(
            "NOT after two evaluations of every group: 10 minutes after start, {} of {g} groups \
             loaded, the fewest evaluated {} times",
            a.groups, a.min_evaluations
        )
    };
    eprintln!(
        "{warm} ({:.0} s); measuring the next {g} evaluations (at most 8 minutes)...",
        started.elapsed().as_secs_f64()
    );
    let (b, full_round) = prom
        .wait_until(&http, Duration::from_secs(480), |s| {
            s.evaluations - a.evaluations >= g as f64
        })
        .await?;
    let met = active_burn_rate_alerts(&http, &prom.url).await?;
    // The same Prometheus without rules: what it spends anyway (GC, TSDB housekeeping).
    write_config(dir, false)?;
    http.post(format!("{}/-/reload", prom.url))
        .send()
        .await?
        .error_for_status()
        .context("reloading Prometheus without rules")?;
    let (c, _) = prom
        .wait_until(&http, Duration::from_secs(60), |s| s.groups == 0)
        .await?;
    tokio::time::sleep(Duration::from_secs(60)).await;
    let d = prom.snapshot(&http).await?;
    drop(prom);
    let idle_ms = (d.cpu_seconds - c.cpu_seconds) * 1000.0 / ((d.at - c.at).as_secs_f64() / 60.0);

    let minutes = (b.at - a.at).as_secs_f64() / 60.0;
    let rounds = (b.evaluations - a.evaluations) / g as f64;
    let cpu_ms = (b.cpu_seconds - a.cpu_seconds) * 1000.0 / rounds;
    let cores = (b.cpu_seconds - a.cpu_seconds) / (minutes * 60.0);
    let total: f64 = b.duration_by_kind.values().sum();
    let kind = |k: &str| b.duration_by_kind.get(k).copied().unwrap_or(0.0) * 1000.0;
    let recorded_per_slo = b.out_samples / specs.slos.len() as f64;
    let keeping_up = format!(
        "measured {warm}: {rounds:.2} rounds of every group in {minutes:.2} min ({:.2} a minute, {}), {cores:.2} \
         cores busy, {:.0} iterations missed since start; data ended {:.0} to {:.0} s before; \
         {recorded_per_slo:.1} samples recorded per SLO (25 when every rate has data)",
        rounds / minutes,
        if full_round {
            "a full round"
        } else {
            "NOT a full round within 8 minutes"
        },
        b.missed,
        (a.at_ms - data_end) as f64 / 1000.0,
        (b.at_ms - data_end) as f64 / 1000.0,
    );
    eprintln!(
        "prometheus: {} groups; sum of last durations {:.0} ms (sli {:.0}, window {:.0}, alerts \
         {:.0}); {cpu_ms:.0} CPU ms per round; {keeping_up}; {} failed rule evaluations",
        b.groups,
        total * 1000.0,
        kind("sli"),
        kind("window"),
        kind("alerts"),
        b.failures,
    );
    eprintln!(
        "prometheus without rules: {idle_ms:.0} CPU ms a minute, {:.0} MiB",
        d.rss_bytes / MIB
    );
    if b.failures > 0.0 {
        bail!("{} rule evaluations failed", b.failures);
    }
    Ok(Side {
        tiers_met: met,
        notes: vec![format!("Prometheus: {keeping_up}.")],
        rows: vec![
            format!(
                "| Prometheus 2.42: one round of every rule group ({} groups, {rule_count} rules); \
                 CPU of the process per round | {cpu_ms:.0} | {:.0} (sum of last group durations: \
                 sli {:.0}, window {:.0}, alerts {:.0}) | {:.0} (process RSS; {:.0} when ready) |",
                b.groups,
                total * 1000.0,
                kind("sli"),
                kind("window"),
                kind("alerts"),
                b.rss_bytes / MIB,
                ready.rss_bytes / MIB,
            ),
            format!(
                "| Prometheus 2.42, the same process reloaded without rules, per minute \
                 | {idle_ms:.0} | | {:.0} |",
                d.rss_bytes / MIB
            ),
        ],
    })
}

/// The engine side.
async fn bench_engine(specs: &Specs, storage: Arc<Storage>, data_end: i64) -> anyhow::Result<Side> {
    let rss0 = memory_mib("VmRSS:");
    let config = EngineConfig {
        // One sample a minute: a rate needs two in range.
        min_read_range_ms: 2 * STEP_MS,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(specs, Arc::new(EmbeddedSource::new(storage)), config)?;
    let first_end = data_end - STEADY_TICKS * STEP_MS;
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    let errors = engine.tick(first_end).await;
    let (first_cpu, first_wall) = (cpu_seconds() - cpu0, wall0.elapsed().as_secs_f64());
    if let Some(e) = errors.first() {
        bail!("{} reads failed; first: {e}", errors.len());
    }
    let rss1 = memory_mib("VmRSS:");
    eprintln!(
        "engine: first tick done; peak RSS of this process {:.0} MiB",
        memory_mib("VmHWM:")
    );
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    let mut worst = 0.0f64;
    for k in 1..=STEADY_TICKS {
        let w = Instant::now();
        let errors = engine.tick(first_end + k * STEP_MS).await;
        worst = worst.max(w.elapsed().as_secs_f64());
        if let Some(e) = errors.first() {
            bail!("{} reads failed; first: {e}", errors.len());
        }
    }
    let ticks = STEADY_TICKS as f64;
    let (cpu, wall) = (
        (cpu_seconds() - cpu0) / ticks,
        wall0.elapsed().as_secs_f64() / ticks,
    );
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    let report = engine.report();
    let (report_cpu, report_wall) = (cpu_seconds() - cpu0, wall0.elapsed().as_secs_f64());
    let firing = report.slos.iter().filter(|s| !s.firing.is_empty()).count();
    let tiers_met = report
        .slos
        .iter()
        .flat_map(|s| &s.tiers)
        .filter(|t| t.condition == Condition::Met)
        .count();
    let rss2 = memory_mib("VmRSS:");
    eprintln!(
        "engine: first tick {:.0} ms CPU / {:.0} ms wall; steady tick {:.1} / {:.1} ms (worst \
         {:.1}); report {:.0} / {:.0} ms; {firing} SLOs firing; RSS +{:.0} MiB after the first \
         tick, +{:.0} MiB after the report",
        first_cpu * 1000.0,
        first_wall * 1000.0,
        cpu * 1000.0,
        wall * 1000.0,
        worst * 1000.0,
        report_cpu * 1000.0,
        report_wall * 1000.0,
        rss1 - rss0,
        rss2 - rss0,
    );
    let buckets_mib = engine.buckets() as f64 * 16.0 / MIB;
    Ok(Side {
        tiers_met,
        notes: Vec::new(),
        rows: vec![
            format!(
                "| Ballast engine: first tick (reads back 30 days of steps, backfills every roll-up) \
             | {:.0} | {:.0} | {:.0} (RSS growth; roll-up buckets {buckets_mib:.0}) |",
                first_cpu * 1000.0,
                first_wall * 1000.0,
                rss1 - rss0,
            ),
            format!(
                "| Ballast engine: steady tick (one step read per SLO, roll-ups, tiers), mean of \
             {STEADY_TICKS} | {:.1} | {:.1} (worst {:.1}) | |",
                cpu * 1000.0,
                wall * 1000.0,
                worst * 1000.0,
            ),
            format!(
                "| Ballast engine: the report (status of every SLO; {firing} firing) | {:.0} | {:.0} \
             | {:.0} (RSS growth, engine and report) |",
                report_cpu * 1000.0,
                report_wall * 1000.0,
                rss2 - rss0,
            ),
        ],
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let started = Instant::now();
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(10_000), |a| a.parse())?;
    let hours: i64 = args.next().map_or(Ok(6), |a| a.parse())?;
    let samples_estimate = n as i64 * hours * 60 * 4;
    // promtool parses the whole file once per 2-hour block, about 2 million samples a second.
    let lead_default = 30 + samples_estimate * (hours / 2 + 1) / 2_000_000;
    let lead: i64 = args.next().map_or(Ok(lead_default), |a| a.parse())?;
    let _ = rustls::crypto::ring::default_provider().install_default();

    let specs = specs(n)?;
    let data_end = (now_ms() + lead * 1000 + STEP_MS - 1) / STEP_MS * STEP_MS;
    let data_start = data_end - hours * 3_600_000;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("data.om");
    eprintln!("writing {hours} h of data for {n} SLOs (ending in {lead} s)...");
    let storage = Arc::new(Storage::new(StorageConfig {
        retention: Duration::from_secs(100 * 86_400),
        max_bytes: usize::MAX,
        snapshot_path: None,
    })?);
    let rss0 = memory_mib("VmRSS:");
    let w = Instant::now();
    let data = write_data(&specs, &file, &storage, data_start, data_end)?;
    let write_secs = w.elapsed().as_secs_f64();
    let store_rss = memory_mib("VmRSS:") - rss0;
    eprintln!(
        "{} series, {} samples ({} in the embedded store, {:.0} MiB there), {:.0} MiB of \
         OpenMetrics, in {write_secs:.1} s; backfilling with promtool...",
        data.series,
        data.samples,
        data.embedded_samples,
        storage.byte_size() as f64 / MIB,
        data.file_bytes as f64 / MIB
    );
    let w = Instant::now();
    run_bounded(
        Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
            .arg(&file)
            .arg(dir.path().join("tsdb")),
        Duration::from_secs(1800),
    )?;
    let promtool_secs = w.elapsed().as_secs_f64();
    std::fs::remove_file(&file)?;
    let tsdb_mib = dir_bytes(&dir.path().join("tsdb")) as f64 / MIB;
    eprintln!("promtool: {promtool_secs:.0} s, {tsdb_mib:.0} MiB of blocks");

    let prometheus = bench_prometheus(&specs, dir.path(), data_end, started).await?;
    let engine = bench_engine(&specs, storage.clone(), data_end).await?;

    println!();
    println!(
        "{n} SLOs, {hours} h of data ({} series, {} samples; Prometheus blocks {tsdb_mib:.0} MiB, \
         embedded store {:.0} MiB of chunks and labels, {store_rss:.0} MiB RSS growth); promtool \
         backfill {promtool_secs:.0} s; peak RSS of this process {:.0} MiB; run {:.0} s",
        data.series,
        data.samples,
        storage.byte_size() as f64 / MIB,
        memory_mib("VmHWM:"),
        started.elapsed().as_secs_f64()
    );
    println!();
    println!("| what | CPU ms | wall ms | memory MiB |");
    println!("|---|---:|---:|---:|");
    for r in prometheus.rows.iter().chain(&engine.rows) {
        println!("{r}");
    }
    println!();
    println!(
        "Burn-rate tier conditions met, as (SLO, tier) pairs: Prometheus {} (alerts pending or \
         firing), engine {}.",
        prometheus.tiers_met, engine.tiers_met
    );
    for note in prometheus.notes.iter().chain(&engine.notes) {
        println!("{note}");
    }
    Ok(())
}
