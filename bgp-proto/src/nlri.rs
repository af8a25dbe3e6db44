//! NLRI prefixes (RFC 4271 §4.3) with optional ADD-PATH identifiers (RFC 7911 §3).

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, BytesMut};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::iana::Afi;

/// One NLRI entry: a prefix, and its path identifier when ADD-PATH is in use.
///
/// Host bits beyond the prefix length are kept exactly as received, so a
/// decode/encode round trip is byte-exact; use [`IpNet::trunc`] for the
/// canonical network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nlri {
    /// The prefix.
    pub prefix: IpNet,
    /// The ADD-PATH path identifier (RFC 7911), present exactly when the
    /// context negotiated ADD-PATH for this family and direction.
    pub path_id: Option<u32>,
}

impl Nlri {
    /// A prefix without a path identifier.
    pub fn new(prefix: impl Into<IpNet>) -> Self {
        Self {
            prefix: prefix.into(),
            path_id: None,
        }
    }

    /// A prefix with an ADD-PATH path identifier.
    pub fn with_path_id(prefix: impl Into<IpNet>, path_id: u32) -> Self {
        Self {
            prefix: prefix.into(),
            path_id: Some(path_id),
        }
    }

    /// Octets this entry takes on the wire.
    pub fn encoded_len(&self) -> usize {
        usize::from(self.path_id.is_some()) * 4
            + 1
            + usize::from(self.prefix.prefix_len()).div_ceil(8)
    }

    /// Writes this entry. The path identifier is written when present.
    pub fn encode(&self, dst: &mut BytesMut) {
        if let Some(id) = self.path_id {
            dst.put_u32(id);
        }
        let len = self.prefix.prefix_len();
        dst.put_u8(len);
        let n = usize::from(len).div_ceil(8);
        match self.prefix {
            IpNet::V4(p) => dst.put_slice(p.addr().octets().get(..n).unwrap_or_default()),
            IpNet::V6(p) => dst.put_slice(p.addr().octets().get(..n).unwrap_or_default()),
        }
    }
}

impl From<IpNet> for Nlri {
    fn from(prefix: IpNet) -> Self {
        Self::new(prefix)
    }
}

impl std::fmt::Display for Nlri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.path_id {
            Some(id) => write!(f, "{}#{}", self.prefix, id),
            None => write!(f, "{}", self.prefix),
        }
    }
}

/// Why an NLRI field is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BadNlri {
    /// Offset of the bad entry from the start of the field.
    pub(crate) at: usize,
}

/// Address width of a family's prefixes in bits, or `None` for families whose NLRI we don't parse.
pub(crate) fn max_bits(afi: Afi) -> Option<u8> {
    match afi {
        Afi::IPV4 => Some(32),
        Afi::IPV6 => Some(128),
        _ => None,
    }
}

/// Walks an NLRI field without building anything, checking every length.
/// Returns the number of entries. Used before allocating, so that the
/// allocation is exact.
pub(crate) fn count(field: &[u8], bits: u8, add_path: bool) -> Result<usize, BadNlri> {
    let mut pos = 0usize;
    let mut n = 0usize;
    let hdr = if add_path { 5 } else { 1 };
    while pos < field.len() {
        let len_at = pos + hdr - 1;
        let Some(&plen) = field.get(len_at) else {
            return Err(BadNlri { at: pos });
        };
        if plen > bits {
            return Err(BadNlri { at: pos });
        }
        let next = len_at + 1 + usize::from(plen).div_ceil(8);
        if next > field.len() {
            return Err(BadNlri { at: pos });
        }
        pos = next;
        n += 1;
    }
    Ok(n)
}

/// Iterator over an NLRI field that `count` has already validated.
/// On malformed input it stops early rather than panicking.
#[derive(Clone, Debug)]
pub struct NlriIter<'a> {
    field: &'a [u8],
    v6: bool,
    add_path: bool,
}

impl Iterator for NlriIter<'_> {
    type Item = Nlri;

    #[inline]
    fn next(&mut self) -> Option<Nlri> {
        let mut f = self.field;
        let path_id = if self.add_path {
            let (id, rest) = f.split_first_chunk::<4>()?;
            f = rest;
            Some(u32::from_be_bytes(*id))
        } else {
            None
        };
        let (&plen, rest) = f.split_first()?;
        let n = usize::from(plen).div_ceil(8);
        let bytes = rest.get(..n)?;
        self.field = rest.get(n..)?;
        let prefix = ip_net(bytes, plen, self.v6)?;
        Some(Nlri { prefix, path_id })
    }
}

/// The prefix of `len` bits carried by `octets`, the `ceil(len / 8)` address
/// octets of an NLRI entry (RFC 4271 §4.3), host bits as received; `None`
/// when `len` exceeds the address width.
#[inline]
pub(crate) fn ip_net(octets: &[u8], len: u8, v6: bool) -> Option<IpNet> {
    // Fixed-size buffers filled byte by byte: no memmove call per prefix.
    if v6 {
        let mut o = [0u8; 16];
        for (d, s) in o.iter_mut().zip(octets) {
            *d = *s;
        }
        Ipv6Net::new(Ipv6Addr::from(o), len).ok().map(IpNet::V6)
    } else {
        let mut o = [0u8; 4];
        for (d, s) in o.iter_mut().zip(octets) {
            *d = *s;
        }
        Ipv4Net::new(Ipv4Addr::from(o), len).ok().map(IpNet::V4)
    }
}

