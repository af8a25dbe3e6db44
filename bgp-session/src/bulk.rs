//! Building large ordered maps with full nodes and a bounded transient.
//!
//! Inserting ascending keys one by one into a `BTreeMap` leaves every node
//! half full (about 68 bytes per IPv4 prefix); [`BTreeMap::append`] builds
//! full nodes (about 36 bytes). Merging sorted chunks with it gives the
//! compact tree, at the cost of the chunk being gathered first: a `Vec`, plus
//! the sort buffer that `BTreeMap`'s `FromIterator` allocates. Chunks of an
//! eighth of the map keep that transient near a quarter of the map's size,
//! and the repeated rebuilds near nine moves per entry.

use std::collections::BTreeMap;

/// The smallest chunk (small maps are built in one go).
const MIN_CHUNK: usize = 8 * 1024;

/// How many entries to gather before merging them into a map of `len`.
pub(crate) fn chunk_len(len: usize) -> usize {
    (len / 8).max(MIN_CHUNK)
}

/// Appends sorted, unique `(key, value)` pairs to `map`, whose keys must all
/// be smaller, in chunks of [`chunk_len`] merged with [`BTreeMap::append`].
pub(crate) fn bulk_extend<K: Ord, V>(
    map: &mut BTreeMap<K, V>,
    sorted: impl Iterator<Item = (K, V)>,
) {
    let mut sorted = sorted.peekable();
    while sorted.peek().is_some() {
        let mut part: BTreeMap<K, V> = sorted.by_ref().take(chunk_len(map.len())).collect();
        map.append(&mut part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_extend_keeps_order_and_count() {
        let mut m = BTreeMap::new();
        bulk_extend(&mut m, (0..100_000u32).map(|i| (i, i * 2)));
        assert_eq!(m.len(), 100_000);
        assert!(m.iter().all(|(k, v)| *v == k * 2));
        assert!(m.keys().zip(m.keys().skip(1)).all(|(a, b)| a < b));
    }

    #[test]
    fn chunks_grow_with_the_map() {
        assert_eq!(chunk_len(0), MIN_CHUNK);
        assert_eq!(chunk_len(8_000_000), 1_000_000);
    }
}
