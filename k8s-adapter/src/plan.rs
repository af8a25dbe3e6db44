//! The `plan` report: what the adapter would allocate and announce from one
//! node, as JSON. The schema is documented in `docs/plan.md`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use bgp_session::{NextHopOverride, Route};
use serde_json::{Value, json};

use crate::allocate::{AllocateOptions, Allocations, ServiceOutcome, allocate};
use crate::announce::{
    AnnounceOptions, NodeAnnouncements, announce, ips_from_allocations, ips_from_status,
};
use crate::config::{Config, PasswordSource, Peer, PeerAsn};
use crate::world::{EXCLUDE_LB_LABEL, ObjectKey, World, node_condition};

/// Options of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanOptions {
    /// `--lb-class`.
    pub lb_class: Option<String>,
    /// `--ignore-exclude-lb`.
    pub ignore_exclude_lb: bool,
    /// Withdraw from cordoned nodes (default true).
    pub withdraw_unschedulable: bool,
    /// Do not allocate: announce the IPs each Service's status already holds
    /// (speaker-only mode, another controller allocates).
    pub speaker_only: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            lb_class: None,
            ignore_exclude_lb: false,
            withdraw_unschedulable: true,
            speaker_only: false,
        }
    }
}

impl PlanOptions {
    /// The allocator's options.
    pub fn allocate_options(&self) -> AllocateOptions {
        AllocateOptions {
            lb_class: self.lb_class.clone(),
        }
    }

    /// The announcement options.
    pub fn announce_options(&self) -> AnnounceOptions {
        AnnounceOptions {
            lb_class: self.lb_class.clone(),
            ignore_exclude_lb: self.ignore_exclude_lb,
            withdraw_unschedulable: self.withdraw_unschedulable,
        }
    }
}

/// A computed plan: allocations (absent in speaker-only mode) and the node's
/// announcements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The allocator's decisions.
    pub allocations: Option<Allocations>,
    /// What the node announces.
    pub announcements: NodeAnnouncements,
}

/// Allocates (unless speaker-only) and decides announcements for `node`.
/// This is what the standalone mode runs: feed
/// `plan.announcements.route_table(config)` to the speaker.
pub fn plan(config: &Config, world: &World, node: &str, opts: &PlanOptions) -> Plan {
    if opts.speaker_only {
        let ips = ips_from_status(world);
        let announcements = announce(config, world, node, &ips, &opts.announce_options());
        return Plan {
            allocations: None,
            announcements,
        };
    }
    let allocations = allocate(config, world, &opts.allocate_options());
    let ips = ips_from_allocations(&allocations);
    let announcements = announce(config, world, node, &ips, &opts.announce_options());
    Plan {
        allocations: Some(allocations),
        announcements,
    }
}

/// The `plan` JSON report for `node` with default options.
pub fn plan_report(config: &Config, world: &World, node: &str) -> Value {
    plan_report_with(config, world, node, &PlanOptions::default())
}

/// The `plan` JSON report for `node`.
pub fn plan_report_with(config: &Config, world: &World, node: &str, opts: &PlanOptions) -> Value {
    let p = plan(config, world, node, opts);
    report(config, world, &p)
}

/// Renders a computed [`Plan`] as the `plan` JSON report.
pub fn report(config: &Config, world: &World, plan: &Plan) -> Value {
    let ann = &plan.announcements;
    json!({
        "node": node_json(world, &ann.node),
        "services": services_json(world, plan),
        "announcements": announcements_json(ann),
        "not_announced": ann.not_announced.iter().map(|n| {
            let mut v = json!({
                "service": n.service.to_string(),
                "ip": n.ip.map(|ip| ip.to_string()),
                "reason": n.reason,
            });
            if let (Some(m), Value::Object(o)) = (&n.message, &mut v) {
                o.insert("message".into(), json!(m));
            }
            v
        }).collect::<Vec<_>>(),
        "sessions": sessions_json(config, ann),
        "pools": plan.allocations.as_ref().map(|a| {
            a.pools.iter().map(|(name, c)| (name.clone(), json!(c))).collect::<serde_json::Map<_, _>>()
        }),
    })
}

fn node_json(world: &World, node: &str) -> Value {
    let n = world.node(node);
    json!({
        "name": node,
        "found": n.is_some(),
        "labels": world.node_labels(node),
        "unschedulable": n.and_then(|n| n.spec.as_ref()).and_then(|s| s.unschedulable).unwrap_or(false),
        "network_unavailable": n.and_then(|n| node_condition(n, "NetworkUnavailable")) == Some("True"),
        "excluded_from_load_balancers": world.node_labels(node).contains_key(EXCLUDE_LB_LABEL),
    })
}

fn ips_json(ips: &[IpAddr]) -> Value {
    json!(ips.iter().map(ToString::to_string).collect::<Vec<_>>())
}

