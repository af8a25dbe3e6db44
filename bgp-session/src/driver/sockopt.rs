//! Socket options that no safe crate exposes: TCP_MD5SIG (RFC 2385),
//! IP_MINTTL / IPV6_MINHOPCOUNT (GTSM, RFC 5082) and TCP_SAVE_SYN /
//! TCP_SAVED_SYN (to check the TTL of an accepted connection's SYN).
//!
//! This is the only module of the workspace that uses `unsafe`: each block
//! is one `setsockopt(2)` / `getsockopt(2)` call on a socket we own, with a
//! pointer to a properly initialised, correctly sized buffer that outlives
//! the call.
#![allow(unsafe_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;

/// Maximum TCP MD5 key length (TCP_MD5SIG_MAXKEYLEN in linux/tcp.h).
pub(crate) const MD5_MAX_KEY_LEN: usize = 80;

/// `struct tcp_md5sig` from linux/tcp.h.
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: libc::c_int,
    key: [u8; MD5_MAX_KEY_LEN],
}

fn setsockopt<T>(
    fd: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    let len = libc::socklen_t::try_from(size_of::<T>())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `fd` is an open socket owned by the caller; `value` points to a
    // live, initialised `T` of exactly `len` bytes for the duration of the call.
    let rc =
        unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, (value as *const T).cast(), len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Installs (or, with `None`, removes) the TCP MD5 signature key for `peer`
/// on `fd` (RFC 2385). On a listening socket it applies to accepted connections.
pub(crate) fn set_md5(fd: &impl AsRawFd, peer: IpAddr, key: Option<&[u8]>) -> io::Result<()> {
    let key = key.unwrap_or_default();
    if key.len() > MD5_MAX_KEY_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "MD5 key longer than 80 octets",
        ));
    }
    // SAFETY: all-zero bytes are a valid value for this plain C struct.
    let mut sig: TcpMd5Sig = unsafe { zeroed() };
    let sa = socket2::SockAddr::from(SocketAddr::new(peer, 0));
    let sa_len = usize::try_from(sa.len())
        .unwrap_or(0)
        .min(size_of::<libc::sockaddr_storage>());
    // SAFETY: both regions are valid for `sa_len` bytes and do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(
            sa.as_ptr().cast::<u8>(),
            (&raw mut sig.addr).cast::<u8>(),
            sa_len,
        );
    }
    sig.keylen = u16::try_from(key.len()).unwrap_or(0);
    if let Some(dst) = sig.key.get_mut(..key.len()) {
        dst.copy_from_slice(key);
    }
    setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_MD5SIG, &sig)
}

/// GTSM (RFC 5082 §3): drop packets whose TTL / hop limit is below `min`.
pub(crate) fn set_min_ttl(fd: &impl AsRawFd, v6: bool, min: u8) -> io::Result<()> {
    let v = libc::c_int::from(min);
    if v6 {
        setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, &v)
    } else {
        setsockopt(fd, libc::IPPROTO_IP, libc::IP_MINTTL, &v)
    }
}

/// Asks a listening socket to keep the SYN of each connection it accepts
/// (Linux `TCP_SAVE_SYN`), so that [`saved_syn_ttl`] can check GTSM for
/// connections that arrived before a minimum TTL could be set on them.
pub(crate) fn set_save_syn(fd: &impl AsRawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_SAVE_SYN, &on)
}

/// The TTL (IPv4) or hop limit (IPv6) of the SYN that opened an accepted
/// connection, when its listener saved it ([`set_save_syn`]). The kernel
/// hands the saved headers out once; `None` when none were saved.
pub(crate) fn saved_syn_ttl(fd: &impl AsRawFd) -> io::Result<Option<u8>> {
    let mut buf = [0u8; 512];
    let mut len = libc::socklen_t::try_from(buf.len())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `fd` is an open socket owned by the caller; `buf` is a live
    // buffer of `len` bytes and `len` a live socklen_t the kernel updates.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_SAVED_SYN,
            buf.as_mut_ptr().cast(),
            &raw mut len,
        )
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        // ENOENT: nothing saved (the listener did not ask for it).
        return if e.raw_os_error() == Some(libc::ENOENT) {
            Ok(None)
        } else {
            Err(e)
        };
    }
    let headers = buf
        .get(..usize::try_from(len).unwrap_or(0))
        .unwrap_or_default();
    // The saved bytes start with the network header: IPv4 TTL at octet 8,
    // IPv6 hop limit at octet 7.
    Ok(match headers.first().map(|b| b >> 4) {
        Some(4) => headers.get(8).copied(),
        Some(6) => headers.get(7).copied(),
        _ => None,
    })
}
