//! The receiving daemons: BIRD 2 and FRR (zebra + bgpd), configured the same
//! way for every sender: passive eBGP, accept everything, install nothing in
//! the kernel. Polled through their control sockets directly (the protocol
//! `birdc` and `vtysh` speak), which costs well under a millisecond, instead of
//! spawning `vtysh` (about 0.2 s of CPU per call on this machine).

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::lab::{Fam, Lab, Proc, RCV_AS, SND_AS, run};

/// Which daemon receives.
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
pub(crate) enum ReceiverKind {
    /// BIRD 2 (`bird -f`).
    Bird,
    /// FRR (zebra + `bgpd -n`).
    Frr,
}

impl ReceiverKind {
    /// Display name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ReceiverKind::Bird => "BIRD",
            ReceiverKind::Frr => "FRR",
        }
    }
}

/// What a poll saw.
pub(crate) struct Seen {
    /// The session with the sender is Established.
    pub(crate) established: bool,
    /// Routes from the sender the receiver has accepted.
    pub(crate) routes: u64,
}

/// A running receiver.
pub(crate) struct Receiver {
    kind: ReceiverKind,
    fam: Fam,
    sock: PathBuf,
    procs: Vec<Proc>,
}

/// BIRD configuration: one passive eBGP session, `import all; export none`,
/// no kernel protocol (nothing is installed anywhere).
pub(crate) fn bird_config(fam: Fam) -> String {
    let ch = match fam {
        Fam::V4 => "ipv4",
        Fam::V6 => "ipv6",
    };
    format!(
        "router id {rid};\n\
         log stderr {{ warning, error, fatal, bug }};\n\
         protocol device {{ }}\n\
         protocol bgp snd {{\n  local {l} as {las};\n  neighbor {n} as {nas};\n  passive on;\n  hold time 90;\n  {ch} {{ import all; export none; }};\n}}\n",
        rid = crate::lab::RCV4,
        l = fam.rcv(),
        las = RCV_AS,
        n = fam.snd(),
        nas = SND_AS,
    )
}

/// FRR bgpd configuration: one passive eBGP neighbor in one address family,
/// no policy required (FRR 8.4 rejects everything from eBGP peers without
/// `no bgp ebgp-requires-policy`).
pub(crate) fn frr_config(fam: Fam) -> String {
    let af = match fam {
        Fam::V4 => "ipv4",
        Fam::V6 => "ipv6",
    };
    let n = fam.snd();
    format!(
        "frr defaults traditional\n\
         hostname rcv\n\
         log stdout warnings\n\
         !\n\
         router bgp {RCV_AS}\n \
         bgp router-id {rid}\n \
         no bgp ebgp-requires-policy\n \
         no bgp default ipv4-unicast\n \
         neighbor {n} remote-as {SND_AS}\n \
         neighbor {n} passive\n \
         !\n \
         address-family {af} unicast\n  \
         neighbor {n} activate\n \
         exit-address-family\n\
         !\n",
        rid = crate::lab::RCV4,
    )
}

/// Starts FRR's zebra and bgpd in `ns` with private sockets under `dir`.
/// `bgpd_extra` are extra bgpd flags (e.g. `-n`: do not install routes).
pub(crate) fn start_frr(
    ns: &str,
    dir: &Path,
    bgpd_conf: &str,
    bgpd_extra: &[&str],
) -> anyhow::Result<Vec<Proc>> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("zebra.conf"),
        "hostname frr\nlog stdout warnings\n",
    )?;
    std::fs::write(dir.join("bgpd.conf"), bgpd_conf)?;
    let d = dir.to_string_lossy().into_owned();
    run(&["chown", "-R", "frr:frr", &d])?;
    run(&["chmod", "755", &d])?;
    let zserv = format!("{d}/zserv.api");
    let zebra = Proc::spawn(
        "zebra",
        ns,
        &[
            "/usr/lib/frr/zebra",
            "-u",
            "frr",
            "-g",
            "frr",
            "-z",
            &zserv,
            "-i",
            &format!("{d}/zebra.pid"),
            "--vty_socket",
            &d,
            "-f",
            &format!("{d}/zebra.conf"),
            "-P",
            "0",
        ],
        &dir.join("zebra.log"),
    )?;
    let mut procs = vec![zebra];
    wait_until(
        "zebra API socket",
        Duration::from_secs(15),
        &mut procs,
        || Ok(Path::new(&zserv).exists()),
    )?;
    let mut argv = vec!["/usr/lib/frr/bgpd", "-u", "frr", "-g", "frr", "-z", &zserv];
    argv.extend_from_slice(bgpd_extra);
    let pid = format!("{d}/bgpd.pid");
    let conf = format!("{d}/bgpd.conf");
    argv.extend_from_slice(&["-i", &pid, "--vty_socket", &d, "-f", &conf, "-P", "0"]);
    procs.push(Proc::spawn("bgpd", ns, &argv, &dir.join("bgpd.log"))?);
    Ok(procs)
}

