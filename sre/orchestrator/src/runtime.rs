//! The orchestrator itself: deployments of in-process instances, each on its own port,
//! reconciled every tick towards their desired replicas and revision, probed for liveness and
//! readiness, restarted with backoff when they crash.
//!
//! The model follows a Kubernetes Deployment: a revision history of release specs, rolling
//! updates with one surge instance and none unavailable, `rollout restart`, `rollout undo`
//! (which, as in Kubernetes, creates a new revision from an old spec), and a published list of
//! instances with their readiness that the gateway routes by.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use ballast_kit::cache::CacheBackend;
use ballast_kit::faults::{FaultSpec, Faults};
use ballast_kit::server::Stopped;
use ballast_kit::service::{Environment, Service, connect_instance};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{OrchestratorConfig, ProbeConfig};

/// What can go wrong when operating on deployments.
#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    /// No deployment of that name.
    #[error("no deployment named {0:?}")]
    UnknownDeployment(String),
    /// No instance of that name.
    #[error("no instance named {0:?}")]
    UnknownInstance(String),
    /// No service registered under that name.
    #[error("no service named {0:?} is registered")]
    UnknownService(String),
    /// The deployment exists already.
    #[error("deployment {0:?} exists already")]
    DeploymentExists(String),
    /// Rollback asked for a revision that is not in the history.
    #[error("deployment {deployment:?} has no revision {revision} to roll back to")]
    NoSuchRevision {
        /// The deployment.
        deployment: String,
        /// The revision asked for.
        revision: u32,
    },
    /// Rollback without a previous revision.
    #[error("deployment {0:?} has no previous revision")]
    NoPreviousRevision(String),
    /// A value out of range.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

/// A release spec: what a revision runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReleaseSpec {
    /// A version label (`v1`, `2026.11.25-1`).
    pub version: String,
    /// A defect built into this release (a bad deploy to roll back from); none by default.
    pub defect: FaultSpec,
}

/// One entry of a deployment's revision history.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Revision {
    /// Increasing revision number.
    pub number: u32,
    /// What it runs.
    pub spec: ReleaseSpec,
    /// Why it was created.
    pub change_cause: String,
    /// When (RFC 3339).
    pub created_at: String,
}

/// Lifecycle phase of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Started, not yet known to serve.
    Starting,
    /// Serving.
    Running,
    /// Crashed; waiting for its restart delay.
    BackingOff,
    /// Being stopped (graceful).
    Terminating,
}

/// An instance as the admin API and the gateway see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InstanceStatus {
    /// Instance name (`product-2`).
    pub name: String,
    /// Its service.
    pub service: String,
    /// `host:port`.
    pub address: String,
    /// Passing its readiness probe (in the gateway's rotation).
    pub ready: bool,
    /// Times it was restarted after a crash or a failed liveness probe.
    pub restarts: u32,
    /// The revision it runs.
    pub revision: u32,
    /// Lifecycle phase.
    pub phase: Phase,
}

/// A deployment as the admin API sees it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeploymentStatus {
    /// Deployment (= service) name.
    pub name: String,
    /// Desired replicas.
    pub replicas: u32,
    /// Instances passing readiness.
    pub ready_replicas: u32,
    /// Instances running the current revision.
    pub updated_replicas: u32,
    /// The current revision.
    pub revision: u32,
    /// The current revision's version label.
    pub version: String,
    /// Runtime faults injected into every instance (chaos), beside any release defect.
    pub faults: FaultSpec,
}

struct Instance {
    name: String,
    ordinal: u32,
    revision: u32,
    generation: u64,
    addr: SocketAddr,
    phase: Phase,
    ready: bool,
    restarts: u32,
    consecutive_crashes: u32,
    started: Instant,
    backoff_until: Option<Instant>,
    /// Increments on every (re)start; probe results of an older start are ignored.
    incarnation: u64,
    faults: Faults,
    shutdown: CancellationToken,
    task: Option<JoinHandle<anyhow::Result<Stopped>>>,
    probe: Option<JoinHandle<()>>,
}

