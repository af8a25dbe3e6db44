//! Address arithmetic: addresses as `u128` within a family, CIDR bounds, and
//! an interval set of used addresses with first-gap search.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// An address as a number within its family.
pub(crate) fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The address `n` of the given family (IPv4 when `v4`; `n` is truncated to
/// 32 bits then, which never happens for values taken from IPv4 bounds).
pub(crate) fn from_u128(n: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX)))
    } else {
        IpAddr::V6(Ipv6Addr::from(n))
    }
}

/// First and last address of a CIDR, as numbers.
pub(crate) fn bounds(net: &IpNet) -> (u128, u128) {
    let net = net.trunc();
    (to_u128(net.network()), to_u128(net.broadcast()))
}

/// IPv4 addresses ending in .0 or .255 (MetalLB's `avoidBuggyIPs`).
pub(crate) fn is_buggy_v4(n: u128) -> bool {
    let last = n & 0xff;
    last == 0 || last == 0xff
}

/// Whether `ip` is a buggy IPv4 address.
pub(crate) fn is_buggy(ip: IpAddr) -> bool {
    ip.is_ipv4() && is_buggy_v4(to_u128(ip))
}

/// A set of numbers stored as disjoint, non-adjacent inclusive ranges.
#[derive(Clone, Debug, Default)]
pub(crate) struct RangeSet {
    ranges: BTreeMap<u128, u128>,
    len: u128,
}

impl RangeSet {
    /// Number of members.
    pub(crate) fn len(&self) -> u128 {
        self.len
    }

    /// The end of the range containing `n`, if `n` is a member.
    pub(crate) fn range_end(&self, n: u128) -> Option<u128> {
        let (_, &end) = self.ranges.range(..=n).next_back()?;
        (end >= n).then_some(end)
    }

    /// Adds `n`; false when already present.
    pub(crate) fn insert(&mut self, n: u128) -> bool {
        if self.range_end(n).is_some() {
            return false;
        }
        let mut start = n;
        let mut end = n;
        // Merge with the range ending just before n.
        if let Some(prev) = n.checked_sub(1) {
            if let Some((&s, &e)) = self.ranges.range(..=prev).next_back() {
                if e == prev {
                    start = s;
                    self.ranges.remove(&s);
                }
            }
        }
        // Merge with the range starting just after n.
        if let Some(next) = n.checked_add(1) {
            if let Some(e) = self.ranges.remove(&next) {
                end = e;
            }
        }
        self.ranges.insert(start, end);
        self.len += 1;
        true
    }

    /// Removes `n`; false when absent.
    pub(crate) fn remove(&mut self, n: u128) -> bool {
        let Some((&s, &e)) = self.ranges.range(..=n).next_back() else {
            return false;
        };
        if e < n {
            return false;
        }
        self.ranges.remove(&s);
        if s < n {
            self.ranges.insert(s, n - 1);
        }
        if n < e {
            self.ranges.insert(n + 1, e);
        }
        self.len -= 1;
        true
    }

    /// The first number in `lo..=hi` that is not a member and, when
    /// `avoid_buggy` is set, not an IPv4 .0/.255 address. Costs one lookup
    /// per used range crossed.
    pub(crate) fn first_gap(&self, lo: u128, hi: u128, avoid_buggy: bool) -> Option<u128> {
        let mut c = lo;
        while c <= hi {
            if let Some(end) = self.range_end(c) {
                if end >= hi {
                    return None;
                }
                c = end + 1;
                continue;
            }
            if avoid_buggy && is_buggy_v4(c) {
                c = c.checked_add(1)?;
                continue;
            }
            return Some(c);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_gap() {
        let mut s = RangeSet::default();
        for n in [5, 6, 8, 7, 10] {
            assert!(s.insert(n));
        }
        assert!(!s.insert(6));
        assert_eq!(s.len(), 5);
        assert_eq!(s.range_end(5), Some(8));
        assert_eq!(s.first_gap(5, 20, false), Some(9));
        assert_eq!(s.first_gap(0, 20, false), Some(0));
        assert_eq!(s.first_gap(5, 8, false), None);
        assert!(s.remove(6));
        assert_eq!(s.first_gap(5, 20, false), Some(6));
        assert_eq!(s.range_end(7), Some(8));
        assert!(!s.remove(6));
        assert_eq!(s.len(), 4);
        // .255 and .0 skipped.
        let mut b = RangeSet::default();
        b.insert(0x1_fe);
        assert_eq!(b.first_gap(0x1_fe, 0x2_05, true), Some(0x2_01));
        assert_eq!(
            b.first_gap(u128::MAX - 1, u128::MAX, false),
            Some(u128::MAX - 1)
        );
    }
}
