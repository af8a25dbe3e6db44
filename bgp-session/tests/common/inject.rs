//! Our speaker under test: the `inject` example run inside the lab's
//! namespace, driven through `--control-stdin`.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ChildStdin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::lab::{Lab, Proc, log, wait_for};

/// Path of the `inject` example next to this test binary
/// (`target/<profile>/deps/interop-*` → `target/<profile>/examples/inject`),
/// built once per test process so that it matches the sources.
pub fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(|d| d.parent())
            .expect("test binary lives in target/<profile>/deps")
            .to_owned();
        let bin = profile_dir.join("examples").join("inject");
        // `cargo test --test interop` does not build examples: build it here
        // (the build lock is free while tests run).
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev".to_owned(),
            Some(p) => p.to_owned(),
        };
        let target_dir = profile_dir.parent().map(|p| p.to_owned());
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_owned());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "bgp-session",
            "--example",
            "inject",
            "--profile",
            &profile,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
        if let Some(t) = &target_dir {
            cmd.arg("--target-dir").arg(t);
        }
        match cmd.status() {
            Ok(s) if s.success() => {}
            other => log(&format!(
                "WARNING: building the inject example failed ({other:?}); using {} as is",
                bin.display()
            )),
        }
        assert!(
            bin.exists(),
            "{} is missing: run `cargo build -p bgp-session --example inject`",
            bin.display()
        );
        bin
    })
    .clone()
}

/// Options of one inject process.
#[derive(Clone, Debug)]
pub struct InjectOpts {
    /// Name for logs and files.
    pub name: String,
    /// Our AS.
    pub local_as: u32,
    /// The daemon's AS as we configure it.
    pub peer_as: u32,
    /// Our address (session source, next hop, router id if IPv4).
    pub local: IpAddr,
    /// The daemon's address.
    pub peer: IpAddr,
    /// Extra arguments (e.g. `--hold 3`, `--md5 x`, `--count 100000`).
    pub extra: Vec<String>,
}

impl InjectOpts {
    /// A session from `local` (AS `local_as`) to `peer` (AS `peer_as`) with no routes yet.
    pub fn new(name: &str, local_as: u32, local: IpAddr, peer_as: u32, peer: IpAddr) -> Self {
        Self {
            name: name.to_owned(),
            local_as,
            peer_as,
            local,
            peer,
            extra: Vec::new(),
        }
    }

    /// Adds arguments.
    pub fn arg(mut self, args: &[&str]) -> Self {
        self.extra.extend(args.iter().map(|s| (*s).to_owned()));
        self
    }
}

