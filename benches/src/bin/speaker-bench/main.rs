//! `speaker-bench`: speaker throughput against real routers, side by side
//! (issue 6 §2).
//!
//! For each sender (our `inject`, GoBGP, BIRD, FRR), receiver (BIRD, FRR)
//! and N (IPv4 /32s and IPv6 /128s), it builds two fresh network namespaces
//! joined by a veth pair, starts the receiver, starts the sender, and polls
//! the receiver's control socket until it reports the session Established
//! and then all N routes accepted. Measured per run:
//!
//! - time from spawning the sender to Established (seen by the receiver);
//! - time from spawning the sender, and from Established, until the
//!   receiver reports all N routes;
//! - the sender's peak RSS (VmHWM) and CPU time (utime + stime), summed over
//!   its processes and read from `/proc` just before it is stopped.
//!
//! Everything is killed and the namespaces deleted between runs. Prints a
//! markdown table of medians with ratios to ours ("their time ÷ ours") and
//! writes SVG plots of the time after Established against N.
//!
//! ```text
//! cargo build --release -p benches --bin speaker-bench
//! cargo build --release -p bgp-session --example inject
//! sudo target/release/speaker-bench [--runs 3] [--n 100000,1000000] [--n6 100000]
//!     [--senders inject,gobgp,bird,frr] [--receivers bird,frr] [--json FILE]
//!     [--plot-dir DIR | --no-plot] [--inject PATH] [--from-json FILE...] [--smoke]
//! ```
//!
//! `--smoke`: N = 1000 IPv4, one run, inject and BIRD into BIRD, no plot;
//! exits non-zero if any run fails (CI).

// A benchmark binary: failing loudly on a broken setup is the right behaviour.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod lab;
mod plot;
mod receivers;
mod report;
mod senders;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use serde::{Deserialize, Serialize};

use lab::{Fam, Lab, log};
use receivers::{Receiver, ReceiverKind};
use senders::{Inputs, Sender, SenderKind};

/// Speaker throughput: inject vs GoBGP, BIRD and FRR into BIRD and FRR.
#[derive(Parser, Debug)]
struct Args {
    /// Runs per (sender, receiver, N); the table shows medians.
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// IPv4 /32 counts.
    #[arg(long, value_delimiter = ',', default_value = "100000,1000000")]
    n: Vec<u64>,
    /// IPv6 /128 counts (`--n6 ''` for none).
    #[arg(long, value_delimiter = ',', default_value = "100000")]
    n6: Vec<String>,
    /// Senders, in order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "inject,gobgp,bird,frr"
    )]
    senders: Vec<SenderKind>,
    /// Receivers.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "bird,frr")]
    receivers: Vec<ReceiverKind>,
    /// The `inject` binary (default: `examples/inject` next to this binary,
    /// built with cargo in the same profile if missing).
    #[arg(long)]
    inject: Option<PathBuf>,
    /// Write every sample as JSON (rewritten after each run).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Render the table and plots from earlier `--json` files instead of measuring.
    #[arg(long, num_args = 1..)]
    from_json: Vec<PathBuf>,
    /// Directory for the SVG plots.
    #[arg(long)]
    plot_dir: Option<PathBuf>,
    /// Do not write plots.
    #[arg(long)]
    no_plot: bool,
    /// Receiver poll interval once Established, in ms (10 ms before).
    #[arg(long, default_value_t = 50)]
    poll_ms: u64,
    /// Give up on a run after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Keep each run's configs and logs under `/tmp/sb-<pid>/`.
    #[arg(long)]
    keep: bool,
    /// CI smoke: N = 1000 IPv4, 1 run, inject and BIRD into BIRD, no plot.
    #[arg(long)]
    smoke: bool,
}

/// One (sender, receiver, family, N) combination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Case {
    /// The receiving daemon.
    pub(crate) receiver: ReceiverKind,
    /// Address family.
    pub(crate) fam: Fam,
    /// Number of prefixes.
    pub(crate) n: u64,
    /// The sending implementation.
    pub(crate) sender: SenderKind,
}

