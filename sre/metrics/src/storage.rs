//! The embedded time-series store: an in-memory head of Gorilla-compressed chunks per series,
//! an inverted index (postings) from label pairs to series, a retention bound and a memory
//! bound, and a snapshot file written on shutdown and loaded on start.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use parking_lot::RwLock;
use prometheus::{IntGauge, Registry};
use promql_parser::label::{MatchOp, Matcher};

use crate::chunk::Chunk;
use crate::error::{MetricsError, Result};
use crate::labels::Labels;

/// The NaN bit pattern Prometheus writes as a staleness marker.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// A staleness marker value.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// True when `v` is the staleness marker (not any other NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Bounds and persistence of the store.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Samples older than the newest sample minus this are dropped (whole chunks at a time).
    pub retention: Duration,
    /// Upper bound on the bytes held by chunks and labels; the oldest chunks go first.
    pub max_bytes: usize,
    /// Where [`Storage::close`] writes the snapshot and [`Storage::open`] reads it.
    pub snapshot_path: Option<PathBuf>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(15 * 24 * 3600),
            max_bytes: 512 * 1024 * 1024,
            snapshot_path: None,
        }
    }
}

/// One series' samples in a time range.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSamples {
    /// The series' labels.
    pub labels: Labels,
    /// `(timestamp ms, value)` in time order, staleness markers included.
    pub samples: Vec<(i64, f64)>,
}

#[derive(Debug)]
struct MemSeries {
    labels: Labels,
    /// Closed chunks followed by the open one (last).
    chunks: Vec<Chunk>,
}

impl MemSeries {
    fn max_t(&self) -> Option<i64> {
        self.chunks
            .last()
            .filter(|c| !c.is_empty())
            .map(Chunk::max_t)
    }
}

#[derive(Debug, Default)]
struct Head {
    series: HashMap<u64, MemSeries>,
    by_labels: HashMap<Labels, u64>,
    postings: HashMap<String, HashMap<String, BTreeSet<u64>>>,
    next_id: u64,
    chunk_bytes: usize,
    label_bytes: usize,
    samples: u64,
    newest_t: i64,
    /// Newest timestamp at the last retention sweep.
    swept_at: i64,
}

impl Head {
    fn get_or_create(&mut self, labels: &Labels) -> u64 {
        if let Some(id) = self.by_labels.get(labels) {
            return *id;
        }
        let id = self.next_id;
        self.next_id += 1;
        for (k, v) in labels.pairs() {
            self.postings
                .entry(k.clone())
                .or_default()
                .entry(v.clone())
                .or_default()
                .insert(id);
        }
        self.label_bytes += labels.heap_bytes();
        self.by_labels.insert(labels.clone(), id);
        self.series.insert(
            id,
            MemSeries {
                labels: labels.clone(),
                chunks: Vec::new(),
            },
        );
        id
    }

    fn remove(&mut self, id: u64) {
        let Some(s) = self.series.remove(&id) else {
            return;
        };
        for (k, v) in s.labels.pairs() {
            if let Some(values) = self.postings.get_mut(k) {
                if let Some(set) = values.get_mut(v) {
                    set.remove(&id);
                    if set.is_empty() {
                        values.remove(v);
                    }
                }
                if values.is_empty() {
                    self.postings.remove(k);
                }
            }
        }
        for c in &s.chunks {
            self.chunk_bytes -= c.byte_len();
            self.samples -= u64::from(c.len());
        }
        self.label_bytes -= s.labels.heap_bytes();
        self.by_labels.remove(&s.labels);
    }

    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<()> {
        let id = self.get_or_create(labels);
        let Some(series) = self.series.get_mut(&id) else {
            return Err(MetricsError::Execution("series vanished".into()));
        };
        if series.max_t().is_some_and(|max_t| t <= max_t) {
            return Err(MetricsError::OutOfOrder);
        }
        if series.chunks.last().is_none_or(Chunk::is_full) {
            series.chunks.push(Chunk::new());
        }
        if let Some(chunk) = series.chunks.last_mut() {
            let before = chunk.byte_len();
            chunk.append(t, v);
            self.chunk_bytes += chunk.byte_len() - before;
        }
        self.samples += 1;
        self.newest_t = self.newest_t.max(t);
        Ok(())
    }

