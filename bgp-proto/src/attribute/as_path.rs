//! AS_PATH (RFC 4271 §4.3, §5.1.2) and AS4_PATH (RFC 6793 §3).
//!
//! The path is stored in the wire form it arrived in (2- or 4-octet AS
//! numbers): inline when short, else as a shared slice of the received
//! message. Encoding toward a peer without 4-octet AS support narrows every
//! AS above 65535 to AS_TRANS (RFC 6793 §4.2.2).

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

/// AS_TRANS, the 2-octet stand-in for a 4-octet AS number (RFC 6793 §9).
pub const AS_TRANS: u32 = 23456;

/// Path segment type (RFC 4271 §4.3, RFC 5065 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SegmentType {
    /// AS_SET: unordered.
    Set = 1,
    /// AS_SEQUENCE: ordered.
    Sequence = 2,
    /// AS_CONFED_SEQUENCE (RFC 5065).
    ConfedSequence = 3,
    /// AS_CONFED_SET (RFC 5065).
    ConfedSet = 4,
}

impl SegmentType {
    fn from_wire(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::Set),
            2 => Some(Self::Sequence),
            3 => Some(Self::ConfedSequence),
            4 => Some(Self::ConfedSet),
            _ => None,
        }
    }

    /// The schema name: `set`, `sequence`, `confed-sequence` or `confed-set`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Set => "set",
            Self::Sequence => "sequence",
            Self::ConfedSequence => "confed-sequence",
            Self::ConfedSet => "confed-set",
        }
    }
}

/// An AS path: segments of AS numbers, kept in the wire form it arrived in
/// (2- or 4-octet AS numbers), so decoding never widens it; up to 36 octets
/// are copied inline, longer paths share the received message. Equality,
/// ordering and hashing are over the AS numbers, whatever the width.
#[derive(Clone, Default)]
pub struct AsPath {
    repr: Repr,
}

/// Inline capacity of an AS path: 36 octets (8 4-octet ASes in one
/// segment: 86 % of the paths in real traffic) and the enum stays at 40
/// octets.
pub(crate) const AS_PATH_INLINE: usize = 36;

/// The octets, inline when short (no reference counting), else shared;
/// `two_octet`: the AS numbers are 2 octets wide (from a peer without
/// RFC 6793 support).
#[derive(Clone)]
enum Repr {
    /// `buf[off..off + len]`.
    Inline {
        two_octet: bool,
        off: u8,
        len: u8,
        buf: [u8; AS_PATH_INLINE],
    },
    Shared {
        two_octet: bool,
        raw: Bytes,
    },
}

impl Default for Repr {
    fn default() -> Self {
        Self::Inline {
            two_octet: false,
            off: 0,
            len: 0,
            buf: [0; AS_PATH_INLINE],
        }
    }
}

impl AsPath {
    fn width(&self) -> usize {
        if self.two_octet() { 2 } else { 4 }
    }

    /// Whether the AS numbers are stored 2 octets wide.
    #[inline]
    fn two_octet(&self) -> bool {
        match &self.repr {
            Repr::Inline { two_octet, .. } | Repr::Shared { two_octet, .. } => *two_octet,
        }
    }

    /// The wire octets.
    #[inline]
    fn raw(&self) -> &[u8] {
        match &self.repr {
            Repr::Inline { off, len, buf, .. } => crate::raw::part_of(buf, *off, *len),
            Repr::Shared { raw, .. } => raw,
        }
    }

    /// From owned octets (inline when short).
    fn from_bytes(b: Bytes, two_octet: bool) -> Self {
        let repr = match crate::raw::copy::<AS_PATH_INLINE>(&b) {
            Some((len, buf)) => Repr::Inline {
                two_octet,
                off: 0,
                len,
                buf,
            },
            None => Repr::Shared { two_octet, raw: b },
        };
        Self { repr }
    }

    /// From `value`, a slice of `whole` checked with [`AsPath::valid`]:
    /// copied when short, else shared.
    pub(crate) fn new_in(whole: &Bytes, value: &[u8], four_octet: bool) -> Self {
        let two_octet = !four_octet;
        if let Some(w) = crate::raw::window::<AS_PATH_INLINE>(whole, value) {
            return Self::inline(w, four_octet);
        }
        let repr = match crate::raw::copy::<AS_PATH_INLINE>(value) {
            Some((len, buf)) => Repr::Inline {
                two_octet,
                off: 0,
                len,
                buf,
            },
            None => Repr::Shared {
                two_octet,
                raw: crate::wire::share(whole, value),
            },
        };
        Self { repr }
    }

