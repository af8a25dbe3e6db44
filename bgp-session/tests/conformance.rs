//! Malformed-message conformance against `inject --passive`: a raw test peer
//! connects over TCP, brings the session to the state each case needs, sends
//! hand-built bytes and checks the exact answer (RFC 4271 §6, RFC 6608,
//! RFC 7606). Loopback only; no privileges needed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

#[path = "../../bgp-proto/tests/support/wire.rs"]
mod wire;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wire::{NEXT_HOP, NLRI, ORIGIN, attr, msg, update};

/// `target/<profile>/examples/<name>`, next to this test binary.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

struct Inject {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Inject {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_inject() -> Option<Inject> {
    let bin = example("inject");
    if !bin.exists() {
        eprintln!("SKIPPED: {} not built", bin.display());
        return None;
    }
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let inject = Inject {
        child: Command::new(bin)
            .args([
                "--local-asn",
                "65001",
                "--peer",
                "127.0.0.1",
                "--peer-asn",
                "65002",
                "--router-id",
                "10.0.0.1",
            ])
            .args([
                "--passive",
                "--listen",
                &addr.to_string(),
                "--idle-hold",
                "0",
                "--count",
                "3",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
        addr,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            // That probe connection is simply dropped by the speaker.
            std::thread::sleep(Duration::from_millis(200));
            return Some(inject);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("inject did not start listening");
}

/// Our OPEN: AS 65002, hold `hold`, id 10.0.0.2, IPv4 unicast, 4-octet AS, route refresh.
fn open_with(asn: u16, hold: u16, id: [u8; 4], caps: &[u8]) -> Vec<u8> {
    let mut b = vec![4];
    b.extend_from_slice(&asn.to_be_bytes());
    b.extend_from_slice(&hold.to_be_bytes());
    b.extend_from_slice(&id);
    b.push(u8::try_from(caps.len() + 2).unwrap());
    b.push(2);
    b.push(u8::try_from(caps.len()).unwrap());
    b.extend_from_slice(caps);
    msg(1, &b)
}

const CAPS: &[u8] = &[1, 4, 0, 1, 0, 1, 65, 4, 0, 0, 0xFD, 0xEA, 2, 0];

fn open() -> Vec<u8> {
    open_with(65002, 90, [10, 0, 0, 2], CAPS)
}

const AS_PATH: &[u8] = &[0x40, 2, 6, 2, 1, 0, 0, 0xFD, 0xEA];

fn as_path_attr() -> Vec<u8> {
    wire::as_path(65002)
}

fn with(extra: &[u8]) -> Vec<u8> {
    wire::with_mandatory(65002, extra)
}

/// Reads one whole message, or `None` on close/timeout.
fn read_msg(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut hdr = [0u8; 19];
    s.read_exact(&mut hdr).ok()?;
    let len = usize::from(u16::from_be_bytes([hdr[16], hdr[17]]));
    let mut body = vec![0u8; len.saturating_sub(19)];
    s.read_exact(&mut body).ok()?;
    Some((hdr[18], body))
}

/// Reads until a NOTIFICATION (returns code, subcode, data) or close/timeout.
fn notification(s: &mut TcpStream) -> Option<(u8, u8, Vec<u8>)> {
    while let Some((ty, body)) = read_msg(s) {
        if ty == 3 {
            return Some((body[0], body[1], body[2..].to_vec()));
        }
    }
    None
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum At {
    /// Right after TCP connect, before our OPEN (speaker in OpenSent).
    OpenSent,
    /// After the OPEN exchange, before our KEEPALIVE (speaker in OpenConfirm).
    OpenConfirm,
    /// Established.
    Established,
}

#[derive(Debug)]
enum Expect {
    /// This NOTIFICATION (code, subcode, data), then the connection closes.
    Notify(u8, u8, Vec<u8>),
    /// No NOTIFICATION; the session stays up.
    StaysUp,
    /// The OPEN is accepted: the speaker answers with OPEN and KEEPALIVE.
    Accepts,
    /// The connection closes without any NOTIFICATION (RFC 4271 §6.4: a
    /// NOTIFICATION is never answered).
    ClosesSilently,
}

fn connect_to(addr: SocketAddr, at: At) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    if at == At::OpenSent {
        return s;
    }
    s.write_all(&open()).unwrap();
    let (t1, _) = read_msg(&mut s).expect("speaker OPEN");
    assert_eq!(t1, 1);
    let (t2, _) = read_msg(&mut s).expect("speaker KEEPALIVE");
    assert_eq!(t2, 4);
    if at == At::Established {
        s.write_all(&msg(4, &[])).unwrap();
    }
    s
}

fn run_case(addr: SocketAddr, at: At, bytes: &[u8], expect: &Expect) -> Result<(), String> {
    let mut s = connect_to(addr, at);
    s.write_all(bytes).map_err(|e| e.to_string())?;
    match expect {
        Expect::Notify(c, sc, d) => match notification(&mut s) {
            Some((gc, gsc, gd)) if (gc, gsc, &gd) == (*c, *sc, d) => Ok(()),
            got => Err(format!(
                "expected NOTIFICATION {c}/{sc} {d:02x?}, got {got:02x?}"
            )),
        },
        Expect::Accepts => {
            let mut seen = Vec::new();
            while let Some((ty, body)) = read_msg(&mut s) {
                if ty == 3 {
                    return Err(format!("NOTIFICATION {}/{}", body[0], body[1]));
                }
                seen.push(ty);
                if seen.contains(&1) && ty == 4 {
                    return Ok(());
                }
            }
            Err(format!("no OPEN + KEEPALIVE; saw types {seen:?}"))
        }
        Expect::ClosesSilently => {
            while let Some((ty, body)) = read_msg(&mut s) {
                if ty == 3 {
                    return Err(format!(
                        "answered with NOTIFICATION {}/{}",
                        body[0], body[1]
                    ));
                }
            }
            Ok(())
        }
        Expect::StaysUp => {
            s.write_all(&msg(4, &[])).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(400)))
                .unwrap();
            let deadline = Instant::now() + Duration::from_millis(800);
            while Instant::now() < deadline {
                match read_msg(&mut s) {
                    Some((3, body)) => {
                        return Err(format!("unexpected NOTIFICATION {}/{}", body[0], body[1]));
                    }
                    Some(_) => continue,
                    None => break,
                }
            }
            // Still up: a KEEPALIVE is accepted without complaint.
            s.write_all(&msg(4, &[]))
                .map_err(|e| format!("connection closed: {e}"))
        }
    }
}

fn cases() -> Vec<(&'static str, At, Vec<u8>, Expect)> {
    use At::*;
    use Expect::*;
    let mut bad_marker = msg(4, &[]);
    bad_marker[0] = 0;
    vec![
        // RFC 4271 §6.1 in each state.
        (
            "header: marker",
            Established,
            bad_marker.clone(),
            Notify(1, 1, vec![]),
        ),
        (
            "header: marker in OpenSent",
            OpenSent,
            bad_marker,
            Notify(1, 1, vec![]),
        ),
        (
            "header: length 18",
            Established,
            {
                let mut m = msg(4, &[]);
                m[17] = 18;
                m
            },
            Notify(1, 2, vec![0, 18]),
        ),
        (
            "header: length 4097",
            Established,
            {
                let mut m = msg(2, &[0; 4078]);
                m[16] = 0x10;
                m[17] = 1;
                m
            },
            Notify(1, 2, vec![0x10, 1]),
        ),
        (
            "header: KEEPALIVE of 20",
            Established,
            msg(4, &[0]),
            Notify(1, 2, vec![0, 20]),
        ),
        (
            "header: type 7",
            Established,
            msg(7, &[]),
            Notify(1, 3, vec![7]),
        ),
        (
            "header: type 0 in OpenSent",
            OpenSent,
            msg(0, &[]),
            Notify(1, 3, vec![0]),
        ),
        // RFC 4271 §6.2 OPEN errors.
        (
            "open: version 5",
            OpenSent,
            {
                let mut m = open();
                m[19] = 5;
                m
            },
            Notify(2, 1, vec![0, 4]),
        ),
        (
            "open: wrong peer AS",
            OpenSent,
            open_with(65003, 90, [10, 0, 0, 2], &[1, 4, 0, 1, 0, 1]),
            Notify(2, 2, vec![]),
        ),
        (
            "open: AS 0",
            OpenSent,
            open_with(0, 90, [10, 0, 0, 2], CAPS),
            Notify(2, 2, vec![]),
        ),
        (
            "open: 4-octet AS mismatch",
            OpenSent,
            open_with(65002, 90, [10, 0, 0, 2], &[65, 4, 0, 0, 0xFD, 0xEB]),
            Notify(2, 2, vec![]),
        ),
        (
            "open: BGP id 0",
            OpenSent,
            open_with(65002, 90, [0, 0, 0, 0], CAPS),
            Notify(2, 3, vec![]),
        ),
        (
            "open: optional parameter type 1",
            OpenSent,
            {
                let mut b = vec![4, 0xFD, 0xEA, 0, 90, 10, 0, 0, 2, 2, 1, 0];
                b.truncate(12);
                msg(1, &b)
            },
            Notify(2, 4, vec![]),
        ),
        (
            "open: hold time 1",
            OpenSent,
            open_with(65002, 1, [10, 0, 0, 2], CAPS),
            Notify(2, 6, vec![]),
        ),
        (
            "open: hold time 2",
            OpenSent,
            open_with(65002, 2, [10, 0, 0, 2], CAPS),
            Notify(2, 6, vec![]),
        ),
        (
            "open: parameters overrun",
            OpenSent,
            msg(1, &[4, 0xFD, 0xEA, 0, 90, 10, 0, 0, 2, 4, 2, 9, 1, 4]),
            Notify(2, 0, vec![]),
        ),
        (
            "open: shorter than 29",
            OpenSent,
            msg(1, &[4, 0xFD, 0xEA, 0, 90]),
            Notify(1, 2, vec![0, 24]),
        ),
        // RFC 6608 FSM errors.
        (
            "fsm: KEEPALIVE in OpenSent",
            OpenSent,
            msg(4, &[]),
            Notify(5, 1, vec![4]),
        ),
        (
            "fsm: UPDATE in OpenSent",
            OpenSent,
            update(&[], &[], &[]),
            Notify(5, 1, vec![2]),
        ),
        (
            "fsm: ROUTE-REFRESH in OpenSent",
            OpenSent,
            msg(5, &[0, 1, 0, 1]),
            Notify(5, 1, vec![5]),
        ),
        (
            "fsm: UPDATE in OpenConfirm",
            OpenConfirm,
            update(&[], &[], &[]),
            Notify(5, 2, vec![2]),
        ),
        (
            "fsm: OPEN in OpenConfirm",
            OpenConfirm,
            open(),
            Notify(5, 2, vec![1]),
        ),
        (
            "fsm: OPEN in Established",
            Established,
            open(),
            Notify(5, 3, vec![1]),
        ),
        // RFC 4271 §6.3 / RFC 7606 UPDATE errors that reset the session.
        (
            "update: withdrawn length overrun",
            Established,
            msg(2, &[0, 9, 0, 0]),
            Notify(3, 1, vec![]),
        ),
        (
            "update: attribute length overrun",
            Established,
            msg(2, &[0, 0, 0, 9, 0x40]),
            Notify(3, 1, vec![]),
        ),
        (
            "update: unrecognized well-known",
            Established,
            update(&[], &with(&attr(0x40, 99, &[1])), NLRI),
            Notify(3, 2, vec![0x40, 99, 1, 1]),
        ),
        (
            "update: NLRI /33",
            Established,
            update(&[], &with(&[]), &[33, 1, 2, 3, 4, 5]),
            Notify(3, 10, vec![]),
        ),
        (
            "update: withdrawn overrun",
            Established,
            update(&[16, 10], &[], &[]),
            Notify(3, 10, vec![]),
        ),
        (
            "update: duplicate MP_REACH",
            Established,
            update(
                &[],
                &[
                    attr(0x80, 14, &[0, 1, 1, 4, 192, 0, 2, 1, 0]),
                    attr(0x80, 14, &[0, 1, 1, 4, 192, 0, 2, 1, 0]),
                ]
                .concat(),
                &[],
            ),
            Notify(3, 1, vec![]),
        ),
        (
            "update: bad ORIGIN, no NLRI (RFC 7606 §5.2)",
            Established,
            update(&[8, 10], &attr(0x40, 1, &[7]), &[]),
            Notify(3, 6, vec![0x40, 1, 1, 7]),
        ),
        (
            "update: MP_REACH bad next-hop length (no AFI/SAFI disable)",
            Established,
            update(
                &[],
                &[ORIGIN, AS_PATH, &attr(0x80, 14, &[0, 1, 1, 3, 1, 2, 3, 0])].concat(),
                &[],
            ),
            Notify(3, 9, [0x80, 14, 8, 0, 1, 1, 3, 1, 2, 3, 0].to_vec()),
        ),
        // RFC 7606 cases that keep the session up.
        (
            "7606: missing ORIGIN",
            Established,
            update(&[], &[AS_PATH, NEXT_HOP].concat(), NLRI),
            StaysUp,
        ),
        (
            "7606: missing AS_PATH",
            Established,
            update(&[], &[ORIGIN, NEXT_HOP].concat(), NLRI),
            StaysUp,
        ),
        (
            "7606: missing NEXT_HOP",
            Established,
            update(&[], &[ORIGIN, AS_PATH].concat(), NLRI),
            StaysUp,
        ),
        (
            "7606: ORIGIN value 5",
            Established,
            update(
                &[],
                &[&attr(0x40, 1, &[5])[..], AS_PATH, NEXT_HOP].concat(),
                NLRI,
            ),
            StaysUp,
        ),
        (
            "7606: ORIGIN flags",
            Established,
            update(
                &[],
                &[&attr(0xC0, 1, &[0])[..], AS_PATH, NEXT_HOP].concat(),
                NLRI,
            ),
            StaysUp,
        ),
        (
            "7606: AS_PATH overrun",
            Established,
            update(
                &[],
                &[ORIGIN, &attr(0x40, 2, &[2, 3, 0, 0])[..], NEXT_HOP].concat(),
                NLRI,
            ),
            StaysUp,
        ),
        (
            "7606: NEXT_HOP 0.0.0.0",
            Established,
            update(
                &[],
                &[ORIGIN, AS_PATH, &attr(0x40, 3, &[0, 0, 0, 0])].concat(),
                NLRI,
            ),
            StaysUp,
        ),
        (
            "7606: MED length 2",
            Established,
            update(&[], &with(&attr(0x80, 4, &[0, 1])), NLRI),
            StaysUp,
        ),
        (
            "7606: LOCAL_PREF from eBGP with bad length",
            Established,
            update(&[], &with(&attr(0x40, 5, &[0, 1])), NLRI),
            StaysUp,
        ),
        (
            "7606: ATOMIC_AGGREGATE length 2",
            Established,
            update(&[], &with(&attr(0x40, 6, &[0, 0])), NLRI),
            StaysUp,
        ),
        (
            "7606: AGGREGATOR length 5",
            Established,
            update(&[], &with(&attr(0xC0, 7, &[0; 5])), NLRI),
            StaysUp,
        ),
        (
            "7606: COMMUNITIES length 3",
            Established,
            update(&[], &with(&attr(0xC0, 8, &[0; 3])), NLRI),
            StaysUp,
        ),
        (
            "7606: EXT COMMUNITIES length 9",
            Established,
            update(&[], &with(&attr(0xC0, 16, &[0; 9])), NLRI),
            StaysUp,
        ),
        (
            "7606: LARGE_COMMUNITY length 13",
            Established,
            update(&[], &with(&attr(0xC0, 32, &[0; 13])), NLRI),
            StaysUp,
        ),
        (
            "7606: duplicate MED",
            Established,
            update(
                &[],
                &with(&[attr(0x80, 4, &[0, 0, 0, 1]), attr(0x80, 4, &[0, 0, 0, 2])].concat()),
                NLRI,
            ),
            StaysUp,
        ),
        (
            "7606: attribute overruns field",
            Established,
            update(&[], &with(&[0xC0, 8, 9, 0, 0]), NLRI),
            StaysUp,
        ),
        (
            "7606: AS4_PATH malformed",
            Established,
            update(&[], &with(&attr(0xC0, 17, &[2, 5, 0])), NLRI),
            StaysUp,
        ),
        (
            "unknown optional attribute is kept",
            Established,
            update(&[], &with(&attr(0xC0, 200, &[1, 2, 3])), NLRI),
            StaysUp,
        ),
        (
            "ROUTE-REFRESH unknown subtype ignored",
            Established,
            msg(5, &[0, 1, 9, 1]),
            StaysUp,
        ),
        (
            "ROUTE-REFRESH request answered",
            Established,
            msg(5, &[0, 1, 0, 1]),
            StaysUp,
        ),
        (
            "open: unknown capability is ignored",
            OpenSent,
            open_with(
                65002,
                90,
                [10, 0, 0, 2],
                &[CAPS, &[250, 3, 1, 2, 3]].concat(),
            ),
            Accepts,
        ),
        (
            "open: hold time 0 (no keepalives) accepted",
            OpenSent,
            open_with(65002, 0, [10, 0, 0, 2], CAPS),
            Accepts,
        ),
        (
            "open: hold time 3 accepted",
            OpenSent,
            open_with(65002, 3, [10, 0, 0, 2], CAPS),
            Accepts,
        ),
        (
            "open: RFC 9072 extended optional parameters accepted",
            OpenSent,
            {
                let mut b = vec![4, 0xFD, 0xEA, 0, 90, 10, 0, 0, 2, 255, 255];
                b.extend_from_slice(&u16::try_from(CAPS.len() + 3).unwrap().to_be_bytes());
                b.push(2);
                b.extend_from_slice(&u16::try_from(CAPS.len()).unwrap().to_be_bytes());
                b.extend_from_slice(CAPS);
                msg(1, &b)
            },
            Accepts,
        ),
        (
            "peer NOTIFICATION in OpenSent is not answered",
            OpenSent,
            msg(3, &[6, 2, 0]),
            ClosesSilently,
        ),
        (
            "peer Cease in Established is not answered",
            Established,
            msg(3, &[6, 2, 3, 0x62, 0x79, 0x65]),
            ClosesSilently,
        ),
        (
            "7606: ORIGINATOR_ID length 5",
            Established,
            update(&[], &with(&attr(0x80, 9, &[0; 5])), NLRI),
            StaysUp,
        ),
        (
            "7606: CLUSTER_LIST length 3",
            Established,
            update(&[], &with(&attr(0x80, 10, &[0; 3])), NLRI),
            StaysUp,
        ),
        (
            "7606: IPv6 ext communities length 21",
            Established,
            update(&[], &with(&attr(0xC0, 25, &[0; 21])), NLRI),
            StaysUp,
        ),
        (
            "7606: ONLY_TO_CUSTOMER length 3",
            Established,
            update(&[], &with(&attr(0xC0, 35, &[0; 3])), NLRI),
            StaysUp,
        ),
        (
            "7606: AGGREGATOR with AS 0 (RFC 7607)",
            Established,
            update(&[], &with(&attr(0xC0, 7, &[0, 0, 0, 0, 1, 2, 3, 4])), NLRI),
            StaysUp,
        ),
        (
            "7606: AS_PATH with AS 0 (RFC 7607)",
            Established,
            update(
                &[],
                &[ORIGIN, &attr(0x40, 2, &[2, 1, 0, 0, 0, 0])[..], NEXT_HOP].concat(),
                NLRI,
            ),
            StaysUp,
        ),
        (
            "7606: AS4_AGGREGATOR length 7",
            Established,
            update(&[], &with(&attr(0xC0, 18, &[0; 7])), NLRI),
            StaysUp,
        ),
        (
            "update: MP_UNREACH IPv6 /129 (AFI/SAFI disable falls back to reset)",
            Established,
            update(&[], &attr(0x80, 15, &[0, 2, 1, 129]), &[]),
            Notify(3, 10, vec![]),
        ),
        (
            "update: MP_REACH with well-known flags (AFI/SAFI disable falls back to reset)",
            Established,
            update(
                &[],
                &[
                    ORIGIN,
                    &as_path_attr(),
                    &attr(0x40, 14, &[0, 1, 1, 4, 192, 0, 2, 1, 0, 24, 10, 0, 0])[..],
                ]
                .concat(),
                &[],
            ),
            Notify(
                3,
                4,
                vec![0x40, 14, 13, 0, 1, 1, 4, 192, 0, 2, 1, 0, 24, 10, 0, 0],
            ),
        ),
        (
            "End-of-RIB accepted",
            Established,
            update(&[], &[], &[]),
            StaysUp,
        ),
    ]
}

#[test]
fn malformed_messages_get_the_exact_rfc_answer() {
    let Some(inject) = start_inject() else { return };
    let mut failures = Vec::new();
    let all = cases();
    for (name, at, bytes, expect) in &all {
        if let Err(e) = run_case(inject.addr, *at, bytes, expect) {
            failures.push(format!("{name}: {e}"));
        }
        // The speaker drops the connection and is ready for the next one at once (idle hold 0).
        std::thread::sleep(Duration::from_millis(30));
    }
    eprintln!("{} conformance cases, {} failed", all.len(), failures.len());
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn unknown_peer_is_rejected_with_cease_5() {
    let Some(inject) = start_inject() else { return };
    // 127.0.0.2 is not a configured peer: the listener answers Cease / Connection Rejected.
    let Some(mut s) = connect_from("127.0.0.2:0".parse().unwrap(), inject.addr) else {
        eprintln!("SKIPPED: cannot bind 127.0.0.2");
        return;
    };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(notification(&mut s), Some((6, 5, vec![])));
}

/// A blocking stream bound to `local` (std cannot bind before connecting; tokio can).
fn connect_from(local: SocketAddr, remote: SocketAddr) -> Option<TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().ok()?;
        sock.bind(local).ok()?;
        let s = sock.connect(remote).await.ok()?.into_std().ok()?;
        s.set_nonblocking(false).ok()?;
        Some(s)
    })
}
