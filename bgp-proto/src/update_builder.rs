//! Packing many prefixes into as few UPDATE messages as the negotiated
//! maximum size allows (RFC 4271 §4.3, RFC 8654).

use bytes::{BufMut, Bytes, BytesMut};

use crate::attribute::{AttrFlags, NextHop, PathAttribute};
use crate::context::{Context, Family};
use crate::error::EncodeError;
use crate::header::{HEADER_LEN, MARKER};
use crate::iana::{Afi, AttrType, MessageType};
use crate::message::{Message, Update};
use crate::nlri::{self, Nlri};

/// Builds packed UPDATE messages for one session direction.
///
/// Attributes shared by a batch of prefixes are encoded once; prefixes are
/// then added until the next would overflow the context's maximum message
/// length (4096, or 65535 with extended messages), and a new message starts.
/// MP_REACH_NLRI and MP_UNREACH_NLRI are written as the first attribute, as
/// RFC 7606 §5.1 requires.
#[derive(Clone, Debug)]
pub struct UpdateBuilder {
    ctx: Context,
    scratch: BytesMut,
}

/// Fixed part of an UPDATE: header, withdrawn length, attribute length.
const UPDATE_FIXED: usize = HEADER_LEN + 4;

impl UpdateBuilder {
    /// A builder that encodes with `ctx` (the send direction's context).
    pub fn new(ctx: Context) -> Self {
        Self {
            ctx,
            scratch: BytesMut::new(),
        }
    }

    /// The context messages are encoded with.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Whether `next_hop` may be sent with routes of `family` on this
    /// session (see [`UpdateBuilder::announce_mp_into`]).
    fn check_next_hop(&self, family: Family, next_hop: &NextHop) -> Result<(), EncodeError> {
        match (family.afi, next_hop) {
            (Afi::IPV4, NextHop::Ipv6 { .. }) if !self.ctx.extended_next_hop.contains(family) => {
                Err(EncodeError::ExtendedNextHopNotNegotiated { family })
            }
            (Afi::IPV6, NextHop::Ipv4(_)) => Err(EncodeError::NextHopFamily {
                family,
                len: next_hop.encoded_len(),
            }),
            _ => Ok(()),
        }
    }

    fn encode_attrs(&mut self, attrs: &[PathAttribute]) -> Bytes {
        self.scratch.clear();
        for a in attrs {
            a.encode(&self.ctx, &mut self.scratch);
        }
        self.scratch.split().freeze()
    }

    /// Announces IPv4 unicast `prefixes` in the NLRI field with `attrs`
    /// (which should hold ORIGIN, AS_PATH and NEXT_HOP), appending the
    /// messages to `dst`. Returns how many messages were written.
    pub fn announce_into(
        &mut self,
        attrs: &[PathAttribute],
        prefixes: &[Nlri],
        dst: &mut BytesMut,
    ) -> Result<usize, EncodeError> {
        let attr_bytes = self.encode_attrs(attrs);
        let max = self.ctx.max_message_len();
        let ap = self.ctx.add_path(Family::IPV4_UNICAST);
        let fixed = UPDATE_FIXED + attr_bytes.len();
        let attr_len = u16::try_from(attr_bytes.len()).map_err(|_| EncodeError::RouteTooLarge)?;
        let mut count = 0;
        let mut rest = prefixes;
        while !rest.is_empty() {
            let start = dst.len();
            dst.reserve(max.min(fixed + rest.len() * 9));
            put_header(dst);
            dst.put_u16(0);
            dst.put_u16(attr_len);
            dst.put_slice(&attr_bytes);
            let taken = put_prefixes(dst, rest, ap, max.saturating_sub(fixed))?;
            rest = rest.get(taken..).unwrap_or_default();
            patch_len(dst, start);
            count += 1;
        }
        Ok(count)
    }

