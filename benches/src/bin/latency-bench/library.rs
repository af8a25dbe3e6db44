//! Part 1: `Speaker::announce()` / `withdraw()` to the UPDATE at the peers.
//!
//! ```text
//!  main thread ── announce()/withdraw() ──► Speaker (tokio runtime, N worker threads)
//!       ▲                                        │ TCP on 127.0.0.1, one session per receiver
//!       └── std mpsc ◄── receiver threads (one blocking OS thread per peer, recvmsg + SO_TIMESTAMPNS)
//! ```

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use bgp_session::{ConnectMode, PeerConfig, Peers, RemoteAs, Route, Speaker};
use ipnet::{IpNet, Ipv4Net};

use crate::receiver::{self, ReceiverConfig, Report};
use crate::stats::{Summary, ms};

/// Settings of one library-latency run.
#[derive(Clone, Debug)]
pub(crate) struct LibConfig {
    pub(crate) peers: usize,
    pub(crate) samples: usize,
    pub(crate) routes: usize,
    pub(crate) burst: usize,
    pub(crate) spacing: Duration,
    pub(crate) threads: usize,
    pub(crate) timeout: Duration,
    pub(crate) warmup: usize,
}

/// Latencies of one (mode, op) series.
#[derive(Debug, Default)]
pub(crate) struct Series {
    /// Per op: time until the last peer had it (user-space arrival).
    pub(crate) last_user: Vec<Duration>,
    /// Per op: time until the last peer's kernel received it.
    pub(crate) last_kernel: Vec<Duration>,
    /// Per op and peer (user-space arrival).
    pub(crate) peer_user: Vec<Duration>,
    /// Per op and peer (kernel receive timestamp).
    pub(crate) peer_kernel: Vec<Duration>,
    /// Duration of the `announce()` / `withdraw()` call itself.
    pub(crate) call: Vec<Duration>,
    /// Kernel timestamps that were missing or earlier than the call.
    pub(crate) kernel_missing: usize,
    /// CPU time of the speaker's runtime threads over the measured ops.
    pub(crate) speaker_cpu: Duration,
}

/// Results of one run (one peer count).
#[derive(Debug)]
pub(crate) struct LibResult {
    pub(crate) peers: usize,
    pub(crate) routes: usize,
    /// Keyed by (mode, op): ("spaced" | "burst", "announce" | "withdraw").
    pub(crate) series: Vec<((&'static str, &'static str), Series)>,
    pub(crate) setup: Duration,
}

/// The i-th probe prefix: 198.18.0.0/15 holds 131072 /32s.
fn probe(i: usize) -> IpNet {
    let base = u32::from(Ipv4Addr::new(198, 18, 0, 0));
    let off = u32::try_from(i % 131_072).unwrap_or(0);
    IpNet::V4(Ipv4Net::new(Ipv4Addr::from(base + off), 32).unwrap())
}

/// Installed routes: /32s from 100.64.0.0/10.
fn installed(i: usize) -> IpNet {
    let base = u32::from(Ipv4Addr::new(100, 64, 0, 0));
    IpNet::V4(Ipv4Net::new(Ipv4Addr::from(base + u32::try_from(i).unwrap()), 32).unwrap())
}

/// A tiny xorshift generator for spacing jitter.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, max).
    fn below(&mut self, max: Duration) -> Duration {
        let n = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX).max(1);
        Duration::from_nanos(self.next() % n)
    }
}

/// The speaker's tokio worker threads (`/proc/self/task/*`): `tokio-rt-worker`
/// in current tokio, `tokio-runtime-w…` (truncated) in older ones.
fn speaker_threads() -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    rd.flatten()
        .map(|t| t.path())
        .filter(|t| {
            std::fs::read_to_string(t.join("comm"))
                .is_ok_and(|c| c.starts_with("tokio-rt") || c.starts_with("tokio-runtime"))
        })
        .collect()
}

