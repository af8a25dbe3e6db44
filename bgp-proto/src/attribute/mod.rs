//! Path attributes (RFC 4271 §4.3, §5) with RFC 7606 error handling.
//!
//! A [`PathAttribute`] is its flags octet plus a typed [`AttrValue`].
//! Attributes this crate does not know are kept as [`AttrValue::Unknown`] with
//! their flags, the Partial bit included, so that nothing is lost.

mod aggregator;
pub(crate) mod as_path;
mod community;
mod extended_community;
mod large_community;
mod list;
pub(crate) mod mp_reach;
mod mp_unreach;
mod origin;

use std::net::Ipv4Addr;

use bytes::{BufMut, Bytes, BytesMut};

pub use aggregator::Aggregator;
pub use as_path::{AS_TRANS, AsPath, Segment, SegmentType, Segments};
pub use community::{Communities, Community, ParseCommunityError};
pub use extended_community::{
    Administrator, ExtendedCommunities, ExtendedCommunity, ExtendedCommunityKind,
    Ipv6ExtendedCommunities, Ipv6ExtendedCommunity,
};
pub use large_community::{LargeCommunities, LargeCommunity, ParseLargeCommunityError};
pub use list::{List, ListItem, ListIter};
pub use mp_reach::{MpReach, NextHop};
pub use mp_unreach::MpUnreach;
pub use origin::Origin;

pub(crate) use mp_reach::MpError;

use crate::context::{Context, Family};
use crate::error::{AttrAction, ErrorKind};
use crate::iana::AttrType;

/// The attribute flags octet (RFC 4271 §4.3).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct AttrFlags(pub u8);

impl AttrFlags {
    /// Optional (1) or well-known (0).
    pub const OPTIONAL: u8 = 0x80;
    /// Transitive (1) or non-transitive (0).
    pub const TRANSITIVE: u8 = 0x40;
    /// Partial: an optional transitive attribute some speaker did not recognize.
    pub const PARTIAL: u8 = 0x20;
    /// The length field is two octets.
    pub const EXTENDED_LENGTH: u8 = 0x10;

    /// Well-known attributes: transitive, not optional.
    pub const WELL_KNOWN: Self = Self(Self::TRANSITIVE);
    /// Optional non-transitive attributes.
    pub const OPTIONAL_NON_TRANSITIVE: Self = Self(Self::OPTIONAL);
    /// Optional transitive attributes.
    pub const OPTIONAL_TRANSITIVE: Self = Self(Self::OPTIONAL | Self::TRANSITIVE);

    /// Whether the Optional bit is set.
    pub fn optional(self) -> bool {
        self.0 & Self::OPTIONAL != 0
    }
    /// Whether the Transitive bit is set.
    pub fn transitive(self) -> bool {
        self.0 & Self::TRANSITIVE != 0
    }
    /// Whether the Partial bit is set.
    pub fn partial(self) -> bool {
        self.0 & Self::PARTIAL != 0
    }
    /// Whether the Extended Length bit is set.
    pub fn extended_length(self) -> bool {
        self.0 & Self::EXTENDED_LENGTH != 0
    }
}

impl std::fmt::Debug for AttrFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AttrFlags({:#04x})", self.0)
    }
}

/// An attribute this crate does not interpret.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UnknownAttr {
    /// The type code.
    pub code: AttrType,
    /// The value octets.
    pub value: Bytes,
}

/// A typed path attribute value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttrValue {
    /// ORIGIN (1).
    Origin(Origin),
    /// AS_PATH (2), in whichever AS width the session uses on the wire.
    AsPath(AsPath),
    /// NEXT_HOP (3).
    NextHop(Ipv4Addr),
    /// MULTI_EXIT_DISC (4).
    MultiExitDisc(u32),
    /// LOCAL_PREF (5).
    LocalPref(u32),
    /// ATOMIC_AGGREGATE (6).
    AtomicAggregate,
    /// AGGREGATOR (7).
    Aggregator(Aggregator),
    /// COMMUNITIES (8, RFC 1997).
    Communities(Communities),
    /// ORIGINATOR_ID (9, RFC 4456).
    OriginatorId(Ipv4Addr),
    /// CLUSTER_LIST (10, RFC 4456).
    ClusterList(List<Ipv4Addr>),
    /// MP_REACH_NLRI (14, RFC 4760). Boxed: it is the largest value, and
    /// keeping it out of line halves the size of every attribute.
    MpReach(Box<MpReach>),
    /// MP_UNREACH_NLRI (15, RFC 4760), boxed like MP_REACH_NLRI.
    MpUnreach(Box<MpUnreach>),
    /// EXTENDED COMMUNITIES (16, RFC 4360).
    ExtendedCommunities(ExtendedCommunities),
    /// AS4_PATH (17, RFC 6793), always 4-octet.
    As4Path(AsPath),
    /// AS4_AGGREGATOR (18, RFC 6793).
    As4Aggregator(Aggregator),
    /// IPv6 Address Specific Extended Community (25, RFC 5701).
    Ipv6ExtendedCommunities(Ipv6ExtendedCommunities),
    /// LARGE_COMMUNITY (32, RFC 8092).
    LargeCommunities(LargeCommunities),
    /// ONLY_TO_CUSTOMER (35, RFC 9234): the AS that set it.
    OnlyToCustomer(u32),
    /// Any other attribute, kept raw.
    Unknown(UnknownAttr),
}

