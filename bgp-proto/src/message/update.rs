//! UPDATE (RFC 4271 §4.3) with RFC 7606 revised error handling.

use std::net::Ipv4Addr;

use bytes::{BufMut, Bytes, BytesMut};

use crate::attribute::as_path::AS_PATH_INLINE;
use crate::attribute::{
    AS_TRANS, Aggregator, AsPath, AttrFlags, AttrValue, List, MpReach, MpUnreach, Origin,
    PathAttribute, SegmentType, decode_value,
};
use crate::context::{Context, Family};
use crate::error::{AttrAction, AttrError, DecodeError, ErrorKind};
use crate::iana::{Afi, AttrType};
use crate::nlri::NlriList;
use crate::raw::{INLINE_LIST, Raw, Window};
use crate::wire;

/// An UPDATE message, as on the wire.
///
/// `withdrawn` and `nlri` are the IPv4 unicast fields of RFC 4271; other
/// families travel in the [`AttrValue::MpReach`] and [`AttrValue::MpUnreach`]
/// attributes (RFC 4760).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Update {
    /// Withdrawn IPv4 unicast routes.
    pub withdrawn: NlriList,
    /// Path attributes in wire order.
    pub attributes: Vec<PathAttribute>,
    /// Reachable IPv4 unicast routes.
    pub nlri: NlriList,
}

impl Update {
    /// The End-of-RIB marker for `family` (RFC 4724 §2): an empty UPDATE for
    /// IPv4 unicast, otherwise an UPDATE with only an empty MP_UNREACH_NLRI.
    pub fn end_of_rib(family: Family) -> Self {
        if family == Family::IPV4_UNICAST {
            Self::default()
        } else {
            Self {
                attributes: vec![PathAttribute::new(AttrValue::MpUnreach(Box::new(
                    MpUnreach::new(family, Vec::new()),
                )))],
                ..Self::default()
            }
        }
    }

