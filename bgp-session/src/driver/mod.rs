//! The tokio driver: one task per peer, one per listening socket, and a
//! cloneable [`Speaker`] handle.
//!
//! ```text
//!  Speaker (handle) ──commands──► peer task ──► Session (sans-IO)
//!       │                          ▲   │ actions
//!       │ registry (by peer IP)    │   ├─ Connect ─► connect task ──┐
//!  listener task ─accepted socket──┘   ├─ Send ────► writer task     │
//!                                      └─ Close      reader task ────┘ bytes
//!  events: broadcast ◄── peer task        status: watch ◄── peer task
//! ```

mod listener;
mod peer;
mod socket;
mod sockopt;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use ipnet::IpNet;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::config::{ConfigError, PeerConfig};
use crate::event::Event;
use crate::fsm::State;
use crate::route::Route;
use crate::routes::{Peers, RouteTable};
use crate::stats::SessionStats;

pub use peer::PeerStatus;

/// An event from one peer.
#[derive(Clone, Debug)]
pub struct SpeakerEvent {
    /// The peer (configured address and port).
    pub peer: SocketAddr,
    /// What happened.
    pub event: Event,
}

/// Why a speaker operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpeakerError {
    /// The peer configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A peer with this address and port already exists.
    #[error("peer {0} already exists")]
    DuplicatePeer(SocketAddr),
    /// No such peer.
    #[error("no peer {0}")]
    UnknownPeer(SocketAddr),
    /// A socket operation failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

pub(crate) enum PeerCmd {
    /// A snapshot of the route table; the peer takes what selects it.
    SetRoutes(Arc<RouteTable>),
    Announce(IpNet, Option<Arc<crate::route::RouteAttrs>>),
    Stop {
        message: Option<String>,
        subcode: Option<u8>,
        graceful_restart: bool,
        done: oneshot::Sender<()>,
    },
}

struct PeerEntry {
    cmds: mpsc::UnboundedSender<PeerCmd>,
    inbound: mpsc::Sender<tokio::net::TcpStream>,
    status: watch::Receiver<PeerStatus>,
    password: Option<String>,
}

#[derive(Default)]
pub(crate) struct Inner {
    /// Shared with peer tasks while they copy their part into their
    /// Adj-RIB-Out; changed copy-on-write.
    table: Arc<RouteTable>,
    peers: HashMap<SocketAddr, PeerEntry>,
    listeners: Vec<Arc<tokio::net::TcpListener>>,
}

/// A running BGP speaker: peers, routes and listeners. Cheap to clone.
///
/// Routes are announced to every peer they select ([`Peers`]); a peer added
/// later receives the routes that select it.
#[derive(Clone)]
pub struct Speaker {
    inner: Arc<Mutex<Inner>>,
    events: broadcast::Sender<SpeakerEvent>,
}

impl Default for Speaker {
    fn default() -> Self {
        Self::new()
    }
}

