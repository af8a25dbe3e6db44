//! The sans-IO session core of bgp-session (`Session`, no tokio), driven the
//! way the tokio driver drives it, by an arbitrary sequence of operations:
//! start/stop, TCP connects (inbound, or answering the session's `Connect`),
//! failed connects and closes, raw byte chunks, structured peer messages
//! (OPEN for the configured peer with arbitrary capabilities and hold time,
//! KEEPALIVE, UPDATE, End-of-RIB, ROUTE-REFRESH, NOTIFICATION; cut in two
//! chunks or not, sometimes encoded with a wrong context), time advancing
//! with due timers fired in order (or late, all at once), and the route API
//! (announce, withdraw, set_routes, flush). The peer configuration is
//! arbitrary within what `PeerConfig::validate` accepts.
//!
//! Invariants, through the public API only (see `Model::check_step`):
//! - no panic;
//! - `Send`/`Close` only for connections the driver holds: never before
//!   `TcpConnected`, never after `Close` or `TcpClosed`, nothing after a
//!   NOTIFICATION on that connection; `Connect` never in passive mode;
//! - everything sent is whole, well-formed messages that decode without error
//!   (with the negotiated context once Established); UPDATEs only on the
//!   Established connection; KEEPALIVE only after our OPEN;
//! - no timer in the past: `poll_timeout() >= now` after every call, and
//!   `> now` after `handle_timeout(now)` (no busy loop);
//! - state changes chain (`from` = previous state, `from != to`, last `to` =
//!   `state()`); entering Established comes with `Event::Established`, only
//!   on received bytes; leaving it comes with `Event::Down`; `info()` is set
//!   exactly while Established; Idle/Active hold no connection and Established
//!   holds one; after `Stop` the session is Idle with every connection closed;
//! - bounded memory: received prefixes within the receive limit (twice it
//!   for Warn, none when receiving is off, and then no `Routes` events);
//!   `prefixes_announced` is 0 unless Established and never more than the
//!   prefixes ever announced; the bytes sent per operation are bounded by the
//!   routes and the input size.
#![no_main]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use bgp_proto::attribute::{
    AsPath, AttrValue, Community, LargeCommunity, NextHop, Origin, PathAttribute,
};
use bgp_proto::capability::{
    AddPathFamily, AddPathMode, Capability, GracefulRestart, GracefulRestartFamily,
};
use bgp_proto::iana::ErrorCode;
use bgp_proto::{Context, Family, Message, Nlri, Notification, Open, RouteRefresh, UpdateBuilder};
use bgp_session::{
    Action, ConnId, ConnectMode, Direction, Event, GracefulRestartConfig, Input, MaxPrefixAction,
    NextHopOverride, PeerConfig, ReceiveConfig, RemoteAs, RouteAttrs, Session, State,
};
use bytes::Bytes;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use libfuzzer_sys::fuzz_target;

const LOCAL_AS: u32 = 64512;
const PEER_AS: u32 = 64513;
const ROUTER_ID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// Exact-time advances are capped so that a 1 s keepalive cannot make one
/// operation fire millions of timers.
const MAX_EXACT_ADVANCE_MS: u64 = 600_000;

/// The peer configuration: the first 16 input octets (see `Cfg::read`).
#[derive(Debug)]
struct Cfg {
    /// 0: the peer's AS; 1: internal; 2: external; else iBGP with our AS.
    remote_as: u8,
    /// 0 both, 1 active, 2 passive.
    mode: u8,
    /// Hold time in seconds (0, or 3 and above once mapped).
    hold: u8,
    keepalive: Option<u8>,
    delay_open: Option<u8>,
    idle_hold: u8,
    idle_hold_max: u8,
    connect_retry: u8,
    /// bit 0: IPv4 unicast, bit 1: IPv6 unicast (none → both).
    families: u8,
    /// bit 0: ADD-PATH send IPv4, bit 1: IPv6.
    add_path_send: u8,
    graceful_restart: Option<(u16, bool)>,
    receive: Option<(u8, u8)>,
    extended_message: bool,
    ipv6_transport: bool,
}

/// `n` input octets, zero-padded when the input runs out.
fn take<const N: usize>(u: &mut Unstructured<'_>) -> [u8; N] {
    let mut out = [0u8; N];
    let b = u.bytes(N.min(u.len())).unwrap_or_default();
    out.get_mut(..b.len())
        .unwrap_or_default()
        .copy_from_slice(b);
    out
}

impl Cfg {
    /// Octets: remote AS, mode, hold, keepalive (0 = none), delay open (0 =
    /// none, else n - 1), idle hold, idle hold max, connect retry, families,
    /// ADD-PATH send, GR restart time (2, big-endian), GR flags (bit 0 on,
    /// bit 1 restarting), receive limit, receive flags (bit 0 on, bits 1-2
    /// action: warn, drop, close), flags (bit 0 extended message, bit 1 IPv6
    /// transport).
    fn read(u: &mut Unstructured<'_>) -> Self {
        let b: [u8; 16] = take(u);
        Self {
            remote_as: b[0],
            mode: b[1],
            hold: b[2],
            keepalive: (b[3] != 0).then_some(b[3]),
            delay_open: (b[4] != 0).then(|| b[4] - 1),
            idle_hold: b[5],
            idle_hold_max: b[6],
            connect_retry: b[7],
            families: b[8],
            add_path_send: b[9],
            graceful_restart: (b[12] & 1 != 0)
                .then(|| (u16::from_be_bytes([b[10], b[11]]), b[12] & 2 != 0)),
            receive: (b[14] & 1 != 0).then(|| (b[13], (b[14] >> 1) & 3)),
            extended_message: b[15] & 1 != 0,
            ipv6_transport: b[15] & 2 != 0,
        }
    }
}

