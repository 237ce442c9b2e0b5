//! The scraper: one loop per target, each on its own interval and timeout, fed by a watched
//! target list. Every scrape writes the synthetic series `up`, `scrape_duration_seconds` and
//! `scrape_samples_scraped`; a series that disappears from a target, or a target that fails or
//! is removed, gets a staleness marker as in Prometheus. A malformed, oversized or hanging
//! exposition fails only that scrape (`up` 0 and a log line).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::exposition::{self, Format};
use crate::labels::{Labels, METRIC_NAME};
use crate::storage::{Storage, stale_nan};

/// One scrape target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The `job` label.
    pub job: String,
    /// The `instance` label.
    pub instance: String,
    /// The URL to GET (e.g. `http://127.0.0.1:8080/metrics`).
    pub url: String,
    /// Extra labels added to every series of this target.
    pub labels: BTreeMap<String, String>,
    /// Time between scrapes.
    pub interval: Duration,
    /// Deadline of one scrape.
    pub timeout: Duration,
}

impl Target {
    /// A target with a 15s interval and 10s timeout.
    pub fn new(job: &str, instance: &str, url: &str) -> Self {
        Self {
            job: job.into(),
            instance: instance.into(),
            url: url.into(),
            labels: BTreeMap::new(),
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
        }
    }

    fn target_labels(&self) -> Labels {
        let mut l = Labels::from_pairs(self.labels.clone());
        l.set("job".into(), self.job.clone());
        l.set("instance".into(), self.instance.clone());
        l
    }
}

/// Settings shared by all targets.
#[derive(Debug, Clone)]
pub struct ScrapeConfig {
    /// Largest accepted body; a bigger one fails the scrape.
    pub max_body_bytes: usize,
    /// Keep exposed labels that clash with target labels (else they become `exported_*`).
    pub honor_labels: bool,
}

impl Default for ScrapeConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 * 1024 * 1024,
            honor_labels: false,
        }
    }
}

/// What one scrape did.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeReport {
    /// True when the target answered a valid exposition.
    pub up: bool,
    /// Samples in the exposition.
    pub samples: usize,
    /// Staleness markers written.
    pub stale_markers: usize,
    /// Why the scrape failed.
    pub error: Option<String>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The state one target's loop carries between scrapes.
#[derive(Debug)]
pub struct TargetScraper {
    target: Target,
    config: ScrapeConfig,
    client: reqwest::Client,
    storage: Arc<Storage>,
    previous: HashSet<Labels>,
}

impl TargetScraper {
    /// A scraper for one target.
    pub fn new(
        target: Target,
        config: ScrapeConfig,
        client: reqwest::Client,
        storage: Arc<Storage>,
    ) -> Self {
        Self {
            target,
            config,
            client,
            storage,
            previous: HashSet::new(),
        }
    }

