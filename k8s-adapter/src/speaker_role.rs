//! The speaker role (one per node): watch the cluster, announce this node's
//! Service IPs, publish ServiceBGPStatus and BGPSessionState objects.
//!
//! Incremental: the reflectors say which Services, EndpointSlices, Nodes
//! and Namespaces changed ([`Reflectors::take_changes`]); only those objects
//! are read into the role's [`World`], only the Services they touch are
//! re-decided ([`NodePlanner`]), and only the changed routes go to the
//! speaker. Reading and deciding cost the change, not the cluster; what
//! still grows with the number of Services is the Service → peers map
//! handed to the status task (built and compared after the routes). A relist, a change of the configuration, of this node's Node
//! object or of the peers' sessions (e.g. a password Secret) takes a
//! snapshot of every cache and re-plans everything. Nothing is announced
//! before every cache has synced, and an invalid configuration keeps the
//! last good one.
//!
//! The routes go out before any bookkeeping: ServiceBGPStatus objects are
//! written by a task of their own (`publish_service_statuses`), and the
//! `metallb_speaker_announced` series of the changed Services only are
//! updated.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp_session::Password;
use tokio::sync::watch;

use crate::announce::ServiceDecision;
use crate::announcer::Announcer;
use crate::config::Config;
use crate::incremental::{IpSource, NodePlanner};
use crate::kube_io::{
    Changes, DEFAULT_RESYNC, Reflectors, SessionState, StatusPublisher, WatchOptions, service_peers,
};
use crate::metrics::Metrics;
use crate::plan::{PlanOptions, plan};
use crate::standalone::peer_config;
use crate::world::{ObjectKey, World, WorldDiff};

/// Options of the speaker role.
#[derive(Clone, Debug)]
pub struct SpeakerOptions {
    /// MetalLB's namespace.
    pub namespace: String,
    /// This node.
    pub node: String,
    /// Plan options (`--lb-class`, ...); `speaker_only` is forced on.
    pub plan: PlanOptions,
    /// How often session states are published even without changes.
    pub status_interval: Duration,
}

