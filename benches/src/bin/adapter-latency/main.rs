//! Adapter latency: from an EndpointSlice change in standalone mode's
//! object files to the route appearing / disappearing in a receiving BIRD
//! (issue 6 §3, "Adapter").
//!
//! Lab: two network namespaces `al-<pid>-us` / `al-<pid>-them` joined by a
//! veth pair; `k8s-adapter standalone` runs in the first (eBGP to BIRD),
//! BIRD 2 in the second with `debug { routes }`, so every import is a log
//! line on BIRD's stderr. Lines from both processes are time-stamped by
//! reader threads the moment they arrive (monotonic clock, one process).
//!
//! One sample: the only endpoint of a `Cluster` Service flips ready →
//! not-ready (the IP is withdrawn) or back (announced). The slice file is
//! replaced atomically (write a temporary file outside the watched
//! directory, rename into it). Three instants:
//! - `write`: just before the rename;
//! - `seen`: the adapter prints `watch       change seen (...)`;
//! - `bird`: BIRD logs the route `added` / `removed`.
//!
//! The same run is made with the inotify watch (default) and with
//! `--no-inotify` (200 ms polling, the previous behaviour).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Adapter latency: object file change to route in BIRD")]
struct Args {
    /// Samples per direction (appear and disappear) per mode.
    #[arg(long, default_value_t = 100)]
    samples: usize,
    /// Samples per direction in the polling mode (each costs ~100 ms more).
    #[arg(long, default_value_t = 30)]
    poll_samples: usize,
    /// The k8s-adapter binary (default: next to this one).
    #[arg(long)]
    adapter: Option<PathBuf>,
    /// CI smoke: 5 samples per direction, inotify mode only.
    #[arg(long)]
    smoke: bool,
}

const SVC_IP: &str = "192.168.100.0";

/// Runs a setup command; a failure ends the benchmark.
fn sh(argv: &[&str]) -> String {
    benches::cmd::run(argv).unwrap()
}

struct Lab {
    us: String,
    them: String,
    dir: PathBuf,
    children: Vec<Child>,
}

impl Lab {
    fn new() -> Self {
        let base = format!("al-{}", std::process::id());
        let dir = std::env::temp_dir().join(&base);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("objects")).unwrap();
        let lab = Self {
            us: format!("{base}-us"),
            them: format!("{base}-them"),
            dir,
            children: Vec::new(),
        };
        sh(&["ip", "netns", "add", &lab.us]);
        sh(&["ip", "netns", "add", &lab.them]);
        sh(&[
            "ip", "-n", &lab.us, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
            "netns", &lab.them,
        ]);
        for (ns, addr) in [(&lab.us, "10.77.0.1/24"), (&lab.them, "10.77.0.2/24")] {
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            sh(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
            sh(&["ip", "-n", ns, "addr", "add", addr, "dev", "eth0"]);
        }
        lab
    }

    /// Spawns `argv` in namespace `ns`; each output line goes to `tx` with
    /// its arrival time, tagged `tag`.
    fn spawn(&mut self, ns: &str, argv: &[&str], tag: &'static str, tx: &mpsc::Sender<Line>) {
        let mut c = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        for r in [
            Box::new(c.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(c.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(r).lines().map_while(Result::ok) {
                    let at = Instant::now();
                    if tx.send(Line { tag, at, text: l }).is_err() {
                        break;
                    }
                }
            });
        }
        self.children.push(c);
    }