impl Instance {
    fn status(&self, service: &str) -> InstanceStatus {
        InstanceStatus {
            name: self.name.clone(),
            service: service.to_owned(),
            address: self.addr.to_string(),
            ready: self.ready,
            restarts: self.restarts,
            revision: self.revision,
            phase: self.phase,
        }
    }

    fn is_current(&self, deployment: &Deployment) -> bool {
        self.revision == deployment.current && self.generation == deployment.generation
    }
}

struct Deployment {
    name: String,
    replicas: u32,
    current: u32,
    generation: u64,
    revisions: Vec<Revision>,
    faults: FaultSpec,
    next_ordinal: u32,
    instances: Vec<Instance>,
}

impl Deployment {
    fn revision(&self, number: u32) -> Option<&Revision> {
        self.revisions.iter().find(|r| r.number == number)
    }

    fn effective_faults(&self, revision: u32) -> FaultSpec {
        let defect = self
            .revision(revision)
            .map(|r| r.spec.defect)
            .unwrap_or_default();
        combine(defect, self.faults)
    }

    fn push_revision(&mut self, spec: ReleaseSpec, change_cause: String, limit: usize) -> u32 {
        let number = self.revisions.iter().map(|r| r.number).max().unwrap_or(0) + 1;
        self.revisions.push(Revision {
            number,
            spec,
            change_cause,
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        });
        while self.revisions.len() > limit.max(2) {
            self.revisions.remove(0);
        }
        self.current = number;
        number
    }
}

/// Two independent fault sources: errors compound, latencies add.
fn combine(a: FaultSpec, b: FaultSpec) -> FaultSpec {
    FaultSpec {
        error_rate: 1.0 - (1.0 - a.error_rate) * (1.0 - b.error_rate),
        latency_ms: a.latency_ms.saturating_add(b.latency_ms),
    }
}

struct Registered {
    service: Arc<dyn Service>,
    cache: Arc<dyn CacheBackend>,
}

struct Inner {
    config: OrchestratorConfig,
    environment: Environment,
    host: IpAddr,
    next_port: AtomicU16,
    services: Mutex<BTreeMap<String, Registered>>,
    deployments: Mutex<BTreeMap<String, Deployment>>,
    published: watch::Sender<Vec<InstanceStatus>>,
    shutdown: CancellationToken,
    client: reqwest::Client,
}

/// The embedded orchestrator. Cheap to clone.
#[derive(Clone)]
pub struct Orchestrator {
    inner: Arc<Inner>,
}