    /// Announces `prefixes` of `family` in an MP_REACH_NLRI attribute with
    /// `next_hop`, followed by `attrs`, appending the messages to `dst`.
    ///
    /// The next hop must suit the family, and nothing is written when it
    /// does not:
    /// - an IPv6 next hop for IPv4 routes only when the context's
    ///   [`Context::extended_next_hop`] holds the family, that is when the
    ///   peer advertised the capability for it
    ///   ([`EncodeError::ExtendedNextHopNotNegotiated`], RFC 8950 §4);
    /// - never an IPv4 next hop for IPv6 routes
    ///   ([`EncodeError::NextHopFamily`], RFC 2545 §3).
    pub fn announce_mp_into(
        &mut self,
        family: Family,
        next_hop: &NextHop,
        attrs: &[PathAttribute],
        prefixes: &[Nlri],
        dst: &mut BytesMut,
    ) -> Result<usize, EncodeError> {
        self.check_next_hop(family, next_hop)?;
        let attr_bytes = self.encode_attrs(attrs);
        let max = self.ctx.max_message_len();
        let ap = self.ctx.add_path(family);
        let nh_len = next_hop.encoded_len();
        // MP_REACH header (extended length) + AFI, SAFI, NH length, NH, reserved.
        let mp_fixed = 4 + 5 + nh_len;
        let fixed = UPDATE_FIXED + mp_fixed + attr_bytes.len();
        let mut count = 0;
        let mut rest = prefixes;
        while !rest.is_empty() {
            let start = dst.len();
            dst.reserve(max.min(fixed + rest.len() * 21));
            put_header(dst);
            dst.put_u16(0);
            let attr_len_at = dst.len();
            dst.put_u16(0);
            dst.put_u8(AttrFlags::OPTIONAL | AttrFlags::EXTENDED_LENGTH);
            dst.put_u8(AttrType::MP_REACH_NLRI.0);
            let mp_len_at = dst.len();
            dst.put_u16(0);
            dst.put_u16(family.afi.0);
            dst.put_u8(family.safi.0);
            dst.put_u8(
                u8::try_from(nh_len).map_err(|_| EncodeError::FieldOverflow {
                    field: "next hop length",
                })?,
            );
            next_hop.encode(dst);
            dst.put_u8(0);
            let nlri_start = dst.len();
            let taken = put_prefixes(dst, rest, ap, max.saturating_sub(fixed))?;
            rest = rest.get(taken..).unwrap_or_default();
            let mp_len = 5 + nh_len + (dst.len() - nlri_start);
            patch_u16(dst, mp_len_at, mp_len)?;
            dst.put_slice(&attr_bytes);
            patch_u16(dst, attr_len_at, dst.len() - attr_len_at - 2)?;
            patch_len(dst, start);
            count += 1;
        }
        Ok(count)
    }

    /// Withdraws `prefixes` of `family`: IPv4 unicast in the Withdrawn
    /// Routes field, any other family in MP_UNREACH_NLRI.
    pub fn withdraw_into(
        &mut self,
        family: Family,
        prefixes: &[Nlri],
        dst: &mut BytesMut,
    ) -> Result<usize, EncodeError> {
        let max = self.ctx.max_message_len();
        let ap = self.ctx.add_path(family);
        let classic = family == Family::IPV4_UNICAST;
        let fixed = UPDATE_FIXED + if classic { 0 } else { 4 + 3 };
        let mut count = 0;
        let mut rest = prefixes;
        while !rest.is_empty() {
            let start = dst.len();
            dst.reserve(max.min(fixed + rest.len() * 21));
            put_header(dst);
            let len_at = dst.len();
            dst.put_u16(0);
            if classic {
                let taken = put_prefixes(dst, rest, ap, max.saturating_sub(fixed))?;
                rest = rest.get(taken..).unwrap_or_default();
                patch_u16(dst, len_at, dst.len() - len_at - 2)?;
                dst.put_u16(0);
            } else {
                let attr_len_at = dst.len();
                dst.put_u16(0);
                dst.put_u8(AttrFlags::OPTIONAL | AttrFlags::EXTENDED_LENGTH);
                dst.put_u8(AttrType::MP_UNREACH_NLRI.0);
                let mp_len_at = dst.len();
                dst.put_u16(0);
                dst.put_u16(family.afi.0);
                dst.put_u8(family.safi.0);
                let taken = put_prefixes(dst, rest, ap, max.saturating_sub(fixed))?;
                rest = rest.get(taken..).unwrap_or_default();
                patch_u16(dst, mp_len_at, dst.len() - mp_len_at - 2)?;
                patch_u16(dst, attr_len_at, dst.len() - attr_len_at - 2)?;
            }
            patch_len(dst, start);
            count += 1;
        }
        Ok(count)
    }

    /// The End-of-RIB marker for `family` (RFC 4724 §2).
    pub fn end_of_rib(&self, family: Family) -> Bytes {
        Message::Update(Update::end_of_rib(family))
            .to_bytes(&self.ctx)
            .unwrap_or_default()
    }

    /// [`UpdateBuilder::announce_into`], one `Bytes` per message.
    pub fn announce(
        &mut self,
        attrs: &[PathAttribute],
        prefixes: &[Nlri],
    ) -> Result<Vec<Bytes>, EncodeError> {
        let mut b = BytesMut::new();
        self.announce_into(attrs, prefixes, &mut b)?;
        Ok(split_messages(b.freeze()))
    }

