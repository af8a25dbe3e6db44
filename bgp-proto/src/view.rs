//! A borrowed, non-allocating view of a received UPDATE.

use crate::attribute::AttrFlags;
use crate::context::{Context, Family};
use crate::error::{DecodeError, ErrorKind};
use crate::iana::{Afi, AttrType, MessageType, Safi};
use crate::nlri::{self, NlriIter};
use crate::wire;

/// A validated view of an UPDATE message that walks prefixes and attributes
/// in place, without building owned values or allocating.
///
/// [`UpdateView::new`] checks the header, the field lengths, every IPv4 prefix
/// and the framing of every attribute; attribute values are interpreted only
/// when asked for. Use [`crate::Message::decode`] for full RFC 7606 checks.
#[derive(Clone, Copy, Debug)]
pub struct UpdateView<'a> {
    withdrawn: &'a [u8],
    attributes: &'a [u8],
    nlri: &'a [u8],
    mp_reach: Option<&'a [u8]>,
    mp_unreach: Option<&'a [u8]>,
    ctx: Context,
}

impl<'a> UpdateView<'a> {
    /// Validates `msg`, one complete UPDATE message with its header.
    pub fn new(msg: &'a [u8], ctx: &Context) -> Result<Self, DecodeError> {
        let len = crate::header::message_len(msg, ctx.max_message_len())?.ok_or(
            DecodeError::new(ErrorKind::BadMessageLength { length: 0 }, 16),
        )?;
        let length = u16::try_from(len).unwrap_or(u16::MAX);
        if len != msg.len() || len < 23 {
            return Err(DecodeError::new(ErrorKind::BadMessageLength { length }, 16));
        }
        let ty = msg.get(18).copied().unwrap_or(0);
        if ty != MessageType::UPDATE.0 {
            return Err(DecodeError::new(
                ErrorKind::BadMessageType { message_type: ty },
                18,
            ));
        }
        let body = msg.get(19..).unwrap_or_default();
        let mal =
            |p: &[u8]| DecodeError::new(ErrorKind::MalformedAttributeList, wire::offset(msg, p));
        let (rest, wlen) = wire::u16(body).map_err(|_| mal(body))?;
        let (rest, withdrawn) = wire::take(usize::from(wlen))(rest).map_err(|_| mal(body))?;
        let (rest, alen) = wire::u16(rest).map_err(|_| mal(rest))?;
        let (nlri_field, attributes) =
            wire::take(usize::from(alen))(rest).map_err(|_| mal(rest))?;
        let ap = ctx.add_path(Family::IPV4_UNICAST);
        for field in [withdrawn, nlri_field] {
            nlri::count(field, 32, ap).map_err(|e| {
                DecodeError::new(
                    ErrorKind::InvalidNetworkField,
                    wire::offset(msg, field) + e.at,
                )
            })?;
        }
        // One walk validates the framing and remembers the MP attributes.
        let (mut mp_reach, mut mp_unreach) = (None, None);
        let mut it = RawAttributes { rest: attributes };
        while !it.rest.is_empty() {
            let before = it.rest;
            let Some(a) = it.next() else {
                return Err(mal(before));
            };
            match a.code {
                AttrType::MP_REACH_NLRI if mp_reach.is_none() => mp_reach = Some(a.value),
                AttrType::MP_UNREACH_NLRI if mp_unreach.is_none() => mp_unreach = Some(a.value),
                _ => {}
            }
        }
        Ok(Self {
            withdrawn,
            attributes,
            nlri: nlri_field,
            mp_reach,
            mp_unreach,
            ctx: *ctx,
        })
    }

    /// Withdrawn IPv4 unicast routes.
    pub fn withdrawn(&self) -> NlriIter<'a> {
        NlriIter::new(
            self.withdrawn,
            Afi::IPV4,
            self.ctx.add_path(Family::IPV4_UNICAST),
        )
    }

    /// Announced IPv4 unicast routes.
    pub fn nlri(&self) -> NlriIter<'a> {
        NlriIter::new(
            self.nlri,
            Afi::IPV4,
            self.ctx.add_path(Family::IPV4_UNICAST),
        )
    }

    /// The path attributes, in wire order.
    pub fn attributes(&self) -> RawAttributes<'a> {
        RawAttributes {
            rest: self.attributes,
        }
    }

    /// The first attribute with type `code`.
    pub fn attribute(&self, code: AttrType) -> Option<RawAttribute<'a>> {
        self.attributes().find(|a| a.code == code)
    }

    /// The family and routes of MP_REACH_NLRI, when present and parseable.
    pub fn mp_reach(&self) -> Option<(Family, NlriIter<'a>)> {
        let v = self.mp_reach?;
        let [a1, a2, safi, nh_len, rest @ ..] = v else {
            return None;
        };
        let family = Family::new(Afi(u16::from_be_bytes([*a1, *a2])), Safi(*safi));
        let field = rest.get(usize::from(*nh_len) + 1..)?;
        self.mp_nlri(family, field)
    }

    /// The family and routes of MP_UNREACH_NLRI, when present and parseable.
    pub fn mp_unreach(&self) -> Option<(Family, NlriIter<'a>)> {
        let v = self.mp_unreach?;
        let [a1, a2, safi, field @ ..] = v else {
            return None;
        };
        let family = Family::new(Afi(u16::from_be_bytes([*a1, *a2])), Safi(*safi));
        self.mp_nlri(family, field)
    }

    fn mp_nlri(&self, family: Family, field: &'a [u8]) -> Option<(Family, NlriIter<'a>)> {
        let bits = nlri::max_bits(family.afi)?;
        let ap = self.ctx.add_path(family);
        nlri::count(field, bits, ap).ok()?;
        Some((family, NlriIter::new(field, family.afi, ap)))
    }
}

/// One path attribute, borrowed from the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawAttribute<'a> {
    /// Flags octet.
    pub flags: AttrFlags,
    /// Type code.
    pub code: AttrType,
    /// Value octets.
    pub value: &'a [u8],
}

impl RawAttribute<'_> {
    /// The value as a 4-octet number (MED, LOCAL_PREF, NEXT_HOP, ORIGINATOR_ID…).
    pub fn as_u32(&self) -> Option<u32> {
        <[u8; 4]>::try_from(self.value).ok().map(u32::from_be_bytes)
    }
}

/// Iterator over the attributes of an [`UpdateView`].
#[derive(Clone, Debug)]
pub struct RawAttributes<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for RawAttributes<'a> {
    type Item = RawAttribute<'a>;

    #[inline]
    fn next(&mut self) -> Option<RawAttribute<'a>> {
        let (flags, code, len, tail) = match self.rest {
            [f, c, l, tail @ ..] if f & AttrFlags::EXTENDED_LENGTH == 0 => {
                (*f, *c, usize::from(*l), tail)
            }
            [f, c, l1, l2, tail @ ..] => {
                (*f, *c, usize::from(u16::from_be_bytes([*l1, *l2])), tail)
            }
            _ => return None,
        };
        let (value, rest) = tail.split_at_checked(len)?;
        self.rest = rest;
        Some(RawAttribute {
            flags: AttrFlags(flags),
            code: AttrType(code),
            value,
        })
    }
}
