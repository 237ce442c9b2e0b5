//! [`RuleEngine`]: several rule groups, each ticking at its own interval (divided by a time
//! scale for demos) over an `Arc<Storage>`, publishing the current alerts of every group on a
//! `tokio::sync::watch` channel.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ballast_metrics::storage::Storage;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::alert::ActiveAlert;
use crate::group::{EvalOptions, GroupEvaluator, GroupState};
use crate::rulefile::RuleGroup;
use crate::scale::TimeScale;

/// The evaluation timestamp source (unix ms).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// How the engine runs.
#[derive(Clone)]
pub struct EngineConfig {
    /// Interval of groups that set none (Prometheus' `evaluation_interval`, default 1m).
    pub default_interval: Duration,
    /// Wall-clock intervals are the groups' intervals divided by this (1: real time); so are
    /// `for`, `keep_firing_for` and the ranges and offsets in expressions ([`crate::scale`]).
    pub time_scale: f64,
    /// The shortest range a time-scaled range selector may get (a rate needs two scrapes).
    pub min_range: Duration,
    /// Templating and PromQL options.
    pub options: EvalOptions,
    /// Evaluation timestamps (default: the system clock).
    pub clock: Clock,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            default_interval: Duration::from_secs(60),
            time_scale: 1.0,
            min_range: Duration::ZERO,
            options: EvalOptions::default(),
            clock: Arc::new(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64)
            }),
        }
    }
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("default_interval", &self.default_interval)
            .field("time_scale", &self.time_scale)
            .field("min_range", &self.min_range)
            .finish_non_exhaustive()
    }
}

struct Shared {
    /// Per group: its latest alerts and state.
    slots: Mutex<Vec<(Vec<ActiveAlert>, GroupState)>>,
    tx: watch::Sender<Vec<ActiveAlert>>,
}

/// Running rule groups.
pub struct RuleEngine {
    shared: Arc<Shared>,
    rx: watch::Receiver<Vec<ActiveAlert>>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl RuleEngine {
    /// Starts one task per group (the first evaluation happens at once).
    pub fn start(groups: Vec<RuleGroup>, storage: Arc<Storage>, config: EngineConfig) -> Self {
        Self::resume(groups, storage, config, &[])
    }

    /// Starts like [`RuleEngine::start`], first restoring groups from saved states (matched by
    /// group name).
    pub fn resume(
        groups: Vec<RuleGroup>,
        storage: Arc<Storage>,
        config: EngineConfig,
        states: &[GroupState],
    ) -> Self {
        let (tx, rx) = watch::channel(Vec::new());
        let initial: Vec<(Vec<ActiveAlert>, GroupState)> = groups
            .iter()
            .map(|g| {
                let state = states
                    .iter()
                    .find(|s| s.group == g.name)
                    .cloned()
                    .unwrap_or_default();
                (Vec::new(), state)
            })
            .collect();
        let shared = Arc::new(Shared {
            slots: Mutex::new(initial),
            tx,
        });
        let cancel = CancellationToken::new();
        let scale = if config.time_scale.is_finite() && config.time_scale > 0.0 {
            config.time_scale
        } else {
            1.0
        };
        let time_scale = TimeScale {
            factor: scale,
            min_range: config.min_range,
        };
        let mut tasks = Vec::new();
        for (i, group) in groups.into_iter().enumerate() {
            // Checked rule files parse, so scaling cannot fail; if it did, the group runs as
            // written and says why.
            let group = time_scale.group(&group).unwrap_or_else(|error| {
                tracing::warn!(%error, "rule group runs unscaled");
                group
            });
            let interval = group
                .interval
                .map_or(config.default_interval, |d| {
                    Duration::from_millis(d.millis().max(1) as u64)
                })
                .div_f64(scale)
                .max(Duration::from_millis(1));
            let mut ev = GroupEvaluator::new(group, config.options.clone());
            if let Some(state) = states.iter().find(|s| s.group == ev.group().name) {
                ev.restore(state);
            }
            let (shared, storage, cancel, clock) = (
                shared.clone(),
                storage.clone(),
                cancel.clone(),
                config.clock.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut ticker = tokio::time::interval(interval);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = ticker.tick() => {}
                    }
                    let result = ev.eval(&storage, clock());
                    let state = ev.state();
                    let mut slots = shared.slots.lock();
                    if let Some(slot) = slots.get_mut(i) {
                        *slot = (result.alerts, state);
                    }
                    let all: Vec<ActiveAlert> =
                        slots.iter().flat_map(|(a, _)| a.iter().cloned()).collect();
                    drop(slots);
                    shared.tx.send_replace(all);
                }
            }));
        }
        Self {
            shared,
            rx,
            cancel,
            tasks,
        }
    }

    /// A receiver of every group's current alerts (pending, firing, resolved).
    pub fn alerts(&self) -> watch::Receiver<Vec<ActiveAlert>> {
        self.rx.clone()
    }

    /// The groups' alert states, to persist and pass to [`RuleEngine::resume`].
    pub fn states(&self) -> Vec<GroupState> {
        self.shared
            .slots
            .lock()
            .iter()
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// Stops every group and waits for the tasks to end.
    pub async fn stop(self) {
        self.cancel.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