/// Polls `f` every 20 ms until it returns `Ok(true)`; fails if a process exits.
pub(crate) fn wait_until(
    what: &str,
    timeout: Duration,
    procs: &mut [Proc],
    mut f: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let t = Instant::now();
    let mut last = String::new();
    loop {
        for p in procs.iter_mut() {
            p.check()?;
        }
        match f() {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => last = format!("{e:#}"),
        }
        if t.elapsed() > timeout {
            bail!("timeout after {timeout:?} waiting for {what} (last: {last})");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One command over BIRD's control socket; returns the reply text.
pub(crate) fn birdc(sock: &Path, cmd: &str) -> anyhow::Result<String> {
    let mut s = UnixStream::connect(sock).with_context(|| format!("connect {}", sock.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    // The greeting "0001 BIRD x.y.z ready.\n".
    let mut greeted = false;
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            bail!("BIRD closed the control socket");
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if !greeted {
            if let Some(pos) = buf.iter().position(|&b| b == b'\n') {
                buf.drain(..=pos);
                greeted = true;
                s.write_all(format!("{cmd}\n").as_bytes())?;
            }
            continue;
        }
        // A reply ends with a line "DDDD <text>" (code, space): "-" continues.
        let text = String::from_utf8_lossy(&buf);
        if text.ends_with('\n')
            && let Some(last) = text.lines().last()
        {
            let b = last.as_bytes();
            if b.len() >= 4
                && b.iter().take(4).all(u8::is_ascii_digit)
                && b.get(4).is_none_or(|&c| c == b' ')
            {
                return Ok(text.into_owned());
            }
        }
    }
}

/// One command over an FRR daemon's vty socket (what vtysh does): the
/// command NUL-terminated; the reply ends with three NULs and a status byte.
pub(crate) fn vty(sock: &Path, cmd: &str) -> anyhow::Result<String> {
    let mut s = UnixStream::connect(sock).with_context(|| format!("connect {}", sock.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(cmd.as_bytes())?;
    s.write_all(&[0])?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            bail!("vty socket closed");
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if buf.len() >= 4 {
            let tail = buf.get(buf.len() - 4..).unwrap_or_default();
            if tail.get(..3) == Some(&[0, 0, 0]) {
                let status = tail.get(3).copied().unwrap_or(0);
                buf.truncate(buf.len() - 4);
                let text = String::from_utf8_lossy(&buf).into_owned();
                if status != 0 {
                    bail!("vty `{cmd}`: status {status}: {text}");
                }
                return Ok(text);
            }
        }
    }
}

impl Receiver {
    /// Starts the receiver in the lab's receiver namespace and waits until it answers.
    pub(crate) fn start(kind: ReceiverKind, lab: &Lab, fam: Fam) -> anyhow::Result<Self> {
        match kind {
            ReceiverKind::Bird => {
                let conf = lab.path("rcv-bird.conf");
                std::fs::write(&conf, bird_config(fam))?;
                let sock = lab.path("rcv-bird.ctl");
                let p = Proc::spawn(
                    "receiving bird",
                    &lab.ns_rcv,
                    &[
                        "bird",
                        "-f",
                        "-c",
                        &conf.to_string_lossy(),
                        "-s",
                        &sock.to_string_lossy(),
                        "-P",
                        &lab.path("rcv-bird.pid").to_string_lossy(),
                    ],
                    &lab.path("rcv-bird.log"),
                )?;
                let mut procs = vec![p];
                wait_until(
                    "receiving BIRD's socket",
                    Duration::from_secs(15),
                    &mut procs,
                    || Ok(birdc(&sock, "show protocols snd")?.contains("snd")),
                )?;
                Ok(Self {
                    kind,
                    fam,
                    sock,
                    procs,
                })
            }
            ReceiverKind::Frr => {
                let dir = lab.path("rcv-frr");
                let mut procs = start_frr(&lab.ns_rcv, &dir, &frr_config(fam), &["-n"])?;
                let sock = dir.join("bgpd.vty");
                let peer = fam.snd().to_owned();
                wait_until(
                    "receiving bgpd's vty",
                    Duration::from_secs(20),
                    &mut procs,
                    || Ok(vty(&sock, "show bgp summary json")?.contains(&peer)),
                )?;
                Ok(Self {
                    kind,
                    fam,
                    sock,
                    procs,
                })
            }
        }
    }

    /// Session state and accepted route count, from one cheap query:
    /// BIRD `show protocols all snd` ("Routes: N imported"), FRR
    /// `show bgp summary json` (`state`, `pfxRcd`: both O(1) per peer).
    pub(crate) fn poll(&mut self) -> anyhow::Result<Seen> {
        for p in &mut self.procs {
            p.check()?;
        }
        match self.kind {
            ReceiverKind::Bird => {
                let out = birdc(&self.sock, "show protocols all snd")?;
                let established = out
                    .lines()
                    .any(|l| l.contains("snd") && l.contains("Established"));
                let routes = out
                    .lines()
                    .find_map(|l| l.trim_start().strip_prefix("Routes:"))
                    .and_then(|r| r.split_whitespace().next()?.parse().ok())
                    .unwrap_or(0);
                Ok(Seen {
                    established,
                    routes,
                })
            }
            ReceiverKind::Frr => {
                let out = vty(&self.sock, "show bgp summary json")?;
                let v: Value = serde_json::from_str(&out).with_context(|| out.clone())?;
                let af = match self.fam {
                    Fam::V4 => "ipv4Unicast",
                    Fam::V6 => "ipv6Unicast",
                };
                let p = &v[af]["peers"][self.fam.snd()];
                Ok(Seen {
                    established: p["state"].as_str() == Some("Established"),
                    routes: p["pfxRcd"].as_u64().unwrap_or(0),
                })
            }
        }
    }

    /// Stops the receiver's processes.
    pub(crate) fn stop(&mut self) {
        for p in self.procs.iter_mut().rev() {
            p.stop(Duration::from_secs(2));
        }
    }
}
