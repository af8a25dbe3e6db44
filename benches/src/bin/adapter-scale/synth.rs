//! Synthetic cluster objects shaped like `kubectl get -o json` output.

use k8s_adapter::world::{ObjectKey, World};
use serde_json::{Value, json};

/// MetalLB configuration: three pools (a big default pool, a pool reserved
/// for the `team-*` namespaces, an IPv6 pool), three peers (one only from
/// rack r1), four advertisements (plain /32 with a community; /24
/// aggregation to the edge peer; local-pref for the team pool to the edge peer
/// from rack r1; IPv6 /120).
pub(crate) const CONFIG: &str = r#"
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: default, namespace: metallb-system}
spec:
  addresses: [10.200.0.0/16, 10.201.0.0/16]
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: teams, namespace: metallb-system}
spec:
  addresses: [10.210.0.0/16]
  serviceAllocation:
    priority: 10
    namespaces: [team-0, team-1, team-2, team-3]
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: v6, namespace: metallb-system}
spec:
  addresses: ["fd00:200::/112"]
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: tor-a, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64512, peerAddress: 192.0.2.1}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: tor-b, namespace: metallb-system}
spec: {myASN: 64512, peerASN: 64512, peerAddress: 192.0.2.2}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: edge, namespace: metallb-system}
spec:
  myASN: 64512
  peerASN: 65000
  peerAddress: 192.0.2.3
  nodeSelectors:
  - matchLabels: {rack: r1}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: hosts, namespace: metallb-system}
spec:
  ipAddressPools: [default, teams, v6]
  peers: [tor-a, tor-b]
  communities: ["64512:100"]
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: aggregated, namespace: metallb-system}
spec:
  ipAddressPools: [default]
  peers: [edge]
  aggregationLength: 24
  communities: ["65000:24"]
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: rack1-pref, namespace: metallb-system}
spec:
  ipAddressPools: [teams]
  peers: [edge]
  localPref: 200
  nodeSelectors:
  - matchLabels: {rack: r1}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: v6-agg, namespace: metallb-system}
spec:
  ipAddressPools: [v6]
  aggregationLengthV6: 120
"#;

pub(crate) fn node_name(i: usize) -> String {
    format!("worker-{i:03}")
}

fn namespace(i: usize) -> String {
    // 40 namespaces, 4 of which draw from the `teams` pool.
    match i % 40 {
        k @ 0..4 => format!("team-{k}"),
        k => format!("app-{k}"),
    }
}

fn local(i: usize) -> bool {
    i.is_multiple_of(3)
}

fn v6(i: usize) -> bool {
    i % 20 == 7
}

/// Which node endpoint `j` of service `i` runs on (spread over all nodes).
fn ep_node(i: usize, j: usize, nodes: usize) -> usize {
    (i * 7 + j * 13) % nodes
}

fn service(i: usize) -> Value {
    let name = format!("svc-{i:05}");
    let cluster_ip = if v6(i) {
        format!("fd00:96::{:x}", i + 10)
    } else {
        format!("10.96.{}.{}", (i / 250) % 250, i % 250 + 2)
    };
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace(i),
            "uid": format!("6f1c2a3e-0000-4000-8000-{i:012}"),
            "resourceVersion": format!("{}", 100_000 + i),
            "creationTimestamp": "2026-11-01T10:00:00Z",
            "labels": {"app": name, "app.kubernetes.io/part-of": format!("shop-{}", i % 17)},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
        },
        "spec": {
            "type": "LoadBalancer",
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "ipFamilies": [if v6(i) { "IPv6" } else { "IPv4" }],
            "ipFamilyPolicy": "SingleStack",
            "externalTrafficPolicy": if local(i) { "Local" } else { "Cluster" },
            "internalTrafficPolicy": "Cluster",
            "allocateLoadBalancerNodePorts": true,
            "sessionAffinity": "None",
            "selector": {"app": name},
            "ports": [
                {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP", "nodePort": 30000 + (i % 2000)},
                {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP", "nodePort": 32000 + (i % 700)}
            ]
        },
        "status": {"loadBalancer": {}}
    })
}