/// One measured run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Sample {
    /// What ran.
    pub(crate) case: Case,
    /// Run number (1-based).
    pub(crate) run: u32,
    /// Seconds from spawning the sender to Established.
    pub(crate) established_s: Option<f64>,
    /// Seconds from spawning the sender to all N routes at the receiver.
    pub(crate) total_s: Option<f64>,
    /// Seconds from Established to all N routes.
    pub(crate) after_established_s: Option<f64>,
    /// Sender peak RSS (sum of VmHWM), bytes.
    pub(crate) sender_rss: Option<u64>,
    /// Sender CPU time (utime + stime), seconds.
    pub(crate) sender_cpu_s: Option<f64>,
    /// Why the run failed.
    pub(crate) error: Option<String>,
}

/// Machine and versions, printed with the table.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Machine {
    /// `nproc`.
    pub(crate) nproc: String,
    /// CPU model from /proc/cpuinfo.
    pub(crate) cpu: String,
    /// Total memory.
    pub(crate) mem: String,
    /// Kernel.
    pub(crate) kernel: String,
    /// Daemon versions.
    pub(crate) versions: Vec<String>,
    /// When.
    pub(crate) date: String,
}

/// The JSON file: machine plus samples.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Results {
    /// Where it ran.
    pub(crate) machine: Machine,
    /// Every run.
    pub(crate) samples: Vec<Sample>,
}