/// A prefix from a small space so that announces, withdrawals and received
/// routes collide.
#[derive(Debug, Clone, Copy)]
struct Pfx {
    v6: bool,
    addr: u16,
    len: u8,
}

impl<'a> Arbitrary<'a> for Pfx {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Self::read(u))
    }
}

impl Pfx {
    /// Four octets: flags (bit 0: IPv6), address (2), length.
    fn read(u: &mut Unstructured<'_>) -> Self {
        let [f, a, b, len] = take::<4>(u);
        Self {
            v6: f & 1 != 0,
            addr: u16::from_be_bytes([a, b]),
            len,
        }
    }

    fn net(self) -> IpNet {
        let [hi, lo] = self.addr.to_be_bytes();
        if self.v6 {
            let a = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, self.addr);
            Ipv6Net::new(a, 112 + self.len % 17)
                .map_or_else(|_| IpNet::V6(Ipv6Net::default()), IpNet::V6)
        } else {
            let a = Ipv4Addr::new(10, 0, hi, lo);
            Ipv4Net::new(a, 16 + self.len % 17)
                .map_or_else(|_| IpNet::V4(Ipv4Net::default()), IpNet::V4)
        }
        .trunc()
    }
}

#[derive(Arbitrary, Debug)]
struct Caps {
    mp_v4: bool,
    mp_v6: bool,
    /// Send the 4-octet AS capability (with the OPEN's AS).
    four_octet: bool,
    route_refresh: bool,
    enhanced_route_refresh: bool,
    extended_message: bool,
    /// Restart time, flags, per-family forwarding bits.
    graceful_restart: Option<(u16, u8, u8)>,
    /// bits: 0 v4 receive, 1 v4 send, 2 v6 receive, 3 v6 send.
    add_path: u8,
    /// A capability we do not know.
    unknown: Option<(u8, Vec<u8>)>,
}

#[derive(Arbitrary, Debug)]
enum PeerMsg {
    Open {
        /// 0: the AS the configuration accepts; 1: our AS; else `asn`.
        asn_sel: u8,
        asn: u32,
        hold: u16,
        /// 0: 192.0.2.2, 1: our router id, else `bgp_id`.
        id_sel: u8,
        bgp_id: u32,
        caps: Caps,
    },
    Keepalive,
    Update {
        announce: Vec<Pfx>,
        withdraw: Vec<Pfx>,
        /// ORIGIN, AS_PATH, NEXT_HOP (v4) are always there; these vary.
        med: Option<u32>,
        local_pref: Option<u32>,
        communities: Vec<u32>,
        as_path: Vec<u16>,
        /// An extra raw attribute (flags, type, value) to trip RFC 7606 handling.
        raw_attr: Option<(u8, u8, Vec<u8>)>,
    },
    EndOfRib {
        v6: bool,
    },
    RouteRefresh {
        v6: bool,
        subtype: u8,
    },
    Notification {
        code: u8,
        subcode: u8,
        data: Vec<u8>,
    },
}

#[derive(Debug)]
enum Op {
    Start,
    Stop {
        message: Option<String>,
        subcode: Option<u8>,
        graceful_restart: bool,
    },
    /// A new connection: the answer to an outstanding `Connect` when
    /// `outbound` and there is one, else an inbound connection.
    Connect {
        outbound: bool,
    },
    ConnectFailed,
    /// The peer closes connection `which` (see `Model::pick`).
    Close {
        which: u8,
    },
    Bytes {
        which: u8,
        data: Vec<u8>,
    },
    Msg {
        which: u8,
        msg: PeerMsg,
        /// Deliver in two chunks cut here (0: one chunk).
        cut: u16,
        /// Encode with this context instead of the negotiated one.
        wrong_ctx: Option<Context>,
    },
    /// Advance time; `exact` fires each due timer at its deadline, in order,
    /// else the driver is late and fires everything once at the end.
    Advance {
        ms: u32,
        exact: bool,
    },
    Announce {
        prefix: Pfx,
        attrs: u8,
    },
    Withdraw {
        prefix: Pfx,
    },
    SetRoutes {
        routes: Vec<(Pfx, u8)>,
    },
    Flush,
    /// Announce (or withdraw) `count` consecutive IPv4 /32s from 10.1.0.0
    /// (more than one 8192-prefix batch: the Adj-RIB-Out cursor walk).
    Range {
        start: u16,
        count: u16,
        attrs: u8,
        withdraw: bool,
    },
    /// One `flush_bounded` with this budget in KiB (the driver's socket drained a bit).
    Drain {
        kib: u8,
    },
}

