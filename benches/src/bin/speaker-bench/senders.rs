//! The senders: our `inject` example, GoBGP, BIRD and FRR, each announcing the
//! same N prefixes ([`Fam::prefix`]) over one eBGP session to the receiver.
//!
//! - **inject**: `inject --count N`; the routes are generated in-process.
//! - **GoBGP**: `gobgpd` starts with the neighbor configured `admin-down`;
//!   `gobgp mrt inject global FILE` loads the N routes from an MRT
//!   TABLE_DUMP_V2 file written beforehand (not timed), then
//!   `gobgp neighbor ADDR enable` starts the session once `gobgp global rib
//!   summary` shows all N destinations (the CLI returns before gobgpd has
//!   taken the last paths, and loses some: see [`write_mrt`]). GoBGP has no static
//!   routes in its config file, and per-route `gobgp global rib add` calls
//!   are orders of magnitude slower; the MRT path streams over gRPC.
//! - **BIRD**: a `static` protocol with N `route P blackhole;` lines,
//!   exported by the BGP protocol.
//! - **FRR**: N `network P` statements in bgpd's config (with
//!   `no bgp network import-check`, so no zebra round trip per route);
//!   zebra runs as FRR requires. Static routes would go staticd → zebra →
//!   kernel → redistribute, strictly more work.
//!
//! Start-up delays that are only defaults were shortened for everybody:
//! BIRD `connect delay time 1` (default 5 s), `connect retry time 1`,
//! `error wait time 1, 2`; FRR `timers connect 1` and `bgp coalesce-time 0`
//! (default 1 s: the update-group waits that long before its first UPDATE).
//! GoBGP 3.10 has no such knob for its first connect attempt, which comes
//! about 5–8 s after `neighbor enable`: compare GoBGP on the time after
//! Established.
//! The measured time starts when the sender's first process is spawned, so
//! the time to Established includes reading N routes from the config (BIRD,
//! FRR), generating them (inject), or loading them over gRPC (GoBGP).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::lab::{Fam, Lab, Proc, RCV_AS, SND_AS, proc_stats, run};
use crate::receivers::{start_frr, wait_until};

/// Which implementation sends.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
pub(crate) enum SenderKind {
    /// Our `inject` example.
    Inject,
    /// gobgpd + `gobgp mrt inject global`.
    Gobgp,
    /// BIRD 2 with static routes.
    Bird,
    /// FRR bgpd with `network` statements (+ zebra).
    Frr,
}

impl SenderKind {
    /// Display name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SenderKind::Inject => "inject (ours)",
            SenderKind::Gobgp => "GoBGP",
            SenderKind::Bird => "BIRD",
            SenderKind::Frr => "FRR",
        }
    }
}

/// A running sender.
pub(crate) struct Sender {
    /// Long-running processes whose peak RSS and CPU count.
    procs: Vec<Proc>,
    /// CPU seconds and peak RSS of helper processes that already exited
    /// (GoBGP's `gobgp mrt inject` client), measured by GNU time.
    helper_cpu: f64,
    helper_rss: u64,
}

/// Sender-side resource figures, read just before stopping it.
pub(crate) struct Usage {
    /// Sum of the processes' VmHWM, bytes.
    pub(crate) peak_rss: u64,
    /// Sum of utime + stime, seconds.
    pub(crate) cpu: f64,
}

const GOBGP_API: &str = "127.0.0.1:50051";