/// CPU time (ns) used so far by `threads`: user + system time from
/// `/proc/self/task/*/stat` (clock ticks; `schedstat`'s run time reads 0 on
/// kernels without schedstats, as on the measuring machine). Tick resolution
/// (10 ms) is coarse for one op, so only the mean over a series means much.
fn speaker_cpu_ns(threads: &[std::path::PathBuf]) -> u64 {
    let hz = clk_tck();
    threads
        .iter()
        .filter_map(|t| {
            let stat = std::fs::read_to_string(t.join("stat")).ok()?;
            // Fields after the command name, which is in parentheses and may
            // hold spaces: state is field 3, utime 14, stime 15.
            let rest = stat.rsplit_once(')')?.1;
            let mut f = rest.split_whitespace().skip(11);
            let utime: u64 = f.next()?.parse().ok()?;
            let stime: u64 = f.next()?.parse().ok()?;
            Some((utime + stime) * 1_000_000_000 / hz)
        })
        .sum()
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 if unknown), read once.
fn clk_tck() -> u64 {
    static HZ: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK);
        hz.ok()
            .flatten()
            .and_then(|h| u64::try_from(h).ok())
            .filter(|h| *h > 0)
            .unwrap_or(100)
    })
}

struct Op {
    t0: Instant,
    w0: SystemTime,
    arrivals: Vec<Option<(Instant, Option<SystemTime>)>>,
    left: usize,
}

/// Starts receivers and a speaker, installs the routes, runs the spaced and
/// burst series and returns the latencies.
pub(crate) fn run(cfg: &LibConfig) -> anyhow::Result<LibResult> {
    let setup_start = Instant::now();
    let (tx, rx) = mpsc::channel::<Report>();
    let probe_range: IpNet = "198.18.0.0/15".parse()?;
    let mut addrs: Vec<SocketAddr> = Vec::with_capacity(cfg.peers);
    for peer in 0..cfg.peers {
        let a = receiver::spawn(
            ReceiverConfig {
                peer,
                listen: "127.0.0.1:0".parse()?,
                local_as: 64513,
                router_id: Ipv4Addr::new(10, 1, (peer / 250) as u8, (peer % 250) as u8 + 1),
                hold: 90,
                probe: probe_range,
                netns: None,
            },
            tx.clone(),
        )
        .context("start receiver")?;
        addrs.push(a);
    }
    drop(tx);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads)
        .enable_all()
        .build()?;
    let _guard = rt.enter();
    let speaker = Speaker::new();
    speaker.set_routes((0..cfg.routes).map(|i| (Route::new(installed(i)), Peers::All)));
    for a in &addrs {
        let mut pc = PeerConfig::new(*a, 64512, RemoteAs::Asn(64513), Ipv4Addr::new(192, 0, 2, 1));
        pc.mode = ConnectMode::Active;
        pc.connect_retry = Duration::from_secs(1);
        speaker.add_peer(pc)?;
    }
    // Wait until every receiver has the installed table (End-of-RIB).
    let mut synced = vec![false; cfg.peers];
    let deadline = Instant::now() + Duration::from_secs(120);
    while synced.iter().any(|s| !s) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Report::EndOfRib { peer }) => synced[peer] = true,
            Ok(Report::Down { peer, why }) => bail!("receiver {peer} down during setup: {why}"),
            Ok(_) => {}
            Err(_) => bail!(
                "only {} of {} peers received End-of-RIB within 120 s",
                synced.iter().filter(|s| **s).count(),
                cfg.peers
            ),
        }
    }
    let setup = setup_start.elapsed();
    eprintln!(
        "{} peer(s) in sync with {} routes after {:.2} s",
        cfg.peers,
        cfg.routes,
        setup.as_secs_f64()
    );

    let threads = speaker_threads();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ cfg.peers as u64);
    let mut spaced_a = Series::default();
    let mut spaced_w = Series::default();
    let mut next = 0usize;
    // Warm-up ops (not recorded), then the measured spaced series.
    for i in 0..(cfg.warmup + cfg.samples) {
        let p = probe(next);
        next += 1;
        for withdraw in [false, true] {
            let mut ops = HashMap::new();
            let cpu0 = speaker_cpu_ns(&threads);
            let call = issue(&speaker, p, withdraw, cfg.peers, &mut ops);
            collect(&rx, &mut ops, cfg.timeout)?;
            let cpu = Duration::from_nanos(speaker_cpu_ns(&threads).saturating_sub(cpu0));
            if i >= cfg.warmup {
                let s = if withdraw {
                    &mut spaced_w
                } else {
                    &mut spaced_a
                };
                record(s, ops.into_values(), &[call]);
                s.speaker_cpu += cpu;
            }
            std::thread::sleep(cfg.spacing + rng.below(cfg.spacing));
        }
    }

    // Bursts: `burst` calls back to back, then wait for all of them.
    let mut burst_a = Series::default();
    let mut burst_w = Series::default();
    let rounds = cfg.samples.div_ceil(cfg.burst.max(1));
    for _ in 0..rounds {
        let prefixes: Vec<IpNet> = (0..cfg.burst)
            .map(|_| {
                next += 1;
                probe(next)
            })
            .collect();
        for withdraw in [false, true] {
            let mut ops = HashMap::new();
            let mut calls = Vec::with_capacity(prefixes.len());
            let cpu0 = speaker_cpu_ns(&threads);
            for p in &prefixes {
                calls.push(issue(&speaker, *p, withdraw, cfg.peers, &mut ops));
            }
            collect(&rx, &mut ops, cfg.timeout)?;
            let cpu = Duration::from_nanos(speaker_cpu_ns(&threads).saturating_sub(cpu0));
            let s = if withdraw { &mut burst_w } else { &mut burst_a };
            record(s, ops.into_values(), &calls);
            s.speaker_cpu += cpu;
            std::thread::sleep(cfg.spacing * 4 + rng.below(cfg.spacing));
        }
    }
    rt.block_on(speaker.shutdown(Some("latency-bench done".into()), false));
    drop(_guard);
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(LibResult {
        peers: cfg.peers,
        routes: cfg.routes,
        series: vec![
            (("spaced", "announce"), spaced_a),
            (("spaced", "withdraw"), spaced_w),
            (("burst", "announce"), burst_a),
            (("burst", "withdraw"), burst_w),
        ],
        setup,
    })
}

