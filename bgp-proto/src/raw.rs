//! Octets of a decoded value: kept inline when short, else a shared slice
//! of the received message.
//!
//! Sharing a slice of the message costs an atomic reference-count increment
//! on decode and a decrement on drop; for the short values that dominate
//! real traffic (AS paths, community lists, small NLRI fields) copying the
//! octets into the value itself is cheaper.

use bytes::Bytes;

/// Inline capacity of NLRI fields: with the one-octet length this fills the
/// 32 octets of a `Bytes`, so `Raw<INLINE>` is no larger than `Bytes`.
pub(crate) const INLINE: usize = 23;

/// Inline capacity of attribute lists (COMMUNITIES and the like): 40 octets
/// in all, no more than the largest attribute value already takes.
pub(crate) const INLINE_LIST: usize = 38;

/// Value octets, inline when at most `N`, else shared (crate-private storage
/// of [`crate::attribute::List`] and [`crate::nlri::NlriList`]).
#[derive(Clone)]
pub(crate) enum Raw<const N: usize> {
    /// Up to `N` octets.
    Inline { len: u8, buf: [u8; N] },
    /// A shared slice.
    Shared(Bytes),
}

/// For a short `part` of `whole` (at most `N` octets): its length and the
/// `N` octets of `whole` starting at it, when there are that many. Copying
/// that fixed-size window (the octets past the part are never read) takes a
/// few vector moves instead of a `memcpy` call.
#[inline(always)]
pub(crate) fn window<'a, const N: usize>(
    whole: &'a Bytes,
    part: &[u8],
) -> Option<(u8, &'a [u8; N])> {
    let len = u8::try_from(part.len())
        .ok()
        .filter(|l| usize::from(*l) <= N)?;
    let start = crate::wire::offset(whole, part);
    let inside = part.as_ptr() >= whole.as_ptr() && start + part.len() <= whole.len();
    let window = whole.get(start..)?.first_chunk::<N>()?;
    inside.then_some((len, window))
}

/// `part` copied into an `N`-octet buffer, if it fits.
#[inline]
pub(crate) fn copy<const N: usize>(part: &[u8]) -> Option<(u8, [u8; N])> {
    let len = u8::try_from(part.len())
        .ok()
        .filter(|l| usize::from(*l) <= N)?;
    let mut buf = [0u8; N];
    buf.get_mut(..part.len())?.copy_from_slice(part);
    Some((len, buf))
}

impl<const N: usize> Raw<N> {
    /// No octets.
    pub(crate) const EMPTY: Self = Self::Inline {
        len: 0,
        buf: [0; N],
    };

    /// `part` (normally a sub-slice of `whole`): copied when short, else
    /// shared with `whole` without copying.
    #[inline]
    pub(crate) fn new(whole: &Bytes, part: &[u8]) -> Self {
        if let Some((len, buf)) = window::<N>(whole, part) {
            return Self::Inline { len, buf: *buf };
        }
        match copy::<N>(part) {
            Some((len, buf)) => Self::Inline { len, buf },
            None => Self::Shared(crate::wire::share(whole, part)),
        }
    }

    /// Wraps owned octets (inline when short).
    pub(crate) fn from_bytes(b: Bytes) -> Self {
        match copy::<N>(&b) {
            Some((len, buf)) => Self::Inline { len, buf },
            None => Self::Shared(b),
        }
    }

    /// The octets.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Self::Inline { len, buf } => buf.get(..usize::from(*len)).unwrap_or_default(),
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
        let short = Raw::new(&whole, &whole[3..26]);
        assert!(matches!(short, Raw::Inline { len: 23, .. }));
        assert_eq!(short.as_slice(), &whole[3..26]);
        let long = Raw::new(&whole, &whole[3..27]);
        assert!(matches!(long, Raw::Shared(_)));
        assert_eq!(long.as_slice(), &whole[3..27]);
        assert_eq!(Raw::new(&whole, &[]).as_slice(), &[] as &[u8]);
        // Near the end of the message, and outside it.
        assert_eq!(Raw::new(&whole, &whole[50..]).as_slice(), &whole[50..]);
        assert_eq!(Raw::new(&whole, &whole[63..]).as_slice(), &whole[63..]);
        assert_eq!(Raw::new(&whole, &[1, 2, 3]).as_slice(), &[1, 2, 3]);
        let other = Bytes::from_static(&[9; 30]);
        assert_eq!(Raw::new(&whole, &other[..5]).as_slice(), &[9; 5]);
        assert_eq!(Raw::from_bytes(whole.slice(3..27)), long);
        assert_eq!(size_of::<Raw>(), size_of::<Bytes>());
        assert_eq!(size_of::<super::Raw<INLINE_LIST>>(), 40);
    }
}
