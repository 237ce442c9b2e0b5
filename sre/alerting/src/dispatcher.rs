//! The dispatcher: ingests alerts into aggregation groups, flushes due groups through the
//! receivers' integrations (after silences and inhibition), keeps the notification log so a
//! group is never notified twice for the same state, and handles acknowledgements and
//! silences. Every change is written through to the store, so a new dispatcher on the same
//! store resumes where the old one stopped.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::core::{
    self, Group, LogEntry, Muting, Silence, SilenceState, find_route, needs_update, split_group,
};
use crate::error::AlertingError;
use crate::metrics::AlertingMetrics;
use crate::model::{Alert, LabelSet, Matcher, StoredAlert, fingerprint};
use crate::notify::pagerduty::{PagerDutyNotifier, dedup_key};
use crate::notify::settings::NotifySettings;
use crate::notify::slack::{self, Posted, SlackNotifier};
use crate::notify::{Notification, RetryPolicy, webhook};
use crate::routing::{Receiver, Route, RoutingConfig};
use crate::store::{Ack, AlertStore, SentNotification};
use crate::templates::Templates;

/// A clock, injectable for tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Everything a dispatcher needs besides its store.
#[derive(Clone)]
pub struct DispatcherConfig {
    /// The routing file.
    pub routing: RoutingConfig,
    /// Message templates.
    pub templates: Templates,
    /// Slack and PagerDuty URLs and secrets.
    pub notify: NotifySettings,
    /// Retries for every integration.
    pub retry: RetryPolicy,
    /// This suite's URL, put in webhook payloads.
    pub external_url: String,
    /// The clock used by the HTTP API and the tick driver.
    pub clock: Clock,
    /// Metrics (register them in the suite's registry with `AlertingMetrics::new`).
    pub metrics: AlertingMetrics,
}

impl DispatcherConfig {
    /// Routing plus defaults: default templates, no Slack token, the system clock.
    pub fn new(routing: RoutingConfig, notify: NotifySettings) -> Result<Self, AlertingError> {
        Ok(DispatcherConfig {
            routing,
            templates: Templates::defaults()?,
            notify,
            retry: RetryPolicy::default(),
            external_url: String::new(),
            clock: Arc::new(Utc::now),
            metrics: AlertingMetrics::default(),
        })
    }
}

impl std::fmt::Debug for DispatcherConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatcherConfig")
            .field("routing", &self.routing.file)
            .field("notify", &self.notify)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct State {
    alerts: BTreeMap<String, StoredAlert>,
    groups: BTreeMap<String, Group>,
    nlog: BTreeMap<(String, String), LogEntry>,
    silences: Vec<Silence>,
    acks: BTreeMap<String, Ack>,
}

/// An alert as listed (Alertmanager's `gettableAlert`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertStatus {
    /// Fingerprint.
    pub fingerprint: String,
    /// Labels.
    pub labels: LabelSet,
    /// Annotations.
    pub annotations: LabelSet,
    /// Start.
    pub starts_at: String,
    /// End (or expected end).
    pub ends_at: String,
    /// Last received.
    pub updated_at: String,
    /// Producing expression.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// Receivers it routes to.
    pub receivers: Vec<ReceiverName>,
    /// `active`, `suppressed` or `resolved`, and why suppressed.
    pub status: AlertState,
}

/// A receiver reference.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceiverName {
    /// Its name.
    pub name: String,
}

/// An alert's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertState {
    /// `active`, `suppressed`, `resolved`.
    pub state: String,
    /// Silences muting it.
    pub silenced_by: Vec<String>,
    /// Alerts inhibiting it.
    pub inhibited_by: Vec<String>,
}

/// A group as listed (Alertmanager's `alertGroup`, plus Ballast's key and acknowledgement).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupListing {
    /// Group key.
    pub group_key: String,
    /// Grouping labels.
    pub labels: LabelSet,
    /// Receiver.
    pub receiver: ReceiverName,
    /// Acknowledgement, if any.
    pub acknowledgement: Option<Ack>,
    /// Its alerts.
    pub alerts: Vec<AlertStatus>,
}