/// A running inject process.
pub struct Inject {
    /// Its options.
    pub opts: InjectOpts,
    proc: Proc,
    stdin: Option<ChildStdin>,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Inject {
    /// Starts inject in the lab's "us" namespace.
    pub fn start(lab: &Lab, opts: InjectOpts) -> Self {
        let bin = binary();
        let mut argv: Vec<String> = vec![
            bin.to_string_lossy().into_owned(),
            "--control-stdin".into(),
            "--local-asn".into(),
            opts.local_as.to_string(),
            "--peer-asn".into(),
            opts.peer_as.to_string(),
            "--peer".into(),
            opts.peer.to_string(),
            "--local-address".into(),
            opts.local.to_string(),
            "--idle-hold".into(),
            "1".into(),
            "--connect-retry".into(),
            "1".into(),
        ];
        if opts.local.is_ipv6() {
            argv.push("--ipv6".into());
        }
        if !opts.extra.iter().any(|a| a == "--count") {
            // No routes until the control commands say so.
            argv.extend(["--count".into(), "0".into()]);
        }
        argv.extend(opts.extra.iter().cloned());
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        // Append to the log file across restarts of the same speaker.
        let log_path = lab.path(&format!("inject-{}.log", opts.name));
        let mut n = 0;
        let log_path = loop {
            let p = if n == 0 {
                log_path.clone()
            } else {
                lab.path(&format!("inject-{}.{n}.log", opts.name))
            };
            if !p.exists() {
                break p;
            }
            n += 1;
        };
        let mut proc = Proc::spawn_with(
            &format!("inject {}", opts.name),
            &lab.ns_us,
            &argv,
            &log_path,
            true,
        );
        let stdin = proc.child_mut().stdin.take();
        let stdout = proc.child_mut().stdout.take().expect("piped stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let tag = format!("{}/{}", lab.name, opts.name);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !line.starts_with("status ") && !line.starts_with("ok ") {
                    log(&format!("[{tag}] inject: {line}"));
                }
                sink.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(line);
            }
        });
        Self {
            opts,
            proc,
            stdin,
            lines,
        }
    }

    /// Every stdout line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// How many lines start with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.lines()
            .iter()
            .filter(|l| l.starts_with(prefix))
            .count()
    }

    /// How many times the session became Established.
    pub fn established_count(&self) -> usize {
        self.count("established after")
    }

    /// Sends one control command and waits for its acknowledgement.
    pub fn send(&mut self, cmd: &str) {
        let before = self.lines().len();
        let stdin = self.stdin.as_mut().expect("inject stdin is open");
        writeln!(stdin, "{cmd}").expect("write to inject");
        stdin.flush().expect("flush inject stdin");
        let ok = format!("ok {cmd}");
        wait_for(
            &format!("{} acknowledges {cmd:?}", self.opts.name),
            Duration::from_secs(10),
            || {
                let lines = self.lines();
                let new = lines.get(before..).unwrap_or_default();
                if new.contains(&ok) {
                    return Ok(());
                }
                if let Some(e) = new.iter().find(|l| l.starts_with("error ")) {
                    panic!("inject rejected {cmd:?}: {e}");
                }
                Err(format!("no ack; last lines {new:?}"))
            },
        );
    }

    /// Sends many commands, then waits for all acknowledgements.
    pub fn send_all(&mut self, cmds: &[String]) {
        if cmds.is_empty() {
            return;
        }
        let before = self.lines().len();
        let stdin = self.stdin.as_mut().expect("inject stdin is open");
        for c in cmds {
            writeln!(stdin, "{c}").expect("write to inject");
        }
        stdin.flush().expect("flush inject stdin");
        let n = cmds.len();
        wait_for(
            &format!("{} acknowledges {n} commands", self.opts.name),
            Duration::from_secs(20),
            || {
                let lines = self.lines();
                let new = lines.get(before..).unwrap_or_default();
                if let Some(e) = new.iter().find(|l| l.starts_with("error ")) {
                    panic!("inject rejected a command: {e}");
                }
                let acks = new.iter().filter(|l| l.starts_with("ok ")).count();
                if acks >= n {
                    Ok(())
                } else {
                    Err(format!("{acks}/{n} acknowledged"))
                }
            },
        );
    }

    /// The speaker's state and counters (`status` command), as key → value.
    pub fn status(&mut self) -> BTreeMap<String, String> {
        let before = self.lines().len();
        let stdin = self.stdin.as_mut().expect("inject stdin is open");
        writeln!(stdin, "status").expect("write to inject");
        stdin.flush().expect("flush inject stdin");
        let line = wait_for(
            &format!("{} status", self.opts.name),
            Duration::from_secs(10),
            || {
                self.lines()
                    .get(before..)
                    .unwrap_or_default()
                    .iter()
                    .find(|l| l.starts_with("status "))
                    .cloned()
                    .ok_or_else(|| "no status line yet".to_owned())
            },
        );
        line.split_whitespace()
            .skip(1)
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// A numeric counter from `status`.
    pub fn counter(&mut self, key: &str) -> u64 {
        self.status()
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("status has no numeric {key}"))
    }

    /// Waits until the session has been Established `n` times in total.
    pub fn wait_established(&mut self, n: usize, timeout: Duration) {
        let name = self.opts.name.clone();
        wait_for(&format!("{name} established (#{n})"), timeout, || {
            if !self.proc.running() {
                panic!("inject {name} exited: {}", self.proc.log_text());
            }
            let c = self.established_count();
            if c >= n {
                Ok(())
            } else {
                Err(format!(
                    "established {c} times; stderr tail: {}",
                    tail(&self.proc.log_text(), 3)
                ))
            }
        });
    }

    /// Waits for a "session down: ..." line containing `needle` and returns it.
    pub fn wait_down(&self, needle: &str, timeout: Duration) -> String {
        wait_for(
            &format!("{} session down ({needle})", self.opts.name),
            timeout,
            || {
                let lines = self.lines();
                lines
                    .iter()
                    .find(|l| l.starts_with("session down:") && l.contains(needle))
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "down lines: {:?}",
                            lines
                                .iter()
                                .filter(|l| l.starts_with("session down"))
                                .collect::<Vec<_>>()
                        )
                    })
            },
        )
    }

    /// SIGTERM and wait for the process to end.
    pub fn terminate(&mut self) {
        self.proc.signal("TERM");
        assert!(
            self.proc.wait_exit(Duration::from_secs(10)),
            "inject {} did not exit on SIGTERM",
            self.opts.name
        );
        log(&format!("inject {} exited", self.opts.name));
    }

    /// SIGKILL: no NOTIFICATION, the kernel closes the socket; then reap.
    pub fn kill(&mut self) {
        log(&format!(
            "SIGKILL inject {} (pid {})",
            self.opts.name,
            self.proc.pid()
        ));
        self.proc.kill();
    }

    /// Our stderr/log output.
    pub fn log_text(&self) -> String {
        self.proc.log_text()
    }
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v.get(v.len().saturating_sub(n)..)
        .unwrap_or_default()
        .join(" | ")
}
