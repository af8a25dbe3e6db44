//! Inputs to the sans-IO session (RFC 4271 §8.1 events) and its outputs.

use std::net::SocketAddr;
use std::sync::Arc;

use bgp_proto::attribute::PathAttribute;
use bgp_proto::{Family, Negotiated, Nlri, Notification};
use bytes::Bytes;

use crate::fsm::State;

/// Identifies one TCP connection; chosen by the driver, unique per session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// Who opened a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// We connected (RFC 4271 event 16/17 Tcp_CR_Acked / TcpConnectionConfirmed).
    Outbound,
    /// The peer connected (event 14 TcpConnection_Valid).
    Inbound,
}

/// Something that happened outside the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// ManualStart or AutomaticStart (events 1/3; 4/5 when the peer is passive).
    Start,
    /// ManualStop (event 2): every connection gets a Cease. With `message`,
    /// the Cease is Administrative Shutdown with that shutdown communication
    /// (RFC 9003); `subcode` overrides the Cease subcode (e.g. 3, Peer
    /// De-configured). With `graceful_restart`, connections close without a
    /// NOTIFICATION so that peers keep our routes (RFC 4724 §4).
    Stop {
        /// Shutdown communication.
        message: Option<String>,
        /// Cease subcode (2 by default).
        subcode: Option<u8>,
        /// Close silently to let peers act as graceful restart helpers.
        graceful_restart: bool,
    },
    /// A TCP connection is up (events 14, 16, 17).
    TcpConnected {
        /// The connection.
        conn: ConnId,
        /// Who opened it.
        direction: Direction,
        /// Our end.
        local: SocketAddr,
        /// Their end.
        remote: SocketAddr,
    },
    /// An outbound connection attempt failed (event 18 TcpConnectionFails).
    TcpConnectFailed,
    /// The connection closed or failed (event 18).
    TcpClosed {
        /// The connection.
        conn: ConnId,
    },
    /// Bytes arrived on a connection.
    Bytes {
        /// The connection.
        conn: ConnId,
        /// The bytes.
        data: Bytes,
    },
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open a TCP connection to the peer (answer with
    /// [`Input::TcpConnected`] or [`Input::TcpConnectFailed`]).
    Connect,
    /// Write these bytes to the connection, in order.
    Send {
        /// The connection.
        conn: ConnId,
        /// One or more whole messages.
        data: Bytes,
    },
    /// Close the connection once the bytes queued before this action are written.
    Close {
        /// The connection.
        conn: ConnId,
    },
}

/// Why a session went down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DownReason {
    /// We sent this NOTIFICATION.
    NotificationSent(Notification),
    /// The peer sent this NOTIFICATION.
    NotificationReceived(Notification),
    /// The TCP connection closed without a NOTIFICATION.
    ConnectionClosed,
    /// Stopped without a NOTIFICATION for a graceful restart.
    GracefulRestart,
}

/// A route received from the peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedRoute {
    /// The prefix and path identifier.
    pub nlri: Nlri,
    /// The path attributes (shared by routes of the same UPDATE).
    pub attributes: Arc<Vec<PathAttribute>>,
}

/// Something the application may want to know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The FSM state changed.
    StateChanged {
        /// Old state.
        from: State,
        /// New state.
        to: State,
    },
    /// The session is Established with these negotiated facts.
    Established(Box<SessionInfo>),
    /// The session left Established.
    Down(DownReason),
    /// A connection attempt failed or was refused before Established.
    ConnectionError(DownReason),
    /// Routes received (only when receiving is configured).
    Routes {
        /// New or replaced routes.
        announced: Vec<ReceivedRoute>,
        /// Withdrawn routes (including treat-as-withdraw, RFC 7606).
        withdrawn: Vec<Nlri>,
    },
    /// The session dropped but the peer can restart gracefully: its routes
    /// are kept, marked stale, until it re-sends them and End-of-RIB, or its
    /// Restart Time passes (RFC 4724 §4.2).
    RoutesStale {
        /// How many routes are stale.
        count: usize,
    },
    /// The peer sent End-of-RIB for a family (RFC 4724 §2).
    EndOfRib(Family),
    /// The initial advertisement is done: End-of-RIB sent for every family.
    SyncComplete,
    /// A received UPDATE had malformed attributes handled by RFC 7606 without a reset.
    UpdateError(String),
    /// The received-prefix limit was exceeded.
    MaxPrefixExceeded {
        /// Prefixes held.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A route could not be sent (e.g. no usable next hop for its family).
    RouteNotSent {
        /// The prefix.
        prefix: ipnet::IpNet,
        /// Why.
        reason: &'static str,
    },
}

/// Negotiated facts of an Established session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// The peer's AS.
    pub peer_as: u32,
    /// The peer's BGP identifier.
    pub peer_id: std::net::Ipv4Addr,
    /// Negotiated hold time in seconds (0 = none).
    pub hold_time: u16,
    /// Keepalive interval in seconds (0 = none).
    pub keepalive: u16,
    /// Local and remote socket addresses.
    pub local: SocketAddr,
    /// The peer's socket address.
    pub remote: SocketAddr,
    /// Wire contexts and common families.
    pub negotiated: Negotiated,
    /// The peer advertised graceful restart.
    pub peer_graceful_restart: bool,
    /// The peer's graceful restart time in seconds, when it advertised the capability.
    pub peer_restart_time: Option<u16>,
    /// The peer supports route refresh (RFC 2918).
    pub route_refresh: bool,
    /// Both support enhanced route refresh (RFC 7313).
    pub enhanced_route_refresh: bool,
}
