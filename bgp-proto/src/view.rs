//! A borrowed, non-allocating view of a received UPDATE that checks what it
//! reads as it reads it.
//!
//! [`UpdateView::new`] checks only what locates the three fields of the
//! message (RFC 4271 §4.3): the header, the Withdrawn Routes Length and the
//! Total Path Attribute Length. Every iterator then checks each entry as it
//! yields it, and yields the error instead when an entry is malformed, with
//! the error's kind and offset; [`UpdateView::decode_error`] turns it into
//! a [`DecodeError`] of the kind [`crate::Message::decode`] reports for the
//! same octets.
//! A caller that walks everything has therefore checked everything, once:
//! there is no separate validation pass over the prefixes or the attribute
//! framing. [`UpdateView::validate`] does that walk for callers who want the
//! whole message checked before they look at it.

mod attributes;
mod error;
mod prefixes;

pub use attributes::{RawAttribute, RawAttributes};
pub use error::{ViewError, ViewErrorKind};
pub use prefixes::{Prefixes, RawPrefix};

use crate::attribute::AttrFlags;
use crate::context::{Context, Family};
use crate::error::{DecodeError, ErrorKind};
use crate::iana::{Afi, AttrType, MessageType, Safi};

/// A view of one UPDATE message that walks its prefixes and attributes in
/// place, without building owned values or allocating.
///
/// Attribute values are interpreted only when asked for; use
/// [`crate::Message::decode`] for the full RFC 7606 attribute checks.
///
/// ```
/// use bgp_proto::{Context, UpdateView, ViewError};
///
/// // An UPDATE announcing 198.51.100.0/24 with ORIGIN IGP, an empty
/// // AS_PATH and NEXT_HOP 192.0.2.1.
/// let mut msg = vec![0xFF; 16];
/// msg.extend_from_slice(&[0, 41, 2, 0, 0, 0, 14]);
/// msg.extend_from_slice(&[0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4, 192, 0, 2, 1]);
/// msg.extend_from_slice(&[24, 198, 51, 100]);
///
/// let ctx = Context::modern();
/// let view = UpdateView::new(&msg, &ctx).unwrap();
/// let mut routes = Vec::new();
/// for p in view.nlri() {
///     let p = p?; // a malformed prefix would stop the walk here
///     routes.push(p.net().to_string());
/// }
/// for a in view.attributes() {
///     let a = a?;
///     if let Some(mp) = view.mp_nlri(&a)? {
///         // IPv6 routes, for example, arrive here (RFC 4760)
///         for p in mp.routes().into_iter().flatten() {
///             routes.push(p?.net().to_string());
///         }
///     }
/// }
/// assert_eq!(routes, ["198.51.100.0/24"]);
/// # Ok::<(), ViewError>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct UpdateView<'a> {
    msg: &'a [u8],
    withdrawn: &'a [u8],
    attributes: &'a [u8],
    nlri: &'a [u8],
    ctx: Context,
}

/// The routes of an MP_REACH_NLRI or MP_UNREACH_NLRI attribute (RFC 4760 §3, §4).
#[derive(Clone, Debug)]
pub struct MpNlri<'a> {
    /// AFI and SAFI.
    pub family: Family,
    /// The next-hop octets (empty for MP_UNREACH_NLRI).
    pub next_hop: &'a [u8],
    /// The NLRI field as octets.
    pub field: &'a [u8],
    routes: Option<Prefixes<'a>>,
}

impl<'a> MpNlri<'a> {
    /// The prefixes, for the families this crate parses (IPv4 and IPv6,
    /// unicast and multicast); `None` for any other family, whose NLRI are
    /// only available as [`MpNlri::field`].
    pub fn routes(&self) -> Option<Prefixes<'a>> {
        self.routes.clone()
    }
}

