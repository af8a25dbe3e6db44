//! `collector`: a passive route collector that prints one JSON line per route event.
//!
//! ```text
//! cargo run --release -p bgp-session --example collector -- --listen 127.0.0.1:1790 \
//!     --local-asn 64512 --peer 127.0.0.1 [--peer-asn N|internal|external] [--quiet]
//! ```
#![allow(clippy::indexing_slicing)] // Keyed indexing of serde_json objects built here inserts and cannot panic.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bgp_proto::attribute::AttrValue;
use bgp_session::{
    ConnectMode, Event, MaxPrefixAction, PeerConfig, ReceiveConfig, RemoteAs, Speaker,
};
use clap::Parser;
use serde_json::json;

/// Collect routes from BGP peers.
#[derive(Parser, Debug)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:1790")]
    listen: SocketAddr,
    /// Our AS number.
    #[arg(long)]
    local_asn: u32,
    /// Router id.
    #[arg(long, default_value = "192.0.2.254")]
    router_id: Ipv4Addr,
    /// Peers to accept (repeatable).
    #[arg(long, required = true)]
    peer: Vec<IpAddr>,
    /// Peer AS: a number, `internal` or `external`.
    #[arg(long, default_value = "external")]
    peer_asn: String,
    /// Print only a summary per End-of-RIB instead of each route.
    #[arg(long)]
    quiet: bool,
    /// Maximum prefixes held per peer.
    #[arg(long, default_value_t = 10_000_000)]
    max_prefixes: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter("warn")
        .init();
    let args = Args::parse();
    let remote_as = match args.peer_asn.as_str() {
        "internal" => RemoteAs::Internal,
        "external" => RemoteAs::External,
        n => RemoteAs::Asn(n.parse().context("--peer-asn")?),
    };
    let speaker = Speaker::new();
    let mut events = speaker.subscribe();
    let bound = speaker.listen(args.listen).await?;
    eprintln!("collector listening on {bound}");
    for ip in &args.peer {
        let mut c = PeerConfig::new(
            SocketAddr::new(*ip, 179),
            args.local_asn,
            remote_as,
            args.router_id,
        );
        c.mode = ConnectMode::Passive;
        c.idle_hold = Duration::ZERO;
        c.receive = Some(ReceiveConfig {
            max_prefixes: args.max_prefixes,
            action: MaxPrefixAction::Drop,
        });
        speaker.add_peer(c)?;
    }
    let mut start: Option<Instant> = None;
    let mut count = 0usize;
    loop {
        let ev = tokio::select! {
            ev = events.recv() => ev,
            _ = tokio::signal::ctrl_c() => break,
        };
        let ev = match ev {
            Ok(ev) => ev,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                eprintln!("missed {n} events");
                continue;
            }
            Err(_) => break,
        };
        let peer = ev.peer.ip().to_string();
        match ev.event {
            Event::Established(i) => {
                start = Some(Instant::now());
                println!(
                    "{}",
                    json!({"peer": peer, "event": "established", "peer_as": i.peer_as})
                );
            }
            Event::Routes {
                announced,
                withdrawn,
            } => {
                count += announced.len();
                if args.quiet {
                    continue;
                }
                for r in announced {
                    let mut o =
                        json!({"peer": peer, "event": "announce", "prefix": r.nlri.to_string()});
                    for a in r.attributes.iter() {
                        match &a.value {
                            AttrValue::NextHop(n) => o["next_hop"] = json!(n.to_string()),
                            AttrValue::MpReach(m) => {
                                o["next_hop"] = json!(m.next_hop.addresses().join(","))
                            }
                            AttrValue::AsPath(p) => o["as_path"] = json!(p.to_string()),
                            AttrValue::MultiExitDisc(m) => o["med"] = json!(m),
                            AttrValue::LocalPref(l) => o["local_pref"] = json!(l),
                            AttrValue::Communities(c) => {
                                o["communities"] =
                                    json!(c.iter().map(|c| c.to_string()).collect::<Vec<_>>())
                            }
                            AttrValue::LargeCommunities(c) => {
                                o["large_communities"] =
                                    json!(c.iter().map(|c| c.to_string()).collect::<Vec<_>>())
                            }
                            _ => {}
                        }
                    }
                    println!("{o}");
                }
                for w in withdrawn {
                    println!(
                        "{}",
                        json!({"peer": peer, "event": "withdraw", "prefix": w.to_string()})
                    );
                }
            }
            Event::EndOfRib(f) => {
                let t = start.map(|s| s.elapsed().as_secs_f64()).unwrap_or_default();
                println!(
                    "{}",
                    json!({"peer": peer, "event": "end-of-rib", "afi": f.afi.0, "safi": f.safi.0, "prefixes": count, "seconds_since_established": t})
                );
            }
            Event::Down(r) => println!(
                "{}",
                json!({"peer": peer, "event": "down", "reason": format!("{r:?}")})
            ),
            _ => {}
        }
    }
    Ok(())
}