/// Announces or withdraws `p` at every peer, records the op (its start on
/// both clocks) in `ops` and returns how long the call itself took.
fn issue(
    speaker: &Speaker,
    p: IpNet,
    withdraw: bool,
    peers: usize,
    ops: &mut HashMap<(IpNet, bool), Op>,
) -> Duration {
    let (t0, w0) = (Instant::now(), SystemTime::now());
    if withdraw {
        speaker.withdraw(p);
    } else {
        speaker.announce(Route::new(p), Peers::All);
    }
    let call = t0.elapsed();
    ops.insert(
        (p, withdraw),
        Op {
            t0,
            w0,
            arrivals: vec![None; peers],
            left: peers,
        },
    );
    call
}

/// Waits until every op in `ops` reached every peer.
fn collect(
    rx: &mpsc::Receiver<Report>,
    ops: &mut HashMap<(IpNet, bool), Op>,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut left: usize = ops.values().map(|o| o.left).sum();
    while left > 0 {
        let wait = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Report::Route {
                peer,
                prefix,
                withdrawn,
                user,
                kernel,
                ..
            }) => {
                if let Some(op) = ops.get_mut(&(prefix, withdrawn))
                    && let Some(slot) = op.arrivals.get_mut(peer)
                    && slot.is_none()
                {
                    *slot = Some((user, kernel));
                    op.left -= 1;
                    left -= 1;
                }
            }
            Ok(Report::Down { peer, why }) => bail!("receiver {peer} went down: {why}"),
            Ok(_) => {}
            Err(_) => {
                let missing: Vec<String> = ops
                    .iter()
                    .filter(|(_, o)| o.left > 0)
                    .take(5)
                    .map(|((p, w), o)| {
                        format!(
                            "{} {p} missing at {} peer(s)",
                            if *w { "withdraw" } else { "announce" },
                            o.left
                        )
                    })
                    .collect();
                bail!(
                    "UPDATE never arrived within {} ms: {}",
                    timeout.as_millis(),
                    missing.join("; ")
                );
            }
        }
    }
    Ok(())
}

