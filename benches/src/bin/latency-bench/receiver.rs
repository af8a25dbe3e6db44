//! A raw BGP receiver on its own OS thread: accepts one connection, completes
//! the OPEN exchange with `bgp-proto`, then reads with `recvmsg` and reports
//! every UPDATE that touches a probe prefix, with two arrival times:
//!
//! - `user`: `Instant::now()` right after the `recvmsg` that completed the
//!   message (what a BGP peer process would see; includes this thread's
//!   wake-up);
//! - `kernel`: the socket's receive timestamp (`SO_TIMESTAMPNS`, wall clock),
//!   taken when the segment went through the receiving network stack. On
//!   loopback or a veth pair that is right after the sender's `write` left its
//!   socket, before any scheduling of this thread.
//!
//! Blocking threads (one per peer) instead of a shared async runtime: each
//! receiver wakes on its own, so 100 receivers do not queue behind each other
//! in one event loop.

use std::io::{self, IoSliceMut, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bgp_proto::capability::Capability;
use bgp_proto::{Context, Family, Message, Open};
use bytes::{Bytes, BytesMut};
use ipnet::IpNet;
use nix::sched::{CloneFlags, setns};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};
use nix::sys::time::TimeSpec;

/// What a receiver saw.
#[derive(Debug)]
pub(crate) enum Report {
    /// The OPEN exchange finished (our KEEPALIVE sent, theirs received).
    Up,
    /// End-of-RIB for IPv4 unicast arrived: the initial table is in.
    EndOfRib { peer: usize },
    /// A probe prefix was announced or withdrawn.
    Route {
        peer: usize,
        prefix: IpNet,
        withdrawn: bool,
        /// Origin AS of the AS_PATH (announcements only).
        origin_as: Option<u32>,
        user: Instant,
        kernel: Option<SystemTime>,
    },
    /// The connection ended or failed.
    Down { peer: usize, why: String },
}

/// How a receiver behaves.
#[derive(Clone, Debug)]
pub(crate) struct ReceiverConfig {
    /// Index reported with every [`Report`].
    pub(crate) peer: usize,
    /// Address to listen on (port 0: any free port).
    pub(crate) listen: SocketAddr,
    /// Our AS number in the OPEN.
    pub(crate) local_as: u32,
    /// Our BGP identifier.
    pub(crate) router_id: Ipv4Addr,
    /// Hold time we offer; KEEPALIVEs go out every hold/3 (0: none).
    pub(crate) hold: u16,
    /// Only prefixes inside this range are reported.
    pub(crate) probe: IpNet,
    /// Enter this network namespace (`/run/netns/NAME`) before binding.
    pub(crate) netns: Option<String>,
}

/// Starts a receiver thread; returns the bound address once it listens.
pub(crate) fn spawn(cfg: ReceiverConfig, tx: mpsc::Sender<Report>) -> anyhow::Result<SocketAddr> {
    let (bound_tx, bound_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("rx-{}", cfg.peer))
        .spawn(move || {
            let listener = (|| -> io::Result<TcpListener> {
                if let Some(ns) = &cfg.netns {
                    enter_netns(ns)?;
                }
                TcpListener::bind(cfg.listen)
            })();
            let listener = match listener {
                Ok(l) => l,
                Err(e) => {
                    let _ = bound_tx.send(Err(e));
                    return;
                }
            };
            let _ = bound_tx.send(listener.local_addr());
            let why = match run(&cfg, &listener, &tx) {
                Ok(()) => "closed by peer".to_owned(),
                Err(e) => e.to_string(),
            };
            let _ = tx.send(Report::Down {
                peer: cfg.peer,
                why,
            });
        })?;
    Ok(bound_rx.recv()??)
}

