//! Network namespaces, processes started inside them, and `/proc` readers.
//!
//! ```text
//!   sb-<pid>-snd (eth0) 10.77.0.2/24 fd00:77::2/64   the sender under test
//!        │ veth
//!   sb-<pid>-rcv (eth0) 10.77.0.1/24 fd00:77::1/64   the receiving BIRD or FRR
//! ```
//!
//! Both namespaces and a scratch directory are created fresh for every run and
//! removed afterwards (every process still inside is killed by PID first).
//! Leftovers of an earlier harness whose process is gone are removed at start.

use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// Prefix of every namespace and scratch directory the harness creates.
pub(crate) const PREFIX: &str = "sb";

/// The receiver's IPv4 address.
pub(crate) const RCV4: &str = "10.77.0.1";
/// The sender's IPv4 address.
pub(crate) const SND4: &str = "10.77.0.2";
/// The receiver's IPv6 address.
pub(crate) const RCV6: &str = "fd00:77::1";
/// The sender's IPv6 address.
pub(crate) const SND6: &str = "fd00:77::2";
/// The receiver's AS.
pub(crate) const RCV_AS: u32 = 65002;
/// The sender's AS.
pub(crate) const SND_AS: u32 = 65001;

/// Address family of a run: the session runs over the same family.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub(crate) enum Fam {
    /// IPv4 /32s over an IPv4 session.
    V4,
    /// IPv6 /128s over an IPv6 session.
    V6,
}

impl Fam {
    /// The receiver's address.
    pub(crate) fn rcv(self) -> &'static str {
        match self {
            Fam::V4 => RCV4,
            Fam::V6 => RCV6,
        }
    }

    /// The sender's address.
    pub(crate) fn snd(self) -> &'static str {
        match self {
            Fam::V4 => SND4,
            Fam::V6 => SND6,
        }
    }

    /// "IPv4 /32" or "IPv6 /128".
    pub(crate) fn label(self) -> &'static str {
        match self {
            Fam::V4 => "IPv4 /32",
            Fam::V6 => "IPv6 /128",
        }
    }

    /// The i-th announced prefix (the same set for every sender):
    /// 100.64.0.0/10 carved into /32s, or 2001:db8::/32 into /128s.
    pub(crate) fn prefix(self, i: u64) -> (IpAddr, u8) {
        match self {
            Fam::V4 => {
                let base = u32::from(std::net::Ipv4Addr::new(100, 64, 0, 0));
                let off = u32::try_from(i).unwrap_or(u32::MAX);
                (IpAddr::V4(base.wrapping_add(off).into()), 32)
            }
            Fam::V6 => {
                let base = u128::from(
                    "2001:db8::"
                        .parse::<std::net::Ipv6Addr>()
                        .unwrap_or(std::net::Ipv6Addr::UNSPECIFIED),
                );
                (IpAddr::V6((base + u128::from(i)).into()), 128)
            }
        }
    }
}

pub(crate) use benches::cmd::run;

