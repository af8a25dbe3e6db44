//! The controller role: while leading, allocate IPs for every Service and
//! write the outcome back (status, pool annotation, Events).

use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;

use kube::Client;
use tracing::{debug, info, warn};

use super::leader::{LeaderElector, LeaseConfig};
use super::reflect::{Reflectors, WatchOptions};
use super::snapshot::Snapshot;
use super::writes::{ServiceWriter, pool_status};
use crate::allocate::{AllocateOptions, Allocator};
use crate::config::Config;
use crate::world::ObjectKey;

/// Options of the controller role.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    /// What to watch (normally [`WatchOptions::controller`]).
    pub watch: WatchOptions,
    /// The leader election lease.
    pub lease: LeaseConfig,
    /// Allocation options (`--lb-class`).
    pub allocate: AllocateOptions,
    /// The reporting controller of Events (`metallb-controller`).
    pub reporter: String,
    /// The reporting instance of Events (the pod name; host name if `None`).
    pub instance: Option<String>,
    /// Delay before retrying after a failed write (5 s).
    pub retry: Duration,
    /// Metrics to update (configuration state, allocator gauges).
    pub metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
}

impl ControllerOptions {
    /// Defaults for MetalLB's `namespace`, this pod's `identity` (its name)
    /// and the lease `bgp-k8s-controller`.
    pub fn new(namespace: &str, identity: &str) -> Self {
        Self {
            watch: WatchOptions::controller(namespace),
            lease: LeaseConfig::new(namespace, "bgp-k8s-controller", identity),
            allocate: AllocateOptions::default(),
            reporter: "metallb-controller".to_owned(),
            instance: Some(identity.to_owned()),
            retry: Duration::from_secs(5),
            metrics: None,
        }
    }
}

/// What the controller keeps between reconciles while it leads: the last
/// good configuration and the allocator built from it (MetalLB keeps its
/// allocator in memory too: the watch may not show the controller's own
/// status writes yet, and the allocator must not hand those IPs out again).
#[derive(Default)]
pub struct ControllerState {
    config: Option<Config>,
    allocator: Option<Allocator>,
    known: BTreeSet<ObjectKey>,
    metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
    /// The last configuration errors reported as an Event (no repeats).
    reported: Option<String>,
}

impl ControllerState {
    /// A fresh state (nothing allocated, no configuration).
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh state that also updates `metrics`
    /// (`metallb_k8s_client_config_*`, allocator gauges).
    pub fn with_metrics(metrics: Option<std::sync::Arc<crate::metrics::Metrics>>) -> Self {
        Self {
            metrics,
            ..Self::default()
        }
    }

    /// The configuration in use (the last one that parsed).
    pub fn config(&self) -> Option<&Config> {
        self.config.as_ref()
    }
}

