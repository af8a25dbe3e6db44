//! Announcement scenarios and the `plan` report over `kubectl get -o yaml`
//! fixtures (tests/fixtures/objects/cluster.yaml, announce-services.yaml,
//! announce-endpointslices.yaml).
// Tests: unwrap/indexing on known fixtures is fine.
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

use bgp_proto::attribute::{Community, LargeCommunity};
use bgp_session::Route;
use common::{announce_config, world};
use ipnet::IpNet;
use k8s_adapter::plan::{Plan, PlanOptions, plan, plan_report, plan_report_with};
use k8s_adapter::world::{ObjectKey, World};

fn announce_world() -> World {
    world(&[
        "cluster.yaml",
        "announce-services.yaml",
        "announce-endpointslices.yaml",
    ])
}

fn run(node: &str, opts: &PlanOptions) -> Plan {
    plan(&announce_config(), &announce_world(), node, opts)
}

/// Per service, "ok" when announced, else the reason (same for every IP).
fn decisions(p: &Plan) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = p
        .announcements
        .announced
        .keys()
        .map(|k| (k.name.clone(), "ok".to_owned()))
        .collect();
    for n in &p.announcements.not_announced {
        let prev = out.insert(n.service.name.clone(), n.reason.clone());
        if let Some(prev) = prev {
            assert_eq!(prev, n.reason, "{}: one reason for all its IPs", n.service);
        }
    }
    out
}

const OK: &str = "ok";

/// service → [node-a, node-b, node-c, node-d, node-e, node-f]
const TABLE: &[(&str, [&str; 6])] = &[
    // Cluster: any ready endpoint anywhere; node state withdraws.
    (
        "web-cluster",
        [
            OK,
            OK,
            OK,
            "nodeNetworkUnavailable",
            "nodeLabeledExcludeBalancers",
            "nodeUnschedulable",
        ],
    ),
    // Local: only nodes with a ready local endpoint (node-b's is not ready).
    (
        "web-local",
        [
            OK,
            "noLocalEndpoints",
            "noLocalEndpoints",
            "nodeNetworkUnavailable",
            "nodeLabeledExcludeBalancers",
            "nodeUnschedulable",
        ],
    ),
    // Terminating but serving counts; terminating and not serving does not.
    (
        "terminating",
        [
            OK,
            "noLocalEndpoints",
            "noLocalEndpoints",
            "nodeNetworkUnavailable",
            "nodeLabeledExcludeBalancers",
            "nodeUnschedulable",
        ],
    ),
    (
        "no-ready",
        [
            "noEndpoints",
            "noEndpoints",
            "noEndpoints",
            "nodeNetworkUnavailable",
            "nodeLabeledExcludeBalancers",
            "nodeUnschedulable",
        ],
    ),
    (
        "no-slices",
        [
            "noEndpoints",
            "noEndpoints",
            "noEndpoints",
            "nodeNetworkUnavailable",
            "nodeLabeledExcludeBalancers",
            "nodeUnschedulable",
        ],
    ),
    // The same address ready in one slice and not ready in another: not ready wins.
    (
        "split-brain",
        [
            "noEndpoints",
            "noEndpoints",
            "noEndpoints",
            "nodeNetworkUnavailable",
            "nodeLabeledExcludeBalancers",
            "nodeUnschedulable",
        ],
    ),
    // No conditions at all: ready.
    (
        "conditions-unset",
        [
            OK,
            OK,
            OK,
            "nodeNetworkUnavailable",
            "nodeLabeledExcludeBalancers",
            "nodeUnschedulable",
        ],
    ),
    // No status: the allocator gives it 192.168.30.0 (pools without
    // serviceAllocation are tried in name order: agg before default), which
    // joins the agg /24.
    (
        "pending",
        [
            OK,
            OK,
            OK,
            "nodeNetworkUnavailable",
            "nodeLabeledExcludeBalancers",
            "nodeUnschedulable",
        ],
    ),
    (
        "attrs",
        [
            OK,
            OK,
            OK,
            "nodeNetworkUnavailable",
            "nodeLabeledExcludeBalancers",
            "nodeUnschedulable",
        ],
    ),
    ("bad-attrs", ["invalidAnnotation"; 6]),
    (
        "agg-1",
        [
            OK,
            OK,
            OK,
            "nodeNetworkUnavailable",
            "nodeLabeledExcludeBalancers",
            "nodeUnschedulable",
        ],
    ),
    (
        "agg-2",
        [
            OK,
            OK,
            OK,
            "nodeNetworkUnavailable",
            "nodeLabeledExcludeBalancers",
            "nodeUnschedulable",
        ],
    ),
    // Advertisement nodeSelectors: rack r1 only.
    (
        "rack1",
        [
            OK, "notOwner", "notOwner", "notOwner", "notOwner", "notOwner",
        ],
    ),
    // Two advertisements with different localPref on one prefix.
    ("lp", ["conflictingAdvertisements"; 6]),
    // Advertisement serviceSelectors.
    ("sel-plain", ["noMatchingAdvertisement"; 6]),
    (
        "sel-gold",
        [
            OK,
            OK,
            OK,
            "nodeNetworkUnavailable",
            "nodeLabeledExcludeBalancers",
            "nodeUnschedulable",
        ],
    ),
    (
        "v6",
        [
            OK,
            OK,
            OK,
            "nodeNetworkUnavailable",
            "nodeLabeledExcludeBalancers",
            "nodeUnschedulable",
        ],
    ),
    (
        "dual",
        [
            OK,
            OK,
            OK,
            "nodeNetworkUnavailable",
            "nodeLabeledExcludeBalancers",
            "nodeUnschedulable",
        ],
    ),
    ("other-class", ["loadBalancerClass"; 6]),
    ("nodeport", ["notLoadBalancer"; 6]),
];

