//! Two sans-IO sessions wired back to back with a simulated clock (the
//! quinn `Pair` pattern): the whole FSM, negotiation and route exchange run
//! deterministically without sockets.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp_proto::attribute::{AttrValue, Community};
use bgp_proto::iana::ErrorCode;
use bgp_session::{
    Action, ConnId, ConnectMode, Direction, DownReason, Event, Input, MaxPrefixAction, PeerConfig,
    ReceiveConfig, RemoteAs, RouteAttrs, Session, State,
};
use ipnet::IpNet;

const A_ADDR: &str = "192.0.2.1:40000";
const B_ADDR: &str = "192.0.2.2:179";

struct Pair {
    a: Session,
    b: Session,
    now: Instant,
    next_conn: u64,
    /// Open connections: (conn id on A's side, conn id on B's side).
    links: Vec<(ConnId, ConnId)>,
    /// Deliver bytes at all (false simulates a cut link).
    link_up: bool,
    a_events: Vec<Event>,
    b_events: Vec<Event>,
}

fn config(local_as: u32, remote_as: u32, id: [u8; 4], peer: &str) -> PeerConfig {
    let mut c = PeerConfig::new(
        peer.parse().unwrap(),
        local_as,
        RemoteAs::Asn(remote_as),
        Ipv4Addr::from(id),
    );
    c.idle_hold = Duration::from_secs(1);
    c.receive = Some(ReceiveConfig {
        max_prefixes: 1_000_000,
        action: MaxPrefixAction::Close,
    });
    c
}

impl Pair {
    fn new(a: PeerConfig, b: PeerConfig) -> Self {
        Self {
            a: Session::new(a),
            b: Session::new(b),
            now: Instant::now(),
            next_conn: 1,
            links: Vec::new(),
            link_up: true,
            a_events: Vec::new(),
            b_events: Vec::new(),
        }
    }

    fn start(&mut self) {
        self.b.handle(self.now, Input::Start);
        self.a.handle(self.now, Input::Start);
    }

    /// Processes every pending action on both sides; returns whether any ran.
    fn drain(&mut self) -> bool {
        let mut any = false;
        for side in [0, 1] {
            loop {
                let (me, other) = if side == 0 {
                    (&mut self.a, &mut self.b)
                } else {
                    (&mut self.b, &mut self.a)
                };
                let Some(action) = me.poll_action() else {
                    break;
                };
                any = true;
                match action {
                    Action::Connect if !self.link_up => {
                        me.handle(self.now, Input::TcpConnectFailed)
                    }
                    Action::Connect => {
                        let (ca, cb) = (ConnId(self.next_conn), ConnId(self.next_conn + 1));
                        self.next_conn += 2;
                        let (my, their) = if side == 0 { (ca, cb) } else { (cb, ca) };
                        self.links.push((ca, cb));
                        let (my_addr, their_addr): (SocketAddr, SocketAddr) = if side == 0 {
                            (A_ADDR.parse().unwrap(), B_ADDR.parse().unwrap())
                        } else {
                            (B_ADDR.parse().unwrap(), A_ADDR.parse().unwrap())
                        };
                        me.handle(
                            self.now,
                            Input::TcpConnected {
                                conn: my,
                                direction: Direction::Outbound,
                                local: my_addr,
                                remote: their_addr,
                            },
                        );
                        other.handle(
                            self.now,
                            Input::TcpConnected {
                                conn: their,
                                direction: Direction::Inbound,
                                local: their_addr,
                                remote: my_addr,
                            },
                        );
                    }
                    Action::Send { conn, data } => {
                        if !self.link_up {
                            continue;
                        }
                        if let Some(peer) = peer_of(&self.links, side, conn) {
                            other.handle(self.now, Input::Bytes { conn: peer, data });
                        }
                    }
                    Action::Close { conn } => {
                        if let Some(peer) = peer_of(&self.links, side, conn) {
                            self.links
                                .retain(|l| if side == 0 { l.0 != conn } else { l.1 != conn });
                            other.handle(self.now, Input::TcpClosed { conn: peer });
                        }
                    }
                }
            }
        }
        while let Some(e) = self.a.poll_event() {
            self.a_events.push(e);
        }
        while let Some(e) = self.b.poll_event() {
            self.b_events.push(e);
        }
        any
    }

