//! Part 2: failure detection with hold 3 s / keepalive 1 s.
//!
//! ```text
//!   lb-<pid>-n1: inject node-1 (AS 64601, 10.77.1.2) ──veth── ┐
//!                announces S1 = 198.51.100.0/32, S2 = .1/32   │  lb-<pid>-r: BIRD router (AS 64700)
//!   lb-<pid>-n2: inject node-2 (AS 64602, 10.77.2.2) ──veth── ┤  hold 3 s / keepalive 1 s to the nodes,
//!                announces S2 = 198.51.100.1/32               │  exports the best path to the observer
//!   lb-<pid>-c:  observer (raw BGP receiver thread, AS 64800) ┘  10.77.3.2, timestamps each UPDATE
//! ```
//!
//! MetalLB-like: both nodes announce the service address S2; S1 exists only on
//! node-1. BIRD prefers node-1's path (lower router id). Cutting node-1's link
//! must make the router withdraw S1 and switch S2 to node-2; the observer (a
//! *different* peer of the router) timestamps both UPDATEs. Nothing else
//! detects the cut: BIRD runs with `check link off` and the default cut is a
//! silent black hole (a `pfifo limit 0` root qdisc on both ends of node-1's
//! link: every packet in either direction is dropped, the carrier stays up),
//! so only the hold timer can end the session. `--cut link-down` instead sets
//! node-1's interface down (the router's end loses carrier).
//!
//! Per cut, the time from just before the cut command to:
//! - the router's hold-timer expiry and flush, from BIRD's log (millisecond
//!   timestamps);
//! - S1's withdrawal at the observer, and S2's switch to node-2, each as
//!   user-space arrival and kernel receive timestamp.
//!
//! After restoring the link: the time until node-1's paths are back.

use std::collections::HashMap;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use benches::cmd::run as sh;
use ipnet::IpNet;

use crate::receiver::{self, ReceiverConfig, Report};
use crate::stats::{median, ms};

/// How node-1's link is cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Cut {
    /// Drop every packet in both directions; carrier stays up.
    Blackhole,
    /// `ip link set eth0 down` in node-1's namespace (the router's end loses carrier).
    LinkDown,
}

/// Settings of the failure-detection run.
#[derive(Debug)]
pub(crate) struct FailureConfig {
    pub(crate) runs: usize,
    pub(crate) hold: u64,
    pub(crate) inject: PathBuf,
    pub(crate) keep: bool,
    pub(crate) cuts: Vec<Cut>,
}

const NODE1_AS: u32 = 64601;
const NODE2_AS: u32 = 64602;
const ROUTER_AS: u32 = 64700;
const OBSERVER_AS: u32 = 64800;

/// Namespaces, processes and files of one lab; removed on drop.
struct Lab {
    base: String,
    dir: PathBuf,
    children: Vec<(String, Child)>,
    keep: bool,
}

impl Lab {
    fn ns(&self, name: &str) -> String {
        format!("{}-{name}", self.base)
    }