    /// A path of the part in a window (checked with [`AsPath::valid`]).
    #[inline(always)]
    pub(crate) fn inline(w: crate::raw::Window<'_, AS_PATH_INLINE>, four_octet: bool) -> Self {
        Self {
            repr: Repr::Inline {
                two_octet: !four_octet,
                off: w.off,
                len: w.len,
                buf: *w.buf,
            },
        }
    }

    /// The path as a stream of tokens: a segment header (bit 40 set, type,
    /// length) followed by its AS numbers; width-independent.
    fn tokens(&self) -> impl Iterator<Item = u64> + '_ {
        self.segments().flat_map(|s| {
            let head = (1u64 << 40) | ((s.kind() as u64) << 8) | s.len() as u64;
            std::iter::once(head).chain(s.asns().map(u64::from))
        })
    }
}

impl PartialEq for AsPath {
    fn eq(&self, other: &Self) -> bool {
        if self.two_octet() == other.two_octet() {
            self.raw() == other.raw()
        } else {
            self.tokens().eq(other.tokens())
        }
    }
}

impl Eq for AsPath {}

impl PartialOrd for AsPath {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AsPath {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.tokens().cmp(other.tokens())
    }
}

impl std::hash::Hash for AsPath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for t in self.tokens() {
            state.write_u64(t);
        }
    }
}

/// Why an AS path is malformed (RFC 7606 §7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MalformedAsPath;

impl AsPath {
    /// The empty path (what an originating speaker sends to iBGP peers).
    pub fn new() -> Self {
        Self::default()
    }

    /// A path of one AS_SEQUENCE; empty input gives the empty path.
    pub fn from_sequence(asns: impl IntoIterator<Item = u32>) -> Self {
        let asns: Vec<u32> = asns.into_iter().collect();
        Self::from_segments([(SegmentType::Sequence, asns.as_slice())])
    }

