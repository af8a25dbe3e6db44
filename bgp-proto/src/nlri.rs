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

impl<'a> NlriIter<'a> {
    pub(crate) fn new(field: &'a [u8], afi: Afi, add_path: bool) -> Self {
        Self {
            field,
            v6: afi == Afi::IPV6,
            add_path,
        }
    }
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
        // Fixed-size buffers filled byte by byte: no memmove call per prefix.
        let prefix = if self.v6 {
            let mut o = [0u8; 16];
            for (d, s) in o.iter_mut().zip(bytes) {
                *d = *s;
            }
            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(o), plen).ok()?)
        } else {
            let mut o = [0u8; 4];
            for (d, s) in o.iter_mut().zip(bytes) {
                *d = *s;
            }
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(o), plen).ok()?)
        };
        Some(Nlri { prefix, path_id })
    }
}

/// Validates and decodes an NLRI field into a vector of exactly the right size.
pub(crate) fn decode(field: &[u8], afi: Afi, add_path: bool) -> Result<Vec<Nlri>, BadNlri> {
    if field.is_empty() {
        return Ok(Vec::new());
    }
    let bits = max_bits(afi).ok_or(BadNlri { at: 0 })?;
    // The counting pass is a tight scan of length octets; it makes the one
    // allocation exact (memory stays a small multiple of the input).
    let n = count(field, bits, add_path)?;
    let mut out = Vec::with_capacity(n);
    if afi == Afi::IPV6 {
        decode_into::<16>(field, add_path, &mut out, |a, l| {
            Ipv6Net::new(Ipv6Addr::from(a), l).ok().map(IpNet::V6)
        });
    } else {
        decode_into::<4>(field, add_path, &mut out, |a, l| {
            Ipv4Net::new(Ipv4Addr::from(a), l).ok().map(IpNet::V4)
        });
    }
    Ok(out)
}

/// One pass over a field that `count` validated: fixed-size address
/// buffers, no per-prefix calls into memmove.
#[inline]
fn decode_into<const N: usize>(
    mut f: &[u8],
    add_path: bool,
    out: &mut Vec<Nlri>,
    make: impl Fn([u8; N], u8) -> Option<IpNet>,
) {
    loop {
        let path_id = if add_path {
            let Some((id, rest)) = f.split_first_chunk::<4>() else {
                return;
            };
            f = rest;
            Some(u32::from_be_bytes(*id))
        } else {
            None
        };
        let Some((&plen, rest)) = f.split_first() else {
            return;
        };
        let n = usize::from(plen).div_ceil(8);
        let Some((bytes, rest)) = rest.split_at_checked(n) else {
            return;
        };
        let mut a = [0u8; N];
        for (d, s) in a.iter_mut().zip(bytes) {
            *d = *s;
        }
        let Some(prefix) = make(a, plen) else {
            return;
        };
        out.push(Nlri { prefix, path_id });
        f = rest;
    }
}

/// Writes entries, adding or dropping path identifiers as `add_path` says
/// (a missing identifier is sent as 0).
pub(crate) fn encode_all(items: &[Nlri], add_path: bool, dst: &mut BytesMut) {
    for n in items {
        encode_one(n, add_path, dst);
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

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
        let v = decode(&f, Afi::IPV4, true).unwrap();
        assert_eq!(v[0].to_string(), "100.64.0.1/32#7");
        let mut b = BytesMut::new();
        encode_all(&v, true, &mut b);
        assert_eq!(&b[..], &f);
    }
}