    fn new(keep: bool) -> anyhow::Result<Self> {
        let base = format!("lb-{}", std::process::id());
        let dir = std::env::temp_dir().join(&base);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let lab = Self {
            base,
            dir,
            children: Vec::new(),
            keep,
        };
        let r = lab.ns("r");
        for n in ["r", "n1", "n2", "c"] {
            sh(&["ip", "netns", "add", &lab.ns(n)])?;
            sh(&["ip", "-n", &lab.ns(n), "link", "set", "lo", "up"])?;
        }
        // Router side interface name = peer name; peer side is eth0.
        for (n, i) in [("n1", 1), ("n2", 2), ("c", 3)] {
            let ns = lab.ns(n);
            sh(&[
                "ip", "-n", &r, "link", "add", n, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ])?;
            sh(&[
                "ip",
                "-n",
                &r,
                "addr",
                "add",
                &format!("10.77.{i}.1/24"),
                "dev",
                n,
            ])?;
            sh(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("10.77.{i}.2/24"),
                "dev",
                "eth0",
            ])?;
            sh(&["ip", "-n", &r, "link", "set", n, "up"])?;
            sh(&["ip", "-n", &ns, "link", "set", "eth0", "up"])?;
        }
        Ok(lab)
    }

    fn spawn(&mut self, name: &str, ns: &str, argv: &[&str]) -> anyhow::Result<()> {
        let log = File::create(self.dir.join(format!("{name}.log")))?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("start {name}"))?;
        eprintln!("started {name} (pid {})", child.id());
        self.children.push((name.to_owned(), child));
        Ok(())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (name, c) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
            eprintln!("stopped {name}");
        }
        for n in ["r", "n1", "n2", "c"] {
            let _ = sh(&["ip", "netns", "del", &self.ns(n)]);
        }
        if self.keep {
            eprintln!("logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn bird_conf(hold: u64, log: &Path) -> String {
    let keepalive = (hold / 3).max(1);
    let mut c = format!(
        "router id 10.77.0.1;\n\
         log \"{}\" all;\n\
         timeformat log iso long ms;\n\
         debug protocols {{ states, events }};\n\
         protocol device {{ scan time 10; }}\n",
        log.display()
    );
    for (name, i, asn) in [("node1", 1, NODE1_AS), ("node2", 2, NODE2_AS)] {
        c += &format!(
            "protocol bgp {name} {{\n  local 10.77.{i}.1 as {ROUTER_AS};\n  neighbor 10.77.{i}.2 as {asn};\n  \
             hold time {hold};\n  keepalive time {keepalive};\n  connect retry time 1;\n  error wait time 1, 2;\n  \
             # only the hold timer may detect the cut\n  check link off;\n  ipv4 {{ import all; export none; }};\n}}\n"
        );
    }
    c += &format!(
        "protocol bgp observer {{\n  local 10.77.3.1 as {ROUTER_AS};\n  neighbor 10.77.3.2 as {OBSERVER_AS};\n  \
         connect retry time 1;\n  ipv4 {{ import none; export all; }};\n}}\n"
    );
    c
}

/// What the observer currently has: prefix → origin AS.
type Rib = HashMap<IpNet, u32>;

/// The first observer UPDATEs after a cut.
#[derive(Debug, Default)]
struct Seen {
    s1_withdrawn: Option<(Instant, Option<SystemTime>)>,
    s2_node2: Option<(Instant, Option<SystemTime>)>,
}

fn apply(
    rib: &mut Rib,
    r: &Report,
    seen: Option<&mut Seen>,
    s1: IpNet,
    s2: IpNet,
) -> anyhow::Result<()> {
    match r {
        Report::Route {
            prefix,
            withdrawn,
            origin_as,
            user,
            kernel,
            ..
        } => {
            if *withdrawn {
                rib.remove(prefix);
            } else if let Some(o) = origin_as {
                rib.insert(*prefix, *o);
            }
            if let Some(seen) = seen {
                if *prefix == s1 && *withdrawn && seen.s1_withdrawn.is_none() {
                    seen.s1_withdrawn = Some((*user, *kernel));
                }
                if *prefix == s2
                    && !*withdrawn
                    && *origin_as == Some(NODE2_AS)
                    && seen.s2_node2.is_none()
                {
                    seen.s2_node2 = Some((*user, *kernel));
                }
            }
        }
        Report::Down { why, .. } => bail!("observer session down: {why}"),
        _ => {}
    }
    Ok(())
}

/// Pumps observer reports until `done(rib)` or the timeout.
fn wait_rib(
    rx: &mpsc::Receiver<Report>,
    rib: &mut Rib,
    timeout: Duration,
    what: &str,
    s1: IpNet,
    s2: IpNet,
    done: impl Fn(&Rib) -> bool,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    while !done(rib) {
        let left = timeout.saturating_sub(start.elapsed());
        match rx.recv_timeout(left) {
            Ok(r) => apply(rib, &r, None, s1, s2)?,
            Err(_) => bail!("timeout after {timeout:?} waiting for {what}; observer has {rib:?}"),
        }
    }
    Ok(start.elapsed())
}

/// Parses "YYYY-MM-DD HH:MM:SS.mmm" (UTC) into a SystemTime.
fn parse_bird_time(s: &str) -> Option<SystemTime> {
    let b = s.get(..23)?;
    let num = |r: std::ops::Range<usize>| b.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se, mil) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se;
    Some(
        UNIX_EPOCH
            + Duration::from_secs(u64::try_from(secs).ok()?)
            + Duration::from_millis(u64::try_from(mil).ok()?),
    )
}