    /// A path from segments. Segments longer than 255 ASes are split, and empty ones dropped.
    pub fn from_segments<'a>(segments: impl IntoIterator<Item = (SegmentType, &'a [u32])>) -> Self {
        let mut b = BytesMut::new();
        for (kind, asns) in segments {
            for chunk in asns.chunks(255) {
                b.put_u8(kind as u8);
                b.put_u8(u8::try_from(chunk.len()).unwrap_or(u8::MAX));
                for a in chunk {
                    b.put_u32(*a);
                }
            }
        }
        Self::from_bytes(b.freeze(), false)
    }

    /// Decodes a path whose AS numbers are 4 (`four_octet`) or 2 octets wide,
    /// checking it per RFC 7606 §7.2 and RFC 6793 §6: every segment has a
    /// known type, a non-zero length and fits the attribute exactly; and per
    /// RFC 7607 §2 no AS number is zero.
    pub(crate) fn decode(
        value: &[u8],
        whole: &Bytes,
        four_octet: bool,
    ) -> Result<Self, MalformedAsPath> {
        if !Self::valid(value, four_octet) {
            return Err(MalformedAsPath);
        }
        Ok(Self::new_in(whole, value, four_octet))
    }

    /// The checks of [`AsPath::decode`].
    #[inline]
    pub(crate) fn valid(value: &[u8], four_octet: bool) -> bool {
        let mut rest = value;
        while let [t, n, tail @ ..] = rest {
            if !(1..=4).contains(t) || *n == 0 {
                return false;
            }
            let Some((asns, tail)) =
                tail.split_at_checked(usize::from(*n) << (1 + usize::from(four_octet)))
            else {
                return false;
            };
            let zero = if four_octet {
                asns.chunks_exact(4).any(|a| a == [0, 0, 0, 0])
            } else {
                asns.chunks_exact(2).any(|a| a == [0, 0])
            };
            if zero {
                return false;
            }
            rest = tail;
        }
        rest.is_empty()
    }

    /// Octets of the encoded value in the given AS width.
    pub fn encoded_len(&self, four_octet: bool) -> usize {
        if four_octet != self.two_octet() {
            self.raw().len()
        } else {
            let w = if four_octet { 4 } else { 2 };
            self.segments().map(|s| 2 + s.len() * w).sum()
        }
    }

    /// Writes the value (without attribute header) in the given AS width.
    pub fn encode(&self, four_octet: bool, dst: &mut BytesMut) {
        if four_octet != self.two_octet() {
            dst.put_slice(self.raw());
            return;
        }
        for seg in self.segments() {
            dst.put_u8(seg.kind() as u8);
            dst.put_u8(u8::try_from(seg.len()).unwrap_or(u8::MAX));
            for a in seg.asns() {
                if four_octet {
                    dst.put_u32(a);
                } else {
                    dst.put_u16(u16::try_from(a).unwrap_or(AS_TRANS as u16));
                }
            }
        }
    }

    /// The segments in order.
    pub fn segments(&self) -> Segments<'_> {
        Segments {
            rest: self.raw(),
            width: self.width(),
        }
    }

    /// Whether the path has no segments.
    pub fn is_empty(&self) -> bool {
        self.raw().is_empty()
    }

    /// The path length used in best-path selection (RFC 4271 §9.1.2.2 a):
    /// an AS_SET counts as one, confederation segments count as zero.
    pub fn route_selection_len(&self) -> usize {
        self.segments()
            .map(|s| match s.kind() {
                SegmentType::Sequence => s.len(),
                SegmentType::Set => 1,
                _ => 0,
            })
            .sum()
    }

    /// Whether any AS number does not fit 2 octets.
    pub fn has_four_octet_asn(&self) -> bool {
        self.segments().any(|s| s.asns().any(|a| a > 0xFFFF))
    }

    /// The path with `asn` prepended `times` times (RFC 4271 §5.1.2).
    #[must_use]
    pub fn prepend(&self, asn: u32, times: usize) -> Self {
        let mut segs: Vec<(SegmentType, Vec<u32>)> = self
            .segments()
            .map(|s| (s.kind(), s.asns().collect()))
            .collect();
        match segs.first_mut() {
            Some((SegmentType::Sequence, v)) => {
                let mut n = vec![asn; times];
                n.append(v);
                *v = n;
            }
            _ => segs.insert(0, (SegmentType::Sequence, vec![asn; times])),
        }
        Self::from_segments(segs.iter().map(|(k, v)| (*k, v.as_slice())))
    }

    /// The AS that originated the route: the last AS of a trailing AS_SEQUENCE.
    pub fn origin_asn(&self) -> Option<u32> {
        let last = self.segments().last()?;
        (last.kind() == SegmentType::Sequence)
            .then(|| last.asns().last())
            .flatten()
    }

    /// The first AS of the path (the neighbouring AS for an eBGP route).
    pub fn first_asn(&self) -> Option<u32> {
        let first = self.segments().next()?;
        (first.kind() == SegmentType::Sequence)
            .then(|| first.asns().next())
            .flatten()
    }
}

impl fmt::Debug for AsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AsPath({self})")
    }
}

impl fmt::Display for AsPath {
    /// BIRD/FRR style: `65001 65002 {65003 65004} (65005)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in self.segments() {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            let (open, close) = match s.kind() {
                SegmentType::Sequence => ("", ""),
                SegmentType::Set => ("{", "}"),
                SegmentType::ConfedSequence => ("(", ")"),
                SegmentType::ConfedSet => ("[", "]"),
            };
            f.write_str(open)?;
            for (i, a) in s.asns().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{a}")?;
            }
            f.write_str(close)?;
        }
        Ok(())
    }
}

/// Iterator over the segments of an [`AsPath`].
#[derive(Clone, Debug)]
pub struct Segments<'a> {
    rest: &'a [u8],
    width: usize,
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;
    fn next(&mut self) -> Option<Segment<'a>> {
        let [t, n, tail @ ..] = self.rest else {
            return None;
        };
        let kind = SegmentType::from_wire(*t)?;
        let (asns, tail) = tail.split_at_checked(usize::from(*n) * self.width)?;
        self.rest = tail;
        Some(Segment {
            kind,
            asns,
            width: self.width,
        })
    }
}

/// One segment of an [`AsPath`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    kind: SegmentType,
    asns: &'a [u8],
    width: usize,
}

