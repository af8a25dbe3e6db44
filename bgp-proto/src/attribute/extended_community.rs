//! EXTENDED COMMUNITIES (RFC 4360) and IPv6 Address Specific Extended
//! Communities (RFC 5701).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, BytesMut};

use super::list::{List, ListItem};

/// One 8-octet extended community (RFC 4360 §2), kept as its octets.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExtendedCommunity(pub [u8; 8]);

/// The decoded meaning of the extended communities this crate knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtendedCommunityKind {
    /// Route Target (sub-type 0x02), with its administrator and assigned number.
    RouteTarget(Administrator),
    /// Route Origin (sub-type 0x03), with its administrator and assigned number.
    RouteOrigin(Administrator),
    /// Any other type and sub-type.
    Other,
}

/// Global and local administrator of an RFC 4360 §3 community.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Administrator {
    /// Two-octet AS specific (type 0x00 or 0x40): AS and 32-bit number.
    As2 {
        /// The AS number.
        asn: u16,
        /// The local administrator.
        local: u32,
    },
    /// IPv4 address specific (type 0x01 or 0x41): address and 16-bit number.
    Ipv4 {
        /// The address.
        address: Ipv4Addr,
        /// The local administrator.
        local: u16,
    },
    /// Four-octet AS specific (type 0x02 or 0x42, RFC 5668): AS and 16-bit number.
    As4 {
        /// The AS number.
        asn: u32,
        /// The local administrator.
        local: u16,
    },
}

impl ExtendedCommunity {
    const SUB_ROUTE_TARGET: u8 = 0x02;
    const SUB_ROUTE_ORIGIN: u8 = 0x03;

    /// The high-order type octet.
    pub fn type_high(&self) -> u8 {
        self.0[0]
    }

    /// The sub-type octet (for the regular types).
    pub fn sub_type(&self) -> u8 {
        self.0[1]
    }

    /// Whether the IANA authority bit says this is transitive across ASes.
    pub fn is_transitive(&self) -> bool {
        self.0[0] & 0x40 == 0
    }

    /// Decodes the route target and route origin communities.
    pub fn kind(&self) -> ExtendedCommunityKind {
        let [t, s, a, b, c, d, e, f] = self.0;
        let admin = match t & 0x3F {
            0x00 => Administrator::As2 {
                asn: u16::from_be_bytes([a, b]),
                local: u32::from_be_bytes([c, d, e, f]),
            },
            0x01 => Administrator::Ipv4 {
                address: Ipv4Addr::new(a, b, c, d),
                local: u16::from_be_bytes([e, f]),
            },
            0x02 => Administrator::As4 {
                asn: u32::from_be_bytes([a, b, c, d]),
                local: u16::from_be_bytes([e, f]),
            },
            _ => return ExtendedCommunityKind::Other,
        };
        match s {
            Self::SUB_ROUTE_TARGET => ExtendedCommunityKind::RouteTarget(admin),
            Self::SUB_ROUTE_ORIGIN => ExtendedCommunityKind::RouteOrigin(admin),
            _ => ExtendedCommunityKind::Other,
        }
    }

    fn build(sub: u8, admin: Administrator) -> Self {
        let mut o = [0u8; 8];
        o[1] = sub;
        match admin {
            Administrator::As2 { asn, local } => {
                o[0] = 0x00;
                o[2..4].copy_from_slice(&asn.to_be_bytes());
                o[4..8].copy_from_slice(&local.to_be_bytes());
            }
            Administrator::Ipv4 { address, local } => {
                o[0] = 0x01;
                o[2..6].copy_from_slice(&address.octets());
                o[6..8].copy_from_slice(&local.to_be_bytes());
            }
            Administrator::As4 { asn, local } => {
                o[0] = 0x02;
                o[2..6].copy_from_slice(&asn.to_be_bytes());
                o[6..8].copy_from_slice(&local.to_be_bytes());
            }
        }
        Self(o)
    }

    /// A transitive Route Target (RFC 4360 §4).
    pub fn route_target(admin: Administrator) -> Self {
        Self::build(Self::SUB_ROUTE_TARGET, admin)
    }

    /// A transitive Route Origin (RFC 4360 §5).
    pub fn route_origin(admin: Administrator) -> Self {
        Self::build(Self::SUB_ROUTE_ORIGIN, admin)
    }
}

impl fmt::Display for ExtendedCommunity {
    /// 16 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ExtendedCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind() {
            ExtendedCommunityKind::Other => write!(f, "ExtendedCommunity({self})"),
            k => write!(f, "ExtendedCommunity({k:?})"),
        }
    }
}

impl ListItem for ExtendedCommunity {
    const WIRE_LEN: usize = 8;
    fn read(b: &[u8]) -> Option<Self> {
        Some(Self(b.try_into().ok()?))
    }
    fn write(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.0);
    }
}

/// The EXTENDED COMMUNITIES attribute value.
pub type ExtendedCommunities = List<ExtendedCommunity>;

/// One 20-octet IPv6 Address Specific Extended Community (RFC 5701 §2).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv6ExtendedCommunity(pub [u8; 20]);

impl Ipv6ExtendedCommunity {
    /// Type octet.
    pub fn type_high(&self) -> u8 {
        self.0[0]
    }
    /// Sub-type octet.
    pub fn sub_type(&self) -> u8 {
        self.0[1]
    }
    /// The global administrator address.
    pub fn address(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.0[2..18]);
        Ipv6Addr::from(a)
    }
    /// The local administrator.
    pub fn local(&self) -> u16 {
        u16::from_be_bytes([self.0[18], self.0[19]])
    }
    /// Builds one from its parts.
    pub fn new(type_high: u8, sub_type: u8, address: Ipv6Addr, local: u16) -> Self {
        let mut o = [0u8; 20];
        o[0] = type_high;
        o[1] = sub_type;
        o[2..18].copy_from_slice(&address.octets());
        o[18..20].copy_from_slice(&local.to_be_bytes());
        Self(o)
    }
}

impl fmt::Display for Ipv6ExtendedCommunity {
    /// 40 lowercase hex digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Ipv6ExtendedCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ipv6ExtendedCommunity({self})")
    }
}

impl ListItem for Ipv6ExtendedCommunity {
    const WIRE_LEN: usize = 20;
    fn read(b: &[u8]) -> Option<Self> {
        Some(Self(b.try_into().ok()?))
    }
    fn write(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.0);
    }
}

/// The IPv6 Address Specific Extended Community attribute value.
pub type Ipv6ExtendedCommunities = List<Ipv6ExtendedCommunity>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_target_round_trip() {
        let rt = ExtendedCommunity::route_target(Administrator::As2 {
            asn: 65000,
            local: 100,
        });
        assert_eq!(rt.to_string(), "0002fde800000064");
        assert_eq!(
            rt.kind(),
            ExtendedCommunityKind::RouteTarget(Administrator::As2 {
                asn: 65000,
                local: 100
            })
        );
        let ro = ExtendedCommunity::route_origin(Administrator::As4 {
            asn: 4_200_000_000,
            local: 7,
        });
        assert!(matches!(
            ro.kind(),
            ExtendedCommunityKind::RouteOrigin(Administrator::As4 { .. })
        ));
    }
}
