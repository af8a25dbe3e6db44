//! `embed`: the smallest program that announces one prefix over BGP.
//!
//! ```text
//! cargo run -p bgp-session --example embed -- 192.0.2.2 64512 64513
//! ```

use std::time::Duration;

use bgp_session::{PeerConfig, Peers, RemoteAs, Route, Speaker};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let peer = args.next().unwrap_or_else(|| "127.0.0.1".into());
    let local_as: u32 = args.next().unwrap_or_else(|| "64512".into()).parse()?;
    let peer_as: u32 = args.next().unwrap_or_else(|| "64513".into()).parse()?;

    let speaker = Speaker::new();
    speaker.announce(Route::new("203.0.113.10/32".parse()?), Peers::All);
    speaker.add_peer(PeerConfig::new(
        format!("{peer}:179").parse()?,
        local_as,
        RemoteAs::Asn(peer_as),
        "192.0.2.1".parse()?,
    ))?;
    tokio::time::sleep(Duration::from_secs(30)).await;
    speaker
        .shutdown(Some("embed example done".into()), false)
        .await;
    Ok(())
}
