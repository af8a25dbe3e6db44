//! The sans-IO session: one peer, the RFC 4271 §8 FSM, up to two TCP
//! connections during collision resolution (§6.8), timers as data.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp_proto::attribute::{AsPath, AttrValue, NextHop, Origin, PathAttribute};
use bgp_proto::capability::{
    AddPathFamily, AddPathMode, Capability, GracefulRestart, GracefulRestartFamily,
};
use bgp_proto::iana::{AttrType, CapabilityCode, ErrorCode, MessageType, subcode};
use bgp_proto::{
    AttrAction, Context, Decoded, Family, Message, Nlri, Notification, Open, RouteRefresh,
    UpdateBuilder, header,
};
use bytes::{Bytes, BytesMut};
use ipnet::IpNet;

use crate::config::{MaxPrefixAction, PeerConfig};
use crate::event::{
    Action, ConnId, Direction, DownReason, Event, Input, ReceivedRoute, SessionInfo,
};
use crate::fsm::State;
use crate::rib_out::RibOut;
use crate::route::{NextHopOverride, RouteAttrs};
use crate::stats::SessionStats;

/// Hold time used before OPENs are exchanged (RFC 4271 §8.2.2 "large value", 4 minutes).
const LARGE_HOLD: Duration = Duration::from_secs(240);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConnState {
    /// TCP up, DelayOpen timer running, OPEN not sent yet.
    DelayOpen,
    OpenSent,
    OpenConfirm,
    Established,
}

#[derive(Debug)]
struct Conn {
    id: ConnId,
    direction: Direction,
    local: SocketAddr,
    remote: SocketAddr,
    state: ConnState,
    buf: BytesMut,
    peer_open: Option<Open>,
    rx: Context,
    tx: Context,
    hold: Duration,
    keepalive: Duration,
    hold_deadline: Option<Instant>,
    keepalive_deadline: Option<Instant>,
    delay_open_deadline: Option<Instant>,
}

/// One BGP session with one peer, free of I/O: feed it [`Input`]s and
/// timeouts, drain [`Action`]s for the driver and [`Event`]s for the
/// application.
///
/// - Call [`Session::handle`] for every input and [`Session::handle_timeout`]
///   when [`Session::poll_timeout`] is reached.
/// - After either, drain [`Session::poll_action`] (socket work) and
///   [`Session::poll_event`] (state, routes, errors) until they return `None`.
/// - Route changes ([`Session::announce`], [`Session::withdraw`],
///   [`Session::set_routes`]) take effect on the next
///   [`Session::flush`], which the driver calls after each batch of inputs.
#[derive(Debug)]
pub struct Session {
    config: PeerConfig,
    conns: Vec<Conn>,
    started: bool,
    connecting: bool,
    connect_retry_deadline: Option<Instant>,
    idle_hold_deadline: Option<Instant>,
    idle_hold_current: Duration,
    state: State,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
    rib_out: RibOut,
    /// Adj-RIB-In. Hashed (SipHash, keyed randomly: the peer chooses the
    /// keys): a B-tree spent half the receive time searching ascending keys.
    rib_in: HashMap<Nlri, Arc<Vec<PathAttribute>>>,
    /// Received routes kept while the peer restarts (RFC 4724 §4.2, helper role).
    stale: std::collections::HashSet<Nlri>,
    stale_deadline: Option<Instant>,
    max_prefix_warned: bool,
    synced: bool,
    stats: SessionStats,
    info: Option<SessionInfo>,
    rng: u64,
}

enum Fatal {
    /// Send this NOTIFICATION and drop the connection.
    Notify(Notification),
    /// Drop the connection (peer closed or sent a NOTIFICATION).
    Closed(DownReason),
}

impl Session {
    /// A session for a validated `config`, in Idle.
    pub fn new(config: PeerConfig) -> Self {
        let idle_hold_current = config.idle_hold;
        let config_seed = format!("{}{}{}", config.router_id, config.remote, config.local_as);
        Self {
            config,
            conns: Vec::new(),
            started: false,
            connecting: false,
            connect_retry_deadline: None,
            idle_hold_deadline: None,
            idle_hold_current,
            state: State::Idle,
            actions: VecDeque::new(),
            events: VecDeque::new(),
            rib_out: RibOut::default(),
            rib_in: HashMap::new(),
            stale: std::collections::HashSet::new(),
            stale_deadline: None,
            max_prefix_warned: false,
            synced: false,
            stats: SessionStats::default(),
            info: None,
            rng: seed(&config_seed),
        }
    }

    /// RFC 4271 §10: timers are jittered to 75–100% of their value so that
    /// many sessions restarting together do not stay synchronized.
    fn jitter(&mut self, d: Duration) -> Duration {
        // xorshift64: deterministic per session (seeded from the configuration).
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let permille = 750 + (self.rng % 251);
        d * u32::try_from(permille).unwrap_or(1000) / 1000
    }

    /// The configuration.
    pub fn config(&self) -> &PeerConfig {
        &self.config
    }

    /// The RFC 4271 state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Counters (prefix counts are computed on call).
    pub fn stats(&self) -> SessionStats {
        let mut s = self.stats.clone();
        s.prefixes_announced = self.rib_out.sent_count();
        s.prefixes_pending = self.rib_out.pending_count();
        s.prefixes_received = self.rib_in.len();
        s
    }

    /// Negotiated facts while Established.
    pub fn info(&self) -> Option<&SessionInfo> {
        self.info.as_ref()
    }