/// Writes one entry, adding or dropping its path identifier as `add_path`
/// says (a missing identifier is sent as 0).
pub(crate) fn encode_one(n: &Nlri, add_path: bool, dst: &mut BytesMut) {
    let fixed = Nlri {
        prefix: n.prefix,
        path_id: if add_path {
            Some(n.path_id.unwrap_or(0))
        } else {
            None
        },
    };
    fixed.encode(dst);
}

/// Wire size of one entry under the given ADD-PATH setting.
pub(crate) fn wire_len(n: &Nlri, add_path: bool) -> usize {
    usize::from(add_path) * 4 + 1 + usize::from(n.prefix.prefix_len()).div_ceil(8)
}

/// A list of NLRI entries: either decoded lazily from the received message
/// (validated, kept as a shared slice of it, read on iteration — decoding an
/// UPDATE allocates nothing for its prefixes), or built from values.
///
/// Equality, ordering-free hashing and `Debug` are over the entries, whatever
/// the representation. Re-encoding a decoded list with the same ADD-PATH
/// setting copies its octets.
#[derive(Clone)]
pub struct NlriList(Repr);

#[derive(Clone)]
enum Repr {
    Built(Vec<Nlri>),
    Wire {
        raw: crate::raw::Raw<{ crate::raw::INLINE }>,
        v6: bool,
        add_path: bool,
        len: usize,
    },
}

impl NlriList {
    /// The empty list.
    pub const fn new() -> Self {
        Self(Repr::Built(Vec::new()))
    }

    /// Validates an NLRI field of `whole` and keeps it undecoded.
    pub(crate) fn decode(
        field: &[u8],
        whole: &bytes::Bytes,
        afi: Afi,
        add_path: bool,
    ) -> Result<Self, BadNlri> {
        if field.is_empty() {
            return Ok(Self::new());
        }
        let bits = max_bits(afi).ok_or(BadNlri { at: 0 })?;
        let len = count(field, bits, add_path)?;
        Ok(Self(Repr::Wire {
            raw: crate::raw::Raw::new(whole, field),
            v6: afi == Afi::IPV6,
            add_path,
            len,
        }))
    }

    /// [`NlriList::decode`] into `self` (which must be empty), in place.
    #[inline]
    pub(crate) fn decode_into(
        &mut self,
        field: &[u8],
        whole: &bytes::Bytes,
        afi: Afi,
        add_path: bool,
    ) -> Result<(), BadNlri> {
        if field.is_empty() {
            return Ok(());
        }
        let bits = max_bits(afi).ok_or(BadNlri { at: 0 })?;
        let len = count(field, bits, add_path)?;
        let v6 = afi == Afi::IPV6;
        // Each representation set by its own statement, so that the value
        // is written in place rather than through a temporary.
        match crate::raw::window(whole, field) {
            Some(w) => set_inline(self, w, v6, add_path, len),
            // Messages shorter than the window.
            None if field.len() <= crate::raw::INLINE => {
                set_copy(self, field, v6, add_path, len);
            }
            None => set_shared(self, crate::wire::share(whole, field), v6, add_path, len),
        }
        Ok(())
    }