fn run(cfg: &ReceiverConfig, listener: &TcpListener, tx: &mpsc::Sender<Report>) -> io::Result<()> {
    let (mut s, _) = listener.accept()?;
    s.set_nodelay(true)?;
    set_timestamps(&s)?;
    let mut caps = vec![
        Capability::Multiprotocol(Family::IPV4_UNICAST),
        Capability::RouteRefresh,
    ];
    caps.push(Capability::FourOctetAs(cfg.local_as));
    let ours = Open::new(cfg.local_as, cfg.hold, cfg.router_id, caps);
    let plain = Context::default();
    s.write_all(
        &Message::Open(ours.clone())
            .to_bytes(&plain)
            .map_err(io::Error::other)?,
    )?;

    let mut buf = BytesMut::with_capacity(256 * 1024);
    let mut bufs = RecvBufs::new();
    let mut ctx = plain;
    let mut up = false;
    let keepalive = (cfg.hold > 0).then(|| Duration::from_secs(u64::from(cfg.hold / 3).max(1)));
    let mut next_keepalive = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(500)))?;
    loop {
        if let (Some(k), true) = (keepalive, up)
            && Instant::now() >= next_keepalive
        {
            s.write_all(&keepalive_bytes())?;
            next_keepalive = Instant::now() + k;
        }
        let (n, user, kernel) = match recv_ts(&s, &mut bufs, &mut buf) {
            Ok(x) => x,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(());
        }
        while let Some(msg) = next_message(&mut buf) {
            let decoded = Message::decode(&msg, &ctx)
                .map_err(|e| io::Error::other(format!("decode: {e}")))?;
            match decoded.message {
                Message::Open(theirs) => {
                    ctx = Context::negotiate(&ours, &theirs).receive;
                    s.write_all(&keepalive_bytes())?;
                }
                Message::Keepalive if !up => {
                    up = true;
                    next_keepalive = Instant::now();
                    let _ = tx.send(Report::Up);
                }
                Message::Update(u) => {
                    if u.end_of_rib_family() == Some(Family::IPV4_UNICAST) {
                        let _ = tx.send(Report::EndOfRib { peer: cfg.peer });
                        continue;
                    }
                    for n in u.withdrawn.iter() {
                        if cfg.probe.contains(&n.prefix) {
                            let _ = tx.send(Report::Route {
                                peer: cfg.peer,
                                prefix: n.prefix,
                                withdrawn: true,
                                origin_as: None,
                                user,
                                kernel,
                            });
                        }
                    }
                    let origin_as = u.as_path().and_then(|p| p.origin_asn());
                    for n in u.nlri.iter() {
                        if cfg.probe.contains(&n.prefix) {
                            let _ = tx.send(Report::Route {
                                peer: cfg.peer,
                                prefix: n.prefix,
                                withdrawn: false,
                                origin_as,
                                user,
                                kernel,
                            });
                        }
                    }
                }
                Message::Notification(n) => {
                    return Err(io::Error::other(format!("NOTIFICATION {n}")));
                }
                _ => {}
            }
        }
    }
}

fn keepalive_bytes() -> Bytes {
    Message::Keepalive
        .to_bytes(&Context::default())
        .unwrap_or_default()
}

/// Splits one complete message off the front of `buf`.
fn next_message(buf: &mut BytesMut) -> Option<Bytes> {
    if buf.len() < 19 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([buf[16], buf[17]]));
    if len < 19 || buf.len() < len {
        return None;
    }
    let m = buf.split_to(len).freeze();
    Some(m)
}

// ---------------------------------------------------------------------------
// The few system calls std does not offer (through `nix`): setns,
// SO_TIMESTAMPNS, recvmsg.
// ---------------------------------------------------------------------------

/// Moves the calling thread into network namespace `name` (`ip netns` naming).
pub(crate) fn enter_netns(name: &str) -> io::Result<()> {
    let f = std::fs::File::open(format!("/run/netns/{name}"))?;
    setns(&f, CloneFlags::CLONE_NEWNET)?;
    Ok(())
}

fn set_timestamps(s: &TcpStream) -> io::Result<()> {
    setsockopt(s, sockopt::ReceiveTimestampns, &true)?;
    Ok(())
}

/// Room for one `recvmsg`: the data and the control messages.
struct RecvBufs {
    data: Vec<u8>,
    cmsg: Vec<u8>,
}

impl RecvBufs {
    /// Up to 256 KiB of data per call (the receive buffer's initial capacity).
    fn new() -> Self {
        Self {
            data: vec![0; 256 * 1024],
            cmsg: nix::cmsg_space!(TimeSpec),
        }
    }
}

/// `recvmsg`, appending the data to `buf`; returns the byte count, the time
/// right after `recvmsg` returned, and the kernel receive timestamp of the
/// data, if the kernel attached one.
fn recv_ts(
    s: &TcpStream,
    bufs: &mut RecvBufs,
    buf: &mut BytesMut,
) -> io::Result<(usize, Instant, Option<SystemTime>)> {
    let mut iov = [IoSliceMut::new(&mut bufs.data)];
    let msg = recvmsg::<()>(
        s.as_raw_fd(),
        &mut iov,
        Some(&mut bufs.cmsg),
        MsgFlags::empty(),
    )?;
    let user = Instant::now();
    let n = msg.bytes;
    let mut ts = None;
    // A truncated control buffer (never seen: the socket asks for one
    // timestamp only) leaves the timestamp out.
    for c in msg.cmsgs().into_iter().flatten() {
        if let ControlMessageOwned::ScmTimestampns(t) = c
            && t.tv_sec() > 0
        {
            ts = Some(UNIX_EPOCH + Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32));
        }
    }
    buf.extend_from_slice(&bufs.data[..n]);
    Ok((n, user, ts))
}
