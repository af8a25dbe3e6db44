//! Which service IPs this node announces over BGP, to which peers, with
//! which attributes (MetalLB speaker side, `bgpController.ShouldAnnounce`
//! plus `SetBalancer`), extended with per-service attribute annotations.
//!
//! A service IP is announced from a node iff, in this order:
//! 1. some BGPAdvertisement of the IP's pool selects the node (else
//!    `notOwner`);
//! 2. at least one of those matches the service labels (`serviceSelectors`,
//!    else `noMatchingAdvertisement`);
//! 3. those advertisements agree on LOCAL_PREF for every prefix and peer
//!    (else `conflictingAdvertisements`);
//! 4. the node is schedulable (`nodeUnschedulable`, can be turned off), has
//!    no `NetworkUnavailable=True` condition (`nodeNetworkUnavailable`) and
//!    no `node.kubernetes.io/exclude-from-external-load-balancers` label
//!    (`nodeLabeledExcludeBalancers`, unless ignored);
//! 5. `externalTrafficPolicy: Local` has an endpoint on this node that can
//!    serve (`noLocalEndpoints`), and there is an endpoint anywhere that can
//!    serve (`noEndpoints`). "Can serve" is `ready` unset or true, or
//!    `serving` true; an address reported not-serving anywhere counts as
//!    not serving.
//!
//! Each announced IP yields one route per selected advertisement, prefix =
//! IP masked to `aggregationLength(V6)`, sent to the advertisement's peers
//! (all peers that select this node when the list is empty). Routes on the
//! same prefix for the same peer are merged: communities and large
//! communities are unioned; LOCAL_PREF takes the highest value set, MED the
//! lowest, AS-path prepend the smallest (the prefix stays as attractive as
//! its most attractive contributor).

mod attrs;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

use bgp_session::{Peers, Route, RouteAttrs, RouteTable};
use ipnet::IpNet;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointConditions;

use crate::allocate::service::{ingress_ips, is_local};
use crate::allocate::{Allocations, Event, EventType};
use crate::config::{Advertisement, CommunityValue, Config, Pool};
use crate::selector::any_matches;
use crate::world::{
    EXCLUDE_LB_LABEL, ObjectKey, World, handles_class, is_load_balancer, labels, node_condition,
};

pub use attrs::{
    ANNOTATION_AS_PATH_PREPEND, ANNOTATION_COMMUNITIES, ANNOTATION_LARGE_COMMUNITIES,
    ANNOTATION_LOCAL_PREF, ANNOTATION_MED, MAX_AS_PATH_PREPEND, ServiceAttrs, service_attrs,
};

/// Options of the announcement decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceOptions {
    /// `--lb-class` (see [`crate::allocate::AllocateOptions::lb_class`]).
    pub lb_class: Option<String>,
    /// `--ignore-exclude-lb`: announce from nodes labelled
    /// `node.kubernetes.io/exclude-from-external-load-balancers` too.
    pub ignore_exclude_lb: bool,
    /// Withdraw from nodes with `spec.unschedulable` (cordoned), as current
    /// MetalLB does (default true).
    pub withdraw_unschedulable: bool,
}

impl Default for AnnounceOptions {
    fn default() -> Self {
        Self {
            lb_class: None,
            ignore_exclude_lb: false,
            withdraw_unschedulable: true,
        }
    }
}

/// Why a service IP is not announced from this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotAnnounced {
    /// The service.
    pub service: ObjectKey,
    /// The IP (`None` when the service has none).
    pub ip: Option<IpAddr>,
    /// MetalLB's reason string (`notOwner`, `noMatchingAdvertisement`,
    /// `conflictingAdvertisements`, `nodeUnschedulable`,
    /// `nodeNetworkUnavailable`, `nodeLabeledExcludeBalancers`,
    /// `noLocalEndpoints`, `noEndpoints`, `noIPAllocated`, `ipNotAllowed`,
    /// `notLoadBalancer`, `loadBalancerClass`) or ours (`invalidAnnotation`).
    pub reason: String,
    /// Details, when there are any.
    pub message: Option<String>,
}

/// One route a service contributes, before merging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contribution {
    /// Peer name.
    pub peer: String,
    /// The route (prefix already masked).
    pub route: Route,
}