    /// Series ids matching every matcher.
    /// Ids of the series every matcher accepts. Candidates come from the smallest postings
    /// list of the equality matchers (`service="order"` rather than every
    /// `http_requests_total`), read in place; each candidate is then checked against all
    /// matchers. Without an equality matcher every series is a candidate.
    fn matching(&self, matchers: &[Matcher]) -> Vec<u64> {
        let empty = BTreeSet::new();
        let smallest = matchers
            .iter()
            .filter(|m| m.op == MatchOp::Equal && !m.value.is_empty())
            .map(|m| {
                self.postings
                    .get(&m.name)
                    .and_then(|vals| vals.get(&m.value))
                    .unwrap_or(&empty)
            })
            .min_by_key(|set| set.len());
        let accepts = |id: &u64| {
            self.series
                .get(id)
                .is_some_and(|s| matchers.iter().all(|m| m.is_match(s.labels.get(&m.name))))
        };
        match smallest {
            Some(set) => set.iter().copied().filter(accepts).collect(),
            None => self.series.keys().copied().filter(accepts).collect(),
        }
    }
}

/// Gauges the store exports about itself.
#[derive(Debug, Clone)]
struct StorageGauges {
    series: IntGauge,
    samples: IntGauge,
    bytes: IntGauge,
    bytes_per_sample_milli: IntGauge,
}

impl StorageGauges {
    fn new() -> Result<Self> {
        let g = |name: &str, help: &str| {
            IntGauge::new(name, help).map_err(|e| MetricsError::Execution(e.to_string()))
        };
        Ok(Self {
            series: g(
                "ballast_metrics_store_series",
                "Series in the embedded store.",
            )?,
            samples: g(
                "ballast_metrics_store_samples",
                "Samples in the embedded store.",
            )?,
            bytes: g(
                "ballast_metrics_store_bytes",
                "Bytes held by chunks and labels in the embedded store.",
            )?,
            bytes_per_sample_milli: g(
                "ballast_metrics_store_chunk_bytes_per_sample_milli",
                "Compressed chunk bytes per sample, times 1000.",
            )?,
        })
    }
}

/// The embedded time-series store; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Storage {
    head: RwLock<Head>,
    config: StorageConfig,
    gauges: StorageGauges,
}

/// Counts of an append batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendStats {
    /// Samples stored.
    pub appended: usize,
    /// Samples rejected as out of order or duplicate.
    pub rejected: usize,
}

impl Storage {
    /// An empty store (no snapshot is read).
    pub fn new(config: StorageConfig) -> Result<Self> {
        Ok(Self {
            head: RwLock::new(Head::default()),
            config,
            gauges: StorageGauges::new()?,
        })
    }

    /// A store loaded from the configured snapshot when that file exists.
    pub fn open(config: StorageConfig) -> Result<Self> {
        let storage = Self::new(config)?;
        if let Some(path) = storage.config.snapshot_path.clone()
            && path.exists()
        {
            storage.load_snapshot(&path)?;
            tracing::info!(path = %path.display(), series = storage.series_count(), "snapshot loaded");
        }
        Ok(storage)
    }

    /// Writes the snapshot (when configured); call on shutdown.
    pub fn close(&self) -> Result<()> {
        if let Some(path) = &self.config.snapshot_path {
            self.write_snapshot(path)?;
        }
        Ok(())
    }

    /// The configuration.
    pub fn config(&self) -> &StorageConfig {
        &self.config
    }