/// What a tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Groups flushed.
    pub flushed: usize,
    /// Notifications delivered.
    pub sent: usize,
    /// Notifications that failed (retried at the next flush).
    pub failed: usize,
}

/// What a silence is made of (Alertmanager's `postableSilence`, matchers as text).
#[derive(Debug, Clone)]
pub struct NewSilence {
    /// Existing id to update, or none for a new silence.
    pub id: Option<String>,
    /// Matchers (`a="b"`, `a=~"re"`).
    pub matchers: Vec<String>,
    /// Start (ms).
    pub starts_at: i64,
    /// End (ms).
    pub ends_at: i64,
    /// Author.
    pub created_by: String,
    /// Comment.
    pub comment: String,
}

/// One group's flush, planned under the state lock and sent without it.
struct FlushPlan {
    key: String,
    receiver: String,
    route: Route,
    firing: BTreeSet<String>,
    resolved: BTreeSet<String>,
    notification: Option<Notification>,
    /// Integration, its log entry, and `send_resolved`.
    sends: Vec<(String, Option<LogEntry>, bool)>,
}

/// The dispatcher. Share it as `Arc<Dispatcher>`.
pub struct Dispatcher {
    config: DispatcherConfig,
    store: AlertStore,
    state: Mutex<State>,
    flushing: Mutex<()>,
    slack: Option<SlackNotifier>,
    pagerduty: PagerDutyNotifier,
    http: reqwest::Client,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").finish_non_exhaustive()
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn integration_keys(receiver: &Receiver) -> Vec<String> {
    let mut keys: Vec<String> = receiver
        .slack
        .iter()
        .map(|s| format!("slack:{}", s.channel))
        .collect();
    keys.extend((0..receiver.pagerduty.len()).map(|i| format!("pagerduty:{i}")));
    keys.extend(
        receiver
            .webhook
            .iter()
            .map(|w| format!("webhook:{}", w.url)),
    );
    if receiver.console.is_some() {
        keys.push("console".into());
    }
    keys
}

fn send_resolved(receiver: &Receiver, integration: &str) -> bool {
    if let Some(channel) = integration.strip_prefix("slack:") {
        return receiver
            .slack
            .iter()
            .find(|s| s.channel == channel)
            .is_some_and(|s| s.send_resolved);
    }
    if let Some(i) = integration.strip_prefix("pagerduty:") {
        return i
            .parse::<usize>()
            .ok()
            .and_then(|i| receiver.pagerduty.get(i))
            .is_some_and(|p| p.send_resolved);
    }
    if let Some(url) = integration.strip_prefix("webhook:") {
        return receiver
            .webhook
            .iter()
            .find(|w| w.url == url)
            .is_some_and(|w| w.send_resolved);
    }
    receiver.console.unwrap_or(true)
}

impl Dispatcher {
    /// Migrates the store's alerting tables, loads the persisted state and builds the
    /// integrations.
    pub async fn new(
        config: DispatcherConfig,
        store: ballast_kit::store::Store,
    ) -> Result<Arc<Self>, AlertingError> {
        let store = AlertStore::new(store);
        store.migrate().await.map_err(|e| AlertingError::Invalid {
            field: "store".into(),
            reason: format!("{e:#}"),
        })?;
        let snap = store.load().await?;
        let slack = SlackNotifier::new(&config.notify.slack, config.retry)?;
        let pagerduty = PagerDutyNotifier::new(&config.notify.pagerduty, config.retry)?;
        ballast_kit::client::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| AlertingError::Notify {
                integration: "webhook",
                reason: e.to_string(),
            })?;
        tracing::info!(
            alerts = snap.alerts.len(),
            groups = snap.groups.len(),
            silences = snap.silences.len(),
            "alerting state loaded"
        );
        Ok(Arc::new(Dispatcher {
            config,
            store,
            state: Mutex::new(State {
                alerts: snap.alerts,
                groups: snap.groups,
                nlog: snap.nlog,
                silences: snap.silences,
                acks: snap.acks,
            }),
            flushing: Mutex::new(()),
            slack,
            pagerduty,
            http,
        }))
    }