impl Op {
    /// One operation: an opcode octet (modulo 12), then its operands in a
    /// fixed layout, so that `make-seeds.sh` can write seeds:
    ///
    /// | op | operands |
    /// |---|---|
    /// | 0 Start | |
    /// | 1 Stop | flags (bit 0 message, bit 1 subcode, bit 2 GR), subcode, length, message |
    /// | 2 Connect | flags (bit 0 outbound) |
    /// | 3 ConnectFailed | |
    /// | 4 Close | which |
    /// | 5 Bytes | which, length (2, big-endian), bytes |
    /// | 6 Msg | which, cut (2), then `PeerMsg` and `Option<Context>` in `arbitrary`'s encoding |
    /// | 7 Advance | milliseconds (4, big-endian), flags (bit 0 exact) |
    /// | 8 Announce | prefix (4), attribute selector |
    /// | 9 Withdraw | prefix (4) |
    /// | 10 SetRoutes | count, count × (prefix (4), attribute selector) |
    /// | 11 Flush | |
    /// | 12 Range | start (2), count (2, up to 9000), attribute selector, flags (bit 0 withdraw) |
    /// | 13 Drain | budget in KiB |
    ///
    /// After each operation the driver calls `flush_bounded(64 KiB)` once.
    fn read(u: &mut Unstructured<'_>) -> arbitrary::Result<Self> {
        let [code] = take::<1>(u);
        Ok(match code % 14 {
            0 => Self::Start,
            1 => {
                let [flags, subcode, len] = take::<3>(u);
                let text = u.bytes(usize::from(len).min(u.len()))?;
                Self::Stop {
                    message: (flags & 1 != 0).then(|| String::from_utf8_lossy(text).into_owned()),
                    subcode: (flags & 2 != 0).then_some(subcode),
                    graceful_restart: flags & 4 != 0,
                }
            }
            2 => Self::Connect {
                outbound: take::<1>(u)[0] & 1 != 0,
            },
            3 => Self::ConnectFailed,
            4 => Self::Close {
                which: take::<1>(u)[0],
            },
            5 => {
                let [which, hi, lo] = take::<3>(u);
                let len = usize::from(u16::from_be_bytes([hi, lo]));
                let data = u.bytes(len.min(u.len()))?.to_vec();
                Self::Bytes { which, data }
            }
            6 => {
                let [which, hi, lo] = take::<3>(u);
                Self::Msg {
                    which,
                    cut: u16::from_be_bytes([hi, lo]),
                    msg: PeerMsg::arbitrary(u)?,
                    wrong_ctx: Option::<Context>::arbitrary(u)?,
                }
            }
            7 => {
                let [a, b, c, d, flags] = take::<5>(u);
                Self::Advance {
                    ms: u32::from_be_bytes([a, b, c, d]),
                    exact: flags & 1 != 0,
                }
            }
            8 => Self::Announce {
                prefix: Pfx::read(u),
                attrs: take::<1>(u)[0],
            },
            9 => Self::Withdraw {
                prefix: Pfx::read(u),
            },
            10 => {
                let [n] = take::<1>(u);
                let routes = (0..n.min(64))
                    .map(|_| (Pfx::read(u), take::<1>(u)[0]))
                    .collect();
                Self::SetRoutes { routes }
            }
            11 => Self::Flush,
            12 => {
                let [a, b, c, d, attrs, flags] = take::<6>(u);
                Self::Range {
                    start: u16::from_be_bytes([a, b]),
                    count: u16::from_be_bytes([c, d]) % 9_001,
                    attrs,
                    withdraw: flags & 1 != 0,
                }
            }
            _ => Self::Drain {
                kib: take::<1>(u)[0],
            },
        })
    }
}

fn config(c: &Cfg) -> PeerConfig {
    let (peer, _) = addrs(c.ipv6_transport);
    let remote_as = match c.remote_as % 4 {
        0 => RemoteAs::Asn(PEER_AS),
        1 => RemoteAs::Internal,
        2 => RemoteAs::External,
        _ => RemoteAs::Asn(LOCAL_AS),
    };
    let mut p = PeerConfig::new(SocketAddr::new(peer, 179), LOCAL_AS, remote_as, ROUTER_ID);
    p.mode = match c.mode % 3 {
        0 => ConnectMode::Both,
        1 => ConnectMode::Active,
        _ => ConnectMode::Passive,
    };
    p.hold_time = match c.hold {
        0 => Duration::ZERO,
        h => Duration::from_secs(u64::from(h.max(3))),
    };
    p.keepalive = c.keepalive.map(|k| Duration::from_secs(u64::from(k)));
    p.delay_open = c.delay_open.map(|d| Duration::from_secs(u64::from(d % 16)));
    p.idle_hold = Duration::from_secs(u64::from(c.idle_hold % 8));
    p.idle_hold_max = Duration::from_secs(u64::from(c.idle_hold_max % 128));
    p.connect_retry = Duration::from_secs(1 + u64::from(c.connect_retry % 60));
    p.families = match c.families % 4 {
        1 => vec![Family::IPV4_UNICAST],
        2 => vec![Family::IPV6_UNICAST],
        _ => vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
    };
    if c.add_path_send & 1 != 0 {
        p.add_path_send.insert(Family::IPV4_UNICAST);
    }
    if c.add_path_send & 2 != 0 {
        p.add_path_send.insert(Family::IPV6_UNICAST);
    }
    p.graceful_restart = c
        .graceful_restart
        .map(|(t, restarting)| GracefulRestartConfig {
            restart_time: Duration::from_secs(u64::from(t % 4096)),
            restarting,
        });
    p.receive = c.receive.map(|(max, action)| ReceiveConfig {
        max_prefixes: usize::from(max),
        action: match action % 3 {
            0 => MaxPrefixAction::Warn,
            1 => MaxPrefixAction::Drop,
            _ => MaxPrefixAction::Close,
        },
    });
    p.extended_message = c.extended_message;
    p
}

/// (peer address, our address) on the chosen transport.
fn addrs(v6: bool) -> (IpAddr, IpAddr) {
    if v6 {
        (
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2)),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        )
    } else {
        (
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
            IpAddr::V4(ROUTER_ID),
        )
    }
}

/// Route attributes from a small table, so that routes share them.
fn route_attrs(sel: u8) -> RouteAttrs {
    let mut a = RouteAttrs::default();
    a.next_hop = match sel % 5 {
        1 => Some(NextHopOverride::Address(IpAddr::V4(Ipv4Addr::new(
            192, 0, 2, 10,
        )))),
        2 => Some(NextHopOverride::Address(IpAddr::V6(Ipv6Addr::new(
            0x2001, 0xdb8, 0, 0, 0, 0, 0, 10,
        )))),
        3 => Some(NextHopOverride::Ipv6WithLinkLocal {
            global: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 10),
            link_local: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 10),
        }),
        _ => None,
    };
    let s = sel / 5;
    a.origin = match s % 4 {
        1 => Some(Origin::Egp),
        2 => Some(Origin::Incomplete),
        _ => None,
    };
    a.as_path_prepend = s % 3;
    if s & 4 != 0 {
        a.med = Some(u32::from(sel));
    }
    if s & 8 != 0 {
        a.local_pref = Some(200);
        a.communities = vec![Community(0xfde8_0001), Community(0xffff_ff01)];
    }
    if s & 16 != 0 {
        a.large_communities = vec![LargeCommunity {
            global: 4_200_000_001,
            local1: 1,
            local2: u32::from(sel),
        }];
    }
    a
}

