//! `inject`: announce N distinct prefixes to one peer and time it.
//!
//! ```text
//! cargo run --release -p bgp-session --example inject -- --local-asn A --peer ADDR[:PORT] \
//!     --peer-asn B [--router-id ID] [--local-address ADDR] [--count N] [--prefix CIDR] [--len L] \
//!     [--ipv6] [--hold S] [--md5 PASSWORD] [--passive] [--listen ADDR[:PORT]] [--communities LIST] \
//!     [--idle-hold S] [--connect-retry S] [--graceful-restart S [--restarting] [--gr-shutdown]] \
//!     [--add-path] [--exit-after-sync] [--control-stdin]
//! ```
//!
//! Prints the time to Established and until End-of-RIB was sent. Without
//! `--exit-after-sync` it stays up until SIGINT/SIGTERM, then closes with a
//! Cease (Administrative Shutdown), or silently with `--gr-shutdown`.
//!
//! With `--control-stdin` it also reads one command per line from stdin
//! (the interop tests drive it this way):
//!
//! ```text
//! announce PREFIX [med=N] [local-pref=N] [communities=A:B,...] [large=A:B:C,...]
//!                 [origin=igp|egp|incomplete] [prepend=N]
//! withdraw PREFIX
//! status            -> one line: "status state=... sent_update=... recv_route_refresh=..."
//! quit              -> shut down like SIGTERM (end of input does the same)
//! ```
//!
//! Every command is acknowledged with a line `ok <command>` or `error <why>`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bgp_proto::attribute::{Community, LargeCommunity, Origin};
use bgp_session::{
    ConnectMode, DownReason, Event, GracefulRestartConfig, Password, PeerConfig, Peers, RemoteAs,
    Route, RouteAttrs, Speaker,
};
use clap::Parser;
use ipnet::IpNet;

/// Announce N prefixes to a BGP peer.
#[derive(Parser, Debug)]
struct Args {
    /// Our AS number.
    #[arg(long)]
    local_asn: u32,
    /// Peer address, optionally with port (default 179).
    #[arg(long)]
    peer: String,
    /// Peer AS number.
    #[arg(long)]
    peer_asn: u32,
    /// Our BGP identifier (default: the local address if IPv4, else 192.0.2.1).
    #[arg(long)]
    router_id: Option<Ipv4Addr>,
    /// Source address for the session (and default next hop).
    #[arg(long)]
    local_address: Option<IpAddr>,
    /// Number of prefixes.
    #[arg(long, default_value_t = 100)]
    count: u64,
    /// Range to carve prefixes from (default 100.64.0.0/10, or 2001:db8::/32 with --ipv6).
    #[arg(long)]
    prefix: Option<IpNet>,
    /// Prefix length (default 32, or 128 with --ipv6).
    #[arg(long)]
    len: Option<u8>,
    /// Announce IPv6 prefixes.
    #[arg(long)]
    ipv6: bool,
    /// Hold time in seconds.
    #[arg(long, default_value_t = 90)]
    hold: u64,
    /// TCP MD5 password (RFC 2385).
    #[arg(long)]
    md5: Option<String>,
    /// Wait for the peer to connect instead of connecting.
    #[arg(long)]
    passive: bool,
    /// Address to listen on (default 0.0.0.0:179 with --passive).
    #[arg(long)]
    listen: Option<String>,
    /// Communities, comma-separated (A:B or well-known names).
    #[arg(long, value_delimiter = ',')]
    communities: Vec<Community>,
    /// Large communities, comma-separated (A:B:C).
    #[arg(long, value_delimiter = ',')]
    large_communities: Vec<LargeCommunity>,
    /// MULTI_EXIT_DISC.
    #[arg(long)]
    med: Option<u32>,
    /// LOCAL_PREF (iBGP only).
    #[arg(long)]
    local_pref: Option<u32>,
    /// IdleHold time after a session error in seconds (0: reconnect at once).
    #[arg(long, default_value_t = 1)]
    idle_hold: u64,
    /// Advertise graceful restart with this restart time in seconds.
    #[arg(long)]
    graceful_restart: Option<u64>,
    /// Set the Restart State bit: we just restarted (RFC 4724).
    #[arg(long)]
    restarting: bool,
    /// On SIGTERM/SIGINT close without NOTIFICATION, so peers keep routes (RFC 4724).
    #[arg(long)]
    gr_shutdown: bool,
    /// Offer ADD-PATH send for the announced family (RFC 7911).
    #[arg(long)]
    add_path: bool,
    /// ConnectRetryTime in seconds.
    #[arg(long, default_value_t = 5)]
    connect_retry: u64,
    /// Exit after End-of-RIB is sent.
    #[arg(long)]
    exit_after_sync: bool,
    /// Read announce/withdraw/status/quit commands from stdin (see the module docs).
    #[arg(long)]
    control_stdin: bool,
}

