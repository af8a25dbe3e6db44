//! `resource-bounds`: the speaker's memory and file descriptors under hostile
//! or churning peers (issue 5, "Resource bounds"). Loopback only, no root.
//!
//! The speaker under measurement is this binary's `serve` subcommand, run as
//! a child process (a `bgp_session::Speaker` with passive peers on
//! 127.0.0.1), so its RSS (VmRSS, VmHWM), open fds and CPU time are read
//! from `/proc/<pid>` without the measuring side mixed in. The peers are raw
//! TCP clients sending hand-built BGP messages.
//!
//! - `flood`: one peer sends N distinct /32s (default 1,000,000) in packed
//!   4096-octet UPDATEs, with receiving off (the default), with max-prefix
//!   (Drop, Close, Warn), and with a limit above N as a reference for the
//!   per-prefix cost of routes actually held. Prints RSS before, after and
//!   peak, and what the speaker holds.
//! - `trickle`: a peer sends its OPEN (and optionally the KEEPALIVE), then
//!   one byte per second: the hold timer must drop it (NOTIFICATION 4/0).
//!   Prints the time to the drop.
//! - `churn`: 100 peers connect, receive the speaker's routes up to
//!   End-of-RIB, then disconnect (alternately with a Cease and abruptly),
//!   in a loop for `--seconds` (default 180). Samples fds and RSS once a
//!   second; prints first/last/max and the sessions completed.
//!
//! ```text
//! cargo build --release -p benches --bin resource-bounds
//! target/release/resource-bounds [all|flood|trickle|churn] [--prefixes N] [--limit N]
//!     [--hold S] [--peers N] [--seconds S] [--smoke]
//! ```
//!
//! `--smoke` (CI): 20,000 prefixes with a limit of 1,000, hold 3 s, churn for
//! 10 s; exits non-zero if a bound is broken (speaker holds more than its
//! limit, a trickling peer is not dropped within hold + 2 s, or fds grow
//! during churn).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Bench binary: a panic is a failed run.

mod serve;
mod wire;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use serve::{PEER_AS, Receive, ServeArgs, Served};
use tokio::io::AsyncWriteExt as _;

/// Resource bounds of the speaker under hostile and churning peers.
#[derive(Parser, Debug)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// Tiny versions of everything, for CI (< 30 s); fails on a broken bound.
    #[arg(long, global = true)]
    smoke: bool,
    /// Prefixes the flooding peer sends.
    #[arg(long, global = true, default_value_t = 1_000_000)]
    prefixes: u32,
    /// The max-prefix limit in the flood cases.
    #[arg(long, global = true, default_value_t = 10_000)]
    limit: usize,
    /// Hold time for the trickle case, in seconds.
    #[arg(long, global = true, default_value_t = 9)]
    hold: u16,
    /// Churning peers.
    #[arg(long, global = true, default_value_t = 100)]
    peers: u8,
    /// Churn duration in seconds.
    #[arg(long, global = true, default_value_t = 180)]
    seconds: u64,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Everything (the default).
    All,
    /// 10^6 prefixes at a speaker with receiving off / max-prefix.
    Flood,
    /// A peer sending one byte per second.
    Trickle,
    /// Peers connecting and disconnecting in a loop.
    Churn,
    /// (internal) the speaker under measurement.
    #[command(hide = true)]
    Serve(ServeArgs),
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut cli = Cli::parse();
    if let Some(Cmd::Serve(a)) = cli.command {
        return serve::serve(a).await;
    }
    if cli.smoke {
        cli.prefixes = 20_000;
        cli.limit = 1_000;
        cli.hold = 3;
        cli.seconds = 10;
    }
    let mut failures = Vec::new();
    let cmd = cli.command.take().unwrap_or(Cmd::All);
    println!(
        "# resource-bounds ({}), speaker = child process `serve`, peers on 127.0.0.1",
        if cli.smoke { "smoke" } else { "full" }
    );
    if matches!(cmd, Cmd::All | Cmd::Flood) {
        flood(&cli, &mut failures).await?;
    }
    if matches!(cmd, Cmd::All | Cmd::Trickle) {
        trickle(&cli, &mut failures).await?;
    }
    if matches!(cmd, Cmd::All | Cmd::Churn) {
        churn(&cli, &mut failures).await?;
    }
    if failures.is_empty() {
        println!("\nall bounds held");
        Ok(())
    } else {
        for f in &failures {
            println!("BOUND BROKEN: {f}");
        }
        bail!("{} bound(s) broken", failures.len())
    }
}

// ---------------------------------------------------------------------------
// flood