/// Runs the speaker role until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    opts: SpeakerOptions,
    announcer: &mut Announcer,
    metrics: Arc<Metrics>,
    ready: Arc<std::sync::atomic::AtomicBool>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let reflectors = Reflectors::start(client.clone(), &WatchOptions::speaker(&opts.namespace));
    let publisher = StatusPublisher::new(client, &opts.namespace, &opts.node);
    let (statuses, desired) = watch::channel(None);
    let status_task = tokio::spawn(publish_service_statuses(publisher.clone(), desired));
    let status_abort = status_task.abort_handle();
    let mut changes = reflectors.subscribe();
    let plan_opts = PlanOptions {
        speaker_only: true,
        ..opts.plan.clone()
    };
    let mut last_good: Option<Config> = None;
    let mut applied: Option<(World, NodePlanner)> = None;
    let mut ticker = tokio::time::interval(opts.status_interval);
    tokio::pin!(shutdown);
    reflectors.wait_until_ready().await;
    loop {
        changes.borrow_and_update();
        let dirty = reflectors.take_changes();
        let mut handled = false;
        // Only Services, EndpointSlices, other Nodes or Namespaces changed:
        // read just those objects (no snapshot of every store, no diff of
        // the whole world) and re-decide the Services they touch.
        if !dirty.full && !dirty.nodes.contains(&opts.node) {
            if let (Some((world, planner)), Some(cfg)) = (applied.as_mut(), &last_good) {
                if planner.config() == cfg {
                    metrics.k8s_updates.inc();
                    let diff = apply_changes(world, &reflectors, &dirty);
                    let affected = diff.affected_services();
                    let out = Outputs {
                        announcer: &mut *announcer,
                        metrics: &metrics,
                        statuses: &statuses,
                        node: &opts.node,
                    };
                    redecide(planner, world, &affected, out).await;
                    handled = true;
                }
            }
        }
        if let Some(snapshot) = (!handled).then(|| reflectors.snapshot()).flatten() {
            metrics.k8s_updates.inc();
            match snapshot.load_config() {
                Ok(c) => {
                    last_good = Some(c);
                    metrics.config_loaded.set(1);
                    metrics.config_stale.set(0);
                }
                Err(e) => {
                    metrics.k8s_update_errors.inc();
                    metrics.config_stale.set(i64::from(last_good.is_some()));
                    tracing::error!(error = %e, "invalid configuration; keeping the last good one");
                }
            }
            if let Some(cfg) = &last_good {
                ready.store(true, std::sync::atomic::Ordering::Relaxed);
                let mut world = snapshot.world();
                let node_ip = world
                    .node(&opts.node)
                    .and_then(|n| n.status.as_ref())
                    .and_then(|s| s.addresses.as_ref())
                    .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
                    .and_then(|a| a.address.parse().ok());
                let peers_of = |names: &[String]| {
                    let mut peers = HashMap::new();
                    for name in names {
                        let Some(peer) = cfg.peers.get(name) else {
                            continue;
                        };
                        let mut pc = peer_config(peer, node_ip);
                        if let Some(src) = &peer.password {
                            match snapshot.password(src) {
                                Ok(pw) => pc.md5_password = Some(Password::new(pw)),
                                Err(e) => {
                                    tracing::error!(peer = %name, error = %e, "password unavailable")
                                }
                            }
                        }
                        peers.insert(name.clone(), pc);
                    }
                    peers
                };
                // Incremental: same configuration, node and sessions.
                let mut done = false;
                if let Some((old_world, planner)) = applied.as_mut() {
                    if planner.config() == cfg {
                        let diff = old_world.diff(&world);
                        if !diff.nodes.contains(&opts.node)
                            && peers_of(planner.peers()) == *announcer.peers()
                        {
                            let changed = diff.affected_services();
                            *old_world = std::mem::take(&mut world);
                            let out = Outputs {
                                announcer: &mut *announcer,
                                metrics: &metrics,
                                statuses: &statuses,
                                node: &opts.node,
                            };
                            redecide(planner, old_world, &changed, out).await;
                            done = true;
                        }
                    }
                }
                if !done {
                    let p = plan(cfg, &world, &opts.node, &plan_opts);
                    let peers = peers_of(&p.announcements.peers);
                    metrics.set_announced(&opts.node, &p.announcements.announced);
                    for change in announcer.apply(peers, &p.announcements.routes).await {
                        tracing::info!(%change, "speaker");
                    }
                    publish(&statuses, service_peers(&p.announcements));
                    let planner = NodePlanner::new(
                        cfg,
                        &world,
                        &opts.node,
                        IpSource::Status,
                        &plan_opts.announce_options(),
                    );
                    applied = Some((world, planner));
                }
            }
        }
        tokio::select! {
            r = changes.changed() => if r.is_err() { break },
            _ = ticker.tick() => {
                let now = Instant::now();
                let states: Vec<SessionState> = announcer
                    .peers()
                    .iter()
                    .filter_map(|(name, pc)| {
                        announcer.speaker().status(pc.remote).map(|s| SessionState::from_peer_status(name, &s, now))
                    })
                    .collect();
                if let Err(e) = publisher.sync_session_states(&states).await {
                    tracing::warn!(error = %e, "BGPSessionState sync failed");
                }
                continue;
            }
            () = &mut shutdown => break,
        }
    }
    // The last ServiceBGPStatus state still goes out, within a bound.
    drop(statuses);
    if tokio::time::timeout(STATUS_DRAIN, status_task)
        .await
        .is_err()
    {
        status_abort.abort();
        tracing::warn!("ServiceBGPStatus writes still pending at shutdown; abandoned");
    }
}

/// Brings `world` up to date with the objects `dirty` names, read from the
/// reflectors' stores, and says what changed (as [`World::diff`] would).
fn apply_changes(world: &mut World, reflectors: &Reflectors, dirty: &Changes) -> WorldDiff {
    let mut diff = WorldDiff::default();
    for key in &dirty.services {
        match reflectors.service(key) {
            Some(svc) => world.upsert_service(svc),
            None => drop(world.remove_service(key)),
        }
        diff.services.insert(key.clone());
    }
    for key in &dirty.endpoint_slices {
        // Both the old and the new slice's Service: a slice can move.
        if let Some(old) = world.remove_endpoint_slice(key) {
            diff.slice_changed(&old);
        }
        if let Some(new) = reflectors.endpoint_slice(key) {
            diff.slice_changed(&new);
            world.upsert_endpoint_slice(new);
        }
    }
    for name in &dirty.nodes {
        match reflectors.node(name) {
            Some(node) => world.upsert_node(node),
            None => drop(world.remove_node(name)),
        }
        diff.nodes.insert(name.clone());
    }
    for name in &dirty.namespaces {
        match reflectors.namespace(name) {
            Some(ns) => world.upsert_namespace(ns),
            None => drop(world.remove_namespace(name)),
        }
        diff.namespaces.insert(name.clone());
    }
    diff
}

