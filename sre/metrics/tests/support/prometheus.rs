//! A real Prometheus for the differential test, the metrics benchmark and the SLO agreement test
//! (`sre/slo/tests/prometheus_agreement.rs` includes this file): the OpenMetrics file is
//! backfilled with `promtool tsdb create-blocks-from openmetrics` into a temporary TSDB, and
//! `prometheus` serves it on a free loopback port. Panics (does not skip) without the binaries.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Prometheus, killed on drop.
pub struct Prometheus {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    log: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// The last 20 lines of its log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Asserts `prometheus` and `promtool` are installed.
pub fn require_binaries() {
    for bin in ["prometheus", "promtool"] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {bin}"))
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            found,
            "{bin} is not installed: apt-get install -y prometheus"
        );
    }
}

/// Backfills `file` into `dir/tsdb` with promtool (returns how long that took).
pub fn backfill(file: &Path, dir: &Path) -> Duration {
    let started = Instant::now();
    let out = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(file)
        .arg(dir.join("tsdb"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed()
}

/// Starts Prometheus over `dir/tsdb` and waits until it is ready.
pub async fn start(dir: &Path) -> Prometheus {
    start_with(dir, "prometheus", "global:\n  scrape_interval: 1m\n").await
}

/// Starts Prometheus over `dir/tsdb` with `config` (YAML, written to `dir/NAME.yml`; its log
/// goes to `dir/NAME.log`) and waits until it is ready.
pub async fn start_with(dir: &Path, name: &str, config: &str) -> Prometheus {
    let config_path = dir.join(format!("{name}.yml"));
    std::fs::write(&config_path, config).unwrap();
    let port = free_port();
    let log = dir.join(format!("{name}.log"));
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg("--storage.tsdb.retention.time=100y")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("prometheus is not installed: apt-get install -y prometheus");
    let prom = Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
        log,
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let ready = http
            .get(format!("{}/-/ready", prom.url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "prometheus did not become ready: {}",
            prom.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    prom
}
