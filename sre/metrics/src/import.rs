//! Loading an OpenMetrics file with timestamps (what `promtool tsdb create-blocks-from
//! openmetrics` reads) into the embedded store.

use std::path::Path;

use crate::error::{MetricsError, Result};
use crate::exposition::{self, Format};
use crate::storage::{AppendStats, Storage, StorageConfig};

/// Appends every sample of an OpenMetrics text (each must carry a timestamp) to `storage`.
pub fn import_openmetrics_text(text: &str, storage: &Storage) -> Result<AppendStats> {
    let exp = exposition::parse(text, Format::OpenMetrics)?;
    let mut samples = Vec::with_capacity(exp.samples.len());
    for (i, s) in exp.samples.iter().enumerate() {
        let t = s.timestamp_ms.ok_or_else(|| MetricsError::Exposition {
            line: i + 1,
            reason: format!("sample {} has no timestamp", s.labels),
        })?;
        samples.push((&s.labels, t, s.value));
    }
    samples.sort_by_key(|(_, t, _)| *t);
    Ok(storage.append_batch(samples))
}

/// A fresh store (unbounded retention) holding the samples of the OpenMetrics file at `path`.
pub fn import_openmetrics(path: &Path) -> Result<Storage> {
    let text = std::fs::read_to_string(path)?;
    let storage = Storage::new(StorageConfig {
        retention: std::time::Duration::from_secs(100 * 365 * 24 * 3600),
        max_bytes: usize::MAX,
        snapshot_path: None,
    })?;
    let stats = import_openmetrics_text(&text, &storage)?;
    tracing::info!(path = %path.display(), appended = stats.appended, rejected = stats.rejected, "openmetrics imported");
    Ok(storage)
}
