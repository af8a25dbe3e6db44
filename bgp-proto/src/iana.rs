//! IANA code points as open newtypes.
//!
//! Every registry value is a transparent newtype over its wire integer with
//! associated constants for the values this crate knows. Values it does not
//! know survive a decode/encode round trip unchanged and print as numbers in
//! `Debug` output, so nothing a peer sends is ever lost or rejected merely for
//! being new.

macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident($int:ty) {
            $( $(#[$cmeta:meta])* $cname:ident = $value:expr, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
        $vis struct $name(pub $int);

        impl $name {
            $( $(#[$cmeta])* pub const $cname: Self = Self($value); )*

            /// The registry name of a known value, or `None` for an unknown one.
            pub fn name(self) -> Option<&'static str> {
                match self {
                    $( Self::$cname => Some(stringify!($cname)), )*
                    _ => None,
                }
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}::{}", stringify!($name), n),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }

        impl From<$int> for $name {
            fn from(v: $int) -> Self { Self(v) }
        }

        impl From<$name> for $int {
            fn from(v: $name) -> Self { v.0 }
        }
    };
}

open_enum! {
    /// BGP message type (RFC 4271 §4.1).
    pub struct MessageType(u8) {
        /// OPEN (RFC 4271 §4.2).
        OPEN = 1,
        /// UPDATE (RFC 4271 §4.3).
        UPDATE = 2,
        /// NOTIFICATION (RFC 4271 §4.5).
        NOTIFICATION = 3,
        /// KEEPALIVE (RFC 4271 §4.4).
        KEEPALIVE = 4,
        /// ROUTE-REFRESH (RFC 2918).
        ROUTE_REFRESH = 5,
    }
}

open_enum! {
    /// Address Family Identifier (IANA "Address Family Numbers").
    pub struct Afi(u16) {
        /// IPv4.
        IPV4 = 1,
        /// IPv6.
        IPV6 = 2,
        /// Layer-2 VPN.
        L2VPN = 25,
        /// BGP-LS.
        BGP_LS = 16388,
    }
}

open_enum! {
    /// Subsequent Address Family Identifier (RFC 4760).
    pub struct Safi(u8) {
        /// Unicast forwarding.
        UNICAST = 1,
        /// Multicast forwarding.
        MULTICAST = 2,
        /// Labeled unicast (RFC 8277).
        LABELED_UNICAST = 4,
        /// EVPN (RFC 7432).
        EVPN = 70,
        /// MPLS-labeled VPN (RFC 4364).
        MPLS_VPN = 128,
        /// Flow specification (RFC 8955).
        FLOWSPEC = 133,
    }
}

open_enum! {
    /// Path attribute type code (IANA "BGP Path Attributes").
    pub struct AttrType(u8) {
        /// ORIGIN (RFC 4271 §5.1.1).
        ORIGIN = 1,
        /// AS_PATH (RFC 4271 §5.1.2).
        AS_PATH = 2,
        /// NEXT_HOP (RFC 4271 §5.1.3).
        NEXT_HOP = 3,
        /// MULTI_EXIT_DISC (RFC 4271 §5.1.4).
        MULTI_EXIT_DISC = 4,
        /// LOCAL_PREF (RFC 4271 §5.1.5).
        LOCAL_PREF = 5,
        /// ATOMIC_AGGREGATE (RFC 4271 §5.1.6).
        ATOMIC_AGGREGATE = 6,
        /// AGGREGATOR (RFC 4271 §5.1.7).
        AGGREGATOR = 7,
        /// COMMUNITIES (RFC 1997).
        COMMUNITIES = 8,
        /// ORIGINATOR_ID (RFC 4456).
        ORIGINATOR_ID = 9,
        /// CLUSTER_LIST (RFC 4456).
        CLUSTER_LIST = 10,
        /// MP_REACH_NLRI (RFC 4760).
        MP_REACH_NLRI = 14,
        /// MP_UNREACH_NLRI (RFC 4760).
        MP_UNREACH_NLRI = 15,
        /// EXTENDED COMMUNITIES (RFC 4360).
        EXTENDED_COMMUNITIES = 16,
        /// AS4_PATH (RFC 6793).
        AS4_PATH = 17,
        /// AS4_AGGREGATOR (RFC 6793).
        AS4_AGGREGATOR = 18,
        /// IPv6 Address Specific Extended Community (RFC 5701).
        IPV6_EXTENDED_COMMUNITIES = 25,
        /// LARGE_COMMUNITY (RFC 8092).
        LARGE_COMMUNITY = 32,
        /// Only to Customer (RFC 9234).
        ONLY_TO_CUSTOMER = 35,
    }
}

open_enum! {
    /// Capability code (RFC 5492, IANA "Capability Codes").
    pub struct CapabilityCode(u8) {
        /// Multiprotocol extensions (RFC 4760).
        MULTIPROTOCOL = 1,
        /// Route refresh (RFC 2918).
        ROUTE_REFRESH = 2,
        /// Extended next hop encoding (RFC 8950).
        EXTENDED_NEXT_HOP = 5,
        /// Extended message (RFC 8654).
        EXTENDED_MESSAGE = 6,
        /// BGP role (RFC 9234).
        BGP_ROLE = 9,
        /// Graceful restart (RFC 4724).
        GRACEFUL_RESTART = 64,
        /// Support for 4-octet AS numbers (RFC 6793).
        FOUR_OCTET_AS = 65,
        /// ADD-PATH (RFC 7911).
        ADD_PATH = 69,
        /// Enhanced route refresh (RFC 7313).
        ENHANCED_ROUTE_REFRESH = 70,
        /// Long-lived graceful restart (RFC 9494).
        LONG_LIVED_GRACEFUL_RESTART = 71,
        /// FQDN (draft-walton-bgp-hostname-capability).
        FQDN = 73,
        /// Pre-standard Cisco route refresh.
        ROUTE_REFRESH_CISCO = 128,
    }
}

open_enum! {
    /// NOTIFICATION error code (RFC 4271 §4.5, RFC 6608, RFC 7313).
    pub struct ErrorCode(u8) {
        /// Message Header Error (RFC 4271 §6.1).
        MESSAGE_HEADER = 1,
        /// OPEN Message Error (RFC 4271 §6.2).
        OPEN_MESSAGE = 2,
        /// UPDATE Message Error (RFC 4271 §6.3).
        UPDATE_MESSAGE = 3,
        /// Hold Timer Expired (RFC 4271 §6.5).
        HOLD_TIMER_EXPIRED = 4,
        /// Finite State Machine Error (RFC 4271 §6.6, RFC 6608).
        FSM = 5,
        /// Cease (RFC 4271 §6.7, RFC 4486).
        CEASE = 6,
        /// ROUTE-REFRESH Message Error (RFC 7313 §5).
        ROUTE_REFRESH_MESSAGE = 7,
    }
}

/// Well-known NOTIFICATION subcodes, grouped by error code.
pub mod subcode {
    /// Message Header Error subcodes (RFC 4271 §6.1).
    pub mod header {
        /// Connection Not Synchronized.
        pub const CONNECTION_NOT_SYNCHRONIZED: u8 = 1;
        /// Bad Message Length.
        pub const BAD_MESSAGE_LENGTH: u8 = 2;
        /// Bad Message Type.
        pub const BAD_MESSAGE_TYPE: u8 = 3;
    }
    /// OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492, RFC 9234).
    pub mod open {
        /// Unspecific (RFC 4271 §6.2, used for malformed optional parameters by RFC 9072).
        pub const UNSPECIFIC: u8 = 0;
        /// Unsupported Version Number.
        pub const UNSUPPORTED_VERSION: u8 = 1;
        /// Bad Peer AS.
        pub const BAD_PEER_AS: u8 = 2;
        /// Bad BGP Identifier.
        pub const BAD_BGP_IDENTIFIER: u8 = 3;
        /// Unsupported Optional Parameter.
        pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
        /// Unacceptable Hold Time.
        pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
        /// Unsupported Capability (RFC 5492 §5).
        pub const UNSUPPORTED_CAPABILITY: u8 = 7;
        /// Role Mismatch (RFC 9234 §4.2).
        pub const ROLE_MISMATCH: u8 = 11;
    }
    /// UPDATE Message Error subcodes (RFC 4271 §6.3).
    pub mod update {
        /// Malformed Attribute List.
        pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
        /// Unrecognized Well-known Attribute.
        pub const UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: u8 = 2;
        /// Missing Well-known Attribute.
        pub const MISSING_WELL_KNOWN_ATTRIBUTE: u8 = 3;
        /// Attribute Flags Error.
        pub const ATTRIBUTE_FLAGS_ERROR: u8 = 4;
        /// Attribute Length Error.
        pub const ATTRIBUTE_LENGTH_ERROR: u8 = 5;
        /// Invalid ORIGIN Attribute.
        pub const INVALID_ORIGIN_ATTRIBUTE: u8 = 6;
        /// Invalid NEXT_HOP Attribute.
        pub const INVALID_NEXT_HOP_ATTRIBUTE: u8 = 8;
        /// Optional Attribute Error.
        pub const OPTIONAL_ATTRIBUTE_ERROR: u8 = 9;
        /// Invalid Network Field.
        pub const INVALID_NETWORK_FIELD: u8 = 10;
        /// Malformed AS_PATH.
        pub const MALFORMED_AS_PATH: u8 = 11;
    }
    /// Finite State Machine Error subcodes (RFC 6608 §3).
    pub mod fsm {
        /// Unspecified Error.
        pub const UNSPECIFIED: u8 = 0;
        /// Receive Unexpected Message in OpenSent State.
        pub const UNEXPECTED_IN_OPEN_SENT: u8 = 1;
        /// Receive Unexpected Message in OpenConfirm State.
        pub const UNEXPECTED_IN_OPEN_CONFIRM: u8 = 2;
        /// Receive Unexpected Message in Established State.
        pub const UNEXPECTED_IN_ESTABLISHED: u8 = 3;
    }
    /// Cease subcodes (RFC 4486, RFC 8203, RFC 9003).
    pub mod cease {
        /// Maximum Number of Prefixes Reached.
        pub const MAX_PREFIXES: u8 = 1;
        /// Administrative Shutdown (carries a shutdown communication, RFC 9003).
        pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
        /// Peer De-configured.
        pub const PEER_DECONFIGURED: u8 = 3;
        /// Administrative Reset (carries a shutdown communication, RFC 9003).
        pub const ADMINISTRATIVE_RESET: u8 = 4;
        /// Connection Rejected.
        pub const CONNECTION_REJECTED: u8 = 5;
        /// Other Configuration Change.
        pub const OTHER_CONFIGURATION_CHANGE: u8 = 6;
        /// Connection Collision Resolution.
        pub const CONNECTION_COLLISION_RESOLUTION: u8 = 7;
        /// Out of Resources.
        pub const OUT_OF_RESOURCES: u8 = 8;
        /// Hard Reset (RFC 8538).
        pub const HARD_RESET: u8 = 9;
        /// BFD Down (RFC 9384).
        pub const BFD_DOWN: u8 = 10;
    }
    /// ROUTE-REFRESH Message Error subcodes (RFC 7313 §5).
    pub mod route_refresh {
        /// Invalid Message Length.
        pub const INVALID_MESSAGE_LENGTH: u8 = 1;
    }
}
