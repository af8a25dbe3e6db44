//! MP_UNREACH_NLRI (RFC 4760 §4).

use bytes::{BufMut, Bytes, BytesMut};

use super::mp_reach::{MpError, parses};
use crate::context::{Context, Family};
use crate::iana::{Afi, Safi};
use crate::nlri::NlriList;

/// The MP_UNREACH_NLRI attribute: withdrawn routes of one address family.
///
/// With no routes at all it is the End-of-RIB marker for its family (RFC 4724 §2).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MpUnreach {
    /// The address family.
    pub family: Family,
    /// The withdrawn routes, for IPv4/IPv6 unicast and multicast.
    pub withdrawn: NlriList,
    /// The withdrawn routes as octets, for families this crate does not parse.
    pub opaque_withdrawn: Bytes,
}

impl MpUnreach {
    /// An MP_UNREACH_NLRI for IP routes of `family`.
    pub fn new(family: Family, withdrawn: impl Into<NlriList>) -> Self {
        Self {
            family,
            withdrawn: withdrawn.into(),
            opaque_withdrawn: Bytes::new(),
        }
    }

    pub(crate) fn decode(v: &[u8], whole: &Bytes, ctx: &Context) -> Result<Self, MpError> {
        let [a1, a2, safi, field @ ..] = v else {
            return Err(MpError::Unlocatable);
        };
        let family = Family::new(Afi(u16::from_be_bytes([*a1, *a2])), Safi(*safi));
        if parses(family) {
            let withdrawn = NlriList::decode(field, whole, family.afi, ctx.add_path(family))
                .map_err(|_| MpError::Nlri(family))?;
            Ok(Self::new(family, withdrawn))
        } else {
            Ok(Self {
                family,
                withdrawn: NlriList::new(),
                opaque_withdrawn: crate::wire::share(whole, field),
            })
        }
    }

    pub(crate) fn encoded_len(&self, ctx: &Context) -> usize {
        let ap = ctx.add_path(self.family);
        3 + self.opaque_withdrawn.len() + self.withdrawn.wire_len(ap)
    }

    pub(crate) fn encode(&self, ctx: &Context, dst: &mut BytesMut) {
        dst.put_u16(self.family.afi.0);
        dst.put_u8(self.family.safi.0);
        self.withdrawn.encode(ctx.add_path(self.family), dst);
        dst.put_slice(&self.opaque_withdrawn);
    }
}