/// What the fuzzer's driver knows about one connection.
#[derive(Debug)]
struct ConnModel {
    /// Held by the driver: connected, not yet closed by either side.
    open: bool,
    /// A NOTIFICATION was sent on it.
    notified: bool,
    /// Our OPEN was sent on it.
    open_sent: bool,
    /// It became the Established connection.
    established: bool,
    /// The negotiated contexts (send, receive), once Established.
    ctx: Option<(Context, Context)>,
    local: SocketAddr,
    remote: SocketAddr,
    /// What the peer holds from us on this connection, from the UPDATEs sent.
    peer_view: BTreeSet<IpNet>,
}

struct Model {
    session: Session,
    config: PeerConfig,
    now: Instant,
    conns: Vec<(ConnId, ConnModel)>,
    next_id: u64,
    pending_connects: usize,
    state: State,
    established: bool,
    /// Desired routes (what set_routes / announce / withdraw leave).
    desired: BTreeMap<IpNet, Arc<RouteAttrs>>,
    ever_announced: BTreeSet<IpNet>,
    attrs_cache: HashMap<u8, Arc<RouteAttrs>>,
    /// Something changed since the last peer-view check.
    view_dirty: bool,
}

/// What happened during one step, for the checks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StepKind {
    Bytes,
    Timer,
    Other,
}

impl Model {
    fn new(config: PeerConfig) -> Self {
        Self {
            session: Session::new(config.clone()),
            config,
            now: Instant::now(),
            conns: Vec::new(),
            next_id: 1,
            pending_connects: 0,
            state: State::Idle,
            established: false,
            desired: BTreeMap::new(),
            ever_announced: BTreeSet::new(),
            attrs_cache: HashMap::new(),
            view_dirty: true,
        }
    }

    fn conn(&mut self, id: ConnId) -> Option<&mut ConnModel> {
        self.conns
            .iter_mut()
            .find(|(i, _)| *i == id)
            .map(|(_, c)| c)
    }