/// Writes an MRT TABLE_DUMP_V2 file (RFC 6396) with one RIB entry per
/// prefix: ORIGIN IGP, empty AS_PATH, next hop = the sender's address
/// (NEXT_HOP, or MP_REACH_NLRI without NLRI for IPv6).
pub(crate) fn write_mrt(path: &Path, fam: Fam, n: u64) -> anyhow::Result<()> {
    let f = std::fs::File::create(path)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    let rec = |w: &mut std::io::BufWriter<std::fs::File>,
               subtype: u16,
               body: &[u8]|
     -> anyhow::Result<()> {
        w.write_all(&0u32.to_be_bytes())?; // timestamp
        w.write_all(&13u16.to_be_bytes())?; // TABLE_DUMP_V2
        w.write_all(&subtype.to_be_bytes())?;
        w.write_all(&u32::try_from(body.len())?.to_be_bytes())?;
        w.write_all(body)?;
        Ok(())
    };
    // PEER_INDEX_TABLE: collector id, empty view name, one peer (AS4, IPv4 address).
    let mut b = Vec::new();
    b.extend_from_slice(&[10, 77, 0, 2]);
    b.extend_from_slice(&0u16.to_be_bytes());
    b.extend_from_slice(&1u16.to_be_bytes());
    b.push(0x02);
    b.extend_from_slice(&[10, 77, 0, 2]);
    b.extend_from_slice(&[10, 77, 0, 2]);
    b.extend_from_slice(&SND_AS.to_be_bytes());
    rec(&mut w, 1, &b)?;
    let snd6: std::net::Ipv6Addr = crate::lab::SND6.parse()?;
    let mut attrs = vec![0x40, 1, 1, 0, 0x40, 2, 0];
    match fam {
        Fam::V4 => attrs.extend_from_slice(&[0x40, 3, 4, 10, 77, 0, 2]),
        Fam::V6 => {
            // The full MP_REACH_NLRI (AFI 2, SAFI 1, next hop, reserved, no
            // NLRI): GoBGP 3.10 rejects RFC 6396's abbreviated form.
            attrs.extend_from_slice(&[0x80, 14, 21, 0, 2, 1, 16]);
            attrs.extend_from_slice(&snd6.octets());
            attrs.push(0);
        }
    }
    // GoBGP 3.10's `gobgp mrt inject` exits (closing its gRPC stream) before
    // gobgpd has taken the last few thousand paths, which are then lost.
    // Repeating the first prefixes at the end (the same paths again) keeps
    // the real ones out of that lost tail; the caller then checks that
    // gobgpd's RIB holds exactly N destinations before the session starts.
    let pad = n.min((n / 20).max(20_000));
    for seq in 0..n + pad {
        let i = if seq < n { seq } else { seq - n };
        b.clear();
        b.extend_from_slice(&u32::try_from(seq)?.to_be_bytes());
        let (addr, len) = fam.prefix(i);
        b.push(len);
        match addr {
            std::net::IpAddr::V4(a) => b.extend_from_slice(&a.octets()),
            std::net::IpAddr::V6(a) => b.extend_from_slice(&a.octets()),
        }
        b.extend_from_slice(&1u16.to_be_bytes());
        b.extend_from_slice(&0u16.to_be_bytes()); // peer index
        b.extend_from_slice(&0u32.to_be_bytes()); // originated
        b.extend_from_slice(&u16::try_from(attrs.len())?.to_be_bytes());
        b.extend_from_slice(&attrs);
        rec(&mut w, if fam == Fam::V4 { 2 } else { 4 }, &b)?;
    }
    w.flush()?;
    Ok(())
}

fn prefix_str(fam: Fam, i: u64) -> String {
    let (a, l) = fam.prefix(i);
    format!("{a}/{l}")
}

/// BIRD sender configuration: N static blackhole routes exported over eBGP.
pub(crate) fn bird_config(fam: Fam, n: u64) -> String {
    let ch = match fam {
        Fam::V4 => "ipv4",
        Fam::V6 => "ipv6",
    };
    let mut c = String::with_capacity(usize::try_from(n).unwrap_or(0) * 40 + 1024);
    let _ = write!(
        c,
        "router id {rid};\nlog stderr {{ warning, error, fatal, bug }};\nprotocol device {{ }}\nprotocol static st {{\n  {ch};\n",
        rid = crate::lab::SND4
    );
    for i in 0..n {
        let _ = writeln!(c, "  route {} blackhole;", prefix_str(fam, i));
    }
    let _ = write!(
        c,
        "}}\nprotocol bgp rcv {{\n  local {l} as {SND_AS};\n  neighbor {r} as {RCV_AS};\n  connect delay time 1;\n  connect retry time 1;\n  error wait time 1, 2;\n  hold time 90;\n  {ch} {{ import none; export all; }};\n}}\n",
        l = fam.snd(),
        r = fam.rcv()
    );
    c
}

/// FRR sender configuration: N `network` statements.
pub(crate) fn frr_config(fam: Fam, n: u64) -> String {
    let af = match fam {
        Fam::V4 => "ipv4",
        Fam::V6 => "ipv6",
    };
    let r = fam.rcv();
    let mut c = String::with_capacity(usize::try_from(n).unwrap_or(0) * 40 + 1024);
    let _ = write!(
        c,
        "frr defaults traditional\nhostname snd\nlog stdout warnings\n!\nrouter bgp {SND_AS}\n bgp router-id {rid}\n no bgp ebgp-requires-policy\n no bgp network import-check\n no bgp default ipv4-unicast\n neighbor {r} remote-as {RCV_AS}\n neighbor {r} timers connect 1\n neighbor {r} update-source {l}\n bgp coalesce-time 0\n !\n address-family {af} unicast\n",
        rid = crate::lab::SND4,
        l = fam.snd()
    );
    for i in 0..n {
        let _ = writeln!(c, "  network {}", prefix_str(fam, i));
    }
    let _ = write!(c, "  neighbor {r} activate\n exit-address-family\n!\n");
    c
}

