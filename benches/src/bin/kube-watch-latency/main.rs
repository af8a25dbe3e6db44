//! Kube watch path latency: from an object change at the API server to the
//! route announced / withdrawn at a BGP peer, through the speaker role.
//!
//! Everything runs in this process, on loopback:
//! - the fake API server of `k8s-adapter/tests/fake_apiserver` (the real
//!   Kubernetes HTTP API: LIST and WATCH as kube-rs uses them);
//! - `k8s_adapter::speaker_role::run` with a kube-rs client for it, as the
//!   `k8s-adapter speaker` binary runs it;
//! - a collector `Speaker` (passive, receiving) that the role peers with
//!   over TCP, as a top-of-rack router would.
//!
//! One sample: the only endpoint of a `Cluster` Service flips ready →
//! not-ready (the route is withdrawn) or back (announced). The time runs
//! from just before the API server commits the new EndpointSlice (which
//! sends the watch event) to the collector's routes event. The same is done
//! with `--services` Services in the world; the others stay announced and
//! unchanged, so the rows show what the world's size adds to one change.
//! Sampling starts once every Service's ServiceBGPStatus object exists.
//! The first change after that is timed but printed apart, below the
//! table.
//!
//! ```text
//! cargo run --release -p benches --bin kube-watch-latency [-- --samples 100 --services 1,1000]
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    // The fake API server is k8s-adapter's test code, written for that
    // crate's older minimum Rust, which has no `if let` chains.
    clippy::collapsible_if
)] // A benchmark harness: a failed setup ends the run.

#[path = "../../../../k8s-adapter/tests/bgp_collector/mod.rs"]
mod bgp_collector;
#[path = "../../../../k8s-adapter/tests/fake_apiserver/mod.rs"]
mod fake_apiserver;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use bgp_session::{Event, Speaker};
use clap::Parser;
use fake_apiserver::FakeApiServer;
use k8s_adapter::announcer::Announcer;
use k8s_adapter::metrics::Metrics;
use k8s_adapter::plan::PlanOptions;
use k8s_adapter::speaker_role::{SpeakerOptions, run};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tokio::sync::broadcast;

#[derive(Parser, Debug)]
#[command(about = "Kube watch path latency: API server change to route at a BGP peer")]
struct Args {
    /// Samples per direction (announce and withdraw) per world size.
    #[arg(long, default_value_t = 100)]
    samples: usize,
    /// World sizes: Services (each with one ready endpoint on this node).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 1000])]
    services: Vec<usize>,
    /// Pause after each sample, so that each change finds the role idle.
    #[arg(long, default_value_t = 5)]
    gap_ms: u64,
    /// CI smoke: 5 samples per direction, one Service.
    #[arg(long)]
    smoke: bool,
}

const NS: &str = "metallb-system";
const NODE: &str = "node-1";
/// Longest wait for one route event before the run fails.
const WAIT: Duration = Duration::from_secs(30);

/// The Service IP of Service `i` (from 198.18.0.0/15, RFC 2544's
/// benchmarking range).
fn svc_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(0xC612_0000 + u32::try_from(i).unwrap())
}

fn service(i: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": format!("svc-{i}"), "namespace": "default"},
        "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Cluster",
                 "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                 "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                 "ports": [{"port": 80, "protocol": "TCP"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": svc_ip(i).to_string()}]}}})
}

fn slice(i: usize, ready: bool) -> Value {
    json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": format!("svc-{i}-1"), "namespace": "default",
                     "labels": {"kubernetes.io/service-name": format!("svc-{i}")}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": ready}, "nodeName": NODE}],
        "ports": [{"port": 8080, "protocol": "TCP"}]})
}

