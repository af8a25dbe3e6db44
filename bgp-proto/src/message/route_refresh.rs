//! ROUTE-REFRESH (RFC 2918 §3) with the BoRR/EoRR subtypes of RFC 7313 §3.

use bytes::{BufMut, BytesMut};

use crate::context::Family;
use crate::iana::{Afi, Safi};

/// A ROUTE-REFRESH message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RouteRefresh {
    /// Address family.
    pub afi: Afi,
    /// Message subtype (RFC 7313 §3): 0 normal request, 1 BoRR, 2 EoRR.
    pub subtype: u8,
    /// Subsequent address family.
    pub safi: Safi,
}

impl RouteRefresh {
    /// A normal route refresh request (subtype 0).
    pub const REQUEST: u8 = 0;
    /// Beginning of Route Refresh (subtype 1, RFC 7313).
    pub const BORR: u8 = 1;
    /// End of Route Refresh (subtype 2, RFC 7313).
    pub const EORR: u8 = 2;

    /// A request to resend `family`.
    pub fn request(family: Family) -> Self {
        Self::with_subtype(family, Self::REQUEST)
    }

    /// A ROUTE-REFRESH of the given subtype.
    pub fn with_subtype(family: Family, subtype: u8) -> Self {
        Self {
            afi: family.afi,
            subtype,
            safi: family.safi,
        }
    }

    /// The family.
    pub fn family(&self) -> Family {
        Family::new(self.afi, self.safi)
    }

    pub(crate) fn decode(body: &[u8]) -> Option<Self> {
        match body {
            [a1, a2, st, s] => Some(Self {
                afi: Afi(u16::from_be_bytes([*a1, *a2])),
                subtype: *st,
                safi: Safi(*s),
            }),
            _ => None,
        }
    }

    pub(crate) fn encode_body(&self, dst: &mut BytesMut) {
        dst.put_u16(self.afi.0);
        dst.put_u8(self.subtype);
        dst.put_u8(self.safi.0);
    }
}