    fn pick(&self, which: u8) -> Option<ConnId> {
        if self.conns.is_empty() {
            return None;
        }
        // Prefer connections still open: they are the interesting ones.
        let open: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.open)
            .map(|(i, _)| *i)
            .collect();
        let all: Vec<ConnId> = self.conns.iter().map(|(i, _)| *i).collect();
        let list = if which & 0x80 == 0 && !open.is_empty() {
            open
        } else {
            all
        };
        list.get(usize::from(which & 0x7f) % list.len()).copied()
    }

    fn attrs(&mut self, sel: u8) -> Arc<RouteAttrs> {
        self.attrs_cache
            .entry(sel % 160)
            .or_insert_with(|| Arc::new(route_attrs(sel % 160)))
            .clone()
    }

    fn handle(&mut self, input: Input, kind: StepKind, input_len: usize) {
        self.session.handle(self.now, input);
        self.check_step(kind, input_len);
    }

    /// Fires due timers at `self.now`.
    fn fire(&mut self) {
        self.session.handle_timeout(self.now);
        self.check_step(StepKind::Timer, 0);
        if let Some(d) = self.session.poll_timeout() {
            assert!(
                d > self.now,
                "a timer is still due right after handle_timeout: busy loop"
            );
        }
    }

    fn advance(&mut self, ms: u32, exact: bool) {
        if exact {
            let target = self.now + Duration::from_millis(u64::from(ms).min(MAX_EXACT_ADVANCE_MS));
            let mut guard = 0;
            while let Some(d) = self.session.poll_timeout() {
                if d > target {
                    break;
                }
                self.now = self.now.max(d);
                self.fire();
                guard += 1;
                assert!(guard < 100_000, "timers keep firing");
            }
            self.now = target;
        } else {
            self.now += Duration::from_millis(u64::from(ms));
            self.fire();
        }
    }

    fn connect(&mut self, outbound: bool) {
        let id = ConnId(self.next_id);
        self.next_id += 1;
        let outbound = outbound && self.pending_connects > 0;
        let (peer, ours) = addrs(self.config.remote.is_ipv6());
        let eph = 40_000 + u16::try_from(id.0 % 20_000).unwrap_or(0);
        let (direction, local, remote) = if outbound {
            self.pending_connects -= 1;
            (
                Direction::Outbound,
                SocketAddr::new(ours, eph),
                SocketAddr::new(peer, 179),
            )
        } else {
            (
                Direction::Inbound,
                SocketAddr::new(ours, 179),
                SocketAddr::new(peer, eph),
            )
        };
        self.conns.push((
            id,
            ConnModel {
                open: true,
                notified: false,
                open_sent: false,
                established: false,
                ctx: None,
                local,
                remote,
                peer_view: BTreeSet::new(),
            },
        ));
        self.handle(
            Input::TcpConnected {
                conn: id,
                direction,
                local,
                remote,
            },
            StepKind::Other,
            0,
        );
    }

    /// Encodes a peer message for connection `id`.
    fn encode(&self, id: ConnId, msg: &PeerMsg, wrong_ctx: Option<Context>) -> Vec<Bytes> {
        let negotiated = self
            .conns
            .iter()
            .find(|(i, _)| *i == id)
            .and_then(|(_, c)| c.ctx);
        // The peer sends with our receive context.
        let ctx =
            wrong_ctx.unwrap_or_else(|| negotiated.map_or_else(Context::default, |(_, rx)| rx));
        match msg {
            PeerMsg::Open {
                asn_sel,
                asn,
                hold,
                id_sel,
                bgp_id,
                caps,
            } => {
                let asn = match asn_sel % 4 {
                    0 | 3 => match self.config.remote_as {
                        RemoteAs::Asn(a) => a,
                        RemoteAs::Internal => LOCAL_AS,
                        RemoteAs::External => PEER_AS,
                    },
                    1 => LOCAL_AS,
                    _ => *asn,
                };
                let bgp_id = match id_sel % 3 {
                    0 => Ipv4Addr::new(192, 0, 2, 2),
                    1 => ROUTER_ID,
                    _ => Ipv4Addr::from(*bgp_id),
                };
                let mut c = Vec::new();
                if caps.mp_v4 {
                    c.push(Capability::Multiprotocol(Family::IPV4_UNICAST));
                }
                if caps.mp_v6 {
                    c.push(Capability::Multiprotocol(Family::IPV6_UNICAST));
                }
                if caps.route_refresh {
                    c.push(Capability::RouteRefresh);
                }
                if caps.enhanced_route_refresh {
                    c.push(Capability::EnhancedRouteRefresh);
                }
                if caps.extended_message {
                    c.push(Capability::ExtendedMessage);
                }
                if caps.four_octet {
                    c.push(Capability::FourOctetAs(asn));
                }
                if let Some((time, flags, fam)) = caps.graceful_restart {
                    let fams = [(1, Family::IPV4_UNICAST), (2, Family::IPV6_UNICAST)]
                        .into_iter()
                        .filter(|(b, _)| fam & b != 0)
                        .map(|(b, family)| GracefulRestartFamily {
                            family,
                            flags: if fam & (b << 4) != 0 {
                                GracefulRestartFamily::FORWARDING
                            } else {
                                0
                            },
                        })
                        .collect();
                    c.push(Capability::GracefulRestart(GracefulRestart {
                        flags: flags & 0xc,
                        restart_time: time % 4096,
                        families: fams,
                    }));
                }
                let mode = |bits: u8| match bits & 3 {
                    1 => Some(AddPathMode::Receive),
                    2 => Some(AddPathMode::Send),
                    3 => Some(AddPathMode::Both),
                    _ => None,
                };
                let ap: Vec<AddPathFamily> = [
                    (Family::IPV4_UNICAST, caps.add_path),
                    (Family::IPV6_UNICAST, caps.add_path >> 2),
                ]
                .into_iter()
                .filter_map(|(family, bits)| mode(bits).map(|mode| AddPathFamily { family, mode }))
                .collect();
                if !ap.is_empty() {
                    c.push(Capability::AddPath(ap));
                }
                if let Some((code, value)) = &caps.unknown {
                    c.push(Capability::Unknown {
                        code: bgp_proto::iana::CapabilityCode(*code),
                        value: Bytes::copy_from_slice(
                            value.get(..value.len().min(64)).unwrap_or_default(),
                        ),
                    });
                }
                let as2 = u16::try_from(asn).map_or(23456, u32::from);
                let open = Open::new(if caps.four_octet { asn } else { as2 }, *hold, bgp_id, c);
                Message::Open(open).to_bytes(&ctx).into_iter().collect()
            }
            PeerMsg::Keepalive => Message::Keepalive.to_bytes(&ctx).into_iter().collect(),
            PeerMsg::Update {
                announce,
                withdraw,
                med,
                local_pref,
                communities,
                as_path,
                raw_attr,
            } => {
                let mut b = UpdateBuilder::new(ctx);
                let nlri = |p: &Pfx, fam: Family| {
                    if ctx.add_path(fam) {
                        Nlri::with_path_id(p.net(), u32::from(p.len))
                    } else {
                        Nlri::new(p.net())
                    }
                };
                let (w4, w6): (Vec<&Pfx>, Vec<&Pfx>) =
                    withdraw.iter().take(64).partition(|p| !p.v6);
                let (a4, a6): (Vec<&Pfx>, Vec<&Pfx>) =
                    announce.iter().take(64).partition(|p| !p.v6);
                let mut attrs: Vec<PathAttribute> = vec![
                    AttrValue::Origin(Origin::Igp).into(),
                    AttrValue::AsPath(AsPath::from_sequence(
                        std::iter::once(PEER_AS)
                            .chain(as_path.iter().take(16).map(|a| u32::from(*a))),
                    ))
                    .into(),
                ];
                if let Some(m) = med {
                    attrs.push(AttrValue::MultiExitDisc(*m).into());
                }
                if let Some(l) = local_pref {
                    attrs.push(AttrValue::LocalPref(*l).into());
                }
                if !communities.is_empty() {
                    attrs.push(
                        AttrValue::Communities(
                            communities.iter().take(16).map(|c| Community(*c)).collect(),
                        )
                        .into(),
                    );
                }
                let mut out = Vec::new();
                let w4: Vec<Nlri> = w4.iter().map(|p| nlri(p, Family::IPV4_UNICAST)).collect();
                let w6: Vec<Nlri> = w6.iter().map(|p| nlri(p, Family::IPV6_UNICAST)).collect();
                let a4: Vec<Nlri> = a4.iter().map(|p| nlri(p, Family::IPV4_UNICAST)).collect();
                let a6: Vec<Nlri> = a6.iter().map(|p| nlri(p, Family::IPV6_UNICAST)).collect();
                if !w4.is_empty() {
                    out.extend(b.withdraw(Family::IPV4_UNICAST, &w4).unwrap_or_default());
                }
                if !w6.is_empty() {
                    out.extend(b.withdraw(Family::IPV6_UNICAST, &w6).unwrap_or_default());
                }
                if !a4.is_empty() {
                    let mut v4 = attrs.clone();
                    v4.push(AttrValue::NextHop(Ipv4Addr::new(192, 0, 2, 2)).into());
                    out.extend(b.announce(&v4, &a4).unwrap_or_default());
                }
                if !a6.is_empty() {
                    let nh = NextHop::Ipv6 {
                        global: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2),
                        link_local: None,
                    };
                    out.extend(
                        b.announce_mp(Family::IPV6_UNICAST, &nh, &attrs, &a6)
                            .unwrap_or_default(),
                    );
                }
                if let Some((flags, ty, value)) = raw_attr {
                    // One more UPDATE: the IPv4 announcement with a raw attribute appended.
                    let value = value.get(..value.len().min(255)).unwrap_or_default();
                    let mut v4 = attrs.clone();
                    v4.push(AttrValue::NextHop(Ipv4Addr::new(192, 0, 2, 2)).into());
                    let mut raw = vec![flags & 0xe0, *ty, u8::try_from(value.len()).unwrap_or(255)];
                    raw.extend_from_slice(value);
                    let body_attrs = {
                        let mut m = bytes::BytesMut::new();
                        for a in &v4 {
                            a.encode(&ctx, &mut m);
                        }
                        m.extend_from_slice(&raw);
                        m
                    };
                    let mut body = vec![0, 0];
                    body.extend_from_slice(
                        &u16::try_from(body_attrs.len()).unwrap_or(0).to_be_bytes(),
                    );
                    body.extend_from_slice(&body_attrs);
                    for n in a4.iter().take(8) {
                        let mut m = bytes::BytesMut::new();
                        n.encode(&mut m);
                        body.extend_from_slice(&m);
                    }
                    out.push(bgp_fuzz::frame(2, &body));
                }
                out
            }
            PeerMsg::EndOfRib { v6 } => {
                let fam = if *v6 {
                    Family::IPV6_UNICAST
                } else {
                    Family::IPV4_UNICAST
                };
                vec![UpdateBuilder::new(ctx).end_of_rib(fam)]
            }
            PeerMsg::RouteRefresh { v6, subtype } => {
                let fam = if *v6 {
                    Family::IPV6_UNICAST
                } else {
                    Family::IPV4_UNICAST
                };
                Message::RouteRefresh(RouteRefresh::with_subtype(fam, subtype % 4))
                    .to_bytes(&ctx)
                    .into_iter()
                    .collect()
            }
            PeerMsg::Notification {
                code,
                subcode,
                data,
            } => {
                let data =
                    Bytes::copy_from_slice(data.get(..data.len().min(128)).unwrap_or_default());
                Message::Notification(Notification::new(ErrorCode(code % 8), *subcode, data))
                    .to_bytes(&ctx)
                    .into_iter()
                    .collect()
            }
        }
    }

    /// Drains actions and events after one call and checks the invariants.
    fn check_step(&mut self, kind: StepKind, input_len: usize) -> usize {
        // Events first: they tell which connection became Established.
        let prev_state = self.state;
        let mut became_established = false;
        let mut went_down = false;
        let mut got_established_event = false;
        let mut got_down_event = false;
        while let Some(e) = self.session.poll_event() {
            match e {
                Event::StateChanged { from, to } => {
                    assert_eq!(
                        from, self.state,
                        "StateChanged from {from} but the state was {}",
                        self.state
                    );
                    assert_ne!(from, to, "StateChanged to the same state");
                    if to == State::Established {
                        became_established = true;
                    }
                    if from == State::Established {
                        went_down = true;
                    }
                    self.state = to;
                }
                Event::Established(info) => {
                    assert!(!self.established, "Established twice without Down");
                    self.established = true;
                    got_established_event = true;
                    let c = self
                        .conns
                        .iter_mut()
                        .find(|(_, c)| c.local == info.local && c.remote == info.remote)
                        .map(|(_, c)| c);
                    let c = c
                        .unwrap_or_else(|| panic!("Established on an unknown connection {info:?}"));
                    assert!(c.open, "Established on a closed connection");
                    c.established = true;
                    c.ctx = Some((info.negotiated.send, info.negotiated.receive));
                }
                Event::Down(_) => {
                    assert!(self.established, "Down without Established");
                    self.established = false;
                    got_down_event = true;
                }
                Event::Routes {
                    announced,
                    withdrawn,
                } => {
                    assert!(
                        self.config.receive.is_some(),
                        "Routes event while receiving is off"
                    );
                    let _ = (announced, withdrawn);
                }
                _ => {}
            }
        }
        assert_eq!(
            self.state,
            self.session.state(),
            "state() differs from the last StateChanged"
        );
        if became_established {
            assert!(
                got_established_event,
                "entered Established without Event::Established"
            );
            assert!(
                kind == StepKind::Bytes,
                "Established reached without receiving bytes"
            );
        }
        if went_down {
            assert!(got_down_event, "left Established without Event::Down");
        }

        // Actions.
        let mut sent_bytes = 0usize;
        while let Some(a) = self.session.poll_action() {
            match a {
                Action::Connect => {
                    assert!(
                        self.config.mode != ConnectMode::Passive,
                        "Connect in passive mode"
                    );
                    self.pending_connects += 1;
                }
                Action::Send { conn, data } => {
                    sent_bytes += data.len();
                    let c = self
                        .conn(conn)
                        .unwrap_or_else(|| panic!("Send on {conn:?}, never connected"));
                    assert!(c.open, "Send on {conn:?}, which is closed");
                    assert!(!c.notified, "Send on {conn:?} after a NOTIFICATION");
                    let ctx = c.ctx.map_or_else(Context::default, |(tx, _)| tx);
                    let (established, open_sent) = (c.established, c.open_sent);
                    let msgs = check_messages(&data, &ctx);
                    let c = self.conn(conn).unwrap_or_else(|| panic!("gone"));
                    for m in &msgs {
                        if let Message::Update(u) = m {
                            apply_update(&mut c.peer_view, u);
                        }
                    }
                    for ty in msgs.iter().map(|m| m.message_type().0) {
                        match ty {
                            1 => c.open_sent = true,
                            2 => assert!(
                                established,
                                "UPDATE on {conn:?}, not the Established connection"
                            ),
                            3 => c.notified = true,
                            4 => assert!(open_sent || c.open_sent, "KEEPALIVE before our OPEN"),
                            5 => assert!(established, "ROUTE-REFRESH on {conn:?}, not Established"),
                            _ => {}
                        }
                        if c.notified && ty != 3 {
                            panic!("message type {ty} after a NOTIFICATION");
                        }
                    }
                    let _ = open_sent;
                }
                Action::Close { conn } => {
                    let c = self
                        .conn(conn)
                        .unwrap_or_else(|| panic!("Close on {conn:?}, never connected"));
                    c.open = false;
                }
            }
        }

        // Timers.
        if let Some(d) = self.session.poll_timeout() {
            assert!(d >= self.now, "timer armed in the past");
        }

        // Connections versus state.
        let open = self.conns.iter().filter(|(_, c)| c.open).count();
        match self.state {
            State::Idle | State::Active => {
                assert_eq!(open, 0, "{} holds {open} connection(s)", self.state)
            }
            State::Established => assert!(open >= 1, "Established without a connection"),
            State::OpenSent | State::OpenConfirm => {
                assert!(open >= 1, "{} without a connection", self.state)
            }
            State::Connect => {}
        }
        assert!(open <= 3, "{open} connections held");
        assert_eq!(
            self.session.info().is_some(),
            self.state == State::Established,
            "info() vs state"
        );
        assert_eq!(
            self.established,
            self.state == State::Established,
            "Established/Down events vs state"
        );

        // Bounded memory.
        let stats = self.session.stats();
        let received_bound = match self.config.receive {
            None => 0,
            Some(ReceiveConfig {
                max_prefixes,
                action: MaxPrefixAction::Warn,
            }) => max_prefixes * 2,
            Some(ReceiveConfig { max_prefixes, .. }) => max_prefixes,
        };
        assert!(
            stats.prefixes_received <= received_bound,
            "{} prefixes held, bound {received_bound}",
            stats.prefixes_received
        );
        if self.state != State::Established {
            assert_eq!(
                stats.prefixes_announced, 0,
                "prefixes announced while not Established"
            );
        }
        assert!(
            stats.prefixes_announced <= self.ever_announced.len(),
            "more prefixes announced than ever desired"
        );
        // A full table per route refresh the input could hold, plus slack.
        let table = 8192 + self.ever_announced.len() * 600;
        let bound = 65_536 + (1 + input_len / 19) * table;
        assert!(
            sent_bytes <= bound,
            "{sent_bytes} bytes sent in one step (bound {bound})"
        );
        if sent_bytes > 0 || self.state != prev_state {
            self.view_dirty = true;
        }
        sent_bytes
    }

    /// What the driver does after each input: one bounded flush.
    fn driver_flush(&mut self, budget: usize) {
        let pending = self.session.flush_bounded(budget);
        let sent = self.check_step(StepKind::Other, 0);
        // At least one batch (8192 prefix changes) always goes out.
        let batch = 8192 * 40 + 160 * 4096;
        assert!(
            sent <= budget.saturating_add(batch),
            "flush_bounded({budget}) sent {sent} bytes"
        );
        assert_eq!(
            pending,
            self.session.wants_flush(),
            "flush_bounded result vs wants_flush"
        );
        if !pending {
            self.check_peer_view();
        }
    }

    /// Once everything is flushed, the peer has exactly the desired routes
    /// that can be sent on this session: nothing lost, nothing stale.
    fn check_peer_view(&mut self) {
        if !self.view_dirty || self.state != State::Established || self.session.wants_flush() {
            return;
        }
        self.view_dirty = false;
        let Some(info) = self.session.info() else {
            return;
        };
        let Some((_, c)) = self.conns.iter().find(|(_, c)| c.open && c.established) else {
            panic!("Established without an established connection in the model");
        };
        let fams = &info.negotiated.families;
        let sendable = |p: &IpNet, a: &RouteAttrs| match p {
            IpNet::V4(_) => {
                fams.contains(&Family::IPV4_UNICAST)
                    && match a.next_hop {
                        Some(NextHopOverride::Address(IpAddr::V4(_))) => true,
                        None => c.local.is_ipv4(),
                        Some(_) => false,
                    }
            }
            IpNet::V6(_) => fams.contains(&Family::IPV6_UNICAST),
        };
        for (p, a) in &self.desired {
            if sendable(p, a) {
                assert!(
                    c.peer_view.contains(p),
                    "desired route {p} never reached the peer"
                );
            }
        }
        for p in &c.peer_view {
            assert!(
                self.desired.contains_key(p),
                "withdrawn route {p} still at the peer"
            );
        }
    }
}

