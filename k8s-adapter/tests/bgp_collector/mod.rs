//! A BGP collector for the speaker role's tests and benchmarks: a passive,
//! receiving `Speaker` on loopback, standing in for a top-of-rack router.
#![allow(unreachable_pub, clippy::unwrap_used, clippy::panic)] // Test support: a panic is a test failure.

use std::net::SocketAddr;
use std::time::Duration;

use bgp_session::{ConnectMode, MaxPrefixAction, PeerConfig, ReceiveConfig, RemoteAs, Speaker};

/// A collector (AS 64501) for a speaker of AS 64500 connecting from
/// 127.0.0.1, holding up to `max_prefixes` routes, on a port MetalLB's
/// BGPPeer validation accepts (≤ 16384).
pub async fn collector(max_prefixes: usize) -> (Speaker, SocketAddr) {
    let c = Speaker::new();
    for port in (10_000u16..16_000).step_by(97) {
        if let Ok(addr) = c.listen(SocketAddr::from(([127, 0, 0, 1], port))).await {
            let mut p = PeerConfig::new(
                "127.0.0.1:179".parse().unwrap(),
                64501,
                RemoteAs::Asn(64500),
                "192.0.2.254".parse().unwrap(),
            );
            p.mode = ConnectMode::Passive;
            p.idle_hold = Duration::ZERO;
            p.receive = Some(ReceiveConfig {
                max_prefixes,
                action: MaxPrefixAction::Drop,
            });
            c.add_peer(p).unwrap();
            return (c, addr);
        }
    }
    panic!("no free port for the collector");
}
