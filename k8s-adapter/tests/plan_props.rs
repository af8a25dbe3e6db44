//! Property tests over random worlds: announced prefixes come from
//! allocated IPs, `externalTrafficPolicy: Local` is only announced from
//! nodes with a ready endpoint, allocations respect pools and sharing, and
//! the plan does not depend on the order objects are loaded in.
// Tests: unwrap/indexing on generated data is fine.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "plan_common.rs"]
mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;

use common::{adv, config, peer, pool, sel};
use ipnet::IpNet;
use k8s_adapter::config::Config;
use k8s_adapter::objects;
use k8s_adapter::plan::{PlanOptions, plan, plan_report};
use k8s_adapter::world::{ObjectKey, World};
use proptest::prelude::*;
use serde_json::{Value, json};

const NODES: [&str; 3] = ["n0", "n1", "n2"];
const STATUS_IPS: [&str; 6] = [
    "10.0.0.1", "10.0.0.2", "10.0.1.1", "10.9.9.9", "fd00::3", "10.0.1.0",
];

fn prop_config() -> Config {
    let mut b = pool("p-b", &["10.0.1.0/29"]);
    b.avoid_buggy_ips = true;
    let mut team = pool("p-team", &["10.0.2.0/30"]);
    team.allocation = Some(k8s_adapter::config::ServiceAllocation {
        namespaces: vec!["team".into()],
        ..common::alloc(1)
    });
    let mut r2 = peer("peer-2", "192.0.2.2", 64512, 64512);
    r2.node_selectors = vec![sel(&[("rack", "r2")])];
    let mut a30 = adv("agg30", &["p-a"]);
    a30.aggregation_length = 30;
    a30.peers = vec!["peer-2".into()];
    let mut rack = adv("rack1", &["p-b", "p-v6"]);
    rack.node_selectors = vec![sel(&[("rack", "r1")])];
    let mut v6 = adv("v6-agg", &["p-v6"]);
    v6.aggregation_length_v6 = 120;
    config(
        vec![
            pool("p-a", &["10.0.0.0/28"]),
            b,
            team,
            pool("p-v6", &["fd00::/124"]),
        ],
        vec![peer("peer-1", "192.0.2.1", 64500, 64512), r2],
        vec![adv("host", &[]), a30, rack, v6],
    )
}

#[derive(Clone, Debug)]
struct SvcSpec {
    ns_team: bool,
    local: bool,
    v6: bool,
    share: Option<u8>,
    port: (u16, bool),
    status: Option<usize>,
    endpoints: Vec<(usize, Option<bool>, Option<bool>)>,
}

fn svc_spec() -> impl Strategy<Value = SvcSpec> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::option::of(0u8..2),
        (prop::sample::select(vec![53u16, 80, 443]), any::<bool>()),
        prop::option::of(0usize..STATUS_IPS.len()),
        prop::collection::vec(
            (
                0usize..NODES.len(),
                prop::option::of(any::<bool>()),
                prop::option::of(any::<bool>()),
            ),
            0..4,
        ),
    )
        .prop_map(
            |(ns_team, local, v6, share, port, status, endpoints)| SvcSpec {
                ns_team,
                local,
                v6,
                share,
                port,
                status,
                endpoints,
            },
        )
}

/// Objects as JSON values: nodes, namespaces, services, slices.
fn objects(specs: &[SvcSpec], racks: &[bool]) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, n) in NODES.iter().enumerate() {
        let rack = if racks[i] { "r1" } else { "r2" };
        out.push(json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": n, "labels": {"kubernetes.io/hostname": n, "rack": rack}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}));
    }
    for ns in ["default", "team"] {
        out.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
    }
    for (i, s) in specs.iter().enumerate() {
        let name = format!("svc-{i}");
        let ns = if s.ns_team { "team" } else { "default" };
        let mut ann = serde_json::Map::new();
        if let Some(k) = s.share {
            ann.insert(
                "metallb.io/allow-shared-ip".into(),
                json!(format!("key-{k}")),
            );
        }
        let cluster_ip = if s.v6 {
            format!("fd00:96::{i:x}")
        } else {
            format!("10.96.0.{i}")
        };
        let ingress: Vec<Value> = s
            .status
            .map(|k| json!({"ip": STATUS_IPS[k]}))
            .into_iter()
            .collect();
        out.push(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "annotations": ann, "labels": {"app": name}},
            "spec": {"type": "LoadBalancer", "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
                     "externalTrafficPolicy": if s.local { "Local" } else { "Cluster" },
                     "selector": {"app": name},
                     "ports": [{"port": s.port.0, "protocol": if s.port.1 { "UDP" } else { "TCP" }}]},
            "status": {"loadBalancer": {"ingress": ingress}}}));
        let eps: Vec<Value> = s
            .endpoints
            .iter()
            .enumerate()
            .map(|(j, (node, ready, serving))| {
                let mut cond = serde_json::Map::new();
                if let Some(r) = ready {
                    cond.insert("ready".into(), json!(r));
                }
                if let Some(sv) = serving {
                    cond.insert("serving".into(), json!(sv));
                }
                json!({"addresses": [format!("10.244.{i}.{j}")], "nodeName": NODES[*node], "conditions": cond})
            })
            .collect();
        out.push(json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": format!("{name}-abcde"), "namespace": ns,
                         "labels": {"kubernetes.io/service-name": name}},
            "endpoints": eps}));
    }
    out
}

