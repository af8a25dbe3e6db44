//! The incremental planner equals a full recompute: random worlds, random
//! sequences of Service / EndpointSlice changes, and after every step the
//! planner's announcements (and the routes obtained by applying every
//! returned delta in turn) equal `announce` over the whole world.
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

use std::collections::{BTreeMap, BTreeSet};

use bgp_session::Route;
use ipnet::IpNet;
use k8s_adapter::allocate::{AllocateOptions, allocate};
use k8s_adapter::announce::{AnnounceOptions, announce, ips_from_allocations, ips_from_status};
use k8s_adapter::incremental::{IpSource, NodePlanner, RouteDelta};
use k8s_adapter::world::{ObjectKey, World};
use proptest::prelude::*;
use serde_json::{Value, json};

const NODES: [&str; 3] = ["n0", "n1", "n2"];
/// Status IPs across the pools of `announce_config`: plain /32s, an
/// aggregated /24 shared by several services, a rack-only pool, conflicting
/// local prefs, a selector pool, IPv6, and one outside every pool.
const IPS: [&str; 10] = [
    "192.168.10.1",
    "192.168.10.2",
    "192.168.30.1",
    "192.168.30.2",
    "192.168.40.1",
    "192.168.50.1",
    "192.168.60.1",
    "fd00:20::1",
    "fd00:20::2",
    "10.9.9.9",
];

#[derive(Clone, Debug)]
struct Svc {
    present: bool,
    slice: bool,
    local: bool,
    gold: bool,
    ip: Option<usize>,
    community: Option<u8>,
    endpoints: Vec<(usize, Option<bool>, Option<bool>)>,
}

#[derive(Clone, Debug)]
enum Op {
    Ready(usize, usize, Option<bool>, Option<bool>),
    Move(usize, usize, usize),
    AddEndpoint(usize, usize),
    Ip(usize, Option<usize>),
    Local(usize),
    Gold(usize),
    Community(usize, Option<u8>),
    Present(usize),
    Slice(usize),
}

fn svc() -> impl Strategy<Value = Svc> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::option::of(0..IPS.len()),
        prop::collection::vec(
            (
                0..NODES.len(),
                prop::option::of(any::<bool>()),
                prop::option::of(any::<bool>()),
            ),
            0..3,
        ),
    )
        .prop_map(|(local, gold, ip, endpoints)| Svc {
            present: true,
            slice: true,
            local,
            gold,
            ip,
            community: None,
            endpoints,
        })
}

fn op(n: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..n, 0..3usize, prop::option::of(any::<bool>()), prop::option::of(any::<bool>()))
            .prop_map(|(s, e, r, sv)| Op::Ready(s, e, r, sv)),
        2 => (0..n, 0..3usize, 0..NODES.len()).prop_map(|(s, e, nd)| Op::Move(s, e, nd)),
        1 => (0..n, 0..NODES.len()).prop_map(|(s, nd)| Op::AddEndpoint(s, nd)),
        2 => (0..n, prop::option::of(0..IPS.len())).prop_map(|(s, ip)| Op::Ip(s, ip)),
        1 => (0..n).prop_map(Op::Local),
        1 => (0..n).prop_map(Op::Gold),
        1 => (0..n, prop::option::of(0u8..3)).prop_map(|(s, c)| Op::Community(s, c)),
        1 => (0..n).prop_map(Op::Present),
        1 => (0..n).prop_map(Op::Slice),
    ]
}

fn service_json(i: usize, s: &Svc) -> Value {
    let name = format!("svc-{i}");
    let mut ann = serde_json::Map::new();
    if let Some(c) = s.community {
        ann.insert("bgp-k8s.io/communities".into(), json!(format!("65010:{c}")));
    }
    let labels = if s.gold {
        json!({"app": name, "tier": "gold"})
    } else {
        json!({"app": name})
    };
    let ingress: Vec<Value> = s.ip.map(|k| json!({"ip": IPS[k]})).into_iter().collect();
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default", "annotations": ann, "labels": labels},
        "spec": {"type": "LoadBalancer", "clusterIP": format!("10.96.0.{i}"),
                 "externalTrafficPolicy": if s.local { "Local" } else { "Cluster" },
                 "ports": [{"port": 80, "protocol": "TCP"}]},
        "status": {"loadBalancer": {"ingress": ingress}}})
}

