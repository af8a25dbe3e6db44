//! Interop tests: our speaker (the `inject` example, run inside a network
//! namespace) against real BIRD, FRR, GoBGP and ExaBGP daemons in a second
//! namespace, checked through each daemon's own CLI.
//!
//! Needs root and the daemons (`apt-get install bird2 frr gobgpd exabgp tshark`);
//! without them every test prints "SKIPPED: ..." and passes, except in CI
//! (`CI=true`) where a missing prerequisite fails. See docs/interop.md.
//!
//! ```text
//! cargo test -p bgp-session --test interop -- --nocapture
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use common::daemon::{
    AS_TRANS, Daemon, Neighbor, wait_established, wait_not_established, wait_table,
};
use common::inject::{Inject, InjectOpts};
use common::lab::{Capture, Lab, holds_for, log, wait_for};
use common::rib::{Attrs, Model, SessionView, Table};
use ipnet::IpNet;

/// The daemon's AS in every lab.
const THEM_AS: u32 = 65002;
/// Time allowed for a session to come up.
const UP: Duration = Duration::from_secs(60);
/// Time allowed for a table to converge.
const CONVERGE: Duration = Duration::from_secs(30);

/// How a daemon is run and what it supports.
struct Profile {
    kind: &'static str,
    /// Prints the daemon's version.
    version: &'static [&'static str],
    binaries: &'static [&'static str],
    start: fn(&Lab, &[Neighbor]) -> Box<dyn Daemon>,
    /// Our 2-octet AS to a peer without the 4-octet AS capability.
    old_speaker_as2: bool,
    /// Our 4-octet AS to a peer without the capability (AS_TRANS + AS4_PATH).
    old_speaker_as4: Option<OldAs4>,
    /// Graceful restart helper with readable stale marks.
    graceful_restart: bool,
    /// Can send a ROUTE-REFRESH on demand.
    route_refresh: bool,
    /// Shows ADD-PATH path identifiers.
    add_path: bool,
    /// LOCAL_PREF the daemon shows on routes learned over eBGP.
    ebgp_local_pref: Option<u32>,
    /// TCP MD5 (RFC 2385) is configurable.
    md5: bool,
}

fn bird() -> Profile {
    Profile {
        kind: "BIRD",
        version: &["bird", "--version"],
        binaries: common::bird::BINARIES,
        start: |lab, n| Box::new(common::bird::Bird::start(lab, n)),
        old_speaker_as2: true,
        old_speaker_as4: None,
        graceful_restart: true,
        route_refresh: true,
        add_path: false,
        ebgp_local_pref: Some(100),
        md5: true,
    }
}

fn frr() -> Profile {
    Profile {
        kind: "FRR",
        version: &["/usr/lib/frr/bgpd", "--version"],
        binaries: common::frr::BINARIES,
        start: |lab, n| Box::new(common::frr::Frr::start(lab, n)),
        old_speaker_as2: true,
        // FRR's dont-capability-negotiate still reads our capabilities: it
        // expects the real AS, and, as we announced the 4-octet capability,
        // ignores AS4_PATH (RFC 6793 §4.2.1): AS_PATH shows AS_TRANS.
        old_speaker_as4: Some(OldAs4 {
            configured: |a| a,
            shown: |_| AS_TRANS,
        }),
        graceful_restart: true,
        route_refresh: true,
        add_path: true,
        ebgp_local_pref: None,
        md5: true,
    }
}

fn gobgp() -> Profile {
    Profile {
        kind: "GoBGP",
        version: &["gobgpd", "--version"],
        binaries: common::gobgp::BINARIES,
        start: |lab, n| Box::new(common::gobgp::Gobgp::start(lab, n)),
        // GoBGP always announces the 4-octet AS capability.
        old_speaker_as2: false,
        old_speaker_as4: None,
        graceful_restart: true,
        // `gobgp neighbor X softresetin` re-applies GoBGP's Adj-RIB-In and
        // sends no ROUTE-REFRESH (GoBGP 3.10); there is no other way to ask.
        route_refresh: false,
        add_path: true,
        ebgp_local_pref: None,
        md5: true,
    }
}