impl Orchestrator {
    /// An orchestrator placing instances on `host`, ports from `base_port` upwards (0: any
    /// free port).
    pub fn new(
        config: OrchestratorConfig,
        environment: Environment,
        host: IpAddr,
        base_port: u16,
    ) -> anyhow::Result<Self> {
        let (published, _) = watch::channel(Vec::new());
        let client = ballast_kit::client::http_client(Duration::from_secs(10))?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                environment,
                host,
                next_port: AtomicU16::new(base_port),
                services: Mutex::new(BTreeMap::new()),
                deployments: Mutex::new(BTreeMap::new()),
                published,
                shutdown: CancellationToken::new(),
                client,
            }),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &OrchestratorConfig {
        &self.inner.config
    }

    /// Makes `service` deployable; its instances share `cache`.
    pub fn register(&self, service: Arc<dyn Service>, cache: Arc<dyn CacheBackend>) {
        self.inner
            .services
            .lock()
            .insert(service.name().to_owned(), Registered { service, cache });
    }

    /// Creates a deployment of a registered service at revision 1 with `replicas` instances.
    pub fn deploy(
        &self,
        service: &str,
        replicas: u32,
        version: &str,
    ) -> Result<(), OrchestratorError> {
        if !self.inner.services.lock().contains_key(service) {
            return Err(OrchestratorError::UnknownService(service.to_owned()));
        }
        let mut deployments = self.inner.deployments.lock();
        if deployments.contains_key(service) {
            return Err(OrchestratorError::DeploymentExists(service.to_owned()));
        }
        let mut deployment = Deployment {
            name: service.to_owned(),
            replicas,
            current: 0,
            generation: 0,
            revisions: Vec::new(),
            faults: FaultSpec::default(),
            next_ordinal: 1,
            instances: Vec::new(),
        };
        deployment.push_revision(
            ReleaseSpec {
                version: version.to_owned(),
                defect: FaultSpec::default(),
            },
            "initial deployment".into(),
            self.inner.config.revision_history_limit,
        );
        deployments.insert(service.to_owned(), deployment);
        Ok(())
    }

    /// Starts the reconcile loop; it runs until [`Orchestrator::shutdown`].
    pub fn start(&self) -> JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    () = this.inner.shutdown.cancelled() => break,
                    _ = tick.tick() => this.reconcile(),
                }
            }
        })
    }

    /// Instances and their readiness, updated on every change.
    pub fn subscribe(&self) -> watch::Receiver<Vec<InstanceStatus>> {
        self.inner.published.subscribe()
    }

    /// Every instance now.
    pub fn instances(&self) -> Vec<InstanceStatus> {
        let deployments = self.inner.deployments.lock();
        deployments
            .values()
            .flat_map(|d| d.instances.iter().map(|i| i.status(&d.name)))
            .collect()
    }

    /// Every deployment now.
    pub fn deployments(&self) -> Vec<DeploymentStatus> {
        let deployments = self.inner.deployments.lock();
        deployments
            .values()
            .map(|d| DeploymentStatus {
                name: d.name.clone(),
                replicas: d.replicas,
                ready_replicas: count(d.instances.iter().filter(|i| i.ready)),
                updated_replicas: count(
                    d.instances
                        .iter()
                        .filter(|i| i.is_current(d) && i.phase != Phase::Terminating),
                ),
                revision: d.current,
                version: d
                    .revision(d.current)
                    .map(|r| r.spec.version.clone())
                    .unwrap_or_default(),
                faults: d.faults,
            })
            .collect()
    }

    /// The revision history of a deployment, oldest first.
    pub fn revisions(&self, name: &str) -> Result<Vec<Revision>, OrchestratorError> {
        self.with_deployment(name, |d| Ok(d.revisions.clone()))
    }

    /// Sets the desired replicas.
    pub fn scale(&self, name: &str, replicas: u32) -> Result<(), OrchestratorError> {
        if replicas > 64 {
            return Err(OrchestratorError::Invalid {
                field: "replicas",
                reason: "at most 64 per deployment".into(),
            });
        }
        self.with_deployment(name, |d| {
            tracing::info!(deployment = name, from = d.replicas, to = replicas, "scale");
            d.replicas = replicas;
            Ok(())
        })
    }

    /// Replaces every instance, one at a time, keeping the revision (`rollout restart`).
    pub fn restart(&self, name: &str) -> Result<(), OrchestratorError> {
        self.with_deployment(name, |d| {
            d.generation += 1;
            tracing::info!(deployment = name, "rollout restart");
            Ok(())
        })
    }

    /// Rolls out a new release (a new revision).
    pub fn release(
        &self,
        name: &str,
        spec: ReleaseSpec,
        change_cause: Option<String>,
    ) -> Result<u32, OrchestratorError> {
        spec.defect
            .validate()
            .map_err(|e| OrchestratorError::Invalid {
                field: "defect",
                reason: e.to_string(),
            })?;
        let limit = self.inner.config.revision_history_limit;
        self.with_deployment(name, |d| {
            let cause = change_cause.unwrap_or_else(|| format!("release {}", spec.version));
            let number = d.push_revision(spec, cause, limit);
            tracing::info!(deployment = name, revision = number, "new revision");
            Ok(number)
        })
    }

    /// Rolls back to `to` (default: the revision before the current one); as in Kubernetes the
    /// old spec becomes a new revision. Returns the new revision number.
    pub fn rollback(&self, name: &str, to: Option<u32>) -> Result<u32, OrchestratorError> {
        let limit = self.inner.config.revision_history_limit;
        self.with_deployment(name, |d| {
            let target = match to {
                Some(number) => d.revision(number).cloned().ok_or_else(|| {
                    OrchestratorError::NoSuchRevision {
                        deployment: name.to_owned(),
                        revision: number,
                    }
                })?,
                None => d
                    .revisions
                    .iter()
                    .rev()
                    .find(|r| r.number != d.current)
                    .cloned()
                    .ok_or_else(|| OrchestratorError::NoPreviousRevision(name.to_owned()))?,
            };
            let number = d.push_revision(
                target.spec.clone(),
                format!("rollback to revision {}", target.number),
                limit,
            );
            tracing::warn!(
                deployment = name,
                to = target.number,
                revision = number,
                "rollback"
            );
            Ok(number)
        })
    }

    /// Crashes one instance now (its connections drop; it restarts with backoff).
    pub fn crash(&self, instance: &str) -> Result<(), OrchestratorError> {
        let mut deployments = self.inner.deployments.lock();
        let found = deployments
            .values_mut()
            .flat_map(|d| d.instances.iter_mut())
            .find(|i| i.name == instance)
            .ok_or_else(|| OrchestratorError::UnknownInstance(instance.to_owned()))?;
        tracing::warn!(instance, "crash injected");
        found.faults.crash();
        Ok(())
    }

    /// Sets runtime faults on every instance of a deployment (and the ones it starts later).
    pub fn set_faults(&self, name: &str, spec: FaultSpec) -> Result<(), OrchestratorError> {
        spec.validate().map_err(|e| OrchestratorError::Invalid {
            field: "faults",
            reason: e.to_string(),
        })?;
        self.with_deployment(name, |d| {
            d.faults = spec;
            for instance in &d.instances {
                instance.faults.set(d.effective_faults(instance.revision));
            }
            tracing::warn!(
                deployment = name,
                error_rate = spec.error_rate,
                latency_ms = spec.latency_ms,
                "faults set"
            );
            Ok(())
        })
    }

    /// Waits until every deployment has its desired replicas ready, or the deadline passes.
    pub async fn wait_ready(&self, deadline: Duration) -> bool {
        let mut updates = self.subscribe();
        let all_ready = |this: &Self| {
            this.deployments()
                .iter()
                .all(|d| d.ready_replicas >= d.replicas && d.updated_replicas == d.replicas)
        };
        tokio::time::timeout(deadline, async {
            loop {
                if all_ready(self) {
                    return;
                }
                if updates.changed().await.is_err() {
                    return;
                }
            }
        })
        .await
        .is_ok()
            && all_ready(self)
    }

    /// Stops the loop and every instance gracefully.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        let tasks: Vec<_> = {
            let mut deployments = self.inner.deployments.lock();
            deployments
                .values_mut()
                .flat_map(|d| d.instances.iter_mut())
                .filter_map(|i| {
                    i.ready = false;
                    i.shutdown.cancel();
                    if let Some(probe) = i.probe.take() {
                        probe.abort();
                    }
                    i.task.take()
                })
                .collect()
        };
        self.publish();
        for task in tasks {
            let _ = task.await;
        }
    }

    fn with_deployment<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut Deployment) -> Result<T, OrchestratorError>,
    ) -> Result<T, OrchestratorError> {
        let mut deployments = self.inner.deployments.lock();
        let deployment = deployments
            .get_mut(name)
            .ok_or_else(|| OrchestratorError::UnknownDeployment(name.to_owned()))?;
        f(deployment)
    }

    fn publish(&self) {
        let snapshot = self.instances();
        self.inner.published.send_if_modified(|current| {
            if *current == snapshot {
                false
            } else {
                *current = snapshot;
                true
            }
        });
    }

    /// One pass over every deployment: notice exits, restart after backoff, scale, roll.
    fn reconcile(&self) {
        let now = Instant::now();
        {
            let mut deployments = self.inner.deployments.lock();
            for deployment in deployments.values_mut() {
                self.reap_and_restart(deployment, now);
                self.roll(deployment);
            }
        }
        self.publish();
    }

    fn reap_and_restart(&self, deployment: &mut Deployment, now: Instant) {
        let config = &self.inner.config;
        let mut removed = Vec::new();
        for (index, instance) in deployment.instances.iter_mut().enumerate() {
            let exited = instance.task.as_ref().is_some_and(JoinHandle::is_finished);
            if exited {
                instance.task = None;
                if let Some(probe) = instance.probe.take() {
                    probe.abort();
                }
                instance.ready = false;
                if instance.phase == Phase::Terminating {
                    removed.push(index);
                    continue;
                }
                let ran_for = now.duration_since(instance.started);
                instance.consecutive_crashes =
                    if ran_for >= config.scaled(config.restart_backoff_reset) {
                        0
                    } else {
                        instance.consecutive_crashes + 1
                    };
                let delay = config.backoff(instance.consecutive_crashes.saturating_sub(1));
                instance.phase = Phase::BackingOff;
                instance.backoff_until = Some(now + delay);
                instance.restarts += 1;
                tracing::warn!(
                    instance = instance.name,
                    restarts = instance.restarts,
                    backoff_ms = delay.as_millis() as u64,
                    "instance exited; restarting after backoff"
                );
            }
            if instance.phase == Phase::BackingOff
                && instance.backoff_until.is_some_and(|until| now >= until)
            {
                instance.backoff_until = None;
                let faults =
                    deployment_faults(&deployment.revisions, deployment.faults, instance.revision);
                self.start_instance(&deployment.name, instance, faults);
            }
            if instance.phase == Phase::Terminating && instance.task.is_none() {
                removed.push(index);
            }
        }
        removed.dedup();
        for index in removed.into_iter().rev() {
            let gone = deployment.instances.remove(index);
            tracing::info!(instance = gone.name, "instance stopped");
        }
    }

    /// Scales and rolls a deployment: one surge instance at a time, none unavailable.
    fn roll(&self, deployment: &mut Deployment) {
        let desired = deployment.replicas as usize;
        let (current, old): (Vec<usize>, Vec<usize>) = (0..deployment.instances.len())
            .filter(|&i| deployment.instances[i].phase != Phase::Terminating)
            .partition(|&i| deployment.instances[i].is_current(deployment));
        let current_ready = current
            .iter()
            .filter(|&&i| deployment.instances[i].ready)
            .count();
        let old_ready = old
            .iter()
            .filter(|&&i| deployment.instances[i].ready)
            .count();

        if old.is_empty() {
            if current.len() < desired {
                for _ in current.len()..desired {
                    self.create_instance(deployment);
                }
            } else if current.len() > desired {
                let mut victims = current.clone();
                victims.sort_by_key(|&i| {
                    let instance = &deployment.instances[i];
                    (instance.ready, std::cmp::Reverse(instance.ordinal))
                });
                for &i in victims.iter().take(current.len() - desired) {
                    terminate(&mut deployment.instances[i]);
                }
            }
            return;
        }

        // A rollout is in progress: at most one surge instance, never fewer ready than desired.
        let starting = current.len() - current_ready;
        if current.len() < desired && starting == 0 && current.len() + old.len() <= desired {
            self.create_instance(deployment);
        }
        let victim = old
            .iter()
            .copied()
            .find(|&i| !deployment.instances[i].ready)
            .or_else(|| {
                (current_ready + old_ready > desired || desired == 0)
                    .then(|| {
                        old.iter()
                            .copied()
                            .max_by_key(|&i| deployment.instances[i].ordinal)
                    })
                    .flatten()
            });
        if let Some(victim) = victim {
            terminate(&mut deployment.instances[victim]);
        }
    }

    fn create_instance(&self, deployment: &mut Deployment) {
        let ordinal = deployment.next_ordinal;
        deployment.next_ordinal += 1;
        let port = self.allocate_port();
        let mut instance = Instance {
            name: format!("{}-{ordinal}", deployment.name),
            ordinal,
            revision: deployment.current,
            generation: deployment.generation,
            addr: SocketAddr::new(self.inner.host, port),
            phase: Phase::Starting,
            ready: false,
            restarts: 0,
            consecutive_crashes: 0,
            started: Instant::now(),
            backoff_until: None,
            incarnation: 0,
            faults: Faults::default(),
            shutdown: CancellationToken::new(),
            task: None,
            probe: None,
        };
        let faults = deployment.effective_faults(deployment.current);
        self.start_instance(&deployment.name, &mut instance, faults);
        deployment.instances.push(instance);
    }

    fn allocate_port(&self) -> u16 {
        let base = self.inner.next_port.load(Ordering::Relaxed);
        if base == 0 {
            return 0;
        }
        self.inner.next_port.fetch_add(1, Ordering::Relaxed)
    }

    /// Binds the instance's port (keeping its old one when free) and spawns it.
    fn start_instance(&self, service: &str, instance: &mut Instance, faults: FaultSpec) {
        let registered = {
            let services = self.inner.services.lock();
            services
                .get(service)
                .map(|r| (r.service.clone(), r.cache.clone()))
        };
        let Some((service_impl, cache)) = registered else {
            return;
        };
        let listener = match bind(instance.addr)
            .or_else(|_| bind(SocketAddr::new(self.inner.host, self.allocate_port())))
        {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(instance = instance.name, %error, "binding a port failed");
                instance.phase = Phase::BackingOff;
                instance.backoff_until =
                    Some(Instant::now() + self.inner.config.backoff(instance.consecutive_crashes));
                return;
            }
        };
        if let Ok(addr) = listener.local_addr() {
            instance.addr = addr;
        }
        instance.incarnation += 1;
        instance.faults = Faults::default();
        instance.faults.set(faults);
        instance.shutdown = CancellationToken::new();
        instance.phase = Phase::Starting;
        instance.ready = false;
        instance.started = Instant::now();

        let environment = self.inner.environment.clone();
        let name = instance.name.clone();
        let instance_faults = instance.faults.clone();
        let shutdown = instance.shutdown.clone();
        let grace = self.inner.config.termination_grace;
        instance.task = Some(tokio::spawn(async move {
            let mut context =
                connect_instance(service_impl.as_ref(), name.clone(), &environment, cache).await?;
            context.faults = instance_faults.clone();
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let stopped = ballast_kit::service::run_instance(
                service_impl.as_ref(),
                context.clone(),
                listener,
                shutdown,
                grace,
            )
            .await;
            context.store.close().await;
            Ok(stopped)
        }));
        instance.probe = Some(self.spawn_probes(
            service.to_owned(),
            instance.name.clone(),
            instance.incarnation,
            instance.addr,
        ));
        tracing::info!(instance = instance.name, address = %instance.addr, revision = instance.revision, "instance started");
    }

    /// Probes one incarnation of an instance until it exits.
    fn spawn_probes(
        &self,
        service: String,
        name: String,
        incarnation: u64,
        addr: SocketAddr,
    ) -> JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let config = this.inner.config.clone();
            let live = probe_loop(&this, &config, config.liveness, addr, "/health/live");
            let ready = probe_loop(&this, &config, config.readiness, addr, "/health/ready");
            let (mut live, mut ready) = (Box::pin(live), Box::pin(ready));
            let mut live_state = ProbeState::default();
            let mut ready_state = ProbeState::default();
            loop {
                tokio::select! {
                    result = live.recv() => {
                        let Some(ok) = result else { break };
                        if live_state.observe(ok, config.liveness) == Some(false) {
                            tracing::warn!(instance = name, "liveness probe failed; restarting");
                            this.on_instance(&service, &name, incarnation, |i| i.faults.crash());
                        }
                    }
                    result = ready.recv() => {
                        let Some(ok) = result else { break };
                        if let Some(now_ready) = ready_state.observe(ok, config.readiness) {
                            this.on_instance(&service, &name, incarnation, |i| {
                                if i.phase == Phase::Starting || i.phase == Phase::Running {
                                    i.phase = Phase::Running;
                                    if i.ready != now_ready {
                                        tracing::info!(instance = i.name, ready = now_ready, "readiness changed");
                                    }
                                    i.ready = now_ready;
                                }
                            });
                            this.publish();
                        }
                    }
                }
            }
        })
    }

    fn on_instance(
        &self,
        service: &str,
        name: &str,
        incarnation: u64,
        f: impl FnOnce(&mut Instance),
    ) {
        let mut deployments = self.inner.deployments.lock();
        if let Some(instance) = deployments
            .get_mut(service)
            .and_then(|d| d.instances.iter_mut().find(|i| i.name == name))
            .filter(|i| i.incarnation == incarnation)
        {
            f(instance);
        }
    }
}