impl AttrValue {
    /// The attribute's type code.
    pub fn code(&self) -> AttrType {
        match self {
            Self::Origin(_) => AttrType::ORIGIN,
            Self::AsPath(_) => AttrType::AS_PATH,
            Self::NextHop(_) => AttrType::NEXT_HOP,
            Self::MultiExitDisc(_) => AttrType::MULTI_EXIT_DISC,
            Self::LocalPref(_) => AttrType::LOCAL_PREF,
            Self::AtomicAggregate => AttrType::ATOMIC_AGGREGATE,
            Self::Aggregator(_) => AttrType::AGGREGATOR,
            Self::Communities(_) => AttrType::COMMUNITIES,
            Self::OriginatorId(_) => AttrType::ORIGINATOR_ID,
            Self::ClusterList(_) => AttrType::CLUSTER_LIST,
            Self::MpReach(_) => AttrType::MP_REACH_NLRI,
            Self::MpUnreach(_) => AttrType::MP_UNREACH_NLRI,
            Self::ExtendedCommunities(_) => AttrType::EXTENDED_COMMUNITIES,
            Self::As4Path(_) => AttrType::AS4_PATH,
            Self::As4Aggregator(_) => AttrType::AS4_AGGREGATOR,
            Self::Ipv6ExtendedCommunities(_) => AttrType::IPV6_EXTENDED_COMMUNITIES,
            Self::LargeCommunities(_) => AttrType::LARGE_COMMUNITY,
            Self::OnlyToCustomer(_) => AttrType::ONLY_TO_CUSTOMER,
            Self::Unknown(u) => u.code,
        }
    }

    /// Octets of the encoded value under `ctx`.
    pub fn encoded_len(&self, ctx: &Context) -> usize {
        match self {
            Self::Origin(_) => 1,
            Self::AsPath(p) => p.encoded_len(ctx.four_octet_as),
            Self::NextHop(_)
            | Self::MultiExitDisc(_)
            | Self::LocalPref(_)
            | Self::OriginatorId(_)
            | Self::OnlyToCustomer(_) => 4,
            Self::AtomicAggregate => 0,
            Self::Aggregator(_) => {
                if ctx.four_octet_as {
                    8
                } else {
                    6
                }
            }
            Self::As4Aggregator(_) => 8,
            Self::Communities(l) => l.as_bytes().len(),
            Self::ClusterList(l) => l.as_bytes().len(),
            Self::ExtendedCommunities(l) => l.as_bytes().len(),
            Self::Ipv6ExtendedCommunities(l) => l.as_bytes().len(),
            Self::LargeCommunities(l) => l.as_bytes().len(),
            Self::MpReach(m) => m.encoded_len(ctx),
            Self::MpUnreach(m) => m.encoded_len(ctx),
            Self::As4Path(p) => p.encoded_len(true),
            Self::Unknown(u) => u.value.len(),
        }
    }

    fn encode_value(&self, ctx: &Context, dst: &mut BytesMut) {
        match self {
            Self::Origin(o) => dst.put_u8(*o as u8),
            Self::AsPath(p) => p.encode(ctx.four_octet_as, dst),
            Self::NextHop(a) | Self::OriginatorId(a) => dst.put_slice(&a.octets()),
            Self::MultiExitDisc(v) | Self::LocalPref(v) | Self::OnlyToCustomer(v) => {
                dst.put_u32(*v)
            }
            Self::AtomicAggregate => {}
            Self::Aggregator(a) => {
                if ctx.four_octet_as {
                    dst.put_u32(a.asn);
                } else {
                    dst.put_u16(u16::try_from(a.asn).unwrap_or(AS_TRANS as u16));
                }
                dst.put_slice(&a.address.octets());
            }
            Self::As4Aggregator(a) => {
                dst.put_u32(a.asn);
                dst.put_slice(&a.address.octets());
            }
            Self::Communities(l) => dst.put_slice(l.as_bytes()),
            Self::ClusterList(l) => dst.put_slice(l.as_bytes()),
            Self::ExtendedCommunities(l) => dst.put_slice(l.as_bytes()),
            Self::Ipv6ExtendedCommunities(l) => dst.put_slice(l.as_bytes()),
            Self::LargeCommunities(l) => dst.put_slice(l.as_bytes()),
            Self::MpReach(m) => m.encode(ctx, dst),
            Self::MpUnreach(m) => m.encode(ctx, dst),
            Self::As4Path(p) => p.encode(true, dst),
            Self::Unknown(u) => dst.put_slice(&u.value),
        }
    }
}

