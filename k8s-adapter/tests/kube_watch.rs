//! Reflectors against the fake API server: initial sync and readiness,
//! change notification, 410 Gone and relist, bookmarks, missing CRDs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

mod fake_apiserver;

use std::time::Duration;

use fake_apiserver::{FakeApiServer, eventually};
use k8s_adapter::config::Source;
use k8s_adapter::kube_io::{BackoffConfig, Reflectors, Snapshot, WatchOptions};
use k8s_adapter::world::ObjectKey;
use serde_json::{Value, json};

const NS: &str = "metallb-system";
const WAIT: Duration = Duration::from_secs(5);

fn options() -> WatchOptions {
    WatchOptions {
        backoff: BackoffConfig {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
        },
        ..WatchOptions::speaker(NS)
    }
}

fn service(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "type": "LoadBalancer",
            "ports": [{"port": 80, "protocol": "TCP"}],
            "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
            "ipFamilies": ["IPv4"]
        }
    })
}

fn slice(name: &str, service: &str, node: &str) -> Value {
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {
            "name": name, "namespace": "default",
            "labels": {"kubernetes.io/service-name": service}
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": true}, "nodeName": node}],
        "ports": [{"port": 8080, "protocol": "TCP"}]
    })
}

fn cluster(server: &FakeApiServer) {
    server
        .upsert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}));
    server.upsert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}));
    server.upsert(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}}
    }));
    server.upsert(service("web"));
    server.upsert(service("db"));
    server.upsert(slice("web-1", "web", "node-1"));
    server.upsert(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "peer-pw", "namespace": NS},
        "type": "kubernetes.io/basic-auth",
        "data": {"password": "czNjcjN0"}
    }));
    // A secret elsewhere is not read.
    server.upsert(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "other", "namespace": "default"},
        "data": {"x": "eA=="}
    }));
    server.upsert(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "pool-a", "namespace": NS},
        "spec": {"addresses": ["192.0.2.0/28"]}
    }));
    server.upsert(json!({
        "apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
        "metadata": {"name": "peer-a", "namespace": NS},
        "spec": {
            "myASN": 64500, "peerASN": 64501, "peerAddress": "198.51.100.1",
            "passwordSecret": {"name": "peer-pw", "namespace": NS}
        }
    }));
    server.upsert(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement",
        "metadata": {"name": "adv", "namespace": NS},
        "spec": {"ipAddressPools": ["pool-a"]}
    }));
    // Custom resources in another namespace are not read.
    server.upsert(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "elsewhere", "namespace": "default"},
        "spec": {"addresses": ["203.0.113.0/24"]}
    }));
}

fn names<
    T: k8s_openapi::Metadata<Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>,
>(
    objs: &[T],
) -> Vec<String> {
    objs.iter()
        .map(|o| o.metadata().name.clone().unwrap_or_default())
        .collect()
}

async fn ready(server: &FakeApiServer) -> Reflectors {
    let r = Reflectors::start(server.client(), &options());
    tokio::time::timeout(WAIT, r.wait_until_ready())
        .await
        .expect("reflectors did not sync");
    r
}

/// Waits until the snapshot satisfies `cond`, rebuilding it after each
/// notification (the consumer's loop).
async fn until(r: &Reflectors, mut cond: impl FnMut(&Snapshot) -> bool) -> Snapshot {
    let mut rx = r.subscribe();
    let fut = async {
        loop {
            rx.borrow_and_update();
            let snap = r.snapshot().unwrap();
            if cond(&snap) {
                return snap;
            }
            rx.changed().await.unwrap();
        }
    };
    tokio::time::timeout(WAIT, fut)
        .await
        .expect("condition not reached")
}

fn list_requests(server: &FakeApiServer, path: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == path && !r.query.contains("watch=true"))
        .count()
}

#[tokio::test]
async fn initial_sync_then_ready_with_every_kind() {
    let server = FakeApiServer::start().await;
    cluster(&server);
    let started = std::time::Instant::now();
    let r = Reflectors::start(server.client(), &options());
    // Nothing is handed out before the initial lists complete.
    assert!(!r.ready());
    assert!(r.snapshot().is_none());
    tokio::time::timeout(WAIT, r.wait_until_ready())
        .await
        .unwrap();
    assert!(r.ready());
    assert!(r.pending().is_empty());
    eprintln!("synced in {:?}", started.elapsed());

    let snap = r.snapshot().unwrap();
    assert_eq!(names(&snap.services), ["db", "web"]);
    assert_eq!(names(&snap.endpoint_slices), ["web-1"]);
    assert_eq!(names(&snap.nodes), ["node-1"]);
    assert_eq!(names(&snap.namespaces), ["default", NS]);
    assert_eq!(names(&snap.secrets), ["peer-pw"]);
    assert!(snap.config_maps.is_empty());
    let kinds: Vec<String> = snap
        .custom_resources
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o.types.as_ref().unwrap().kind,
                o.metadata.name.as_deref().unwrap()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "BGPAdvertisement/adv",
            "BGPPeer/peer-a",
            "IPAddressPool/pool-a"
        ]
    );

    let world = snap.world();
    assert_eq!(world.counts(), (2, 1, 1, 2));
    let web = ObjectKey::new("default", "web");
    assert_eq!(world.endpoint_slices_for(&web).count(), 1);

    let config = snap.load_config().expect("configuration parses");
    assert_eq!(config.source, Source::Crds);
    assert_eq!(config.pools.keys().collect::<Vec<_>>(), ["pool-a"]);
    let peer = &config.peers["peer-a"];
    assert_eq!(
        snap.password(peer.password.as_ref().unwrap()).unwrap(),
        "s3cr3t"
    );
}

