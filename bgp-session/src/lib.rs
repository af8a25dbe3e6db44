//! # bgp-session
//!
//! A sans-IO BGP session state machine (RFC 4271 §8) and multi-peer speaker.
//!
//! The core has no sockets, no clock and no async runtime: time and received
//! bytes go in, socket actions and application events come out.
//!
//! ```text
//!   Input (start, TCP up/down, bytes) ──► Session::handle(now, input)
//!   deadline reached                   ──► Session::handle_timeout(now)
//!   route changes                      ──► Session::announce / withdraw / set_routes + flush
//!                                           │
//!   Session::poll_action() ◄────────────────┤  Connect, Send{bytes}, Close
//!   Session::poll_event()  ◄────────────────┤  StateChanged, Established, Down, Routes…
//!   Session::poll_timeout() ◄───────────────┘  next deadline
//! ```
//!
//! The [`Speaker`] (feature `tokio`, on by default) runs sessions for many
//! peers on tokio: one task per peer, a listener that dispatches incoming
//! connections by peer address, and socket options (source address, TCP MD5,
//! TTL/GTSM) set through socket2.
//!
//! ## Announcing a route
//!
//! This runs as-is: a second speaker on loopback plays the router and
//! receives the route.
//!
//! ```
//! use bgp_session::{ConnectMode, Event, MaxPrefixAction, PeerConfig, Peers, ReceiveConfig, RemoteAs, Route, Speaker};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The "router": accepts us and keeps what we send.
//! let router = Speaker::new();
//! let router_addr = router.listen("127.0.0.1:0".parse()?).await?;
//! let mut us = PeerConfig::new("127.0.0.1:179".parse()?, 64513, RemoteAs::Asn(64512), "192.0.2.2".parse()?);
//! us.mode = ConnectMode::Passive;
//! us.receive = Some(ReceiveConfig { max_prefixes: 100, action: MaxPrefixAction::Close });
//! router.add_peer(us)?;
//! let mut router_events = router.subscribe();
//!
//! // Our program: announce one prefix to the router.
//! let speaker = Speaker::new();
//! speaker.announce(Route::new("203.0.113.10/32".parse()?), Peers::All);
//! speaker.add_peer(PeerConfig::new(router_addr, 64512, RemoteAs::Asn(64513), "192.0.2.1".parse()?))?;
//!
//! loop {
//!     if let Event::Routes { announced, .. } = router_events.recv().await?.event {
//!         assert_eq!(announced[0].nlri.prefix.to_string(), "203.0.113.10/32");
//!         break;
//!     }
//! }
//! speaker.shutdown(Some("bye".into()), false).await;
//! # Ok(())
//! # }
//! ```

mod bulk;
mod config;
#[cfg(feature = "tokio")]
mod driver;
mod event;
mod fsm;
mod rib_out;
mod route;
mod routes;
mod session;
mod stats;

pub use bgp_proto;
pub use config::{
    ConfigError, ConnectMode, GracefulRestartConfig, MaxPrefixAction, Password, PeerConfig,
    ReceiveConfig, RemoteAs,
};
#[cfg(feature = "tokio")]
pub use driver::{PeerStatus, Speaker, SpeakerError, SpeakerEvent};
pub use event::{Action, ConnId, Direction, DownReason, Event, Input, ReceivedRoute, SessionInfo};
pub use fsm::State;
pub use route::{NextHopOverride, Route, RouteAttrs};
pub use routes::{Peers, RouteTable};
pub use session::Session;
pub use stats::{MessageCounts, SessionStats};
