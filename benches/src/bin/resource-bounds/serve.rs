//! The speaker under measurement, run as a child process (`resource-bounds
//! serve ...`) so that its RSS and file descriptors are its own; and the
//! parent's handle on it.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bgp_session::{
    ConnectMode, MaxPrefixAction, PeerConfig, Peers, ReceiveConfig, RemoteAs, Route, Speaker,
};

/// Our AS (the speaker under test).
pub(crate) const SPEAKER_AS: u32 = 65001;
/// The raw peers' AS.
pub(crate) const PEER_AS: u32 = 65002;

/// What the speaker does with received routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Receive {
    /// Receiving off (the default): UPDATEs validated and dropped.
    Off,
    /// Keep up to --max-prefixes, ignore the rest.
    Drop,
    /// Close with Cease/1 beyond --max-prefixes.
    Close,
    /// Warn and keep up to twice --max-prefixes.
    Warn,
}

/// `serve` options.
#[derive(Clone, Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Passive peers: this many addresses counted up from --first-peer.
    #[arg(long, default_value_t = 1)]
    pub(crate) serve_peers: u8,
    /// The first peer address.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) first_peer: Ipv4Addr,
    /// Receiving.
    #[arg(long, value_enum, default_value = "off")]
    pub(crate) receive: Receive,
    /// The max-prefix limit when receiving.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) max_prefixes: usize,
    /// Hold time offered, in seconds.
    #[arg(long, default_value_t = 90)]
    pub(crate) serve_hold: u64,
    /// Routes announced to every peer.
    #[arg(long, default_value_t = 0)]
    pub(crate) routes: u32,
}

impl ServeArgs {
    fn argv(&self) -> Vec<String> {
        let recv = match self.receive {
            Receive::Off => "off",
            Receive::Drop => "drop",
            Receive::Close => "close",
            Receive::Warn => "warn",
        };
        [
            "serve",
            "--serve-peers",
            &self.serve_peers.to_string(),
            "--first-peer",
            &self.first_peer.to_string(),
            "--receive",
            recv,
            "--max-prefixes",
            &self.max_prefixes.to_string(),
            "--serve-hold",
            &self.serve_hold.to_string(),
            "--routes",
            &self.routes.to_string(),
        ]
        .map(str::to_owned)
        .to_vec()
    }
}

/// The child's main: listen on 127.0.0.1 (any port), print `ready PORT`,
/// answer `stats` lines on stdin until stdin closes.
pub(crate) async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let speaker = Speaker::new();
    let bound = speaker.listen("127.0.0.1:0".parse()?).await?;
    let base = u32::from(a.first_peer);
    for i in 0..u32::from(a.serve_peers) {
        let ip = Ipv4Addr::from(base + i);
        let mut c = PeerConfig::new(
            SocketAddr::new(IpAddr::V4(ip), 179),
            SPEAKER_AS,
            RemoteAs::Asn(PEER_AS),
            Ipv4Addr::new(10, 0, 0, 1),
        );
        c.mode = ConnectMode::Passive;
        c.idle_hold = Duration::ZERO;
        c.hold_time = Duration::from_secs(a.serve_hold);
        c.local_address = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let action = match a.receive {
            Receive::Off => None,
            Receive::Drop => Some(MaxPrefixAction::Drop),
            Receive::Close => Some(MaxPrefixAction::Close),
            Receive::Warn => Some(MaxPrefixAction::Warn),
        };
        c.receive = action.map(|action| ReceiveConfig {
            max_prefixes: a.max_prefixes,
            action,
        });
        speaker.add_peer(c)?;
    }
    speaker.set_routes((0..a.routes).map(|i| {
        let p = ipnet::IpNet::new(IpAddr::V4(Ipv4Addr::from(0xCB00_7100u32 + i * 256)), 24)
            .unwrap_or_default();
        (Route::new(p), Peers::All)
    }));
    println!("ready {}", bound.port());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = rx.recv().await {
        if line.trim() == "stats" {
            let (mut upd, mut held, mut up, mut flaps, mut notif) = (0u64, 0usize, 0, 0u64, 0u64);
            let mut last = String::from("-");
            for (_, state, st) in speaker.stats() {
                upd += st.received.update;
                held += st.prefixes_received;
                flaps += st.flaps;
                notif += st.sent.notification;
                if state == bgp_session::State::Established {
                    up += 1;
                }
                if let Some(n) = &st.last_notification_sent {
                    last = format!("{}/{}", n.code.0, n.subcode);
                }
            }
            println!(
                "stats recv_update={upd} held={held} established={up} flaps={flaps} sent_notification={notif} last_notification={last}"
            );
        }
    }
    speaker.shutdown(None, false).await;
    Ok(())
}