    /// Runs until both sides are idle, advancing time to the next deadline,
    /// for at most `limit` of simulated time.
    fn run_for(&mut self, limit: Duration) {
        let end = self.now + limit;
        for _ in 0..100_000 {
            self.a.flush();
            self.b.flush();
            if self.drain() {
                continue;
            }
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                }
                _ => {
                    self.now = end;
                    return;
                }
            }
        }
        panic!("livelock");
    }

    fn received(&self) -> BTreeMap<IpNet, Arc<Vec<bgp_proto::attribute::PathAttribute>>> {
        let mut rib = BTreeMap::new();
        for e in &self.b_events {
            if let Event::Routes {
                announced,
                withdrawn,
            } = e
            {
                for w in withdrawn {
                    rib.remove(&w.prefix);
                }
                for r in announced {
                    rib.insert(r.nlri.prefix, r.attributes.clone());
                }
            }
        }
        rib
    }
}

fn peer_of(links: &[(ConnId, ConnId)], side: usize, conn: ConnId) -> Option<ConnId> {
    links.iter().find_map(|(a, b)| {
        if side == 0 && *a == conn {
            Some(*b)
        } else if side == 1 && *b == conn {
            Some(*a)
        } else {
            None
        }
    })
}

fn pair() -> Pair {
    let a = config(65001, 65002, [10, 0, 0, 1], B_ADDR);
    let mut b = config(65002, 65001, [10, 0, 0, 2], A_ADDR);
    b.mode = ConnectMode::Passive;
    Pair::new(a, b)
}

#[test]
fn establishes_and_delivers_routes_with_attributes() {
    let mut p = pair();
    let attrs = Arc::new(RouteAttrs {
        med: Some(7),
        communities: vec![Community::new(65001, 42)],
        ..RouteAttrs::default()
    });
    for i in 0..2000u32 {
        p.a.announce(
            IpNet::new(Ipv4Addr::from(0x6440_0000 + i).into(), 32).unwrap(),
            attrs.clone(),
        );
    }
    p.a.announce("2001:db8::/64".parse().unwrap(), attrs.clone());
    p.start();
    p.run_for(Duration::from_secs(5));
    assert_eq!(p.a.state(), State::Established);
    assert_eq!(p.b.state(), State::Established);
    let rib = p.received();
    assert_eq!(rib.len(), 2001);
    let some = &rib[&"100.64.0.7/32".parse::<IpNet>().unwrap()];
    assert!(some.iter().any(|a| a.value == AttrValue::MultiExitDisc(7)));
    assert!(
        some.iter()
            .any(|a| matches!(&a.value, AttrValue::AsPath(p) if p.to_string() == "65001"))
    );
    assert!(
        some.iter()
            .any(|a| a.value == AttrValue::NextHop("192.0.2.1".parse().unwrap()))
    );
    assert!(
        p.b_events
            .iter()
            .any(|e| matches!(e, Event::EndOfRib(f) if *f == bgp_proto::Family::IPV4_UNICAST))
    );
    assert!(
        p.b_events
            .iter()
            .any(|e| matches!(e, Event::EndOfRib(f) if *f == bgp_proto::Family::IPV6_UNICAST))
    );
    // 2000 /32s pack into 3 UPDATEs, not 2000.
    assert!(p.a.stats().sent.update <= 6, "{:?}", p.a.stats().sent);
    assert_eq!(p.a.stats().prefixes_announced, 2001);
}