/// The decision for one service on one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceDecision {
    /// Announced: the IPs and the routes they contribute.
    Announced {
        /// The service's IPs.
        ips: Vec<IpAddr>,
        /// Routes per peer before merging with other services.
        routes: Vec<Contribution>,
    },
    /// Not announced, per IP (one entry with `ip: None` when it has none).
    Withdrawn(Vec<NotAnnounced>),
}

/// Everything one node announces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeAnnouncements {
    /// The node.
    pub node: String,
    /// Names of the peers this node has sessions with (their
    /// `nodeSelectors` match the node).
    pub peers: Vec<String>,
    /// Per peer name, the merged routes.
    pub routes: BTreeMap<String, BTreeSet<Route>>,
    /// Per (peer, prefix), the services contributing to the route.
    pub sources: BTreeMap<(String, IpNet), BTreeSet<ObjectKey>>,
    /// Announced services and their IPs.
    pub announced: BTreeMap<ObjectKey, Vec<IpAddr>>,
    /// Service IPs not announced, and why.
    pub not_announced: Vec<NotAnnounced>,
    /// Events the speaker would record (`nodeAssigned`).
    pub events: BTreeMap<ObjectKey, Vec<Event>>,
}

impl NodeAnnouncements {
    /// The routes as a bgp-session [`RouteTable`], each peer addressed by its
    /// configured address and port; peers not in `config` are skipped.
    pub fn route_table(&self, config: &Config) -> RouteTable {
        let mut entries = Vec::new();
        for (peer, routes) in &self.routes {
            let Some(p) = config.peers.get(peer) else {
                continue;
            };
            let addr = SocketAddr::new(p.address, p.port);
            for r in routes {
                entries.push((r.clone(), Peers::only([addr])));
            }
        }
        RouteTable::from_routes(entries)
    }

    /// Total number of (peer, prefix) routes.
    pub fn route_count(&self) -> usize {
        self.routes.values().map(BTreeSet::len).sum()
    }
}

/// The IPs of every service as allocated by [`crate::allocate::allocate`]
/// (the status the controller writes).
pub fn ips_from_allocations(a: &Allocations) -> BTreeMap<ObjectKey, Vec<IpAddr>> {
    a.services
        .iter()
        .filter(|s| s.handled)
        .map(|s| (s.key.clone(), s.ips.clone()))
        .collect()
}

/// The IPs of every service as its `status.loadBalancer.ingress` says
/// (speaker-only mode, where another controller allocates); unparsable
/// entries are dropped.
pub fn ips_from_status(world: &World) -> BTreeMap<ObjectKey, Vec<IpAddr>> {
    world
        .services()
        .map(|(k, s)| (k.clone(), ingress_ips(s).unwrap_or_default()))
        .collect()
}

/// Names of the peers whose `nodeSelectors` select `node`.
pub fn peers_for_node(config: &Config, world: &World, node: &str) -> Vec<String> {
    let node_labels = world.node_labels(node);
    config
        .peers
        .values()
        .filter(|p| any_matches(&p.node_selectors, node_labels))
        .map(|p| p.name.clone())
        .collect()
}

/// The pool containing every IP (the speaker's `poolFor`).
pub fn pool_for<'c>(config: &'c Config, ips: &[IpAddr]) -> Option<&'c Pool> {
    if ips.is_empty() {
        return None;
    }
    config
        .pools
        .values()
        .find(|p| ips.iter().all(|ip| p.cidrs.iter().any(|c| c.contains(ip))))
}

