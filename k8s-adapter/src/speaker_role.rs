//! The speaker role (one per node): watch the cluster, announce this node's
//! Service IPs, publish ServiceBGPStatus and BGPSessionState objects.
//!
//! Level-triggered: every change takes a snapshot of the caches; the
//! Services whose objects differ from the last snapshot are re-decided
//! ([`NodePlanner`]) and only the changed routes go to the speaker. A change
//! of the configuration, of this node's Node object or of the peers'
//! sessions (e.g. a password Secret) re-plans everything. Nothing is announced before every
//! cache has synced, and an invalid configuration keeps the last good one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp_session::Password;

use crate::announcer::Announcer;
use crate::config::Config;
use crate::incremental::{IpSource, NodePlanner};
use crate::kube_io::{Reflectors, SessionState, StatusPublisher, WatchOptions, service_peers};
use crate::metrics::Metrics;
use crate::plan::{PlanOptions, plan};
use crate::standalone::peer_config;
use crate::world::World;

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
        if let Some(snapshot) = reflectors.snapshot() {
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
                            let delta = planner.update(&world, IpSource::Status, &changed);
                            if !delta.is_empty() {
                                metrics
                                    .set_announced(&opts.node, &planner.announcements().announced);
                                for change in announcer.apply_delta(&delta) {
                                    tracing::info!(%change, "speaker");
                                }
                                if let Err(e) = publisher
                                    .sync_service_statuses(&planner.service_peers())
                                    .await
                                {
                                    tracing::warn!(error = %e, "ServiceBGPStatus sync failed");
                                }
                            }
                            *old_world = std::mem::take(&mut world);
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
                    if let Err(e) = publisher
                        .sync_service_statuses(&service_peers(&p.announcements))
                        .await
                    {
                        tracing::warn!(error = %e, "ServiceBGPStatus sync failed");
                    }
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
}
