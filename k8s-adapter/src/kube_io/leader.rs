//! Leader election over a `coordination.k8s.io/v1` Lease, the way
//! client-go's `leaderelection` does it: whoever holds an unexpired lease
//! leads; a lease is expired once it has not changed for its duration as
//! observed locally (no comparison of clocks between hosts); every write is
//! a replace checked against the resourceVersion read, so two candidates
//! can never both win.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::{KubeIoError, is_conflict};

/// Lease parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This candidate's identity (the pod name).
    pub identity: String,
    /// How long a lease lasts without renewal (15 s; whole seconds, at
    /// least 1).
    pub lease_duration: Duration,
    /// A leader that could not renew for this long steps down (10 s; less
    /// than `lease_duration`).
    pub renew_deadline: Duration,
    /// Time between attempts to acquire or renew (2 s).
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// A configuration with client-go's default timings (15 s, 10 s, 2 s).
    pub fn new(namespace: &str, name: &str, identity: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            identity: identity.to_owned(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    fn duration_seconds(&self) -> i32 {
        i32::try_from(self.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }
}

/// The last lease record seen and when it was first seen.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Observed {
    holder: Option<String>,
    resource_version: Option<String>,
}

/// One candidate for leadership.
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
    observed: Option<(Observed, Instant)>,
    last_renew: Option<Instant>,
}

impl LeaderElector {
    /// A candidate (nothing is sent until it runs).
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
            last_renew: None,
        }
    }

    /// This candidate's identity.
    pub fn identity(&self) -> &str {
        &self.config.identity
    }

    fn observe(&mut self, lease: &Lease, now: Instant) {
        let record = Observed {
            holder: lease
                .spec
                .as_ref()
                .and_then(|s| s.holder_identity.clone())
                .filter(|h| !h.is_empty()),
            resource_version: lease.metadata.resource_version.clone(),
        };
        if self.observed.as_ref().map(|(r, _)| r) != Some(&record) {
            self.observed = Some((record, now));
        }
    }

    /// One attempt: creates the lease when absent, renews it when held by
    /// this candidate, takes it over when it is free or expired. Returns
    /// whether this candidate holds the lease now.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool, KubeIoError> {
        let now = Instant::now();
        let stamp = MicroTime(Timestamp::now());
        let me = self.config.identity.clone();
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(me.clone()),
                    lease_duration_seconds: Some(self.config.duration_seconds()),
                    acquire_time: Some(stamp.clone()),
                    renew_time: Some(stamp),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(created) => {
                    self.observe(&created, now);
                    self.last_renew = Some(now);
                    Ok(true)
                }
                Err(e) if is_conflict(&e) => Ok(false),
                Err(e) => Err(e.into()),
            };
        };
        self.observe(&lease, now);
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let mine = holder.as_deref() == Some(me.as_str());
        if holder.is_some() && !mine {
            let duration = spec
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .map_or(self.config.lease_duration, Duration::from_secs);
            let since = self.observed.as_ref().map_or(now, |(_, t)| *t);
            if now.saturating_duration_since(since) < duration {
                return Ok(false);
            }
            info!(
                lease = %self.config.name,
                previous = holder.as_deref().unwrap_or_default(),
                "lease expired: taking over"
            );
        }
        let mut new = spec;
        new.holder_identity = Some(me);
        new.lease_duration_seconds = Some(self.config.duration_seconds());
        new.renew_time = Some(stamp.clone());
        if !mine {
            new.acquire_time = Some(stamp);
            new.lease_transitions = Some(new.lease_transitions.unwrap_or(0).saturating_add(1));
        }
        lease.spec = Some(new);
        // `lease.metadata.resourceVersion` is the one read: the replace
        // fails with 409 Conflict if anyone wrote in between.
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(replaced) => {
                self.observe(&replaced, now);
                self.last_renew = Some(now);
                Ok(true)
            }
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Gives the lease up if this candidate holds it (holder cleared,
    /// duration 1 s), so another can take over at once.
    pub async fn release(&mut self) -> Result<(), KubeIoError> {
        self.last_renew = None;
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        let stamp = MicroTime(Timestamp::now());
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(stamp.clone());
        spec.acquire_time = Some(stamp);
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                info!(lease = %self.config.name, "lease released");
                Ok(())
            }
            Err(e) if is_conflict(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the last successful acquire or renew is recent enough to
    /// keep leading (within the renew deadline).
    fn within_deadline(&self, now: Instant) -> bool {
        self.last_renew
            .is_some_and(|t| now.saturating_duration_since(t) < self.config.renew_deadline)
    }

    /// Runs the election in a task: tries every `retry_period`, publishes
    /// whether this candidate leads, steps down when it cannot renew within
    /// the renew deadline, and releases the lease on
    /// [`LeaderHandle::shutdown`].
    pub fn spawn(mut self) -> LeaderHandle {
        let (tx, rx) = watch::channel(false);
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            loop {
                let attempt =
                    tokio::time::timeout(self.config.renew_deadline, self.try_acquire_or_renew())
                        .await;
                let leading = match attempt {
                    Ok(Ok(l)) => l,
                    Ok(Err(e)) => {
                        warn!(lease = %self.config.name, error = %e, "lease update failed");
                        *tx.borrow() && self.within_deadline(Instant::now())
                    }
                    Err(_) => {
                        warn!(lease = %self.config.name, "lease update timed out");
                        *tx.borrow() && self.within_deadline(Instant::now())
                    }
                };
                if leading != *tx.borrow() {
                    if leading {
                        info!(lease = %self.config.name, identity = %self.config.identity, "became leader");
                    } else {
                        warn!(lease = %self.config.name, identity = %self.config.identity, "lost leadership");
                    }
                    tx.send_replace(leading);
                }
                tokio::select! {
                    _ = &mut stop_rx => break,
                    () = tokio::time::sleep(self.config.retry_period) => {}
                }
            }
            tx.send_replace(false);
            if let Err(e) = self.release().await {
                warn!(lease = %self.config.name, error = %e, "lease not released");
            }
        });
        LeaderHandle {
            leading: rx,
            stop: Some(stop_tx),
            task: Some(task),
        }
    }
}

/// A running election (see [`LeaderElector::spawn`]). Dropping it stops the
/// election without releasing the lease; call [`Self::shutdown`] to
/// release it.
pub struct LeaderHandle {
    leading: watch::Receiver<bool>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl LeaderHandle {
    /// Whether this candidate leads now.
    pub fn is_leader(&self) -> bool {
        *self.leading.borrow()
    }

    /// A receiver of leadership changes (`true` while leading).
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.leading.clone()
    }

    /// Waits until this candidate leads.
    pub async fn wait_until_leader(&self) {
        let mut rx = self.leading.clone();
        // An error means the election task has ended.
        let _ = rx.wait_for(|l| *l).await;
    }

    /// Stops the election and releases the lease if held.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LeaderHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