fn build(values: &[Value]) -> World {
    let mut w = World::new();
    for v in values {
        match v["kind"].as_str().unwrap() {
            "Node" => w.upsert_node(serde_json::from_value(v.clone()).unwrap()),
            "Namespace" => w.upsert_namespace(serde_json::from_value(v.clone()).unwrap()),
            "Service" => w.upsert_service(serde_json::from_value(v.clone()).unwrap()),
            _ => w.upsert_endpoint_slice(serde_json::from_value(v.clone()).unwrap()),
        }
    }
    w
}

fn can_serve(ready: Option<bool>, serving: Option<bool>) -> bool {
    ready.is_none_or(|r| r) || serving == Some(true)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn plan_invariants(
        specs in prop::collection::vec(svc_spec(), 0..10),
        racks in prop::collection::vec(any::<bool>(), NODES.len()),
        node in 0usize..NODES.len(),
        rotate in 0usize..64,
    ) {
        let cfg = prop_config();
        let values = objects(&specs, &racks);
        let w = build(&values);
        let node_name = NODES[node];
        let p = plan(&cfg, &w, node_name, &PlanOptions::default());
        let allocs = p.allocations.as_ref().unwrap();
        let by_key: BTreeMap<&ObjectKey, _> = allocs.services.iter().map(|o| (&o.key, o)).collect();

        // Allocations stay inside their pool; a shared IP has one sharing
        // key and disjoint ports.
        let mut users: BTreeMap<IpAddr, Vec<usize>> = BTreeMap::new();
        for (i, s) in specs.iter().enumerate() {
            let ns = if s.ns_team { "team" } else { "default" };
            let o = by_key[&ObjectKey::new(ns, format!("svc-{i}"))];
            if let Some(pool) = &o.pool {
                for ip in &o.ips {
                    prop_assert!(cfg.pools[pool].cidrs.iter().any(|c| c.contains(ip)), "{ip} outside {pool}");
                    users.entry(*ip).or_default().push(i);
                }
            }
        }
        for (ip, list) in &users {
            if list.len() > 1 {
                let first = &specs[list[0]];
                for &j in list {
                    prop_assert!(specs[j].share.is_some() && specs[j].share == first.share, "{ip} shared without a common key");
                }
                let mut ports: Vec<_> = list.iter().map(|&j| specs[j].port).collect();
                ports.sort();
                ports.dedup();
                prop_assert_eq!(ports.len(), list.len(), "{} shared with clashing ports", ip);
            }
        }

        // Announced prefixes ⊆ allocated IPs masked to a configured length.
        let lens: Vec<u8> = cfg.advertisements.iter().flat_map(|a| [a.aggregation_length, a.aggregation_length_v6]).collect();
        for routes in p.announcements.routes.values() {
            for r in routes {
                let covered = p.announcements.announced.iter().any(|(k, ips)| {
                    ips.iter().any(|ip| {
                        by_key[k].ips.contains(ip)
                            && lens.contains(&r.prefix.prefix_len())
                            && IpNet::new(*ip, r.prefix.prefix_len()).ok().map(|n| n.trunc()) == Some(r.prefix)
                    })
                });
                prop_assert!(covered, "{} is no allocated IP", r.prefix);
            }
        }

        // Local ⇒ a ready (or serving) endpoint on this node.
        for (i, s) in specs.iter().enumerate() {
            let ns = if s.ns_team { "team" } else { "default" };
            let key = ObjectKey::new(ns, format!("svc-{i}"));
            if s.local && p.announcements.announced.contains_key(&key) {
                let here = s.endpoints.iter().any(|(n, r, sv)| *n == node && can_serve(*r, *sv));
                prop_assert!(here, "{} announced from {} without a local endpoint", key, node_name);
            }
            if !s.endpoints.iter().any(|(_, r, sv)| can_serve(*r, *sv)) {
                prop_assert!(!p.announcements.announced.contains_key(&key), "{} announced without endpoints", key);
            }
        }

        // Independent of input order: rotated objects, and a YAML
        // round trip of the reversed list.
        let report = plan_report(&cfg, &w, node_name);
        let mut rotated = values.clone();
        if !rotated.is_empty() {
            let k = rotate % rotated.len();
            rotated.rotate_left(k);
        }
        prop_assert_eq!(&plan_report(&cfg, &build(&rotated), node_name), &report);
        let yaml: String = values
            .iter()
            .rev()
            .map(|v| format!("---\n{}", serde_yaml::to_string(v).unwrap()))
            .collect();
        let from_yaml = objects::load_str(&yaml).unwrap();
        prop_assert_eq!(&plan_report(&cfg, &from_yaml, node_name), &report);
    }
}