/// The first BIRD log line about node1 matching `is_event` at or after `since`.
fn bird_event(
    log: &Path,
    since: SystemTime,
    is_event: impl Fn(&str) -> bool,
) -> Option<(SystemTime, String)> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .filter(|l| l.contains("node1:"))
        .filter(|l| is_event(l))
        .filter_map(|l| {
            Some((
                parse_bird_time(l)?,
                l.get(24..).unwrap_or(l).trim().to_owned(),
            ))
        })
        // BIRD logs with millisecond resolution: allow the truncation.
        .find(|(t, _)| *t + Duration::from_millis(1) >= since)
}

struct Sample {
    cut: Cut,
    cut_cmd: Duration,
    bird: Option<(Duration, String)>,
    bird_down: Option<Duration>,
    s1_user: Duration,
    s1_kernel: Option<Duration>,
    s2_user: Duration,
    s2_kernel: Option<Duration>,
    restore: Duration,
}

fn cut_link(lab: &Lab, cut: Cut, on: bool) -> anyhow::Result<()> {
    let n1 = lab.ns("n1");
    let r = lab.ns("r");
    match (cut, on) {
        (Cut::Blackhole, true) => {
            sh(&[
                "ip", "netns", "exec", &n1, "tc", "qdisc", "add", "dev", "eth0", "root", "pfifo",
                "limit", "0",
            ])?;
            sh(&[
                "ip", "netns", "exec", &r, "tc", "qdisc", "add", "dev", "n1", "root", "pfifo",
                "limit", "0",
            ])?;
        }
        (Cut::Blackhole, false) => {
            sh(&[
                "ip", "netns", "exec", &n1, "tc", "qdisc", "del", "dev", "eth0", "root",
            ])?;
            sh(&[
                "ip", "netns", "exec", &r, "tc", "qdisc", "del", "dev", "n1", "root",
            ])?;
        }
        (Cut::LinkDown, true) => {
            sh(&["ip", "-n", &n1, "link", "set", "eth0", "down"])?;
        }
        (Cut::LinkDown, false) => {
            sh(&["ip", "-n", &n1, "link", "set", "eth0", "up"])?;
        }
    }
    Ok(())
}