fn slice_json(i: usize, s: &Svc) -> Value {
    let name = format!("svc-{i}");
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
            // Two endpoints share an address so "not serving anywhere wins" matters.
            json!({"addresses": [format!("10.244.{i}.{}", j % 2)], "nodeName": NODES[*node], "conditions": cond})
        })
        .collect();
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": format!("{name}-abcde"), "namespace": "default",
                     "labels": {"kubernetes.io/service-name": name}},
        "endpoints": eps})
}

fn node_world(racks: &[bool]) -> World {
    let mut w = World::new();
    for (i, n) in NODES.iter().enumerate() {
        let rack = if racks[i] { "r1" } else { "r2" };
        w.upsert_node(
            serde_json::from_value(json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": n, "labels": {"kubernetes.io/hostname": n, "rack": rack}}}))
            .unwrap(),
        );
    }
    w
}

/// Writes service `i` (and its slice) into `w` as `s` says.
fn put(w: &mut World, i: usize, s: &Svc) {
    let key = ObjectKey::new("default", format!("svc-{i}"));
    let slice_key = ObjectKey::new("default", format!("svc-{i}-abcde"));
    if s.present {
        w.upsert_service(serde_json::from_value(service_json(i, s)).unwrap());
    } else {
        w.remove_service(&key);
    }
    if s.slice {
        w.upsert_endpoint_slice(serde_json::from_value(slice_json(i, s)).unwrap());
    } else {
        w.remove_endpoint_slice(&slice_key);
    }
}

fn apply_op(specs: &mut [Svc], op: &Op) -> usize {
    match *op {
        Op::Ready(s, e, r, sv) => {
            if let Some(ep) = specs[s].endpoints.get_mut(e) {
                ep.1 = r;
                ep.2 = sv;
            }
            s
        }
        Op::Move(s, e, n) => {
            if let Some(ep) = specs[s].endpoints.get_mut(e) {
                ep.0 = n;
            }
            s
        }
        Op::AddEndpoint(s, n) => {
            if specs[s].endpoints.len() < 4 {
                specs[s].endpoints.push((n, Some(true), None));
            } else {
                specs[s].endpoints.remove(0);
            }
            s
        }
        Op::Ip(s, ip) => {
            specs[s].ip = ip;
            s
        }
        Op::Local(s) => {
            specs[s].local = !specs[s].local;
            s
        }
        Op::Gold(s) => {
            specs[s].gold = !specs[s].gold;
            s
        }
        Op::Community(s, c) => {
            specs[s].community = c;
            s
        }
        Op::Present(s) => {
            specs[s].present = !specs[s].present;
            s
        }
        Op::Slice(s) => {
            specs[s].slice = !specs[s].slice;
            s
        }
    }
}

fn apply_delta(routes: &mut BTreeMap<String, BTreeMap<IpNet, Route>>, d: &RouteDelta) {
    for ((peer, prefix), r) in &d.changes {
        match r {
            Some(r) => {
                routes
                    .entry(peer.clone())
                    .or_default()
                    .insert(*prefix, r.clone());
            }
            None => {
                let m = routes.get_mut(peer).unwrap();
                assert!(m.remove(prefix).is_some(), "withdrew what was not there");
                if m.is_empty() {
                    routes.remove(peer);
                }
            }
        }
    }
}

fn as_sets(routes: &BTreeMap<String, BTreeMap<IpNet, Route>>) -> BTreeMap<String, BTreeSet<Route>> {
    routes
        .iter()
        .map(|(p, m)| (p.clone(), m.values().cloned().collect()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Speaker-only IPs (from the Service status); changes named explicitly,
    /// as a watch event names its object.
    #[test]
    fn incremental_equals_full_recompute(
        specs in prop::collection::vec(svc(), 8),
        racks in prop::collection::vec(any::<bool>(), NODES.len()),
        node in 0..NODES.len(),
        ops in prop::collection::vec(op(8), 1..40),
    ) {
        let cfg = common::announce_config();
        let opts = AnnounceOptions::default();
        let node = NODES[node];
        let mut specs = specs;
        let mut w = node_world(&racks);
        for (i, s) in specs.iter().enumerate() {
            put(&mut w, i, s);
        }
        let mut planner = NodePlanner::new(&cfg, &w, node, IpSource::Status, &opts);
        let mut applied = planner.routes().clone();
        prop_assert_eq!(
            planner.announcements(),
            announce(&cfg, &w, node, &ips_from_status(&w), &opts)
        );
        for op in &ops {
            let i = apply_op(&mut specs, op);
            put(&mut w, i, &specs[i]);
            let key = ObjectKey::new("default", format!("svc-{i}"));
            let delta = planner.update(&w, IpSource::Status, [&key]);
            apply_delta(&mut applied, &delta);
            let full = announce(&cfg, &w, node, &ips_from_status(&w), &opts);
            prop_assert_eq!(&as_sets(&applied), &full.routes);
            prop_assert_eq!(planner.announcements(), full);
        }
    }

    /// Allocated IPs, changes found by diffing the old and new worlds
    /// (what standalone mode does after reloading its files).
    #[test]
    fn incremental_from_world_diff_equals_full_recompute(
        specs in prop::collection::vec(svc(), 8),
        racks in prop::collection::vec(any::<bool>(), NODES.len()),
        node in 0..NODES.len(),
        ops in prop::collection::vec(op(8), 1..30),
    ) {
        let cfg = common::announce_config();
        let opts = AnnounceOptions::default();
        let node = NODES[node];
        let mut specs = specs;
        let mut w = node_world(&racks);
        for (i, s) in specs.iter().enumerate() {
            put(&mut w, i, s);
        }
        let mut ips = ips_from_allocations(&allocate(&cfg, &w, &AllocateOptions::default()));
        let mut planner = NodePlanner::new(&cfg, &w, node, IpSource::Allocated(&ips), &opts);
        let mut applied = planner.routes().clone();
        for chunk in ops.chunks(3) {
            let old = w.clone();
            for op in chunk {
                let i = apply_op(&mut specs, op);
                put(&mut w, i, &specs[i]);
            }
            let diff = old.diff(&w);
            let new_ips = ips_from_allocations(&allocate(&cfg, &w, &AllocateOptions::default()));
            let mut changed = diff.affected_services();
            for k in ips.keys().chain(new_ips.keys()) {
                if ips.get(k) != new_ips.get(k) {
                    changed.insert(k.clone());
                }
            }
            ips = new_ips;
            let delta = planner.update(&w, IpSource::Allocated(&ips), &changed);
            apply_delta(&mut applied, &delta);
            let full = announce(&cfg, &w, node, &ips, &opts);
            prop_assert_eq!(&as_sets(&applied), &full.routes);
            prop_assert_eq!(planner.announcements(), full);
        }
    }
}

/// The diff names exactly the objects that changed.
#[test]
fn world_diff_names_changed_objects() {
    let s = Svc {
        present: true,
        slice: true,
        local: false,
        gold: false,
        ip: Some(0),
        community: None,
        endpoints: vec![(0, Some(true), None)],
    };
    let mut w = node_world(&[true, false, true]);
    for i in 0..3 {
        put(&mut w, i, &s);
    }
    let old = w.clone();
    assert!(old.diff(&w).is_empty());
    let mut s1 = s.clone();
    s1.endpoints[0].1 = Some(false);
    put(&mut w, 1, &s1);
    let d = old.diff(&w);
    assert!(d.services.is_empty());
    assert_eq!(
        d.endpoints,
        BTreeSet::from([ObjectKey::new("default", "svc-1")])
    );
    let mut s2 = s;
    s2.present = false;
    put(&mut w, 2, &s2);
    let d = old.diff(&w);
    assert_eq!(
        d.services,
        BTreeSet::from([ObjectKey::new("default", "svc-2")])
    );
    assert_eq!(d.affected_services().len(), 2);
}