    /// The family this UPDATE is the End-of-RIB marker of, if it is one.
    pub fn end_of_rib_family(&self) -> Option<Family> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        match self.attributes.as_slice() {
            [] => Some(Family::IPV4_UNICAST),
            [a] => match &a.value {
                AttrValue::MpUnreach(m)
                    if m.withdrawn.is_empty() && m.opaque_withdrawn.is_empty() =>
                {
                    Some(m.family)
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// The first attribute with this type code.
    pub fn attribute(&self, code: AttrType) -> Option<&AttrValue> {
        self.attributes
            .iter()
            .find(|a| a.code() == code)
            .map(|a| &a.value)
    }

    /// ORIGIN.
    pub fn origin(&self) -> Option<Origin> {
        match self.attribute(AttrType::ORIGIN)? {
            AttrValue::Origin(o) => Some(*o),
            _ => None,
        }
    }

    /// AS_PATH as received (see [`Update::effective_as_path`] for RFC 6793 merging).
    pub fn as_path(&self) -> Option<&AsPath> {
        match self.attribute(AttrType::AS_PATH)? {
            AttrValue::AsPath(p) => Some(p),
            _ => None,
        }
    }

    /// NEXT_HOP.
    pub fn next_hop(&self) -> Option<Ipv4Addr> {
        match self.attribute(AttrType::NEXT_HOP)? {
            AttrValue::NextHop(a) => Some(*a),
            _ => None,
        }
    }

    /// MP_REACH_NLRI.
    pub fn mp_reach(&self) -> Option<&MpReach> {
        match self.attribute(AttrType::MP_REACH_NLRI)? {
            AttrValue::MpReach(m) => Some(m),
            _ => None,
        }
    }

    /// MP_UNREACH_NLRI.
    pub fn mp_unreach(&self) -> Option<&MpUnreach> {
        match self.attribute(AttrType::MP_UNREACH_NLRI)? {
            AttrValue::MpUnreach(m) => Some(m),
            _ => None,
        }
    }

    /// Whether the UPDATE announces any route (in NLRI or MP_REACH_NLRI).
    pub fn has_reachable(&self) -> bool {
        !self.nlri.is_empty()
            || self
                .mp_reach()
                .is_some_and(|m| !m.nlri.is_empty() || !m.opaque_nlri.is_empty())
    }

    /// AGGREGATOR as received (see [`Update::effective_aggregator`] for RFC
    /// 6793 merging).
    pub fn aggregator(&self) -> Option<&Aggregator> {
        match self.attribute(AttrType::AGGREGATOR)? {
            AttrValue::Aggregator(a) => Some(a),
            _ => None,
        }
    }

    /// AS4_AGGREGATOR as received.
    pub fn as4_aggregator(&self) -> Option<&Aggregator> {
        match self.attribute(AttrType::AS4_AGGREGATOR)? {
            AttrValue::As4Aggregator(a) => Some(a),
            _ => None,
        }
    }

    /// Whether RFC 6793 §4.2.3 says to ignore AS4_PATH and AS4_AGGREGATOR:
    /// AGGREGATOR is present and names an AS other than AS_TRANS.
    fn as4_attributes_ignored(&self) -> bool {
        self.aggregator().is_some_and(|a| a.asn != AS_TRANS)
    }

    /// The AS path after the RFC 6793 §4.2.3 reconstruction for a session
    /// without 4-octet AS support: AS4_PATH replaces the tail of AS_PATH it
    /// covers, unless it is longer than AS_PATH, or AGGREGATOR names an AS
    /// other than AS_TRANS (then AS4_PATH and AS4_AGGREGATOR are ignored).
    /// With no AS4_PATH this is the AS_PATH. On a session with 4-octet AS
    /// numbers the AS_PATH is already complete: use [`Update::as_path`].
    pub fn effective_as_path(&self) -> Option<AsPath> {
        let path = self.as_path()?;
        match self.attribute(AttrType::AS4_PATH) {
            Some(AttrValue::As4Path(as4)) if !self.as4_attributes_ignored() => {
                Some(merge_as4_path(path, as4))
            }
            _ => Some(path.clone()),
        }
    }

    /// The aggregator after the RFC 6793 §4.2.3 reconstruction for a session
    /// without 4-octet AS support: an AGGREGATOR whose AS is AS_TRANS is
    /// replaced by AS4_AGGREGATOR (AS and address) when that is present;
    /// any other AGGREGATOR is used as received, and AS4_AGGREGATOR is then
    /// ignored. AS4_AGGREGATOR without AGGREGATOR is ignored too: it only
    /// ever stands in for an AGGREGATOR. On a session with 4-octet AS
    /// numbers use [`Update::aggregator`].
    pub fn effective_aggregator(&self) -> Option<Aggregator> {
        let aggregator = self.aggregator()?;
        match self.as4_aggregator() {
            Some(as4) if aggregator.asn == AS_TRANS => Some(*as4),
            _ => Some(*aggregator),
        }
    }

    /// Decodes the body of `whole` (a complete UPDATE message) into `self`,
    /// which must be empty (`Update::default()`): filling the fields in
    /// place spares the moves of a returned value. Soft errors are appended
    /// to `errors`; a session-reset error is returned as `Err`.
    pub(crate) fn decode_into(
        &mut self,
        whole: &Bytes,
        ctx: &Context,
        errors: &mut Vec<AttrError>,
    ) -> Result<(), DecodeError> {
        let body = whole.get(19..).unwrap_or_default();
        let at = |p: &[u8]| wire::offset(whole, p);
        // RFC 4271 §6.3: lengths that overrun the message: Malformed Attribute List.
        let mal = |p: &[u8]| DecodeError::new(ErrorKind::MalformedAttributeList, at(p));
        let (rest, wlen) = wire::u16(body).map_err(|_| mal(body))?;
        let (rest, wfield) = wire::take(usize::from(wlen))(rest).map_err(|_| mal(body))?;
        let (rest, alen) = wire::u16(rest).map_err(|_| mal(rest))?;
        let (nlri_field, afield) = wire::take(usize::from(alen))(rest).map_err(|_| mal(rest))?;

        // RFC 7606 §5.3: a syntactically incorrect NLRI or withdrawn field
        // cannot be located route by route, so the session is reset.
        let v4 = ctx.add_path(Family::IPV4_UNICAST);
        self.withdrawn
            .decode_into(wfield, whole, Afi::IPV4, v4)
            .map_err(|e| DecodeError::new(ErrorKind::InvalidNetworkField, at(wfield) + e.at))?;
        self.nlri
            .decode_into(nlri_field, whole, Afi::IPV4, v4)
            .map_err(|e| DecodeError::new(ErrorKind::InvalidNetworkField, at(nlri_field) + e.at))?;

        let mut present = Present::default();
        decode_attributes(
            &mut self.attributes,
            &mut present,
            whole,
            afield,
            ctx,
            errors,
        )?;
        // The presence bitmap saves rescanning the attributes per check.
        let reachable =
            !self.nlri.is_empty() || (present.has(AttrType::MP_REACH_NLRI) && self.has_reachable());
        if reachable {
            self.check_mandatory(present, at(afield), errors);
        }
        // RFC 7606 §5.2: an UPDATE with path attributes (other than
        // MP_UNREACH_NLRI) but no reachable NLRI cannot be handled by
        // treat-as-withdraw: any error stronger than attribute discard resets
        // the session.
        if !reachable && !afield.is_empty() {
            let only_unreach = self
                .attributes
                .iter()
                .all(|a| a.code() == AttrType::MP_UNREACH_NLRI)
                && errors.iter().all(|e| e.code == AttrType::MP_UNREACH_NLRI);
            if !only_unreach {
                if let Some(e) = errors
                    .iter()
                    .find(|e| e.action == AttrAction::TreatAsWithdraw)
                {
                    return Err(DecodeError::new(e.kind.clone(), e.offset));
                }
            }
        }
        Ok(())
    }

    /// RFC 7606 §3 d: a missing well-known mandatory attribute makes the UPDATE
    /// treat-as-withdraw. They are only required when routes are announced;
    /// NEXT_HOP only for routes in the NLRI field (RFC 4760 §3). One that was
    /// present but malformed already has its own treat-as-withdraw error,
    /// and is not reported missing as well.
    fn check_mandatory(&self, present: Present, offset: usize, errors: &mut Vec<AttrError>) {
        let mut need = [AttrType::ORIGIN, AttrType::AS_PATH, AttrType::NEXT_HOP].into_iter();
        let classic = !self.nlri.is_empty();
        let missing = need.find(|c| {
            (*c != AttrType::NEXT_HOP || classic)
                && !present.has(*c)
                && !errors
                    .iter()
                    .any(|e| e.code == *c && e.action >= AttrAction::TreatAsWithdraw)
        });
        if let Some(code) = missing {
            errors.push(AttrError {
                code,
                kind: ErrorKind::MissingWellKnownAttribute { code },
                action: AttrAction::TreatAsWithdraw,
                offset,
                family: None,
            });
        }
    }

    pub(crate) fn body_len(&self, ctx: &Context) -> usize {
        let v4 = ctx.add_path(Family::IPV4_UNICAST);
        4 + self.withdrawn.wire_len(v4) + self.attributes_len(ctx) + self.nlri.wire_len(v4)
    }

    fn attributes_len(&self, ctx: &Context) -> usize {
        self.attributes.iter().map(|a| a.encoded_len(ctx)).sum()
    }

    pub(crate) fn encode_body(&self, ctx: &Context, dst: &mut BytesMut) {
        let v4 = ctx.add_path(Family::IPV4_UNICAST);
        dst.put_u16(u16::try_from(self.withdrawn.wire_len(v4)).unwrap_or(u16::MAX));
        self.withdrawn.encode(v4, dst);
        // The attribute field's length is patched in once it is written:
        // computing it first would size every attribute twice.
        let at = dst.len();
        dst.put_u16(0);
        for a in &self.attributes {
            a.encode(ctx, dst);
        }
        let alen = u16::try_from(dst.len() - at - 2).unwrap_or(u16::MAX);
        if let Some(field) = dst.get_mut(at..at + 2) {
            field.copy_from_slice(&alen.to_be_bytes());
        }
        self.nlri.encode(v4, dst);
    }
}

/// A set of attribute type codes (256 bits): which attributes decoded,
/// which were seen, which repeats were reported.
#[derive(Clone, Copy, Default)]
struct Present([u64; 4]);

impl Present {
    fn insert(&mut self, code: AttrType) {
        if let Some(w) = self.0.get_mut(usize::from(code.0 >> 6)) {
            *w |= 1 << (code.0 & 63);
        }
    }
    fn has(self, code: AttrType) -> bool {
        self.0
            .get(usize::from(code.0 >> 6))
            .is_some_and(|w| w & (1 << (code.0 & 63)) != 0)
    }
}

/// Parses the path attributes field.
///
/// RFC 7606 §4: an attribute whose header or length overruns the field makes
/// the UPDATE treat-as-withdraw, and parsing stops there (the NLRI field is
/// still located through Total Path Attribute Length). RFC 7606 §3 g: a
/// repeated attribute is discarded, except a repeated MP_REACH_NLRI or
/// MP_UNREACH_NLRI, which is a Malformed Attribute List (session reset).
/// Only the first repeat of each type is reported, so the error list holds
/// at most two entries per type code however many repeats a peer sends.
fn decode_attributes(
    out: &mut Vec<PathAttribute>,
    present: &mut Present,
    whole: &Bytes,
    field: &[u8],
    ctx: &Context,
    errors: &mut Vec<AttrError>,
) -> Result<(), DecodeError> {
    if field.is_empty() {
        return Ok(());
    }
    out.reserve_exact(estimate_attrs(field));
    let mut seen = Present::default();
    let mut repeated = Present::default();
    let mut rest = field;
    while !rest.is_empty() {
        let offset = wire::offset(whole, rest);
        let header = match rest {
            [f, c, l, tail @ ..] if f & AttrFlags::EXTENDED_LENGTH == 0 => {
                Some((*f, *c, usize::from(*l), 3, tail))
            }
            [f, c, l1, l2, tail @ ..] if f & AttrFlags::EXTENDED_LENGTH != 0 => {
                Some((*f, *c, usize::from(u16::from_be_bytes([*l1, *l2])), 4, tail))
            }
            _ => None,
        };
        let Some((flags, code, len, hdr_len, tail)) = header else {
            errors.push(overrun(rest, offset));
            break;
        };
        let Some(value) = tail.get(..len) else {
            errors.push(overrun(rest, offset));
            break;
        };
        let attr_bytes = rest.get(..hdr_len + len).unwrap_or_default();
        rest = tail.get(len..).unwrap_or_default();
        let code = AttrType(code);
        if seen.has(code) {
            if matches!(code, AttrType::MP_REACH_NLRI | AttrType::MP_UNREACH_NLRI) {
                return Err(DecodeError::new(ErrorKind::MalformedAttributeList, offset));
            }
            if !repeated.has(code) {
                repeated.insert(code);
                errors.push(AttrError {
                    code,
                    kind: ErrorKind::MalformedAttributeList,
                    action: AttrAction::Discard,
                    offset,
                    family: None,
                });
            }
            continue;
        }
        seen.insert(code);
        let flags = AttrFlags(flags);
        if decode_common(flags, code, value, whole, ctx, out) {
            present.insert(code);
            continue;
        }
        match decode_value(flags, code, attr_bytes, value, whole, ctx) {
            Ok(value) => {
                present.insert(code);
                out.push(PathAttribute { flags, value });
            }
            Err((kind, AttrAction::SessionReset, _)) => {
                return Err(DecodeError::new(kind, offset));
            }
            Err((kind, action, family)) => errors.push(AttrError {
                code,
                kind,
                action,
                offset,
                family,
            }),
        }
    }
    Ok(())
}

/// The fast path for the attributes nearly every UPDATE carries: when the
/// attribute has its type's Optional and Transitive bits and a valid value,
/// pushes it and returns `true`. Anything else (other types, any error)
/// returns `false` and goes through [`decode_value`], which handles every
/// case, so the outcome is the same either way.
#[inline(always)]
fn decode_common(
    flags: AttrFlags,
    code: AttrType,
    value: &[u8],
    whole: &Bytes,
    ctx: &Context,
    out: &mut Vec<PathAttribute>,
) -> bool {
    const MASK: u8 = AttrFlags::OPTIONAL | AttrFlags::TRANSITIVE;
    const WELL_KNOWN: u8 = AttrFlags::TRANSITIVE;
    const OPT_NON_TRANS: u8 = AttrFlags::OPTIONAL;
    const OPT_TRANS: u8 = AttrFlags::OPTIONAL | AttrFlags::TRANSITIVE;
    let class = flags.0 & MASK;
    let u32_of = |v: &[u8]| <[u8; 4]>::try_from(v).ok().map(u32::from_be_bytes);
    // Every kind of value is pushed by its own small function taking plain
    // values: when the arms shared one push, each value took a detour
    // through a stack temporary (stores and loads of different widths,
    // which the CPU cannot forward).
    match (code, class) {
        (AttrType::ORIGIN, WELL_KNOWN) => match value {
            [v] => match Origin::from_wire(*v) {
                Some(o) => push_origin(out, flags, o),
                None => return false,
            },
            _ => return false,
        },
        (AttrType::AS_PATH, WELL_KNOWN) => {
            if !AsPath::valid(value, ctx.four_octet_as) {
                return false;
            }
            match crate::raw::window(whole, value) {
                Some(w) => push_as_path(out, flags, w, ctx.four_octet_as),
                None => out.push(PathAttribute {
                    flags,
                    value: AttrValue::AsPath(AsPath::new_in(whole, value, ctx.four_octet_as)),
                }),
            }
        }
        (AttrType::NEXT_HOP, WELL_KNOWN) => match u32_of(value).map(Ipv4Addr::from) {
            Some(a) if !(a.is_unspecified() || a.is_multicast() || a.is_broadcast()) => {
                push_next_hop(out, flags, a)
            }
            _ => return false,
        },
        (AttrType::MULTI_EXIT_DISC, OPT_NON_TRANS) => match u32_of(value) {
            Some(v) => push_med(out, flags, v),
            None => return false,
        },
        (AttrType::LOCAL_PREF, WELL_KNOWN) => match u32_of(value) {
            Some(v) => push_local_pref(out, flags, v),
            None => return false,
        },
        (AttrType::COMMUNITIES, OPT_TRANS) => {
            return push_list(out, flags, whole, value, 4, |r| {
                AttrValue::Communities(List::from_raw(r))
            });
        }
        (AttrType::ATOMIC_AGGREGATE, WELL_KNOWN) if value.is_empty() => push_atomic(out, flags),
        (AttrType::AGGREGATOR, OPT_TRANS) => {
            match Aggregator::decode(value, ctx.four_octet_as).filter(|a| a.asn != 0) {
                Some(a) => push_aggregator(out, flags, a.asn, a.address),
                None => return false,
            }
        }
        (AttrType::LARGE_COMMUNITY, OPT_TRANS) => {
            return push_list(out, flags, whole, value, 12, |r| {
                AttrValue::LargeCommunities(List::from_raw(r))
            });
        }
        (AttrType::EXTENDED_COMMUNITIES, OPT_TRANS) => {
            return push_list(out, flags, whole, value, 8, |r| {
                AttrValue::ExtendedCommunities(List::from_raw(r))
            });
        }
        _ => return false,
    }
    true
}

/// Pushes with the capacity checked first, so that the value is written
/// straight into the vector instead of being built on the stack and copied.
#[inline(always)]
fn push_in_place(out: &mut Vec<PathAttribute>, a: PathAttribute) {
    if out.len() < out.capacity() {
        out.push(a);
    } else {
        grow_and_push(out, a);
    }
}

#[cold]
#[inline(never)]
fn grow_and_push(out: &mut Vec<PathAttribute>, a: PathAttribute) {
    out.push(a);
}

/// COMMUNITIES, LARGE_COMMUNITY or EXTENDED COMMUNITIES: a non-empty whole
/// number of `unit`-octet elements, kept inline when short, else shared with
/// `whole`; `false` (for the general decoder) otherwise.
#[inline(always)]
fn push_list<F: Fn(Raw<INLINE_LIST>) -> AttrValue>(
    out: &mut Vec<PathAttribute>,
    flags: AttrFlags,
    whole: &Bytes,
    value: &[u8],
    unit: usize,
    wrap: F,
) -> bool {
    if value.is_empty() || value.len() % unit != 0 {
        return false;
    }
    match crate::raw::window(whole, value) {
        Some(w) => push_list_inline(out, flags, w, wrap),
        None => out.push(PathAttribute {
            flags,
            value: wrap(Raw::new(whole, value)),
        }),
    }
    true
}

/// One monomorphic copy per list kind (`wrap` is a distinct closure type
/// each time), like the other `push_*` functions.
#[inline(never)]
fn push_list_inline<F: Fn(Raw<INLINE_LIST>) -> AttrValue>(
    out: &mut Vec<PathAttribute>,
    flags: AttrFlags,
    w: Window<'_, INLINE_LIST>,
    wrap: F,
) {
    push_in_place(
        out,
        PathAttribute {
            flags,
            value: wrap(Raw::Inline {
                off: w.off,
                len: w.len,
                buf: *w.buf,
            }),
        },
    );
}

#[inline(never)]
fn push_atomic(out: &mut Vec<PathAttribute>, flags: AttrFlags) {
    push_in_place(
        out,
        PathAttribute {
            flags,
            value: AttrValue::AtomicAggregate,
        },
    );
}

#[inline(never)]
fn push_aggregator(out: &mut Vec<PathAttribute>, flags: AttrFlags, asn: u32, address: Ipv4Addr) {
    push_in_place(
        out,
        PathAttribute {
            flags,
            value: AttrValue::Aggregator(Aggregator { asn, address }),
        },
    );
}

#[inline(never)]
fn push_origin(out: &mut Vec<PathAttribute>, flags: AttrFlags, o: Origin) {
    push_in_place(
        out,
        PathAttribute {
            flags,
            value: AttrValue::Origin(o),
        },
    );
}

#[inline(never)]
fn push_next_hop(out: &mut Vec<PathAttribute>, flags: AttrFlags, a: Ipv4Addr) {
    push_in_place(
        out,
        PathAttribute {
            flags,
            value: AttrValue::NextHop(a),
        },
    );
}

#[inline(never)]
fn push_med(out: &mut Vec<PathAttribute>, flags: AttrFlags, v: u32) {
    push_in_place(
        out,
        PathAttribute {
            flags,
            value: AttrValue::MultiExitDisc(v),
        },
    );
}

#[inline(never)]
fn push_local_pref(out: &mut Vec<PathAttribute>, flags: AttrFlags, v: u32) {
    push_in_place(
        out,
        PathAttribute {
            flags,
            value: AttrValue::LocalPref(v),
        },
    );
}

#[inline(never)]
fn push_as_path(
    out: &mut Vec<PathAttribute>,
    flags: AttrFlags,
    w: Window<'_, AS_PATH_INLINE>,
    four_octet: bool,
) {
    push_in_place(
        out,
        PathAttribute {
            flags,
            value: AttrValue::AsPath(AsPath::inline(w, four_octet)),
        },
    );
}

/// A capacity guess for the attribute vector: typical UPDATEs carry 3–8.
fn estimate_attrs(field: &[u8]) -> usize {
    (field.len() / 6).clamp(0, 12)
}

fn overrun(rest: &[u8], offset: usize) -> AttrError {
    AttrError {
        code: AttrType(rest.get(1).copied().unwrap_or(0)),
        kind: ErrorKind::MalformedAttributeList,
        action: AttrAction::TreatAsWithdraw,
        offset,
        family: None,
    }
}

/// RFC 6793 §4.2.3: rebuild the 4-octet path from AS_PATH and AS4_PATH.
fn merge_as4_path(path: &AsPath, as4: &AsPath) -> AsPath {
    // Confederation segments count as zero, an AS_SET as one.
    let count = |p: &AsPath| p.route_selection_len();
    let (n, n4) = (count(path), count(as4));
    if n < n4 {
        return path.clone();
    }
    let mut keep = n - n4;
    let mut segs: Vec<(SegmentType, Vec<u32>)> = Vec::new();
    for s in path.segments() {
        if keep == 0 {
            break;
        }
        match s.kind() {
            SegmentType::Sequence => {
                let take: Vec<u32> = s.asns().take(keep).collect();
                keep -= take.len();
                segs.push((s.kind(), take));
            }
            SegmentType::Set => {
                keep -= 1;
                segs.push((s.kind(), s.asns().collect()));
            }
            _ => segs.push((s.kind(), s.asns().collect())),
        }
    }
    // RFC 6793 §6: confederation segments in AS4_PATH are discarded.
    for s in as4
        .segments()
        .filter(|s| matches!(s.kind(), SegmentType::Sequence | SegmentType::Set))
    {
        segs.push((s.kind(), s.asns().collect()));
    }
    AsPath::from_segments(segs.iter().map(|(k, v)| (*k, v.as_slice())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as4_merge_replaces_tail() {
        let path = AsPath::from_sequence([65001, AS_TRANS, AS_TRANS]);
        let as4 = AsPath::from_sequence([4_200_000_001, 4_200_000_002]);
        assert_eq!(
            merge_as4_path(&path, &as4).to_string(),
            "65001 4200000001 4200000002"
        );
        let longer = AsPath::from_sequence([1, 2, 3, 4]);
        assert_eq!(merge_as4_path(&path, &longer), path);
    }

    /// One AS path segment on the wire with 2-octet ASNs (RFC 4271 §4.3).
    fn segment2(kind: u8, asns: &[u16]) -> Vec<u8> {
        let mut v = vec![kind, u8::try_from(asns.len()).unwrap_or(0)];
        for a in asns {
            v.extend_from_slice(&a.to_be_bytes());
        }
        v
    }

    /// One AS path segment on the wire with 4-octet ASNs (AS4_PATH, RFC 6793 §3).
    fn segment4(kind: u8, asns: &[u32]) -> Vec<u8> {
        let mut v = vec![kind, u8::try_from(asns.len()).unwrap_or(0)];
        for a in asns {
            v.extend_from_slice(&a.to_be_bytes());
        }
        v
    }

    /// An UPDATE from a peer without 4-octet AS support announcing
    /// 192.0.2.0/24, with the given AS_PATH value and optional AGGREGATOR
    /// (2-octet AS), AS4_PATH and AS4_AGGREGATOR values, written octet by
    /// octet as RFC 4271 §4.3 and RFC 6793 §3 lay them out.
    fn old_speaker_update(
        as_path: &[u8],
        aggregator: Option<(u16, [u8; 4])>,
        as4_path: Option<&[u8]>,
        as4_aggregator: Option<(u32, [u8; 4])>,
    ) -> Update {
        let mut attrs = vec![0x40, 1, 1, 0];
        attrs.extend_from_slice(&[0x40, 2, u8::try_from(as_path.len()).unwrap_or(0)]);
        attrs.extend_from_slice(as_path);
        attrs.extend_from_slice(&[0x40, 3, 4, 192, 0, 2, 1]);
        if let Some((asn, id)) = aggregator {
            attrs.extend_from_slice(&[0xc0, 7, 6]);
            attrs.extend_from_slice(&asn.to_be_bytes());
            attrs.extend_from_slice(&id);
        }
        if let Some(p) = as4_path {
            attrs.extend_from_slice(&[0xc0, 17, u8::try_from(p.len()).unwrap_or(0)]);
            attrs.extend_from_slice(p);
        }
        if let Some((asn, id)) = as4_aggregator {
            attrs.extend_from_slice(&[0xc0, 18, 8]);
            attrs.extend_from_slice(&asn.to_be_bytes());
            attrs.extend_from_slice(&id);
        }
        let nlri = [24, 192, 0, 2];
        let len = 19 + 2 + 2 + attrs.len() + nlri.len();
        let mut msg = vec![0xff; 16];
        msg.extend_from_slice(&u16::try_from(len).unwrap_or(0).to_be_bytes());
        msg.extend_from_slice(&[2, 0, 0]);
        msg.extend_from_slice(&u16::try_from(attrs.len()).unwrap_or(0).to_be_bytes());
        msg.extend_from_slice(&attrs);
        msg.extend_from_slice(&nlri);
        let ctx = Context {
            four_octet_as: false,
            ..Context::modern()
        };
        let d = crate::Message::decode(&Bytes::from(msg), &ctx).unwrap();
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        match d.message {
            crate::Message::Update(u) => u,
            other => panic!("not an UPDATE: {other:?}"),
        }
    }

    const TRANS: u16 = 23_456;

    /// RFC 7606 §3 d and §7.1: a malformed ORIGIN (value 3) is one
    /// treat-as-withdraw error, not also a Missing Well-known Attribute.
    #[test]
    fn malformed_mandatory_attribute_is_not_also_reported_missing() {
        let attrs = [
            0x40, 1, 1, 3, // ORIGIN with an undefined value
            0x40, 2, 0, // empty AS_PATH
            0x40, 3, 4, 192, 0, 2, 1, // NEXT_HOP
        ];
        let mut msg = vec![0xff; 16];
        let len = 19 + 4 + attrs.len() + 4;
        msg.extend_from_slice(&u16::try_from(len).unwrap_or(0).to_be_bytes());
        msg.extend_from_slice(&[2, 0, 0, 0, u8::try_from(attrs.len()).unwrap_or(0)]);
        msg.extend_from_slice(&attrs);
        msg.extend_from_slice(&[24, 192, 0, 2]);
        let d = crate::Message::decode(&Bytes::from(msg), &Context::modern()).unwrap();
        let codes: Vec<_> = d.errors.iter().map(|e| (e.code, e.action)).collect();
        assert_eq!(codes, [(AttrType::ORIGIN, AttrAction::TreatAsWithdraw)]);
    }

    /// RFC 6793 §4.2.3: AGGREGATOR with AS_TRANS is replaced by
    /// AS4_AGGREGATOR, and AS4_PATH is merged.
    #[test]
    fn as_trans_aggregator_takes_as4_aggregator() {
        let u = old_speaker_update(
            &segment2(2, &[65001, TRANS]),
            Some((TRANS, [192, 0, 2, 9])),
            Some(&segment4(2, &[4_200_000_001])),
            Some((4_200_000_002, [198, 51, 100, 7])),
        );
        assert_eq!(u.aggregator().map(|a| a.asn), Some(u32::from(TRANS)));
        assert_eq!(
            u.effective_aggregator(),
            Some(Aggregator {
                asn: 4_200_000_002,
                address: Ipv4Addr::new(198, 51, 100, 7),
            })
        );
        assert_eq!(
            u.effective_as_path().map(|p| p.to_string()).as_deref(),
            Some("65001 4200000001")
        );
    }

    /// RFC 6793 §4.2.3: an AGGREGATOR naming an AS other than AS_TRANS
    /// means AS4_AGGREGATOR and AS4_PATH are both ignored.
    #[test]
    fn real_aggregator_ignores_as4_attributes() {
        let u = old_speaker_update(
            &segment2(2, &[65001, TRANS]),
            Some((64_512, [192, 0, 2, 9])),
            Some(&segment4(2, &[4_200_000_001])),
            Some((4_200_000_002, [198, 51, 100, 7])),
        );
        assert_eq!(
            u.effective_aggregator(),
            Some(Aggregator {
                asn: 64_512,
                address: Ipv4Addr::new(192, 0, 2, 9),
            })
        );
        assert_eq!(
            u.effective_as_path().map(|p| p.to_string()).as_deref(),
            Some("65001 23456")
        );
        // No AGGREGATOR: AS4_AGGREGATOR alone is not an aggregator, and
        // AS4_PATH is merged.
        let u = old_speaker_update(
            &segment2(2, &[65001, TRANS]),
            None,
            Some(&segment4(2, &[4_200_000_001])),
            Some((4_200_000_002, [198, 51, 100, 7])),
        );
        assert_eq!(u.effective_aggregator(), None);
        assert_eq!(u.as4_aggregator().map(|a| a.asn), Some(4_200_000_002));
        assert_eq!(
            u.effective_as_path().map(|p| p.to_string()).as_deref(),
            Some("65001 4200000001")
        );
    }

    /// RFC 6793 §4.2.3: AS_SET counts as one AS and confederation segments
    /// as none when the leading part of AS_PATH is kept; confederation
    /// segments in AS4_PATH are dropped (RFC 6793 §6).
    #[test]
    fn as4_merge_counts_sets_once_and_confeds_not_at_all() {
        let mut path = segment2(3, &[65010]); // AS_CONFED_SEQUENCE: counts 0
        path.extend(segment2(2, &[100, TRANS, TRANS])); // counts 3
        path.extend(segment2(1, &[200, TRANS])); // AS_SET: counts 1
        let mut as4 = segment4(3, &[4_200_000_099]); // confed: dropped
        as4.extend(segment4(2, &[4_200_000_001, 4_200_000_002]));
        as4.extend(segment4(1, &[200, 4_200_000_003]));
        let u = old_speaker_update(&path, None, Some(&as4), None);
        // AS_PATH counts 4 and AS4_PATH 3, so one AS of AS_PATH's leading
        // part is kept (the confederation segment before it counts none).
        assert_eq!(
            u.effective_as_path().map(|p| p.to_string()).as_deref(),
            Some("(65010) 100 4200000001 4200000002 {200 4200000003}")
        );
        // An AS4_PATH longer than AS_PATH is ignored.
        let long = segment4(2, &[1, 2, 3, 4, 5]);
        let u = old_speaker_update(&segment2(2, &[65001, TRANS]), None, Some(&long), None);
        assert_eq!(
            u.effective_as_path().map(|p| p.to_string()).as_deref(),
            Some("65001 23456")
        );
    }
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;

    /// The fast path must agree with the general decoder on every input it
    /// accepts: same value; and it must decline everything that fails.
    #[test]
    fn fast_path_agrees_with_decode_value() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let codes = [1u8, 2, 3, 4, 5, 6, 7, 8, 16, 32];
        let mut accepted = [0u32; 33];
        for _ in 0..200_000 {
            let code = AttrType(codes[(next() % codes.len() as u64) as usize]);
            let mut flags = AttrFlags((next() & 0xff) as u8);
            if next() % 2 == 0 {
                // Mostly the type's own Optional/Transitive bits.
                let std = crate::attribute::expected_flags(code).unwrap_or_default();
                flags = AttrFlags(std.0 | (flags.0 & 0x3f));
            }
            let len = (next() % 40) as usize;
            let mut buf: Vec<u8> = (0..len + (next() % 30) as usize)
                .map(|_| {
                    // Mostly small octets so AS paths are often well formed.
                    let r = next();
                    if r % 3 == 0 {
                        (r >> 8) as u8
                    } else {
                        (r % 5) as u8
                    }
                })
                .collect();
            if code == AttrType::AS_PATH && len >= 2 && next() % 2 == 0 {
                // A well-formed single segment.
                let w = if next() % 2 == 0 { 4 } else { 2 };
                let n = (len - 2) / w;
                if n > 0 {
                    buf[0] = 2;
                    buf[1] = n as u8;
                    for b in &mut buf[2..2 + n * w] {
                        *b |= 1;
                    }
                }
            }
            let whole = Bytes::from(buf);
            let value = &whole[..len];
            for four in [false, true] {
                let ctx = Context {
                    four_octet_as: four,
                    ..Context::default()
                };
                let mut out = Vec::new();
                let fast = decode_common(flags, code, value, &whole, &ctx, &mut out);
                let general = decode_value(flags, code, value, value, &whole, &ctx);
                if fast {
                    accepted[usize::from(code.0)] += 1;
                    assert_eq!(out.len(), 1);
                    assert_eq!(out[0].flags, flags);
                    assert_eq!(Ok(&out[0].value), general.as_ref().map_err(|e| &e.0));
                } else {
                    assert!(out.is_empty());
                    assert!(
                        general.is_err(),
                        "fast path declined a valid value: {code:?} {flags:?} {value:02x?}"
                    );
                }
            }
        }
        for c in codes {
            assert!(accepted[usize::from(c)] > 100, "{accepted:?}");
        }
    }
}