    /// [`UpdateBuilder::announce_mp_into`], one `Bytes` per message.
    pub fn announce_mp(
        &mut self,
        family: Family,
        next_hop: &NextHop,
        attrs: &[PathAttribute],
        prefixes: &[Nlri],
    ) -> Result<Vec<Bytes>, EncodeError> {
        let mut b = BytesMut::new();
        self.announce_mp_into(family, next_hop, attrs, prefixes, &mut b)?;
        Ok(split_messages(b.freeze()))
    }

    /// [`UpdateBuilder::withdraw_into`], one `Bytes` per message.
    pub fn withdraw(
        &mut self,
        family: Family,
        prefixes: &[Nlri],
    ) -> Result<Vec<Bytes>, EncodeError> {
        let mut b = BytesMut::new();
        self.withdraw_into(family, prefixes, &mut b)?;
        Ok(split_messages(b.freeze()))
    }
}

fn put_header(dst: &mut BytesMut) {
    dst.put_slice(&MARKER);
    dst.put_u16(0);
    dst.put_u8(MessageType::UPDATE.0);
}

/// Writes as many prefixes as fit in `room` octets; at least one, or an error.
fn put_prefixes(
    dst: &mut BytesMut,
    items: &[Nlri],
    add_path: bool,
    room: usize,
) -> Result<usize, EncodeError> {
    let mut used = 0;
    let mut n = 0;
    for item in items {
        let l = nlri::wire_len(item, add_path);
        if used + l > room {
            break;
        }
        nlri::encode_one(item, add_path, dst);
        used += l;
        n += 1;
    }
    if n == 0 {
        return Err(EncodeError::RouteTooLarge);
    }
    Ok(n)
}

fn patch_u16(dst: &mut BytesMut, at: usize, value: usize) -> Result<(), EncodeError> {
    let v = u16::try_from(value).map_err(|_| EncodeError::FieldOverflow { field: "length" })?;
    if let Some(slot) = dst.get_mut(at..at + 2) {
        slot.copy_from_slice(&v.to_be_bytes());
    }
    Ok(())
}

fn patch_len(dst: &mut BytesMut, start: usize) {
    let len = dst.len() - start;
    let _ = patch_u16(dst, start + 16, len);
}