/// What the peer holds after receiving `u`.
fn apply_update(view: &mut BTreeSet<IpNet>, u: &bgp_proto::Update) {
    for n in u.withdrawn.iter() {
        view.remove(&n.prefix);
    }
    if let Some(m) = u.mp_unreach() {
        for n in m.withdrawn.iter() {
            view.remove(&n.prefix);
        }
    }
    for n in u.nlri.iter() {
        view.insert(n.prefix);
    }
    if let Some(m) = u.mp_reach() {
        for n in m.nlri.iter() {
            view.insert(n.prefix);
        }
    }
}

/// Splits `data` into whole messages and decodes each.
fn check_messages(data: &Bytes, ctx: &Context) -> Vec<Message> {
    let mut msgs = Vec::new();
    let mut off = 0;
    assert!(!data.is_empty(), "empty Send");
    while off < data.len() {
        let rest = data.slice(off..);
        let len = match bgp_proto::header::message_len(&rest, ctx.max_message_len()) {
            Ok(Some(len)) if len <= rest.len() => len,
            other => panic!(
                "sent bytes are not whole messages: {other:?} at {off} of {}",
                data.len()
            ),
        };
        let frame = rest.slice(..len);
        match Message::decode(&frame, ctx) {
            Ok(d) => {
                assert!(
                    d.errors.is_empty(),
                    "we sent a message with attribute errors: {:?}",
                    d.errors
                );
                msgs.push(d.message);
            }
            Err(e) => panic!("we sent an undecodable message: {e} ({frame:x?})"),
        }
        off += len;
    }
    msgs
}