/// Builds the lab, measures `runs` cuts per cut mode and returns the report.
pub(crate) fn run(cfg: &FailureConfig) -> anyhow::Result<String> {
    if !cfg.inject.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p bgp-session --example inject` or pass --inject",
            cfg.inject.display()
        );
    }
    let inject = cfg.inject.to_string_lossy().into_owned();
    let mut lab = Lab::new(cfg.keep)?;
    let s1: IpNet = "198.51.100.0/32".parse()?;
    let s2: IpNet = "198.51.100.1/32".parse()?;

    // Observer first (BIRD connects to it).
    let (tx, rx) = mpsc::channel();
    receiver::spawn(
        ReceiverConfig {
            peer: 0,
            listen: "10.77.3.2:179".parse()?,
            local_as: OBSERVER_AS,
            router_id: Ipv4Addr::new(10, 77, 3, 2),
            hold: 90,
            probe: "198.51.100.0/24".parse()?,
            netns: Some(lab.ns("c")),
        },
        tx,
    )?;
    let bird_log = lab.dir.join("bird-events.log");
    let conf = lab.dir.join("bird.conf");
    std::fs::write(&conf, bird_conf(cfg.hold, &bird_log))?;
    let conf_s = conf.to_string_lossy().into_owned();
    let sock = lab.dir.join("bird.ctl").to_string_lossy().into_owned();
    let r = lab.ns("r");
    lab.spawn("bird", &r, &["bird", "-f", "-c", &conf_s, "-s", &sock])?;
    let hold = cfg.hold.to_string();
    for (name, ns, asn, i, prefix) in [
        ("node-1", lab.ns("n1"), NODE1_AS, 1, "198.51.100.0/31"),
        ("node-2", lab.ns("n2"), NODE2_AS, 2, "198.51.100.1/32"),
    ] {
        let count = if i == 1 { "2" } else { "1" };
        let local = format!("10.77.{i}.2");
        let peer = format!("10.77.{i}.1");
        lab.spawn(
            name,
            &ns,
            &[
                &inject,
                "--local-asn",
                &asn.to_string(),
                "--peer",
                &peer,
                "--peer-asn",
                &ROUTER_AS.to_string(),
                "--local-address",
                &local,
                "--router-id",
                &local,
                "--prefix",
                prefix,
                "--len",
                "32",
                "--count",
                count,
                "--hold",
                &hold,
                "--idle-hold",
                "0",
                "--connect-retry",
                "1",
            ],
        )?;
    }
    let mut rib = Rib::new();
    let steady = |rib: &Rib| rib.get(&s1) == Some(&NODE1_AS) && rib.get(&s2) == Some(&NODE1_AS);
    let t = wait_rib(
        &rx,
        &mut rib,
        Duration::from_secs(60),
        "S1 and S2 via node-1 at the observer",
        s1,
        s2,
        steady,
    )?;
    eprintln!("lab ready after {:.1} s", t.as_secs_f64());

    let mut rng = 0x2545_F491_4F6C_DD1Du64 ^ u64::from(std::process::id());
    let mut samples = Vec::new();
    for cut in &cfg.cuts {
        for run in 0..cfg.runs {
            // Settle, and randomise the cut's phase against the 1 s keepalives.
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            std::thread::sleep(Duration::from_millis(2000 + rng % 1000));
            // Drain anything pending so `seen` only holds post-cut UPDATEs.
            while let Ok(r) = rx.try_recv() {
                apply(&mut rib, &r, None, s1, s2)?;
            }
            if !steady(&rib) {
                bail!("not in steady state before cut {run}: {rib:?}");
            }
            let (t_cut, w_cut) = (Instant::now(), SystemTime::now());
            cut_link(&lab, *cut, true)?;
            let cut_cmd = t_cut.elapsed();
            let mut seen = Seen::default();
            let limit = Duration::from_secs(cfg.hold * 3 + 10);
            while seen.s1_withdrawn.is_none() || seen.s2_node2.is_none() {
                let left = limit.saturating_sub(t_cut.elapsed());
                match rx.recv_timeout(left) {
                    Ok(r) => apply(&mut rib, &r, Some(&mut seen), s1, s2)?,
                    Err(_) => {
                        let _ = cut_link(&lab, *cut, false);
                        bail!(
                            "cut {run} ({cut:?}): no withdrawal/failover at the observer within {limit:?}; seen {seen:?}"
                        )
                    }
                }
            }
            // BIRD writes its log line right away; give the file a moment.
            std::thread::sleep(Duration::from_millis(100));
            // Detection: BIRD's first error or stop for node1; flush: the
            // protocol is "Down" and its routes leave the table.
            let bird = bird_event(&bird_log, w_cut, |l| {
                l.contains("Error") || l.contains("State changed to stop")
            })
            .map(|(t, line)| (t.duration_since(w_cut).unwrap_or_default(), line));
            let bird_down = bird_event(&bird_log, w_cut, |l| l.ends_with("node1: Down"))
                .map(|(t, _)| t.duration_since(w_cut).unwrap_or_default());
            let (s1u, s1k) = seen.s1_withdrawn.unwrap_or((t_cut, None));
            let (s2u, s2k) = seen.s2_node2.unwrap_or((t_cut, None));
            cut_link(&lab, *cut, false)?;
            let restore = wait_rib(
                &rx,
                &mut rib,
                Duration::from_secs(60),
                "node-1 paths back after restore",
                s1,
                s2,
                steady,
            )?;
            let s = Sample {
                cut: *cut,
                cut_cmd,
                bird,
                bird_down,
                s1_user: s1u.saturating_duration_since(t_cut),
                s1_kernel: s1k.and_then(|k| k.duration_since(w_cut).ok()),
                s2_user: s2u.saturating_duration_since(t_cut),
                s2_kernel: s2k.and_then(|k| k.duration_since(w_cut).ok()),
                restore,
            };
            eprintln!(
                "cut {} ({cut:?}): BIRD {:?}, S1 withdrawn {} ms, S2 → node-2 {} ms, back {} ms",
                run + 1,
                s.bird.as_ref().map(|b| ms(b.0)),
                ms(s.s1_user),
                ms(s.s2_user),
                ms(s.restore)
            );
            samples.push(s);
        }
    }
    Ok(report(cfg, &samples))
}

fn opt_ms(d: Option<Duration>) -> String {
    d.map(ms).unwrap_or_else(|| "n/a".into())
}

fn report(cfg: &FailureConfig, samples: &[Sample]) -> String {
    let mut out = format!(
        "Failure detection: hold {} s / keepalive {} s on both ends of node-1 ↔ router; times from just before the cut command, ms.\n\n",
        cfg.hold,
        (cfg.hold / 3).max(1)
    );
    out += "| cut | run | router detects (BIRD log) | router flushes (BIRD \"Down\") | S1 withdrawn at observer | (kernel rx) | S2 failover to node-2 at observer | (kernel rx) | cut command | node-1 paths back after restore | BIRD's reason |\n";
    out += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
    for cut in &cfg.cuts {
        let rows: Vec<&Sample> = samples.iter().filter(|s| s.cut == *cut).collect();
        for (i, s) in rows.iter().enumerate() {
            out += &format!(
                "| {cut:?} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                i + 1,
                opt_ms(s.bird.as_ref().map(|b| b.0)),
                opt_ms(s.bird_down),
                ms(s.s1_user),
                opt_ms(s.s1_kernel),
                ms(s.s2_user),
                opt_ms(s.s2_kernel),
                ms(s.cut_cmd),
                ms(s.restore),
                s.bird.as_ref().map(|b| b.1.as_str()).unwrap_or("")
            );
        }
        if !rows.is_empty() {
            let med = |f: &dyn Fn(&Sample) -> Option<Duration>| -> String {
                let v: Vec<Duration> = rows.iter().filter_map(|s| f(s)).collect();
                if v.is_empty() {
                    "n/a".into()
                } else {
                    ms(median(&v))
                }
            };
            out += &format!(
                "| {cut:?} | **median** | {} | {} | {} | {} | {} | {} | {} | {} | |\n",
                med(&|s| s.bird.as_ref().map(|b| b.0)),
                med(&|s| s.bird_down),
                med(&|s| Some(s.s1_user)),
                med(&|s| s.s1_kernel),
                med(&|s| Some(s.s2_user)),
                med(&|s| s.s2_kernel),
                med(&|s| Some(s.cut_cmd)),
                med(&|s| Some(s.restore)),
            );
        }
    }
    out
}