impl<'a> UpdateView<'a> {
    /// Locates the fields of `msg`, one complete UPDATE message with its
    /// header. Errors follow RFC 4271 §6.1 (header) and §6.3 (a field
    /// length that runs past the message is a Malformed Attribute List).
    #[inline]
    pub fn new(msg: &'a [u8], ctx: &Context) -> Result<Self, DecodeError> {
        let Some(len) = crate::header::message_len(msg, ctx.max_message_len())? else {
            return Err(bad_length(0));
        };
        let Some((&ty, body)) = msg.get(18..).and_then(<[u8]>::split_first) else {
            return Err(bad_length(len));
        };
        if len != msg.len() {
            return Err(bad_length(len));
        }
        if ty != MessageType::UPDATE.0 {
            return Err(DecodeError::new(
                ErrorKind::BadMessageType { message_type: ty },
                18,
            ));
        }
        if len < 23 {
            return Err(bad_length(len));
        }
        let mal = |at: usize| DecodeError::new(ErrorKind::MalformedAttributeList, at);
        let Some((wlen, rest)) = body.split_first_chunk::<2>() else {
            return Err(mal(19));
        };
        let Some((withdrawn, rest)) = rest.split_at_checked(usize::from(u16::from_be_bytes(*wlen)))
        else {
            return Err(mal(19));
        };
        let Some((alen, rest)) = rest.split_first_chunk::<2>() else {
            return Err(mal(21 + withdrawn.len()));
        };
        let Some((attributes, nlri)) =
            rest.split_at_checked(usize::from(u16::from_be_bytes(*alen)))
        else {
            return Err(mal(21 + withdrawn.len()));
        };
        Ok(Self {
            msg,
            withdrawn,
            attributes,
            nlri,
            ctx: *ctx,
        })
    }

    /// Walks every prefix and the framing of every attribute, including the
    /// prefixes inside MP_REACH_NLRI and MP_UNREACH_NLRI, and returns the
    /// first error: the checks the iterators make, made up front.
    pub fn validate(&self) -> Result<(), DecodeError> {
        self.walk_all().map_err(|e| self.decode_error(e))
    }

    fn walk_all(&self) -> Result<(), ViewError> {
        for p in self.withdrawn().chain(self.nlri()) {
            p?;
        }
        for a in self.attributes() {
            if let Some(routes) = self.mp_nlri(&a?)?.and_then(|mp| mp.routes()) {
                for p in routes {
                    p?;
                }
            }
        }
        Ok(())
    }

    /// The [`DecodeError`] for `e`, an error met while walking this view:
    /// the kind [`crate::Message::decode`] reports for the same octets, and
    /// so the same NOTIFICATION with its data (RFC 4271 §6.3). The offset is
    /// the bad entry's; for a prefix inside MP_REACH_NLRI or
    /// MP_UNREACH_NLRI `Message::decode` gives the attribute's instead.
    pub fn decode_error(&self, e: ViewError) -> DecodeError {
        e.into_decode_error(self.msg)
    }

