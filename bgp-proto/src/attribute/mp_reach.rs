//! MP_REACH_NLRI (RFC 4760 §3), with IPv6 link-local next hops (RFC 2545 §3)
//! and IPv4 NLRI over an IPv6 next hop (RFC 8950 §3).

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, Bytes, BytesMut};

use crate::context::{Context, Family};
use crate::iana::{Afi, Safi};
use crate::nlri::NlriList;

/// The next hop of an MP_REACH_NLRI attribute.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NextHop {
    /// An IPv4 next hop (4 octets).
    Ipv4(Ipv4Addr),
    /// An IPv6 global next hop, optionally followed by a link-local one
    /// (16 or 32 octets; RFC 2545 §3, RFC 8950 §3).
    Ipv6 {
        /// The global address.
        global: Ipv6Addr,
        /// The link-local address, when the next hop field is 32 octets.
        link_local: Option<Ipv6Addr>,
    },
    /// Any other encoding (VPN route distinguishers, unknown families), kept as octets.
    Other(Bytes),
}

impl NextHop {
    /// Octets of the next hop field.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Ipv4(_) => 4,
            Self::Ipv6 { link_local, .. } => 16 + 16 * usize::from(link_local.is_some()),
            Self::Other(b) => b.len(),
        }
    }

    pub(crate) fn encode(&self, dst: &mut BytesMut) {
        match self {
            Self::Ipv4(a) => dst.put_slice(&a.octets()),
            Self::Ipv6 { global, link_local } => {
                dst.put_slice(&global.octets());
                if let Some(ll) = link_local {
                    dst.put_slice(&ll.octets());
                }
            }
            Self::Other(b) => dst.put_slice(b),
        }
    }

    /// The addresses, as strings, for display (`bgpdecode` `next_hops`).
    pub fn addresses(&self) -> Vec<String> {
        match self {
            Self::Ipv4(a) => vec![a.to_string()],
            Self::Ipv6 { global, link_local } => {
                let mut v = vec![global.to_string()];
                v.extend(link_local.map(|l| l.to_string()));
                v
            }
            Self::Other(b) => vec![b.iter().map(|x| format!("{x:02x}")).collect()],
        }
    }

    fn decode(afi: Afi, safi: Safi, v: &[u8], whole: &Bytes) -> Option<Self> {
        let ip_family = matches!(safi, Safi::UNICAST | Safi::MULTICAST);
        match (afi, ip_family, v.len()) {
            (Afi::IPV4, true, 4) => Some(Self::Ipv4(Ipv4Addr::from(<[u8; 4]>::try_from(v).ok()?))),
            (Afi::IPV4 | Afi::IPV6, true, 16) => Some(Self::Ipv6 {
                global: Ipv6Addr::from(<[u8; 16]>::try_from(v).ok()?),
                link_local: None,
            }),
            (Afi::IPV4 | Afi::IPV6, true, 32) => {
                let (g, l) = v.split_first_chunk::<16>()?;
                Some(Self::Ipv6 {
                    global: Ipv6Addr::from(*g),
                    link_local: Some(Ipv6Addr::from(<[u8; 16]>::try_from(l).ok()?)),
                })
            }
            (Afi::IPV4 | Afi::IPV6, true, _) => None,
            _ => Some(Self::Other(crate::wire::share(whole, v))),
        }
    }
}

/// The MP_REACH_NLRI attribute: reachable routes of one address family.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MpReach {
    /// The address family of the NLRI.
    pub family: Family,
    /// The next hop for every NLRI in the attribute.
    pub next_hop: NextHop,
    /// The routes, for IPv4/IPv6 unicast and multicast.
    pub nlri: NlriList,
    /// The NLRI field as octets, for families this crate does not parse (else empty).
    pub opaque_nlri: Bytes,
    /// The reserved octet after the next hop (RFC 4760 §3: sent as 0,
    /// ignored on receipt; kept so that re-encoding is byte-exact).
    pub reserved: u8,
}

/// Why an MP_REACH_NLRI / MP_UNREACH_NLRI value is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MpError {
    /// The AFI/SAFI cannot even be read: session reset (RFC 7606 §7.11).
    Unlocatable,
    /// The next hop is unusable (RFC 7606 §7.11 / RFC 4760 §3).
    NextHop(Family),
    /// The NLRI do not parse (RFC 7606 §7.11, §5.3).
    Nlri(Family),
}

impl MpReach {
    /// An MP_REACH_NLRI for IP routes of `family` via `next_hop`.
    pub fn new(family: Family, next_hop: NextHop, nlri: impl Into<NlriList>) -> Self {
        Self {
            family,
            next_hop,
            nlri: nlri.into(),
            opaque_nlri: Bytes::new(),
            reserved: 0,
        }
    }

    pub(crate) fn decode(v: &[u8], whole: &Bytes, ctx: &Context) -> Result<Self, MpError> {
        let [a1, a2, safi, nh_len, rest @ ..] = v else {
            return Err(MpError::Unlocatable);
        };
        let family = Family::new(Afi(u16::from_be_bytes([*a1, *a2])), Safi(*safi));
        let (nh, rest) = rest
            .split_at_checked(usize::from(*nh_len))
            .ok_or(MpError::NextHop(family))?;
        // One reserved octet follows the next hop (RFC 4760 §3); it is ignored on receipt.
        let [reserved, nlri_field @ ..] = rest else {
            return Err(MpError::NextHop(family));
        };
        let next_hop =
            NextHop::decode(family.afi, family.safi, nh, whole).ok_or(MpError::NextHop(family))?;
        if parses(family) {
            let nlri = NlriList::decode(nlri_field, whole, family.afi, ctx.add_path(family))
                .map_err(|_| MpError::Nlri(family))?;
            Ok(Self {
                reserved: *reserved,
                ..Self::new(family, next_hop, nlri)
            })
        } else {
            Ok(Self {
                family,
                next_hop,
                nlri: NlriList::new(),
                opaque_nlri: crate::wire::share(whole, nlri_field),
                reserved: *reserved,
            })
        }
    }

    pub(crate) fn encoded_len(&self, ctx: &Context) -> usize {
        let ap = ctx.add_path(self.family);
        5 + self.next_hop.encoded_len() + self.opaque_nlri.len() + self.nlri.wire_len(ap)
    }

    pub(crate) fn encode(&self, ctx: &Context, dst: &mut BytesMut) {
        dst.put_u16(self.family.afi.0);
        dst.put_u8(self.family.safi.0);
        dst.put_u8(u8::try_from(self.next_hop.encoded_len()).unwrap_or(u8::MAX));
        self.next_hop.encode(dst);
        dst.put_u8(self.reserved);
        self.nlri.encode(ctx.add_path(self.family), dst);
        dst.put_slice(&self.opaque_nlri);
    }
}

/// Whether this crate parses the NLRI of `family` into prefixes.
pub(crate) fn parses(family: Family) -> bool {
    matches!(family.afi, Afi::IPV4 | Afi::IPV6)
        && matches!(family.safi, Safi::UNICAST | Safi::MULTICAST)
}