    /// The dispatcher's clock.
    pub fn now(&self) -> DateTime<Utc> {
        (self.config.clock)()
    }

    /// The configuration.
    pub fn config(&self) -> &DispatcherConfig {
        &self.config
    }

    /// The persisted state (for the notification history).
    pub fn store(&self) -> &AlertStore {
        &self.store
    }

    fn route(&self, id: &str) -> &Route {
        find_route(&self.config.routing.route, id).unwrap_or(&self.config.routing.route)
    }

    /// Takes alerts in, as Alertmanager's `POST /api/v2/alerts` does: new alerts join (or
    /// create) their groups; an alert without `endsAt` fires until `now + resolve_timeout`
    /// unless it is sent again.
    pub async fn ingest(
        &self,
        alerts: Vec<Alert>,
        now: DateTime<Utc>,
    ) -> Result<(), AlertingError> {
        let now = ms(now);
        let mut state = self.state.lock().await;
        for alert in alerts {
            if alert.labels.is_empty() {
                return Err(AlertingError::Invalid {
                    field: "labels".into(),
                    reason: "an alert needs labels".into(),
                });
            }
            let fp = fingerprint(&alert.labels);
            let mut starts_at = alert.starts_at.map(ms).unwrap_or(now);
            let (ends_at, explicit) = match alert.ends_at {
                Some(e) => (ms(e), true),
                None => (now + self.config.routing.resolve_timeout_ms, false),
            };
            if let Some(old) = state.alerts.get(&fp)
                && !old.resolved_at(now)
            {
                starts_at = starts_at.min(old.starts_at);
            }
            let stored = StoredAlert {
                fingerprint: fp.clone(),
                labels: alert.labels.clone(),
                annotations: alert.annotations,
                starts_at,
                ends_at,
                ends_at_explicit: explicit,
                generator_url: alert.generator_url,
                updated_at: now,
            };
            let resolved = stored.resolved_at(now);
            let mut touched = Vec::new();
            for route in self.config.routing.routes_for(&stored.labels) {
                let key = route.group_key(&stored.labels);
                match state.groups.get_mut(&key) {
                    Some(g) => {
                        g.members.insert(fp.clone());
                        g.on_alert(starts_at, route, now);
                        touched.push(key);
                    }
                    None if resolved => {}
                    None => {
                        let mut g = Group::new(route, &stored.labels, starts_at, now);
                        g.members.insert(fp.clone());
                        state.groups.insert(key.clone(), g);
                        touched.push(key);
                    }
                }
            }
            self.store.put_alert(&stored).await?;
            state.alerts.insert(fp, stored);
            for key in touched {
                if let Some(g) = state.groups.get(&key) {
                    self.store.put_group(g).await?;
                }
            }
        }
        Ok(())
    }