/// GoBGP configuration: the neighbor starts administratively down.
pub(crate) fn gobgp_config(fam: Fam) -> String {
    let afi = match fam {
        Fam::V4 => "ipv4-unicast",
        Fam::V6 => "ipv6-unicast",
    };
    format!(
        "[global.config]\n  as = {SND_AS}\n  router-id = \"{rid}\"\n  port = -1\n\n\
         [[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{r}\"\n    peer-as = {RCV_AS}\n    admin-down = true\n\
         \x20 [neighbors.timers.config]\n    hold-time = 90\n    connect-retry = 1\n\
         \x20 [neighbors.transport.config]\n    local-address = \"{l}\"\n\
         \x20 [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{afi}\"\n",
        rid = crate::lab::SND4,
        r = fam.rcv(),
        l = fam.snd()
    )
}

/// Where to find or build the inputs senders need.
pub(crate) struct Inputs {
    /// The `inject` example binary.
    pub(crate) inject: PathBuf,
    /// Cache of MRT files (per family and N).
    pub(crate) cache: PathBuf,
}

impl Inputs {
    /// The MRT file for (fam, n), generated on first use.
    fn mrt(&self, fam: Fam, n: u64) -> anyhow::Result<PathBuf> {
        let p = self.cache.join(format!("routes-{fam:?}-{n}.mrt"));
        if !p.exists() {
            let tmp = p.with_extension("tmp");
            write_mrt(&tmp, fam, n)?;
            std::fs::rename(&tmp, &p)?;
        }
        Ok(p)
    }

    /// Generates what a run needs before the clock starts (MRT files).
    pub(crate) fn prepare(&self, kind: SenderKind, fam: Fam, n: u64) -> anyhow::Result<()> {
        if kind == SenderKind::Gobgp {
            self.mrt(fam, n)?;
        }
        Ok(())
    }
}

