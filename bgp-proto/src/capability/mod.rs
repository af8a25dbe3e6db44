//! Capabilities advertisement (RFC 5492) and the capabilities this crate types.
//!
//! A capability this crate does not know, or a known one whose value is
//! malformed, is kept as [`Capability::Unknown`] so that an OPEN re-encodes
//! byte-exact and nothing is dropped.

mod graceful_restart;

use bytes::{BufMut, Bytes, BytesMut};

pub use graceful_restart::{GracefulRestart, GracefulRestartFamily, LlgrFamily};

use crate::context::Family;
use crate::iana::{Afi, CapabilityCode, Safi};

/// ADD-PATH send/receive mode for one family (RFC 7911 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddPathMode {
    /// The sender can receive multiple paths (1).
    Receive,
    /// The sender can send multiple paths (2).
    Send,
    /// Both (3).
    Both,
}

impl AddPathMode {
    fn from_wire(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::Receive),
            2 => Some(Self::Send),
            3 => Some(Self::Both),
            _ => None,
        }
    }
    fn to_wire(self) -> u8 {
        match self {
            Self::Receive => 1,
            Self::Send => 2,
            Self::Both => 3,
        }
    }
}

/// One family in the ADD-PATH capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AddPathFamily {
    /// The address family.
    pub family: Family,
    /// What the sender can do for it.
    pub mode: AddPathMode,
}

/// One entry of the extended next hop capability (RFC 8950 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExtendedNextHop {
    /// NLRI AFI.
    pub afi: Afi,
    /// NLRI SAFI (two octets on the wire).
    pub safi: u16,
    /// Next hop AFI.
    pub next_hop_afi: Afi,
}

/// BGP role (RFC 9234 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Role(pub u8);

impl Role {
    /// Provider (0).
    pub const PROVIDER: Self = Self(0);
    /// Route server (1).
    pub const ROUTE_SERVER: Self = Self(1);
    /// Route server client (2).
    pub const ROUTE_SERVER_CLIENT: Self = Self(2);
    /// Customer (3).
    pub const CUSTOMER: Self = Self(3);
    /// Peer (4).
    pub const PEER: Self = Self(4);

    /// The role a correctly configured peer has opposite this one (RFC 9234 §4.2).
    pub fn expected_peer_role(self) -> Option<Self> {
        match self.0 {
            0 => Some(Self::CUSTOMER),
            1 => Some(Self::ROUTE_SERVER_CLIENT),
            2 => Some(Self::ROUTE_SERVER),
            3 => Some(Self::PROVIDER),
            4 => Some(Self::PEER),
            _ => None,
        }
    }
}

/// A capability (RFC 5492 §4).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capability {
    /// Multiprotocol extensions for one family (1, RFC 4760 §8).
    Multiprotocol(Family),
    /// Route refresh (2, RFC 2918).
    RouteRefresh,
    /// Extended next hop encoding (5, RFC 8950).
    ExtendedNextHop(Vec<ExtendedNextHop>),
    /// Extended message (6, RFC 8654).
    ExtendedMessage,
    /// BGP role (9, RFC 9234).
    Role(Role),
    /// Graceful restart (64, RFC 4724).
    GracefulRestart(GracefulRestart),
    /// 4-octet AS number support, with our AS (65, RFC 6793).
    FourOctetAs(u32),
    /// ADD-PATH (69, RFC 7911).
    AddPath(Vec<AddPathFamily>),
    /// Enhanced route refresh (70, RFC 7313).
    EnhancedRouteRefresh,
    /// Long-lived graceful restart (71, RFC 9494).
    LongLivedGracefulRestart(Vec<LlgrFamily>),
    /// FQDN (73, draft-walton-bgp-hostname-capability): host and domain name octets.
    Fqdn {
        /// Host name (UTF-8 by convention, not checked).
        hostname: Bytes,
        /// Domain name.
        domain: Bytes,
    },
    /// Cisco's pre-standard route refresh (128).
    RouteRefreshCisco,
    /// Any other capability, or a known one with a malformed value.
    Unknown {
        /// The code.
        code: CapabilityCode,
        /// The value octets.
        value: Bytes,
    },
}