fn deployment_faults(revisions: &[Revision], runtime: FaultSpec, revision: u32) -> FaultSpec {
    let defect = revisions
        .iter()
        .find(|r| r.number == revision)
        .map(|r| r.spec.defect)
        .unwrap_or_default();
    combine(defect, runtime)
}

fn terminate(instance: &mut Instance) {
    if instance.phase == Phase::Terminating {
        return;
    }
    tracing::info!(instance = instance.name, "terminating");
    instance.phase = Phase::Terminating;
    instance.ready = false;
    instance.shutdown.cancel();
    if instance.task.is_none() {
        // Backing off: nothing runs, removal happens on the next pass.
        instance.backoff_until = None;
    }
}

fn count<'a>(instances: impl Iterator<Item = &'a Instance>) -> u32 {
    u32::try_from(instances.count()).unwrap_or(u32::MAX)
}

fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Consecutive-result bookkeeping of one probe, as the kubelet does it.
#[derive(Debug, Default)]
struct ProbeState {
    successes: u32,
    failures: u32,
    passing: Option<bool>,
}

impl ProbeState {
    /// Records one result; returns the new verdict when it changes.
    fn observe(&mut self, ok: bool, config: ProbeConfig) -> Option<bool> {
        if ok {
            self.successes += 1;
            self.failures = 0;
        } else {
            self.failures += 1;
            self.successes = 0;
        }
        let verdict = if self.successes >= config.success_threshold.max(1) {
            Some(true)
        } else if self.failures >= config.failure_threshold.max(1) {
            Some(false)
        } else {
            None
        };
        match verdict {
            Some(v) if self.passing != Some(v) => {
                self.passing = Some(v);
                Some(v)
            }
            _ => None,
        }
    }
}