fn exabgp() -> Profile {
    Profile {
        kind: "ExaBGP",
        version: &["exabgp", "--version"],
        binaries: common::exabgp::BINARIES,
        start: |lab, n| Box::new(common::exabgp::Exabgp::start(lab, n)),
        old_speaker_as2: true,
        // `asn4 disable` makes ExaBGP a genuine old speaker: configured with
        // AS_TRANS, it rebuilds our AS from AS4_PATH (RFC 6793 §4.2.3).
        old_speaker_as4: Some(OldAs4 {
            configured: |_| AS_TRANS,
            shown: |a| a,
        }),
        // ExaBGP keeps no RIB: nothing to retain as stale.
        graceful_restart: false,
        route_refresh: true,
        add_path: true,
        ebgp_local_pref: None,
        md5: true,
    }
}

/// How a daemon without the 4-octet AS capability is told about our 4-octet AS.
#[derive(Clone, Copy)]
struct OldAs4 {
    /// The peer AS in the daemon's configuration, from our real AS.
    configured: fn(u32) -> u32,
    /// The AS the daemon shows in AS_PATH, from our real AS.
    shown: fn(u32) -> u32,
}

/// One of our sessions in a lab: the daemon's neighbor entry, our speaker's
/// options, and what we announced.
struct Sess {
    /// Address slot; also selects the session's prefixes.
    slot: u8,
    nb: Neighbor,
    opts: InjectOpts,
    view: SessionView,
    model: Model,
    /// Routes are exchanged on this session.
    routes: bool,
    inject: Option<Inject>,
}

impl Sess {
    fn new(slot: u8, nb: Neighbor, our_as: u32, path_as: u32, d_lp: Option<u32>) -> Self {
        let opts = InjectOpts::new(&nb.name, our_as, nb.addr, nb.local_as, nb.local);
        let view = SessionView {
            path_as,
            ibgp: nb.ibgp(),
            next_hop: nb.addr,
            ebgp_local_pref: d_lp,
        };
        Self {
            slot,
            nb,
            opts,
            view,
            model: Model::default(),
            routes: true,
            inject: None,
        }
    }

    fn inject(&mut self) -> &mut Inject {
        self.inject.as_mut().expect("inject running")
    }

    /// Applies a route change to our speaker and to the model.
    fn announce(&mut self, p: IpNet, a: Attrs) {
        let cmd = a.command(p);
        self.model.routes.insert(p, a);
        self.inject().send(&cmd);
    }

    fn apply(&mut self, changes: Vec<(IpNet, Option<Attrs>)>) {
        let mut cmds = Vec::new();
        for (p, a) in changes {
            match a {
                Some(a) => {
                    cmds.push(a.command(p));
                    self.model.routes.insert(p, a);
                }
                None => {
                    cmds.push(format!("withdraw {p}"));
                    self.model.routes.remove(&p);
                }
            }
        }
        self.inject().send_all(&cmds);
    }

    fn expected(&self) -> common::rib::Table {
        self.model.expected(&self.view)
    }
}

/// The `i`-th test prefix of session slot `k`.
fn prefix(k: u8, i: u8, v6: bool) -> IpNet {
    if v6 {
        format!("2001:db8:{k}:{i}::/64").parse().unwrap()
    } else {
        format!("172.{}.{i}.0/24", 16 + k).parse().unwrap()
    }
}

const N: u8 = 12;

/// Step 1: N prefixes with varied MED, LOCAL_PREF, communities, large communities.
fn initial(k: u8, v6: bool) -> Vec<(IpNet, Option<Attrs>)> {
    (0..N)
        .map(|i| {
            let a = Attrs {
                med: (i % 2 == 0).then_some(u32::from(i) * 10),
                local_pref: (i % 3 != 2).then_some(100 + u32::from(i)),
                communities: match i % 3 {
                    0 => vec![format!("65000:{i}"), "65001:1".into()],
                    1 => vec![format!("65000:{}", 100 + u16::from(k))],
                    _ => vec![],
                },
                large: if i % 2 == 1 {
                    vec![format!("4200000001:{k}:{i}")]
                } else {
                    vec![]
                },
                prepend: 0,
                origin: None,
            };
            (prefix(k, i, v6), Some(a))
        })
        .collect()
}

