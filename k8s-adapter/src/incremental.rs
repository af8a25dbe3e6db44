//! Incremental announcement planning for one node.
//!
//! [`announce`](crate::announce::announce) decides every Service from
//! scratch. [`NodePlanner`] keeps each Service's decision and, per (peer,
//! prefix), the set of Services contributing to it, so a change to a few
//! Services (or to their EndpointSlices) costs time proportional to those
//! Services: their decisions are recomputed, the merged routes of the
//! (peer, prefix) pairs they touch are rebuilt, and the difference comes
//! back as a [`RouteDelta`] for [`Announcer::apply_delta`].
//!
//! The planner's state always equals a full recompute:
//! [`NodePlanner::announcements`] returns exactly what `announce` returns
//! for the same configuration, world, node and IPs (tested over random
//! change sequences). Changes that affect every Service — the
//! configuration, this node's object, the options — need a new planner.
//!
//! [`Announcer::apply_delta`]: crate::announcer::Announcer::apply_delta

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use bgp_session::{Route, RouteAttrs};
use ipnet::IpNet;

use crate::allocate::service::ingress_ips;
use crate::allocate::{Event, EventType};
use crate::announce::{
    AnnounceOptions, NodeAnnouncements, ServiceDecision, announce_service, merge_attrs,
    peers_for_node,
};
use crate::config::Config;
use crate::world::{ObjectKey, World};

/// Where a Service's IPs come from.
#[derive(Clone, Copy, Debug)]
pub enum IpSource<'a> {
    /// The allocator's result (controller + speaker in one process).
    Allocated(&'a BTreeMap<ObjectKey, Vec<IpAddr>>),
    /// The Service's `status.loadBalancer.ingress` (speaker only).
    Status,
}

impl IpSource<'_> {
    fn ips(&self, world: &World, key: &ObjectKey) -> Vec<IpAddr> {
        match self {
            Self::Allocated(m) => m.get(key).cloned().unwrap_or_default(),
            Self::Status => world
                .service(key)
                .and_then(|s| ingress_ips(s).ok())
                .unwrap_or_default(),
        }
    }
}

/// Route changes for one node: per (peer, prefix), the new merged route, or
/// `None` when the prefix is withdrawn from that peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteDelta {
    /// The changes, ordered by peer and prefix.
    pub changes: BTreeMap<(String, IpNet), Option<Route>>,
}

impl RouteDelta {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Number of changed (peer, prefix) pairs.
    pub fn len(&self) -> usize {
        self.changes.len()
    }
}

/// One node's announcement decisions, kept up to date service by service.
#[derive(Clone, Debug)]
pub struct NodePlanner {
    config: Config,
    node: String,
    opts: AnnounceOptions,
    peers: Vec<String>,
    decisions: BTreeMap<ObjectKey, ServiceDecision>,
    sources: BTreeMap<(String, IpNet), BTreeSet<ObjectKey>>,
    routes: BTreeMap<String, BTreeMap<IpNet, Route>>,
}

impl NodePlanner {
    /// Decides every Service of `world` (the same cost as a full
    /// [`announce`](crate::announce::announce)).
    pub fn new(
        config: &Config,
        world: &World,
        node: &str,
        ips: IpSource<'_>,
        opts: &AnnounceOptions,
    ) -> Self {
        let mut p = Self {
            config: config.clone(),
            node: node.to_owned(),
            opts: opts.clone(),
            peers: peers_for_node(config, world, node),
            decisions: BTreeMap::new(),
            sources: BTreeMap::new(),
            routes: BTreeMap::new(),
        };
        let keys: Vec<ObjectKey> = world.services().map(|(k, _)| k.clone()).collect();
        p.update(world, ips, keys.iter());
        p
    }

    /// The configuration the planner decides with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The node.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The options.
    pub fn options(&self) -> &AnnounceOptions {
        &self.opts
    }

    /// Names of the peers this node has sessions with.
    pub fn peers(&self) -> &[String] {
        &self.peers
    }

    /// The merged routes per peer name.
    pub fn routes(&self) -> &BTreeMap<String, BTreeMap<IpNet, Route>> {
        &self.routes
    }

    /// The merged routes per peer name, in the shape
    /// [`NodeAnnouncements::routes`] has.
    pub fn route_sets(&self) -> BTreeMap<String, BTreeSet<Route>> {
        self.routes
            .iter()
            .map(|(p, m)| (p.clone(), m.values().cloned().collect()))
            .collect()
    }

    /// Per Service, the names of the peers it is announced to (what
    /// [`crate::kube_io::service_peers`] computes from full announcements).
    pub fn service_peers(&self) -> BTreeMap<ObjectKey, BTreeSet<String>> {
        let mut out: BTreeMap<ObjectKey, BTreeSet<String>> = BTreeMap::new();
        for ((peer, _), services) in &self.sources {
            for svc in services {
                out.entry(svc.clone()).or_default().insert(peer.clone());
            }
        }
        out
    }

