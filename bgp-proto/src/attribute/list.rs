//! A compact, bytes-backed list of fixed-size wire items.
//!
//! COMMUNITIES, LARGE_COMMUNITY, EXTENDED COMMUNITIES, IPv6 extended
//! communities and CLUSTER_LIST are lists of fixed-size items. A decoded list
//! keeps its octets (inline when short, else a shared slice of the received
//! message) instead of a vector, so decoding it costs no allocation; items
//! are read on iteration.

use std::fmt;
use std::marker::PhantomData;

use bytes::{BufMut, Bytes, BytesMut};

use crate::raw::{INLINE_LIST, Raw};

/// An item of fixed wire size.
pub trait ListItem: Sized {
    /// Octets per item on the wire.
    const WIRE_LEN: usize;
    /// Reads one item from exactly `WIRE_LEN` octets.
    fn read(b: &[u8]) -> Option<Self>;
    /// Writes the item's `WIRE_LEN` octets.
    fn write(&self, dst: &mut BytesMut);
}

/// A list of `T` stored in wire form. Equality and hashing are over the octets.
pub struct List<T> {
    raw: Raw<INLINE_LIST>,
    _item: PhantomData<fn() -> T>,
}

impl<T: ListItem> List<T> {
    /// An empty list.
    pub fn new() -> Self {
        Self {
            raw: Raw::EMPTY,
            _item: PhantomData,
        }
    }

    /// Wraps wire octets; `None` if their length is not a whole number of items.
    pub fn from_wire(raw: Bytes) -> Option<Self> {
        (raw.len() % T::WIRE_LEN == 0).then(|| Self {
            raw: Raw::from_bytes(raw),
            _item: PhantomData,
        })
    }

    /// A list of the given octets (the caller checked their length).
    #[inline(always)]
    pub(crate) fn from_raw(raw: Raw<INLINE_LIST>) -> Self {
        Self {
            raw,
            _item: PhantomData,
        }
    }

    /// A non-empty list from `value`, a slice of `whole` (copied when short,
    /// else shared); `None` if empty or not a whole number of items.
    #[inline]
    pub(crate) fn decode(value: &[u8], whole: &Bytes) -> Option<Self> {
        (!value.is_empty() && value.len() % T::WIRE_LEN == 0).then(|| Self {
            raw: Raw::new(whole, value),
            _item: PhantomData,
        })
    }

    /// The items, in wire order.
    pub fn iter(&self) -> ListIter<'_, T> {
        ListIter {
            chunks: self.raw.chunks_exact(T::WIRE_LEN),
            _item: PhantomData,
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.raw.len() / T::WIRE_LEN
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The wire octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// Whether `item` is in the list.
    pub fn contains(&self, item: &T) -> bool
    where
        T: PartialEq,
    {
        self.iter().any(|i| &i == item)
    }
}

impl<T: ListItem> Default for List<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for List<T> {
    fn clone(&self) -> Self {
        Self {
            raw: self.raw.clone(),
            _item: PhantomData,
        }
    }
}

impl<T> PartialEq for List<T> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl<T> Eq for List<T> {}

impl<T> std::hash::Hash for List<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}

impl<T> PartialOrd for List<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for List<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.raw.cmp(&other.raw)
    }
}

impl<T: ListItem + fmt::Debug> fmt::Debug for List<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: ListItem> FromIterator<T> for List<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut b = BytesMut::new();
        for item in iter {
            item.write(&mut b);
        }
        Self {
            raw: Raw::from_bytes(b.freeze()),
            _item: PhantomData,
        }
    }
}

impl<'a, T: ListItem> IntoIterator for &'a List<T> {
    type Item = T;
    type IntoIter = ListIter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over a [`List`].
#[derive(Debug, Clone)]
pub struct ListIter<'a, T> {
    chunks: std::slice::ChunksExact<'a, u8>,
    _item: PhantomData<fn() -> T>,
}

impl<T: ListItem> Iterator for ListIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.chunks.next().and_then(T::read)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ListItem for std::net::Ipv4Addr {
    const WIRE_LEN: usize = 4;
    fn read(b: &[u8]) -> Option<Self> {
        let a: [u8; 4] = b.try_into().ok()?;
        Some(Self::from(a))
    }
    fn write(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.octets());
    }
}
