//! One task per peer: owns the sans-IO [`Session`], its sockets and timers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bgp_proto::iana::ErrorCode;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Notify, broadcast, mpsc, watch};

use super::{PeerCmd, SpeakerEvent, socket};
use crate::config::PeerConfig;
use crate::event::{Action, ConnId, Direction, DownReason, Event, Input, SessionInfo};
use crate::fsm::State;
use crate::session::Session;
use crate::stats::SessionStats;

/// A peer's state as seen by the application.
#[derive(Clone, Debug)]
pub struct PeerStatus {
    /// The peer.
    pub peer: SocketAddr,
    /// FSM state.
    pub state: State,
    /// Counters.
    pub stats: SessionStats,
    /// Negotiated facts while Established.
    pub info: Option<SessionInfo>,
    /// Whether End-of-RIB was sent after the last establishment.
    pub synced: bool,
}

impl PeerStatus {
    pub(crate) fn new(peer: SocketAddr) -> Self {
        Self {
            peer,
            state: State::Idle,
            stats: SessionStats::default(),
            info: None,
            synced: false,
        }
    }
}

enum ConnMsg {
    Connected(ConnId, std::io::Result<TcpStream>),
    Bytes(ConnId, Bytes),
    Closed(ConnId),
}

enum Write {
    Data(Bytes),
    /// Publish this event once everything queued before it was written.
    Event(SpeakerEvent),
    Close,
}

/// Bytes queued for the writers above which no more UPDATEs are generated
/// (RFC 4271 leaves flow control to TCP; this keeps our memory bounded when
/// the peer reads slowly).
const QUEUE_HIGH: usize = 1 << 20;
/// Writers wake the peer task when the queue drains below this.
const QUEUE_LOW: usize = 256 << 10;
/// Socket events (mostly reads of up to 64 KiB) queued for a peer task.
const CONN_QUEUE: usize = 16;
/// Route commands applied per wake-up before the next flush.
const MAX_COMMAND_BATCH: usize = 4096;
/// How long a stopping peer waits for its writers to flush.
const STOP_FLUSH: Duration = Duration::from_secs(3);

/// A connection's writer task.
struct Writer {
    tx: mpsc::UnboundedSender<Write>,
    task: tokio::task::JoinHandle<()>,
}

/// State shared between a peer task and its writer tasks.
#[derive(Clone)]
struct Shared {
    /// Bytes handed to writers and not yet written.
    queued: Arc<AtomicUsize>,
    /// Signalled when `queued` falls below [`QUEUE_LOW`].
    drained: Arc<Notify>,
    /// End-of-RIB has been written since the last establishment.
    synced: Arc<AtomicBool>,
    status: Arc<watch::Sender<PeerStatus>>,
    events: broadcast::Sender<SpeakerEvent>,
}