/// Parses `announce PREFIX [key=value...]` arguments into a route.
fn parse_route(args: &[&str]) -> anyhow::Result<Route> {
    let (prefix, opts) = args.split_first().context("announce: missing prefix")?;
    let prefix: IpNet = prefix
        .parse()
        .with_context(|| format!("bad prefix {prefix:?}"))?;
    let mut attrs = RouteAttrs::default();
    for opt in opts {
        let (k, v) = opt
            .split_once('=')
            .with_context(|| format!("expected key=value, got {opt:?}"))?;
        let list = || v.split(',').filter(|s| !s.is_empty());
        match k {
            "med" => attrs.med = Some(v.parse()?),
            "local-pref" => attrs.local_pref = Some(v.parse()?),
            "communities" => {
                attrs.communities = list().map(str::parse).collect::<Result<_, _>>()?
            }
            "large" => {
                attrs.large_communities = list().map(str::parse).collect::<Result<_, _>>()?
            }
            "prepend" => attrs.as_path_prepend = v.parse()?,
            "origin" => {
                attrs.origin = Some(match v {
                    "igp" => Origin::Igp,
                    "egp" => Origin::Egp,
                    "incomplete" => Origin::Incomplete,
                    _ => bail!("bad origin {v:?}"),
                })
            }
            _ => bail!("unknown attribute {k:?}"),
        }
    }
    Ok(Route::with_attrs(prefix, attrs))
}

/// One line describing the peer's state and counters.
fn status_line(speaker: &Speaker, peer: SocketAddr) -> String {
    let Some(s) = speaker.status(peer) else {
        return "status state=Removed".into();
    };
    let st = &s.stats;
    format!(
        "status state={} synced={} flaps={} sent_open={} sent_update={} sent_keepalive={} \
         sent_notification={} sent_route_refresh={} recv_open={} recv_update={} recv_keepalive={} \
         recv_notification={} recv_route_refresh={} announced={} pending={}",
        s.state,
        s.synced,
        st.flaps,
        st.sent.open,
        st.sent.update,
        st.sent.keepalive,
        st.sent.notification,
        st.sent.route_refresh,
        st.received.open,
        st.received.update,
        st.received.keepalive,
        st.received.notification,
        st.received.route_refresh,
        st.prefixes_announced,
        st.prefixes_pending,
    )
}

/// Human-readable reason a session went down.
fn down_reason(r: &DownReason) -> String {
    match r {
        DownReason::NotificationSent(n) => format!("sent NOTIFICATION {n}"),
        DownReason::NotificationReceived(n) => format!("received NOTIFICATION {n}"),
        DownReason::ConnectionClosed => "connection closed".into(),
        DownReason::GracefulRestart => "graceful restart".into(),
    }
}

/// What a control command asks for.
enum Control {
    Continue,
    Quit,
}

/// Runs one control command; prints `ok ...` or `error ...`.
fn control(speaker: &Speaker, peer: SocketAddr, line: &str) -> Control {
    let words: Vec<&str> = line.split_whitespace().collect();
    let result: anyhow::Result<Option<String>> = match words.split_first() {
        None => return Control::Continue,
        Some((&"announce", rest)) => parse_route(rest).map(|r| {
            speaker.announce(r, Peers::All);
            None
        }),
        Some((&"withdraw", [p])) => p
            .parse::<IpNet>()
            .map(|p| {
                speaker.withdraw(p);
                None
            })
            .map_err(Into::into),
        Some((&"status", [])) => Ok(Some(status_line(speaker, peer))),
        Some((&"quit", [])) => return Control::Quit,
        Some(_) => Err(anyhow::anyhow!("unknown command")),
    };
    match result {
        Ok(Some(out)) => println!("{out}"),
        Ok(None) => println!("ok {line}"),
        Err(e) => println!("error {line}: {e:#}"),
    }
    Control::Continue
}

fn parse_addr(s: &str, default_port: u16) -> anyhow::Result<SocketAddr> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let ip: IpAddr = s
        .trim_matches(|c| c == '[' || c == ']')
        .parse()
        .with_context(|| format!("bad address {s:?}"))?;
    Ok(SocketAddr::new(ip, default_port))
}