/// Sends one probe result per period into the returned channel.
fn probe_loop(
    orchestrator: &Orchestrator,
    config: &OrchestratorConfig,
    probe: ProbeConfig,
    addr: SocketAddr,
    path: &'static str,
) -> tokio::sync::mpsc::Receiver<bool> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let client = orchestrator.inner.client.clone();
    let initial = config.scaled(probe.initial_delay);
    let period = config.scaled(probe.period).max(Duration::from_millis(20));
    // A probe's timeout bounds real work (a database round trip), so it is not time-scaled.
    let timeout = probe.timeout.max(Duration::from_millis(50));
    tokio::spawn(async move {
        tokio::time::sleep(initial).await;
        let url = format!("http://{addr}{path}");
        loop {
            let ok = matches!(
                client.get(&url).timeout(timeout).send().await,
                Ok(response) if response.status().is_success()
            );
            if tx.send(ok).await.is_err() {
                return;
            }
            // Until the first success, probe quickly so a fresh instance joins soon.
            tokio::time::sleep(period).await;
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_state_follows_thresholds() {
        let config = ProbeConfig {
            failure_threshold: 3,
            success_threshold: 1,
            ..ProbeConfig::default()
        };
        let mut state = ProbeState::default();
        assert_eq!(state.observe(true, config), Some(true));
        assert_eq!(state.observe(true, config), None);
        assert_eq!(state.observe(false, config), None);
        assert_eq!(state.observe(false, config), None);
        assert_eq!(state.observe(false, config), Some(false));
        assert_eq!(state.observe(true, config), Some(true));
    }

    #[test]
    fn faults_combine_independently() {
        let combined = combine(
            FaultSpec {
                error_rate: 0.5,
                latency_ms: 10,
            },
            FaultSpec {
                error_rate: 0.5,
                latency_ms: 5,
            },
        );
        assert!((combined.error_rate - 0.75).abs() < 1e-12);
        assert_eq!(combined.latency_ms, 15);
    }
}