    /// Registers the store's own gauges (series, samples, bytes, bytes per sample).
    pub fn register_metrics(&self, registry: &Registry) -> Result<()> {
        let g = &self.gauges;
        for gauge in [&g.series, &g.samples, &g.bytes, &g.bytes_per_sample_milli] {
            registry
                .register(Box::new(gauge.clone()))
                .map_err(|e| MetricsError::Execution(e.to_string()))?;
        }
        self.update_gauges(&self.head.read());
        Ok(())
    }

    /// Appends one sample.
    pub fn append(&self, labels: &Labels, t: i64, v: f64) -> Result<()> {
        let mut head = self.head.write();
        head.append(labels, t, v)?;
        self.enforce_bounds(&mut head);
        Ok(())
    }

    /// Appends many samples under one lock; out-of-order samples are counted, not fatal.
    pub fn append_batch<'a, I>(&self, samples: I) -> AppendStats
    where
        I: IntoIterator<Item = (&'a Labels, i64, f64)>,
    {
        let mut stats = AppendStats::default();
        let mut head = self.head.write();
        for (labels, t, v) in samples {
            match head.append(labels, t, v) {
                Ok(()) => stats.appended += 1,
                Err(_) => stats.rejected += 1,
            }
        }
        self.enforce_bounds(&mut head);
        stats
    }

    /// Number of series.
    pub fn series_count(&self) -> usize {
        self.head.read().series.len()
    }

    /// Number of samples held.
    pub fn sample_count(&self) -> u64 {
        self.head.read().samples
    }

    /// Bytes held by chunks and labels.
    pub fn byte_size(&self) -> usize {
        let head = self.head.read();
        head.chunk_bytes + head.label_bytes
    }

    /// Compressed chunk bytes per sample.
    pub fn bytes_per_sample(&self) -> f64 {
        let head = self.head.read();
        if head.samples == 0 {
            0.0
        } else {
            head.chunk_bytes as f64 / head.samples as f64
        }
    }

    /// Oldest and newest sample timestamps, if any.
    pub fn time_bounds(&self) -> Option<(i64, i64)> {
        let head = self.head.read();
        let min = head
            .series
            .values()
            .filter_map(|s| s.chunks.first().filter(|c| !c.is_empty()).map(Chunk::min_t))
            .min()?;
        Some((min, head.newest_t))
    }

    /// Samples of every series matching all `matchers` within `[mint, maxt]`.
    /// Series without a sample in the range are left out; results are sorted by labels.
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesSamples> {
        let head = self.head.read();
        let mut out: Vec<SeriesSamples> = head
            .matching(matchers)
            .into_iter()
            .filter_map(|id| head.series.get(&id))
            .filter_map(|s| {
                let mut samples = Vec::new();
                for c in &s.chunks {
                    if c.is_empty() || c.max_t() < mint || c.min_t() > maxt {
                        continue;
                    }
                    samples.extend(c.iter().filter(|(t, _)| *t >= mint && *t <= maxt));
                }
                (!samples.is_empty()).then(|| SeriesSamples {
                    labels: s.labels.clone(),
                    samples,
                })
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }

    /// Label sets of the series matching any of the matcher sets within `[mint, maxt]`.
    pub fn series(&self, matcher_sets: &[Vec<Matcher>], mint: i64, maxt: i64) -> Vec<Labels> {
        let head = self.head.read();
        let mut ids = BTreeSet::new();
        for set in matcher_sets {
            ids.extend(head.matching(set));
        }
        let mut out: Vec<Labels> = ids
            .into_iter()
            .filter_map(|id| head.series.get(&id))
            .filter(|s| {
                s.chunks
                    .iter()
                    .any(|c| !c.is_empty() && c.max_t() >= mint && c.min_t() <= maxt)
            })
            .map(|s| s.labels.clone())
            .collect();
        out.sort();
        out
    }

    /// Sorted label names (of the matching series when matcher sets are given).
    pub fn label_names(&self, matcher_sets: &[Vec<Matcher>], mint: i64, maxt: i64) -> Vec<String> {
        if matcher_sets.is_empty() {
            let head = self.head.read();
            let mut names: Vec<String> = head.postings.keys().cloned().collect();
            names.sort();
            return names;
        }
        let mut names = BTreeSet::new();
        for l in self.series(matcher_sets, mint, maxt) {
            names.extend(l.pairs().iter().map(|(k, _)| k.clone()));
        }
        names.into_iter().collect()
    }

    /// Sorted values of one label (of the matching series when matcher sets are given).
    pub fn label_values(
        &self,
        name: &str,
        matcher_sets: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Vec<String> {
        if matcher_sets.is_empty() {
            let head = self.head.read();
            let mut values: Vec<String> = head
                .postings
                .get(name)
                .map(|v| v.keys().cloned().collect())
                .unwrap_or_default();
            values.sort();
            return values;
        }
        let mut values = BTreeSet::new();
        for l in self.series(matcher_sets, mint, maxt) {
            if l.has(name) {
                values.insert(l.get(name).to_string());
            }
        }
        values.into_iter().collect()
    }

    fn enforce_bounds(&self, head: &mut Head) {
        // Retention is swept at most once per minute of data time; the memory bound always.
        let over_memory = head.chunk_bytes + head.label_bytes > self.config.max_bytes;
        if !over_memory && head.newest_t - head.swept_at < 60_000 {
            self.update_gauges(head);
            return;
        }
        head.swept_at = head.newest_t;
        let retention = i64::try_from(self.config.retention.as_millis()).unwrap_or(i64::MAX);
        let cutoff = head.newest_t.saturating_sub(retention);
        let mut emptied = Vec::new();
        let mut dropped_bytes = 0usize;
        let mut dropped_samples = 0u64;
        // Retention: drop whole chunks that ended before the cutoff.
        for (id, s) in head.series.iter_mut() {
            while s.chunks.first().is_some_and(|c| c.max_t() < cutoff) {
                let c = s.chunks.remove(0);
                dropped_bytes += c.byte_len();
                dropped_samples += u64::from(c.len());
            }
            if s.chunks.is_empty() {
                emptied.push(*id);
            }
        }
        head.chunk_bytes -= dropped_bytes;
        head.samples -= dropped_samples;
        // Memory: drop the oldest closed chunks until under the bound.
        if head.chunk_bytes + head.label_bytes > self.config.max_bytes {
            let mut oldest: Vec<(i64, u64)> = head
                .series
                .iter()
                .flat_map(|(id, s)| {
                    let closed = s.chunks.len().saturating_sub(1);
                    s.chunks[..closed].iter().map(move |c| (c.max_t(), *id))
                })
                .collect();
            oldest.sort_unstable();
            for (_, id) in oldest {
                if head.chunk_bytes + head.label_bytes <= self.config.max_bytes {
                    break;
                }
                if let Some(s) = head.series.get_mut(&id)
                    && s.chunks.len() > 1
                {
                    {
                        let c = s.chunks.remove(0);
                        head.chunk_bytes -= c.byte_len();
                        head.samples -= u64::from(c.len());
                    }
                }
            }
            // Still over: whole series, least recently written first.
            if head.chunk_bytes + head.label_bytes > self.config.max_bytes {
                let mut by_age: Vec<(i64, u64)> = head
                    .series
                    .iter()
                    .map(|(id, s)| (s.max_t().unwrap_or(i64::MIN), *id))
                    .collect();
                by_age.sort_unstable();
                for (_, id) in by_age {
                    if head.chunk_bytes + head.label_bytes <= self.config.max_bytes {
                        break;
                    }
                    emptied.push(id);
                    head.remove(id);
                }
            }
        }
        for id in emptied {
            head.remove(id);
        }
        self.update_gauges(head);
    }

    fn update_gauges(&self, head: &Head) {
        let g = &self.gauges;
        g.series.set(head.series.len() as i64);
        g.samples.set(head.samples as i64);
        g.bytes.set((head.chunk_bytes + head.label_bytes) as i64);
        let per = (head.chunk_bytes as u64 * 1000)
            .checked_div(head.samples)
            .unwrap_or(0) as i64;
        g.bytes_per_sample_milli.set(per);
    }

    /// Writes every series and chunk to `path` (atomically, through a temporary file).
    pub fn write_snapshot(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("tmp");
        {
            let head = self.head.read();
            let mut w = BufWriter::new(std::fs::File::create(&tmp)?);
            w.write_all(SNAPSHOT_MAGIC)?;
            w.write_all(&(head.series.len() as u64).to_le_bytes())?;
            let mut ids: Vec<&u64> = head.series.keys().collect();
            ids.sort();
            for id in ids {
                let s = &head.series[id];
                w.write_all(&(s.labels.len() as u32).to_le_bytes())?;
                for (k, v) in s.labels.pairs() {
                    write_bytes(&mut w, k.as_bytes())?;
                    write_bytes(&mut w, v.as_bytes())?;
                }
                w.write_all(&(s.chunks.len() as u32).to_le_bytes())?;
                for c in &s.chunks {
                    let (bytes, bits, count) = c.raw();
                    w.write_all(&count.to_le_bytes())?;
                    w.write_all(&bits.to_le_bytes())?;
                    write_bytes(&mut w, bytes)?;
                }
            }
            w.flush()?;
        }
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    fn load_snapshot(&self, path: &Path) -> Result<()> {
        let mut r = BufReader::new(std::fs::File::open(path)?);
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)?;
        if &magic != SNAPSHOT_MAGIC {
            return Err(MetricsError::Snapshot(format!(
                "{}: not a Ballast metrics snapshot",
                path.display()
            )));
        }
        let corrupt = || MetricsError::Snapshot(format!("{}: corrupt chunk", path.display()));
        let mut head = self.head.write();
        let n = read_u64(&mut r)?;
        for _ in 0..n {
            let nlabels = read_u32(&mut r)?;
            let mut pairs = Vec::with_capacity(nlabels as usize);
            for _ in 0..nlabels {
                let k = read_string(&mut r)?;
                let v = read_string(&mut r)?;
                pairs.push((k, v));
            }
            let labels = Labels::from_pairs(pairs);
            let nchunks = read_u32(&mut r)?;
            let id = head.get_or_create(&labels);
            for _ in 0..nchunks {
                let mut count = [0u8; 2];
                r.read_exact(&mut count)?;
                let count = u16::from_le_bytes(count);
                let bits = read_u64(&mut r)?;
                let bytes = read_vec(&mut r)?;
                let chunk = Chunk::from_raw(bytes, bits, count).ok_or_else(corrupt)?;
                head.chunk_bytes += chunk.byte_len();
                head.samples += u64::from(chunk.len());
                head.newest_t = head.newest_t.max(chunk.max_t());
                if let Some(s) = head.series.get_mut(&id) {
                    s.chunks.push(chunk);
                }
            }
        }
        self.enforce_bounds(&mut head);
        Ok(())
    }
}

const SNAPSHOT_MAGIC: &[u8; 8] = b"BLSTMS01";

fn write_bytes(w: &mut impl Write, b: &[u8]) -> std::io::Result<()> {
    w.write_all(&(b.len() as u32).to_le_bytes())?;
    w.write_all(b)
}

fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(r: &mut impl Read) -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn read_vec(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let n = read_u32(r)? as usize;
    if n > 1 << 24 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "oversized record",
        ));
    }
    let mut v = vec![0u8; n];
    r.read_exact(&mut v)?;
    Ok(v)
}

fn read_string(r: &mut impl Read) -> std::io::Result<String> {
    String::from_utf8(read_vec(r)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    fn eq(name: &str, value: &str) -> Matcher {
        Matcher::new(MatchOp::Equal, name, value)
    }

    #[test]
    fn select_uses_postings_and_all_matcher_kinds() {
        let s = Storage::new(StorageConfig::default()).unwrap();
        let a = l(&[("__name__", "up"), ("job", "a")]);
        let b = l(&[("__name__", "up"), ("job", "b")]);
        let c = l(&[("__name__", "other"), ("job", "a")]);
        for t in 0..10 {
            s.append(&a, t * 1000, 1.0).unwrap();
            s.append(&b, t * 1000, 0.0).unwrap();
            s.append(&c, t * 1000, 2.0).unwrap();
        }
        let got = s.select(&[eq("__name__", "up")], 0, 9000);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].samples.len(), 10);
        let ne = Matcher::new(MatchOp::NotEqual, "job", "a");
        assert_eq!(s.select(&[eq("__name__", "up"), ne], 0, 9000)[0].labels, b);
        let re = Matcher::new(
            MatchOp::Re(regex::Regex::new("^(?:a|b)$").unwrap()),
            "job",
            "",
        );
        assert_eq!(s.select(&[re], 0, 9000).len(), 3);
        let missing = eq("env", "");
        assert_eq!(
            s.select(&[eq("job", "a"), missing], 2000, 3000)[0]
                .samples
                .len(),
            2
        );
        assert!(matches!(
            s.append(&a, 5000, 1.0),
            Err(MetricsError::OutOfOrder)
        ));
        assert_eq!(s.label_values("job", &[], 0, 0), vec!["a", "b"]);
        assert_eq!(s.label_names(&[], 0, 0), vec!["__name__", "job"]);
    }