/// A timestamped progress line on stderr.
pub(crate) fn log(msg: &str) {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let t = START.get_or_init(Instant::now).elapsed();
    eprintln!("[{:>8.2}] {msg}", t.as_secs_f64());
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Kills (by PID) every process still inside namespace `ns`, waits for them.
fn kill_all_in(ns: &str) {
    let pids: Vec<u32> = run(&["ip", "netns", "pids", ns])
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    for pid in &pids {
        let _ = run(&["kill", "-KILL", &pid.to_string()]);
    }
    for pid in pids {
        let t = Instant::now();
        while pid_alive(pid) && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The PID in a name `sb-<pid>-...`.
fn owner_pid(name: &str) -> Option<u32> {
    name.strip_prefix(PREFIX)?
        .strip_prefix('-')?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// Removes namespaces and directories of earlier harness processes that are gone.
pub(crate) fn remove_stale() {
    let me = std::process::id();
    for line in run(&["ip", "netns", "list"]).unwrap_or_default().lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = owner_pid(name) else { continue };
        if pid == me || pid_alive(pid) {
            continue;
        }
        log(&format!(
            "removing stale namespace {name} (process {pid} is gone)"
        ));
        kill_all_in(name);
        let _ = run(&["ip", "netns", "del", name]);
    }
    if let Ok(rd) = std::fs::read_dir(std::env::temp_dir()) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = owner_pid(&name)
                && pid != me
                && !pid_alive(pid)
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// The harness's scratch root, `/tmp/sb-<pid>` (MRT files are cached there).
pub(crate) fn scratch_root() -> PathBuf {
    std::env::temp_dir().join(format!("{PREFIX}-{}", std::process::id()))
}

/// Two namespaces joined by a veth pair, and a scratch directory for one run.
pub(crate) struct Lab {
    /// The sender's namespace.
    pub(crate) ns_snd: String,
    /// The receiver's namespace.
    pub(crate) ns_rcv: String,
    /// Configs, sockets and logs of this run.
    pub(crate) dir: PathBuf,
    keep: bool,
}

impl Lab {
    /// Creates the namespaces, the link and the addresses.
    pub(crate) fn new(run_no: u32, keep: bool) -> anyhow::Result<Self> {
        let base = format!("{PREFIX}-{}", std::process::id());
        let dir = scratch_root().join(format!("run-{run_no}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        // FRR drops privileges to user frr and must reach its files.
        run(&[
            "chmod",
            "755",
            &scratch_root().to_string_lossy(),
            &dir.to_string_lossy(),
        ])?;
        let lab = Self {
            ns_snd: format!("{base}-snd"),
            ns_rcv: format!("{base}-rcv"),
            dir,
            keep,
        };
        lab.setup()?;
        Ok(lab)
    }

    fn setup(&self) -> anyhow::Result<()> {
        let (s, r) = (self.ns_snd.as_str(), self.ns_rcv.as_str());
        for ns in [s, r] {
            if run(&["ip", "netns", "pids", ns]).is_ok() {
                kill_all_in(ns);
                let _ = run(&["ip", "netns", "del", ns]);
            }
            run(&["ip", "netns", "add", ns])?;
            // No duplicate address detection: IPv6 addresses usable at once.
            run(&[
                "ip",
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.accept_dad=0",
                "net.ipv6.conf.default.accept_dad=0",
            ])?;
        }
        run(&[
            "ip", "-n", s, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns",
            r,
        ])?;
        for (ns, v4, v6) in [(s, SND4, SND6), (r, RCV4, RCV6)] {
            run(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
            run(&["ip", "-n", ns, "link", "set", "eth0", "up"])?;
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{v4}/24"),
                "dev",
                "eth0",
            ])?;
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{v6}/64"),
                "dev",
                "eth0",
                "nodad",
            ])?;
        }
        // Wait until no address is tentative any more (link-local included).
        let t = Instant::now();
        for ns in [s, r] {
            while !run(&["ip", "-n", ns, "-6", "addr", "show", "tentative"])?
                .trim()
                .is_empty()
            {
                if t.elapsed() > Duration::from_secs(10) {
                    bail!("IPv6 addresses in {ns} still tentative after 10 s");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// A path inside the run's directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.ns_snd, &self.ns_rcv] {
            kill_all_in(ns);
            let _ = run(&["ip", "netns", "del", ns]);
        }
        if self.keep {
            eprintln!("logs and configs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A process started inside a namespace (`ip netns exec` execs the program,
/// so the PID is the program's own). Killed on drop.
pub(crate) struct Proc {
    /// For messages.
    pub(crate) name: String,
    child: Child,
    /// Where stdout and stderr go.
    pub(crate) log: PathBuf,
}

impl Proc {
    /// Starts `argv` in namespace `ns`; stdout and stderr go to `log`.
    pub(crate) fn spawn(name: &str, ns: &str, argv: &[&str], log: &Path) -> anyhow::Result<Self> {
        let out = File::create(log).with_context(|| format!("create {}", log.display()))?;
        let err = out.try_clone()?;
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("start {name} ({})", argv.join(" ")))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        })
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub(crate) fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// An error with the tail of its log if it has exited.
    pub(crate) fn check(&mut self) -> anyhow::Result<()> {
        if self.running() {
            return Ok(());
        }
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!("{} exited early: {}", self.name, tail.join("\n"))
    }

    /// SIGTERM, then SIGKILL after `grace`; reaps it.
    pub(crate) fn stop(&mut self, grace: Duration) {
        if self.running() {
            let _ = run(&["kill", "-TERM", &self.pid().to_string()]);
            let t = Instant::now();
            while self.running() && t.elapsed() < grace {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Peak RSS (VmHWM) in bytes and CPU time (utime + stime) in seconds of `pid`.
pub(crate) fn proc_stats(pid: u32, clk_tck: f64) -> anyhow::Result<(u64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("/proc/{pid}/status"))?;
    let hwm_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmHWM")?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').context("bad stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(f.get(i).context("short stat")?.parse::<u64>()? as f64)
    };
    // rest starts at field 3 (state): field k is index k - 3.
    let cpu = (ticks(11)? + ticks(12)?) / clk_tck;
    Ok((hwm_kb * 1024, cpu))
}

/// The kernel's clock tick rate for `/proc/<pid>/stat` (usually 100).
pub(crate) fn clk_tck() -> f64 {
    run(&["getconf", "CLK_TCK"])
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}