    /// The next socket action. Poll after every `handle*` and `flush` call.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next application event. Poll after every `handle*` and `flush` call.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest timer deadline; call [`Session::handle_timeout`] then.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let conn_deadlines = self.conns.iter().flat_map(|c| {
            [c.hold_deadline, c.keepalive_deadline, c.delay_open_deadline]
                .into_iter()
                .flatten()
        });
        [
            self.connect_retry_deadline,
            self.idle_hold_deadline,
            self.stale_deadline,
        ]
        .into_iter()
        .flatten()
        .chain(conn_deadlines)
        .min()
    }

    /// Wants `prefix` advertised with `attrs`.
    pub fn announce(&mut self, prefix: IpNet, attrs: Arc<RouteAttrs>) {
        self.rib_out.announce(prefix.trunc(), attrs);
    }

    /// Wants `prefix` withdrawn.
    pub fn withdraw(&mut self, prefix: IpNet) {
        self.rib_out.withdraw(prefix.trunc());
    }

    /// Replaces the whole desired set.
    pub fn set_routes(&mut self, routes: &BTreeMap<IpNet, Arc<RouteAttrs>>) {
        self.rib_out
            .set_desired_sorted(routes.iter().map(|(p, a)| (*p, a.clone())));
    }

    /// Replaces the whole desired set from an iterator sorted by prefix with
    /// no prefix twice (for example a [`crate::RouteTable`] walk), without
    /// building an intermediate map.
    pub fn set_routes_sorted(&mut self, routes: impl Iterator<Item = (IpNet, Arc<RouteAttrs>)>) {
        self.rib_out.set_desired_sorted(routes);
    }

    /// Processes one input at time `now`.
    pub fn handle(&mut self, now: Instant, input: Input) {
        match input {
            Input::Start => self.start(now),
            Input::Stop {
                message,
                subcode,
                graceful_restart,
            } => self.stop(now, message, subcode, graceful_restart),
            Input::TcpConnected {
                conn,
                direction,
                local,
                remote,
            } => self.connected(now, conn, direction, local, remote),
            Input::TcpConnectFailed => {
                self.connecting = false;
                self.stats.last_error = Some("TCP connection attempt failed".into());
            }
            Input::TcpClosed { conn } => {
                self.drop_conn(now, conn, Fatal::Closed(DownReason::ConnectionClosed))
            }
            Input::Bytes { conn, data } => self.bytes(now, conn, &data),
        }
        self.update_state();
    }

    /// Fires every timer whose deadline is at or before `now`. Spurious calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.stale_deadline.is_some_and(|d| d <= now) {
            // RFC 4724 §4.2: the peer did not come back within its Restart Time.
            self.stale_deadline = None;
            self.purge_stale(None);
        }
        if self.idle_hold_deadline.is_some_and(|d| d <= now) {
            self.idle_hold_deadline = None;
            if self.started {
                self.begin_connecting(now);
            }
        }
        if self.connect_retry_deadline.is_some_and(|d| d <= now) {
            // RFC 4271 §8.2.2 Connect/Active, event 9: retry the connection.
            self.connect_retry_deadline = Some(now + self.jitter(self.config.connect_retry));
            if self.conns.is_empty()
                && !self.connecting
                && self.config.mode != crate::ConnectMode::Passive
            {
                self.connecting = true;
                self.actions.push_back(Action::Connect);
            }
        }
        let ids: Vec<ConnId> = self.conns.iter().map(|c| c.id).collect();
        for id in ids {
            let Some(c) = self.conn_mut(id) else { continue };
            if c.delay_open_deadline.is_some_and(|d| d <= now) {
                // Event 12 DelayOpenTimer_Expires: send OPEN.
                c.delay_open_deadline = None;
                self.send_open(now, id);
            }
            let Some(c) = self.conn_mut(id) else { continue };
            if c.hold_deadline.is_some_and(|d| d <= now) {
                // Event 10 HoldTimer_Expires (RFC 4271 §6.5).
                self.drop_conn(
                    now,
                    id,
                    Fatal::Notify(Notification::new(
                        ErrorCode::HOLD_TIMER_EXPIRED,
                        0,
                        Bytes::new(),
                    )),
                );
                continue;
            }
            if c.keepalive_deadline.is_some_and(|d| d <= now) {
                // Event 11 KeepaliveTimer_Expires.
                c.keepalive_deadline = Some(now + c.keepalive);
                self.send(id, &Message::Keepalive);
            }
        }
        self.update_state();
    }

    /// Sends all pending route changes on the Established connection, packed
    /// into as few UPDATEs as fit, followed by End-of-RIB after the initial
    /// sync. Same as [`Session::flush_bounded`] without a bound.
    pub fn flush(&mut self) {
        while self.flush_bounded(usize::MAX) {}
    }

    /// Whether a flush would send something: route changes or the initial
    /// End-of-RIB are pending on an Established connection.
    pub fn wants_flush(&self) -> bool {
        self.conns.iter().any(|c| c.state == ConnState::Established)
            && (self.rib_out.has_changes() || !self.synced)
    }

    /// Like [`Session::flush`], but stops once about `max_bytes` of UPDATEs
    /// have been queued (at least one batch is always produced). Returns
    /// whether changes are still pending; call it again when the socket has
    /// drained. Drivers use this to keep the output queue, and so memory,
    /// bounded while millions of routes go out: the Adj-RIB-Out is walked
    /// with a cursor, never copied.
    pub fn flush_bounded(&mut self, max_bytes: usize) -> bool {
        /// Prefix changes packed per batch (grouped by attributes within it).
        const BATCH: usize = 8192;
        let Some(conn) = self
            .conns
            .iter()
            .find(|c| c.state == ConnState::Established)
        else {
            return false;
        };
        if !self.rib_out.has_changes() && self.synced {
            return false;
        }
        let (id, tx, local) = (conn.id, conn.tx, conn.local.ip());
        let ibgp = self
            .info
            .as_ref()
            .is_some_and(|i| self.config.is_internal(i.peer_as));
        let families = self
            .info
            .as_ref()
            .map(|i| i.negotiated.families.clone())
            .unwrap_or_default();
        let mut builder = UpdateBuilder::new(tx);
        let mut out = BytesMut::new();
        let mut count = 0usize;
        loop {
            let changes = self.rib_out.take_changes(BATCH);
            if changes.announce.is_empty() && changes.withdraw.is_empty() {
                break;
            }
            count += self.encode_changes(changes, &mut builder, &mut out, ibgp, local, &families);
            if out.len() >= max_bytes || !self.rib_out.has_changes() {
                break;
            }
        }
        if !self.synced && !self.rib_out.walking() {
            for fam in &families {
                out.extend_from_slice(&builder.end_of_rib(*fam));
                count += 1;
            }
            self.synced = true;
            self.events.push_back(Event::SyncComplete);
        }
        if !out.is_empty() {
            self.stats.sent.update += count as u64;
            self.actions.push_back(Action::Send {
                conn: id,
                data: out.freeze(),
            });
        }
        self.rib_out.has_changes()
    }

    /// Encodes one batch of changes: withdrawals first, then announcements
    /// grouped by identical attributes. Returns the number of UPDATEs.
    fn encode_changes(
        &mut self,
        changes: crate::rib_out::Changes,
        builder: &mut UpdateBuilder,
        out: &mut BytesMut,
        ibgp: bool,
        local: IpAddr,
        families: &[Family],
    ) -> usize {
        let tx = *builder.context();
        let mut count = 0usize;
        let (w4, w6): (Vec<Nlri>, Vec<Nlri>) = {
            let (a, b): (Vec<IpNet>, Vec<IpNet>) = changes
                .withdraw
                .iter()
                .partition(|p| matches!(p, IpNet::V4(_)));
            (
                a.into_iter().map(|p| nlri(p, &tx)).collect(),
                b.into_iter().map(|p| nlri(p, &tx)).collect(),
            )
        };
        for (fam, list) in [(Family::IPV4_UNICAST, &w4), (Family::IPV6_UNICAST, &w6)] {
            if !list.is_empty() && families.contains(&fam) {
                count += builder.withdraw_into(fam, list, out).unwrap_or(0);
            }
        }

        // Announcements grouped by identical attributes, in prefix order of
        // each group's first prefix.
        let mut groups: Vec<(Arc<RouteAttrs>, Vec<Nlri>, Vec<Nlri>)> = Vec::new();
        let mut index: HashMap<*const RouteAttrs, usize> = HashMap::new();
        for (p, a) in changes.announce {
            let i = *index.entry(Arc::as_ptr(&a)).or_insert_with(|| {
                groups.push((a.clone(), Vec::new(), Vec::new()));
                groups.len() - 1
            });
            if let Some(g) = groups.get_mut(i) {
                match p {
                    IpNet::V4(_) => g.1.push(nlri(p, &tx)),
                    IpNet::V6(_) => g.2.push(nlri(p, &tx)),
                }
            }
        }
        for (attrs, v4, v6) in groups {
            if !v4.is_empty() {
                if !families.contains(&Family::IPV4_UNICAST) {
                    self.not_sent(&v4, "IPv4 unicast not negotiated");
                } else {
                    match ipv4_next_hop(&attrs, local) {
                        Some(nh) => {
                            let path =
                                self.path_attributes(&attrs, ibgp, Some(nh), tx.four_octet_as);
                            count += builder.announce_into(&path, &v4, out).unwrap_or(0);
                        }
                        None => self.not_sent(&v4, "no IPv4 next hop: set one explicitly"),
                    }
                }
            }
            if !v6.is_empty() {
                if !families.contains(&Family::IPV6_UNICAST) {
                    self.not_sent(&v6, "IPv6 unicast not negotiated");
                } else {
                    let nh = ipv6_next_hop(&attrs, local);
                    let path = self.path_attributes(&attrs, ibgp, None, tx.four_octet_as);
                    count += builder
                        .announce_mp_into(Family::IPV6_UNICAST, &nh, &path, &v6, out)
                        .unwrap_or(0);
                }
            }
        }
        count
    }

    fn not_sent(&mut self, list: &[Nlri], reason: &'static str) {
        for n in list {
            self.events.push_back(Event::RouteNotSent {
                prefix: n.prefix,
                reason,
            });
        }
    }

    /// The path attributes for a route on this session (RFC 4271 §5.1).
    fn path_attributes(
        &self,
        a: &RouteAttrs,
        ibgp: bool,
        v4_next_hop: Option<Ipv4Addr>,
        four_octet_as: bool,
    ) -> Vec<PathAttribute> {
        let mut v = Vec::with_capacity(8);
        v.push(AttrValue::Origin(a.origin.unwrap_or(Origin::Igp)).into());
        // iBGP: empty AS_PATH; eBGP: our AS, prepended as configured (RFC 4271 §5.1.2).
        let path = if ibgp {
            AsPath::new()
        } else {
            AsPath::from_sequence(std::iter::repeat_n(
                self.config.local_as,
                1 + usize::from(a.as_path_prepend),
            ))
        };
        // RFC 6793 §4.2.2: toward a peer without 4-octet AS support, AS_PATH
        // carries AS_TRANS for ASes above 65535, and AS4_PATH the real path
        // (only when some AS does not fit two octets).
        let as4 = (!four_octet_as && path.has_four_octet_asn()).then(|| path.clone());
        v.push(AttrValue::AsPath(path).into());
        if let Some(p) = as4 {
            v.push(AttrValue::As4Path(p).into());
        }
        if let Some(nh) = v4_next_hop {
            v.push(AttrValue::NextHop(nh).into());
        }
        if let Some(m) = a.med {
            v.push(AttrValue::MultiExitDisc(m).into());
        }
        if ibgp {
            // LOCAL_PREF is mandatory on iBGP (RFC 4271 §5.1.5); 100 is the usual default.
            v.push(AttrValue::LocalPref(a.local_pref.unwrap_or(100)).into());
        }
        if !a.communities.is_empty() {
            v.push(AttrValue::Communities(a.communities.iter().copied().collect()).into());
        }
        if !a.extended_communities.is_empty() {
            v.push(
                AttrValue::ExtendedCommunities(a.extended_communities.iter().copied().collect())
                    .into(),
            );
        }
        if !a.large_communities.is_empty() {
            v.push(
                AttrValue::LargeCommunities(a.large_communities.iter().copied().collect()).into(),
            );
        }
        v
    }

    fn conn_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns.iter_mut().find(|c| c.id == id)
    }

    fn start(&mut self, now: Instant) {
        if self.started {
            return;
        }
        self.started = true;
        if self.idle_hold_deadline.is_none() {
            self.begin_connecting(now);
        }
    }

    fn begin_connecting(&mut self, now: Instant) {
        self.connect_retry_deadline = Some(now + self.jitter(self.config.connect_retry));
        if self.config.mode != crate::ConnectMode::Passive
            && self.conns.is_empty()
            && !self.connecting
        {
            self.connecting = true;
            self.actions.push_back(Action::Connect);
        }
    }

    fn stop(
        &mut self,
        now: Instant,
        message: Option<String>,
        sub: Option<u8>,
        graceful_restart: bool,
    ) {
        self.started = false;
        self.connect_retry_deadline = None;
        self.idle_hold_deadline = None;
        self.connecting = false;
        let n = match message {
            Some(m) => Notification::cease_with_message(
                sub.unwrap_or(subcode::cease::ADMINISTRATIVE_SHUTDOWN),
                &m,
            ),
            None => Notification::cease(sub.unwrap_or(subcode::cease::ADMINISTRATIVE_SHUTDOWN)),
        };
        for c in std::mem::take(&mut self.conns) {
            if !graceful_restart && c.state != ConnState::DelayOpen {
                self.send_notification_on(&c, &n);
            }
            self.actions.push_back(Action::Close { conn: c.id });
            if c.state == ConnState::Established {
                let reason = if graceful_restart {
                    DownReason::GracefulRestart
                } else {
                    DownReason::NotificationSent(n.clone())
                };
                self.session_down(now, reason);
            }
        }
    }

    fn connected(
        &mut self,
        now: Instant,
        id: ConnId,
        direction: Direction,
        local: SocketAddr,
        remote: SocketAddr,
    ) {
        if direction == Direction::Outbound {
            self.connecting = false;
        }
        let reject = |s: &mut Self, sub: u8| {
            let n = Notification::cease(sub);
            s.push_message(id, &Message::Notification(n));
            s.actions.push_back(Action::Close { conn: id });
        };
        if !self.started {
            // Idle refuses connections (RFC 4271 §8.2.2): Cease / Connection
            // Rejected. During the IdleHold wait after an error we only hold
            // back our own reconnection: a peer that connects is accepted
            // (interoperates with speakers such as ExaBGP that reconnect at
            // once after a collision).
            return reject(self, subcode::cease::CONNECTION_REJECTED);
        }
        if self.conns.iter().any(|c| c.state == ConnState::Established) {
            // RFC 4271 §6.8: a connection colliding with an Established one is closed.
            return reject(self, subcode::cease::CONNECTION_COLLISION_RESOLUTION);
        }
        if self.conns.len() >= 2 {
            return reject(self, subcode::cease::CONNECTION_REJECTED);
        }
        self.conns.push(Conn {
            id,
            direction,
            local,
            remote,
            state: ConnState::DelayOpen,
            buf: BytesMut::new(),
            peer_open: None,
            rx: Context::default(),
            tx: Context::default(),
            hold: LARGE_HOLD,
            keepalive: Duration::ZERO,
            hold_deadline: Some(now + LARGE_HOLD),
            keepalive_deadline: None,
            delay_open_deadline: None,
        });
        match self.config.delay_open {
            // RFC 4271 §8.2.2: with DelayOpen, wait before sending OPEN.
            Some(d) => {
                if let Some(c) = self.conn_mut(id) {
                    c.delay_open_deadline = Some(now + d);
                }
            }
            None => self.send_open(now, id),
        }
    }

    fn our_open(&self) -> Open {
        let mut caps: Vec<Capability> = self
            .config
            .families
            .iter()
            .map(|f| Capability::Multiprotocol(*f))
            .collect();
        caps.push(Capability::RouteRefresh);
        caps.push(Capability::EnhancedRouteRefresh);
        caps.push(Capability::FourOctetAs(self.config.local_as));
        if self.config.extended_message {
            caps.push(Capability::ExtendedMessage);
        }
        let add_path: Vec<AddPathFamily> = self
            .config
            .families
            .iter()
            .filter(|f| self.config.add_path_send.contains(**f))
            .map(|f| AddPathFamily {
                family: *f,
                mode: AddPathMode::Send,
            })
            .collect();
        if !add_path.is_empty() {
            caps.push(Capability::AddPath(add_path));
        }
        if let Some(gr) = self.config.graceful_restart {
            let restarting = gr.restarting;
            caps.push(Capability::GracefulRestart(GracefulRestart {
                flags: if restarting {
                    GracefulRestart::RESTART_STATE
                } else {
                    0
                },
                restart_time: u16::try_from(gr.restart_time.as_secs())
                    .unwrap_or(4095)
                    .min(4095),
                families: self
                    .config
                    .families
                    .iter()
                    .map(|f| GracefulRestartFamily {
                        family: *f,
                        flags: if restarting {
                            GracefulRestartFamily::FORWARDING
                        } else {
                            0
                        },
                    })
                    .collect(),
            }));
        }
        let hold = u16::try_from(self.config.hold_time.as_secs()).unwrap_or(u16::MAX);
        Open::new(self.config.local_as, hold, self.config.router_id, caps)
    }

    fn send_open(&mut self, now: Instant, id: ConnId) {
        let open = self.our_open();
        self.send(id, &Message::Open(open));
        if let Some(c) = self.conn_mut(id) {
            c.state = ConnState::OpenSent;
            c.hold_deadline = Some(now + LARGE_HOLD);
        }
    }

    fn send(&mut self, id: ConnId, m: &Message) {
        self.push_message(id, m);
    }

    fn push_message(&mut self, id: ConnId, m: &Message) {
        let ctx = self
            .conns
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.tx)
            .unwrap_or_default();
        if let Ok(b) = m.to_bytes(&ctx) {
            self.stats.sent.count(m.message_type().0);
            self.actions.push_back(Action::Send { conn: id, data: b });
        }
    }

    fn send_notification_on(&mut self, c: &Conn, n: &Notification) {
        if let Ok(b) = Message::Notification(n.clone()).to_bytes(&c.tx) {
            self.stats.sent.notification += 1;
            self.stats.last_notification_sent = Some(n.clone());
            self.actions.push_back(Action::Send {
                conn: c.id,
                data: b,
            });
        }
    }

    fn bytes(&mut self, now: Instant, id: ConnId, data: &[u8]) {
        let Some(c) = self.conn_mut(id) else { return };
        c.buf.extend_from_slice(data);
        loop {
            let Some(c) = self.conn_mut(id) else { return };
            let max = c.rx.max_message_len();
            let len = match header::message_len(&c.buf, max) {
                Ok(Some(len)) if c.buf.len() >= len => len,
                Ok(_) => return,
                Err(e) => {
                    let n = e.notification();
                    self.stats.last_error = Some(e.to_string());
                    return self.drop_conn(now, id, Fatal::Notify(n));
                }
            };
            let frame = c.buf.split_to(len).freeze();
            let rx = c.rx;
            let ty = frame.get(18).copied().unwrap_or(0);
            self.stats.received.count(ty);
            match Message::decode(&frame, &rx) {
                Ok(d) => {
                    if let Err(f) = self.message(now, id, d) {
                        return self.drop_conn(now, id, f);
                    }
                }
                Err(e) => {
                    self.stats.last_error = Some(e.to_string());
                    return self.drop_conn(now, id, Fatal::Notify(e.notification()));
                }
            }
        }
    }

    fn fsm_error(sub: u8, ty: MessageType) -> Fatal {
        // RFC 6608 §3: the data is the type of the unexpected message.
        Fatal::Notify(Notification::new(
            ErrorCode::FSM,
            sub,
            Bytes::copy_from_slice(&[ty.0]),
        ))
    }

    fn message(&mut self, now: Instant, id: ConnId, d: Decoded) -> Result<(), Fatal> {
        let Some(c) = self.conns.iter().find(|c| c.id == id) else {
            return Ok(());
        };
        let state = c.state;
        let ty = d.message.message_type();
        if let Message::Notification(n) = d.message {
            // Event 24/25: the peer closes (RFC 4271 §6.4: never answered).
            self.stats.last_notification_received = Some(n.clone());
            self.stats.last_error = Some(format!("peer sent NOTIFICATION {n}"));
            return Err(Fatal::Closed(DownReason::NotificationReceived(n)));
        }
        match (state, d.message) {
            (ConnState::OpenSent | ConnState::DelayOpen, Message::Open(open)) => {
                self.open_received(now, id, open)
            }
            (ConnState::OpenSent | ConnState::DelayOpen, _) => {
                Err(Self::fsm_error(subcode::fsm::UNEXPECTED_IN_OPEN_SENT, ty))
            }
            (ConnState::OpenConfirm, Message::Keepalive) => {
                self.established(now, id);
                Ok(())
            }
            (ConnState::OpenConfirm, _) => Err(Self::fsm_error(
                subcode::fsm::UNEXPECTED_IN_OPEN_CONFIRM,
                ty,
            )),
            (ConnState::Established, Message::Keepalive) => {
                self.restart_hold(now, id);
                Ok(())
            }
            (ConnState::Established, Message::Update(u)) => {
                self.restart_hold(now, id);
                self.update_received(u, &d.errors)
            }
            (ConnState::Established, Message::RouteRefresh(rr)) => {
                self.restart_hold(now, id);
                self.route_refresh_received(rr);
                Ok(())
            }
            (ConnState::Established, _) => {
                Err(Self::fsm_error(subcode::fsm::UNEXPECTED_IN_ESTABLISHED, ty))
            }
        }
    }

    fn restart_hold(&mut self, now: Instant, id: ConnId) {
        if let Some(c) = self.conn_mut(id) {
            if !c.hold.is_zero() {
                c.hold_deadline = Some(now + c.hold);
            }
        }
    }

    fn open_received(&mut self, now: Instant, id: ConnId, open: Open) -> Result<(), Fatal> {
        let notify = |sub: u8| {
            Fatal::Notify(Notification::new(
                ErrorCode::OPEN_MESSAGE,
                sub,
                Bytes::new(),
            ))
        };
        let peer_as = open.asn();
        // RFC 4271 §6.2 / RFC 6793 §4.1: the AS must be the configured one.
        if !self.config.accepts_as(peer_as) || peer_as == 0 {
            return Err(notify(subcode::open::BAD_PEER_AS));
        }
        // RFC 6286 §2.2: an iBGP peer must not use our identifier.
        if self.config.is_internal(peer_as) && open.bgp_id == self.config.router_id {
            return Err(notify(subcode::open::BAD_BGP_IDENTIFIER));
        }
        let ours = self.our_open();
        let negotiated = Context::negotiate(&ours, &open);
        let hold_secs = open.hold_time.min(ours.hold_time);
        let hold = Duration::from_secs(u64::from(hold_secs));
        let keepalive = match (hold_secs, self.config.keepalive) {
            (0, _) => Duration::ZERO,
            (_, Some(k)) => k.min(hold / 3).max(Duration::from_secs(1)),
            (_, None) => hold / 3,
        };
        let delayed = self
            .conns
            .iter()
            .any(|c| c.id == id && c.state == ConnState::DelayOpen);
        if delayed {
            // Event 20: OPEN while DelayOpen runs: send our OPEN now.
            self.send(id, &Message::Open(ours));
        }
        if let Some(c) = self.conn_mut(id) {
            c.rx = negotiated.receive;
            c.tx = negotiated.send;
            c.hold = hold;
            c.keepalive = keepalive;
            c.delay_open_deadline = None;
            c.state = ConnState::OpenConfirm;
            c.hold_deadline = (!hold.is_zero()).then(|| now + hold);
            c.keepalive_deadline = (!keepalive.is_zero()).then(|| now + keepalive);
            c.peer_open = Some(open.clone());
        }
        self.send(id, &Message::Keepalive);
        self.resolve_collision(id, &open);
        Ok(())
    }

    /// RFC 4271 §6.8: on receipt of an OPEN, examine the connections in
    /// OpenConfirm (a connection still in OpenSent has not told us the peer's
    /// BGP identifier yet, so it does not take part); of two, keep the one
    /// opened by the speaker with the higher BGP identifier.
    fn resolve_collision(&mut self, id: ConnId, open: &Open) {
        let Some(other) = self
            .conns
            .iter()
            .find(|c| c.id != id && c.state == ConnState::OpenConfirm)
            .map(|c| (c.id, c.direction))
        else {
            return;
        };
        let Some(dir) = self.conns.iter().find(|c| c.id == id).map(|c| c.direction) else {
            return;
        };
        let local_wins = u32::from(self.config.router_id) > u32::from(open.bgp_id);
        // Close the connection initiated by the loser.
        let loser_dir = if local_wins {
            Direction::Inbound
        } else {
            Direction::Outbound
        };
        let victim = if dir == loser_dir {
            id
        } else if other.1 == loser_dir {
            other.0
        } else {
            return;
        };
        if let Some(pos) = self.conns.iter().position(|c| c.id == victim) {
            let c = self.conns.remove(pos);
            let n = Notification::cease(subcode::cease::CONNECTION_COLLISION_RESOLUTION);
            self.send_notification_on(&c, &n);
            self.actions.push_back(Action::Close { conn: c.id });
        }
    }

    fn established(&mut self, now: Instant, id: ConnId) {
        // Any other connection loses (RFC 4271 §6.8).
        let others: Vec<Conn> = {
            let (keep, drop): (Vec<Conn>, Vec<Conn>) = std::mem::take(&mut self.conns)
                .into_iter()
                .partition(|c| c.id == id);
            self.conns = keep;
            drop
        };
        for c in others {
            self.send_notification_on(
                &c,
                &Notification::cease(subcode::cease::CONNECTION_COLLISION_RESOLUTION),
            );
            self.actions.push_back(Action::Close { conn: c.id });
        }
        self.connect_retry_deadline = None;
        self.connecting = false;
        let Some(c) = self.conn_mut(id) else { return };
        c.state = ConnState::Established;
        if !c.hold.is_zero() {
            c.hold_deadline = Some(now + c.hold);
        }
        let Some(open) = c.peer_open.clone() else {
            return;
        };
        let (local, remote, hold, keepalive) = (c.local, c.remote, c.hold, c.keepalive);
        let ours = self.our_open();
        let negotiated = Context::negotiate(&ours, &open);
        let info = SessionInfo {
            peer_as: open.asn(),
            peer_id: open.bgp_id,
            hold_time: u16::try_from(hold.as_secs()).unwrap_or(u16::MAX),
            keepalive: u16::try_from(keepalive.as_secs()).unwrap_or(u16::MAX),
            local,
            remote,
            negotiated,
            peer_graceful_restart: open.graceful_restart().is_some(),
            peer_restart_time: open.graceful_restart().map(|g| g.restart_time),
            route_refresh: open.has_capability(CapabilityCode::ROUTE_REFRESH)
                || open.has_capability(CapabilityCode::ROUTE_REFRESH_CISCO),
            enhanced_route_refresh: open.has_capability(CapabilityCode::ENHANCED_ROUTE_REFRESH),
        };
        self.stats.established_at = Some(now);
        if !self.stale.is_empty() {
            // RFC 4724 §4.2: routes are kept only for families whose
            // forwarding state the restarted peer preserved (F bit).
            let kept: Vec<Family> = open
                .graceful_restart()
                .map(|g| {
                    g.families
                        .iter()
                        .filter(|f| f.forwarding())
                        .map(|f| f.family)
                        .collect()
                })
                .unwrap_or_default();
            for fam in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
                if !kept.contains(&fam) {
                    self.purge_stale(Some(fam));
                }
            }
        }
        self.info = Some(info.clone());
        self.synced = false;
        self.rib_out.session_up();
        self.events.push_back(Event::Established(Box::new(info)));
        // The initial sync goes out on the next flush (the driver flushes
        // after every input, bounded by its socket's progress).
    }

    fn route_refresh_received(&mut self, rr: RouteRefresh) {
        // RFC 7313 §5: unknown subtypes are ignored; BoRR/EoRR are for received routes.
        if rr.subtype != RouteRefresh::REQUEST {
            return;
        }
        let Some(info) = &self.info else { return };
        let fam = rr.family();
        if !info.negotiated.families.contains(&fam) {
            // RFC 2918 §4: a refresh for a family not negotiated is ignored.
            return;
        }
        let enhanced = info.enhanced_route_refresh;
        let Some(id) = self
            .conns
            .iter()
            .find(|c| c.state == ConnState::Established)
            .map(|c| c.id)
        else {
            return;
        };
        if enhanced {
            self.send(
                id,
                &Message::RouteRefresh(RouteRefresh::with_subtype(fam, RouteRefresh::BORR)),
            );
        }
        self.rib_out.mark_all_dirty();
        let synced = self.synced;
        self.synced = true;
        self.flush();
        self.synced = synced;
        if enhanced {
            self.send(
                id,
                &Message::RouteRefresh(RouteRefresh::with_subtype(fam, RouteRefresh::EORR)),
            );
        }
    }

    fn update_received(
        &mut self,
        u: bgp_proto::Update,
        errors: &[bgp_proto::AttrError],
    ) -> Result<(), Fatal> {
        let ebgp = self
            .info
            .as_ref()
            .is_some_and(|i| !self.config.is_internal(i.peer_as));
        let mut withdraw_all = false;
        for e in errors {
            // RFC 7606 §7.5, §7.9, §7.10: on eBGP these attributes are discarded
            // whatever their length, so their errors are attribute discard.
            let ebgp_discard = ebgp
                && matches!(
                    e.code,
                    AttrType::LOCAL_PREF | AttrType::ORIGINATOR_ID | AttrType::CLUSTER_LIST
                );
            match e.action {
                AttrAction::AfiSafiDisable => {
                    // We do not support AFI/SAFI disable; RFC 7606 §5.3 allows a session reset.
                    return Err(Fatal::Notify(e.kind.notification()));
                }
                AttrAction::TreatAsWithdraw if !ebgp_discard => withdraw_all = true,
                _ => {}
            }
            self.events.push_back(Event::UpdateError(e.to_string()));
        }
        if let Some(fam) = u.end_of_rib_family() {
            // RFC 4724 §4.2: End-of-RIB ends the restart; what is still stale is gone.
            self.purge_stale(Some(fam));
            self.events.push_back(Event::EndOfRib(fam));
            return Ok(());
        }
        let Some(rc) = self.config.receive else {
            return Ok(());
        };
        let mut withdrawn: Vec<Nlri> = u.withdrawn.to_vec();
        if let Some(m) = u.mp_unreach() {
            withdrawn.extend(m.withdrawn.iter());
        }
        let mut reach: Vec<Nlri> = u.nlri.to_vec();
        if let Some(m) = u.mp_reach() {
            reach.extend(m.nlri.iter());
        }
        if withdraw_all {
            withdrawn.append(&mut reach);
        }
        for n in &withdrawn {
            self.rib_in.remove(n);
            if !self.stale.is_empty() {
                self.stale.remove(n);
            }
        }
        let mut attrs = u.attributes;
        if ebgp {
            attrs.retain(|a| {
                !matches!(
                    a.code(),
                    AttrType::LOCAL_PREF | AttrType::ORIGINATOR_ID | AttrType::CLUSTER_LIST
                )
            });
        }
        let attrs = Arc::new(attrs);
        let mut announced = Vec::with_capacity(reach.len());
        for n in reach {
            let (count, limit) = (self.rib_in.len(), rc.max_prefixes);
            if count >= limit && !self.rib_in.contains_key(&n) {
                if !self.max_prefix_warned {
                    self.max_prefix_warned = true;
                    self.events
                        .push_back(Event::MaxPrefixExceeded { count, limit });
                }
                match rc.action {
                    MaxPrefixAction::Close => {
                        // RFC 4486 §4: Cease / Maximum Number of Prefixes
                        // Reached, with AFI, SAFI and the upper bound as data.
                        let (afi, safi) = match n.prefix {
                            IpNet::V4(_) => (1u16, 1u8),
                            IpNet::V6(_) => (2, 1),
                        };
                        let mut data = Vec::with_capacity(7);
                        data.extend_from_slice(&afi.to_be_bytes());
                        data.push(safi);
                        data.extend_from_slice(
                            &u32::try_from(limit).unwrap_or(u32::MAX).to_be_bytes(),
                        );
                        return Err(Fatal::Notify(Notification::new(
                            ErrorCode::CEASE,
                            subcode::cease::MAX_PREFIXES,
                            Bytes::from(data),
                        )));
                    }
                    // Warn keeps accepting, up to a hard ceiling of twice the
                    // limit so that memory stays bounded; Drop stops at the limit.
                    MaxPrefixAction::Warn if count < limit.saturating_mul(2) => {}
                    MaxPrefixAction::Warn | MaxPrefixAction::Drop => continue,
                }
            }
            self.rib_in.insert(n, attrs.clone());
            if !self.stale.is_empty() {
                self.stale.remove(&n);
            }
            announced.push(ReceivedRoute {
                nlri: n,
                attributes: attrs.clone(),
            });
        }
        if !announced.is_empty() || !withdrawn.is_empty() {
            self.events.push_back(Event::Routes {
                announced,
                withdrawn,
            });
        }
        Ok(())
    }

    /// Closes a connection, sending a NOTIFICATION first when `f` says so,
    /// and takes the session down if it was the Established one.
    fn drop_conn(&mut self, now: Instant, id: ConnId, f: Fatal) {
        let Some(pos) = self.conns.iter().position(|c| c.id == id) else {
            return;
        };
        let c = self.conns.remove(pos);
        let reason = match f {
            Fatal::Notify(n) => {
                self.send_notification_on(&c, &n);
                self.stats
                    .last_error
                    .get_or_insert_with(|| format!("sent NOTIFICATION {n}"));
                DownReason::NotificationSent(n)
            }
            Fatal::Closed(r) => r,
        };
        self.actions.push_back(Action::Close { conn: c.id });
        if c.state == ConnState::Established {
            self.session_down(now, reason);
            self.after_error(now);
        } else if self.conns.is_empty() {
            self.events.push_back(Event::ConnectionError(reason));
            self.after_error(now);
        }
    }

    /// After an error: back to Idle, restarting after the (damped) IdleHoldTime.
    fn after_error(&mut self, now: Instant) {
        if !self.started || !self.conns.is_empty() {
            return;
        }
        self.connecting = false;
        self.connect_retry_deadline = None;
        let hold = self.idle_hold_current;
        if hold.is_zero() {
            self.begin_connecting(now);
        } else {
            self.idle_hold_deadline = Some(now + self.jitter(hold));
            // Damp peer oscillations (RFC 4271 §8.1.1 event 6): double up to the cap.
            self.idle_hold_current =
                (hold * 2).min(self.config.idle_hold_max.max(self.config.idle_hold));
        }
    }

    fn session_down(&mut self, now: Instant, reason: DownReason) {
        self.stats.flaps += 1;
        if let Some(at) = self.stats.established_at.take() {
            // A session that stayed up longer than the damping ceiling resets damping.
            if now.saturating_duration_since(at) >= self.config.idle_hold_max {
                self.idle_hold_current = self.config.idle_hold;
            }
        }
        let peer_restart = self
            .info
            .as_ref()
            .and_then(|i| i.peer_restart_time)
            .filter(|_| reason == DownReason::ConnectionClosed);
        self.info = None;
        self.synced = false;
        self.rib_out.session_down();
        match peer_restart {
            // RFC 4724 §4.2: the peer can restart gracefully: keep its routes,
            // marked stale, for its Restart Time.
            Some(t) if !self.rib_in.is_empty() => {
                self.stale = self.rib_in.keys().copied().collect();
                self.stale_deadline = Some(now + Duration::from_secs(u64::from(t)));
                self.events.push_back(Event::RoutesStale {
                    count: self.stale.len(),
                });
            }
            _ => self.purge_all_received(),
        }
        self.max_prefix_warned = false;
        self.events.push_back(Event::Down(reason));
    }

    /// Withdraws every received route.
    fn purge_all_received(&mut self) {
        self.stale.clear();
        self.stale_deadline = None;
        if !self.rib_in.is_empty() {
            let mut withdrawn: Vec<Nlri> = std::mem::take(&mut self.rib_in).into_keys().collect();
            withdrawn.sort_unstable();
            self.events.push_back(Event::Routes {
                announced: Vec::new(),
                withdrawn,
            });
        }
    }

    /// Withdraws the stale routes of `family` (all families with `None`).
    fn purge_stale(&mut self, family: Option<Family>) {
        let v4 = |n: &Nlri| matches!(n.prefix, IpNet::V4(_));
        let gone: Vec<Nlri> = self
            .stale
            .iter()
            .filter(|n| match family {
                None => true,
                Some(f) if f == Family::IPV4_UNICAST => v4(n),
                Some(f) if f == Family::IPV6_UNICAST => !v4(n),
                Some(_) => false,
            })
            .copied()
            .collect();
        let mut gone = gone;
        gone.sort_unstable();
        for n in &gone {
            self.stale.remove(n);
            self.rib_in.remove(n);
        }
        if self.stale.is_empty() {
            self.stale_deadline = None;
        }
        if !gone.is_empty() {
            self.events.push_back(Event::Routes {
                announced: Vec::new(),
                withdrawn: gone,
            });
        }
    }

    fn update_state(&mut self) {
        let best = self.conns.iter().map(|c| c.state).max_by_key(|s| match s {
            ConnState::DelayOpen => 0,
            ConnState::OpenSent => 1,
            ConnState::OpenConfirm => 2,
            ConnState::Established => 3,
        });
        let new = match best {
            Some(ConnState::Established) => State::Established,
            Some(ConnState::OpenConfirm) => State::OpenConfirm,
            Some(ConnState::OpenSent) => State::OpenSent,
            Some(ConnState::DelayOpen) => State::Connect,
            None if !self.started || self.idle_hold_deadline.is_some() => State::Idle,
            None if self.connecting => State::Connect,
            None => State::Active,
        };
        if new != self.state {
            self.events.push_back(Event::StateChanged {
                from: self.state,
                to: new,
            });
            self.state = new;
        }
    }
}