/// Splits a buffer of whole, valid messages at their length fields.
fn split_messages(mut b: Bytes) -> Vec<Bytes> {
    let mut out = Vec::new();
    while let Some([hi, lo]) = b.get(16..18) {
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        if len < HEADER_LEN || len > b.len() {
            break;
        }
        out.push(b.split_to(len));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::{AsPath, AttrValue, Origin};
    use crate::message::Message;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(i: u32) -> Nlri {
        Nlri::new(ipnet::Ipv4Net::new(Ipv4Addr::from(0x6440_0000 + i), 32).unwrap())
    }

    fn attrs() -> Vec<PathAttribute> {
        vec![
            AttrValue::Origin(Origin::Igp).into(),
            AttrValue::AsPath(AsPath::from_sequence([65001])).into(),
            AttrValue::NextHop(Ipv4Addr::new(192, 0, 2, 1)).into(),
        ]
    }

    #[test]
    fn packs_to_the_maximum_and_loses_nothing() {
        for ctx in [
            Context::modern(),
            Context {
                extended_message: true,
                ..Context::modern()
            },
        ] {
            let prefixes: Vec<Nlri> = (0..20_000).map(v4).collect();
            let mut b = UpdateBuilder::new(ctx);
            let msgs = b.announce(&attrs(), &prefixes).unwrap();
            let mut got = Vec::new();
            for m in &msgs {
                assert!(m.len() <= ctx.max_message_len());
                let d = Message::decode(m, &ctx).unwrap();
                assert!(d.errors.is_empty());
                let Message::Update(u) = d.message else {
                    panic!()
                };
                got.extend(u.nlri);
            }
            assert_eq!(got, prefixes);
            // Every message but the last is full to within one prefix.
            for m in &msgs[..msgs.len() - 1] {
                assert!(m.len() + 5 > ctx.max_message_len());
            }
        }
    }

    #[test]
    fn withdraws_more_than_800_prefixes_split_correctly() {
        let ctx = Context::modern();
        let prefixes: Vec<Nlri> = (0..5000).map(v4).collect();
        let msgs = UpdateBuilder::new(ctx)
            .withdraw(Family::IPV4_UNICAST, &prefixes)
            .unwrap();
        let mut got = Vec::new();
        for m in &msgs {
            let Message::Update(u) = Message::decode(m, &ctx).unwrap().message else {
                panic!()
            };
            got.extend(u.withdrawn);
        }
        assert_eq!(got, prefixes);
    }

    #[test]
    fn ipv6_mp_reach_and_unreach() {
        let ctx = Context::modern();
        let prefixes: Vec<Nlri> = (0..3000u128)
            .map(|i| {
                Nlri::new(
                    ipnet::Ipv6Net::new(Ipv6Addr::from((0x2001_0db8u128 << 96) + i), 128).unwrap(),
                )
            })
            .collect();
        let nh = NextHop::Ipv6 {
            global: "2001:db8::1".parse().unwrap(),
            link_local: Some("fe80::1".parse().unwrap()),
        };
        let mut b = UpdateBuilder::new(ctx);
        let a = &attrs()[..2];
        let msgs = b
            .announce_mp(Family::IPV6_UNICAST, &nh, a, &prefixes)
            .unwrap();
        let mut got = Vec::new();
        for m in &msgs {
            let d = Message::decode(m, &ctx).unwrap();
            assert!(d.errors.is_empty(), "{:?}", d.errors);
            let Message::Update(u) = d.message else {
                panic!()
            };
            assert_eq!(u.attributes[0].code(), AttrType::MP_REACH_NLRI);
            let mp = u.mp_reach().unwrap();
            assert_eq!(mp.next_hop, nh);
            got.extend(mp.nlri.iter());
        }
        assert_eq!(got, prefixes);
        let w = b.withdraw(Family::IPV6_UNICAST, &prefixes).unwrap();
        let mut got = Vec::new();
        for m in &w {
            let Message::Update(u) = Message::decode(m, &ctx).unwrap().message else {
                panic!()
            };
            got.extend(u.mp_unreach().unwrap().withdrawn.iter());
        }
        assert_eq!(got, prefixes);
    }

    // RFC 8950 §4: IPv4 routes with an IPv6 next hop go only to a peer that
    // advertised the Extended Next Hop Encoding capability for the family.
    #[test]
    fn ipv6_next_hop_for_ipv4_routes_needs_the_capability() {
        let nh = NextHop::Ipv6 {
            global: "2001:db8::1".parse().unwrap(),
            link_local: None,
        };
        let a = &attrs()[..2];
        let mut out = BytesMut::new();
        let refused = UpdateBuilder::new(Context::modern()).announce_mp_into(
            Family::IPV4_UNICAST,
            &nh,
            a,
            &[v4(1)],
            &mut out,
        );
        assert_eq!(
            refused,
            Err(EncodeError::ExtendedNextHopNotNegotiated {
                family: Family::IPV4_UNICAST
            })
        );
        assert!(out.is_empty(), "nothing is written for a refused next hop");

        let ctx = Context {
            extended_next_hop: crate::context::FamilySet::EMPTY.with(Family::IPV4_UNICAST),
            ..Context::modern()
        };
        let msgs = UpdateBuilder::new(ctx)
            .announce_mp(Family::IPV4_UNICAST, &nh, a, &[v4(1), v4(2)])
            .unwrap();
        assert_eq!(msgs.len(), 1);
        let Message::Update(u) = Message::decode(&msgs[0], &ctx).unwrap().message else {
            panic!()
        };
        let mp = u.mp_reach().unwrap();
        assert_eq!(mp.family, Family::IPV4_UNICAST);
        assert_eq!(mp.next_hop, nh);
        assert_eq!(mp.nlri.iter().collect::<Vec<_>>(), [v4(1), v4(2)]);
    }

    // RFC 2545 §3: IPv6 routes need an IPv6 next hop; a 4-octet one would
    // make an UPDATE the peer must reject (RFC 7606 §7.11).
    #[test]
    fn ipv4_next_hop_for_ipv6_routes_is_refused() {
        let p = Nlri::new(ipnet::Ipv6Net::new("2001:db8::".parse().unwrap(), 64).unwrap());
        let got = UpdateBuilder::new(Context::modern()).announce_mp(
            Family::IPV6_UNICAST,
            &NextHop::Ipv4(Ipv4Addr::new(192, 0, 2, 1)),
            &attrs()[..2],
            &[p],
        );
        assert_eq!(
            got,
            Err(EncodeError::NextHopFamily {
                family: Family::IPV6_UNICAST,
                len: 4
            })
        );
    }

    #[test]
    fn end_of_rib_markers() {
        let b = UpdateBuilder::new(Context::modern());
        assert_eq!(b.end_of_rib(Family::IPV4_UNICAST).len(), 23);
        let m = b.end_of_rib(Family::IPV6_UNICAST);
        let Message::Update(u) = Message::decode(&m, &Context::modern()).unwrap().message else {
            panic!()
        };
        assert_eq!(u.end_of_rib_family(), Some(Family::IPV6_UNICAST));
    }
}