/// Step 2: new attributes for half the prefixes (all attribute kinds change).
fn changed(k: u8, v6: bool) -> Vec<(IpNet, Option<Attrs>)> {
    (0..N / 2)
        .map(|i| {
            let a = Attrs {
                med: Some(1000 + u32::from(i)),
                local_pref: Some(200 + u32::from(i)),
                communities: vec![format!("65100:{i}"), "65535:65281".into()],
                large: vec![format!("4200000002:{k}:{i}"), "65002:1:2".into()],
                prepend: i % 3,
                origin: Some(if i % 2 == 0 { "egp" } else { "incomplete" }.into()),
            };
            (prefix(k, i, v6), Some(a))
        })
        .collect()
}

/// Step 3: withdraw every third prefix.
fn withdrawn(k: u8, v6: bool) -> Vec<(IpNet, Option<Attrs>)> {
    (0..N)
        .filter(|i| i % 3 == 0)
        .map(|i| (prefix(k, i, v6), None))
        .collect()
}

/// A neighbor of the daemon for our address `addr`.
fn neighbor(lab: &Lab, name: &str, addr: IpAddr, peer_as: u32) -> Neighbor {
    let local = if addr.is_ipv4() {
        lab.them_v4()
    } else {
        lab.them_v6()
    };
    Neighbor::new(name, addr, local, THEM_AS, peer_as)
}

/// The sessions of the route-exchange lab, as far as the daemon supports them.
fn route_sessions(p: &Profile, lab: &Lab) -> Vec<Sess> {
    let d_lp = p.ebgp_local_pref;
    let mk = |slot: u8, name: &str, v6: bool, peer_as: u32, our_as: u32, path_as: u32| {
        let addr = if v6 { lab.us_v6(slot) } else { lab.us_v4(slot) };
        let nb = neighbor(lab, name, addr, peer_as);
        Sess::new(slot, nb, our_as, path_as, d_lp)
    };
    let e4 = 4_200_000_001;
    let mut v = vec![
        // eBGP over IPv4 with our 4-octet AS; over IPv6 with a 2-octet AS.
        mk(0, "e4", false, e4, e4, e4),
        mk(1, "e6", true, 65016, 65016, 65016),
        // iBGP over IPv4 and IPv6 (LOCAL_PREF).
        mk(2, "i4", false, THEM_AS, THEM_AS, THEM_AS),
        mk(3, "i6", true, THEM_AS, THEM_AS, THEM_AS),
    ];
    if p.old_speaker_as2 {
        // The daemon without the 4-octet AS capability; our 2-octet AS.
        let mut s = mk(4, "o2", false, 65013, 65013, 65013);
        s.nb.as4 = false;
        v.push(s);
    }
    if let Some(o) = p.old_speaker_as4 {
        // The daemon without the capability, our 4-octet AS: AS_TRANS in OPEN and AS_PATH.
        let ours = 4_200_000_014;
        let mut s = mk(5, "o4", false, (o.configured)(ours), ours, (o.shown)(ours));
        s.nb.as4 = false;
        v.push(s);
    }
    if p.md5 {
        // TCP MD5 with the right password (carries a route), and with a wrong one.
        for (slot, name, ours) in [
            (6, "md5", "s3cret-interop"),
            (7, "badmd5", "wrong-password"),
        ] {
            let mut s = mk(slot, name, false, e4, e4, e4);
            s.nb.md5 = Some("s3cret-interop".into());
            s.opts = s.opts.arg(&["--md5", ours]);
            s.routes = false;
            v.push(s);
        }
    }
    // The daemon connects and we only listen; then both connect (a collision,
    // RFC 4271 §6.8, when the connections cross: the log says how many were opened).
    // Not with ExaBGP: when the connections cross, ExaBGP 4.2.21 fails in its own
    // collision handling ("'NoneType' object has no attribute 'router_id'" in its
    // log) and from then on closes every connection for that neighbour, so the
    // outcome depends on timing and says nothing about our speaker.
    let both: &[(u8, &str, &str)] = if p.kind == "ExaBGP" {
        &[(9, "active", "--passive")]
    } else {
        &[(9, "active", "--passive"), (10, "collide", "")]
    };
    for &(slot, name, ours) in both {
        let mut s = mk(slot, name, false, e4, e4, e4);
        s.nb.passive = false;
        let listen = format!("{}:179", s.nb.addr);
        s.opts = s.opts.arg(&["--listen", &listen]);
        if !ours.is_empty() {
            s.opts = s.opts.arg(&[ours]);
        }
        v.push(s);
    }
    // ADD-PATH: the daemon asks to receive several paths; we offer to send.
    let mut s = mk(8, "addpath", false, e4, e4, e4);
    s.nb.add_path_rx = true;
    s.opts = s.opts.arg(&["--add-path"]);
    v.push(s);
    v
}