    #[test]
    fn retention_drops_old_chunks_and_empty_series() {
        let s = Storage::new(StorageConfig {
            retention: Duration::from_secs(3600),
            ..StorageConfig::default()
        })
        .unwrap();
        let old = l(&[("__name__", "old")]);
        let new = l(&[("__name__", "new")]);
        s.append(&old, 0, 1.0).unwrap();
        for i in 0..300 {
            s.append(&new, i * 60_000, 1.0).unwrap();
        }
        assert_eq!(s.series_count(), 1);
        let bounds = s.time_bounds().unwrap();
        assert!(
            bounds.0 >= 299 * 60_000 - 3_600_000 - 120 * 60_000,
            "{bounds:?}"
        );
        assert!(bounds.0 > 0);
    }

    #[test]
    fn memory_bound_drops_oldest_chunks() {
        let s = Storage::new(StorageConfig {
            max_bytes: 4096,
            ..StorageConfig::default()
        })
        .unwrap();
        for i in 0..20_000i64 {
            let labels = l(&[("__name__", "m"), ("i", &(i % 10).to_string())]);
            s.append(&labels, i * 1000, (i * 7919 % 1000) as f64)
                .unwrap();
        }
        assert!(s.byte_size() <= 4096, "{}", s.byte_size());
        assert!(s.sample_count() > 0);
    }

    #[test]
    fn snapshot_round_trips_history() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snap.bin");
        let cfg = StorageConfig {
            snapshot_path: Some(path.clone()),
            ..StorageConfig::default()
        };
        let s = Storage::open(cfg.clone()).unwrap();
        let a = l(&[("__name__", "x"), ("k", "v")]);
        for i in 0..500 {
            s.append(&a, i * 15_000, i as f64 * 0.5).unwrap();
        }
        s.append(&a, 500 * 15_000, stale_nan()).unwrap();
        s.close().unwrap();
        let again = Storage::open(cfg).unwrap();
        let before = s.select(&[eq("k", "v")], 0, i64::MAX);
        let after = again.select(&[eq("k", "v")], 0, i64::MAX);
        assert_eq!(before.len(), 1);
        assert_eq!(after[0].samples.len(), 501);
        assert!(is_stale_nan(after[0].samples[500].1));
        assert_eq!(before[0].samples[..500], after[0].samples[..500]);
        again.append(&a, 501 * 15_000, 1.0).unwrap();
        assert!(again.bytes_per_sample() > 0.0);
    }
}