async fn flood(cli: &Cli, failures: &mut Vec<String>) -> anyhow::Result<()> {
    let n = cli.prefixes;
    let limit = cli.limit;
    let msgs = wire::updates(0x0A00_0000, n, PEER_AS, Ipv4Addr::new(127, 0, 0, 1));
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    println!(
        "\n## flood: one peer sends {n} /32s in {} UPDATEs ({:.1} MB)\n",
        msgs.len(),
        bytes as f64 / 1e6
    );
    println!(
        "| receive | limit | sent | UPDATEs processed | held | session | RSS before (MiB) | RSS after (MiB) | peak (MiB) | peak − before per sent prefix (B) | time (s) |"
    );
    println!("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|");
    let reference = usize::try_from(n)? * 2;
    let cases = [
        (Receive::Off, 0usize),
        (Receive::Drop, limit),
        (Receive::Close, limit),
        (Receive::Warn, limit),
        (Receive::Drop, reference),
    ];
    let mut stream_all = Vec::with_capacity(bytes);
    for m in &msgs {
        stream_all.extend_from_slice(m);
    }
    let stream_all = Arc::new(stream_all);
    for (receive, max) in cases {
        let mut child = Served::start(&ServeArgs {
            serve_peers: 1,
            first_peer: Ipv4Addr::LOCALHOST,
            receive,
            max_prefixes: max.max(1),
            serve_hold: 90,
            routes: 0,
        })?;
        std::thread::sleep(Duration::from_millis(300));
        let before = child.sample()?;
        let t = Instant::now();
        let s = wire::establish(
            Some(Ipv4Addr::LOCALHOST),
            child.addr,
            PEER_AS,
            90,
            Ipv4Addr::new(10, 0, 0, 2),
        )
        .await?;
        let (mut rd, mut wr) = s.into_split();
        // Read whatever the speaker sends (KEEPALIVEs, End-of-RIB, a NOTIFICATION).
        let reader = tokio::spawn(async move {
            let mut notification = None;
            loop {
                let mut hdr = [0u8; 19];
                if tokio::io::AsyncReadExt::read_exact(&mut rd, &mut hdr)
                    .await
                    .is_err()
                {
                    break;
                }
                let len = usize::from(u16::from_be_bytes([hdr[16], hdr[17]]));
                let mut body = vec![0u8; len.saturating_sub(19)];
                if tokio::io::AsyncReadExt::read_exact(&mut rd, &mut body)
                    .await
                    .is_err()
                {
                    break;
                }
                if hdr[18] == wire::NOTIFICATION {
                    notification = Some(format!(
                        "{}/{}",
                        body.first().copied().unwrap_or(0),
                        body.get(1).copied().unwrap_or(0)
                    ));
                }
            }
            notification
        });
        let all = stream_all.clone();
        let write = wr.write_all(&all).await;
        let _ = wr.write_all(&wire::keepalive()).await;
        child.settle(Duration::from_secs(120))?;
        let took = t.elapsed();
        let after = child.sample()?;
        let stats = child.stats()?;
        let held: u64 = stats.get("held").and_then(|v| v.parse().ok()).unwrap_or(0);
        let processed: u64 = stats
            .get("recv_update")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let up = stats.get("established").map(String::as_str) == Some("1");
        drop(wr);
        let notification = if up {
            reader.abort();
            None
        } else {
            tokio::time::timeout(Duration::from_secs(2), reader)
                .await
                .ok()
                .and_then(Result::ok)
                .flatten()
        };
        let session = match (&notification, up) {
            (_, true) => "up".to_owned(),
            (Some(n), false) => format!("closed, NOTIFICATION {n}"),
            (None, false) => format!("closed ({write:?})"),
        };
        let label = match receive {
            Receive::Off => "off",
            Receive::Drop if max == reference => "on (no limit hit)",
            Receive::Drop => "drop",
            Receive::Close => "close",
            Receive::Warn => "warn",
        };
        let per = (after.hwm_kib.saturating_sub(before.rss_kib) * 1024) as f64 / f64::from(n);
        println!(
            "| {label} | {} | {n} | {processed} | {held} | {session} | {:.1} | {:.1} | {:.1} | {per:.1} | {:.2} |",
            if receive == Receive::Off {
                "-".to_owned()
            } else {
                max.to_string()
            },
            mib(before.rss_kib),
            mib(after.rss_kib),
            mib(after.hwm_kib),
            took.as_secs_f64()
        );
        // The bounds.
        let held = usize::try_from(held)?;
        let bound = match receive {
            Receive::Off => 0,
            Receive::Drop | Receive::Close => max,
            Receive::Warn => 2 * max,
        };
        if held > bound {
            failures.push(format!("flood {label}: holds {held} > {bound}"));
        }
        if up && processed != u64::try_from(msgs.len())? {
            failures.push(format!(
                "flood {label}: {processed} of {} UPDATEs processed",
                msgs.len()
            ));
        }
        if receive == Receive::Close && up {
            failures.push("flood close: session still up beyond max-prefix".into());
        }
        if matches!(receive, Receive::Off | Receive::Drop | Receive::Warn) && !up {
            failures.push(format!("flood {label}: session went down ({session})"));
        }
    }
    println!(
        "\nBound: with receiving off nothing is stored, so RSS stays at the idle figure plus \
         the per-connection input queue (the reader task queues up to 64 reads of up to 64 KiB \
         for the session task: about 4 MiB, bgp-session/src/driver/peer.rs); with max-prefix M \
         the speaker holds at most M prefixes (Warn: 2M). The last row (limit above N) gives \
         the cost per prefix actually held."
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// trickle

async fn trickle(cli: &Cli, failures: &mut Vec<String>) -> anyhow::Result<()> {
    let hold = cli.hold;
    println!(
        "\n## trickle: OPEN (hold {hold} s), then one byte per second\n\n\
         | after | dropped after (s, from the last whole message) | how | bytes trickled |\n|---|---:|---|---:|"
    );
    for established in [false, true] {
        let child = Served::start(&ServeArgs {
            serve_peers: 1,
            first_peer: Ipv4Addr::LOCALHOST,
            receive: Receive::Off,
            max_prefixes: 1,
            serve_hold: u64::from(hold),
            routes: 0,
        })?;
        let mut s = wire::connect_from(Some(Ipv4Addr::LOCALHOST), child.addr).await?;
        s.write_all(&wire::open(PEER_AS, hold, Ipv4Addr::new(10, 0, 0, 2)))
            .await?;
        let mut last_whole = Instant::now();
        match wire::read_msg_within(&mut s, Duration::from_secs(10)).await {
            Some((wire::OPEN, _)) => {}
            other => bail!("trickle: expected OPEN, got {:?}", other.map(|m| m.0)),
        }
        if established {
            s.write_all(&wire::keepalive()).await?;
            last_whole = Instant::now();
        }
        let (mut rd, mut wr) = s.into_split();
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (stop2, sent2) = (stop.clone(), sent.clone());
        // One byte of a KEEPALIVE per second, repeating.
        let writer = tokio::spawn(async move {
            let ka = wire::keepalive();
            let mut i = 0usize;
            while !stop2.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if wr
                    .write_all(&ka[i % ka.len()..=i % ka.len()])
                    .await
                    .is_err()
                {
                    break;
                }
                sent2.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        });
        let limit = Duration::from_secs(u64::from(hold) * 3 + 10);
        let how = loop {
            let mut hdr = [0u8; 19];
            let r = tokio::time::timeout(
                limit,
                tokio::io::AsyncReadExt::read_exact(&mut rd, &mut hdr),
            )
            .await;
            match r {
                Err(_) => break None,
                Ok(Err(_)) => break Some("closed without NOTIFICATION".to_owned()),
                Ok(Ok(_)) => {
                    let len = usize::from(u16::from_be_bytes([hdr[16], hdr[17]]));
                    let mut body = vec![0u8; len.saturating_sub(19)];
                    tokio::io::AsyncReadExt::read_exact(&mut rd, &mut body)
                        .await
                        .ok();
                    if hdr[18] == wire::NOTIFICATION {
                        break Some(format!(
                            "NOTIFICATION {}/{}",
                            body.first().copied().unwrap_or(0),
                            body.get(1).copied().unwrap_or(0)
                        ));
                    }
                }
            }
        };
        let took = last_whole.elapsed();
        stop.store(true, Ordering::Relaxed);
        writer.abort();
        drop(child);
        let label = if established {
            "Established (OPEN + KEEPALIVE)"
        } else {
            "OPEN (OpenConfirm)"
        };
        println!(
            "| {label} | {:.2} | {} | {} |",
            took.as_secs_f64(),
            how.as_deref().unwrap_or("NOT DROPPED"),
            sent.load(Ordering::Relaxed)
        );
        let ok = how.as_deref() == Some("NOTIFICATION 4/0")
            && took <= Duration::from_secs(u64::from(hold) + 2);
        if !ok {
            failures.push(format!(
                "trickle after {label}: {how:?} after {took:?} (hold {hold} s)"
            ));
        }
    }
    println!(
        "\nBound: a peer is dropped at most the negotiated hold time after its last whole \
         message, whatever it trickles (partial messages do not reset the timer). Before the \
         OPEN exchange the large hold time of RFC 4271 (240 s) applies."
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// churn

async fn churn(cli: &Cli, failures: &mut Vec<String>) -> anyhow::Result<()> {
    let peers = cli.peers;
    let seconds = cli.seconds;
    let routes = 100;
    let first = Ipv4Addr::new(127, 0, 1, 1);
    let mut child = Served::start(&ServeArgs {
        serve_peers: peers,
        first_peer: first,
        receive: Receive::Off,
        max_prefixes: 1,
        serve_hold: 9,
        routes,
    })?;
    std::thread::sleep(Duration::from_millis(300));
    let idle = child.sample()?;
    println!(
        "\n## churn: {peers} peers connect, take {routes} routes up to End-of-RIB, disconnect (Cease or abrupt), for {seconds} s\n"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let sessions = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let addr = child.addr;
    let mut tasks = Vec::new();
    for i in 0..u32::from(peers) {
        let (stop, sessions, refused) = (stop.clone(), sessions.clone(), refused.clone());
        let src = Ipv4Addr::from(u32::from(first) + i);
        tasks.push(tokio::spawn(async move {
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                match wire::establish(Some(src), addr, PEER_AS, 9, src).await {
                    Ok(mut s) => {
                        // Routes up to End-of-RIB (an UPDATE with an empty body).
                        let mut eor = false;
                        while let Some((kind, body)) =
                            wire::read_msg_within(&mut s, Duration::from_secs(5)).await
                        {
                            if kind == wire::UPDATE && body.len() == 4 {
                                eor = true;
                                break;
                            }
                        }
                        if eor {
                            sessions.fetch_add(1, Ordering::Relaxed);
                        } else {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                        if round.is_multiple_of(2) {
                            let _ = s.write_all(&wire::cease()).await;
                        }
                        drop(s);
                    }
                    Err(_) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let pause = 20 + (u64::from(i) * 7 + round * 13) % 100;
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        }));
    }
    let t = Instant::now();
    let mut samples = Vec::new();
    while t.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        samples.push((t.elapsed(), child.sample()?));
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
    }
    // Every peer gone: the speaker must be back to its idle fds.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let end = child.sample()?;
    let flaps = child.stat("flaps").unwrap_or(0);
    let first_s = samples.first().map(|s| s.1).unwrap_or_default();
    let last_s = samples.last().map(|s| s.1).unwrap_or_default();
    let max_fds = samples.iter().map(|s| s.1.fds).max().unwrap_or(0);
    let max_rss = samples.iter().map(|s| s.1.rss_kib).max().unwrap_or(0);
    // Second half vs first half of the run: mean RSS.
    let half = samples.len() / 2;
    let mean = |v: &[(Duration, serve::Sample)]| {
        v.iter().map(|s| s.1.rss_kib).sum::<u64>() as f64 / v.len().max(1) as f64
    };
    let (m1, m2) = (mean(&samples[..half]), mean(&samples[half..]));
    println!("| | idle before | first sample | last sample | max | idle after |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| fds | {} | {} | {} | {max_fds} | {} |",
        idle.fds, first_s.fds, last_s.fds, end.fds
    );
    println!(
        "| RSS (MiB) | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
        mib(idle.rss_kib),
        mib(first_s.rss_kib),
        mib(last_s.rss_kib),
        mib(max_rss),
        mib(end.rss_kib)
    );
    println!(
        "| threads | {} | {} | {} | - | {} |",
        idle.threads, first_s.threads, last_s.threads, end.threads
    );
    // RSS and fds at each tenth of the run.
    let tenths: Vec<String> = (1..=10)
        .filter_map(|k| samples.get((samples.len() * k / 10).saturating_sub(1)))
        .map(|(t, s)| {
            format!(
                "{:.0}s {:.1} MiB/{} fds",
                t.as_secs_f64(),
                mib(s.rss_kib),
                s.fds
            )
        })
        .collect();
    println!("\nover time: {}", tenths.join(", "));
    let done = sessions.load(Ordering::Relaxed);
    println!(
        "\n{done} sessions completed (End-of-RIB received), {} attempts refused or cut short, \
         speaker-side flaps {flaps}; mean RSS first half {:.1} MiB, second half {:.1} MiB ({:+.1} %).",
        refused.load(Ordering::Relaxed),
        m1 / 1024.0,
        m2 / 1024.0,
        (m2 / m1.max(1.0) - 1.0) * 100.0
    );
    if end.fds > idle.fds {
        failures.push(format!(
            "churn: {} fds after all peers left, {} before",
            end.fds, idle.fds
        ));
    }
    if done == 0 {
        failures.push("churn: no session completed".into());
    }
    let _ = child.stats().context("speaker alive after churn")?;
    Ok(())
}