/// Decides what `node` announces for every service of `world`, given each
/// service's IPs (from [`ips_from_allocations`] or [`ips_from_status`]).
pub fn announce(
    config: &Config,
    world: &World,
    node: &str,
    ips: &BTreeMap<ObjectKey, Vec<IpAddr>>,
    opts: &AnnounceOptions,
) -> NodeAnnouncements {
    let peers = peers_for_node(config, world, node);
    let mut out = NodeAnnouncements {
        node: node.to_owned(),
        peers: peers.clone(),
        ..NodeAnnouncements::default()
    };
    let mut merged: BTreeMap<(String, IpNet), RouteAttrs> = BTreeMap::new();
    for (key, svc) in world.services() {
        let svc_ips = ips.get(key).map_or(&[][..], Vec::as_slice);
        match announce_service(config, world, node, &peers, svc, svc_ips, opts) {
            ServiceDecision::Announced { ips, routes } => {
                for c in routes {
                    let k = (c.peer, c.route.prefix);
                    out.sources
                        .entry(k.clone())
                        .or_default()
                        .insert(key.clone());
                    match merged.get_mut(&k) {
                        Some(a) => merge_attrs(a, &c.route.attrs),
                        None => {
                            merged.insert(k, c.route.attrs);
                        }
                    }
                }
                out.events.entry(key.clone()).or_default().push(Event {
                    type_: EventType::Normal,
                    reason: "nodeAssigned".into(),
                    message: format!("announcing from node {node:?} with protocol \"bgp\""),
                });
                out.announced.insert(key.clone(), ips);
            }
            ServiceDecision::Withdrawn(v) => out.not_announced.extend(v),
        }
    }
    for ((peer, prefix), attrs) in merged {
        out.routes
            .entry(peer)
            .or_default()
            .insert(Route::with_attrs(prefix, attrs));
    }
    out
}

/// Merges `b` into `a` (see the module docs).
pub fn merge_attrs(a: &mut RouteAttrs, b: &RouteAttrs) {
    a.communities.extend(b.communities.iter().copied());
    a.communities.sort();
    a.communities.dedup();
    a.large_communities
        .extend(b.large_communities.iter().copied());
    a.large_communities.sort();
    a.large_communities.dedup();
    a.extended_communities
        .extend(b.extended_communities.iter().copied());
    a.extended_communities.sort();
    a.extended_communities.dedup();
    a.local_pref = a.local_pref.max(b.local_pref);
    a.med = match (a.med, b.med) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    a.as_path_prepend = a.as_path_prepend.min(b.as_path_prepend);
    if a.next_hop.is_none() {
        a.next_hop = b.next_hop;
    }
}