/// Sessions, route exchange (announce / change / withdraw), MD5, ADD-PATH
/// and ROUTE-REFRESH against one daemon instance.
fn sessions_and_routes(p: &Profile) {
    let test = format!("{}_sessions_and_routes", p.kind.to_lowercase());
    let mut bins = p.binaries.to_vec();
    bins.push("tshark");
    if !common::prerequisites(&test, &bins) {
        return;
    }
    log(&format!("{}: {}", p.kind, common::version(p.version)));
    let lab = Lab::new(&format!("{}-routes", p.kind));
    let mut sessions = route_sessions(p, &lab);
    let mut capture = Capture::start(&lab, "routes");
    let neighbors: Vec<Neighbor> = sessions.iter().map(|s| s.nb.clone()).collect();
    let daemon = (p.start)(&lab, &neighbors);
    let d: &dyn Daemon = daemon.as_ref();
    for s in &mut sessions {
        s.inject = Some(Inject::start(&lab, s.opts.clone()));
    }
    for s in sessions.iter_mut().filter(|s| s.nb.name != "badmd5") {
        s.inject().wait_established(1, UP);
        wait_established(d, &s.nb, UP);
    }
    lab.log("all sessions Established (but the one with the wrong MD5 password)");

    // Route exchange, step by step, on all sessions at once.
    type Step = fn(u8, bool) -> Vec<(IpNet, Option<Attrs>)>;
    for (step, f) in [
        ("announce", initial as Step),
        ("change attributes", changed),
        ("withdraw", withdrawn),
    ] {
        for s in sessions.iter_mut().filter(|s| s.routes) {
            let v6 = s.nb.addr.is_ipv6();
            s.apply(f(s.slot, v6));
        }
        for s in sessions.iter().filter(|s| s.routes) {
            wait_table(d, &s.nb, &s.expected(), step, CONVERGE);
        }
        lab.log(&format!("step {step:?}: every table matches"));
    }

    if let Some(s) = sessions.iter_mut().find(|s| s.nb.name == "md5") {
        // MD5 with the right password carries routes too.
        s.announce(prefix(s.slot, 0, false), Attrs::default());
        wait_table(d, &s.nb, &s.expected(), "md5 session", CONVERGE);
    }

    // ADD-PATH: the daemon shows path identifier 1 on every route.
    let ap = sessions.iter().find(|s| s.nb.name == "addpath").unwrap();
    if p.add_path {
        let ids = d.path_ids(&ap.nb).unwrap();
        assert_eq!(ids.len(), ap.model.routes.len(), "path ids: {ids:?}");
        assert!(ids.iter().all(|(_, id)| *id == 1), "path ids: {ids:?}");
        lab.log(&format!(
            "{} shows path id 1 on all {} routes",
            p.kind,
            ids.len()
        ));
    }
    let ap_addr = ap.nb.addr;

    // ROUTE-REFRESH from the daemon is answered with our routes again.
    let mut refresh_from: Option<IpAddr> = None;
    if p.route_refresh {
        let s = sessions.iter_mut().find(|s| s.nb.name == "e4").unwrap();
        let rr0 = s.inject().counter("recv_route_refresh");
        let up0 = s.inject().counter("sent_update");
        d.request_refresh(&s.nb).unwrap();
        let inj = s.inject.as_mut().unwrap();
        wait_for(
            "ROUTE-REFRESH received and answered with UPDATEs",
            Duration::from_secs(10),
            || {
                let st = inj.status();
                let rr: u64 = st["recv_route_refresh"].parse().unwrap();
                let up: u64 = st["sent_update"].parse().unwrap();
                if rr > rr0 && up > up0 {
                    Ok(())
                } else {
                    Err(format!("route refresh {rr0}->{rr}, updates {up0}->{up}"))
                }
            },
        );
        wait_table(d, &s.nb, &s.expected(), "after route refresh", CONVERGE);
        refresh_from = Some(s.nb.addr);
    }

    // The wrong MD5 password never got anywhere.
    if let Some(b) = sessions.iter().find(|s| s.nb.name == "badmd5") {
        holds_for(
            "wrong MD5 password stays down",
            Duration::from_secs(1),
            || match d.established(&b.nb) {
                Ok(false) => Ok(()),
                other => Err(format!("daemon: {other:?}")),
            },
        );
        let inj = b.inject.as_ref().unwrap();
        assert_eq!(inj.established_count(), 0, "wrong MD5 password established");
        lab.log("wrong MD5 password: never Established on either side");
    }

    // No session flapped: each came up exactly once (also the colliding one).
    for s in sessions.iter().filter(|s| s.nb.name != "badmd5") {
        let inj = s.inject.as_ref().unwrap();
        assert_eq!(
            inj.established_count(),
            1,
            "session {} came up more than once: {:?}",
            s.nb.name,
            inj.lines()
        );
        assert!(d.established(&s.nb).unwrap(), "{} is down", s.nb.name);
    }

    // On the wire (tshark on the daemon's side of the link).
    capture.stop();
    let ids = capture.fields(
        &format!("bgp.type == 2 && ip.src == {ap_addr} && bgp.nlri_path_id"),
        &["bgp.nlri_path_id"],
    );
    let ids: Vec<&str> = ids.iter().flatten().flat_map(|f| f.split(',')).collect();
    assert!(
        !ids.is_empty() && ids.iter().all(|i| *i == "1"),
        "ADD-PATH session: path ids on the wire {ids:?}"
    );
    lab.log(&format!(
        "ADD-PATH: {} NLRI on the wire, all with path id 1",
        ids.len()
    ));
    if let Some(o4) = sessions.iter().find(|s| s.nb.name == "o4") {
        // RFC 6793 §4.2.2: AS_TRANS in AS_PATH, our AS in full in AS4_PATH.
        let us = o4.nb.addr;
        let ours = o4.opts.local_as.to_string();
        let as4 = capture.fields(
            &format!(
                "bgp.type == 2 && ip.src == {us} && bgp.update.path_attribute.type_code == 17"
            ),
            &[
                "bgp.update.path_attribute.as_path_segment.as2",
                "bgp.update.path_attribute.as_path_segment.as4",
            ],
        );
        assert!(
            !as4.is_empty()
                && as4.iter().all(|r| {
                    r.first()
                        .is_some_and(|a| a.split(',').all(|x| x == "23456"))
                        && r.get(1).is_some_and(|a| a.split(',').all(|x| x == ours))
                }),
            "UPDATEs to the old speaker: want AS_PATH 23456 and AS4_PATH {ours}, got {as4:?}"
        );
        let without = capture.fields(
            &format!(
                "bgp.type == 2 && ip.src == {us} && bgp.update.path_attribute.type_code == 2 \
                 && !(bgp.update.path_attribute.type_code == 17)"
            ),
            &["frame.number"],
        );
        assert!(
            without.is_empty(),
            "UPDATEs without AS4_PATH in frames {without:?}"
        );
        lab.log(&format!(
            "4-octet AS to an old speaker: {} UPDATEs with AS_PATH 23456 and AS4_PATH {ours}",
            as4.len()
        ));
    }
    if let Some(coll) = sessions.iter().find(|s| s.nb.name == "collide") {
        let syns = capture.fields(
            &format!(
                "ip.addr == {} && tcp.port == 179 && tcp.flags.syn == 1 && tcp.flags.ack == 0",
                coll.nb.addr
            ),
            &["ip.src"],
        );
        lab.log(&format!(
            "both sides connecting: {} connections opened (by {:?}), one session kept",
            syns.len(),
            syns.iter().flatten().collect::<Vec<_>>()
        ));
    }
    if let Some(us) = refresh_from {
        let them = lab.them_v4();
        let rr = capture.fields(
            &format!("bgp.type == 5 && ip.src == {them} && ip.dst == {us}"),
            &["frame.number", "bgp.route_refresh.subtype"],
        );
        let first = rr
            .iter()
            .find(|r| r.get(1).is_some_and(|s| s == "0"))
            .unwrap_or_else(|| {
                panic!("no ROUTE-REFRESH request from the daemon on the wire: {rr:?}")
            });
        let frame: u64 = first[0].parse().unwrap();
        let answers = capture.fields(
            &format!("frame.number > {frame} && bgp.type == 2 && ip.src == {us}"),
            &["frame.number"],
        );
        assert!(!answers.is_empty(), "no UPDATE after the ROUTE-REFRESH");
        let borr = capture.fields(
            &format!("frame.number > {frame} && bgp.type == 5 && ip.src == {us}"),
            &["bgp.route_refresh.subtype"],
        );
        lab.log(&format!(
            "wire: ROUTE-REFRESH in frame {frame}, then {} UPDATE packets back; our BoRR/EoRR subtypes {:?}",
            answers.len(),
            borr
        ));
    }
    log(&format!("{test}: done"));
}

