//! The prefixes of one NLRI field of an [`super::UpdateView`], checked as
//! they are read (RFC 4271 §4.3, RFC 4760 §5, RFC 7911 §3).

use ipnet::{IpNet, Ipv4Net};

use super::error::{ViewError, ViewErrorKind};
use crate::iana::Afi;
use crate::nlri::Nlri;

/// Iterator over the prefixes of one NLRI or Withdrawn Routes field.
///
/// A prefix whose length exceeds the address width, or whose octets run
/// past the end of the field, is yielded as an Invalid Network Field error
/// (RFC 4271 §6.3) at the entry's offset in the message, and the iteration
/// ends there.
#[derive(Clone, Debug)]
pub struct Prefixes<'a> {
    rest: &'a [u8],
    /// Offset of the end of the field in the message, for error offsets.
    end: usize,
    shape: Shape,
}

/// What an entry looks like: the address family and whether a path
/// identifier (RFC 7911) comes first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    V4,
    V6,
    V4AddPath,
    V6AddPath,
}

impl<'a> Prefixes<'a> {
    pub(super) fn new(field: &'a [u8], end: usize, afi: Afi, add_path: bool) -> Self {
        let shape = match (afi == Afi::IPV6, add_path) {
            (false, false) => Shape::V4,
            (true, false) => Shape::V6,
            (false, true) => Shape::V4AddPath,
            (true, true) => Shape::V6AddPath,
        };
        Self {
            rest: field,
            end,
            shape,
        }
    }

    /// Any entry of any shape, or the end, or the error.
    #[inline]
    fn next_any(&mut self) -> Option<Result<RawPrefix<'a>, ViewError>> {
        let mut f = self.rest;
        if f.is_empty() {
            return None;
        }
        let (path_id, bits, v6) = match self.shape {
            Shape::V4 => (None, 32, false),
            Shape::V6 => (None, 128, true),
            Shape::V4AddPath | Shape::V6AddPath => {
                let Some((id, tail)) = f.split_first_chunk::<4>() else {
                    return self.invalid();
                };
                f = tail;
                let v6 = self.shape == Shape::V6AddPath;
                (Some(u32::from_be_bytes(*id)), if v6 { 128 } else { 32 }, v6)
            }
        };
        let Some((&len, tail)) = f.split_first() else {
            return self.invalid();
        };
        if len > bits {
            return self.invalid();
        }
        let Some((octets, rest)) = tail.split_at_checked(usize::from(len).div_ceil(8)) else {
            return self.invalid();
        };
        self.rest = rest;
        Some(Ok(RawPrefix {
            path_id,
            len,
            octets,
            v6,
        }))
    }

    /// Ends the walk with an Invalid Network Field error at the current entry.
    #[inline]
    fn invalid(&mut self) -> Option<Result<RawPrefix<'a>, ViewError>> {
        let at = self.end - self.rest.len();
        self.rest = &[];
        Some(Err(ViewError::cold(ViewErrorKind::InvalidNetworkField, at)))
    }
}

impl<'a> Iterator for Prefixes<'a> {
    type Item = Result<RawPrefix<'a>, ViewError>;

    // Always inlined: the walk is only fast when the iterator's state lives
    // in the caller's registers (a refactor that made the compiler stop
    // inlining it cost 25–30 %).
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        // Where the next entry starts depends on this entry's length octet,
        // so a plain walk waits for every length octet in turn. IPv4
        // /17–/24, the bulk of the global table, is matched by a pattern
        // instead: its size is a constant (4 octets), and the walk runs
        // ahead on the branch prediction. The same for IPv6 /41–/48 measured
        // slower (docs/performance.md §1, round 4): too few IPv6 prefixes
        // share one size for the branch to predict well. The arm takes the
        // whole 4-octet entry with one length check, so the hot loop is ten
        // instructions (round 5 of §1: with the bench walking the message in
        // wire order, synthetic IPv4 went from 7.3–7.8× to 8.5–9.5× in
        // `--quick` runs taken in turns).
        match (self.shape, self.rest.split_first_chunk::<4>()) {
            (Shape::V4, Some(([len @ 17..=24, octets @ ..], rest))) => {
                self.rest = rest;
                Some(Ok(RawPrefix {
                    path_id: None,
                    len: *len,
                    octets,
                    v6: false,
                }))
            }
            _ => self.next_any(),
        }
    }
}

/// One prefix as it is on the wire, borrowed from the message: its length
/// and the `ceil(len / 8)` address octets that carry it (RFC 4271 §4.3).
/// The length has been checked against the address width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RawPrefix<'a> {
    /// The ADD-PATH path identifier (RFC 7911 §3), present exactly when the
    /// context negotiated ADD-PATH for this family and direction.
    pub path_id: Option<u32>,
    /// Prefix length in bits.
    pub len: u8,
    /// The address octets as received, trailing bits included.
    pub octets: &'a [u8],
    v6: bool,
}

impl RawPrefix<'_> {
    /// The prefix as an [`IpNet`], with host bits as received.
    pub fn net(&self) -> IpNet {
        let bits = if self.v6 { 128 } else { 32 };
        crate::nlri::ip_net(self.octets, self.len.min(bits), self.v6)
            .unwrap_or(IpNet::V4(Ipv4Net::default()))
    }

    /// The entry as an owned [`Nlri`], as [`crate::Message::decode`] gives it.
    pub fn to_nlri(&self) -> Nlri {
        Nlri {
            prefix: self.net(),
            path_id: self.path_id,
        }
    }
}

impl std::iter::FusedIterator for Prefixes<'_> {}