#[test]
fn withdraw_and_replace_reach_the_peer() {
    let mut p = pair();
    let attrs = Arc::new(RouteAttrs::default());
    p.start();
    p.run_for(Duration::from_secs(2));
    let mut want = BTreeMap::new();
    for i in 0..1500u32 {
        want.insert(
            IpNet::new(Ipv4Addr::from(0x0A00_0000 + i).into(), 32).unwrap(),
            attrs.clone(),
        );
    }
    p.a.set_routes(&want);
    p.run_for(Duration::from_secs(1));
    assert_eq!(p.received().len(), 1500);
    // Withdraw 1000 of them at once: MetalLB's speaker overflows one message here.
    let keep: BTreeMap<_, _> = want
        .iter()
        .take(500)
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    p.a.set_routes(&keep);
    p.run_for(Duration::from_secs(1));
    assert_eq!(
        p.received().keys().copied().collect::<Vec<_>>(),
        keep.keys().copied().collect::<Vec<_>>()
    );
}

#[test]
fn hold_time_is_negotiated_to_the_minimum() {
    let mut p = pair();
    p.a = Session::new(PeerConfig {
        hold_time: Duration::from_secs(30),
        ..p.a.config().clone()
    });
    p.b = Session::new(PeerConfig {
        hold_time: Duration::from_secs(9),
        ..p.b.config().clone()
    });
    p.start();
    p.run_for(Duration::from_secs(2));
    let info = p.a.info().unwrap();
    assert_eq!((info.hold_time, info.keepalive), (9, 3));
    // Keepalives keep it up for a long time.
    p.run_for(Duration::from_secs(120));
    assert_eq!(p.a.state(), State::Established);
    assert!(p.a.stats().sent.keepalive >= 30);
}

#[test]
fn hold_timer_expiry_sends_notification_and_recovers() {
    let mut p = pair();
    p.a = Session::new(PeerConfig {
        hold_time: Duration::from_secs(9),
        ..p.a.config().clone()
    });
    p.start();
    p.run_for(Duration::from_secs(2));
    assert_eq!(p.a.state(), State::Established);
    p.link_up = false;
    p.run_for(Duration::from_secs(10));
    let sent = p.a.stats().last_notification_sent.unwrap();
    assert_eq!(sent.code, ErrorCode::HOLD_TIMER_EXPIRED);
    assert!(p.a_events.iter().any(|e| matches!(e, Event::Down(DownReason::NotificationSent(n)) if n.code == ErrorCode::HOLD_TIMER_EXPIRED)));
    p.link_up = true;
    p.run_for(Duration::from_secs(30));
    assert_eq!(
        p.a.state(),
        State::Established,
        "re-established after the link came back"
    );
}

#[test]
fn stop_sends_cease_with_shutdown_communication() {
    let mut p = pair();
    p.start();
    p.run_for(Duration::from_secs(2));
    p.a.handle(
        p.now,
        Input::Stop {
            message: Some("maintenance: rack 7".into()),
            subcode: None,
            graceful_restart: false,
        },
    );
    p.run_for(Duration::from_secs(1));
    assert_eq!(p.a.state(), State::Idle);
    let got = p.b.stats().last_notification_received.unwrap();
    assert_eq!((got.code, got.subcode), (ErrorCode::CEASE, 2));
    assert_eq!(got.shutdown_message(), Some("maintenance: rack 7"));
    p.run_for(Duration::from_secs(30));
    assert_eq!(p.a.state(), State::Idle, "a stopped session stays down");
}

#[test]
fn collision_leaves_exactly_one_connection() {
    let mut p = pair();
    let b = PeerConfig {
        mode: ConnectMode::Both,
        ..p.b.config().clone()
    };
    p.b = Session::new(b);
    p.start();
    p.run_for(Duration::from_secs(5));
    assert_eq!(p.a.state(), State::Established);
    assert_eq!(p.b.state(), State::Established);
    assert_eq!(p.links.len(), 1, "{:?}", p.links);
}

#[test]
fn wrong_peer_as_is_refused_with_bad_peer_as() {
    let mut p = pair();
    p.b = Session::new(PeerConfig {
        local_as: 65099,
        ..p.b.config().clone()
    });
    p.start();
    p.run_for(Duration::from_secs(3));
    assert_ne!(p.a.state(), State::Established);
    let n = p.a.stats().last_notification_sent.unwrap();
    assert_eq!((n.code, n.subcode), (ErrorCode::OPEN_MESSAGE, 2));
}