impl Speaker {
    /// A speaker with no peers and no listener. Must be called inside a tokio runtime
    /// before peers are added.
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(4096);
        Self {
            inner: Arc::new(Mutex::new(Inner::default())),
            events,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Accepts BGP connections on `addr` (port 179 needs privileges) and
    /// returns the bound address. Connections from unknown addresses are
    /// refused with Cease / Connection Rejected (RFC 4486).
    pub async fn listen(&self, addr: SocketAddr) -> Result<SocketAddr, SpeakerError> {
        let std_listener: std::net::TcpListener = socket::listener(addr)?.into();
        let listener = Arc::new(tokio::net::TcpListener::from_std(std_listener)?);
        let bound = listener.local_addr()?;
        {
            let mut inner = self.lock();
            for (peer, entry) in &inner.peers {
                if let Some(p) = &entry.password {
                    socket::listener_md5(listener.as_ref(), peer.ip(), Some(p))?;
                }
            }
            inner.listeners.push(listener.clone());
        }
        tokio::spawn(listener::run(listener, self.inner.clone()));
        Ok(bound)
    }

    /// Adds and starts a peer.
    pub fn add_peer(&self, config: PeerConfig) -> Result<(), SpeakerError> {
        config.validate()?;
        let mut inner = self.lock();
        if inner.peers.contains_key(&config.remote) {
            return Err(SpeakerError::DuplicatePeer(config.remote));
        }
        let password = config.md5_password.as_ref().map(|p| p.expose().to_owned());
        if let Some(p) = &password {
            for l in &inner.listeners {
                socket::listener_md5(l.as_ref(), config.remote.ip(), Some(p))?;
            }
        }
        let routes = inner.table.clone();
        let remote = config.remote;
        let (cmds, cmd_rx) = mpsc::unbounded_channel();
        let (inbound, inbound_rx) = mpsc::channel(4);
        let (status_tx, status) = watch::channel(PeerStatus::new(remote));
        let _ = cmds.send(PeerCmd::SetRoutes(routes));
        tokio::spawn(peer::run(
            config,
            cmd_rx,
            inbound_rx,
            status_tx,
            self.events.clone(),
        ));
        inner.peers.insert(
            remote,
            PeerEntry {
                cmds,
                inbound,
                status,
                password,
            },
        );
        Ok(())
    }

    /// Removes a peer, sending Cease / Peer De-configured (RFC 4486) with an
    /// optional shutdown communication (RFC 9003). Other peers are untouched.
    pub async fn remove_peer(
        &self,
        peer: SocketAddr,
        message: Option<String>,
    ) -> Result<(), SpeakerError> {
        self.stop_peer(
            peer,
            message,
            bgp_proto::iana::subcode::cease::PEER_DECONFIGURED,
        )
        .await
    }

    /// Removes a peer whose configuration changed (to add it again with the
    /// new one), sending Cease / Other Configuration Change (RFC 4486 §4)
    /// with an optional shutdown communication (RFC 9003).
    pub async fn remove_peer_for_change(
        &self,
        peer: SocketAddr,
        message: Option<String>,
    ) -> Result<(), SpeakerError> {
        self.stop_peer(
            peer,
            message,
            bgp_proto::iana::subcode::cease::OTHER_CONFIGURATION_CHANGE,
        )
        .await
    }

    async fn stop_peer(
        &self,
        peer: SocketAddr,
        message: Option<String>,
        subcode: u8,
    ) -> Result<(), SpeakerError> {
        let entry = self
            .lock()
            .peers
            .remove(&peer)
            .ok_or(SpeakerError::UnknownPeer(peer))?;
        let (done, wait) = oneshot::channel();
        let _ = entry.cmds.send(PeerCmd::Stop {
            message,
            subcode: Some(subcode),
            graceful_restart: false,
            done,
        });
        let _ = wait.await;
        if entry.password.is_some() {
            for l in &self.lock().listeners {
                let _ = socket::listener_md5(l.as_ref(), peer.ip(), None);
            }
        }
        Ok(())
    }

    /// Replaces a peer's configuration: the session restarts with Cease /
    /// Other Configuration Change when anything changed.
    pub async fn update_peer(&self, config: PeerConfig) -> Result<(), SpeakerError> {
        config.validate()?;
        let remote = config.remote;
        let entry = self
            .lock()
            .peers
            .remove(&remote)
            .ok_or(SpeakerError::UnknownPeer(remote))?;
        let (done, wait) = oneshot::channel();
        let _ = entry.cmds.send(PeerCmd::Stop {
            message: None,
            subcode: Some(bgp_proto::iana::subcode::cease::OTHER_CONFIGURATION_CHANGE),
            graceful_restart: false,
            done,
        });
        let _ = wait.await;
        self.add_peer(config)
    }

    /// The configured peers.
    pub fn peers(&self) -> Vec<SocketAddr> {
        self.lock().peers.keys().copied().collect()
    }

    /// A peer's current status.
    pub fn status(&self, peer: SocketAddr) -> Option<PeerStatus> {
        self.lock()
            .peers
            .get(&peer)
            .map(|e| e.status.borrow().clone())
    }

    /// A watch channel of a peer's status, updated on every change.
    pub fn watch(&self, peer: SocketAddr) -> Option<watch::Receiver<PeerStatus>> {
        self.lock().peers.get(&peer).map(|e| e.status.clone())
    }

    /// Every peer's state and counters.
    pub fn stats(&self) -> Vec<(SocketAddr, State, SessionStats)> {
        self.lock()
            .peers
            .iter()
            .map(|(p, e)| {
                let s = e.status.borrow();
                (*p, s.state, s.stats.clone())
            })
            .collect()
    }

    /// Events from all peers. Slow subscribers miss events (broadcast semantics).
    pub fn subscribe(&self) -> broadcast::Receiver<SpeakerEvent> {
        self.events.subscribe()
    }

    /// Announces (or replaces) a route to the selected peers.
    pub fn announce(&self, route: Route, peers: Peers) {
        let mut inner = self.lock();
        let prefix = route.prefix;
        Arc::make_mut(&mut inner.table).announce(route, peers);
        for (addr, e) in &inner.peers {
            let _ = e.cmds.send(PeerCmd::Announce(
                prefix,
                inner.table.route_for(&prefix, addr),
            ));
        }
    }

    /// Withdraws a prefix from every peer.
    pub fn withdraw(&self, prefix: IpNet) {
        let mut inner = self.lock();
        if Arc::make_mut(&mut inner.table).withdraw(prefix) {
            for e in inner.peers.values() {
                let _ = e.cmds.send(PeerCmd::Announce(prefix.trunc(), None));
            }
        }
    }

    /// Replaces every route (MetalLB `Set` semantics); each peer receives
    /// only the difference from what it has.
    pub fn set_routes(&self, routes: impl IntoIterator<Item = (Route, Peers)>) {
        let mut inner = self.lock();
        // Drop the old table first: building the new one then reuses its memory.
        inner.table = Arc::default();
        inner.table = Arc::new(RouteTable::from_routes(routes));
        // Every peer walks the same snapshot for the routes that select it.
        for e in inner.peers.values() {
            let _ = e.cmds.send(PeerCmd::SetRoutes(inner.table.clone()));
        }
    }

    /// Stops every peer. With `graceful_restart`, connections close without a
    /// NOTIFICATION so routers keep our routes until we come back (RFC 4724);
    /// otherwise each peer gets Cease / Administrative Shutdown with `message`.
    pub async fn shutdown(&self, message: Option<String>, graceful_restart: bool) {
        let entries: Vec<PeerEntry> = self.lock().peers.drain().map(|(_, e)| e).collect();
        let mut waits = Vec::new();
        for e in entries {
            let (done, wait) = oneshot::channel();
            let _ = e.cmds.send(PeerCmd::Stop {
                message: message.clone(),
                subcode: None,
                graceful_restart,
                done,
            });
            waits.push(wait);
        }
        for w in waits {
            let _ = w.await;
        }
    }

    pub(crate) fn route_inbound(
        inner: &Mutex<Inner>,
        remote: IpAddr,
    ) -> Option<mpsc::Sender<tokio::net::TcpStream>> {
        let inner = inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner
            .peers
            .iter()
            .find(|(addr, _)| addr.ip() == remote)
            .map(|(_, e)| e.inbound.clone())
    }
}