/// Runs a helper under GNU time in the sender namespace; returns (cpu s, max RSS bytes).
fn timed_helper(
    lab: &Lab,
    name: &str,
    argv: &[&str],
    timeout: Duration,
) -> anyhow::Result<(f64, u64)> {
    let tfile = lab.path(&format!("{name}.time"));
    let tf = tfile.to_string_lossy().into_owned();
    let mut v = vec!["/usr/bin/time", "-f", "%U %S %M", "-o", tf.as_str()];
    v.extend_from_slice(argv);
    let mut p = Proc::spawn(name, &lab.ns_snd, &v, &lab.path(&format!("{name}.log")))?;
    let t = std::time::Instant::now();
    while p.running() {
        if t.elapsed() > timeout {
            bail!("{name} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let log = std::fs::read_to_string(&p.log).unwrap_or_default();
    let times =
        std::fs::read_to_string(&tfile).with_context(|| format!("{name}: no timing ({log})"))?;
    let last = times.lines().last().unwrap_or_default();
    let f: Vec<&str> = last.split_whitespace().collect();
    let (Some(u), Some(s), Some(m)) = (f.first(), f.get(1), f.get(2)) else {
        bail!("{name} failed: {times} {log}");
    };
    if times.contains("exited with non-zero") {
        bail!("{name} failed: {times} {log}");
    }
    Ok((
        u.parse::<f64>()? + s.parse::<f64>()?,
        m.parse::<u64>()? * 1024,
    ))
}

impl Sender {
    /// Starts the sender (the caller's clock is already running).
    pub(crate) fn start(
        kind: SenderKind,
        lab: &Lab,
        fam: Fam,
        n: u64,
        inputs: &Inputs,
    ) -> anyhow::Result<Self> {
        let ns = lab.ns_snd.as_str();
        let mut s = Sender {
            procs: Vec::new(),
            helper_cpu: 0.0,
            helper_rss: 0,
        };
        match kind {
            SenderKind::Inject => {
                let inj = inputs.inject.to_string_lossy().into_owned();
                let count = n.to_string();
                let las = SND_AS.to_string();
                let pas = RCV_AS.to_string();
                let (prefix, len) = match fam {
                    Fam::V4 => ("100.64.0.0/10", "32"),
                    Fam::V6 => ("2001:db8::/32", "128"),
                };
                let mut argv = vec![
                    inj.as_str(),
                    "--local-asn",
                    &las,
                    "--peer",
                    fam.rcv(),
                    "--peer-asn",
                    &pas,
                    "--local-address",
                    fam.snd(),
                    "--router-id",
                    crate::lab::SND4,
                    "--count",
                    &count,
                    "--prefix",
                    prefix,
                    "--len",
                    len,
                ];
                if fam == Fam::V6 {
                    argv.push("--ipv6");
                }
                s.procs
                    .push(Proc::spawn("inject", ns, &argv, &lab.path("inject.log"))?);
            }
            SenderKind::Bird => {
                let conf = lab.path("snd-bird.conf");
                std::fs::write(&conf, bird_config(fam, n))?;
                let sock = lab.path("snd-bird.ctl");
                s.procs.push(Proc::spawn(
                    "sending bird",
                    ns,
                    &[
                        "bird",
                        "-f",
                        "-c",
                        &conf.to_string_lossy(),
                        "-s",
                        &sock.to_string_lossy(),
                        "-P",
                        &lab.path("snd-bird.pid").to_string_lossy(),
                    ],
                    &lab.path("snd-bird.log"),
                )?);
            }
            SenderKind::Frr => {
                let dir = lab.path("snd-frr");
                s.procs = start_frr(ns, &dir, &frr_config(fam, n), &[])?;
            }
            SenderKind::Gobgp => {
                let mrt = inputs.mrt(fam, n)?;
                let conf = lab.path("gobgpd.toml");
                std::fs::write(&conf, gobgp_config(fam))?;
                s.procs.push(Proc::spawn(
                    "gobgpd",
                    ns,
                    &[
                        "gobgpd",
                        "-f",
                        &conf.to_string_lossy(),
                        "-t",
                        "toml",
                        "-p",
                        "-l",
                        "warn",
                        "--api-hosts",
                        GOBGP_API,
                        "--pprof-disable",
                    ],
                    &lab.path("gobgpd.log"),
                )?);
                let ns_owned = ns.to_owned();
                wait_until("gobgpd API", Duration::from_secs(30), &mut s.procs, || {
                    Ok(run(&["ip", "netns", "exec", &ns_owned, "gobgp", "global"]).is_ok())
                })?;
                let (cpu, rss) = timed_helper(
                    lab,
                    "gobgp-mrt-inject",
                    &["gobgp", "mrt", "inject", "global", &mrt.to_string_lossy()],
                    Duration::from_secs(600),
                )?;
                s.helper_cpu += cpu;
                s.helper_rss += rss;
                let afi = match fam {
                    Fam::V4 => "ipv4",
                    Fam::V6 => "ipv6",
                };
                let want = format!("Destination: {n},");
                let ns_owned = ns.to_owned();
                wait_until(
                    "all N paths in gobgpd's RIB",
                    Duration::from_secs(120),
                    &mut s.procs,
                    || {
                        let out = run(&[
                            "ip", "netns", "exec", &ns_owned, "gobgp", "global", "rib", "summary",
                            "-a", afi,
                        ])?;
                        Ok(out.contains(&want))
                    },
                )?;
                let (cpu, rss) = timed_helper(
                    lab,
                    "gobgp-neighbor-enable",
                    &["gobgp", "neighbor", fam.rcv(), "enable"],
                    Duration::from_secs(30),
                )?;
                s.helper_cpu += cpu;
                s.helper_rss = s.helper_rss.max(rss);
            }
        }
        Ok(s)
    }

    /// Fails if a sender process has exited.
    pub(crate) fn check(&mut self) -> anyhow::Result<()> {
        for p in &mut self.procs {
            p.check()?;
        }
        Ok(())
    }

    /// Peak RSS and CPU time, summed over the sender's processes.
    pub(crate) fn usage(&self, clk_tck: f64) -> anyhow::Result<Usage> {
        let mut u = Usage {
            peak_rss: self.helper_rss,
            cpu: self.helper_cpu,
        };
        for p in &self.procs {
            let (rss, cpu) = proc_stats(p.pid(), clk_tck).with_context(|| p.name.clone())?;
            u.peak_rss += rss;
            u.cpu += cpu;
        }
        Ok(u)
    }

    /// Stops the sender (SIGTERM, SIGKILL after 5 s).
    pub(crate) fn stop(&mut self) {
        for p in self.procs.iter_mut().rev() {
            p.stop(Duration::from_secs(5));
        }
    }
}
