//! Benchmark of the SLO engine's evaluation tick (not a test; figures go to docs/BENCHMARKS.md).
//!
//! `cargo run --release -p ballast-slo --example bench_engine [-- SLOS [TICKS]]`
//!
//! For 10,000 SLOs (by default) with every window (5m, 30m, 1h, 2h, 6h, 1d, 3d and the full
//! window) and the four Workbook tiers, it measures one tick: every SLO's step pushed into its
//! roll-ups, every window sum and tier decision updated, and the report built. The events are
//! pushed directly (no metric source), so this is the engine's own cost. It runs with a 30-day
//! window and with a 12-week window, after a warm-up long enough for every ring to wrap, and
//! prints CPU time (user + system, from /proc/self/stat), wall time and resident memory.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use ballast_metrics::{EmbeddedSource, Storage, StorageConfig};
use ballast_slo::engine::rollup::Sums;
use ballast_slo::engine::{Engine, EngineConfig};
use ballast_slo::spec::Window;
use ballast_slo::{SpecDuration, Specs, ValidateOptions, validate_texts};

#[path = "support/process.rs"]
mod process;
use process::{cpu_seconds, memory_mib};

const SPEC: &str = r#"version: "prometheus/v1"
service: "svc"
slos:
  - name: "availability"
    objective: 99.95
    sli:
      events:
        error_query: sum(rate(http_requests_total{service="svc",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{service="svc"}[{{.window}}]))
    alerting:
      page_alert:
        labels:
          severity: page
      ticket_alert:
        labels:
          severity: ticket
"#;

fn specs(n: usize, window: Window) -> Result<Specs, String> {
    let one = validate_texts(
        &[(PathBuf::from("svc.yaml"), SPEC.to_string())],
        &ValidateOptions::default(),
    )
    .map_err(|p| format!("{p:?}"))?;
    let base = one.slos.first().cloned().ok_or("no SLO")?;
    let mut specs = Specs::default();
    for i in 0..n {
        let mut s = base.clone();
        s.name = format!("svc{i}-availability");
        s.service = format!("svc{i}");
        s.window = window.clone();
        specs.slos.push(s);
    }
    Ok(specs)
}

fn run(n: usize, ticks: usize, window: Window) -> Result<(), Box<dyn std::error::Error>> {
    let label = window.to_string();
    let rss0 = memory_mib("VmRSS:");
    let specs = specs(n, window)?;
    let storage = Arc::new(Storage::new(StorageConfig::default())?);
    let mut engine = Engine::new(
        &specs,
        Arc::new(EmbeddedSource::new(storage)),
        EngineConfig::default(),
    )?;
    let rss1 = memory_mib("VmRSS:");
    let step = engine.wall_step_ms();
    // Uneven traffic per SLO: 600 requests a step, errors varying with SLO and step.
    let steps = |t: i64| -> Vec<Option<Sums>> {
        (0..n)
            .map(|i| Some(Sums::new(((i as i64 + t / step) % 7) as f64 * 0.05, 600.0)))
            .collect()
    };
    // Warm-up: the one-step ring wraps (the coarser rings are preallocated, so their size is
    // already in memory; only their once-per-lap re-summing is not exercised).
    let warm = 2 * 61;
    let mut t = step;
    for _ in 0..warm {
        engine.push_steps(t, &steps(t));
        t += step;
    }
    let inputs: Vec<Vec<Option<Sums>>> = (0..ticks).map(|k| steps(t + k as i64 * step)).collect();
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    let mut reports = 0usize;
    let mut worst = 0.0f64;
    for input in &inputs {
        let w = Instant::now();
        engine.push_steps(t, input);
        let report = engine.report();
        reports += report.slos.len();
        worst = worst.max(w.elapsed().as_secs_f64());
        t += step;
    }
    let (cpu, wall) = (cpu_seconds() - cpu0, wall0.elapsed().as_secs_f64());
    let rss2 = memory_mib("VmRSS:");
    println!(
        "| {label} | {n} | {ticks} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {:.0} |",
        cpu * 1000.0 / ticks as f64,
        wall * 1000.0 / ticks as f64,
        worst * 1000.0,
        (rss1 - rss0).max(0.0),
        engine.buckets(),
        rss2.max(rss1),
    );
    assert_eq!(reports, n * ticks);
    // Only the arithmetic (no report): the per-tick roll-up update alone.
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    for input in &inputs {
        engine.push_steps(t, input);
        t += step;
    }
    println!(
        "|   (roll-ups and tiers only, no report) | | | {:.1} | {:.1} | | | | |",
        (cpu_seconds() - cpu0) * 1000.0 / ticks as f64,
        wall0.elapsed().as_secs_f64() * 1000.0 / ticks as f64
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(10_000), |a| a.parse())?;
    let ticks: usize = args.next().map_or(Ok(50), |a| a.parse())?;
    println!(
        "| window | SLOs | ticks | CPU ms/tick | wall ms/tick | worst tick ms | engine MiB | buckets | peak RSS MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    run(n, ticks, Window::Rolling(SpecDuration::minutes(5)))?;
    run(n, ticks, Window::Rolling(SpecDuration::days(30)))?;
    run(n, ticks, Window::Rolling(SpecDuration::days(84)))?;
    Ok(())
}
