//! The speaker role (one per node): watch the cluster, announce this node's
//! Service IPs, publish ServiceBGPStatus and BGPSessionState objects.
//!
//! Level-triggered: every change rebuilds the whole plan from the caches and
//! the speaker sends only the difference. Nothing is announced before every
//! cache has synced, and an invalid configuration keeps the last good one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp_session::Password;

use crate::announcer::Announcer;
use crate::config::Config;
use crate::kube_io::{Reflectors, SessionState, StatusPublisher, WatchOptions, service_peers};
use crate::metrics::Metrics;
use crate::plan::{PlanOptions, plan};
use crate::standalone::peer_config;

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
                let world = snapshot.world();
                let p = plan(cfg, &world, &opts.node, &plan_opts);
                let node_ip = world
                    .node(&opts.node)
                    .and_then(|n| n.status.as_ref())
                    .and_then(|s| s.addresses.as_ref())
                    .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
                    .and_then(|a| a.address.parse().ok());
                let mut peers = HashMap::new();
                for name in &p.announcements.peers {
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