impl Capability {
    /// The capability code.
    pub fn code(&self) -> CapabilityCode {
        match self {
            Self::Multiprotocol(_) => CapabilityCode::MULTIPROTOCOL,
            Self::RouteRefresh => CapabilityCode::ROUTE_REFRESH,
            Self::ExtendedNextHop(_) => CapabilityCode::EXTENDED_NEXT_HOP,
            Self::ExtendedMessage => CapabilityCode::EXTENDED_MESSAGE,
            Self::Role(_) => CapabilityCode::BGP_ROLE,
            Self::GracefulRestart(_) => CapabilityCode::GRACEFUL_RESTART,
            Self::FourOctetAs(_) => CapabilityCode::FOUR_OCTET_AS,
            Self::AddPath(_) => CapabilityCode::ADD_PATH,
            Self::EnhancedRouteRefresh => CapabilityCode::ENHANCED_ROUTE_REFRESH,
            Self::LongLivedGracefulRestart(_) => CapabilityCode::LONG_LIVED_GRACEFUL_RESTART,
            Self::Fqdn { .. } => CapabilityCode::FQDN,
            Self::RouteRefreshCisco => CapabilityCode::ROUTE_REFRESH_CISCO,
            Self::Unknown { code, .. } => *code,
        }
    }

    /// The family of a multiprotocol capability (RFC 4760 §8), including one
    /// kept raw because its reserved octet was not zero.
    pub fn multiprotocol_family(&self) -> Option<Family> {
        match self {
            Self::Multiprotocol(f) => Some(*f),
            Self::Unknown {
                code: CapabilityCode::MULTIPROTOCOL,
                value,
            } => match value.as_ref() {
                [a1, a2, _, s] => Some(Family::new(Afi(u16::from_be_bytes([*a1, *a2])), Safi(*s))),
                _ => None,
            },
            _ => None,
        }
    }

    /// Decodes a capability value; malformed known ones become `Unknown`.
    pub(crate) fn decode(code: CapabilityCode, v: &[u8], whole: &Bytes) -> Self {
        Self::decode_known(code, v).unwrap_or_else(|| Self::Unknown {
            code,
            value: crate::wire::share(whole, v),
        })
    }

    fn decode_known(code: CapabilityCode, v: &[u8]) -> Option<Self> {
        Some(match (code, v) {
            // A non-zero reserved octet (RFC 4760 §8: ignored on receipt) keeps
            // the capability raw so it re-encodes exactly;
            // `Capability::multiprotocol_family` still reads it.
            (CapabilityCode::MULTIPROTOCOL, [a1, a2, 0, s]) => {
                Self::Multiprotocol(Family::new(Afi(u16::from_be_bytes([*a1, *a2])), Safi(*s)))
            }
            (CapabilityCode::ROUTE_REFRESH, []) => Self::RouteRefresh,
            (CapabilityCode::EXTENDED_NEXT_HOP, v) if !v.is_empty() && v.len() % 6 == 0 => {
                Self::ExtendedNextHop(
                    v.chunks_exact(6)
                        .filter_map(|c| match c {
                            [a1, a2, s1, s2, n1, n2] => Some(ExtendedNextHop {
                                afi: Afi(u16::from_be_bytes([*a1, *a2])),
                                safi: u16::from_be_bytes([*s1, *s2]),
                                next_hop_afi: Afi(u16::from_be_bytes([*n1, *n2])),
                            }),
                            _ => None,
                        })
                        .collect(),
                )
            }
            (CapabilityCode::EXTENDED_MESSAGE, []) => Self::ExtendedMessage,
            (CapabilityCode::BGP_ROLE, [r]) => Self::Role(Role(*r)),
            (CapabilityCode::GRACEFUL_RESTART, v) => {
                Self::GracefulRestart(GracefulRestart::decode(v)?)
            }
            (CapabilityCode::FOUR_OCTET_AS, [a, b, c, d]) => {
                Self::FourOctetAs(u32::from_be_bytes([*a, *b, *c, *d]))
            }
            (CapabilityCode::ADD_PATH, v) if !v.is_empty() && v.len() % 4 == 0 => {
                let mut out = Vec::with_capacity(v.len() / 4);
                for c in v.chunks_exact(4) {
                    let [a1, a2, s, m] = c else { return None };
                    out.push(AddPathFamily {
                        family: Family::new(Afi(u16::from_be_bytes([*a1, *a2])), Safi(*s)),
                        mode: AddPathMode::from_wire(*m)?,
                    });
                }
                Self::AddPath(out)
            }
            (CapabilityCode::ENHANCED_ROUTE_REFRESH, []) => Self::EnhancedRouteRefresh,
            (CapabilityCode::LONG_LIVED_GRACEFUL_RESTART, v) => {
                Self::LongLivedGracefulRestart(graceful_restart::decode_llgr(v)?)
            }
            (CapabilityCode::FQDN, [hl, rest @ ..]) => {
                let (host, rest) = rest.split_at_checked(usize::from(*hl))?;
                let (dl, rest) = rest.split_first()?;
                if rest.len() != usize::from(*dl) {
                    return None;
                }
                Self::Fqdn {
                    hostname: Bytes::copy_from_slice(host),
                    domain: Bytes::copy_from_slice(rest),
                }
            }
            (CapabilityCode::ROUTE_REFRESH_CISCO, []) => Self::RouteRefreshCisco,
            _ => return None,
        })
    }