/// The socket side of a peer task: its connections' writer tasks, the
/// channel their readers and connect attempts report on, and what the writers
/// share with the task.
struct PeerIo {
    config: PeerConfig,
    conn_tx: mpsc::Sender<ConnMsg>,
    writers: HashMap<ConnId, Writer>,
    next_id: u64,
    connect_timeout: Duration,
    shared: Shared,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

pub(super) async fn run(
    config: PeerConfig,
    mut cmds: mpsc::UnboundedReceiver<PeerCmd>,
    mut inbound: mpsc::Receiver<TcpStream>,
    status: watch::Sender<PeerStatus>,
    events: broadcast::Sender<SpeakerEvent>,
) {
    let peer = config.remote;
    let span = tracing::info_span!("peer", %peer);
    let _enter = span.enter();
    let mut session = Session::new(config.clone());
    // Reads of up to 64 KiB each: at most ~1 MiB of received bytes waits per
    // peer; beyond that the readers stop reading and TCP pushes back.
    let (conn_tx, mut conn_rx) = mpsc::channel::<ConnMsg>(CONN_QUEUE);
    let mut io = PeerIo {
        connect_timeout: config.connect_retry.max(Duration::from_secs(1)),
        config,
        conn_tx,
        writers: HashMap::new(),
        next_id: 0,
        shared: Shared {
            queued: Arc::new(AtomicUsize::new(0)),
            drained: Arc::new(Notify::new()),
            synced: Arc::new(AtomicBool::new(false)),
            status: Arc::new(status),
            events,
        },
    };
    let mut stopping: Option<tokio::sync::oneshot::Sender<()>> = None;
    session.handle(now(), Input::Start);
    loop {
        let pending = io.drain(&mut session);
        let _ = io.shared.status.send(PeerStatus {
            peer,
            state: session.state(),
            stats: session.stats(),
            info: session.info().cloned(),
            synced: io.shared.synced.load(Ordering::Relaxed),
        });
        if let Some(done) = stopping.take() {
            // Let the writers flush what is queued (the final NOTIFICATION
            // included) and close, for a bounded time.
            let until = tokio::time::Instant::now() + STOP_FLUSH;
            let tasks: Vec<_> = io
                .writers
                .drain()
                .map(|(_, w)| {
                    let _ = w.tx.send(Write::Close);
                    w.task
                })
                .collect();
            for t in tasks {
                let _ = tokio::time::timeout_at(until, t).await;
            }
            let _ = done.send(());
            return;
        }
        let deadline = session.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            // The writers drained: generate more UPDATEs.
            () = io.shared.drained.notified(), if pending => {}
            mut cmd = cmds.recv() => for taken in 0.. {
                // Apply every command that is already queued before the next
                // flush, so a burst of route changes leaves as few UPDATEs as
                // fit (no added delay: only what has arrived is taken).
                match cmd {
                    Some(PeerCmd::SetRoutes(table)) => session.set_routes_sorted(table.iter_for(&peer)),
                    Some(PeerCmd::Announce(p, Some(a))) => session.announce(p, a),
                    Some(PeerCmd::Announce(p, None)) => session.withdraw(p),
                    Some(PeerCmd::Stop { message, subcode, graceful_restart, done }) => {
                        session.handle(now(), Input::Stop { message, subcode, graceful_restart });
                        stopping = Some(done);
                        break;
                    }
                    None => {
                        session.handle(now(), Input::Stop { message: None, subcode: None, graceful_restart: false });
                        let (done, _) = tokio::sync::oneshot::channel();
                        stopping = Some(done);
                        break;
                    }
                }
                // Bounded, so that timers and sockets are served between batches.
                if taken + 1 >= MAX_COMMAND_BATCH {
                    break;
                }
                match cmds.try_recv() {
                    Ok(c) => cmd = Some(c),
                    Err(_) => break,
                }
            },
            Some(stream) = inbound.recv() => {
                let id = io.new_conn_id();
                match socket::inbound(&stream, &io.config) {
                    Ok(true) => {}
                    Ok(false) => {
                        // RFC 5082 §3: a GTSM peer's SYN came from too far away.
                        tracing::warn!("inbound connection dropped: TTL below the GTSM minimum");
                        continue;
                    }
                    Err(e) => tracing::debug!(error = %e, "inbound socket options"),
                }
                match (stream.local_addr(), stream.peer_addr()) {
                    (Ok(local), Ok(remote)) => {
                        io.spawn_io(id, stream);
                        session.handle(now(), Input::TcpConnected { conn: id, direction: Direction::Inbound, local, remote });
                    }
                    _ => tracing::debug!("inbound connection vanished"),
                }
            }
            Some(msg) = conn_rx.recv() => match msg {
                ConnMsg::Connected(id, Ok(stream)) => {
                    match (stream.local_addr(), stream.peer_addr()) {
                        (Ok(local), Ok(remote)) => {
                            tracing::debug!(%local, "connected");
                            io.spawn_io(id, stream);
                            session.handle(now(), Input::TcpConnected { conn: id, direction: Direction::Outbound, local, remote });
                        }
                        _ => session.handle(now(), Input::TcpConnectFailed),
                    }
                }
                ConnMsg::Connected(_, Err(e)) => {
                    tracing::debug!(error = %e, "connect failed");
                    session.handle(now(), Input::TcpConnectFailed);
                }
                ConnMsg::Bytes(id, data) => session.handle(now(), Input::Bytes { conn: id, data }),
                ConnMsg::Closed(id) => {
                    io.writers.remove(&id);
                    session.handle(now(), Input::TcpClosed { conn: id });
                }
            },
            () = sleep_until(deadline) => session.handle_timeout(now()),
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

impl PeerIo {
    /// A fresh connection id.
    fn new_conn_id(&mut self) -> ConnId {
        self.next_id += 1;
        ConnId(self.next_id)
    }

    /// Generates UPDATEs while the writers' queue has room, hands socket work to
    /// the writers and publishes events. Returns whether route changes are still
    /// pending (waiting for the writers to drain).
    fn drain(&mut self, session: &mut Session) -> bool {
        let mut pending;
        let mut last_send: Option<ConnId> = None;
        loop {
            let queued = self.shared.queued.load(Ordering::Relaxed);
            pending = queued < QUEUE_HIGH && session.flush_bounded(QUEUE_HIGH - queued);
            self.actions(session, &mut last_send);
            if !pending || self.shared.queued.load(Ordering::Relaxed) >= QUEUE_HIGH {
                break;
            }
        }
        // Still pending with a full queue: the writers will wake us.
        pending = pending || session.wants_flush();
        while let Some(e) = session.poll_event() {
            match &e {
                Event::StateChanged { from, to } => tracing::info!(%from, %to, "state"),
                Event::Established(i) => {
                    tracing::info!(peer_as = i.peer_as, hold = i.hold_time, "established")
                }
                Event::Down(r) => {
                    self.shared.synced.store(false, Ordering::Relaxed);
                    if deliberate(r) {
                        tracing::info!(reason = ?r, "session down");
                    } else {
                        tracing::warn!(reason = ?r, "session down");
                    }
                }
                Event::SyncComplete => {
                    // Published by the writer once the End-of-RIB is on the wire.
                    let ev = SpeakerEvent {
                        peer: self.config.remote,
                        event: e,
                    };
                    match last_send.and_then(|c| self.writers.get(&c)) {
                        Some(w) => {
                            if let Err(mpsc::error::SendError(Write::Event(ev))) =
                                w.tx.send(Write::Event(ev))
                            {
                                publish_sync(&self.shared, ev);
                            }
                        }
                        None => publish_sync(&self.shared, ev),
                    }
                    continue;
                }
                Event::ConnectionError(r) => tracing::debug!(reason = ?r, "connection error"),
                _ => tracing::debug!(event = ?e, "event"),
            }
            let _ = self.shared.events.send(SpeakerEvent {
                peer: self.config.remote,
                event: e,
            });
        }
        pending
    }

    /// Carries out the session's socket actions.
    fn actions(&mut self, session: &mut Session, last_send: &mut Option<ConnId>) {
        while let Some(a) = session.poll_action() {
            match a {
                Action::Connect => {
                    let id = self.new_conn_id();
                    let cfg = self.config.clone();
                    let tx = self.conn_tx.clone();
                    let connect_timeout = self.connect_timeout;
                    tokio::spawn(async move {
                        let r = tokio::time::timeout(connect_timeout, connect(&cfg))
                            .await
                            .unwrap_or_else(|_| {
                                Err(std::io::Error::new(
                                    std::io::ErrorKind::TimedOut,
                                    "connect timed out",
                                ))
                            });
                        let _ = tx.send(ConnMsg::Connected(id, r)).await;
                    });
                }
                Action::Send { conn, data } => {
                    if let Some(w) = self.writers.get(&conn) {
                        self.shared.queued.fetch_add(data.len(), Ordering::Relaxed);
                        let len = data.len();
                        if w.tx.send(Write::Data(data)).is_err() {
                            self.shared.queued.fetch_sub(len, Ordering::Relaxed);
                        }
                        *last_send = Some(conn);
                    }
                }
                Action::Close { conn } => {
                    if let Some(w) = self.writers.remove(&conn) {
                        let _ = w.tx.send(Write::Close);
                    }
                }
            }
        }
    }

    /// Starts the writer and reader tasks of a new connection.
    fn spawn_io(&mut self, id: ConnId, stream: TcpStream) {
        let (mut rd, mut wr) = stream.into_split();
        let (wtx, mut wrx) = mpsc::unbounded_channel::<Write>();
        let shared = self.shared.clone();
        let task = tokio::spawn(async move {
            let mut failed = false;
            while let Some(w) = wrx.recv().await {
                match w {
                    Write::Data(b) => {
                        let len = b.len();
                        failed = failed || wr.write_all(&b).await.is_err();
                        let before = shared.queued.fetch_sub(len, Ordering::Relaxed);
                        if before.saturating_sub(len) < QUEUE_LOW {
                            shared.drained.notify_one();
                        }
                    }
                    Write::Event(ev) => {
                        if !failed {
                            publish_sync(&shared, ev);
                        }
                    }
                    Write::Close => break,
                }
            }
            let _ = wr.shutdown().await;
            // Whatever was not written no longer counts as queued.
            while let Ok(w) = wrx.try_recv() {
                if let Write::Data(b) = w {
                    shared.queued.fetch_sub(b.len(), Ordering::Relaxed);
                }
            }
            shared.drained.notify_one();
        });
        self.writers.insert(id, Writer { tx: wtx, task });
        let tx = self.conn_tx.clone();
        tokio::spawn(async move {
            let mut buf = bytes::BytesMut::with_capacity(64 * 1024);
            loop {
                buf.reserve(64 * 1024);
                match rd.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx
                            .send(ConnMsg::Bytes(id, buf.split().freeze()))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
            let _ = tx.send(ConnMsg::Closed(id)).await;
        });
    }
}

/// Whether we ended the session on purpose: a Cease we sent for a shutdown,
/// de-configuration, reset, configuration change or collision resolution
/// (RFC 4486 §4), or a stop for a graceful restart. Those are logged at info,
/// every other end at warn.
fn deliberate(reason: &DownReason) -> bool {
    use bgp_proto::iana::subcode::cease;
    match reason {
        DownReason::NotificationSent(n) => {
            n.code == ErrorCode::CEASE
                && matches!(
                    n.subcode,
                    cease::ADMINISTRATIVE_SHUTDOWN
                        | cease::PEER_DECONFIGURED
                        | cease::ADMINISTRATIVE_RESET
                        | cease::OTHER_CONFIGURATION_CHANGE
                        | cease::CONNECTION_COLLISION_RESOLUTION
                )
        }
        DownReason::GracefulRestart => true,
        DownReason::NotificationReceived(_) | DownReason::ConnectionClosed => false,
    }
}

/// Marks the peer synced and publishes the End-of-RIB event.
fn publish_sync(shared: &Shared, ev: SpeakerEvent) {
    shared.synced.store(true, Ordering::Relaxed);
    shared.status.send_modify(|s| s.synced = true);
    tracing::info!("End-of-RIB sent");
    let _ = shared.events.send(ev);
}

async fn connect(cfg: &PeerConfig) -> std::io::Result<TcpStream> {
    let s = socket::outbound(cfg)?;
    let std_stream: std::net::TcpStream = s.into();
    tokio::net::TcpSocket::from_std_stream(std_stream)
        .connect(cfg.remote)
        .await
}
