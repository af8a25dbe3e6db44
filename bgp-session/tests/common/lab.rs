//! The lab: two network namespaces joined by a veth pair, processes started
//! inside them by PID, and polling helpers.
//!
//! ```text
//!   bgpit-<pid>-<n>-us  (eth0)  10.200.<n>.10-29/24  fd00:200:<n>::10-29/64   our speakers (inject)
//!          │ veth
//!   bgpit-<pid>-<n>-them (eth0) 10.200.<n>.1/24     fd00:200:<n>::1/64      the daemon
//! ```
//!
//! Every namespace name carries the test process PID, so parallel runs do not
//! clash and leftovers of a crashed run are recognised (and removed) only when
//! their process is gone. [`Lab`] and [`Proc`] clean up on drop, also while
//! unwinding from a failed assertion.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Prefix of every namespace and temporary directory this suite creates.
pub const PREFIX: &str = "bgpit";

/// Runs a command and returns its stdout; `Err` carries status and stderr.
pub fn run(argv: &[&str]) -> Result<String, String> {
    let (cmd, args) = argv.split_first().ok_or("empty command")?;
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", argv.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{}` failed ({}): {}{}",
            argv.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        ))
    }
}

/// Runs a command that must succeed.
pub fn must(argv: &[&str]) -> String {
    run(argv).unwrap_or_else(|e| panic!("{e}"))
}

