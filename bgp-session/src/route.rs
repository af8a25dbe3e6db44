//! Routes we originate, with their per-route attributes.

use std::net::{IpAddr, Ipv6Addr};

use bgp_proto::attribute::{Community, ExtendedCommunity, LargeCommunity, Origin};
use ipnet::IpNet;

/// An explicit next hop for a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NextHopOverride {
    /// Use this address.
    Address(IpAddr),
    /// An IPv6 global address plus a link-local one (RFC 2545 §3).
    Ipv6WithLinkLocal {
        /// The global address.
        global: Ipv6Addr,
        /// The link-local address.
        link_local: Ipv6Addr,
    },
}

/// Attributes of an originated route. The defaults give what MetalLB sends:
/// ORIGIN IGP, our AS on eBGP sessions, next hop = the session's local address.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteAttrs {
    /// Next hop; `None` means the local address of each session.
    pub next_hop: Option<NextHopOverride>,
    /// ORIGIN; IGP when `None`.
    pub origin: Option<Origin>,
    /// How many extra times to prepend our AS on eBGP sessions.
    pub as_path_prepend: u8,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF (sent only on iBGP sessions, RFC 4271 §5.1.5).
    pub local_pref: Option<u32>,
    /// COMMUNITIES (RFC 1997).
    pub communities: Vec<Community>,
    /// LARGE_COMMUNITY (RFC 8092).
    pub large_communities: Vec<LargeCommunity>,
    /// EXTENDED COMMUNITIES (RFC 4360).
    pub extended_communities: Vec<ExtendedCommunity>,
}

/// A route: a prefix and its attributes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    /// The prefix (host bits are cleared on insertion).
    pub prefix: IpNet,
    /// Its attributes.
    pub attrs: RouteAttrs,
}

impl Route {
    /// A route with default attributes.
    pub fn new(prefix: IpNet) -> Self {
        Self {
            prefix: prefix.trunc(),
            attrs: RouteAttrs::default(),
        }
    }

    /// A route with the given attributes.
    pub fn with_attrs(prefix: IpNet, attrs: RouteAttrs) -> Self {
        Self {
            prefix: prefix.trunc(),
            attrs,
        }
    }
}
