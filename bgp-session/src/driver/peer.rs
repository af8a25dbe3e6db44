//! One task per peer: owns the sans-IO [`Session`], its sockets and timers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, watch};

use super::{PeerCmd, SpeakerEvent, socket};
use crate::config::PeerConfig;
use crate::event::{Action, ConnId, Direction, Event, Input, SessionInfo};
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
    Close,
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
    let connect_timeout = config.connect_retry.max(Duration::from_secs(1));
    let mut session = Session::new(config.clone());
    let (conn_tx, mut conn_rx) = mpsc::channel::<ConnMsg>(64);
    let mut writers: HashMap<ConnId, mpsc::UnboundedSender<Write>> = HashMap::new();
    let mut next_id = 0u64;
    let mut synced = false;
    let mut stopping: Option<tokio::sync::oneshot::Sender<()>> = None;
    session.handle(now(), Input::Start);
    loop {
        drain(
            &mut session,
            &config,
            &conn_tx,
            &mut writers,
            &mut next_id,
            connect_timeout,
            &events,
            &mut synced,
        );
        let _ = status.send(PeerStatus {
            peer,
            state: session.state(),
            stats: session.stats(),
            info: session.info().cloned(),
            synced,
        });
        if let Some(done) = stopping.take() {
            // Let the writers flush the final NOTIFICATION and close.
            for (_, w) in writers.drain() {
                let _ = w.send(Write::Close);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = done.send(());
            return;
        }
        let deadline = session.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            cmd = cmds.recv() => match cmd {
                Some(PeerCmd::SetRoutes(r)) => session.set_routes(&r),
                Some(PeerCmd::Announce(p, Some(a))) => session.announce(p, a),
                Some(PeerCmd::Announce(p, None)) => session.withdraw(p),
                Some(PeerCmd::Stop { message, subcode, graceful_restart, done }) => {
                    session.handle(now(), Input::Stop { message, subcode, graceful_restart });
                    stopping = Some(done);
                }
                None => {
                    session.handle(now(), Input::Stop { message: None, subcode: None, graceful_restart: false });
                    let (done, _) = tokio::sync::oneshot::channel();
                    stopping = Some(done);
                }
            },
            Some(stream) = inbound.recv() => {
                next_id += 1;
                let id = ConnId(next_id);
                match (stream.local_addr(), stream.peer_addr()) {
                    (Ok(local), Ok(remote)) => {
                        spawn_io(id, stream, &conn_tx, &mut writers);
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
                            spawn_io(id, stream, &conn_tx, &mut writers);
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
                    writers.remove(&id);
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

#[allow(clippy::too_many_arguments)]
fn drain(
    session: &mut Session,
    config: &PeerConfig,
    conn_tx: &mpsc::Sender<ConnMsg>,
    writers: &mut HashMap<ConnId, mpsc::UnboundedSender<Write>>,
    next_id: &mut u64,
    connect_timeout: Duration,
    events: &broadcast::Sender<SpeakerEvent>,
    synced: &mut bool,
) {
    session.flush();
    while let Some(a) = session.poll_action() {
        match a {
            Action::Connect => {
                *next_id += 1;
                let id = ConnId(*next_id);
                let cfg = config.clone();
                let tx = conn_tx.clone();
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
                if let Some(w) = writers.get(&conn) {
                    let _ = w.send(Write::Data(data));
                }
            }
            Action::Close { conn } => {
                if let Some(w) = writers.remove(&conn) {
                    let _ = w.send(Write::Close);
                }
            }
        }
    }
    while let Some(e) = session.poll_event() {
        match &e {
            Event::StateChanged { from, to } => tracing::info!(%from, %to, "state"),
            Event::Established(i) => {
                tracing::info!(peer_as = i.peer_as, hold = i.hold_time, "established")
            }
            Event::Down(r) => {
                *synced = false;
                tracing::warn!(reason = ?r, "session down");
            }
            Event::SyncComplete => {
                *synced = true;
                tracing::info!("End-of-RIB sent");
            }
            Event::ConnectionError(r) => tracing::debug!(reason = ?r, "connection error"),
            _ => tracing::debug!(event = ?e, "event"),
        }
        let _ = events.send(SpeakerEvent {
            peer: config.remote,
            event: e,
        });
    }
}

async fn connect(cfg: &PeerConfig) -> std::io::Result<TcpStream> {
    let s = socket::outbound(cfg)?;
    let std_stream: std::net::TcpStream = s.into();
    tokio::net::TcpSocket::from_std_stream(std_stream)
        .connect(cfg.remote)
        .await
}

fn spawn_io(
    id: ConnId,
    stream: TcpStream,
    tx: &mpsc::Sender<ConnMsg>,
    writers: &mut HashMap<ConnId, mpsc::UnboundedSender<Write>>,
) {
    let (mut rd, mut wr) = stream.into_split();
    let (wtx, mut wrx) = mpsc::unbounded_channel::<Write>();
    writers.insert(id, wtx);
    tokio::spawn(async move {
        while let Some(w) = wrx.recv().await {
            match w {
                Write::Data(b) => {
                    if wr.write_all(&b).await.is_err() {
                        break;
                    }
                }
                Write::Close => break,
            }
        }
        let _ = wr.shutdown().await;
    });
    let tx = tx.clone();
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
