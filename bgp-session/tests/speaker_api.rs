//! The `Speaker` API on loopback: two speakers peer with each other and the
//! NOTIFICATION a removal sends is checked on the other side.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::SocketAddr;
use std::time::Duration;

use bgp_proto::iana::subcode::cease;
use bgp_session::{ConnectMode, DownReason, Event, PeerConfig, RemoteAs, Speaker, SpeakerEvent};
use tokio::sync::broadcast;

/// Waits for the first event on `rx` that `f` accepts.
async fn wait_for<T>(
    rx: &mut broadcast::Receiver<SpeakerEvent>,
    mut f: impl FnMut(&Event) -> Option<T>,
) -> T {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match rx.recv().await {
                Ok(e) => {
                    if let Some(v) = f(&e.event) {
                        return v;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event channel: {e}"),
            }
        }
    })
    .await
    .expect("event within 10 s")
}

/// A passive listener on `listen_ip` with one peer at `peer_ip`, and an
/// active speaker from `peer_ip` to it; returns both once Established.
async fn pair(listen_ip: &str, peer_ip: &str) -> (Speaker, Speaker, SocketAddr) {
    let passive = Speaker::new();
    let bound = passive
        .listen(format!("{listen_ip}:0").parse().unwrap())
        .await
        .unwrap();
    let mut p = PeerConfig::new(
        format!("{peer_ip}:179").parse().unwrap(),
        64512,
        RemoteAs::Asn(64513),
        "192.0.2.1".parse().unwrap(),
    );
    p.mode = ConnectMode::Passive;
    passive.add_peer(p).unwrap();
    let mut passive_events = passive.subscribe();

    let active = Speaker::new();
    let mut a = PeerConfig::new(
        bound,
        64513,
        RemoteAs::Asn(64512),
        "192.0.2.2".parse().unwrap(),
    );
    a.mode = ConnectMode::Active;
    a.local_address = Some(peer_ip.parse().unwrap());
    a.connect_retry = Duration::from_secs(1);
    active.add_peer(a).unwrap();
    wait_for(&mut passive_events, |e| {
        matches!(e, Event::Established(_)).then_some(())
    })
    .await;
    (passive, active, bound)
}

/// RFC 4486: removing a peer sends Cease / Peer De-configured; removing it
/// because its configuration changed sends Cease / Other Configuration Change.
#[tokio::test]
async fn removal_sends_the_right_cease_subcode() {
    for (peer_ip, for_change, want) in [
        ("127.0.0.21", false, cease::PEER_DECONFIGURED),
        ("127.0.0.22", true, cease::OTHER_CONFIGURATION_CHANGE),
    ] {
        let (passive, active, bound) = pair("127.0.0.20", peer_ip).await;
        let mut events = passive.subscribe();
        if for_change {
            active
                .remove_peer_for_change(bound, Some("new password".into()))
                .await
                .unwrap();
        } else {
            active.remove_peer(bound, None).await.unwrap();
        }
        let got = wait_for(&mut events, |e| match e {
            Event::Down(DownReason::NotificationReceived(n)) => Some((n.code, n.subcode)),
            _ => None,
        })
        .await;
        assert_eq!(
            got,
            (bgp_proto::iana::ErrorCode::CEASE, want),
            "removal (for a change: {for_change})"
        );
        assert!(active.peers().is_empty());
        passive.shutdown(None, false).await;
    }
}