    fn stop_children(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.children.clear();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop_children();
        // Anything still in our namespaces was started by us.
        for ns in [&self.us, &self.them] {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Line {
    tag: &'static str,
    at: Instant,
    text: String,
}

const BIRD_CONF: &str = r#"
router id 10.77.0.2;
log stderr all;
protocol device { scan time 10; }
protocol bgp p_us {
  local 10.77.0.2 as 64501;
  neighbor 10.77.0.1 as 64512;
  passive on;
  hold time 90;
  debug { routes };
  ipv4 { import all; export none; };
}
"#;

const CONFIG: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {namespace: metallb, name: config}
data:
  config: |
    peers:
    - peer-address: 10.77.0.2
      peer-asn: 64501
      my-asn: 64512
    address-pools:
    - name: default
      protocol: bgp
      addresses:
      - 192.168.100.0/24
"#;

fn objects(dir: &Path) {
    let cluster = r#"{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"Node","metadata":{"name":"node-1","labels":{"kubernetes.io/hostname":"node-1"}},
  "status":{"addresses":[{"type":"InternalIP","address":"10.77.0.1"}],"conditions":[{"type":"Ready","status":"True"}]}},
 {"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"demo"},
  "spec":{"type":"LoadBalancer","clusterIP":"10.96.0.10","externalTrafficPolicy":"Cluster",
          "ports":[{"port":80,"protocol":"TCP"}]}}]}"#;
    std::fs::write(dir.join("objects/cluster.json"), cluster).unwrap();
    std::fs::write(dir.join("objects/slice.json"), slice(true)).unwrap();
}

fn slice(ready: bool) -> String {
    format!(
        r#"{{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","addressType":"IPv4",
 "metadata":{{"name":"web-abcde","namespace":"demo","labels":{{"kubernetes.io/service-name":"web"}}}},
 "endpoints":[{{"addresses":["10.244.1.5"],"nodeName":"node-1","conditions":{{"ready":{ready},"serving":{ready}}}}}]}}"#
    )
}

/// Waits for a line matching `f`, up to `timeout`; returns its arrival.
fn wait_line(
    rx: &mpsc::Receiver<Line>,
    timeout: Duration,
    log: &mut Vec<String>,
    mut f: impl FnMut(&Line) -> bool,
) -> Option<Instant> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let l = rx.recv_timeout(left).ok()?;
        log.push(format!("{} {}", l.tag, l.text));
        if f(&l) {
            return Some(l.at);
        }
    }
}

#[derive(Default)]
struct Samples {
    write_to_bird: Vec<Duration>,
    seen_to_bird: Vec<Duration>,
    write_to_seen: Vec<Duration>,
}

fn is_route_line(l: &Line, appear: bool) -> bool {
    // BIRD 2: "p_us.ipv4 > added [best] 192.168.100.0/32 0L 2G unicast" / "... removed ..."
    l.tag == "bird"
        && l.text.contains(&format!("{SVC_IP}/32"))
        && l.text.contains(if appear { "added" } else { "removed" })
}