/// `count` consecutive prefixes of length `len` inside `range`, generated
/// lazily (a million prefixes are never held in a list here).
fn carve(range: IpNet, len: u8, count: u64) -> anyhow::Result<impl Iterator<Item = IpNet>> {
    if len < range.prefix_len() || len > range.max_prefix_len() {
        bail!(
            "--len {len} must be between {} and {}",
            range.prefix_len(),
            range.max_prefix_len()
        );
    }
    let room = u32::from(len - range.prefix_len());
    if room < 64 && count > (1u64 << room) {
        bail!(
            "{range} holds only {} prefixes of length /{len}",
            1u64 << room
        );
    }
    let shift = u32::from(range.max_prefix_len() - len);
    let base = range.trunc();
    // Every step fits: `count` prefixes of length `len` fit in `range` (checked above).
    Ok((0..count).filter_map(move |i| {
        let step = u128::from(i).checked_shl(shift)?;
        match base {
            IpNet::V4(n) => {
                let a = u32::from(n.network()).checked_add(u32::try_from(step).ok()?)?;
                IpNet::new(IpAddr::V4(Ipv4Addr::from(a)), len).ok()
            }
            IpNet::V6(n) => {
                let a = u128::from(n.network()).checked_add(step)?;
                IpNet::new(IpAddr::V6(a.into()), len).ok()
            }
        }
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let t0 = Instant::now();
    let peer = parse_addr(&args.peer, 179)?;
    let range = args.prefix.unwrap_or_else(|| {
        if args.ipv6 {
            "2001:db8::/32".parse().unwrap_or_default()
        } else {
            "100.64.0.0/10".parse().unwrap_or_default()
        }
    });
    let len = args.len.unwrap_or(if args.ipv6 { 128 } else { 32 });
    let prefixes = carve(range, len, args.count)?;
    let router_id = args.router_id.unwrap_or(match args.local_address {
        Some(IpAddr::V4(a)) => a,
        _ => Ipv4Addr::new(192, 0, 2, 1),
    });
    let mut cfg = PeerConfig::new(
        peer,
        args.local_asn,
        RemoteAs::Asn(args.peer_asn),
        router_id,
    );
    cfg.hold_time = Duration::from_secs(args.hold);
    cfg.local_address = args.local_address;
    cfg.md5_password = args.md5.map(Password::new);
    cfg.idle_hold = Duration::from_secs(args.idle_hold);
    cfg.connect_retry = Duration::from_secs(args.connect_retry);
    cfg.mode = if args.passive {
        ConnectMode::Passive
    } else {
        ConnectMode::Both
    };
    cfg.graceful_restart = args.graceful_restart.map(|s| GracefulRestartConfig {
        restart_time: Duration::from_secs(s),
        restarting: args.restarting,
    });
    if args.add_path {
        for fam in cfg.families.clone() {
            cfg.add_path_send.insert(fam);
        }
    }
    let attrs = RouteAttrs {
        communities: args.communities,
        large_communities: args.large_communities,
        med: args.med,
        local_pref: args.local_pref,
        ..RouteAttrs::default()
    };
    let speaker = Speaker::new();
    let mut events = speaker.subscribe();
    if args.passive || args.listen.is_some() {
        let listen = parse_addr(args.listen.as_deref().unwrap_or("0.0.0.0"), 179)?;
        let bound = speaker.listen(listen).await?;
        eprintln!("listening on {bound}");
    }
    speaker.set_routes(prefixes.map(|p| (Route::with_attrs(p, attrs.clone()), Peers::All)));
    let count = args.count;
    speaker.add_peer(cfg)?;
    eprintln!("announcing {count} prefixes to {peer}");
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut established: Option<Duration> = None;
    // Commands from stdin, read on a plain thread (tokio's stdin needs a feature we do not enable).
    let (line_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    if args.control_stdin {
        std::thread::spawn(move || {
            for line in std::io::stdin().lines() {
                let Ok(line) = line else { break };
                if line_tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    loop {
        tokio::select! {
            line = lines.recv(), if args.control_stdin => match line {
                Some(line) => {
                    if let Control::Quit = control(&speaker, peer, line.trim()) {
                        break;
                    }
                }
                // End of input: leave like on SIGTERM.
                None => break,
            },
            ev = events.recv() => match ev {
                Ok(e) => match e.event {
                    Event::Established(info) => {
                        let t = t0.elapsed();
                        established = Some(t);
                        println!("established after {:.3} s (peer AS {}, hold {} s)", t.as_secs_f64(), info.peer_as, info.hold_time);
                    }
                    Event::SyncComplete => {
                        let t = t0.elapsed();
                        let after = established.map(|e| t.saturating_sub(e)).unwrap_or_default();
                        println!("End-of-RIB sent after {:.3} s ({:.3} s after Established, {} prefixes)", t.as_secs_f64(), after.as_secs_f64(), count);
                        if args.exit_after_sync {
                            // Give the writer a moment to flush, then leave politely.
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            speaker.shutdown(Some("inject: done".into()), false).await;
                            return Ok(());
                        }
                    }
                    Event::Down(r) => println!("session down: {}", down_reason(&r)),
                    Event::ConnectionError(r) => eprintln!("connection error: {}", down_reason(&r)),
                    _ => {}
                },
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => eprintln!("missed {n} events"),
                Err(_) => bail!("speaker stopped"),
            },
            _ = tokio::signal::ctrl_c() => break,
            _ = sigterm.recv() => break,
        }
    }
    speaker
        .shutdown(Some("inject: shutting down".into()), args.gr_shutdown)
        .await;
    println!("stopped");
    Ok(())
}