/// The flags a known attribute type must have (Optional and Transitive bits;
/// RFC 4271 §5 and the attribute's own RFC). `None` for unknown types.
pub fn expected_flags(code: AttrType) -> Option<AttrFlags> {
    Some(match code {
        AttrType::ORIGIN
        | AttrType::AS_PATH
        | AttrType::NEXT_HOP
        | AttrType::LOCAL_PREF
        | AttrType::ATOMIC_AGGREGATE => AttrFlags::WELL_KNOWN,
        AttrType::MULTI_EXIT_DISC
        | AttrType::ORIGINATOR_ID
        | AttrType::CLUSTER_LIST
        | AttrType::MP_REACH_NLRI
        | AttrType::MP_UNREACH_NLRI => AttrFlags::OPTIONAL_NON_TRANSITIVE,
        AttrType::AGGREGATOR
        | AttrType::COMMUNITIES
        | AttrType::EXTENDED_COMMUNITIES
        | AttrType::AS4_PATH
        | AttrType::AS4_AGGREGATOR
        | AttrType::IPV6_EXTENDED_COMMUNITIES
        | AttrType::LARGE_COMMUNITY
        | AttrType::ONLY_TO_CUSTOMER => AttrFlags::OPTIONAL_TRANSITIVE,
        _ => return None,
    })
}

/// A path attribute: flags plus typed value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PathAttribute {
    /// The flags as received, or the type's standard flags for a new attribute.
    /// The Extended Length bit is kept when the value fits one octet (so
    /// re-encoding is byte-exact) and forced when it does not.
    pub flags: AttrFlags,
    /// The value.
    pub value: AttrValue,
}

impl PathAttribute {
    /// A new attribute with the standard flags for its type (optional
    /// transitive for unknown types).
    pub fn new(value: AttrValue) -> Self {
        let flags = expected_flags(value.code()).unwrap_or(AttrFlags::OPTIONAL_TRANSITIVE);
        Self { flags, value }
    }

    /// The type code.
    pub fn code(&self) -> AttrType {
        self.value.code()
    }

    /// Octets this attribute takes on the wire, header included.
    pub fn encoded_len(&self, ctx: &Context) -> usize {
        let len = self.value.encoded_len(ctx);
        len + if self.flags.extended_length() || len > 255 {
            4
        } else {
            3
        }
    }

    /// Writes the attribute, header included.
    pub fn encode(&self, ctx: &Context, dst: &mut BytesMut) {
        let len = self.value.encoded_len(ctx);
        let ext = self.flags.extended_length() || len > 255;
        let flags = if ext {
            self.flags.0 | AttrFlags::EXTENDED_LENGTH
        } else {
            self.flags.0
        };
        dst.put_u8(flags);
        dst.put_u8(self.code().0);
        if ext {
            dst.put_u16(u16::try_from(len).unwrap_or(u16::MAX));
        } else {
            dst.put_u8(u8::try_from(len).unwrap_or(u8::MAX));
        }
        self.value.encode_value(ctx, dst);
    }
}

impl From<AttrValue> for PathAttribute {
    fn from(value: AttrValue) -> Self {
        Self::new(value)
    }
}

/// A value that failed to decode: the error to report, the RFC 7606 action,
/// and for AFI/SAFI disable the family concerned.
pub(crate) type ValueError = (ErrorKind, AttrAction, Option<Family>);