fn record(s: &mut Series, ops: impl Iterator<Item = Op>, calls: &[Duration]) {
    s.call.extend_from_slice(calls);
    for op in ops {
        let mut last_u = Duration::ZERO;
        let mut last_k = Some(Duration::ZERO);
        for (u, k) in op.arrivals.into_iter().flatten() {
            let du = u.saturating_duration_since(op.t0);
            last_u = last_u.max(du);
            s.peer_user.push(du);
            match k.and_then(|k| k.duration_since(op.w0).ok()) {
                Some(dk) => {
                    s.peer_kernel.push(dk);
                    last_k = last_k.map(|l| l.max(dk));
                }
                None => {
                    s.kernel_missing += 1;
                    last_k = None;
                }
            }
        }
        s.last_user.push(last_u);
        if let Some(k) = last_k {
            s.last_kernel.push(k);
        }
    }
}

/// Markdown tables for all runs.
pub(crate) fn report(results: &[LibResult], cfg_line: &str) -> String {
    let mut out = String::new();
    out += &format!("Settings: {cfg_line}\n\n");
    out += "Time from the call to the UPDATE at the **last** peer, user-space arrival at the receiver (upper bound of \"leaving the socket\"), ms:\n\n";
    out += "| peers | routes | mode | op | ops | p50 | p90 | p99 | max | p99 < 10 ms |\n|---:|---:|---|---|---:|---:|---:|---:|---:|---|\n";
    for r in results {
        for ((mode, op), s) in &r.series {
            let sum = Summary::of(&s.last_user);
            out += &format!(
                "| {} | {} | {mode} | {op} | {} | {} | {} |\n",
                r.peers,
                r.routes,
                sum.n,
                sum.cells(),
                if sum.p99 < Duration::from_millis(10) {
                    "yes"
                } else {
                    "**no**"
                }
            );
        }
    }
    out += "\nSame, kernel receive timestamp of the receiving socket (`SO_TIMESTAMPNS`: when the segment passed the receiver's network stack, before the receiver thread ran), ms:\n\n";
    out += "| peers | mode | op | ops | p50 | p90 | p99 | max | missing ts |\n|---:|---|---|---:|---:|---:|---:|---:|---:|\n";
    for r in results {
        for ((mode, op), s) in &r.series {
            let sum = Summary::of(&s.last_kernel);
            out += &format!(
                "| {} | {mode} | {op} | {} | {} | {} |\n",
                r.peers,
                sum.n,
                sum.cells(),
                s.kernel_missing
            );
        }
    }
    if results.iter().any(|r| r.peers > 1) {
        out += "\nPer-peer distribution (every op × every peer), ms:\n\n";
        out += "| peers | mode | op | samples | user p50 | p90 | p99 | max | kernel p50 | p90 | p99 | max |\n|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
        for r in results.iter().filter(|r| r.peers > 1) {
            for ((mode, op), s) in &r.series {
                let u = Summary::of(&s.peer_user);
                let k = Summary::of(&s.peer_kernel);
                out += &format!(
                    "| {} | {mode} | {op} | {} | {} | {} |\n",
                    r.peers,
                    u.n,
                    u.cells(),
                    k.cells()
                );
            }
        }
    }
    out += "\nDuration of the `announce()` / `withdraw()` call itself (table update + one command per peer), ms, and CPU time of the speaker's runtime threads per op (all peers; mean of user + system ticks from `/proc/self/task/*/stat`, so only means over many ops count), µs:\n\n";
    out += "| peers | mode | op | calls | p50 | p90 | p99 | max | speaker CPU per op |\n|---:|---|---|---:|---:|---:|---:|---:|---:|\n";
    for r in results {
        for ((mode, op), s) in &r.series {
            let c = Summary::of(&s.call);
            let per_op = s.speaker_cpu.as_secs_f64() * 1e6 / (s.call.len().max(1) as f64);
            out += &format!(
                "| {} | {mode} | {op} | {} | {} | {per_op:.1} |\n",
                r.peers,
                c.n,
                c.cells()
            );
        }
    }
    out += "\nSetup (receivers started, speaker connected, installed routes at every peer): ";
    out += &results
        .iter()
        .map(|r| format!("{} peer(s): {} ms", r.peers, ms(r.setup)))
        .collect::<Vec<_>>()
        .join(", ");
    out += "\n";
    out
}