fn run(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let cfg = Cfg::read(u);
    let config = config(&cfg);
    if config.validate().is_err() {
        return Ok(());
    }
    let mut m = Model::new(config);
    let mut steps = 0;
    while !u.is_empty() && steps < 256 {
        steps += 1;
        let op = Op::read(u)?;
        m.view_dirty |= matches!(
            op,
            Op::Announce { .. } | Op::Withdraw { .. } | Op::SetRoutes { .. } | Op::Range { .. }
        );
        match op {
            Op::Start => m.handle(Input::Start, StepKind::Other, 0),
            Op::Stop {
                message,
                subcode,
                graceful_restart,
            } => {
                let message = message.map(|s| s.chars().take(300).collect());
                m.handle(
                    Input::Stop {
                        message,
                        subcode,
                        graceful_restart,
                    },
                    StepKind::Other,
                    0,
                );
                assert_eq!(m.state, State::Idle, "not Idle after Stop");
                assert!(
                    m.conns.iter().all(|(_, c)| !c.open),
                    "a connection is still open after Stop"
                );
            }
            Op::Connect { outbound } => m.connect(outbound),
            Op::ConnectFailed => {
                if m.pending_connects > 0 {
                    m.pending_connects -= 1;
                    m.handle(Input::TcpConnectFailed, StepKind::Other, 0);
                }
            }
            Op::Close { which } => {
                if let Some(id) = m.pick(which) {
                    if let Some(c) = m.conn(id) {
                        c.open = false;
                    }
                    m.handle(Input::TcpClosed { conn: id }, StepKind::Other, 0);
                }
            }
            Op::Bytes { which, data } => {
                if let Some(id) = m.pick(which) {
                    let open = m.conn(id).is_some_and(|c| c.open);
                    if open {
                        let len = data.len();
                        m.handle(
                            Input::Bytes {
                                conn: id,
                                data: Bytes::from(data),
                            },
                            StepKind::Bytes,
                            len,
                        );
                    }
                }
            }
            Op::Msg {
                which,
                msg,
                cut,
                wrong_ctx,
            } => {
                if let Some(id) = m.pick(which) {
                    if m.conn(id).is_some_and(|c| c.open) {
                        let bytes: Vec<u8> = m.encode(id, &msg, wrong_ctx).concat();
                        let cut = usize::from(cut) % (bytes.len() + 1);
                        let (a, b) = bytes.split_at(cut);
                        for part in [a, b] {
                            if !part.is_empty() && m.conn(id).is_some_and(|c| c.open) {
                                let data = Bytes::copy_from_slice(part);
                                m.handle(
                                    Input::Bytes { conn: id, data },
                                    StepKind::Bytes,
                                    part.len(),
                                );
                            }
                        }
                    }
                }
            }
            Op::Advance { ms, exact } => m.advance(ms, exact),
            Op::Announce { prefix, attrs } => {
                let a = m.attrs(attrs);
                let p = prefix.net();
                m.session.announce(p, a.clone());
                m.desired.insert(p, a);
                m.ever_announced.insert(p);
            }
            Op::Withdraw { prefix } => {
                let p = prefix.net();
                m.session.withdraw(p);
                m.desired.remove(&p);
            }
            Op::SetRoutes { routes } => {
                let mut set = BTreeMap::new();
                for (p, a) in routes.into_iter().take(64) {
                    let a = m.attrs(a);
                    set.insert(p.net(), a);
                }
                m.ever_announced.extend(set.keys().copied());
                m.session.set_routes(&set);
                m.desired = set;
            }
            Op::Flush => {
                m.session.flush();
                m.check_step(StepKind::Other, 0);
                assert!(!m.session.wants_flush(), "wants_flush after flush");
                m.check_peer_view();
            }
            Op::Range {
                start,
                count,
                attrs,
                withdraw,
            } => {
                let a = m.attrs(attrs);
                for i in 0..u32::from(count) {
                    let addr = Ipv4Addr::from(0x0a01_0000 + ((u32::from(start) + i) & 0xffff));
                    let p = IpNet::V4(Ipv4Net::new(addr, 32).unwrap_or_default());
                    if withdraw {
                        m.session.withdraw(p);
                        m.desired.remove(&p);
                    } else {
                        m.session.announce(p, a.clone());
                        m.desired.insert(p, a.clone());
                        m.ever_announced.insert(p);
                    }
                }
            }
            Op::Drain { kib } => m.driver_flush(usize::from(kib) * 1024),
        }
        // The driver flushes (bounded) after each input.
        m.driver_flush(64 * 1024);
    }
    // Let the socket drain: everything goes out.
    for _ in 0..64 {
        if !m.session.wants_flush() {
            break;
        }
        m.driver_flush(1 << 20);
    }
    m.check_peer_view();
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
