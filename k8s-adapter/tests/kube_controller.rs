//! The controller role end to end against the fake API server: allocation
//! written to Service status and annotation, Events, release on deletion,
//! last good configuration, lease released on shutdown.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

mod fake_apiserver;

use std::time::Duration;

use fake_apiserver::{FakeApiServer, eventually};
use k8s_adapter::kube_io::{BackoffConfig, ControllerOptions, LeaseConfig, run_controller};
use serde_json::{Value, json};

const NS: &str = "metallb-system";
const WAIT: Duration = Duration::from_secs(5);

fn service(name: &str, cluster_ip: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "type": "LoadBalancer",
            "ports": [{"port": 80, "protocol": "TCP"}],
            "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"
        }
    })
}

fn pool(addresses: &[&str]) -> Value {
    json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "pool-a", "namespace": NS},
        "spec": {"addresses": addresses}
    })
}

fn ingress(server: &FakeApiServer, name: &str) -> Option<String> {
    server.get("v1", "services", "default", name)?["status"]["loadBalancer"]["ingress"][0]["ip"]
        .as_str()
        .map(str::to_owned)
}

fn events(server: &FakeApiServer, reason: &str, name: &str) -> usize {
    server
        .list("events.k8s.io/v1", "events")
        .iter()
        .filter(|e| e["reason"] == reason && e["regarding"]["name"] == name)
        .count()
}

#[tokio::test]
async fn controller_allocates_writes_back_and_releases() {
    let server = FakeApiServer::start().await;
    server
        .upsert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}));
    server.upsert(pool(&["192.0.2.0/31"]));
    server.upsert(service("web", "10.96.0.10"));

    let mut options = ControllerOptions::new(NS, "controller-0");
    options.lease = LeaseConfig {
        lease_duration: Duration::from_secs(1),
        renew_deadline: Duration::from_millis(700),
        retry_period: Duration::from_millis(100),
        ..options.lease
    };
    options.watch.backoff = BackoffConfig {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
    };
    options.retry = Duration::from_millis(100);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run_controller(server.client(), options, async {
        let _ = stopped.await;
    }));

    // Allocated and written back.
    assert!(eventually(WAIT, || ingress(&server, "web").is_some()).await);
    assert_eq!(ingress(&server, "web").as_deref(), Some("192.0.2.0"));
    let web = server.get("v1", "services", "default", "web").unwrap();
    assert_eq!(
        web["metadata"]["annotations"]["metallb.io/ip-allocated-from-pool"],
        "pool-a"
    );
    assert!(eventually(WAIT, || events(&server, "IPAllocated", "web") == 1).await);
    let lease = server
        .get("coordination.k8s.io/v1", "leases", NS, "bgp-k8s-controller")
        .unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "controller-0");

    // Two more services for one remaining address: one fails.
    server.upsert(service("api", "10.96.0.11"));
    server.upsert(service("zzz", "10.96.0.12"));
    assert!(eventually(WAIT, || ingress(&server, "api").is_some()).await);
    assert_eq!(ingress(&server, "api").as_deref(), Some("192.0.2.1"));
    assert!(eventually(WAIT, || events(&server, "AllocationFailed", "zzz") >= 1).await);
    assert_eq!(ingress(&server, "zzz"), None);
    let failed = server
        .list("events.k8s.io/v1", "events")
        .into_iter()
        .find(|e| e["reason"] == "AllocationFailed")
        .unwrap();
    assert_eq!(failed["type"], "Warning");

    // The pool's status counts what is assigned.
    let pool_status = || {
        server
            .get("metallb.io/v1beta1", "ipaddresspools", NS, "pool-a")
            .unwrap()["status"]
            .clone()
    };
    assert!(eventually(WAIT, || pool_status()["assignedIPv4"] == 2).await);
    assert_eq!(
        pool_status(),
        json!({"assignedIPv4": 2, "assignedIPv6": 0, "availableIPv4": 0, "availableIPv6": 0})
    );

    // Deleting web frees its address for zzz.
    server.delete("v1", "services", "default", "web");
    assert!(eventually(WAIT, || ingress(&server, "zzz").is_some()).await);
    assert_eq!(ingress(&server, "zzz").as_deref(), Some("192.0.2.0"));

    // A broken configuration keeps the last good one: nothing is cleared.
    server.upsert(pool(&["not-an-address"]));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ingress(&server, "api").as_deref(), Some("192.0.2.1"));
    assert_eq!(ingress(&server, "zzz").as_deref(), Some("192.0.2.0"));
    // ... and says so in one Warning Event on the configuration object.
    assert!(
        eventually(WAIT, || {
            server
                .list("events.k8s.io/v1", "events")
                .iter()
                .any(|e| e["reason"] == "ConfigInvalid" && e["type"] == "Warning")
        })
        .await
    );

    // Settled: no further writes to services without changes.
    server.clear_requests();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.method == "GET" || r.path.contains("/leases/")),
        "{:?}",
        server.requests()
    );

    // Shutdown releases the lease.
    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    let lease = server
        .get("coordination.k8s.io/v1", "leases", NS, "bgp-k8s-controller")
        .unwrap();
    assert!(lease["spec"].get("holderIdentity").is_none(), "{lease}");
}

#[tokio::test]
async fn controller_does_not_touch_services_without_configuration_or_leadership() {
    let server = FakeApiServer::start().await;
    server.upsert(service("web", "10.96.0.10"));
    let mut held = server.upsert(json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "bgp-k8s-controller", "namespace": NS},
        "spec": {"holderIdentity": "someone-else", "leaseDurationSeconds": 1}
    }));
    let mut options = ControllerOptions::new(NS, "controller-0");
    options.lease = LeaseConfig {
        lease_duration: Duration::from_secs(1),
        renew_deadline: Duration::from_millis(700),
        retry_period: Duration::from_millis(100),
        ..options.lease
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run_controller(server.client(), options, async {
        let _ = stopped.await;
    }));

    // Another holder keeps renewing: this controller never writes, even
    // with a configuration present.
    server.upsert(pool(&["192.0.2.0/31"]));
    for i in 0..8 {
        // Any write to the lease is a renewal as far as candidates can tell.
        held["metadata"]["labels"] = json!({"tick": i.to_string()});
        held = server.upsert(held.clone());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ingress(&server, "web"), None);

    // The other holder stops renewing: this controller takes over and
    // allocates.
    assert!(eventually(WAIT, || ingress(&server, "web").is_some()).await);

    // Without any configuration object, nothing is cleared.
    server.delete("metallb.io/v1beta1", "ipaddresspools", NS, "pool-a");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(ingress(&server, "web").is_some());

    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
}