    /// Flushes every group due at `now`: notifies each integration that needs it, then drops
    /// resolved alerts from the group (and the group once empty).
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, AlertingError> {
        let now = ms(now);
        // One flush (or acknowledgement) at a time; the state lock is held only to plan and to
        // record, never across a call to Slack or PagerDuty, so ingest and the API stay fast.
        let _flushing = self.flushing.lock().await;
        let mut report = TickReport::default();
        let plans: Vec<FlushPlan> = {
            let state = self.state.lock().await;
            state
                .groups
                .values()
                .filter(|g| g.due(now))
                .map(|group| self.plan(group, &state, now))
                .collect()
        };
        for plan in plans {
            report.flushed += 1;
            let mut all_ok = true;
            let mut delivered = Vec::new();
            if let (Some(n), Some(receiver)) = (
                &plan.notification,
                self.config.routing.receiver(&plan.receiver),
            ) {
                for (integration, entry, sr) in &plan.sends {
                    match self
                        .deliver(receiver, integration, n, entry.as_ref(), *sr, now)
                        .await
                    {
                        Ok(remote_id) => {
                            self.config.metrics.notified(integration, true);
                            report.sent += 1;
                            delivered.push((
                                integration.clone(),
                                LogEntry {
                                    firing: plan.firing.clone(),
                                    resolved: plan.resolved.clone(),
                                    sent_at: now,
                                    remote_id,
                                },
                            ));
                        }
                        Err(e) => {
                            all_ok = false;
                            self.config.metrics.notified(integration, false);
                            report.failed += 1;
                            tracing::error!(group_key = %plan.key, integration, error = %e, "notification failed; retried at the next flush");
                        }
                    }
                }
            }
            let mut guard = self.state.lock().await;
            let state = &mut *guard;
            for (integration, entry) in delivered {
                state.nlog.insert((plan.key.clone(), integration), entry);
            }
            let Some(g) = state.groups.get_mut(&plan.key) else {
                continue;
            };
            g.flushed(&plan.route, now);
            if all_ok {
                let alerts = &state.alerts;
                g.members
                    .retain(|fp| alerts.get(fp).is_some_and(|a| !a.resolved_at(now)));
            }
            if g.members.is_empty() {
                state.groups.remove(&plan.key);
                state.acks.remove(&plan.key);
                self.store.delete_group(&plan.key).await?;
            } else {
                let g = g.clone();
                self.store.put_group(&g).await?;
            }
        }
        let mut guard = self.state.lock().await;
        let state = &mut *guard;
        // Resolved alerts no group holds any more are forgotten.
        let held: BTreeSet<String> = state
            .groups
            .values()
            .flat_map(|g| g.members.iter().cloned())
            .collect();
        let gone: Vec<String> = state
            .alerts
            .values()
            .filter(|a| a.resolved_at(now) && !held.contains(&a.fingerprint))
            .map(|a| a.fingerprint.clone())
            .collect();
        for fp in gone {
            state.alerts.remove(&fp);
            self.store.delete_alert(&fp).await?;
        }
        let mut counts = BTreeMap::from([("active", 0i64), ("suppressed", 0), ("resolved", 0)]);
        for a in state.alerts.values() {
            let st = if a.resolved_at(now) {
                "resolved"
            } else if core::muting(&self.config.routing, a, &state.alerts, &state.silences, now)
                .muted()
            {
                "suppressed"
            } else {
                "active"
            };
            *counts.entry(st).or_default() += 1;
        }
        for (st, n) in counts {
            self.config.metrics.alerts.with_label_values(&[st]).set(n);
        }
        self.config
            .metrics
            .groups
            .set(i64::try_from(state.groups.len()).unwrap_or(i64::MAX));
        Ok(report)
    }

    /// What flushing `group` at `now` would send, decided under the state lock.
    fn plan(&self, group: &Group, state: &State, now: i64) -> FlushPlan {
        let route = self.route(&group.route_id).clone();
        let (firing, resolved) = split_group(
            &self.config.routing,
            group,
            &state.alerts,
            &state.silences,
            now,
        );
        let firing_set: BTreeSet<String> = firing.iter().map(|a| a.fingerprint.clone()).collect();
        let resolved_set: BTreeSet<String> =
            resolved.iter().map(|a| a.fingerprint.clone()).collect();
        let mut plan = FlushPlan {
            key: group.key.clone(),
            receiver: group.receiver.clone(),
            route,
            firing: firing_set,
            resolved: resolved_set,
            notification: None,
            sends: Vec::new(),
        };
        // Everything muted: nothing to say (Alertmanager stops the pipeline too).
        if firing.is_empty() && resolved.is_empty() {
            return plan;
        }
        let Some(receiver) = self.config.routing.receiver(&group.receiver) else {
            return plan;
        };
        for integration in integration_keys(receiver) {
            if integration.starts_with("slack:") && self.slack.is_none() {
                tracing::debug!(integration, "no Slack bot token configured; skipped");
                continue;
            }
            let entry = state
                .nlog
                .get(&(group.key.clone(), integration.clone()))
                .cloned();
            let sr = send_resolved(receiver, &integration);
            if needs_update(
                entry.as_ref(),
                &plan.firing,
                &plan.resolved,
                sr,
                plan.route.repeat_interval_ms,
                now,
            ) {
                plan.sends.push((integration, entry, sr));
            }
        }
        if !plan.sends.is_empty() {
            plan.notification = Some(Notification::build(
                &receiver.name,
                &group.key,
                &group.labels,
                &firing,
                &resolved,
                state.acks.get(&group.key),
            ));
        }
        plan
    }