/// One reconcile over a snapshot: picks up a changed configuration (a
/// broken one keeps the last good one), converges every Service with the
/// allocator and writes what differs. Returns whether every write
/// succeeded.
///
/// Without any configuration object (no ConfigMap, no custom resource)
/// nothing is touched, as MetalLB does; a configuration without pools
/// clears allocations.
pub async fn reconcile_services(
    snapshot: &Snapshot,
    state: &mut ControllerState,
    writer: &ServiceWriter,
    options: &AllocateOptions,
) -> bool {
    if snapshot.config_maps.is_empty() && snapshot.custom_resources.is_empty() {
        debug!("no MetalLB configuration objects: not reconciling");
        return true;
    }
    match snapshot.load_config() {
        Ok(config) => {
            if state.config.as_ref() != Some(&config) {
                info!(
                    pools = config.pools.len(),
                    peers = config.peers.len(),
                    "configuration loaded"
                );
                state.allocator = Some(Allocator::new(&config));
                state.config = Some(config);
            }
            if let Some(m) = &state.metrics {
                m.config_loaded.set(1);
                m.config_stale.set(0);
            }
            state.reported = None;
        }
        Err(errors) => {
            if let Some(m) = &state.metrics {
                m.config_stale.set(i64::from(state.config.is_some()));
                m.k8s_update_errors.inc();
            }
            for e in &errors.0 {
                warn!(error = %e, "invalid configuration; keeping the last good one");
            }
            // One Warning Event per distinct set of errors, on the
            // configuration object (the ConfigMap, else the first CR).
            let text = errors.to_string();
            if state.reported.as_deref() != Some(text.as_str()) {
                if let Some(reference) = config_object_ref(snapshot) {
                    if let Err(e) = writer
                        .publish_object_event(
                            &reference,
                            kube::runtime::events::EventType::Warning,
                            "ConfigInvalid",
                            &text,
                        )
                        .await
                    {
                        warn!(error = %e, "recording the configuration Event failed");
                    }
                }
                state.reported = Some(text);
            }
        }
    }
    let Some(allocator) = state.allocator.as_mut() else {
        return true;
    };
    let world = snapshot.world();
    let present: BTreeSet<ObjectKey> = world.services().map(|(k, _)| k.clone()).collect();
    for gone in state.known.difference(&present) {
        if allocator.release(gone) {
            debug!(service = %gone, "released the IPs of a deleted service");
        }
    }
    state.known = present;
    let mut ok = true;
    for outcome in allocator.reconcile_all(&world, options) {
        let Some(service) = world.service(&outcome.key) else {
            continue;
        };
        if let Err(e) = writer.write_outcome(&outcome, service).await {
            warn!(service = %outcome.key, error = %e, "writing the allocation failed");
            ok = false;
        }
    }
    // IPAddressPool status counters, where they changed.
    let counters = allocator.pool_counters();
    if let Some(m) = &state.metrics {
        m.set_pool_counters(&counters);
    }
    for pool in &snapshot.custom_resources {
        if pool.types.as_ref().map(|t| t.kind.as_str()) != Some("IPAddressPool") {
            continue;
        }
        let Some(name) = pool.metadata.name.as_deref() else {
            continue;
        };
        let Some(c) = counters.get(name) else {
            continue;
        };
        let wanted = pool_status(c);
        let current = pool.data.get("status");
        let same = current.is_some_and(|cur| {
            wanted
                .as_object()
                .is_some_and(|w| w.iter().all(|(k, v)| cur.get(k) == Some(v)))
        });
        if same {
            continue;
        }
        if let Err(e) = writer.patch_pool_status(&snapshot.namespace, name, c).await {
            warn!(pool = name, error = %e, "writing the pool status failed");
            ok = false;
        }
    }
    ok
}

/// Runs the controller role until `shutdown` completes: leader election,
/// reflectors, and while leading and synced a [`reconcile_services`] after every
/// change (retried after failed writes). Releases the lease on the way out.
pub async fn run_controller(
    client: Client,
    options: ControllerOptions,
    shutdown: impl Future<Output = ()>,
) {
    let leader = LeaderElector::new(client.clone(), options.lease.clone()).spawn();
    let reflectors = Reflectors::start(client.clone(), &options.watch);
    let writer = ServiceWriter::new(client, &options.reporter, options.instance.clone());
    let mut changes = reflectors.subscribe();
    let mut leadership = leader.subscribe();
    let mut state: Option<ControllerState> = None;
    let mut retry: Option<tokio::time::Instant> = None;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        changes.borrow_and_update();
        leadership.borrow_and_update();
        if !leader.is_leader() {
            if state.take().is_some() {
                info!("not leading: allocation state dropped");
            }
        } else if let Some(snapshot) = reflectors.snapshot() {
            let st =
                state.get_or_insert_with(|| ControllerState::with_metrics(options.metrics.clone()));
            let ok = reconcile_services(&snapshot, st, &writer, &options.allocate).await;
            retry = (!ok).then(|| tokio::time::Instant::now() + options.retry);
        }
        let retry_at = retry;
        tokio::select! {
            () = &mut shutdown => break,
            r = changes.changed() => if r.is_err() { break },
            r = leadership.changed() => if r.is_err() { break },
            () = async {
                match retry_at {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
    }
    reflectors.shutdown();
    leader.shutdown().await;
}

/// A reference to the object holding the configuration: the legacy
/// ConfigMap, else the first `metallb.io` resource.
fn config_object_ref(snapshot: &Snapshot) -> Option<k8s_openapi::api::core::v1::ObjectReference> {
    use kube::Resource;
    if let Some(cm) = snapshot.config_maps.first() {
        return Some(cm.object_ref(&()));
    }
    let cr = snapshot.custom_resources.first()?;
    let types = cr.types.as_ref()?;
    Some(k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some(types.api_version.clone()),
        kind: Some(types.kind.clone()),
        name: cr.metadata.name.clone(),
        namespace: cr.metadata.namespace.clone(),
        uid: cr.metadata.uid.clone(),
        resource_version: cr.metadata.resource_version.clone(),
        field_path: None,
    })
}