/// The routes of the failure lab: `count` /24s of 10.77/16 with `med`.
fn failure_model(count: u8, med: u32) -> Model {
    let mut m = Model::default();
    for i in 0..count {
        m.routes.insert(
            format!("10.77.{i}.0/24").parse().unwrap(),
            Attrs {
                med: Some(med),
                communities: vec!["65000:7".into()],
                ..Attrs::default()
            },
        );
    }
    m
}

fn failure_opts(nb: &Neighbor, count: u8, med: u32, extra: &[&str]) -> InjectOpts {
    InjectOpts::new("f", 4_200_000_001, nb.addr, THEM_AS, nb.local)
        .arg(&["--hold", "3", "--prefix", "10.77.0.0/16", "--len", "24"])
        .arg(&["--count", &count.to_string(), "--med", &med.to_string()])
        .arg(&["--communities", "65000:7"])
        .arg(extra)
}

/// Link cut with hold time 3 s, daemon restart, and our graceful restart.
fn failures(p: &Profile) {
    let test = format!("{}_failures", p.kind.to_lowercase());
    if !common::prerequisites(&test, p.binaries) {
        return;
    }
    let lab = Lab::new(&format!("{}-failures", p.kind));
    let mut nb = neighbor(&lab, "f", lab.us_v4(0), 4_200_000_001);
    nb.hold = 3;
    nb.graceful_restart = p.graceful_restart;
    let mut daemon = (p.start)(&lab, std::slice::from_ref(&nb));
    let view = SessionView {
        path_as: 4_200_000_001,
        ibgp: false,
        next_hop: nb.addr,
        ebgp_local_pref: p.ebgp_local_pref,
    };
    let full = failure_model(20, 5).expected(&view);
    let mut inj = Inject::start(&lab, failure_opts(&nb, 20, 5, &[]));
    inj.wait_established(1, UP);
    wait_established(daemon.as_ref(), &nb, UP);
    wait_table(daemon.as_ref(), &nb, &full, "initial", CONVERGE);

    // 1. Link cut: both sides must drop the session by hold timer (3 s).
    let t = Instant::now();
    lab.link_down();
    let line = inj.wait_down("HOLD_TIMER_EXPIRED", Duration::from_secs(15));
    let ours = t.elapsed();
    wait_not_established(daemon.as_ref(), &nb, Duration::from_secs(15));
    let theirs = t.elapsed();
    let err = daemon.last_error(&nb);
    lab.log(&format!(
        "link cut: we dropped after {:.1} s ({line}); {} after {:.1} s ({err})",
        ours.as_secs_f64(),
        p.kind,
        theirs.as_secs_f64()
    ));
    // Hold 3 s, keepalive 1 s: between 2 and 3 s after the last message; not at once.
    assert!(
        ours >= Duration::from_millis(1500),
        "we dropped after {ours:?}, before the hold time"
    );
    assert!(
        err.to_lowercase().contains("hold"),
        "{} did not report a hold timer expiry: {err}",
        p.kind
    );

    // 2. Link back: we re-establish and re-send everything.
    lab.link_up();
    inj.wait_established(2, UP);
    wait_established(daemon.as_ref(), &nb, UP);
    wait_table(
        daemon.as_ref(),
        &nb,
        &full,
        "after the link came back",
        CONVERGE,
    );

    // 3. Daemon restart (SIGKILL, start again): nothing lost.
    daemon.restart();
    inj.wait_established(3, UP);
    wait_established(daemon.as_ref(), &nb, UP);
    wait_table(
        daemon.as_ref(),
        &nb,
        &full,
        "after the daemon restart",
        CONVERGE,
    );
    let st = inj.status();
    assert_eq!(st["announced"], "20", "our view after the restart: {st:?}");

    // 4. A normal stop (Cease) withdraws everything.
    inj.terminate();
    wait_table(
        daemon.as_ref(),
        &nb,
        &Table::new(),
        "after our Cease",
        CONVERGE,
    );
    drop(inj);
    if !p.graceful_restart {
        log(&format!("{test}: done (graceful restart n.a.)"));
        return;
    }

    // 5. Graceful restart: we stop without NOTIFICATION, the daemon keeps
    // our routes as stale, we come back with the Restart State bit and a
    // changed set (MED 6, one prefix fewer), End-of-RIB ends the restart.
    let gr = ["--graceful-restart", "120"];
    let mut before = Inject::start(&lab, failure_opts(&nb, 20, 5, &gr).arg(&["--gr-shutdown"]));
    before.wait_established(1, UP);
    wait_established(daemon.as_ref(), &nb, UP);
    wait_table(daemon.as_ref(), &nb, &full, "before our restart", CONVERGE);
    before.terminate();
    wait_not_established(daemon.as_ref(), &nb, Duration::from_secs(10));
    let all: Vec<IpNet> = full.keys().copied().collect();
    wait_for(
        &format!("{} keeps all 20 routes, marked stale", p.kind),
        Duration::from_secs(10),
        || {
            common::rib::diff(&full, &daemon.routes(&nb)?)?;
            let mut stale = daemon.stale(&nb)?;
            stale.sort();
            if stale == all {
                Ok(())
            } else {
                Err(format!("stale: {stale:?}"))
            }
        },
    );
    holds_for(
        "routes kept while we are away",
        Duration::from_secs(2),
        || common::rib::diff(&full, &daemon.routes(&nb)?),
    );
    let after_model = failure_model(19, 6).expected(&view);
    let mut after = Inject::start(
        &lab,
        InjectOpts {
            name: "f-restarted".into(),
            ..failure_opts(&nb, 19, 6, &gr).arg(&["--restarting"])
        },
    );
    after.wait_established(1, UP);
    wait_established(daemon.as_ref(), &nb, UP);
    wait_for(
        &format!(
            "{} holds the refreshed routes, none stale, the unrefreshed one flushed",
            p.kind
        ),
        CONVERGE,
        || {
            common::rib::diff(&after_model, &daemon.routes(&nb)?)?;
            let stale = daemon.stale(&nb)?;
            if stale.is_empty() {
                Ok(())
            } else {
                Err(format!("still stale: {stale:?}"))
            }
        },
    );
    log(&format!("{test}: done"));
}