/// Decodes one attribute's value. `attr` is the whole attribute (header
/// included) and `value` the value part of it, both slices of `whole`; they
/// are shared into `Bytes` only when needed (error data, list values).
pub(crate) fn decode_value(
    flags: AttrFlags,
    code: AttrType,
    attr: &[u8],
    value: &[u8],
    whole: &Bytes,
    ctx: &Context,
) -> Result<AttrValue, ValueError> {
    use AttrAction::{Discard, SessionReset, TreatAsWithdraw};
    let attr_bytes = || crate::wire::share(whole, attr);
    let err = |kind: fn(Bytes) -> ErrorKind, action| (kind(attr_bytes()), action, None);
    let length_err = |action| {
        err(
            |attribute| ErrorKind::AttributeLengthError { attribute },
            action,
        )
    };
    let optional_err = |action| {
        err(
            |attribute| ErrorKind::OptionalAttributeError { attribute },
            action,
        )
    };

    let Some(expected) = expected_flags(code) else {
        if !flags.optional() {
            // RFC 4271 §6.3: an unrecognized well-known attribute.
            return Err(err(
                |attribute| ErrorKind::UnrecognizedWellKnownAttribute { attribute },
                SessionReset,
            ));
        }
        return Ok(AttrValue::Unknown(UnknownAttr {
            code,
            value: crate::wire::share(whole, value),
        }));
    };
    let mask = AttrFlags::OPTIONAL | AttrFlags::TRANSITIVE;
    if flags.0 & mask != expected.0 & mask {
        let flags_err = |action, family| {
            (
                ErrorKind::AttributeFlagsError {
                    attribute: attr_bytes(),
                },
                action,
                family,
            )
        };
        // RFC 7606 §5.3: MP_REACH_NLRI / MP_UNREACH_NLRI with inconsistent
        // flags: AFI/SAFI disable (session reset when the family is unreadable).
        if matches!(code, AttrType::MP_REACH_NLRI | AttrType::MP_UNREACH_NLRI) {
            return Err(match value {
                [a1, a2, safi, ..] => flags_err(
                    AttrAction::AfiSafiDisable,
                    Some(Family::new(
                        crate::iana::Afi(u16::from_be_bytes([*a1, *a2])),
                        crate::iana::Safi(*safi),
                    )),
                ),
                _ => flags_err(SessionReset, None),
            });
        }
        // RFC 7606 §3 c: other attributes with conflicting Optional or
        // Transitive bits are treat-as-withdraw.
        return Err(flags_err(TreatAsWithdraw, None));
    }
    let u32_of = |v: &[u8]| <[u8; 4]>::try_from(v).ok().map(u32::from_be_bytes);
    let shared = || crate::wire::share(whole, value);
    Ok(match code {
        // RFC 7606 §7.1: length other than 1 or an undefined value: treat-as-withdraw.
        AttrType::ORIGIN => match value {
            [v] => AttrValue::Origin(Origin::from_wire(*v).ok_or_else(|| {
                err(
                    |attribute| ErrorKind::InvalidOrigin { attribute },
                    TreatAsWithdraw,
                )
            })?),
            _ => return Err(length_err(TreatAsWithdraw)),
        },
        // RFC 7606 §7.2 (and RFC 7607 §2 for AS 0): malformed AS_PATH: treat-as-withdraw.
        AttrType::AS_PATH => AttrValue::AsPath(
            AsPath::decode(value, whole, ctx.four_octet_as)
                .map_err(|_| (ErrorKind::MalformedAsPath, TreatAsWithdraw, None))?,
        ),
        // RFC 7606 §7.3: length other than 4: treat-as-withdraw. RFC 4271
        // §6.3: a NEXT_HOP that is not a unicast host address (0.0.0.0,
        // multicast, broadcast) is syntactically incorrect: Invalid NEXT_HOP,
        // also treat-as-withdraw.
        AttrType::NEXT_HOP => {
            let a = Ipv4Addr::from(u32_of(value).ok_or_else(|| length_err(TreatAsWithdraw))?);
            if a.is_unspecified() || a.is_multicast() || a.is_broadcast() {
                return Err(err(
                    |attribute| ErrorKind::InvalidNextHop { attribute },
                    TreatAsWithdraw,
                ));
            }
            AttrValue::NextHop(a)
        }
        // RFC 7606 §7.4 and §7.5: treat-as-withdraw.
        AttrType::MULTI_EXIT_DISC => {
            AttrValue::MultiExitDisc(u32_of(value).ok_or_else(|| length_err(TreatAsWithdraw))?)
        }
        AttrType::LOCAL_PREF => {
            AttrValue::LocalPref(u32_of(value).ok_or_else(|| length_err(TreatAsWithdraw))?)
        }
        // RFC 7606 §7.6: length other than 0: attribute discard.
        AttrType::ATOMIC_AGGREGATE => {
            if !value.is_empty() {
                return Err(length_err(Discard));
            }
            AttrValue::AtomicAggregate
        }
        // RFC 7606 §7.7: wrong length (6, or 8 with 4-octet AS): attribute
        // discard; RFC 7607 §2: AS 0 is malformed, handled the same way.
        AttrType::AGGREGATOR => AttrValue::Aggregator(
            Aggregator::decode(value, ctx.four_octet_as)
                .filter(|a| a.asn != 0)
                .ok_or_else(|| length_err(Discard))?,
        ),
        // RFC 6793 §6: an AS4_AGGREGATOR whose length is not 8 is discarded
        // (and, by RFC 7607 §2, one naming AS 0).
        AttrType::AS4_AGGREGATOR => AttrValue::As4Aggregator(
            Aggregator::decode(value, true)
                .filter(|a| a.asn != 0)
                .ok_or_else(|| length_err(Discard))?,
        ),
        // RFC 7606 §7.8: length 0 or not a multiple of 4: treat-as-withdraw.
        // The community lists and CLUSTER_LIST report a length that is not
        // a multiple of their entry size as Attribute Length Error (RFC 4271
        // §6.3: a length that conflicts with the one the type code implies),
        // as FRR does.
        AttrType::COMMUNITIES => AttrValue::Communities(
            List::decode(value, whole).ok_or_else(|| length_err(TreatAsWithdraw))?,
        ),
        // RFC 7606 §7.9: length other than 4: treat-as-withdraw.
        AttrType::ORIGINATOR_ID => AttrValue::OriginatorId(Ipv4Addr::from(
            u32_of(value).ok_or_else(|| length_err(TreatAsWithdraw))?,
        )),
        // RFC 7606 §7.10: length 0 or not a multiple of 4: treat-as-withdraw.
        AttrType::CLUSTER_LIST => AttrValue::ClusterList(
            List::decode(value, whole).ok_or_else(|| length_err(TreatAsWithdraw))?,
        ),
        // RFC 7606 §7.14: not a non-zero multiple of 8: treat-as-withdraw.
        AttrType::EXTENDED_COMMUNITIES => AttrValue::ExtendedCommunities(
            List::decode(value, whole).ok_or_else(|| length_err(TreatAsWithdraw))?,
        ),
        // RFC 7606 §7.15: not a non-zero multiple of 20: treat-as-withdraw.
        AttrType::IPV6_EXTENDED_COMMUNITIES => AttrValue::Ipv6ExtendedCommunities(
            List::decode(value, whole).ok_or_else(|| length_err(TreatAsWithdraw))?,
        ),
        // RFC 8092 §6: length 0 or not a multiple of 12: treat-as-withdraw.
        AttrType::LARGE_COMMUNITY => AttrValue::LargeCommunities(
            List::decode(value, whole).ok_or_else(|| length_err(TreatAsWithdraw))?,
        ),
        // RFC 9234 §5: length other than 4: treat-as-withdraw.
        AttrType::ONLY_TO_CUSTOMER => {
            AttrValue::OnlyToCustomer(u32_of(value).ok_or_else(|| length_err(TreatAsWithdraw))?)
        }
        // RFC 6793 §6: a malformed AS4_PATH is discarded.
        AttrType::AS4_PATH => AttrValue::As4Path(
            AsPath::decode(value, whole, true).map_err(|_| optional_err(Discard))?,
        ),
        AttrType::MP_REACH_NLRI => AttrValue::MpReach(Box::new(
            MpReach::decode(value, whole, ctx).map_err(|e| mp_error(e, &attr_bytes()))?,
        )),
        AttrType::MP_UNREACH_NLRI => AttrValue::MpUnreach(Box::new(
            MpUnreach::decode(value, whole, ctx).map_err(|e| mp_error(e, &attr_bytes()))?,
        )),
        _ => AttrValue::Unknown(UnknownAttr {
            code,
            value: shared(),
        }),
    })
}

/// RFC 7606 §5.3, §7.11 and §7.12: a malformed MP_REACH_NLRI or
/// MP_UNREACH_NLRI calls for AFI/SAFI disable when its family can be read,
/// else session reset.
fn mp_error(e: MpError, attr: &Bytes) -> ValueError {
    match e {
        MpError::Unlocatable => (
            ErrorKind::AttributeLengthError {
                attribute: attr.clone(),
            },
            AttrAction::SessionReset,
            None,
        ),
        MpError::NextHop(family) => (
            ErrorKind::OptionalAttributeError {
                attribute: attr.clone(),
            },
            AttrAction::AfiSafiDisable,
            Some(family),
        ),
        MpError::Nlri(family) => (
            ErrorKind::InvalidNetworkField,
            AttrAction::AfiSafiDisable,
            Some(family),
        ),
    }
}