fn slice(i: usize, endpoints: usize, nodes: usize) -> Value {
    let name = format!("svc-{i:05}");
    let eps: Vec<Value> = (0..endpoints)
        .map(|j| {
            let n = ep_node(i, j, nodes);
            let addr = if v6(i) {
                format!("fd00:244::{:x}:{:x}", i, j)
            } else {
                format!("10.{}.{}.{}", 64 + (i / 50_000), (i / 200) % 250, (i % 200) + j)
            };
            json!({
                "addresses": [addr],
                "conditions": {"ready": true, "serving": true, "terminating": false},
                "nodeName": node_name(n),
                "zone": format!("zone-{}", n % 3),
                "targetRef": {"kind": "Pod", "namespace": namespace(i), "name": format!("{name}-7d9f8c-{j:05}"),
                              "uid": format!("0a0b0c0d-0000-4000-8000-{:012}", i * 10 + j)}
            })
        })
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "addressType": if v6(i) { "IPv6" } else { "IPv4" },
        "metadata": {
            "name": format!("{name}-x7k2p"),
            "namespace": namespace(i),
            "generateName": format!("{name}-"),
            "resourceVersion": format!("{}", 200_000 + i),
            "labels": {
                "kubernetes.io/service-name": name,
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"
            },
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name,
                                 "uid": format!("6f1c2a3e-0000-4000-8000-{i:012}"),
                                 "controller": true, "blockOwnerDeletion": true}]
        },
        "endpoints": eps,
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "https", "port": 8443, "protocol": "TCP"}]
    })
}

fn node(n: usize) -> Value {
    let name = node_name(n);
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "topology.kubernetes.io/zone": format!("zone-{}", n % 3),
                "rack": if n.is_multiple_of(2) { "r1" } else { "r2" }
            }
        },
        "spec": {"podCIDR": format!("10.244.{n}.0/24")},
        "status": {
            "addresses": [{"type": "InternalIP", "address": format!("172.16.{}.{}", n / 250, n % 250 + 1)},
                          {"type": "Hostname", "address": name}],
            "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "NetworkUnavailable", "status": "False"}
            ]
        }
    })
}

fn list(kind: &str, api_version: &str, items: Vec<Value>) -> String {
    serde_json::to_string(&json!({"apiVersion": api_version, "kind": kind, "items": items}))
        .unwrap_or_default()
}

/// The cluster as three JSON List documents (Nodes, Services, EndpointSlices).
pub(crate) fn objects_json(services: usize, endpoints: usize, nodes: usize) -> Vec<String> {
    vec![
        list("List", "v1", (0..nodes).map(node).collect()),
        list("List", "v1", (0..services).map(service).collect()),
        list(
            "List",
            "v1",
            (0..services).map(|i| slice(i, endpoints, nodes)).collect(),
        ),
    ]
}

/// An `externalTrafficPolicy: Local` IPv4 Service with exactly one endpoint
/// on node 0, and its slice.
pub(crate) fn local_service_on_node0(world: &World) -> (ObjectKey, ObjectKey) {
    let node0 = node_name(0);
    for (key, _) in world.services() {
        let i: usize = key.name.trim_start_matches("svc-").parse().unwrap_or(1);
        if !local(i) || v6(i) {
            continue;
        }
        let slices: Vec<_> = world.endpoint_slices_for(key).collect();
        let on0 = slices
            .iter()
            .flat_map(|s| s.endpoints.iter().flatten())
            .filter(|e| e.node_name.as_deref() == Some(node0.as_str()))
            .count();
        if on0 == 1 {
            let s = ObjectKey::of(&slices[0].metadata);
            return (key.clone(), s);
        }
    }
    panic!("no Local service with one endpoint on {node0}");
}

/// A copy of `slice` (as JSON) with the endpoints on `node` set to
/// `ready`/`serving` = `ready`.
pub(crate) fn with_node_ready(slice: &Value, node: &str, ready: bool) -> Value {
    let mut v = slice.clone();
    if let Some(eps) = v.get_mut("endpoints").and_then(Value::as_array_mut) {
        for e in eps {
            if e.get("nodeName").and_then(Value::as_str) == Some(node) {
                e["conditions"]["ready"] = json!(ready);
                e["conditions"]["serving"] = json!(ready);
            }
        }
    }
    v
}