    /// Sends one notification through one integration; answers its remote id.
    async fn deliver(
        &self,
        receiver: &Receiver,
        integration: &str,
        n: &Notification,
        entry: Option<&LogEntry>,
        send_resolved: bool,
        now: i64,
    ) -> Result<Option<String>, AlertingError> {
        let history = |action: &str, remote_id: Option<String>| SentNotification {
            group_key: n.group_key.clone(),
            receiver: receiver.name.clone(),
            integration: integration.to_owned(),
            action: action.to_owned(),
            remote_id,
            sent_at: now,
        };
        let live = entry
            .filter(|e| !e.firing.is_empty())
            .and_then(|e| e.remote_id.clone());
        let (action, remote_id) = if let Some(channel) = integration.strip_prefix("slack:") {
            let Some(client) = &self.slack else {
                tracing::warn!(
                    integration,
                    "no Slack bot token configured; Slack notification skipped"
                );
                return Ok(None);
            };
            if n.is_resolved() && !send_resolved {
                ("skip", live)
            } else {
                match live.as_deref().and_then(Posted::from_remote_id) {
                    Some(posted) => {
                        client
                            .update(&posted, slack::message(n, &self.config.templates)?)
                            .await?;
                        let reply = client
                            .post(
                                &posted.channel,
                                slack::thread_reply(n, &self.config.templates)?,
                                Some(&posted.ts),
                            )
                            .await?;
                        self.store
                            .record_history(&history("thread_reply", Some(reply.remote_id())))
                            .await?;
                        ("update", Some(posted.remote_id()))
                    }
                    None => {
                        let posted = client
                            .post(channel, slack::message(n, &self.config.templates)?, None)
                            .await?;
                        ("post", Some(posted.remote_id()))
                    }
                }
            }
        } else if let Some(i) = integration.strip_prefix("pagerduty:") {
            let target = i
                .parse::<usize>()
                .ok()
                .and_then(|i| receiver.pagerduty.get(i))
                .ok_or_else(|| AlertingError::NotFound(format!("integration {integration}")))?;
            let key = self.pagerduty.routing_key(target.routing_key.as_ref()).ok_or_else(|| AlertingError::Notify {
                integration: "pagerduty",
                reason: format!("receiver {} has no routing_key and BALLAST_PAGERDUTY__ROUTING_KEY is unset", receiver.name),
            })?;
            let dedup = dedup_key(&n.group_key, &receiver.name);
            if n.is_resolved() {
                if send_resolved {
                    self.pagerduty
                        .send(&PagerDutyNotifier::action_event("resolve", &key, &dedup))
                        .await?;
                    ("resolve", Some(dedup))
                } else {
                    ("skip", Some(dedup))
                }
            } else {
                let event = PagerDutyNotifier::trigger_event(
                    n,
                    &key,
                    &dedup,
                    target.severity.as_deref(),
                    &self.config.templates,
                )?;
                let answered = self.pagerduty.send(&event).await?;
                (
                    "trigger",
                    Some(if answered.is_empty() { dedup } else { answered }),
                )
            }
        } else if let Some(url) = integration.strip_prefix("webhook:") {
            if n.is_resolved() && !send_resolved {
                ("skip", None)
            } else {
                webhook::send(
                    &self.http,
                    url,
                    &webhook::payload(n, &self.config.external_url),
                    self.config.retry,
                )
                .await?;
                ("post", None)
            }
        } else {
            if !n.is_resolved() || send_resolved {
                let line = self.config.templates.render("console", n)?;
                tracing::info!(target: "ballast::alerts", receiver = %n.receiver, group_key = %n.group_key, status = %n.status, "{line}");
            }
            ("log", None)
        };
        if action != "skip" {
            self.store
                .record_sent(
                    &n.group_key,
                    integration,
                    &LogEntry {
                        firing: n
                            .alerts
                            .iter()
                            .filter(|a| a.status == "firing")
                            .map(|a| a.fingerprint.clone())
                            .collect(),
                        resolved: n
                            .alerts
                            .iter()
                            .filter(|a| a.status == "resolved")
                            .map(|a| a.fingerprint.clone())
                            .collect(),
                        sent_at: now,
                        remote_id: remote_id.clone(),
                    },
                    &history(action, remote_id.clone()),
                )
                .await?;
        } else {
            self.store
                .record_sent(
                    &n.group_key,
                    integration,
                    &LogEntry {
                        firing: BTreeSet::new(),
                        resolved: n.alerts.iter().map(|a| a.fingerprint.clone()).collect(),
                        sent_at: now,
                        remote_id: remote_id.clone(),
                    },
                    &history("skip", remote_id.clone()),
                )
                .await?;
        }
        Ok(remote_id)
    }