fn services_json(world: &World, plan: &Plan) -> Value {
    let ann = &plan.announcements;
    let by_key: BTreeMap<&ObjectKey, &ServiceOutcome> = plan
        .allocations
        .iter()
        .flat_map(|a| a.services.iter())
        .map(|s| (&s.key, s))
        .collect();
    let mut out = Vec::new();
    for (key, svc) in world.services() {
        let mut v = serde_json::Map::new();
        v.insert("namespace".into(), json!(key.namespace));
        v.insert("name".into(), json!(key.name));
        let mut events: Vec<Value> = Vec::new();
        match by_key.get(key) {
            Some(o) => {
                v.insert("ips".into(), ips_json(&o.ips));
                v.insert("pool".into(), json!(o.pool));
                if let Some(r) = &o.reason {
                    v.insert("reason".into(), json!(r));
                }
                if let Some(m) = &o.message {
                    v.insert("message".into(), json!(m));
                }
                v.insert("handled".into(), json!(o.handled));
                v.insert("status_changed".into(), json!(o.status_changed));
                if let Some(p) = &o.pool {
                    v.insert(
                        "annotations".into(),
                        json!({ crate::allocate::service::ANNOTATION_IP_ALLOCATED_FROM_POOL: p }),
                    );
                }
                events.extend(o.events.iter().map(|e| json!(e)));
            }
            None => {
                let ips = crate::allocate::service::ingress_ips(svc).unwrap_or_default();
                v.insert("ips".into(), ips_json(&ips));
                let pool = crate::world::annotations(&svc.metadata)
                    .get(crate::allocate::service::ANNOTATION_IP_ALLOCATED_FROM_POOL);
                v.insert("pool".into(), json!(pool));
            }
        }
        events.extend(ann.events.get(key).into_iter().flatten().map(|e| json!(e)));
        v.insert("announced".into(), json!(ann.announced.contains_key(key)));
        if !events.is_empty() {
            v.insert("events".into(), Value::Array(events));
        }
        out.push(Value::Object(v));
    }
    Value::Array(out)
}

fn route_json(peer: &str, r: &Route, services: Vec<String>) -> Value {
    let a = &r.attrs;
    let mut v = json!({
        "peer": peer,
        "prefix": r.prefix.to_string(),
        "communities": a.communities.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "large_communities": a.large_communities.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "local_pref": a.local_pref,
        "med": a.med,
        "as_path_prepend": a.as_path_prepend,
        "services": services,
    });
    if let (Some(nh), Value::Object(o)) = (a.next_hop, &mut v) {
        let text = match nh {
            NextHopOverride::Address(ip) => ip.to_string(),
            NextHopOverride::Ipv6WithLinkLocal { global, link_local } => {
                format!("{global} {link_local}")
            }
        };
        o.insert("next_hop".into(), json!(text));
    }
    v
}

fn announcements_json(ann: &NodeAnnouncements) -> Value {
    let mut out = Vec::new();
    for (peer, routes) in &ann.routes {
        for r in routes {
            let services = ann
                .sources
                .get(&(peer.clone(), r.prefix))
                .into_iter()
                .flatten()
                .map(ToString::to_string)
                .collect();
            out.push(route_json(peer, r, services));
        }
    }
    Value::Array(out)
}

fn asn_json(p: &Peer) -> Value {
    match p.peer_asn {
        PeerAsn::Asn(n) => json!(n),
        PeerAsn::Internal => json!("internal"),
        PeerAsn::External => json!("external"),
    }
}

fn sessions_json(config: &Config, ann: &NodeAnnouncements) -> Value {
    let mut out = Vec::new();
    for name in &ann.peers {
        let Some(p) = config.peers.get(name) else {
            continue;
        };
        let ibgp = match p.peer_asn {
            PeerAsn::Asn(n) => n == p.my_asn,
            PeerAsn::Internal => true,
            PeerAsn::External => false,
        };
        out.push(json!({
            "peer": p.name,
            "address": p.address.to_string(),
            "port": p.port,
            "asn": asn_json(p),
            "my_asn": p.my_asn,
            "ibgp": ibgp,
            "source_address": p.source_address.map(|a| a.to_string()),
            "router_id": p.router_id.map(|a| a.to_string()),
            "hold_time": p.hold_time.as_secs(),
            "keepalive_time": p.keepalive_time.map(|d| d.as_secs()),
            "connect_time": p.connect_time.map(|d| d.as_secs()),
            "password": match &p.password {
                None => Value::Null,
                Some(PasswordSource::Inline(_)) => json!("inline"),
                Some(PasswordSource::Secret { .. }) => json!("secret"),
            },
            "bfd_profile": p.bfd_profile,
            "graceful_restart": p.graceful_restart,
            "ebgp_multihop": p.ebgp_multihop,
            "vrf": p.vrf,
            "routes": ann.routes.get(name).map_or(0, std::collections::BTreeSet::len),
        }));
    }
    Value::Array(out)
}