    /// Octets of the value.
    pub fn value_len(&self) -> usize {
        match self {
            Self::Multiprotocol(_) | Self::FourOctetAs(_) => 4,
            Self::RouteRefresh
            | Self::ExtendedMessage
            | Self::EnhancedRouteRefresh
            | Self::RouteRefreshCisco => 0,
            Self::ExtendedNextHop(v) => 6 * v.len(),
            Self::Role(_) => 1,
            Self::GracefulRestart(g) => g.encoded_len(),
            Self::AddPath(v) => 4 * v.len(),
            Self::LongLivedGracefulRestart(v) => 7 * v.len(),
            Self::Fqdn { hostname, domain } => 2 + hostname.len().min(255) + domain.len().min(255),
            Self::Unknown { value, .. } => value.len(),
        }
    }

    /// Writes code, length and value.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.put_u8(self.code().0);
        dst.put_u8(u8::try_from(self.value_len()).unwrap_or(u8::MAX));
        match self {
            Self::Multiprotocol(f) => {
                dst.put_u16(f.afi.0);
                dst.put_u8(0);
                dst.put_u8(f.safi.0);
            }
            Self::RouteRefresh
            | Self::ExtendedMessage
            | Self::EnhancedRouteRefresh
            | Self::RouteRefreshCisco => {}
            Self::ExtendedNextHop(v) => {
                for e in v {
                    dst.put_u16(e.afi.0);
                    dst.put_u16(e.safi);
                    dst.put_u16(e.next_hop_afi.0);
                }
            }
            Self::Role(r) => dst.put_u8(r.0),
            Self::GracefulRestart(g) => g.encode(dst),
            Self::FourOctetAs(a) => dst.put_u32(*a),
            Self::AddPath(v) => {
                for e in v {
                    dst.put_u16(e.family.afi.0);
                    dst.put_u8(e.family.safi.0);
                    dst.put_u8(e.mode.to_wire());
                }
            }
            Self::LongLivedGracefulRestart(v) => graceful_restart::encode_llgr(v, dst),
            Self::Fqdn { hostname, domain } => {
                for part in [hostname, domain] {
                    let part = part.get(..part.len().min(255)).unwrap_or_default();
                    dst.put_u8(u8::try_from(part.len()).unwrap_or(u8::MAX));
                    dst.put_slice(part);
                }
            }
            Self::Unknown { value, .. } => dst.put_slice(value),
        }
    }
}