const NODES: [&str; 6] = ["node-a", "node-b", "node-c", "node-d", "node-e", "node-f"];

#[test]
fn announcement_table() {
    let mut failures = Vec::new();
    for (i, node) in NODES.iter().enumerate() {
        let d = decisions(&run(node, &PlanOptions::default()));
        for (svc, row) in TABLE {
            let got = d.get(*svc).map_or("<missing>", String::as_str);
            if got != row[i] {
                failures.push(format!("{svc} on {node}: got {got}, want {}", row[i]));
            }
        }
        assert_eq!(d.len(), TABLE.len(), "table covers every service on {node}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn node_state_overrides() {
    let opts = PlanOptions {
        ignore_exclude_lb: true,
        withdraw_unschedulable: false,
        ..PlanOptions::default()
    };
    for node in ["node-e", "node-f"] {
        let d = decisions(&run(node, &opts));
        assert_eq!(d["web-cluster"], OK, "{node}");
        assert_eq!(d["web-local"], OK, "{node}");
    }
}

#[test]
fn speaker_only_reads_status() {
    let opts = PlanOptions {
        speaker_only: true,
        ..PlanOptions::default()
    };
    let p = run("node-b", &opts);
    assert!(p.allocations.is_none());
    let d = decisions(&p);
    assert_eq!(d["pending"], "noIPAllocated");
    assert_eq!(d["web-cluster"], OK);
}

fn route<'a>(p: &'a Plan, peer: &str, prefix: &str) -> &'a Route {
    let prefix: IpNet = prefix.parse().unwrap();
    p.announcements.routes[peer]
        .iter()
        .find(|r| r.prefix == prefix)
        .unwrap_or_else(|| panic!("no {prefix} to {peer}"))
}

fn comms(list: &[&str]) -> Vec<Community> {
    let mut v: Vec<Community> = list.iter().map(|s| s.parse().unwrap()).collect();
    v.sort();
    v
}

fn larges(list: &[&str]) -> Vec<LargeCommunity> {
    let mut v: Vec<LargeCommunity> = list.iter().map(|s| s.parse().unwrap()).collect();
    v.sort();
    v
}

#[test]
fn peers_follow_node_selectors() {
    let a = run("node-a", &PlanOptions::default());
    assert_eq!(a.announcements.peers, ["router-1", "router-3"]);
    let b = run("node-b", &PlanOptions::default());
    assert_eq!(b.announcements.peers, ["router-1", "router-2"]);
    assert_eq!(b.announcements.routes["router-1"].len(), 9);
    assert_eq!(b.announcements.routes["router-2"].len(), 9);
    assert_eq!(a.announcements.routes["router-1"].len(), 12);
    assert_eq!(a.announcements.routes["router-3"].len(), 12);
    assert!(!a.announcements.routes.contains_key("router-2"));
}

#[test]
fn community_union_and_peer_targeting() {
    let b = run("node-b", &PlanOptions::default());
    // default-adv (all peers) alone.
    let r1 = route(&b, "router-1", "192.168.10.10/32");
    assert_eq!(r1.attrs.communities, comms(&["65000:1"]));
    assert_eq!(r1.attrs.local_pref, None);
    // default-adv + default-adv-r2 (peers: router-2, localPref 200): unioned.
    let r2 = route(&b, "router-2", "192.168.10.10/32");
    assert_eq!(r2.attrs.communities, comms(&["65000:1", "65000:2"]));
    assert_eq!(r2.attrs.large_communities, larges(&["65000:0:2"]));
    assert_eq!(r2.attrs.local_pref, Some(200));
}