    async fn fetch(&self) -> Result<(String, Format), String> {
        let mut resp = self
            .client
            .get(&self.target.url)
            .header(
                "accept",
                "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1",
            )
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("server returned HTTP status {}", resp.status()));
        }
        let format = Format::from_content_type(
            resp.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        );
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| format!("reading body: {e}"))?
        {
            if body.len() + chunk.len() > self.config.max_body_bytes {
                return Err(format!(
                    "body exceeds the limit of {} bytes",
                    self.config.max_body_bytes
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(body).map_err(|_| "body is not UTF-8".to_string())?;
        Ok((text, format))
    }

    fn series_labels(&self, exposed: &Labels, target: &Labels) -> Labels {
        let mut out = exposed.clone();
        for (k, v) in target.pairs() {
            if out.has(k) {
                if self.config.honor_labels {
                    continue;
                }
                let old = out.get(k).to_string();
                out.set(format!("exported_{k}"), old);
            }
            out.set(k.clone(), v.clone());
        }
        out
    }

    /// Scrapes once and writes the result (samples, synthetic series, staleness markers).
    pub async fn scrape(&mut self) -> ScrapeReport {
        let started = Instant::now();
        let t = now_ms();
        let fetched = match tokio::time::timeout(self.target.timeout, self.fetch()).await {
            Ok(r) => r,
            Err(_) => Err(format!("scrape timed out after {:?}", self.target.timeout)),
        };
        let parsed = fetched.and_then(|(text, format)| {
            exposition::parse(&text, format).map_err(|e| format!("parse error: {e}"))
        });
        let target_labels = self.target.target_labels();
        let mut current = HashSet::new();
        let mut batch: Vec<(Labels, i64, f64)> = Vec::new();
        let (up, samples, error) = match parsed {
            Ok(exp) => {
                let n = exp.samples.len();
                for s in exp.samples {
                    let labels = self.series_labels(&s.labels, &target_labels);
                    match s.timestamp_ms {
                        Some(ts) => batch.push((labels, ts, s.value)),
                        None => {
                            current.insert(labels.clone());
                            batch.push((labels, t, s.value));
                        }
                    }
                }
                (true, n, None)
            }
            Err(e) => (false, 0, Some(e)),
        };
        let mut stale = 0;
        for gone in self.previous.difference(&current) {
            batch.push((gone.clone(), t, stale_nan()));
            stale += 1;
        }
        self.previous = current;
        let synth = |name: &str| {
            let mut l = target_labels.clone();
            l.set(METRIC_NAME.into(), name.into());
            l
        };
        batch.push((synth("up"), t, if up { 1.0 } else { 0.0 }));
        batch.push((
            synth("scrape_duration_seconds"),
            t,
            started.elapsed().as_secs_f64(),
        ));
        batch.push((synth("scrape_samples_scraped"), t, samples as f64));
        self.storage
            .append_batch(batch.iter().map(|(l, ts, v)| (l, *ts, *v)));
        if let Some(e) = &error {
            tracing::warn!(job = %self.target.job, instance = %self.target.instance, url = %self.target.url, error = %e, "scrape failed");
        }
        ScrapeReport {
            up,
            samples,
            stale_markers: stale,
            error,
        }
    }

    /// Writes staleness markers for everything this target produced (it went away).
    pub fn mark_stale(&mut self) {
        let t = now_ms();
        let target_labels = self.target.target_labels();
        let mut batch: Vec<Labels> = self.previous.drain().collect();
        for name in ["up", "scrape_duration_seconds", "scrape_samples_scraped"] {
            let mut l = target_labels.clone();
            l.set(METRIC_NAME.into(), name.into());
            batch.push(l);
        }
        self.storage
            .append_batch(batch.iter().map(|l| (l, t, stale_nan())));
    }

    /// Scrapes every interval until `stop` fires, then marks everything stale.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(self.target.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = ticker.tick() => {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = self.scrape() => {}
                    }
                }
            }
        }
        self.mark_stale();
    }
}

/// Builds the HTTP client scrapes use.
pub fn scrape_client() -> Result<reqwest::Client, reqwest::Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build()
}

/// Runs one scrape loop per target in `targets`, following changes of the list, until
/// `shutdown` fires. Removed targets get staleness markers.
pub fn spawn_scrape_manager(
    storage: Arc<Storage>,
    mut targets: watch::Receiver<Vec<Target>>,
    config: ScrapeConfig,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let client = match scrape_client() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the scrape client");
                return;
            }
        };
        let mut running: HashMap<Target, (CancellationToken, JoinHandle<()>)> = HashMap::new();
        loop {
            let wanted: Vec<Target> = targets.borrow_and_update().clone();
            let removed: Vec<Target> = running
                .keys()
                .filter(|t| !wanted.contains(t))
                .cloned()
                .collect();
            for t in removed {
                if let Some((stop, handle)) = running.remove(&t) {
                    stop.cancel();
                    let _ = handle.await;
                }
            }
            for t in wanted {
                if running.contains_key(&t) {
                    continue;
                }
                let stop = shutdown.child_token();
                let scraper =
                    TargetScraper::new(t.clone(), config.clone(), client.clone(), storage.clone());
                let handle = tokio::spawn(scraper.run(stop.clone()));
                running.insert(t, (stop, handle));
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                changed = targets.changed() => {
                    if changed.is_err() {
                        // The sender is gone: keep scraping the last list until shutdown.
                        shutdown.cancelled().await;
                        break;
                    }
                }
            }
        }
        for (_, (stop, handle)) in running.drain() {
            stop.cancel();
            let _ = handle.await;
        }
    })
}

impl std::hash::Hash for Target {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.job.hash(state);
        self.instance.hash(state);
        self.url.hash(state);
    }
}