impl<'a> Segment<'a> {
    /// The segment type.
    pub fn kind(&self) -> SegmentType {
        self.kind
    }
    /// Number of AS numbers.
    pub fn len(&self) -> usize {
        self.asns.len() / self.width
    }
    /// Whether the segment is empty (never true for a decoded path).
    pub fn is_empty(&self) -> bool {
        self.asns.is_empty()
    }
    /// The AS numbers.
    pub fn asns(&self) -> impl DoubleEndedIterator<Item = u32> + use<'a> {
        self.asns.chunks_exact(self.width).map(|c| match c {
            [a, b] => u32::from(u16::from_be_bytes([*a, *b])),
            [a, b, c, d] => u32::from_be_bytes([*a, *b, *c, *d]),
            _ => 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_octet_widening_round_trip() {
        // AS_SEQUENCE of 2: 65001 23456, AS_SET of 1: 100
        let wire = Bytes::from_static(&[2, 2, 0xFD, 0xE9, 0x5B, 0xA0, 1, 1, 0, 100]);
        let p = AsPath::decode(&wire, &wire, false).unwrap();
        assert_eq!(p.to_string(), "65001 23456 {100}");
        let mut b = BytesMut::new();
        p.encode(false, &mut b);
        assert_eq!(&b[..], &wire[..]);
        assert_eq!(p.route_selection_len(), 3);
    }

    #[test]
    fn equality_and_hash_ignore_the_wire_width() {
        use std::hash::{BuildHasher, RandomState};
        let wire = Bytes::from_static(&[2, 2, 0xFD, 0xE9, 0, 7]);
        let two = AsPath::decode(&wire, &wire, false).unwrap();
        let four = AsPath::from_sequence([65001, 7]);
        assert_eq!(two, four);
        let h = RandomState::new();
        assert_eq!(h.hash_one(&two), h.hash_one(&four));
        assert_eq!(two.cmp(&four), std::cmp::Ordering::Equal);
        assert_ne!(two, AsPath::from_sequence([65001, 8]));
        let mut b = BytesMut::new();
        two.encode(true, &mut b);
        assert_eq!(&b[..], &[2, 2, 0, 0, 0xFD, 0xE9, 0, 0, 0, 7]);
    }

    #[test]
    fn short_paths_inline_long_ones_shared_alike() {
        for n in [1u32, 8, 9, 10, 40] {
            let p = AsPath::from_sequence(1..=n);
            let mut wire = BytesMut::new();
            p.encode(true, &mut wire);
            let wire = wire.freeze();
            assert_eq!(
                matches!(p.repr, Repr::Inline { .. }),
                wire.len() <= AS_PATH_INLINE
            );
            // Decoded at the end of a buffer and in its middle.
            let mut padded = wire.to_vec();
            padded.extend([0u8; 40]);
            let padded = Bytes::from(padded);
            for (whole, value) in [(&wire, &wire[..]), (&padded, &padded[..wire.len()])] {
                let d = AsPath::decode(value, whole, true).unwrap();
                assert_eq!(d, p);
                assert_eq!(d.to_string(), p.to_string());
                let mut out = BytesMut::new();
                d.encode(true, &mut out);
                assert_eq!(&out[..], &wire[..]);
            }
        }
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in [
            &[2u8, 0][..],
            &[5, 1, 0, 0, 0, 1],
            &[2, 2, 0, 0, 0, 1],
            &[2],
            &[2, 1, 0, 0, 0, 0],
        ] {
            assert!(
                AsPath::decode(bad, &Bytes::copy_from_slice(bad), true).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn narrowing_uses_as_trans() {
        let p = AsPath::from_sequence([4_200_000_000, 65000]);
        let mut b = BytesMut::new();
        p.encode(false, &mut b);
        assert_eq!(&b[..], &[2, 2, 0x5B, 0xA0, 0xFD, 0xE8]);
        assert!(p.has_four_octet_asn());
    }

    #[test]
    fn prepend_extends_leading_sequence() {
        let p = AsPath::from_sequence([2, 3]).prepend(1, 2);
        assert_eq!(p.to_string(), "1 1 2 3");
        assert_eq!(AsPath::new().prepend(7, 1).to_string(), "7");
        assert_eq!(p.origin_asn(), Some(3));
        assert_eq!(p.first_asn(), Some(1));
    }
}
