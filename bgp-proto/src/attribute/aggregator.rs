//! AGGREGATOR (RFC 4271 §5.1.7) and AS4_AGGREGATOR (RFC 6793 §3).

use std::net::Ipv4Addr;

/// The AS and BGP identifier of the speaker that aggregated a route.
///
/// AGGREGATOR carries the AS in 2 or 4 octets depending on the session's
/// 4-octet AS capability; AS4_AGGREGATOR always uses 4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Aggregator {
    /// The aggregating AS (AS_TRANS when it did not fit 2 octets).
    pub asn: u32,
    /// The aggregating speaker's BGP identifier.
    pub address: Ipv4Addr,
}

impl Aggregator {
    /// Decodes 6 (2-octet AS) or 8 (4-octet AS) octets.
    pub(crate) fn decode(v: &[u8], four_octet: bool) -> Option<Self> {
        match (four_octet, v) {
            (false, [a, b, c, d, e, f]) => Some(Self {
                asn: u32::from(u16::from_be_bytes([*a, *b])),
                address: Ipv4Addr::new(*c, *d, *e, *f),
            }),
            (true, [a, b, c, d, e, f, g, h]) => Some(Self {
                asn: u32::from_be_bytes([*a, *b, *c, *d]),
                address: Ipv4Addr::new(*e, *f, *g, *h),
            }),
            _ => None,
        }
    }
}