fn sh(cmd: &str) -> String {
    lab::run(&["sh", "-c", cmd])
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn machine() -> Machine {
    Machine {
        nproc: sh("nproc"),
        cpu: sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-"),
        mem: sh("free -g | awk '/Mem:/ {print $2 \" GiB\"}'"),
        kernel: sh("uname -r"),
        versions: vec![
            sh("bird --version 2>&1"),
            sh("/usr/lib/frr/bgpd --version 2>&1 | head -1"),
            sh("gobgpd --version 2>&1"),
        ],
        date: sh("date -u '+%Y-%m-%d %H:%M UTC'"),
    }
}

/// Finds the `inject` example next to this binary, building it if missing.
fn find_inject(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    let exe = std::env::current_exe()?;
    let profile_dir = exe.parent().context("exe dir")?.to_owned();
    let inject = profile_dir.join("examples").join("inject");
    if inject.exists() {
        return Ok(inject);
    }
    let target_dir = profile_dir.parent().context("target dir")?;
    let profile = match profile_dir.file_name().and_then(|s| s.to_str()) {
        Some("debug") | None => "dev".to_owned(),
        Some(p) => p.to_owned(),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    log(&format!("building the inject example ({profile} profile)"));
    let st = std::process::Command::new(cargo)
        .args([
            "build",
            "-p",
            "bgp-session",
            "--example",
            "inject",
            "--profile",
            &profile,
            "--target-dir",
        ])
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()?;
    if !st.success() || !inject.exists() {
        bail!("could not build {} ({st})", inject.display());
    }
    Ok(inject)
}

/// One run of one case.
fn run_case(case: Case, run_no: u32, args: &Args, inputs: &Inputs, clk_tck: f64) -> Sample {
    let mut s = Sample {
        case,
        run: run_no,
        established_s: None,
        total_s: None,
        after_established_s: None,
        sender_rss: None,
        sender_cpu_s: None,
        error: None,
    };
    if let Err(e) = measure(&mut s, args, inputs, clk_tck) {
        s.error = Some(format!("{e:#}"));
    }
    s
}

fn measure(s: &mut Sample, args: &Args, inputs: &Inputs, clk_tck: f64) -> anyhow::Result<()> {
    let case = s.case;
    inputs.prepare(case.sender, case.fam, case.n)?;
    let lab = Lab::new(s.run, args.keep)?;
    let mut rcv = Receiver::start(case.receiver, &lab, case.fam)?;
    let timeout = Duration::from_secs(args.timeout);
    let t0 = Instant::now();
    let mut snd = Sender::start(case.sender, &lab, case.fam, case.n, inputs)?;
    let mut est: Option<Duration> = None;
    let total = loop {
        snd.check()?;
        let seen = rcv.poll()?;
        let now = t0.elapsed();
        if seen.established && est.is_none() {
            est = Some(now);
        }
        let last = seen.routes;
        if seen.routes >= case.n {
            if seen.routes > case.n {
                bail!(
                    "receiver reports {} routes, expected {}",
                    seen.routes,
                    case.n
                );
            }
            // Seen in the same poll as Established: count it as Established then.
            est.get_or_insert(now);
            break now;
        }
        if now > timeout {
            bail!(
                "timeout after {:?}: established={:?}, {last} of {} routes",
                timeout,
                est.map(|e| e.as_secs_f64()),
                case.n
            );
        }
        std::thread::sleep(if est.is_some() {
            Duration::from_millis(args.poll_ms)
        } else {
            Duration::from_millis(10)
        });
    };
    let usage = snd.usage(clk_tck)?;
    snd.stop();
    rcv.stop();
    drop(lab);
    let est = est.unwrap_or(total);
    s.established_s = Some(est.as_secs_f64());
    s.total_s = Some(total.as_secs_f64());
    s.after_established_s = Some(total.saturating_sub(est).as_secs_f64());
    s.sender_rss = Some(usage.peak_rss);
    s.sender_cpu_s = Some(usage.cpu);
    Ok(())
}

fn save(path: &Path, r: &Results) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(r)?)?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.smoke {
        args.runs = 1;
        args.n = vec![1000];
        args.n6 = Vec::new();
        args.senders = vec![SenderKind::Inject, SenderKind::Bird];
        args.receivers = vec![ReceiverKind::Bird];
        args.no_plot = true;
        args.timeout = args.timeout.min(40);
    }
    let plot_dir = args
        .plot_dir
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/img"));
    if !args.from_json.is_empty() {
        let mut all = Results::default();
        for f in &args.from_json {
            let r: Results = serde_json::from_str(&std::fs::read_to_string(f)?)
                .with_context(|| f.display().to_string())?;
            all.machine = r.machine;
            all.samples.extend(r.samples);
        }
        print!("{}", report::markdown(&all));
        if !args.no_plot {
            for p in plot::plots(&all, &plot_dir)? {
                eprintln!("wrote {}", p.display());
            }
        }
        return Ok(());
    }
    let n6: Vec<u64> = args
        .n6
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()
        .context("--n6")?;
    lab::remove_stale();
    let inputs = Inputs {
        inject: find_inject(args.inject.as_deref())?,
        cache: lab::scratch_root(),
    };
    std::fs::create_dir_all(&inputs.cache)?;
    let clk_tck = lab::clk_tck();
    let mut cases = Vec::new();
    for &(fam, ref ns) in &[(Fam::V4, args.n.clone()), (Fam::V6, n6)] {
        for &n in ns {
            for &receiver in &args.receivers {
                for &sender in &args.senders {
                    cases.push(Case {
                        receiver,
                        fam,
                        n,
                        sender,
                    });
                }
            }
        }
    }
    let mut results = Results {
        machine: machine(),
        samples: Vec::new(),
    };
    log(&format!(
        "{} cases x {} runs; inject = {}",
        cases.len(),
        args.runs,
        inputs.inject.display()
    ));
    // Runs are interleaved (all cases, then all cases again) so that slow
    // drifts of the shared machine spread over every sender alike.
    for run_no in 1..=args.runs {
        for &case in &cases {
            log(&format!(
                "run {run_no}/{}: {} -> {}, {} x {}",
                args.runs,
                case.sender.name(),
                case.receiver.name(),
                case.n,
                case.fam.label()
            ));
            let s = run_case(case, run_no, &args, &inputs, clk_tck);
            match &s.error {
                None => log(&format!(
                    "  established {:.3} s, all routes {:.3} s ({:.3} s after Established), sender {:.1} MB peak RSS, {:.2} s CPU",
                    s.established_s.unwrap_or_default(),
                    s.total_s.unwrap_or_default(),
                    s.after_established_s.unwrap_or_default(),
                    s.sender_rss.unwrap_or_default() as f64 / 1e6,
                    s.sender_cpu_s.unwrap_or_default()
                )),
                Some(e) => log(&format!("  FAILED: {e}")),
            }
            results.samples.push(s);
            if let Some(j) = &args.json {
                save(j, &results)?;
            }
        }
    }
    if !args.keep {
        let _ = std::fs::remove_dir_all(&inputs.cache);
    }
    print!("{}", report::markdown(&results));
    if !args.no_plot {
        for p in plot::plots(&results, &plot_dir)? {
            eprintln!("wrote {}", p.display());
        }
    }
    let failed = results.samples.iter().filter(|s| s.error.is_some()).count();
    if failed > 0 {
        bail!("{failed} of {} runs failed", results.samples.len());
    }
    Ok(())
}