/// Our speaker delivers 100,000 prefixes to BIRD, exactly.
#[test]
fn bird_100k_prefixes() {
    const COUNT: u32 = 100_000;
    if !common::prerequisites("bird_100k_prefixes", common::bird::BINARIES) {
        return;
    }
    let lab = Lab::new("BIRD-100k");
    let nb = neighbor(&lab, "big", lab.us_v4(0), 4_200_000_001);
    let bird = common::bird::Bird::start(&lab, std::slice::from_ref(&nb));
    let t = Instant::now();
    let mut inj = Inject::start(
        &lab,
        InjectOpts::new("big", 4_200_000_001, nb.addr, THEM_AS, nb.local)
            .arg(&["--count", &COUNT.to_string()])
            .arg(&["--communities", "65000:100", "--med", "100"]),
    );
    inj.wait_established(1, UP);
    let proto = common::bird::proto(&nb);
    let want = format!("{COUNT} of {COUNT} routes for {COUNT} networks in table master4");
    wait_for(
        &format!("BIRD counts {COUNT} routes"),
        Duration::from_secs(180),
        || {
            let out = bird.birdc(&["show", "route", "protocol", &proto, "count"])?;
            if out.contains(&want) {
                Ok(())
            } else {
                Err(out.trim().replace('\n', " | "))
            }
        },
    );
    lab.log(&format!(
        "{COUNT} prefixes in BIRD {:.1} s after start",
        t.elapsed().as_secs_f64()
    ));
    // Exactly the prefixes inject carves: 100.64.0.0/32 + i.
    let listed = bird.birdc(&["show", "route", "protocol", &proto]).unwrap();
    let mut got = common::bird::parse_networks(&listed).unwrap();
    got.sort();
    let base = u32::from(std::net::Ipv4Addr::new(100, 64, 0, 0));
    let want: Vec<IpNet> = (0..COUNT)
        .map(|i| IpNet::new(std::net::Ipv4Addr::from(base + i).into(), 32).unwrap())
        .collect();
    assert!(
        got == want,
        "BIRD holds {} networks, not the {COUNT} expected ones",
        got.len()
    );
    let protocols = bird.birdc(&["show", "protocols", "all", &proto]).unwrap();
    assert!(
        protocols.contains(&format!("Routes:         {COUNT} imported")),
        "{protocols}"
    );
    // Attributes of the first and the last route.
    for p in [want[0], want[want.len() - 1]] {
        let out = bird
            .birdc(&["show", "route", "all", &p.to_string()])
            .unwrap();
        let routes = common::bird::parse_routes(&out).unwrap();
        assert_eq!(routes.len(), 1, "{out}");
        let r = &routes[0].1;
        assert_eq!(
            (
                r.as_path.as_slice(),
                r.next_hop,
                r.med,
                r.communities.as_slice()
            ),
            (
                &[4_200_000_001u32][..],
                nb.addr,
                Some(100),
                &["65000:100".to_owned()][..]
            ),
            "{p}"
        );
    }
    let st = inj.status();
    assert_eq!(st["announced"], COUNT.to_string(), "{st:?}");
    assert_eq!(st["pending"], "0", "{st:?}");
    log("bird_100k_prefixes: done");
}

