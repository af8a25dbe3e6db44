//! Building sockets for a peer with socket2: bind, TTL, GTSM, MD5, no delay.

use std::io;
use std::net::{IpAddr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

use super::sockopt;
use crate::config::PeerConfig;

/// TTL for an eBGP session without multihop (RFC 4271 §5.1.3 single hop).
const EBGP_TTL: u32 = 1;
/// TTL for iBGP sessions.
const IBGP_TTL: u32 = 64;

/// Applies TTL or GTSM settings for `cfg` to `s`.
pub(crate) fn apply_ttl(s: &Socket, cfg: &PeerConfig, v6: bool) -> io::Result<()> {
    let ttl = match (cfg.gtsm_hops, cfg.ttl) {
        (Some(hops), _) => {
            // RFC 5082 §3: send with TTL 255 and accept only 255 - hops + 1 and above.
            sockopt::set_min_ttl(s, v6, 255u8.saturating_sub(hops.saturating_sub(1)))?;
            255
        }
        (None, Some(t)) => u32::from(t),
        (None, None) => match cfg.remote_as {
            crate::RemoteAs::Asn(a) if a == cfg.local_as => IBGP_TTL,
            crate::RemoteAs::Internal => IBGP_TTL,
            _ => EBGP_TTL,
        },
    };
    if v6 {
        s.set_unicast_hops_v6(ttl)
    } else {
        s.set_ttl_v4(ttl)
    }
}

/// A non-blocking socket ready to connect to the peer.
pub(crate) fn outbound(cfg: &PeerConfig) -> io::Result<Socket> {
    let v6 = cfg.remote.is_ipv6();
    let s = Socket::new(
        Domain::for_address(cfg.remote),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    s.set_tcp_nodelay(true)?;
    s.set_reuse_address(true)?;
    if let Some(local) = cfg.local_address {
        s.bind(&SocketAddr::new(local, 0).into())?;
    }
    apply_ttl(&s, cfg, v6)?;
    if let Some(p) = &cfg.md5_password {
        sockopt::set_md5(&s, cfg.remote.ip(), Some(p.expose().as_bytes()))?;
    }
    s.set_nonblocking(true)?;
    Ok(s)
}

/// A listening socket on `addr`.
pub(crate) fn listener(addr: SocketAddr) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(false).ok();
    }
    s.bind(&addr.into())?;
    // GTSM for inbound connections (RFC 5082 §3) needs the SYN's TTL.
    if let Err(e) = sockopt::set_save_syn(&s) {
        tracing::warn!(error = %e, "TCP_SAVE_SYN unavailable: GTSM is checked only after accept");
    }
    s.listen(128)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// Sets or clears the MD5 key for `peer` on a listening socket.
pub(crate) fn listener_md5(
    s: &impl std::os::fd::AsRawFd,
    peer: IpAddr,
    key: Option<&str>,
) -> io::Result<()> {
    sockopt::set_md5(s, peer, key.map(str::as_bytes))
}

/// Prepares an accepted connection for `cfg`: checks GTSM against the TTL
/// of its SYN (RFC 5082 §3: a packet below 255 - hops + 1 is dropped; the
/// listener is shared, so the check is per connection), then applies the
/// peer's TTL and minimum TTL for the rest of the connection. Returns
/// `Ok(false)` when the connection must be dropped.
pub(crate) fn inbound(stream: &tokio::net::TcpStream, cfg: &PeerConfig) -> io::Result<bool> {
    let s = socket2::SockRef::from(stream);
    let ttl = sockopt::saved_syn_ttl(stream).unwrap_or(None);
    if let Some(hops) = cfg.gtsm_hops {
        let min = 255u8.saturating_sub(hops.saturating_sub(1));
        if ttl.is_some_and(|t| t < min) {
            return Ok(false);
        }
    }
    let v6 = stream.local_addr().is_ok_and(|a| a.is_ipv6())
        && !matches!(stream.peer_addr(), Ok(SocketAddr::V6(a)) if a.ip().to_ipv4_mapped().is_some());
    apply_ttl(&s, cfg, v6)?;
    Ok(true)
}