/// Decides one service on one node. `peers` are the names of the peers that
/// select the node ([`peers_for_node`]); `ips` the service's IPs. Costs time
/// proportional to the service (its IPs, endpoints and matching
/// advertisements).
pub fn announce_service(
    config: &Config,
    world: &World,
    node: &str,
    peers: &[String],
    svc: &Service,
    ips: &[IpAddr],
    opts: &AnnounceOptions,
) -> ServiceDecision {
    let key = ObjectKey::of(&svc.metadata);
    let withdraw_all = |reason: &str, message: Option<String>| {
        let entries = if ips.is_empty() {
            vec![NotAnnounced {
                service: key.clone(),
                ip: None,
                reason: reason.to_owned(),
                message: message.clone(),
            }]
        } else {
            ips.iter()
                .map(|ip| NotAnnounced {
                    service: key.clone(),
                    ip: Some(*ip),
                    reason: reason.to_owned(),
                    message: message.clone(),
                })
                .collect()
        };
        ServiceDecision::Withdrawn(entries)
    };

    if !is_load_balancer(svc) {
        return withdraw_all("notLoadBalancer", None);
    }
    if !handles_class(svc, opts.lb_class.as_deref()) {
        return withdraw_all("loadBalancerClass", None);
    }
    if ips.is_empty() {
        return withdraw_all("noIPAllocated", None);
    }
    let Some(pool) = pool_for(config, ips) else {
        return withdraw_all("ipNotAllowed", None);
    };

    // 1. advertisements of the pool that select this node.
    let node_labels = world.node_labels(node);
    let node_ads: Vec<&Advertisement> = config
        .advertisements
        .iter()
        .filter(|a| a.selects_pool(pool) && any_matches(&a.node_selectors, node_labels))
        .collect();
    if node_ads.is_empty() {
        return withdraw_all("notOwner", None);
    }
    // 2. ... that match the service.
    let svc_labels = labels(&svc.metadata);
    let ads: Vec<&Advertisement> = node_ads
        .into_iter()
        .filter(|a| any_matches(&a.service_selectors, svc_labels))
        .collect();
    if ads.is_empty() {
        return withdraw_all("noMatchingAdvertisement", None);
    }
    // Per-service attributes.
    let extra = match service_attrs(config, svc) {
        Ok(x) => x,
        Err(e) => return withdraw_all("invalidAnnotation", Some(e)),
    };
    // 3. routes, with the LOCAL_PREF agreement check.
    let mut routes: BTreeMap<(String, IpNet), (RouteAttrs, Option<u32>)> = BTreeMap::new();
    for ip in ips {
        for ad in &ads {
            let len = if ip.is_ipv4() {
                ad.aggregation_length
            } else {
                ad.aggregation_length_v6
            };
            let Ok(prefix) = IpNet::new(*ip, len) else {
                continue;
            };
            let prefix = prefix.trunc();
            let targets = peers
                .iter()
                .filter(|p| ad.peers.is_empty() || ad.peers.contains(p));
            for peer in targets {
                let (attrs, ad_pref) = routes
                    .entry((peer.clone(), prefix))
                    .or_insert_with(|| (RouteAttrs::default(), None));
                if let (Some(old), Some(new)) = (*ad_pref, ad.local_pref) {
                    if old != new {
                        let msg = format!(
                            "advertisements disagree on localPref for {prefix} to peer {peer}: {old} vs {new}"
                        );
                        return withdraw_all("conflictingAdvertisements", Some(msg));
                    }
                }
                *ad_pref = ad_pref.or(ad.local_pref);
                for c in &ad.communities {
                    match c {
                        CommunityValue::Standard(s) => attrs.communities.push(*s),
                        CommunityValue::Large(l) => attrs.large_communities.push(*l),
                    }
                }
            }
        }
    }
    // 4. node state.
    let node_obj = world.node(node);
    if opts.withdraw_unschedulable
        && node_obj
            .and_then(|n| n.spec.as_ref())
            .and_then(|s| s.unschedulable)
            .unwrap_or(false)
    {
        return withdraw_all("nodeUnschedulable", None);
    }
    if node_obj.and_then(|n| node_condition(n, "NetworkUnavailable")) == Some("True") {
        return withdraw_all("nodeNetworkUnavailable", None);
    }
    if !opts.ignore_exclude_lb && node_labels.contains_key(EXCLUDE_LB_LABEL) {
        return withdraw_all("nodeLabeledExcludeBalancers", None);
    }
    // 5. endpoints.
    if is_local(svc) && !has_healthy_endpoint(world, &key, Some(node)) {
        return withdraw_all("noLocalEndpoints", None);
    }
    if !has_healthy_endpoint(world, &key, None) {
        return withdraw_all("noEndpoints", None);
    }

    let routes = routes
        .into_iter()
        .map(|((peer, prefix), (mut attrs, ad_pref))| {
            attrs.local_pref = extra.local_pref.or(ad_pref);
            attrs.communities.extend(extra.communities.iter().copied());
            attrs.communities.sort();
            attrs.communities.dedup();
            attrs
                .large_communities
                .extend(extra.large_communities.iter().copied());
            attrs.large_communities.sort();
            attrs.large_communities.dedup();
            attrs.med = extra.med;
            attrs.as_path_prepend = extra.as_path_prepend;
            Contribution {
                peer,
                route: Route::with_attrs(prefix, attrs),
            }
        })
        .collect();
    ServiceDecision::Announced {
        ips: ips.to_vec(),
        routes,
    }
}

/// MetalLB's `EndpointCanServe`.
fn can_serve(c: Option<&EndpointConditions>) -> bool {
    let Some(c) = c else {
        return true;
    };
    c.ready.is_none_or(|r| r) || c.serving == Some(true)
}

/// MetalLB's `hasHealthyEndpoint`: some endpoint address (on `node` when
/// given) can serve, where any not-serving report for an address wins.
pub fn has_healthy_endpoint(world: &World, service: &ObjectKey, node: Option<&str>) -> bool {
    let mut ready: BTreeMap<&str, bool> = BTreeMap::new();
    for slice in world.endpoint_slices_for(service) {
        for ep in slice.endpoints.iter().flatten() {
            if let Some(n) = node {
                if ep.node_name.as_deref() != Some(n) {
                    continue;
                }
            }
            let ok = can_serve(ep.conditions.as_ref());
            for addr in &ep.addresses {
                if ok {
                    ready.entry(addr.as_str()).or_insert(true);
                } else {
                    ready.insert(addr.as_str(), false);
                }
            }
        }
    }
    ready.values().any(|r| *r)
}