/// Our speaker delivers 100,000 prefixes; the daemon counts them.
fn hundred_k(p: &Profile) {
    const COUNT: usize = 100_000;
    let test = format!("{}_100k_prefixes", p.kind.to_lowercase());
    if !common::prerequisites(&test, p.binaries) {
        return;
    }
    let lab = Lab::new(&format!("{}-100k", p.kind));
    let nb = neighbor(&lab, "big", lab.us_v4(0), 4_200_000_001);
    let daemon = (p.start)(&lab, std::slice::from_ref(&nb));
    let t = Instant::now();
    let mut inj = Inject::start(
        &lab,
        InjectOpts::new("big", 4_200_000_001, nb.addr, THEM_AS, nb.local)
            .arg(&["--count", &COUNT.to_string()]),
    );
    inj.wait_established(1, UP);
    wait_for(
        &format!("{} counts {COUNT} routes", p.kind),
        Duration::from_secs(240),
        || match daemon.route_count(&nb)? {
            COUNT => Ok(()),
            n => Err(format!("{n} routes")),
        },
    );
    lab.log(&format!(
        "{COUNT} prefixes in {} {:.1} s after start",
        p.kind,
        t.elapsed().as_secs_f64()
    ));
    let st = inj.status();
    assert_eq!(st["announced"], COUNT.to_string(), "{st:?}");
    assert_eq!(st["pending"], "0", "{st:?}");
    log(&format!("{test}: done"));
}

#[test]
fn frr_100k_prefixes() {
    hundred_k(&frr());
}

#[test]
fn gobgp_100k_prefixes() {
    hundred_k(&gobgp());
}

#[test]
fn bird_sessions_and_routes() {
    sessions_and_routes(&bird());
}

#[test]
fn bird_failures() {
    failures(&bird());
}

#[test]
fn frr_sessions_and_routes() {
    sessions_and_routes(&frr());
}

#[test]
fn frr_failures() {
    failures(&frr());
}

#[test]
fn gobgp_sessions_and_routes() {
    sessions_and_routes(&gobgp());
}

#[test]
fn gobgp_failures() {
    failures(&gobgp());
}

#[test]
fn exabgp_sessions_and_routes() {
    sessions_and_routes(&exabgp());
}

#[test]
fn exabgp_failures() {
    failures(&exabgp());
}