    /// Withdrawn IPv4 unicast routes (RFC 4271 §4.3).
    pub fn withdrawn(&self) -> Prefixes<'a> {
        self.ipv4(self.withdrawn)
    }

    /// Announced IPv4 unicast routes (RFC 4271 §4.3).
    pub fn nlri(&self) -> Prefixes<'a> {
        self.ipv4(self.nlri)
    }

    fn ipv4(&self, field: &'a [u8]) -> Prefixes<'a> {
        Prefixes::new(
            field,
            crate::wire::offset(self.msg, field) + field.len(),
            Afi::IPV4,
            self.ctx.add_path(Family::IPV4_UNICAST),
        )
    }

    /// The path attributes, in wire order.
    pub fn attributes(&self) -> RawAttributes<'a> {
        RawAttributes::new(
            self.attributes,
            crate::wire::offset(self.msg, self.attributes) + self.attributes.len(),
        )
    }

    /// The first attribute with type `code`, walking the attributes before it.
    pub fn attribute(&self, code: AttrType) -> Result<Option<RawAttribute<'a>>, ViewError> {
        for a in self.attributes() {
            let a = a?;
            if a.code == code {
                return Ok(Some(a));
            }
        }
        Ok(None)
    }

    /// The first MP_REACH_NLRI attribute's routes, if there is one.
    pub fn mp_reach(&self) -> Result<Option<MpNlri<'a>>, ViewError> {
        match self.attribute(AttrType::MP_REACH_NLRI)? {
            Some(a) => self.mp_nlri(&a),
            None => Ok(None),
        }
    }

    /// The first MP_UNREACH_NLRI attribute's routes, if there is one.
    pub fn mp_unreach(&self) -> Result<Option<MpNlri<'a>>, ViewError> {
        match self.attribute(AttrType::MP_UNREACH_NLRI)? {
            Some(a) => self.mp_nlri(&a),
            None => Ok(None),
        }
    }

    /// The routes of `attr` when it is an MP_REACH_NLRI or MP_UNREACH_NLRI
    /// from this message, `Ok(None)` for any other attribute: lets one walk
    /// of [`UpdateView::attributes`] reach every route of the message.
    ///
    /// Either attribute too short for its AFI/SAFI is an Attribute Length
    /// Error, and an MP_REACH_NLRI too short for its next hop an Optional
    /// Attribute Error (RFC 7606 §7.11), as [`crate::Message::decode`] has them.
    #[inline]
    pub fn mp_nlri(&self, attr: &RawAttribute<'a>) -> Result<Option<MpNlri<'a>>, ViewError> {
        let (family, next_hop, field) = match attr.code {
            AttrType::MP_REACH_NLRI => {
                let Some(([a1, a2, safi, nh_len], rest)) = attr.value.split_first_chunk::<4>()
                else {
                    return Err(self.mp_error(
                        ViewErrorKind::AttributeLength,
                        attr.flags,
                        attr.value,
                    ));
                };
                let Some((next_hop, [_reserved, field @ ..])) =
                    rest.split_at_checked(usize::from(*nh_len))
                else {
                    return Err(self.mp_error(
                        ViewErrorKind::NextHopLength,
                        attr.flags,
                        attr.value,
                    ));
                };
                (family(*a1, *a2, *safi), next_hop, field)
            }
            AttrType::MP_UNREACH_NLRI => {
                let Some(([a1, a2, safi], field)) = attr.value.split_first_chunk::<3>() else {
                    return Err(self.mp_error(
                        ViewErrorKind::AttributeLength,
                        attr.flags,
                        attr.value,
                    ));
                };
                (family(*a1, *a2, *safi), &[][..], field)
            }
            _ => return Ok(None),
        };
        let routes = crate::attribute::mp_reach::parses(family).then(|| {
            Prefixes::new(
                field,
                crate::wire::offset(self.msg, field) + field.len(),
                family.afi,
                self.ctx.add_path(family),
            )
        });
        Ok(Some(MpNlri {
            family,
            next_hop,
            field,
            routes,
        }))
    }

    /// The error for the attribute with `flags` and `value`, out of line.
    /// It takes the attribute's parts rather than the attribute: a
    /// `RawAttribute` argument is passed through memory, and the walk then
    /// stored every attribute on the stack in case of an error.
    #[cold]
    #[inline(never)]
    fn mp_error(&self, kind: ViewErrorKind, flags: AttrFlags, value: &'a [u8]) -> ViewError {
        ViewError::new(kind, attributes::header_offset(self.msg, flags, value))
    }
}

fn family(a1: u8, a2: u8, safi: u8) -> Family {
    Family::new(Afi(u16::from_be_bytes([a1, a2])), Safi(safi))
}

#[cold]
fn bad_length(len: usize) -> DecodeError {
    DecodeError::new(
        ErrorKind::BadMessageLength {
            length: u16::try_from(len).unwrap_or(u16::MAX),
        },
        16,
    )
}