#[test]
fn aggregation_lengths_and_merging() {
    let b = run("node-b", &PlanOptions::default());
    // agg-1, agg-2 and the newly allocated pending share the /24.
    let agg = route(&b, "router-1", "192.168.30.0/24");
    assert_eq!(agg.attrs.communities, comms(&["65000:24", "65000:777"]));
    assert_eq!(agg.attrs.med, Some(20), "lowest MED of the contributors");
    let srcs = &b.announcements.sources[&("router-1".to_owned(), agg.prefix)];
    assert_eq!(
        srcs.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(),
        ["agg-1", "agg-2", "pending"]
    );
    // IPv6: /128 from default-adv, /64 from v6-agg.
    let host = route(&b, "router-1", "fd00:20::10/128");
    assert_eq!(host.attrs.communities, comms(&["65000:1"]));
    let wide = route(&b, "router-1", "fd00:20::/64");
    assert!(wide.attrs.communities.is_empty());
    // Dual-stack service: both addresses.
    route(&b, "router-1", "192.168.70.1/32");
    route(&b, "router-1", "fd00:70::1/128");
}

#[test]
fn per_service_annotations() {
    let b = run("node-b", &PlanOptions::default());
    let r = route(&b, "router-1", "192.168.10.17/32");
    assert_eq!(
        r.attrs.communities,
        comms(&["65000:1", "65000:100", "65000:500", "no-export"])
    );
    assert_eq!(
        r.attrs.large_communities,
        larges(&["65000:7:7", "64512:1:2"])
    );
    assert_eq!(
        r.attrs.local_pref,
        Some(250),
        "annotation overrides localPref"
    );
    assert_eq!(r.attrs.med, Some(10));
    assert_eq!(r.attrs.as_path_prepend, 2);
    let r2 = route(&b, "router-2", "192.168.10.17/32");
    assert_eq!(r2.attrs.local_pref, Some(250));
    assert!(r2.attrs.communities.contains(&"65000:2".parse().unwrap()));
    let bad = b
        .announcements
        .not_announced
        .iter()
        .find(|n| n.service.name == "bad-attrs")
        .unwrap();
    assert!(
        bad.message
            .as_deref()
            .unwrap()
            .contains("bgp-k8s.io/as-path-prepend")
    );
}

#[test]
fn route_table_addresses_peers() {
    let cfg = announce_config();
    let b = run("node-b", &PlanOptions::default());
    let t = b.announcements.route_table(&cfg);
    let r2: std::net::SocketAddr = "192.0.2.2:179".parse().unwrap();
    let r3: std::net::SocketAddr = "192.0.2.3:179".parse().unwrap();
    assert_eq!(t.routes_for(&r2).len(), 9);
    assert!(t.routes_for(&r3).is_empty());
    let p: IpNet = "192.168.10.10/32".parse().unwrap();
    assert_eq!(t.route_for(&p, &r2).unwrap().local_pref, Some(200));
}

