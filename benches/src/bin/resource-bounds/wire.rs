//! Hand-built BGP messages and a raw tokio peer, enough for the
//! flood, trickle and churn scenarios.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

/// Message types.
pub(crate) const OPEN: u8 = 1;
pub(crate) const UPDATE: u8 = 2;
pub(crate) const NOTIFICATION: u8 = 3;
pub(crate) const KEEPALIVE: u8 = 4;

/// A message with its 19-octet header.
pub(crate) fn msg(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![0xFF; 16];
    let len = u16::try_from(19 + body.len()).expect("message fits 4096 octets");
    m.extend_from_slice(&len.to_be_bytes());
    m.push(kind);
    m.extend_from_slice(body);
    m
}

/// OPEN: 2-octet `asn` field (AS_TRANS if needed), hold, id, IPv4 unicast
/// and the 4-octet AS capability with `asn`.
pub(crate) fn open(asn: u32, hold: u16, id: Ipv4Addr) -> Vec<u8> {
    let as2 = u16::try_from(asn).unwrap_or(23456);
    let mut b = vec![4];
    b.extend_from_slice(&as2.to_be_bytes());
    b.extend_from_slice(&hold.to_be_bytes());
    b.extend_from_slice(&id.octets());
    let mut caps = vec![1, 4, 0, 1, 0, 1, 65, 4];
    caps.extend_from_slice(&asn.to_be_bytes());
    b.push(u8::try_from(caps.len() + 2).expect("small"));
    b.push(2);
    b.push(u8::try_from(caps.len()).expect("small"));
    b.extend_from_slice(&caps);
    msg(OPEN, &b)
}

/// KEEPALIVE.
pub(crate) fn keepalive() -> Vec<u8> {
    msg(KEEPALIVE, &[])
}

/// Cease / Administrative Shutdown.
pub(crate) fn cease() -> Vec<u8> {
    msg(NOTIFICATION, &[6, 2])
}

/// UPDATEs announcing /32s `first .. first + count` (as u32 addresses) from
/// AS `asn` with next hop `nh`, packed into 4096-octet messages.
pub(crate) fn updates(first: u32, count: u32, asn: u32, nh: Ipv4Addr) -> Vec<Vec<u8>> {
    let mut attrs = vec![0x40, 1, 1, 0]; // ORIGIN IGP
    attrs.extend_from_slice(&[0x40, 2, 6, 2, 1]); // AS_PATH: one 4-octet AS
    attrs.extend_from_slice(&asn.to_be_bytes());
    attrs.extend_from_slice(&[0x40, 3, 4]); // NEXT_HOP
    attrs.extend_from_slice(&nh.octets());
    let room = 4096 - 19 - 4 - attrs.len();
    let per = room / 5;
    let mut out = Vec::new();
    let mut i = 0u32;
    while i < count {
        let n = u32::try_from(per).expect("small").min(count - i);
        let mut body = vec![0, 0];
        body.extend_from_slice(&u16::try_from(attrs.len()).expect("small").to_be_bytes());
        body.extend_from_slice(&attrs);
        for k in 0..n {
            body.push(32);
            body.extend_from_slice(&(first.wrapping_add(i + k)).to_be_bytes());
        }
        out.push(msg(UPDATE, &body));
        i += n;
    }
    out
}

/// Reads one whole message: (type, body), or `None` on close/error.
pub(crate) async fn read_msg(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut hdr = [0u8; 19];
    s.read_exact(&mut hdr).await.ok()?;
    let len = usize::from(u16::from_be_bytes([hdr[16], hdr[17]]));
    let mut body = vec![0u8; len.saturating_sub(19)];
    s.read_exact(&mut body).await.ok()?;
    Some((hdr[18], body))
}

/// Like [`read_msg`] with a timeout.
pub(crate) async fn read_msg_within(s: &mut TcpStream, t: Duration) -> Option<(u8, Vec<u8>)> {
    tokio::time::timeout(t, read_msg(s)).await.ok().flatten()
}

/// Connects from `source` (any port) to `to`.
pub(crate) async fn connect_from(
    source: Option<Ipv4Addr>,
    to: SocketAddr,
) -> std::io::Result<TcpStream> {
    let sock = TcpSocket::new_v4()?;
    if let Some(src) = source {
        sock.bind(SocketAddr::from((src, 0)))?;
    }
    let s = tokio::time::timeout(Duration::from_secs(5), sock.connect(to))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Connects, exchanges OPENs and KEEPALIVEs: returns an Established stream.
pub(crate) async fn establish(
    source: Option<Ipv4Addr>,
    to: SocketAddr,
    asn: u32,
    hold: u16,
    id: Ipv4Addr,
) -> anyhow::Result<TcpStream> {
    let mut s = connect_from(source, to).await?;
    s.write_all(&open(asn, hold, id)).await?;
    match read_msg_within(&mut s, Duration::from_secs(10)).await {
        Some((OPEN, _)) => {}
        other => anyhow::bail!("expected OPEN, got {:?}", other.map(|m| m.0)),
    }
    s.write_all(&keepalive()).await?;
    match read_msg_within(&mut s, Duration::from_secs(10)).await {
        Some((KEEPALIVE, _)) => Ok(s),
        other => anyhow::bail!("expected KEEPALIVE, got {:?}", other.map(|m| m.0)),
    }
}