#[tokio::test]
async fn endpoint_slice_change_notifies_and_the_snapshot_has_it() {
    let server = FakeApiServer::start().await;
    cluster(&server);
    let r = ready(&server).await;
    let mut rx = r.subscribe();
    rx.borrow_and_update();
    let before = r.generation();

    server.upsert(slice("db-1", "db", "node-1"));
    tokio::time::timeout(WAIT, rx.changed())
        .await
        .unwrap()
        .unwrap();
    assert!(r.generation() > before);
    let snap = until(&r, |s| s.endpoint_slices.len() == 2).await;
    assert_eq!(names(&snap.endpoint_slices), ["db-1", "web-1"]);
    let world = snap.world();
    assert_eq!(
        world
            .endpoint_slices_for(&ObjectKey::new("default", "db"))
            .count(),
        1
    );

    // A modification and a deletion are seen too.
    let mut changed = slice("db-1", "db", "node-1");
    changed["endpoints"][0]["conditions"]["ready"] = json!(false);
    server.upsert(changed);
    let snap = until(&r, |s| {
        s.endpoint_slices.iter().any(|e| {
            e.metadata.name.as_deref() == Some("db-1")
                && e.endpoints.as_ref().unwrap()[0]
                    .conditions
                    .as_ref()
                    .unwrap()
                    .ready
                    == Some(false)
        })
    })
    .await;
    assert_eq!(snap.endpoint_slices.len(), 2);
    server.delete("discovery.k8s.io/v1", "endpointslices", "default", "web-1");
    let snap = until(&r, |s| s.endpoint_slices.len() == 1).await;
    assert_eq!(names(&snap.endpoint_slices), ["db-1"]);
}

#[tokio::test]
async fn gone_410_relists_and_drops_objects_deleted_in_the_gap() {
    let server = FakeApiServer::start().await;
    cluster(&server);
    let r = ready(&server).await;
    let services_path = "/api/v1/services";
    assert_eq!(list_requests(&server, services_path), 1);

    // While no watcher hears it: `db` is deleted, `cache` added, `web`
    // changed; then the history is compacted and the watches are cut.
    server.gap(|s| {
        assert!(s.delete("v1", "services", "default", "db"));
        s.upsert(service("cache"));
        let mut web = service("web");
        web["metadata"]["labels"] = json!({"tier": "front"});
        s.upsert(web);
        assert!(s.delete("discovery.k8s.io/v1", "endpointslices", "default", "web-1"));
    });
    let snap = until(&r, |s| {
        names(&s.services) == ["cache", "web"] && s.endpoint_slices.is_empty()
    })
    .await;
    let web = snap
        .services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("web"))
        .unwrap();
    assert_eq!(web.metadata.labels.as_ref().unwrap()["tier"], "front");
    // The watches were answered with 410 and the clients listed again.
    assert!(server.gone_served() >= 2);
    assert!(list_requests(&server, services_path) >= 2);
    // The store matches the server exactly.
    let on_server: Vec<String> = server
        .list("v1", "services")
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names(&snap.services), on_server);
    // Still ready throughout, and watching again: a later change arrives.
    assert!(r.ready());
    server.upsert(service("db"));
    until(&r, |s| s.services.len() == 3).await;
}

