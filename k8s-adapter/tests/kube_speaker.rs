//! The speaker role end to end: Kubernetes objects served by the fake API
//! server, a real BGP session to a collector speaker on loopback, and the
//! status objects written back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

mod bgp_collector;
mod fake_apiserver;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use bgp_session::{Event, Speaker};
use fake_apiserver::{FakeApiServer, eventually};
use k8s_adapter::announcer::Announcer;
use k8s_adapter::metrics::Metrics;
use k8s_adapter::plan::PlanOptions;
use k8s_adapter::speaker_role::{SpeakerOptions, run};
use serde_json::json;

const NS: &str = "metallb-system";
const WAIT: Duration = Duration::from_secs(10);

/// A fake API server holding the `default` Namespace, `node-1`, a pool, an
/// advertisement with community 64500:7 and a BGPPeer at 127.0.0.1:`port`.
async fn cluster(port: u16) -> FakeApiServer {
    let server = FakeApiServer::start().await;
    server
        .upsert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}));
    server.upsert(
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1", "labels": {}},
        "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]}}),
    );
    server.upsert(
        json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "pool-a", "namespace": NS}, "spec": {"addresses": ["192.0.2.0/24"]}}),
    );
    server.upsert(
        json!({"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement",
        "metadata": {"name": "all", "namespace": NS}, "spec": {"communities": ["64500:7"]}}),
    );
    server.upsert(
        json!({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
        "metadata": {"name": "router", "namespace": NS},
        "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "127.0.0.1", "peerPort": port}}),
    );
    server
}

/// The Service `default/web` with `ip` as its load-balancer IP.
fn service(ip: &str) -> serde_json::Value {
    named_service("web", ip)
}

/// The Service `default/<name>` with `ip` as its load-balancer IP, which it
/// may share (MetalLB's `allow-shared-ip`, key "shared").
fn named_service(name: &str, ip: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default",
                     "annotations": {"metallb.universe.tf/allow-shared-ip": "shared"}},
        "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Cluster", "clusterIP": "10.96.0.10",
                 "clusterIPs": ["10.96.0.10"], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                 "ports": [{"port": 80, "protocol": "TCP"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}})
}

/// The EndpointSlice of `default/web`: one ready endpoint on node-1.
fn slice(addr: &str) -> serde_json::Value {
    named_slice("web", addr)
}

/// The EndpointSlice `<service>-1` of `default/<service>`: one ready
/// endpoint on node-1.
fn named_slice(service: &str, addr: &str) -> serde_json::Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("{service}-1"), "namespace": "default", "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [addr], "conditions": {"ready": true}, "nodeName": "node-1"}],
        "ports": [{"port": 8080, "protocol": "TCP"}]})
}

/// The next routes event at the collector: announced and withdrawn prefixes.
async fn next_routes(
    rx: &mut tokio::sync::broadcast::Receiver<bgp_session::SpeakerEvent>,
) -> (Vec<String>, Vec<String>) {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(ev) = rx.recv().await {
                if let Event::Routes {
                    announced,
                    withdrawn,
                    ..
                } = ev.event
                {
                    return (
                        announced
                            .iter()
                            .map(|r| r.nlri.prefix.to_string())
                            .collect(),
                        withdrawn.iter().map(|p| p.prefix.to_string()).collect(),
                    );
                }
            }
        }
    })
    .await
    .expect("routes event")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speaker_role_announces_and_publishes_status() {
    let (collector, addr) = bgp_collector::collector(100).await;
    let mut routes = collector.subscribe();
    let server = cluster(addr.port()).await;
    server.upsert(service("192.0.2.10"));
    server.upsert(slice("10.0.0.5"));

    let speaker = Speaker::new();
    let mut announcer = Announcer::new(speaker.clone());
    let metrics = Arc::new(Metrics::new(Some(speaker.clone())));
    let ready = Arc::new(AtomicBool::new(false));
    let opts = SpeakerOptions {
        namespace: NS.into(),
        node: "node-1".into(),
        plan: PlanOptions::default(),
        status_interval: Duration::from_millis(200),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let client = server.client();
    let m = metrics.clone();
    let r = ready.clone();
    let task = tokio::spawn(async move {
        run(client, opts, &mut announcer, m, r, async {
            let _ = stopped.await;
        })
        .await;
    });

    // The router receives the Service IP with the advertisement's community.
    let got = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(ev) = routes.recv().await {
                if let Event::Routes { announced, .. } = ev.event {
                    if let Some(r) = announced.first() {
                        return (r.nlri.prefix.to_string(), format!("{:?}", r.attributes));
                    }
                }
            }
        }
    })
    .await
    .expect("route received");
    assert_eq!(got.0, "192.0.2.10/32");
    assert!(got.1.contains("64500:7"), "{}", got.1);
    assert!(ready.load(std::sync::atomic::Ordering::Relaxed));
    assert!(metrics.encode().contains("metallb_speaker_announced{service=\"default/web\",protocol=\"bgp\",node=\"node-1\",ip=\"192.0.2.10\"} 1"));

    // Status objects: ServiceBGPStatus for the service, BGPSessionState for the peer.
    assert!(
        eventually(WAIT, || {
            server
                .list("metallb.io/v1beta1", "servicebgpstatuses")
                .iter()
                .any(|o| o["status"]["serviceName"] == "web" && o["status"]["peers"][0] == "router")
        })
        .await
    );
    assert!(
        eventually(WAIT, || {
            server
                .list("bgp-k8s.io/v1alpha1", "bgpsessionstates")
                .iter()
                .any(|o| o["status"]["peer"] == "router" && o["status"]["state"] == "Established")
        })
        .await,
        "{:?}",
        server.list("bgp-k8s.io/v1alpha1", "bgpsessionstates")
    );

    // The endpoint goes away: the route is withdrawn (ETP Cluster, no endpoints).
    server.delete("discovery.k8s.io/v1", "endpointslices", "default", "web-1");
    let withdrawn = tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(ev) = routes.recv().await {
                if let Event::Routes { withdrawn, .. } = ev.event {
                    if !withdrawn.is_empty() {
                        return withdrawn[0].prefix.to_string();
                    }
                }
            }
        }
    })
    .await
    .expect("withdrawal received");
    assert_eq!(withdrawn, "192.0.2.10/32");

    // The endpoint comes back, then the Service's IP changes: each a single
    // object change, read on its own (the incremental path), with the
    // metric following the Service.
    server.upsert(slice("10.0.0.5"));
    assert_eq!(next_routes(&mut routes).await.0, ["192.0.2.10/32"]);
    server.upsert(service("192.0.2.11"));
    let (mut announced, mut withdrawn) = (Vec::new(), Vec::new());
    while announced.is_empty() || withdrawn.is_empty() {
        let (a, w) = next_routes(&mut routes).await;
        announced.extend(a);
        withdrawn.extend(w);
    }
    assert_eq!(
        (announced, withdrawn),
        (
            vec!["192.0.2.11/32".to_owned()],
            vec!["192.0.2.10/32".to_owned()]
        )
    );
    // The metric is bookkeeping done after the routes went out.
    assert!(
        eventually(WAIT, || {
            let m = metrics.encode();
            m.contains("ip=\"192.0.2.11\"} 1") && !m.contains("ip=\"192.0.2.10\"")
        })
        .await,
        "{}",
        metrics.encode()
    );

    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
    speaker.shutdown(None, false).await;
    collector.shutdown(None, false).await;
}