#[test]
fn ibgp_sends_local_pref_and_empty_as_path() {
    let a = config(65001, 65001, [10, 0, 0, 1], B_ADDR);
    let mut b = config(65001, 65001, [10, 0, 0, 2], A_ADDR);
    b.mode = ConnectMode::Passive;
    let mut p = Pair::new(a, b);
    p.a.announce(
        "198.51.100.0/24".parse().unwrap(),
        Arc::new(RouteAttrs {
            local_pref: Some(250),
            ..RouteAttrs::default()
        }),
    );
    p.start();
    p.run_for(Duration::from_secs(2));
    let rib = p.received();
    let attrs = &rib[&"198.51.100.0/24".parse::<IpNet>().unwrap()];
    assert!(attrs.iter().any(|a| a.value == AttrValue::LocalPref(250)));
    assert!(
        attrs
            .iter()
            .any(|a| matches!(&a.value, AttrValue::AsPath(p) if p.is_empty()))
    );
}

#[test]
fn graceful_restart_helper_keeps_stale_routes_until_end_of_rib() {
    let mut p = pair();
    let gr = |restarting| {
        Some(bgp_session::GracefulRestartConfig {
            restart_time: Duration::from_secs(120),
            restarting,
        })
    };
    p.a = Session::new(PeerConfig {
        graceful_restart: gr(false),
        ..p.a.config().clone()
    });
    let attrs = Arc::new(RouteAttrs::default());
    for i in 0..10u32 {
        p.a.announce(
            IpNet::new(Ipv4Addr::from(0x0A00_0000 + i).into(), 32).unwrap(),
            attrs.clone(),
        );
    }
    p.start();
    p.run_for(Duration::from_secs(2));
    assert_eq!(p.received().len(), 10);

    // A crashes: its TCP connection resets, no NOTIFICATION.
    let links = std::mem::take(&mut p.links);
    for (_, b_conn) in links {
        p.b.handle(p.now, Input::TcpClosed { conn: b_conn });
    }
    p.drain();
    assert!(
        p.b_events
            .iter()
            .any(|e| matches!(e, Event::RoutesStale { count: 10 }))
    );
    assert_eq!(
        p.received().len(),
        10,
        "stale routes are kept while A restarts"
    );

    // A comes back with the Restart State and Forwarding bits and only 6 of the routes.
    p.a = Session::new(PeerConfig {
        graceful_restart: gr(true),
        ..p.a.config().clone()
    });
    for i in 0..6u32 {
        p.a.announce(
            IpNet::new(Ipv4Addr::from(0x0A00_0000 + i).into(), 32).unwrap(),
            attrs.clone(),
        );
    }
    p.a.handle(p.now, Input::Start);
    p.run_for(Duration::from_secs(5));
    assert_eq!(p.a.state(), State::Established);
    assert_eq!(
        p.received().len(),
        6,
        "after End-of-RIB the routes A no longer has are gone"
    );
}

#[test]
fn graceful_restart_helper_purges_after_restart_time() {
    let mut p = pair();
    p.a = Session::new(PeerConfig {
        graceful_restart: Some(bgp_session::GracefulRestartConfig {
            restart_time: Duration::from_secs(30),
            restarting: false,
        }),
        ..p.a.config().clone()
    });
    p.a.announce(
        "10.9.0.0/24".parse().unwrap(),
        Arc::new(RouteAttrs::default()),
    );
    p.start();
    p.run_for(Duration::from_secs(2));
    let links = std::mem::take(&mut p.links);
    for (_, b_conn) in links {
        p.b.handle(p.now, Input::TcpClosed { conn: b_conn });
    }
    p.a.handle(
        p.now,
        Input::Stop {
            message: None,
            subcode: None,
            graceful_restart: true,
        },
    );
    p.run_for(Duration::from_secs(20));
    assert_eq!(p.received().len(), 1);
    p.run_for(Duration::from_secs(15));
    assert_eq!(p.received().len(), 0, "restart time passed without A");
}