/// Waits until the collector has seen `ip` announced (`appear`) or withdrawn.
async fn route_event(
    rx: &mut broadcast::Receiver<bgp_session::SpeakerEvent>,
    ip: Ipv4Addr,
    appear: bool,
) {
    let want = format!("{ip}/32");
    tokio::time::timeout(WAIT, async {
        loop {
            match rx.recv().await {
                Ok(ev) => {
                    if let Event::Routes {
                        announced,
                        withdrawn,
                        ..
                    } = ev.event
                    {
                        let hit = if appear {
                            announced.iter().any(|r| r.nlri.prefix.to_string() == want)
                        } else {
                            withdrawn.iter().any(|p| p.prefix.to_string() == want)
                        };
                        if hit {
                            return;
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("collector stopped"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no route event for {want} (appear: {appear}) within {WAIT:?}"));
}

/// One world of `services` Services: the samples of withdraw and announce.
///
/// The API server and the collector run on `outside`, the speaker role
/// and its BGP speaker on `node`, as they would in separate processes: the
/// role's own work then delays only its own runtime.
fn measure(
    outside: &Runtime,
    node: &Runtime,
    services: usize,
    samples: usize,
    gap: Duration,
) -> (Vec<Duration>, Vec<Duration>, Vec<Duration>) {
    let (server, collector, addr) = outside.block_on(async {
        let (collector, addr) = bgp_collector::collector(1_000_000).await;
        let server = FakeApiServer::start().await;
        (server, collector, addr)
    });
    let mut rx = collector.subscribe();
    server
        .upsert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}));
    server.upsert(
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE, "labels": {}},
        "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}]}}),
    );
    server.upsert(
        json!({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "pool", "namespace": NS}, "spec": {"addresses": ["198.18.0.0/15"]}}),
    );
    server.upsert(
        json!({"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement",
        "metadata": {"name": "all", "namespace": NS}, "spec": {}}),
    );
    server.upsert(json!({"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
        "metadata": {"name": "router", "namespace": NS},
        "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "127.0.0.1", "peerPort": addr.port()}}));
    for i in 0..services {
        server.upsert(service(i));
        server.upsert(slice(i, true));
    }

    let url = server.url();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let role = node.spawn(async move {
        let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
        let speaker = Speaker::new();
        let mut announcer = Announcer::new(speaker.clone());
        let metrics = Arc::new(Metrics::new(Some(speaker.clone())));
        let opts = SpeakerOptions {
            namespace: NS.into(),
            node: NODE.into(),
            plan: PlanOptions::default(),
            status_interval: Duration::from_secs(3600),
        };
        run(
            client,
            opts,
            &mut announcer,
            metrics,
            Arc::new(AtomicBool::new(false)),
            async {
                let _ = stopped.await;
            },
        )
        .await;
        speaker.shutdown(None, false).await;
    });

    let probe = services - 1;
    let out = outside.block_on(async {
        // The measured Service is the last one; its route arrives with the rest.
        route_event(&mut rx, svc_ip(probe), true).await;
        // Start-up ends when every Service's ServiceBGPStatus is written
        // (2 requests each); changes are timed from then on.
        let written = tokio::time::timeout(WAIT * 4, async {
            while server
                .list("metallb.io/v1beta1", "servicebgpstatuses")
                .len()
                < services
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(
            written.is_ok(),
            "the initial ServiceBGPStatus objects were not all written"
        );
        // The first change after start-up: timed, but reported apart from
        // the samples (connections and caches are still cold).
        let mut first = Vec::new();
        for ready in [false, true] {
            let t0 = Instant::now();
            server.upsert(slice(probe, ready));
            route_event(&mut rx, svc_ip(probe), ready).await;
            first.push(t0.elapsed());
            tokio::time::sleep(gap).await;
        }
        let (mut withdraw, mut announce) = (Vec::new(), Vec::new());
        for _ in 0..samples {
            for (ready, out) in [(false, &mut withdraw), (true, &mut announce)] {
                let t0 = Instant::now();
                server.upsert(slice(probe, ready));
                route_event(&mut rx, svc_ip(probe), ready).await;
                out.push(t0.elapsed());
                tokio::time::sleep(gap).await;
            }
        }
        (withdraw, announce, first)
    });
    stop.send(()).unwrap();
    node.block_on(async { tokio::time::timeout(WAIT, role).await })
        .unwrap()
        .unwrap();
    outside.block_on(async {
        collector.shutdown(None, false).await;
        drop(server);
    });
    out
}

fn pct(v: &[Duration], p: f64) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    let i = ((s.len() as f64 - 1.0) * p).round() as usize;
    s.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (samples, sizes) = if args.smoke {
        (5, vec![1])
    } else {
        (args.samples, args.services.clone())
    };
    anyhow::ensure!(samples > 0, "--samples must be at least 1");
    anyhow::ensure!(
        sizes.iter().all(|&n| (1..=100_000).contains(&n)),
        "--services: each world needs 1 to 100000 Services"
    );
    // The node's runtime is the one `k8s-adapter speaker` builds; the
    // outside world (API server, router) gets its own thread.
    let node = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let outside = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    println!(
        "kube watch path: EndpointSlice commit at the API server → route event at the BGP peer \
         (in-process fake API server, speaker role, collector on loopback)"
    );
    println!();
    println!("| Services | change | samples | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) |");
    println!("|---:|---|---:|---:|---:|---:|---:|");
    let mut firsts = Vec::new();
    for n in sizes {
        let (withdraw, announce, first) = measure(
            &outside,
            &node,
            n,
            samples,
            Duration::from_millis(args.gap_ms),
        );
        for (what, v) in [("withdraw", &withdraw), ("announce", &announce)] {
            println!(
                "| {n} | {what} | {} | {} | {} | {} | {} |",
                v.len(),
                ms(pct(v, 0.5)),
                ms(pct(v, 0.9)),
                ms(pct(v, 0.99)),
                ms(pct(v, 1.0)),
            );
        }
        firsts.push((n, first));
    }
    println!();
    for (n, first) in firsts {
        let shown: Vec<String> = first.iter().map(|d| ms(*d)).collect();
        println!(
            "- {n} Services: the first change after start-up (withdraw, announce; not in the table): {} ms",
            shown.join(", ")
        );
    }
    Ok(())
}
