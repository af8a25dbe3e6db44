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