/// Polls `f` every 100 ms until it returns `Ok`, for at most `timeout`.
/// Panics with `what` and the last `Err` (a description of the state seen).
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Result<T, String>) -> T {
    let start = Instant::now();
    let mut last;
    loop {
        match f() {
            Ok(v) => {
                log(&format!(
                    "ok after {:.1} s: {what}",
                    start.elapsed().as_secs_f64()
                ));
                return v;
            }
            Err(e) => last = e,
        }
        if start.elapsed() >= timeout {
            panic!("timeout after {timeout:?} waiting for: {what}\nlast state: {last}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Checks that `f` keeps returning `Ok` for `period` (polling every 200 ms).
pub fn holds_for(what: &str, period: Duration, mut f: impl FnMut() -> Result<(), String>) {
    let start = Instant::now();
    while start.elapsed() < period {
        if let Err(e) = f() {
            panic!(
                "{what} stopped holding after {:.1} s: {e}",
                start.elapsed().as_secs_f64()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    log(&format!("held for {period:?}: {what}"));
}

/// A timestamped progress line (visible with `--nocapture`).
pub fn log(msg: &str) {
    let name = std::thread::current()
        .name()
        .unwrap_or("main")
        .rsplit("::")
        .next()
        .unwrap_or("main")
        .to_owned();
    eprintln!("[{:>7.2}] {name}: {msg}", elapsed().as_secs_f64());
}

fn elapsed() -> Duration {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// Whether a process with this PID exists.
pub fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Sends `signal` (e.g. "TERM") to `pid`.
pub fn signal(pid: u32, signal: &str) {
    let _ = run(&["kill", &format!("-{signal}"), &pid.to_string()]);
}

/// Removes namespaces and directories left by earlier runs whose process is gone.
fn remove_stale() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let me = std::process::id();
        let list = run(&["ip", "netns", "list"]).unwrap_or_default();
        for line in list.lines() {
            let Some(name) = line.split_whitespace().next() else {
                continue;
            };
            let Some(pid) = stale_pid(name) else { continue };
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
                if let Some(pid) = stale_pid(&name) {
                    if pid != me && !pid_alive(pid) {
                        let _ = std::fs::remove_dir_all(e.path());
                    }
                }
            }
        }
    });
}

/// The PID in a name `bgpit-<pid>-...`.
fn stale_pid(name: &str) -> Option<u32> {
    name.strip_prefix(PREFIX)?
        .strip_prefix('-')?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// Kills (by PID) every process still running inside namespace `ns`.
fn kill_all_in(ns: &str) {
    let pids: Vec<u32> = run(&["ip", "netns", "pids", ns])
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    for pid in &pids {
        signal(*pid, "KILL");
    }
    for pid in pids {
        let t = Instant::now();
        while pid_alive(pid) && t.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Two namespaces, a veth pair, addresses, and a private temporary directory.
pub struct Lab {
    /// Lab number: the third octet of its IPv4 subnet.
    pub n: u32,
    /// A short name for logs.
    pub name: String,
    /// Namespace of our speakers.
    pub ns_us: String,
    /// Namespace of the daemon.
    pub ns_them: String,
    /// Config files, sockets and logs.
    pub dir: PathBuf,
}

/// How many of our addresses each lab gets (`us_v4(0..SLOTS)`).
pub const SLOTS: u8 = 20;

impl Lab {
    /// Creates the namespaces and the link. Panics (after cleaning up) on failure.
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        remove_stale();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < 255, "too many labs in one process");
        let base = format!("{PREFIX}-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&base);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create lab directory");
        // Daemons that drop privileges (FRR runs as user frr) must reach their files.
        let _ = run(&["chmod", "755", dir.to_str().unwrap_or_default()]);
        let lab = Self {
            n,
            name: name.to_owned(),
            ns_us: format!("{base}-us"),
            ns_them: format!("{base}-them"),
            dir,
        };
        lab.setup();
        lab.log(&format!(
            "namespaces {} / {}, directory {}",
            lab.ns_us,
            lab.ns_them,
            lab.dir.display()
        ));
        lab
    }

    fn setup(&self) {
        let (us, them) = (self.ns_us.as_str(), self.ns_them.as_str());
        must(&["ip", "netns", "add", us]);
        must(&["ip", "netns", "add", them]);
        must(&[
            "ip", "-n", us, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns",
            them,
        ]);
        for ns in [us, them] {
            must(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            must(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
        }
        let them4 = format!("{}/24", self.them_v4());
        let them6 = format!("{}/64", self.them_v6());
        must(&["ip", "-n", them, "addr", "add", &them4, "dev", "eth0"]);
        must(&[
            "ip", "-n", them, "addr", "add", &them6, "dev", "eth0", "nodad",
        ]);
        self.add_our_addresses();
    }

    /// (Re)adds our addresses (IPv6 addresses vanish when the link goes down).
    pub fn add_our_addresses(&self) {
        for i in 0..SLOTS {
            let v4 = format!("{}/24", self.us_v4(i));
            let v6 = format!("{}/64", self.us_v6(i));
            must(&[
                "ip",
                "-n",
                &self.ns_us,
                "addr",
                "replace",
                &v4,
                "dev",
                "eth0",
            ]);
            must(&[
                "ip",
                "-n",
                &self.ns_us,
                "addr",
                "replace",
                &v6,
                "dev",
                "eth0",
                "nodad",
            ]);
        }
    }

    /// Link-layer cut on our side: our eth0 goes down (the daemon's end loses carrier).
    pub fn link_down(&self) {
        self.log("link down (our eth0)");
        must(&["ip", "-n", &self.ns_us, "link", "set", "eth0", "down"]);
    }

    /// Restores the link and our addresses.
    pub fn link_up(&self) {
        self.log("link up (our eth0)");
        must(&["ip", "-n", &self.ns_us, "link", "set", "eth0", "up"]);
        self.add_our_addresses();
    }

    /// The daemon's IPv4 address.
    pub fn them_v4(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 200, self.octet(), 1))
    }

    /// The daemon's IPv6 address.
    pub fn them_v6(&self) -> IpAddr {
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0x200, self.n16(), 0, 0, 0, 0, 1))
    }

    /// Our IPv4 address number `i` (one per session: daemons key neighbors by address).
    pub fn us_v4(&self, i: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 200, self.octet(), 10 + i))
    }

    /// Our IPv6 address number `i`.
    pub fn us_v6(&self, i: u8) -> IpAddr {
        IpAddr::V6(Ipv6Addr::new(
            0xfd00,
            0x200,
            self.n16(),
            0,
            0,
            0,
            0,
            0x10 + u16::from(i),
        ))
    }

    fn octet(&self) -> u8 {
        u8::try_from(self.n).unwrap_or(254)
    }

    fn n16(&self) -> u16 {
        u16::try_from(self.n).unwrap_or(254)
    }

    /// A path inside the lab directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes a file into the lab directory and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// Runs a command inside the daemon's namespace.
    pub fn exec_them(&self, argv: &[&str]) -> Result<String, String> {
        let mut v = vec!["ip", "netns", "exec", self.ns_them.as_str()];
        v.extend_from_slice(argv);
        run(&v)
    }

    /// A progress line tagged with the lab name.
    pub fn log(&self, msg: &str) {
        log(&format!("[{}] {msg}", self.name));
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.ns_us, &self.ns_them] {
            kill_all_in(ns);
            let _ = run(&["ip", "netns", "del", ns]);
        }
        if std::thread::panicking() || std::env::var_os("BGP_INTEROP_KEEP").is_some() {
            eprintln!(
                "[{}] logs and configs kept in {}",
                self.name,
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A process started inside a namespace (`ip netns exec` execs it, so the
/// PID is the program's own). Stopped on drop.
pub struct Proc {
    /// For logs.
    pub name: String,
    child: Child,
    /// Where stdout and stderr go (unless piped).
    pub log: PathBuf,
}

impl Proc {
    /// Starts `argv` in namespace `ns`; stdout and stderr go to `log`.
    pub fn spawn(name: &str, ns: &str, argv: &[&str], log: &Path) -> Self {
        Self::spawn_with(name, ns, argv, log, false)
    }

    /// Like [`Proc::spawn`]; with `piped`, stdin and stdout are pipes the caller takes.
    pub fn spawn_with(name: &str, ns: &str, argv: &[&str], log_path: &Path, piped: bool) -> Self {
        let out = File::create(log_path).expect("create log file");
        let err = out.try_clone().expect("clone log file");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]).args(argv).stderr(err);
        if piped {
            cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        } else {
            cmd.stdin(Stdio::null()).stdout(out);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {name} ({}): {e}", argv.join(" ")));
        log(&format!("started {name} (pid {})", child.id()));
        Self {
            name: name.to_owned(),
            child,
            log: log_path.to_owned(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Access to the piped stdin/stdout.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends a signal.
    pub fn signal(&self, sig: &str) {
        signal(self.pid(), sig);
    }

    /// Waits up to `timeout` for the process to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let t = Instant::now();
        while t.elapsed() < timeout {
            if !self.running() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// SIGTERM, then SIGKILL after 5 s.
    pub fn stop(&mut self) {
        if !self.running() {
            return;
        }
        self.signal("TERM");
        if !self.wait_exit(Duration::from_secs(5)) {
            self.kill();
        }
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The log file's contents.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A packet capture (tshark) on the daemon's eth0, BGP only.
pub struct Capture {
    proc: Proc,
    file: PathBuf,
}

impl Capture {
    /// Starts tshark in the daemon namespace and waits until it captures.
    pub fn start(lab: &Lab, name: &str) -> Self {
        let file = lab.path(&format!("{name}.pcapng"));
        let f = file.to_string_lossy().into_owned();
        let proc = Proc::spawn(
            "tshark",
            &lab.ns_them,
            &["tshark", "-n", "-i", "eth0", "-f", "tcp port 179", "-w", &f],
            &lab.path(&format!("{name}.tshark.log")),
        );
        let c = Self { proc, file };
        wait_for("tshark capturing", Duration::from_secs(20), || {
            if c.proc.log_text().contains("Capturing on") {
                Ok(())
            } else {
                Err(c.proc.log_text())
            }
        });
        c
    }

    /// Stops the capture (SIGINT lets tshark finish the file).
    pub fn stop(&mut self) {
        // Let the last segments reach the capture.
        std::thread::sleep(Duration::from_millis(300));
        self.proc.signal("INT");
        if !self.proc.wait_exit(Duration::from_secs(10)) {
            self.proc.kill();
        }
    }

    /// Decodes the capture: one row per packet matching `filter`, one column per field.
    pub fn fields(&self, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
        let f = self.file.to_string_lossy().into_owned();
        let mut argv = vec![
            "tshark",
            "-n",
            "-r",
            f.as_str(),
            "-Y",
            filter,
            "-T",
            "fields",
        ];
        for x in fields {
            argv.push("-e");
            argv.push(x);
        }
        must(&argv)
            .lines()
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect()
    }
}