/// Where the role's decisions go.
struct Outputs<'a> {
    announcer: &'a mut Announcer,
    metrics: &'a Metrics,
    statuses: &'a watch::Sender<Option<ServicePeers>>,
    node: &'a str,
}

/// Re-decides the Services in `affected` against `world` and hands the
/// route changes to the speaker; then, with the peers no longer waiting,
/// updates those Services' `metallb_speaker_announced` series and the
/// status task's state.
async fn redecide(
    planner: &mut NodePlanner,
    world: &World,
    affected: &BTreeSet<ObjectKey>,
    out: Outputs<'_>,
) {
    let before: Vec<Vec<IpAddr>> = affected.iter().map(|k| announced_ips(planner, k)).collect();
    let delta = planner.update(world, IpSource::Status, affected);
    if !delta.is_empty() {
        for change in out.announcer.apply_delta(&delta) {
            tracing::info!(%change, "speaker");
        }
        // Let the peer tasks write the UPDATEs before the bookkeeping
        // below takes this worker.
        tokio::task::yield_now().await;
    }
    // Even without a route change: a Service can join a route another one
    // already announces (a shared IP).
    publish(out.statuses, planner.service_peers());
    for (key, old) in affected.iter().zip(&before) {
        let new = announced_ips(planner, key);
        if *old != new {
            out.metrics.update_announced(out.node, key, old, &new);
        }
    }
}

/// The IPs `planner` announces for Service `key` (none when withdrawn).
fn announced_ips(planner: &NodePlanner, key: &ObjectKey) -> Vec<IpAddr> {
    match planner.decision(key) {
        Some(ServiceDecision::Announced { ips, .. }) => ips.clone(),
        _ => Vec::new(),
    }
}

/// Each announced Service (by key) and the peers it is announced to.
type ServicePeers = BTreeMap<ObjectKey, BTreeSet<String>>;

/// How long a failed ServiceBGPStatus sync first waits before it is tried
/// again; each further failure doubles the wait, up to [`DEFAULT_RESYNC`].
const STATUS_RETRY: Duration = Duration::from_secs(1);

/// Least time between two ServiceBGPStatus syncs: a burst of changes
/// costs one sync per interval.
const STATUS_MIN_INTERVAL: Duration = Duration::from_millis(500);

/// How long shutdown waits for the last ServiceBGPStatus writes.
const STATUS_DRAIN: Duration = Duration::from_secs(5);

/// Hands `peers` to the status task, unless it already has that state.
/// The first state always goes (the channel starts with none), so a node
/// that announces nothing still clears its old objects.
fn publish(statuses: &watch::Sender<Option<ServicePeers>>, peers: ServicePeers) {
    statuses.send_if_modified(|current| {
        let changed = current.as_ref() != Some(&peers);
        if changed {
            *current = Some(peers);
        }
        changed
    });
}

/// Writes the ServiceBGPStatus objects for the newest announced state, off
/// the path from a watch event to the routes: the routes go out first, and
/// states that arrive while a sync runs or waits collapse into the newest.
///
/// - At most one sync per [`STATUS_MIN_INTERVAL`].
/// - A failed sync is retried with the newest state after [`STATUS_RETRY`],
///   doubling up to [`DEFAULT_RESYNC`].
/// - With no change for [`DEFAULT_RESYNC`], the current state is synced
///   again, which lists the objects: edits and deletions by others are put
///   right on a quiet node too.
///
/// Ends when the role drops the sender and the newest state has been
/// written; the role aborts it if that takes longer than [`STATUS_DRAIN`].
async fn publish_service_statuses(
    publisher: StatusPublisher,
    mut desired: watch::Receiver<Option<ServicePeers>>,
) {
    let mut backoff: Option<Duration> = None;
    loop {
        if backoff.is_none() {
            tokio::select! {
                r = desired.changed() => if r.is_err() { return },
                () = tokio::time::sleep(DEFAULT_RESYNC) => {}
            }
        }
        let Some(peers) = desired.borrow_and_update().clone() else {
            continue;
        };
        match publisher.sync_service_statuses(&peers).await {
            Ok(_) => {
                backoff = None;
                tokio::time::sleep(STATUS_MIN_INTERVAL).await;
            }
            Err(e) => {
                let wait = backoff.map_or(STATUS_RETRY, |b| (b * 2).min(DEFAULT_RESYNC));
                tracing::warn!(error = %e, retry_in = ?wait, "ServiceBGPStatus sync failed");
                backoff = Some(wait);
                tokio::time::sleep(wait).await;
            }
        }
    }
}