    /// One Service's decision (absent when the Service is unknown).
    pub fn decision(&self, key: &ObjectKey) -> Option<&ServiceDecision> {
        self.decisions.get(key)
    }

    /// Re-decides the Services in `changed` (added, removed or modified
    /// Services, and Services whose EndpointSlices changed) against `world`,
    /// and returns the route changes. Costs time proportional to the changed
    /// Services and the (peer, prefix) pairs they contribute to.
    ///
    /// Changes to the configuration or to this node's Node object affect
    /// every Service: build a new planner for those.
    pub fn update<'k>(
        &mut self,
        world: &World,
        ips: IpSource<'_>,
        changed: impl IntoIterator<Item = &'k ObjectKey>,
    ) -> RouteDelta {
        let mut touched: BTreeSet<(String, IpNet)> = BTreeSet::new();
        for key in changed {
            let new = world.service(key).map(|svc| {
                let svc_ips = ips.ips(world, key);
                announce_service(
                    &self.config,
                    world,
                    &self.node,
                    &self.peers,
                    svc,
                    &svc_ips,
                    &self.opts,
                )
            });
            let old = match new {
                Some(d) => {
                    if self.decisions.get(key) == Some(&d) {
                        continue;
                    }
                    self.decisions.insert(key.clone(), d)
                }
                None => self.decisions.remove(key),
            };
            if let Some(ServiceDecision::Announced { routes, .. }) = old {
                for c in routes {
                    let k = (c.peer, c.route.prefix);
                    if let Some(set) = self.sources.get_mut(&k) {
                        set.remove(key);
                        if set.is_empty() {
                            self.sources.remove(&k);
                        }
                    }
                    touched.insert(k);
                }
            }
            if let Some(ServiceDecision::Announced { routes, .. }) = self.decisions.get(key) {
                for c in routes {
                    let k = (c.peer.clone(), c.route.prefix);
                    self.sources
                        .entry(k.clone())
                        .or_default()
                        .insert(key.clone());
                    touched.insert(k);
                }
            }
        }
        let mut delta = RouteDelta::default();
        for k in touched {
            let merged = self.merged(&k);
            let (peer, prefix) = &k;
            let current = self.routes.get(peer).and_then(|m| m.get(prefix));
            if current == merged.as_ref() {
                continue;
            }
            match &merged {
                Some(r) => {
                    self.routes
                        .entry(peer.clone())
                        .or_default()
                        .insert(*prefix, r.clone());
                }
                None => {
                    if let Some(m) = self.routes.get_mut(peer) {
                        m.remove(prefix);
                        if m.is_empty() {
                            self.routes.remove(peer);
                        }
                    }
                }
            }
            delta.changes.insert(k, merged);
        }
        delta
    }

    /// The merged route of a (peer, prefix) from its contributing Services,
    /// folded in Service order as `announce` does.
    fn merged(&self, k: &(String, IpNet)) -> Option<Route> {
        let mut attrs: Option<RouteAttrs> = None;
        for key in self.sources.get(k).into_iter().flatten() {
            let Some(ServiceDecision::Announced { routes, .. }) = self.decisions.get(key) else {
                continue;
            };
            for c in routes
                .iter()
                .filter(|c| c.peer == k.0 && c.route.prefix == k.1)
            {
                match attrs.as_mut() {
                    Some(a) => merge_attrs(a, &c.route.attrs),
                    None => attrs = Some(c.route.attrs.clone()),
                }
            }
        }
        attrs.map(|a| Route::with_attrs(k.1, a))
    }

    /// Everything the node announces, exactly as
    /// [`announce`](crate::announce::announce) would compute it now (costs
    /// time proportional to every Service: for reports and tests).
    pub fn announcements(&self) -> NodeAnnouncements {
        let mut out = NodeAnnouncements {
            node: self.node.clone(),
            peers: self.peers.clone(),
            routes: self.route_sets(),
            sources: self.sources.clone(),
            ..NodeAnnouncements::default()
        };
        for (key, d) in &self.decisions {
            match d {
                ServiceDecision::Announced { ips, .. } => {
                    out.events.entry(key.clone()).or_default().push(Event {
                        type_: EventType::Normal,
                        reason: "nodeAssigned".into(),
                        message: format!(
                            "announcing from node {:?} with protocol \"bgp\"",
                            self.node
                        ),
                    });
                    out.announced.insert(key.clone(), ips.clone());
                }
                ServiceDecision::Withdrawn(v) => out.not_announced.extend(v.iter().cloned()),
            }
        }
        out
    }
}
