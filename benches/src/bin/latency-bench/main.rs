//! `latency-bench`: how fast route changes reach BGP peers.
//!
//! ```text
//! # library latency: Speaker::announce()/withdraw() -> UPDATE at raw TCP peers on loopback
//! latency-bench [--smoke] [--peers 1,100] [--samples 1000] [--routes 10000] [--burst 100]
//!               [--spacing-ms 5] [--threads 2] [--timeout-ms 5000] [--warmup 20]
//! # failure detection: cut a speaker's link, time until another peer sees the withdrawal
//! latency-bench failure [--runs 5] [--hold 3] [--cut blackhole,link-down] [--inject PATH] [--keep]
//! ```
//!
//! **Library latency** (issue 6 §3): receivers are raw BGP peers, one blocking
//! OS thread each in this process (OPEN exchange with `bgp-proto`), timestamping
//! each UPDATE that carries a probe prefix both in user space (upper bound of
//! "leaving the speaker's socket") and with the kernel's receive timestamp. The
//! speaker runs on its own multi-threaded tokio runtime with `--routes` routes
//! installed. Each op is measured alone (`--spacing-ms` plus jitter between
//! ops), then in bursts of `--burst` back-to-back calls.
//!
//! **Failure detection** (`failure`, root, network namespaces `lb-<pid>-*`):
//! two speakers (`inject`, hold 3 s) announce to a BIRD router that exports to
//! an observer; node-1's link is cut and the observer timestamps the
//! withdrawal / failover UPDATE. See `failure.rs`.
//!
//! `--smoke` (CI): 1 peer, 50 samples, 1000 routes, a few seconds; exits
//! non-zero if an UPDATE never arrives.

// A benchmark binary: failing loudly on broken setup is the right behaviour.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod failure;
mod library;
mod receiver;
mod stats;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Route-change and failure-detection latency of the speaker.
#[derive(Parser, Debug)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    lib: LibArgs,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Failure detection with real daemons in network namespaces (root).
    Failure(FailureArgs),
}

#[derive(Args, Debug)]
struct LibArgs {
    /// Tiny CI run: 1 peer, 50 samples, 1000 routes; fails if an UPDATE never arrives.
    #[arg(long)]
    smoke: bool,
    /// Peer counts to measure, one run each.
    #[arg(long, value_delimiter = ',', default_value = "1,100")]
    peers: Vec<usize>,
    /// Measured announce and withdraw ops per mode (spaced, burst).
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// Routes installed before measuring.
    #[arg(long, default_value_t = 10_000)]
    routes: usize,
    /// Calls per burst.
    #[arg(long, default_value_t = 100)]
    burst: usize,
    /// Pause between ops (plus up to the same again as random jitter).
    #[arg(long, default_value_t = 5)]
    spacing_ms: u64,
    /// Worker threads of the speaker's tokio runtime.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Give up on an op after this long.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
    /// Unrecorded announce/withdraw pairs before the spaced series.
    #[arg(long, default_value_t = 20)]
    warmup: usize,
}

#[derive(Args, Debug)]
struct FailureArgs {
    /// Link cuts to measure.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Hold time of the speakers and the router (keepalive = hold / 3).
    #[arg(long, default_value_t = 3)]
    hold: u64,
    /// The `inject` example binary (default: `../examples/inject` next to this binary).
    #[arg(long)]
    inject: Option<PathBuf>,
    /// Keep the logs and configs after the run (for debugging).
    #[arg(long)]
    keep: bool,
    /// How to cut node-1's link; each mode gets `--runs` cuts.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "blackhole,link-down"
    )]
    cut: Vec<failure::Cut>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Some(Cmd::Failure(a)) => {
            let inject = match a.inject {
                Some(p) => p,
                None => std::env::current_exe()?
                    .parent()
                    .map(|d| d.join("examples").join("inject"))
                    .unwrap_or_default(),
            };
            let out = failure::run(&failure::FailureConfig {
                runs: a.runs,
                hold: a.hold,
                inject,
                keep: a.keep,
                cuts: a.cut,
            })?;
            println!("{out}");
        }
        None => {
            let a = cli.lib;
            let (peers, samples, routes, burst, warmup) = if a.smoke {
                (vec![1], 50, 1000, 50, 5)
            } else {
                (a.peers, a.samples, a.routes, a.burst, a.warmup)
            };
            let spacing = Duration::from_millis(if a.smoke { 2 } else { a.spacing_ms });
            let mut results = Vec::new();
            for p in &peers {
                let cfg = library::LibConfig {
                    peers: *p,
                    samples,
                    routes,
                    burst,
                    spacing,
                    threads: a.threads,
                    timeout: Duration::from_millis(a.timeout_ms),
                    warmup,
                };
                eprintln!("library latency: {cfg:?}");
                results.push(library::run(&cfg)?);
            }
            let line = format!(
                "samples={samples} per (mode, op), routes={routes}, burst={burst}, spacing={} ms + jitter, speaker runtime threads={}, warm-up pairs={warmup}",
                spacing.as_millis(),
                a.threads
            );
            println!("{}", library::report(&results, &line));
        }
    }
    Ok(())
}
