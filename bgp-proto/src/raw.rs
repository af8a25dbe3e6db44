//! Octets of a decoded value: kept inline when short, else a shared slice
//! of the received message.
//!
//! Sharing a slice of the message costs an atomic reference-count increment
//! on decode and a decrement on drop; for the short values that dominate
//! real traffic (AS paths, community lists, small NLRI fields) copying the
//! octets into the value itself is cheaper.

use bytes::Bytes;

/// Inline capacity of NLRI fields: with the one-octet offset and length
/// this fills the 24 octets of a `Bytes` around its non-null pointer, so
/// `Raw<INLINE>` is no larger than `Bytes`.
pub(crate) const INLINE: usize = 22;

/// Inline capacity of attribute lists (COMMUNITIES and the like): 40 octets
/// in all, no more than the largest attribute value already takes.
pub(crate) const INLINE_LIST: usize = 37;

/// Value octets, inline when at most `N`, else shared (crate-private storage
/// of [`crate::attribute::List`] and [`crate::nlri::NlriList`]).
#[derive(Clone)]
pub(crate) enum Raw<const N: usize> {
    /// Up to `N` octets: `buf[off..off + len]`.
    Inline { off: u8, len: u8, buf: [u8; N] },
    /// A shared slice.
    Shared(Bytes),
}

/// A short part of a message located in a fixed-size window of it.
pub(crate) struct Window<'a, const N: usize> {
    /// Where the part starts in `buf`.
    pub(crate) off: u8,
    /// The part's length.
    pub(crate) len: u8,
    /// `N` octets of the message containing the part.
    pub(crate) buf: &'a [u8; N],
}

/// For a short `part` of `whole` (at most `N` octets): the `N` octets of
/// `whole` starting at it, or ending at the end of `whole` when fewer
/// follow, if `whole` has that many. Copying that fixed-size window (the
/// octets around the part are never read) takes a few vector moves instead
/// of a `memcpy` call.
#[inline(always)]
pub(crate) fn window<'a, const N: usize>(whole: &'a Bytes, part: &[u8]) -> Option<Window<'a, N>> {
    let len = u8::try_from(part.len())
        .ok()
        .filter(|l| usize::from(*l) <= N)?;
    let start = crate::wire::offset(whole, part);
    let inside = part.as_ptr() >= whole.as_ptr() && start + part.len() <= whole.len();
    // `start + len <= whole.len()` makes `off <= N - len`.
    let from = start.min(whole.len().checked_sub(N)?);
    let buf = whole.get(from..)?.first_chunk::<N>()?;
    let off = u8::try_from(start - from).ok()?;
    inside.then_some(Window { off, len, buf })
}

/// `part` copied into an `N`-octet buffer, if it fits: (length, buffer).
#[inline]
pub(crate) fn copy<const N: usize>(part: &[u8]) -> Option<(u8, [u8; N])> {
    let len = u8::try_from(part.len())
        .ok()
        .filter(|l| usize::from(*l) <= N)?;
    let mut buf = [0u8; N];
    buf.get_mut(..part.len())?.copy_from_slice(part);
    Some((len, buf))
}

/// The part of an inline buffer.
#[inline(always)]
pub(crate) fn part_of(buf: &[u8], off: u8, len: u8) -> &[u8] {
    let off = usize::from(off);
    buf.get(off..off + usize::from(len)).unwrap_or_default()
}

impl<const N: usize> Raw<N> {
    /// No octets.
    pub(crate) const EMPTY: Self = Self::Inline {
        off: 0,
        len: 0,
        buf: [0; N],
    };

    /// `part` (normally a sub-slice of `whole`): copied when short, else
    /// shared with `whole` without copying.
    #[inline]
    pub(crate) fn new(whole: &Bytes, part: &[u8]) -> Self {
        if let Some(w) = window::<N>(whole, part) {
            return Self::Inline {
                off: w.off,
                len: w.len,
                buf: *w.buf,
            };
        }
        match copy::<N>(part) {
            Some((len, buf)) => Self::Inline { off: 0, len, buf },
            None => Self::Shared(crate::wire::share(whole, part)),
        }
    }

    /// Wraps owned octets (inline when short).
    pub(crate) fn from_bytes(b: Bytes) -> Self {
        match copy::<N>(&b) {
            Some((len, buf)) => Self::Inline { off: 0, len, buf },
            None => Self::Shared(b),
        }
    }

    /// The octets.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Self::Inline { off, len, buf } => part_of(buf, *off, *len),
            Self::Shared(b) => b,
        }
    }
}

impl<const N: usize> Default for Raw<N> {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl<const N: usize> std::ops::Deref for Raw<N> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl<const N: usize> PartialEq for Raw<N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<const N: usize> Eq for Raw<N> {}

impl<const N: usize> std::hash::Hash for Raw<N> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl<const N: usize> PartialOrd for Raw<N> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<const N: usize> Ord for Raw<N> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl<const N: usize> std::fmt::Debug for Raw<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02x?}", self.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_inline_and_long_ones_shared() {
        let whole = Bytes::from((0u8..64).collect::<Vec<u8>>());
        type Raw = super::Raw<INLINE>;
        let short = Raw::new(&whole, &whole[3..25]);
        assert!(matches!(short, Raw::Inline { len: 22, .. }));
        assert_eq!(short.as_slice(), &whole[3..25]);
        let long = Raw::new(&whole, &whole[3..26]);
        assert!(matches!(long, Raw::Shared(_)));
        assert_eq!(long.as_slice(), &whole[3..26]);
        // Windows ending at the end of the message.
        for start in 40..64 {
            for end in start..(start + INLINE).min(64) {
                let r = Raw::new(&whole, &whole[start..end]);
                assert!(matches!(r, Raw::Inline { .. }));
                assert_eq!(r.as_slice(), &whole[start..end]);
            }
        }
        assert_eq!(Raw::new(&whole, &[]).as_slice(), &[] as &[u8]);
        // Near the end of the message, and outside it.
        assert_eq!(Raw::new(&whole, &whole[50..]).as_slice(), &whole[50..]);
        assert_eq!(Raw::new(&whole, &whole[63..]).as_slice(), &whole[63..]);
        assert_eq!(Raw::new(&whole, &[1, 2, 3]).as_slice(), &[1, 2, 3]);
        let other = Bytes::from_static(&[9; 30]);
        assert_eq!(Raw::new(&whole, &other[..5]).as_slice(), &[9; 5]);
        assert_eq!(Raw::from_bytes(whole.slice(3..26)), long);
        assert_eq!(size_of::<Raw>(), size_of::<Bytes>());
        assert_eq!(size_of::<super::Raw<INLINE_LIST>>(), 40);
    }
}