/// The parent's handle on a `serve` child.
pub(crate) struct Served {
    child: Child,
    stdin: ChildStdin,
    lines: Arc<Mutex<Vec<String>>>,
    /// The speaker's listening address.
    pub(crate) addr: SocketAddr,
}

impl Served {
    /// Starts `current_exe serve ...` and waits for `ready`.
    pub(crate) fn start(a: &ServeArgs) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args(a.argv())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child.stdin.take().context("stdin")?;
        let stdout = child.stdout.take().context("stdout")?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(line);
            }
        });
        let t = Instant::now();
        let port = loop {
            let ready = lines
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .find_map(|l| l.strip_prefix("ready ").map(str::to_owned));
            if let Some(p) = ready {
                break p.parse::<u16>()?;
            }
            if t.elapsed() > Duration::from_secs(10) {
                bail!("serve child did not get ready");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Ok(Self {
            child,
            stdin,
            lines,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }

    /// The child's PID.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `stats` as key → value.
    pub(crate) fn stats(&mut self) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
        let before = self.lines.lock().map(|l| l.len()).unwrap_or(0);
        writeln!(self.stdin, "stats")?;
        self.stdin.flush()?;
        let t = Instant::now();
        loop {
            let found = self
                .lines
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(before..)
                .unwrap_or_default()
                .iter()
                .find(|l| l.starts_with("stats "))
                .cloned();
            if let Some(l) = found {
                return Ok(l
                    .split_whitespace()
                    .skip(1)
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect());
            }
            if t.elapsed() > Duration::from_secs(10) {
                bail!("no stats from the serve child");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A numeric stat.
    pub(crate) fn stat(&mut self, key: &str) -> anyhow::Result<u64> {
        self.stats()?
            .get(key)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("stat {key}"))
    }

    /// The process's memory, fds and CPU.
    pub(crate) fn sample(&self) -> anyhow::Result<Sample> {
        Sample::of(self.pid())
    }

    /// Waits until the child's CPU time stops growing (it has processed its
    /// input): 3 equal readings 150 ms apart, at most `max`.
    pub(crate) fn settle(&self, max: Duration) -> anyhow::Result<()> {
        let t = Instant::now();
        let mut last = u64::MAX;
        let mut same = 0;
        while t.elapsed() < max {
            let cpu = self.sample()?.cpu_ticks;
            if cpu == last {
                same += 1;
                if same >= 3 {
                    return Ok(());
                }
            } else {
                same = 0;
                last = cpu;
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        Ok(())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One reading of /proc/PID.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sample {
    /// VmRSS in KiB.
    pub(crate) rss_kib: u64,
    /// VmHWM (peak RSS) in KiB.
    pub(crate) hwm_kib: u64,
    /// Open file descriptors.
    pub(crate) fds: u64,
    /// Threads.
    pub(crate) threads: u64,
    /// utime + stime in clock ticks.
    pub(crate) cpu_ticks: u64,
}

impl Sample {
    /// Reads /proc/PID/{status,fd,stat}.
    pub(crate) fn of(pid: u32) -> anyhow::Result<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        // Fields after the ")" of the command name: utime and stime are 14 and 15.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        let cpu_ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
        Ok(Self {
            rss_kib: field("VmRSS:"),
            hwm_kib: field("VmHWM:"),
            fds,
            threads: field("Threads:"),
            cpu_ticks,
        })
    }
}
