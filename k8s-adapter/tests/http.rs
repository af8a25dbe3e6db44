//! The metrics and health endpoints over real HTTP on loopback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bgp_session::{PeerConfig, RemoteAs, Speaker};
use k8s_adapter::http::{Health, serve};
use k8s_adapter::metrics::Metrics;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let code = out[9..12].parse().unwrap();
    (code, out)
}

#[tokio::test]
async fn metrics_use_metallb_names_and_readiness_follows_the_flag() {
    let speaker = Speaker::new();
    // A peer nobody answers: the session exists but is down.
    speaker
        .add_peer(PeerConfig::new(
            "127.0.0.1:9".parse().unwrap(),
            64512,
            RemoteAs::Asn(64513),
            "192.0.2.1".parse().unwrap(),
        ))
        .unwrap();
    let metrics = Arc::new(Metrics::new(Some(speaker.clone())));
    metrics.config_loaded.set(1);
    metrics
        .speaker_announced
        .get_or_create(&vec![
            ("service", "default/web".to_string()),
            ("protocol", "bgp".to_string()),
            ("node", "n1".to_string()),
            ("ip", "192.0.2.10".to_string()),
        ])
        .set(1);
    let ready = Arc::new(AtomicBool::new(false));
    let addr = serve(
        "127.0.0.1:0".parse().unwrap(),
        Health {
            metrics,
            ready: ready.clone(),
        },
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let (code, body) = get(addr, "/metrics").await;
    assert_eq!(code, 200);
    for needle in [
        "metallb_bgp_session_up{peer=\"127.0.0.1:9\"} 0",
        "metallb_bgp_updates_total{peer=\"127.0.0.1:9\"} 0",
        "metallb_bgp_announced_prefixes_total{peer=\"127.0.0.1:9\"} 0",
        "metallb_bgp_pending_prefixes_total{peer=\"127.0.0.1:9\"}",
        "metallb_k8s_client_config_loaded_bool 1",
        "metallb_k8s_client_config_stale_bool 0",
        "metallb_speaker_announced{service=\"default/web\",protocol=\"bgp\",node=\"n1\",ip=\"192.0.2.10\"} 1",
    ] {
        assert!(body.contains(needle), "missing {needle} in\n{body}");
    }
    assert_eq!(get(addr, "/healthz").await.0, 200);
    assert_eq!(get(addr, "/readyz").await.0, 503);
    ready.store(true, Ordering::Relaxed);
    assert_eq!(get(addr, "/readyz").await.0, 200);
    speaker.shutdown(None, false).await;
}

#[test]
fn allocator_gauges_follow_pool_counters() {
    use k8s_adapter::allocate::PoolCounters;
    let m = Metrics::new(None);
    let mut pools = std::collections::BTreeMap::new();
    pools.insert(
        "default".to_string(),
        PoolCounters {
            assigned_ipv4: 3,
            assigned_ipv6: 1,
            available_ipv4: 253,
            available_ipv6: i64::MAX,
        },
    );
    m.set_pool_counters(&pools);
    let text = m.encode();
    for needle in [
        "metallb_allocator_addresses_in_use_total{pool=\"default\"} 4",
        "metallb_allocator_ipv4_addresses_in_use_total{pool=\"default\"} 3",
        "metallb_allocator_ipv4_addresses_total{pool=\"default\"} 256",
        "metallb_allocator_ipv6_addresses_total{pool=\"default\"} 9223372036854775807",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}