#[test]
fn four_octet_as_toward_an_old_speaker_uses_as_trans_and_as4_path() {
    use bgp_proto::attribute::AS_TRANS;
    use bgp_proto::capability::Capability;
    use bgp_proto::{Context, Family, Message, Open};
    // We are AS 4200000001; the peer is an "OLD" speaker without the 4-octet capability.
    let mut s = Session::new(config(4_200_000_001, 65002, [10, 0, 0, 1], B_ADDR));
    s.announce(
        "203.0.113.0/24".parse().unwrap(),
        Arc::new(RouteAttrs::default()),
    );
    let now = Instant::now();
    s.handle(now, Input::Start);
    assert_eq!(s.poll_action(), Some(Action::Connect));
    let conn = ConnId(1);
    s.handle(
        now,
        Input::TcpConnected {
            conn,
            direction: Direction::Outbound,
            local: A_ADDR.parse().unwrap(),
            remote: B_ADDR.parse().unwrap(),
        },
    );
    let old = Open::new(
        65002,
        90,
        "10.0.0.2".parse().unwrap(),
        vec![Capability::Multiprotocol(Family::IPV4_UNICAST)],
    );
    let ctx2 = Context::default();
    let mut bytes = Message::Open(old).to_bytes(&ctx2).unwrap().to_vec();
    bytes.extend_from_slice(&Message::Keepalive.to_bytes(&ctx2).unwrap());
    s.handle(
        now,
        Input::Bytes {
            conn,
            data: bytes.into(),
        },
    );
    s.flush();
    assert_eq!(s.state(), State::Established);
    let mut update = None;
    while let Some(a) = s.poll_action() {
        if let Action::Send { data, .. } = a {
            let mut rest = data;
            while rest.len() >= 19 {
                let len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
                let m = rest.split_to(len);
                if let Message::Update(u) = Message::decode(&m, &ctx2).unwrap().message {
                    if !u.nlri.is_empty() {
                        update = Some(u);
                    }
                }
            }
        }
    }
    let u = update.expect("an UPDATE with the route");
    assert_eq!(
        u.as_path().unwrap().to_string(),
        AS_TRANS.to_string(),
        "AS_TRANS in AS_PATH"
    );
    let as4 = u.attributes.iter().find_map(|a| match &a.value {
        AttrValue::As4Path(p) => Some(p.to_string()),
        _ => None,
    });
    assert_eq!(
        as4.as_deref(),
        Some("4200000001"),
        "the real path in AS4_PATH (RFC 6793 §4.2.2)"
    );
    assert_eq!(u.effective_as_path().unwrap().to_string(), "4200000001");
}

#[test]
fn max_prefix_actions() {
    for (action, expect_held, expect_up) in [
        (MaxPrefixAction::Drop, 10, true),
        (MaxPrefixAction::Warn, 20, true),
        (MaxPrefixAction::Close, 0, false),
    ] {
        let a = config(65001, 65002, [10, 0, 0, 1], B_ADDR);
        let mut b = config(65002, 65001, [10, 0, 0, 2], A_ADDR);
        b.mode = ConnectMode::Passive;
        b.idle_hold = Duration::from_secs(600);
        b.receive = Some(ReceiveConfig {
            max_prefixes: 10,
            action,
        });
        let mut p = Pair::new(a, b);
        let attrs = Arc::new(RouteAttrs::default());
        for i in 0..50u32 {
            p.a.announce(
                IpNet::new(Ipv4Addr::from(0x0A00_0000 + i).into(), 32).unwrap(),
                attrs.clone(),
            );
        }
        p.start();
        p.run_for(Duration::from_secs(3));
        assert_eq!(p.received().len(), expect_held, "{action:?}");
        assert!(
            p.b_events
                .iter()
                .any(|e| matches!(e, Event::MaxPrefixExceeded { limit: 10, .. })),
            "{action:?}"
        );
        assert_eq!(p.b.state() == State::Established, expect_up, "{action:?}");
        if !expect_up {
            let n = p.b.stats().last_notification_sent.unwrap();
            assert_eq!(
                (n.code, n.subcode, n.data.as_ref()),
                (ErrorCode::CEASE, 1, &[0, 1, 1, 0, 0, 0, 10][..])
            );
        }
    }
}