    /// Runs [`Dispatcher::tick`] every `every` until `shutdown`.
    pub async fn run(self: Arc<Self>, every: Duration, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(every) => {
                    if let Err(e) = self.tick(self.now()).await {
                        tracing::error!(error = %e, "alerting tick failed");
                    }
                }
            }
        }
    }

    /// Creates (or replaces, with `id`) a silence; answers its id.
    pub async fn create_silence(
        &self,
        s: NewSilence,
        now: DateTime<Utc>,
    ) -> Result<String, AlertingError> {
        let now = ms(now);
        if s.matchers.is_empty() {
            return Err(AlertingError::Invalid {
                field: "matchers".into(),
                reason: "at least one matcher is required".into(),
            });
        }
        for m in &s.matchers {
            Matcher::parse(m).map_err(|reason| AlertingError::Invalid {
                field: "matchers".into(),
                reason,
            })?;
        }
        if s.ends_at <= s.starts_at || s.ends_at <= now {
            return Err(AlertingError::Invalid {
                field: "endsAt".into(),
                reason: "must be after startsAt and in the future".into(),
            });
        }
        if s.created_by.trim().is_empty() {
            return Err(AlertingError::Invalid {
                field: "createdBy".into(),
                reason: "is required".into(),
            });
        }
        let mut state = self.state.lock().await;
        let id = match &s.id {
            Some(id) if state.silences.iter().any(|x| &x.id == id) => id.clone(),
            Some(id) => return Err(AlertingError::NotFound(format!("silence {id}"))),
            None => uuid::Uuid::now_v7().to_string(),
        };
        let silence = Silence {
            id: id.clone(),
            matchers: s.matchers,
            starts_at: s.starts_at.max(now.min(s.starts_at)),
            ends_at: s.ends_at,
            created_by: s.created_by,
            comment: s.comment,
            updated_at: now,
        };
        self.store.put_silence(&silence).await?;
        state.silences.retain(|x| x.id != id);
        state.silences.insert(0, silence);
        Ok(id)
    }

    /// Expires a silence now.
    pub async fn expire_silence(&self, id: &str, now: DateTime<Utc>) -> Result<(), AlertingError> {
        let now = ms(now);
        let mut state = self.state.lock().await;
        let silence = state
            .silences
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(|| AlertingError::NotFound(format!("silence {id}")))?;
        match silence.state(now) {
            SilenceState::Expired => return Ok(()),
            SilenceState::Pending => {
                silence.starts_at = now;
                silence.ends_at = now;
            }
            SilenceState::Active => silence.ends_at = now,
        }
        silence.updated_at = now;
        let s = silence.clone();
        self.store.put_silence(&s).await?;
        Ok(())
    }

    /// Every silence with its state at `now`.
    pub async fn silences(&self, now: DateTime<Utc>) -> Vec<(Silence, SilenceState)> {
        let now = ms(now);
        let state = self.state.lock().await;
        state
            .silences
            .iter()
            .map(|s| (s.clone(), s.state(now)))
            .collect()
    }

    /// Every known alert with its state at `now`.
    pub async fn alerts(&self, now: DateTime<Utc>) -> Vec<AlertStatus> {
        let now = ms(now);
        let state = self.state.lock().await;
        state
            .alerts
            .values()
            .map(|a| self.status(a, &state, now))
            .collect()
    }

    fn status(&self, a: &StoredAlert, state: &State, now: i64) -> AlertStatus {
        let muting: Muting =
            core::muting(&self.config.routing, a, &state.alerts, &state.silences, now);
        let st = if a.resolved_at(now) {
            "resolved"
        } else if muting.muted() {
            "suppressed"
        } else {
            "active"
        };
        AlertStatus {
            fingerprint: a.fingerprint.clone(),
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            starts_at: ballast_kit::store::millis_to_rfc3339(a.starts_at),
            ends_at: ballast_kit::store::millis_to_rfc3339(a.ends_at),
            updated_at: ballast_kit::store::millis_to_rfc3339(a.updated_at),
            generator_url: a.generator_url.clone(),
            receivers: self
                .config
                .routing
                .test_route(&a.labels)
                .into_iter()
                .map(|name| ReceiverName { name })
                .collect(),
            status: AlertState {
                state: st.into(),
                silenced_by: muting.silenced_by,
                inhibited_by: muting.inhibited_by,
            },
        }
    }

    /// The groups and their alerts at `now` (`amtool alert query` grouped; Alertmanager's
    /// `GET /api/v2/alerts/groups`).
    pub async fn groups(&self, now: DateTime<Utc>) -> Vec<GroupListing> {
        let now = ms(now);
        let state = self.state.lock().await;
        state
            .groups
            .values()
            .map(|g| GroupListing {
                group_key: g.key.clone(),
                labels: g.labels.clone(),
                receiver: ReceiverName {
                    name: g.receiver.clone(),
                },
                acknowledgement: state.acks.get(&g.key).cloned(),
                alerts: g
                    .members
                    .iter()
                    .filter_map(|fp| state.alerts.get(fp))
                    .map(|a| self.status(a, &state, now))
                    .collect(),
            })
            .collect()
    }

    /// Acknowledges a group (from Slack or the API): records it, sends PagerDuty
    /// `acknowledge` for the group's open incidents and updates its Slack messages.
    /// Acknowledging twice does nothing more.
    pub async fn acknowledge(
        &self,
        group_key: &str,
        by: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AlertingError> {
        self.set_ack(
            group_key,
            "acknowledged",
            by,
            source,
            source != "pagerduty",
            ms(now),
        )
        .await
    }

    /// Applies a PagerDuty webhook event (`acknowledged` or `resolved`) for the incident with
    /// `dedup_key`; answers whether a group had that incident.
    pub async fn pagerduty_event(
        &self,
        dedup: &str,
        state_name: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, AlertingError> {
        let key = {
            let state = self.state.lock().await;
            state
                .nlog
                .iter()
                .find(|((_, integration), e)| {
                    integration.starts_with("pagerduty:") && e.remote_id.as_deref() == Some(dedup)
                })
                .map(|((k, _), _)| k.clone())
        };
        let Some(key) = key else { return Ok(false) };
        self.set_ack(&key, state_name, by, "pagerduty", false, ms(now))
            .await?;
        Ok(true)
    }

    async fn set_ack(
        &self,
        group_key: &str,
        ack_state: &str,
        by: &str,
        source: &str,
        tell_pagerduty: bool,
        now: i64,
    ) -> Result<(), AlertingError> {
        let _flushing = self.flushing.lock().await;
        let (receiver, n, targets) = {
            let mut state = self.state.lock().await;
            let Some(group) = state.groups.get(group_key).cloned() else {
                return Err(AlertingError::NotFound(format!("alert group {group_key}")));
            };
            if state
                .acks
                .get(group_key)
                .is_some_and(|a| a.state == ack_state)
            {
                return Ok(());
            }
            let ack = Ack {
                group_key: group_key.to_owned(),
                state: ack_state.to_owned(),
                by: by.to_owned(),
                source: source.to_owned(),
                at: now,
            };
            self.store.put_ack(&ack).await?;
            state.acks.insert(group_key.to_owned(), ack.clone());
            let Some(receiver) = self.config.routing.receiver(&group.receiver) else {
                return Ok(());
            };
            let (firing, resolved) = split_group(
                &self.config.routing,
                &group,
                &state.alerts,
                &state.silences,
                now,
            );
            let n = Notification::build(
                &receiver.name,
                group_key,
                &group.labels,
                &firing,
                &resolved,
                Some(&ack),
            );
            // The integrations holding a live (firing) notification of the group.
            let targets: Vec<(String, String)> = integration_keys(receiver)
                .into_iter()
                .filter_map(|integration| {
                    let entry = state
                        .nlog
                        .get(&(group_key.to_owned(), integration.clone()))?;
                    let remote = entry
                        .remote_id
                        .clone()
                        .filter(|_| !entry.firing.is_empty())?;
                    Some((integration, remote))
                })
                .collect();
            (receiver, n, targets)
        };
        for (integration, remote) in targets {
            let sent = |action: &str| SentNotification {
                group_key: group_key.to_owned(),
                receiver: receiver.name.clone(),
                integration: integration.clone(),
                action: action.to_owned(),
                remote_id: Some(remote.clone()),
                sent_at: now,
            };
            if integration.starts_with("pagerduty:") && tell_pagerduty {
                let target = integration
                    .strip_prefix("pagerduty:")
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| receiver.pagerduty.get(i));
                let Some(key) = self
                    .pagerduty
                    .routing_key(target.and_then(|t| t.routing_key.as_ref()))
                else {
                    continue;
                };
                match self
                    .pagerduty
                    .send(&PagerDutyNotifier::action_event(
                        "acknowledge",
                        &key,
                        &remote,
                    ))
                    .await
                {
                    Ok(_) => self.store.record_history(&sent("acknowledge")).await?,
                    Err(e) => {
                        tracing::error!(group_key, error = %e, "pagerduty acknowledge failed")
                    }
                }
            } else if integration.starts_with("slack:")
                && let (Some(client), Some(posted)) = (&self.slack, Posted::from_remote_id(&remote))
            {
                let outcome = async {
                    client
                        .update(&posted, slack::message(&n, &self.config.templates)?)
                        .await?;
                    client
                        .post(
                            &posted.channel,
                            slack::thread_reply(&n, &self.config.templates)?,
                            Some(&posted.ts),
                        )
                        .await
                }
                .await;
                match outcome {
                    Ok(_) => self.store.record_history(&sent("update")).await?,
                    Err(e) => {
                        tracing::error!(group_key, error = %e, "slack update after acknowledgement failed")
                    }
                }
            }
        }
        Ok(())
    }

    /// Silences a group's alerts for `duration` (Slack's Silence 1h): matchers from the
    /// grouping labels, else from the labels its alerts share.
    pub async fn silence_group(
        &self,
        group_key: &str,
        by: &str,
        duration: Duration,
        now: DateTime<Utc>,
    ) -> Result<String, AlertingError> {
        let matchers = {
            let state = self.state.lock().await;
            let group = state
                .groups
                .get(group_key)
                .ok_or_else(|| AlertingError::NotFound(format!("alert group {group_key}")))?;
            let mut labels = group.labels.clone();
            if labels.is_empty() {
                let members: Vec<&LabelSet> = group
                    .members
                    .iter()
                    .filter_map(|fp| state.alerts.get(fp))
                    .map(|a| &a.labels)
                    .collect();
                if let Some(first) = members.first() {
                    labels = first
                        .iter()
                        .filter(|(k, v)| members.iter().all(|m| m.get(*k) == Some(*v)))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                }
            }
            labels
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect::<Vec<_>>()
        };
        let start = ms(now);
        let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 2);
        self.create_silence(
            NewSilence {
                id: None,
                matchers,
                starts_at: start,
                ends_at: start + millis,
                created_by: by.to_owned(),
                comment: format!(
                    "Silenced from Slack for {}",
                    humantime::format_duration(duration)
                ),
            },
            now,
        )
        .await
    }
}