/// The speaker role for node-1 against `server`, running until stopped
/// (session states published once a minute).
struct Role {
    speaker: Speaker,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Role {
    fn start(server: &FakeApiServer) -> Self {
        let speaker = Speaker::new();
        let mut announcer = Announcer::new(speaker.clone());
        let metrics = Arc::new(Metrics::new(Some(speaker.clone())));
        let opts = SpeakerOptions {
            namespace: NS.into(),
            node: "node-1".into(),
            plan: PlanOptions::default(),
            status_interval: Duration::from_secs(60),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let client = server.client();
        let task = tokio::spawn(async move {
            let ready = Arc::new(AtomicBool::new(false));
            run(client, opts, &mut announcer, metrics, ready, async {
                let _ = stopped.await;
            })
            .await;
        });
        Self {
            speaker,
            stop,
            task,
        }
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(WAIT, self.task)
            .await
            .unwrap()
            .unwrap();
        self.speaker.shutdown(None, false).await;
    }
}

/// A node that announces nothing still clears the ServiceBGPStatus objects
/// a previous run left behind (its first, empty, state is written too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speaker_role_with_nothing_to_announce_clears_old_statuses() {
    let (collector, addr) = bgp_collector::collector(100).await;
    let server = cluster(addr.port()).await;
    server.upsert(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "ServiceBGPStatus",
        "metadata": {"name": "bgp-left-over", "namespace": NS, "labels": {"metallb.io/node": "node-1"}}
    }));
    let role = Role::start(&server);
    assert!(
        eventually(WAIT, || server
            .list("metallb.io/v1beta1", "servicebgpstatuses")
            .is_empty())
        .await,
        "{:?}",
        server.list("metallb.io/v1beta1", "servicebgpstatuses")
    );
    role.stop().await;
    collector.shutdown(None, false).await;
}

/// A second Service sharing an announced IP changes no route, yet it gets
/// its own ServiceBGPStatus (status follows every change, not only route
/// changes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_joining_a_shared_ip_gets_its_status() {
    let (collector, addr) = bgp_collector::collector(100).await;
    let mut routes = collector.subscribe();
    let server = cluster(addr.port()).await;
    server.upsert(service("192.0.2.10"));
    server.upsert(slice("10.0.0.5"));
    let role = Role::start(&server);
    assert_eq!(next_routes(&mut routes).await.0, ["192.0.2.10/32"]);
    let status_of = |name: &str| {
        server
            .list("metallb.io/v1beta1", "servicebgpstatuses")
            .iter()
            .any(|o| o["status"]["serviceName"] == name && o["status"]["peers"][0] == "router")
    };
    assert!(eventually(WAIT, || status_of("web")).await);

    server.upsert(named_service("api", "192.0.2.10"));
    server.upsert(named_slice("api", "10.0.0.6"));
    assert!(
        eventually(WAIT, || status_of("api")).await,
        "{:?}",
        server.list("metallb.io/v1beta1", "servicebgpstatuses")
    );

    role.stop().await;
    collector.shutdown(None, false).await;
}