#[test]
fn report_schema() {
    let cfg = announce_config();
    let w = announce_world();
    let v = plan_report(&cfg, &w, "node-b");
    assert_eq!(v["node"]["name"], "node-b");
    assert_eq!(v["node"]["found"], true);
    let services = v["services"].as_array().unwrap();
    assert_eq!(services.len(), TABLE.len());
    let web = services
        .iter()
        .find(|s| s["name"] == "web-cluster")
        .unwrap();
    assert_eq!(web["namespace"], "default");
    assert_eq!(web["ips"][0], "192.168.10.10");
    assert_eq!(web["pool"], "default");
    assert_eq!(web["announced"], true);
    assert_eq!(web["status_changed"], false);
    assert_eq!(
        web["annotations"]["metallb.io/ip-allocated-from-pool"],
        "default"
    );
    assert_eq!(web["events"][0]["reason"], "nodeAssigned");
    let pending = services.iter().find(|s| s["name"] == "pending").unwrap();
    assert_eq!(pending["events"][0]["reason"], "IPAllocated");
    assert_eq!(pending["events"][0]["type"], "Normal");

    let anns = v["announcements"].as_array().unwrap();
    assert_eq!(anns.len(), 18);
    let a = anns
        .iter()
        .find(|a| a["peer"] == "router-2" && a["prefix"] == "192.168.10.17/32")
        .unwrap();
    assert_eq!(a["local_pref"], 250);
    assert_eq!(a["med"], 10);
    assert_eq!(a["as_path_prepend"], 2);
    assert_eq!(a["services"][0], "default/attrs");
    assert!(a.get("next_hop").is_none());
    assert!(
        a["communities"]
            .as_array()
            .unwrap()
            .contains(&"65535:65281".into())
    );
    assert_eq!(a["large_communities"].as_array().unwrap().len(), 3);

    let na = v["not_announced"].as_array().unwrap();
    let lp = na.iter().find(|n| n["service"] == "default/lp").unwrap();
    assert_eq!(lp["ip"], "192.168.50.1");
    assert_eq!(lp["reason"], "conflictingAdvertisements");

    let sessions = v["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["peer"], "router-1");
    assert_eq!(sessions[0]["address"], "192.0.2.1");
    assert_eq!(sessions[0]["asn"], 64500);
    assert_eq!(sessions[0]["my_asn"], 64512);
    assert_eq!(sessions[0]["ibgp"], false);
    assert_eq!(sessions[1]["ibgp"], true);
    assert_eq!(sessions[1]["routes"], 9);
    assert_eq!(v["pools"]["default"]["assigned_ipv4"], 9);
    assert_eq!(v["pools"]["agg"]["assigned_ipv4"], 3);

    // Unknown node: every peer without selectors, nothing announced for
    // rack-bound advertisements, and the node is reported as not found.
    let v = plan_report_with(&cfg, &w, "node-z", &PlanOptions::default());
    assert_eq!(v["node"]["found"], false);
    assert_eq!(v["sessions"].as_array().unwrap().len(), 1);
}

#[test]
fn example_data_loads() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples-data");
    let w = k8s_adapter::objects::load_paths(&[dir.as_path()]).unwrap();
    let (services, slices, nodes, namespaces) = w.counts();
    assert!(services >= 3 && slices >= 3 && nodes == 3 && namespaces >= 2);
    assert!(w.service(&ObjectKey::new("demo", "web")).is_some());
    // The seed configuration, built by hand (examples-data/metallb-config.yaml).
    let cfg = common::config(
        vec![common::pool("default", &["192.168.10.0/24"])],
        vec![common::peer("peer-0", "127.0.0.1", 64501, 64500)],
        vec![common::adv("default-adv-0", &["default"])],
    );
    let p = plan(&cfg, &w, "node-1", &PlanOptions::default());
    let a = p.allocations.as_ref().unwrap();
    let ip = |n: &str| a.get(&ObjectKey::new("demo", n)).unwrap().ips.clone();
    assert_eq!(ip("batch"), common::ips(&["192.168.10.0"]));
    assert_eq!(ip("web"), common::ips(&["192.168.10.1"]));
    assert_eq!(ip("dns-udp"), common::ips(&["192.168.10.53"]));
    let d = decisions(&p);
    assert_eq!(d["batch"], "noLocalEndpoints");
    for s in ["web", "api", "dns-tcp", "dns-udp"] {
        assert_eq!(d[s], OK, "{s}");
    }
    assert_eq!(p.announcements.routes["peer-0"].len(), 3);
}

#[test]
fn object_formats() {
    // A typed list whose items omit apiVersion/kind, a JSON document, and
    // kinds that are skipped.
    let text = r#"
apiVersion: v1
kind: ServiceList
items:
- metadata: {name: a, namespace: x}
  spec: {type: LoadBalancer, clusterIP: 10.96.0.1, ports: [{port: 80}]}
---
{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labels": {"team": "x"}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: config, namespace: metallb}
data: {config: "peers: []"}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: a-1
  namespace: x
  labels: {kubernetes.io/service-name: a}
addressType: IPv4
endpoints: [{addresses: [10.244.0.1], nodeName: n1}]
"#;
    let mut w = World::new();
    let summary = k8s_adapter::objects::add_str(&mut w, text, "inline").unwrap();
    assert_eq!(summary.kept["Service"], 1);
    assert_eq!(summary.skipped["v1/ConfigMap"], 1);
    let key = ObjectKey::new("x", "a");
    assert!(w.service(&key).is_some());
    assert_eq!(w.namespace_labels("x")["team"], "x");
    assert_eq!(w.endpoint_slices_for(&key).count(), 1);
    // Re-labelling a slice moves it to another service's index.
    let mut slice = w.endpoint_slices().next().unwrap().1.clone();
    slice
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("kubernetes.io/service-name".into(), "b".into());
    w.upsert_endpoint_slice(slice);
    assert_eq!(w.endpoint_slices_for(&key).count(), 0);
    assert_eq!(w.endpoint_slices_for(&ObjectKey::new("x", "b")).count(), 1);
    // A wrong apiVersion for a known kind is skipped, a malformed object is an error.
    let err = k8s_adapter::objects::load_str("apiVersion: v1\nkind: Service\nspec: {ports: 5}\n")
        .unwrap_err();
    assert!(err.to_string().contains("Service"), "{err}");
    assert!(k8s_adapter::objects::load_str("a: [").is_err());
}