    /// The entries, in order.
    pub fn iter(&self) -> NlriListIter<'_> {
        match &self.0 {
            Repr::Built(v) => NlriListIter::Built(v.iter()),
            Repr::Wire {
                raw, v6, add_path, ..
            } => NlriListIter::Wire(NlriIter {
                field: raw.as_slice(),
                v6: *v6,
                add_path: *add_path,
            }),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Built(v) => v.len(),
            Repr::Wire { len, .. } => *len,
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries as a vector.
    pub fn to_vec(&self) -> Vec<Nlri> {
        self.iter().collect()
    }

    /// Octets on the wire under the given ADD-PATH setting.
    pub(crate) fn wire_len(&self, add_path: bool) -> usize {
        match &self.0 {
            Repr::Wire {
                raw, add_path: a, ..
            } if *a == add_path => raw.len(),
            _ => self.iter().map(|n| wire_len(&n, add_path)).sum(),
        }
    }

    /// Writes the entries under the given ADD-PATH setting.
    pub(crate) fn encode(&self, add_path: bool, dst: &mut BytesMut) {
        match &self.0 {
            Repr::Wire {
                raw, add_path: a, ..
            } if *a == add_path => dst.put_slice(raw),
            _ => {
                for n in self.iter() {
                    encode_one(&n, add_path, dst);
                }
            }
        }
    }
}

#[inline(never)]
fn set_inline(
    list: &mut NlriList,
    w: crate::raw::Window<'_, { crate::raw::INLINE }>,
    v6: bool,
    add_path: bool,
    len: usize,
) {
    list.0 = Repr::Wire {
        raw: crate::raw::Raw::Inline {
            off: w.off,
            len: w.len,
            buf: *w.buf,
        },
        v6,
        add_path,
        len,
    };
}

#[inline(never)]
fn set_copy(list: &mut NlriList, field: &[u8], v6: bool, add_path: bool, len: usize) {
    let mut buf = [0u8; crate::raw::INLINE];
    let n = field.len().min(crate::raw::INLINE);
    if let (Some(d), Some(s)) = (buf.get_mut(..n), field.get(..n)) {
        d.copy_from_slice(s);
    }
    list.0 = Repr::Wire {
        raw: crate::raw::Raw::Inline {
            off: 0,
            len: u8::try_from(n).unwrap_or(0),
            buf,
        },
        v6,
        add_path,
        len,
    };
}

#[inline(never)]
fn set_shared(list: &mut NlriList, raw: bytes::Bytes, v6: bool, add_path: bool, len: usize) {
    list.0 = Repr::Wire {
        raw: crate::raw::Raw::Shared(raw),
        v6,
        add_path,
        len,
    };
}

impl Default for NlriList {
    fn default() -> Self {
        Self::new()
    }
}

impl From<Vec<Nlri>> for NlriList {
    fn from(v: Vec<Nlri>) -> Self {
        Self(Repr::Built(v))
    }
}

impl FromIterator<Nlri> for NlriList {
    fn from_iter<I: IntoIterator<Item = Nlri>>(iter: I) -> Self {
        Self(Repr::Built(iter.into_iter().collect()))
    }
}

impl IntoIterator for NlriList {
    type Item = Nlri;
    type IntoIter = std::vec::IntoIter<Nlri>;
    fn into_iter(self) -> Self::IntoIter {
        match self.0 {
            Repr::Built(v) => v.into_iter(),
            Repr::Wire { .. } => self.to_vec().into_iter(),
        }
    }
}

impl<'a> IntoIterator for &'a NlriList {
    type Item = Nlri;
    type IntoIter = NlriListIter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl PartialEq for NlriList {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for NlriList {}

impl PartialEq<Vec<Nlri>> for NlriList {
    fn eq(&self, other: &Vec<Nlri>) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter().copied())
    }
}

impl PartialEq<NlriList> for Vec<Nlri> {
    fn eq(&self, other: &NlriList) -> bool {
        other == self
    }
}

impl std::hash::Hash for NlriList {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for n in self.iter() {
            n.hash(state);
        }
    }
}

impl std::fmt::Debug for NlriList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Iterator over an [`NlriList`].
#[derive(Clone, Debug)]
pub enum NlriListIter<'a> {
    /// Over built values.
    #[doc(hidden)]
    Built(std::slice::Iter<'a, Nlri>),
    /// Over wire octets.
    #[doc(hidden)]
    Wire(NlriIter<'a>),
}

impl Iterator for NlriListIter<'_> {
    type Item = Nlri;

    #[inline]
    fn next(&mut self) -> Option<Nlri> {
        match self {
            Self::Built(i) => i.next().copied(),
            Self::Wire(i) => i.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(field: &[u8], afi: Afi, add_path: bool) -> Result<Vec<Nlri>, BadNlri> {
        let b = bytes::Bytes::copy_from_slice(field);
        NlriList::decode(&b, &b, afi, add_path).map(|l| l.to_vec())
    }

    #[test]
    fn decodes_rfc_style_prefixes() {
        // 10.0.0.0/8, 192.168.1.0/24, 0.0.0.0/0
        let f = [8, 10, 24, 192, 168, 1, 0];
        let v = decode(&f, Afi::IPV4, false).unwrap();
        let s: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(s, ["10.0.0.0/8", "192.168.1.0/24", "0.0.0.0/0"]);
    }

    #[test]
    fn rejects_too_long_prefix_length() {
        assert_eq!(
            decode(&[33, 1, 2, 3, 4, 5], Afi::IPV4, false),
            Err(BadNlri { at: 0 })
        );
        assert!(decode(&[129], Afi::IPV6, false).is_err());
    }

    #[test]
    fn rejects_truncated_prefix() {
        assert_eq!(
            decode(&[8, 10, 24, 192], Afi::IPV4, false),
            Err(BadNlri { at: 2 })
        );
    }

    #[test]
    fn add_path_identifiers() {
        let f = [0, 0, 0, 7, 32, 100, 64, 0, 1];
        let b = bytes::Bytes::copy_from_slice(&f);
        let list = NlriList::decode(&b, &b, Afi::IPV4, true).unwrap();
        assert_eq!(list.iter().next().unwrap().to_string(), "100.64.0.1/32#7");
        let mut out = BytesMut::new();
        list.encode(true, &mut out);
        assert_eq!(&out[..], &f);
        // Built and wire lists compare by entries; re-encoding without ADD-PATH drops the id.
        let built: NlriList = list.to_vec().into();
        assert_eq!(built, list);
        let mut out = BytesMut::new();
        built.encode(false, &mut out);
        assert_eq!(&out[..], &f[4..]);
    }
}