fn run_mode(args: &Args, adapter: &Path, inotify: bool, samples: usize) -> (Samples, Samples) {
    let mut lab = Lab::new();
    let (tx, rx) = mpsc::channel();
    std::fs::write(lab.dir.join("bird.conf"), BIRD_CONF).unwrap();
    objects(&lab.dir);
    std::fs::write(lab.dir.join("config.yaml"), CONFIG).unwrap();
    let conf = lab.dir.join("bird.conf").to_string_lossy().into_owned();
    let sock = lab.dir.join("bird.ctl").to_string_lossy().into_owned();
    let them = lab.them.clone();
    let us = lab.us.clone();
    lab.spawn(
        &them,
        &["bird", "-f", "-c", &conf, "-s", &sock],
        "bird",
        &tx,
    );
    let cfg = lab.dir.join("config.yaml").to_string_lossy().into_owned();
    let objs = lab.dir.join("objects").to_string_lossy().into_owned();
    let mut argv = vec![
        adapter.to_str().unwrap(),
        "standalone",
        "--node",
        "node-1",
        "--config",
        &cfg,
        "--objects",
        &objs,
    ];
    if !inotify {
        argv.push("--no-inotify");
    }
    lab.spawn(&us, &argv, "adapter", &tx);
    let mut log = Vec::new();
    // Initial announcement (session establishment included).
    if wait_line(&rx, Duration::from_secs(30), &mut log, |l| {
        is_route_line(l, true)
    })
    .is_none()
    {
        panic!("route never reached BIRD:\n{}", log.join("\n"));
    }
    std::thread::sleep(Duration::from_millis(300));
    while rx.try_recv().is_ok() {}

    let mut appear = Samples::default();
    let mut disappear = Samples::default();
    let tmp = lab.dir.join("slice.json.tmp");
    let target = lab.dir.join("objects/slice.json");
    let mut jitter = 7u64;
    for i in 0..samples * 2 {
        let up = i % 2 == 1; // first withdraw, then re-announce, ...
        std::fs::write(&tmp, slice(up)).unwrap();
        while rx.try_recv().is_ok() {}
        let write = Instant::now();
        std::fs::rename(&tmp, &target).unwrap();
        let mut seen = None;
        let bird = wait_line(&rx, Duration::from_secs(5), &mut log, |l| {
            if l.tag == "adapter" && l.text.starts_with("watch       change seen") && seen.is_none()
            {
                seen = Some(l.at);
            }
            is_route_line(l, up)
        });
        let Some(bird) = bird else {
            panic!(
                "sample {i}: BIRD never showed the change:\n{}",
                log[log.len().saturating_sub(40)..].join("\n")
            );
        };
        let s = if up { &mut appear } else { &mut disappear };
        s.write_to_bird.push(bird - write);
        if let Some(seen) = seen {
            s.seen_to_bird.push(bird.saturating_duration_since(seen));
            s.write_to_seen.push(seen.saturating_duration_since(write));
        }
        // Spread writes over the poll phase: 20..60 ms between samples.
        jitter = jitter
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(20 + (jitter >> 33) % 40));
        if args.smoke && i >= 2 * samples {
            break;
        }
    }
    lab.stop_children();
    (appear, disappear)
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    if v.is_empty() {
        return Duration::ZERO;
    }
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn row(mode: &str, dir: &str, what: &str, v: &mut [Duration]) {
    if v.is_empty() {
        return;
    }
    println!(
        "| {mode} | {dir} | {what} | {} | {} | {} | {} | {} |",
        v.len(),
        ms(pct(v, 0.5)),
        ms(pct(v, 0.9)),
        ms(pct(v, 0.99)),
        ms(*v.iter().max().unwrap())
    );
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.smoke {
        args.samples = 5;
        args.poll_samples = 0;
    }
    let adapter = args.adapter.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .unwrap()
            .parent()
            .unwrap()
            .join("k8s-adapter")
    });
    anyhow::ensure!(
        adapter.exists(),
        "{} not found: build it first (cargo build [--release] -p k8s-adapter) or pass --adapter",
        adapter.display()
    );
    println!(
        "adapter-latency: {} samples per direction (inotify), {} (poll); adapter {}",
        args.samples,
        args.poll_samples,
        adapter.display()
    );
    let mut results = Vec::new();
    results.push(("inotify", run_mode(&args, &adapter, true, args.samples)));
    if args.poll_samples > 0 {
        results.push((
            "poll 200 ms",
            run_mode(&args, &adapter, false, args.poll_samples),
        ));
    }
    println!();
    println!("| watch | change | interval | samples | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) |");
    println!("|---|---|---|---:|---:|---:|---:|---:|");
    for (mode, (mut a, mut d)) in results {
        for (dir, s) in [("appear", &mut a), ("disappear", &mut d)] {
            row(
                mode,
                dir,
                "file written → route in BIRD",
                &mut s.write_to_bird,
            );
            row(
                mode,
                dir,
                "change seen by watcher → route in BIRD",
                &mut s.seen_to_bird,
            );
            row(
                mode,
                dir,
                "file written → change seen",
                &mut s.write_to_seen,
            );
        }
    }
    Ok(())
}