#[tokio::test]
async fn bookmarks_are_tolerated_and_resumed_watches_do_not_relist() {
    let server = FakeApiServer::start().await;
    cluster(&server);
    let r = ready(&server).await;
    let watches = r.pending().len();
    assert_eq!(watches, 0);
    assert!(eventually(WAIT, || server.active_watches() >= 9).await);

    for _ in 0..3 {
        server.send_bookmarks();
    }
    server.upsert(service("cache"));
    until(&r, |s| s.services.len() == 3).await;

    // Cut the watches without compaction: the clients resume from their
    // last resourceVersion (a bookmark's, for resources that had no
    // change) without listing again.
    let lists_before = list_requests(&server, "/api/v1/nodes");
    server.send_bookmarks();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let node_watches = || {
        server
            .requests()
            .iter()
            .filter(|q| q.path == "/api/v1/nodes" && q.query.contains("watch=true"))
            .count()
    };
    let watches_before = node_watches();
    server.close_watches();
    assert!(
        eventually(WAIT, || node_watches() > watches_before).await,
        "the nodes watch was not resumed"
    );
    server.upsert(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-2"}}));
    until(&r, |s| s.nodes.len() == 2).await;
    assert_eq!(list_requests(&server, "/api/v1/nodes"), lists_before);
    // The resumed watch started from a bookmark's resourceVersion, newer
    // than that of any node.
    let node_rv: u64 =
        server.get("v1", "nodes", "", "node-1").unwrap()["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
    let resumed_from: Vec<u64> = server
        .requests()
        .iter()
        .filter(|q| q.path == "/api/v1/nodes" && q.query.contains("watch=true"))
        .filter_map(|q| {
            q.query
                .split('&')
                .find_map(|p| p.strip_prefix("resourceVersion="))
                .and_then(|v| v.parse().ok())
        })
        .collect();
    assert!(resumed_from.len() >= 2);
    assert!(
        resumed_from.last().unwrap() > &node_rv,
        "{resumed_from:?} vs {node_rv}"
    );
}

#[tokio::test]
async fn not_ready_until_every_reflector_has_listed() {
    let server = FakeApiServer::start().await;
    cluster(&server);
    // Nodes cannot be listed (as with missing RBAC): no snapshot at all,
    // however long the other stores have been synced.
    server.remove_resource("v1", "nodes");
    let r = Reflectors::start(server.client(), &options());
    let synced_others = eventually(WAIT, || r.pending() == ["nodes"]).await;
    assert!(synced_others, "pending: {:?}", r.pending());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!r.ready());
    assert!(r.snapshot().is_none());
    assert_eq!(r.snapshot_unchecked().services.len(), 2);

    server.add_resource("v1", "nodes", "Node", false, true);
    tokio::time::timeout(WAIT, r.wait_until_ready())
        .await
        .unwrap();
    assert_eq!(r.snapshot().unwrap().nodes.len(), 1);
}

#[tokio::test]
async fn missing_crds_count_as_synced_and_empty() {
    let server = FakeApiServer::start().await;
    cluster(&server);
    server.remove_resource("metallb.io/v1beta1", "communities");
    server.remove_resource("metallb.io/v1beta1", "bfdprofiles");
    let r = ready(&server).await;
    let snap = r.snapshot().unwrap();
    assert_eq!(snap.custom_resources.len(), 3);
    snap.load_config().unwrap();

    // The CRD gets installed later: its objects show up.
    server.add_resource("metallb.io/v1beta1", "communities", "Community", true, true);
    server.upsert(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "Community",
        "metadata": {"name": "communities", "namespace": NS},
        "spec": {"communities": [{"name": "no-export", "value": "65535:65281"}]}
    }));
    let snap = until(&r, |s| s.custom_resources.len() == 4).await;
    let config = snap.load_config().unwrap();
    assert!(config.communities.contains_key("no-export"));
}

#[tokio::test]
async fn legacy_config_map_is_read_by_name() {
    let server = FakeApiServer::start().await;
    server.upsert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}));
    let legacy = "peers:\n- peer-address: 198.51.100.1\n  peer-asn: 64501\n  my-asn: 64500\n\
                  address-pools:\n- name: default\n  protocol: bgp\n  addresses:\n  - 192.0.2.0/28\n";
    server.upsert(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "config", "namespace": NS},
        "data": {"config": legacy}
    }));
    server.upsert(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "unrelated", "namespace": NS},
        "data": {"config": "not: metallb"}
    }));
    let r = Reflectors::start(
        server.client(),
        &WatchOptions {
            custom_resources: false,
            ..options()
        },
    );
    tokio::time::timeout(WAIT, r.wait_until_ready())
        .await
        .unwrap();
    let snap = r.snapshot().unwrap();
    assert_eq!(names(&snap.config_maps), ["config"]);
    let config = snap.load_config().unwrap();
    assert_eq!(config.source, Source::ConfigMap);
    assert_eq!(config.peers.len(), 1);

    // An edit to the ConfigMap is a change like any other.
    let edited = legacy.replace("64501", "64502");
    server.upsert(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "config", "namespace": NS},
        "data": {"config": edited}
    }));
    let snap = until(&r, |s| s.config_text().contains("64502")).await;
    let peer = snap
        .load_config()
        .unwrap()
        .peers
        .into_values()
        .next()
        .unwrap();
    assert_eq!(peer.peer_asn, k8s_adapter::config::PeerAsn::Asn(64502));
}