/// A non-zero PRNG seed from a string (FNV-1a).
fn seed(s: &str) -> u64 {
    let h = s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    h | 1
}

/// The NLRI for an originated prefix: with ADD-PATH negotiated for sending
/// (RFC 7911), our single path per prefix carries path identifier 1.
fn nlri(p: IpNet, tx: &Context) -> Nlri {
    let fam = match p {
        IpNet::V4(_) => Family::IPV4_UNICAST,
        IpNet::V6(_) => Family::IPV6_UNICAST,
    };
    if tx.add_path(fam) {
        Nlri::with_path_id(p, 1)
    } else {
        Nlri::new(p)
    }
}

/// The IPv4 next hop for IPv4 routes: the override, or the session's local
/// address when it is IPv4.
fn ipv4_next_hop(a: &RouteAttrs, local: IpAddr) -> Option<Ipv4Addr> {
    match a.next_hop {
        Some(NextHopOverride::Address(IpAddr::V4(v4))) => Some(v4),
        Some(_) => None,
        None => match local {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(v6) => v6.to_ipv4_mapped(),
        },
    }
}

/// The IPv6 next hop for IPv6 routes: the override, else the session's local
/// address (an IPv4 session uses the IPv4-mapped form).
fn ipv6_next_hop(a: &RouteAttrs, local: IpAddr) -> NextHop {
    match a.next_hop {
        Some(NextHopOverride::Ipv6WithLinkLocal { global, link_local }) => NextHop::Ipv6 {
            global,
            link_local: Some(link_local),
        },
        Some(NextHopOverride::Address(IpAddr::V6(global))) => NextHop::Ipv6 {
            global,
            link_local: None,
        },
        Some(NextHopOverride::Address(IpAddr::V4(v4))) => NextHop::Ipv6 {
            global: v4.to_ipv6_mapped(),
            link_local: None,
        },
        None => match local {
            IpAddr::V6(global) => NextHop::Ipv6 {
                global,
                link_local: None,
            },
            IpAddr::V4(v4) => NextHop::Ipv6 {
                global: v4.to_ipv6_mapped(),
                link_local: None,
            },
        },
    }
}
