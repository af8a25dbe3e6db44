//! Adj-RIB-Out (RFC 4271 §3.2): what we want the peer to have, whether it
//! has it, and the difference still to send.
//!
//! Memory is one ordered map entry per desired prefix (about 36 bytes for an
//! IPv4 prefix, attributes shared), built in bulk so that tree nodes are
//! full. Changes are taken in bounded batches ([`RibOut::take_changes`]),
//! so a full (re)send of a million routes never materialises a second copy
//! of the table: a cursor walks the map instead.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

use ipnet::IpNet;

use crate::bulk::bulk_extend;
use crate::route::RouteAttrs;

#[derive(Clone, Debug, Default)]
struct Entry {
    /// What the peer should have; `None` means withdrawn.
    desired: Option<Arc<RouteAttrs>>,
    /// Whether the peer has a route for this prefix (sent and not withdrawn).
    sent: bool,
}

/// Where a full (re)send walk stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Walk {
    /// No walk in progress.
    Idle,
    /// Walk from the first entry.
    Start,
    /// Walk after this prefix (exclusive).
    After(IpNet),
}

/// Desired versus advertised routes for one peer.
///
/// While the session is down nothing is tracked as dirty: the next
/// establishment walks everything desired anyway, which keeps memory flat
/// when millions of routes are installed before the peer comes up.
#[derive(Clone, Debug)]
pub(crate) struct RibOut {
    entries: BTreeMap<IpNet, Entry>,
    /// Prefixes changed behind the walk (or with no walk) since they were sent.
    dirty: BTreeSet<IpNet>,
    /// The session is up: changes are tracked.
    live: bool,
    /// Full (re)send in progress: set on establishment and ROUTE-REFRESH.
    walk: Walk,
    /// Entries whose `sent` is true (kept incrementally; O(1) statistics).
    sent: usize,
    /// Entries the current walk has passed (for O(1) statistics).
    walked: usize,
}

impl Default for RibOut {
    fn default() -> Self {
        Self {
            entries: BTreeMap::new(),
            dirty: BTreeSet::new(),
            live: false,
            walk: Walk::Idle,
            sent: 0,
            walked: 0,
        }
    }
}

/// One batch of changes to send.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub(crate) announce: Vec<(IpNet, Arc<RouteAttrs>)>,
    pub(crate) withdraw: Vec<IpNet>,
}

impl Changes {
    fn len(&self) -> usize {
        self.announce.len() + self.withdraw.len()
    }
}

impl RibOut {
    /// Whether `prefix` is still ahead of the walk (the walk will send its
    /// latest state, so it need not be marked dirty).
    fn ahead_of_walk(&self, prefix: &IpNet) -> bool {
        match self.walk {
            Walk::Idle => false,
            Walk::Start => true,
            Walk::After(p) => *prefix > p,
        }
    }

    fn touched(&mut self, prefix: IpNet) {
        if self.live && !self.ahead_of_walk(&prefix) {
            self.dirty.insert(prefix);
        }
    }

    /// Replaces the desired set (MetalLB `Set` semantics) with `routes`,
    /// which must be sorted by prefix with no prefix twice.
    pub(crate) fn set_desired_sorted(
        &mut self,
        routes: impl Iterator<Item = (IpNet, Arc<RouteAttrs>)>,
    ) {
        if self.entries.is_empty() {
            bulk_extend(
                &mut self.entries,
                routes.map(|(p, a)| {
                    (
                        p,
                        Entry {
                            desired: Some(a),
                            sent: false,
                        },
                    )
                }),
            );
            if self.live {
                // Nothing of it was sent (the table was empty): walk all of
                // it from the start, also when an earlier walk had a cursor.
                self.walk = Walk::Start;
                self.walked = 0;
            }
            return;
        }
        // Merge the old entries with the new set, streamed into a fresh,
        // bulk-built map.
        let mut changed = Vec::new();
        let mut new = routes.peekable();
        let mut old = std::mem::take(&mut self.entries).into_iter().peekable();
        let merged = std::iter::from_fn(|| {
            loop {
                let take_new = match (old.peek(), new.peek()) {
                    (None, None) => return None,
                    (Some(_), None) => false,
                    (None, Some(_)) => true,
                    (Some((op, _)), Some((np, _))) => np <= op,
                };
                if take_new {
                    let (p, a) = new.next()?;
                    let prev = match old.peek() {
                        Some((op, _)) if *op == p => old.next().map(|(_, e)| e),
                        _ => None,
                    };
                    let sent = prev.as_ref().is_some_and(|e| e.sent);
                    let same = prev
                        .as_ref()
                        .and_then(|e| e.desired.as_ref())
                        .is_some_and(|d| Arc::ptr_eq(d, &a) || **d == *a);
                    if !same {
                        changed.push(p);
                    }
                    return Some((
                        p,
                        Entry {
                            desired: Some(a),
                            sent,
                        },
                    ));
                }
                let (p, mut e) = old.next()?;
                if e.desired.take().is_some() {
                    changed.push(p);
                }
                // Withdrawn and never sent: nothing to remember.
                if e.sent {
                    return Some((p, e));
                }
            }
        });
        let mut rebuilt = BTreeMap::new();
        bulk_extend(&mut rebuilt, merged);
        self.entries = rebuilt;
        for p in changed {
            self.touched(p);
        }
    }

    /// Replaces the desired set (MetalLB `Set` semantics).
    #[cfg(test)]
    pub(crate) fn set_desired(&mut self, routes: &BTreeMap<IpNet, Arc<RouteAttrs>>) {
        self.set_desired_sorted(routes.iter().map(|(p, a)| (*p, a.clone())));
    }

    /// Wants `prefix` advertised with `attrs`.
    pub(crate) fn announce(&mut self, prefix: IpNet, attrs: Arc<RouteAttrs>) {
        let e = self.entries.entry(prefix).or_default();
        let same = e
            .desired
            .as_ref()
            .is_some_and(|d| Arc::ptr_eq(d, &attrs) || **d == *attrs);
        if !same {
            e.desired = Some(attrs);
            self.touched(prefix);
        }
    }

    /// Wants `prefix` withdrawn.
    pub(crate) fn withdraw(&mut self, prefix: IpNet) {
        let Some(e) = self.entries.get_mut(&prefix) else {
            return;
        };
        if e.desired.take().is_some() {
            if e.sent {
                self.touched(prefix);
            } else {
                // The peer never had it: forget it (a dirty mark, if any,
                // finds no entry and is skipped).
                self.entries.remove(&prefix);
            }
        }
    }

    /// The session came up: the peer has nothing; everything desired goes out.
    pub(crate) fn session_up(&mut self) {
        self.clear_sent();
        self.live = true;
        self.walk = Walk::Start;
        self.walked = 0;
    }

    /// The session went down: the peer has nothing and changes are not tracked.
    pub(crate) fn session_down(&mut self) {
        self.clear_sent();
        self.live = false;
        self.walk = Walk::Idle;
        self.walked = 0;
    }

    fn clear_sent(&mut self) {
        if self.sent > 0 || self.entries.values().any(|e| e.desired.is_none()) {
            self.entries.retain(|_, e| {
                e.sent = false;
                e.desired.is_some()
            });
        }
        self.dirty.clear();
        self.sent = 0;
    }

    /// Everything desired must be sent again (ROUTE-REFRESH).
    pub(crate) fn mark_all_dirty(&mut self) {
        // The walk sends every entry's latest state, dirty ones included.
        self.dirty.clear();
        self.walk = Walk::Start;
        self.walked = 0;
    }

    /// Records what one entry needs and returns whether it can be dropped.
    /// A desired route is (re)announced even when the peer has it: walks
    /// resend everything, and a dirty entry may have changed and changed back.
    fn emit(e: &mut Entry, p: IpNet, c: &mut Changes, sent: &mut usize) -> bool {
        match &e.desired {
            Some(d) => {
                c.announce.push((p, d.clone()));
                if !e.sent {
                    e.sent = true;
                    *sent += 1;
                }
                false
            }
            None => {
                if e.sent {
                    c.withdraw.push(p);
                    e.sent = false;
                    *sent = sent.saturating_sub(1);
                }
                true
            }
        }
    }

    /// Takes up to `max` pending changes (at least one when any is pending)
    /// and records them as sent.
    pub(crate) fn take_changes(&mut self, max: usize) -> Changes {
        let max = max.max(1);
        let mut c = Changes::default();
        let mut drop = Vec::new();
        if self.walk != Walk::Idle {
            let lower = match self.walk {
                Walk::After(p) => Bound::Excluded(p),
                Walk::Start | Walk::Idle => Bound::Unbounded,
            };
            let mut last = None;
            let mut finished = true;
            for (p, e) in self.entries.range_mut((lower, Bound::Unbounded)) {
                if c.len() >= max {
                    finished = false;
                    break;
                }
                if Self::emit(e, *p, &mut c, &mut self.sent) {
                    drop.push(*p);
                }
                last = Some(*p);
                self.walked += 1;
            }
            if finished {
                self.walked = 0;
            }
            self.walk = match (finished, last) {
                (true, _) => Walk::Idle,
                (false, Some(p)) => Walk::After(p),
                (false, None) => self.walk,
            };
        }
        while c.len() < max {
            let Some(p) = self.dirty.pop_first() else {
                break;
            };
            let Some(e) = self.entries.get_mut(&p) else {
                continue;
            };
            if Self::emit(e, p, &mut c, &mut self.sent) {
                drop.push(p);
            }
        }
        for p in drop {
            self.entries.remove(&p);
        }
        c
    }

    /// Whether a full (re)send walk is in progress.
    pub(crate) fn walking(&self) -> bool {
        self.walk != Walk::Idle
    }

    /// Prefixes the peer has.
    pub(crate) fn sent_count(&self) -> usize {
        self.sent
    }

    /// Prefixes waiting to be sent or withdrawn (an upper bound during a walk).
    pub(crate) fn pending_count(&self) -> usize {
        let walk = match self.walk {
            Walk::Idle => 0,
            Walk::Start | Walk::After(_) => self.entries.len().saturating_sub(self.walked),
        };
        if self.live {
            walk + self.dirty.len()
        } else {
            self.entries.len()
        }
    }

    /// Whether anything is waiting.
    pub(crate) fn has_changes(&self) -> bool {
        self.walk != Walk::Idle || !self.dirty.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn all(r: &mut RibOut) -> Changes {
        r.take_changes(usize::MAX)
    }

    #[test]
    fn diff_sends_only_changes() {
        let mut r = RibOut::default();
        let a = Arc::new(RouteAttrs::default());
        let b = Arc::new(RouteAttrs {
            med: Some(5),
            ..RouteAttrs::default()
        });
        let mut want = BTreeMap::new();
        want.insert(p("10.0.0.1/32"), a.clone());
        want.insert(p("10.0.0.2/32"), a.clone());
        r.set_desired(&want);
        assert!(
            all(&mut r).announce.is_empty(),
            "nothing is sent while down"
        );
        r.session_up();
        let c = all(&mut r);
        assert_eq!(c.announce.len(), 2);
        assert!(all(&mut r).announce.is_empty(), "nothing new");
        want.remove(&p("10.0.0.1/32"));
        want.insert(p("10.0.0.2/32"), b.clone());
        r.set_desired(&want);
        let c = all(&mut r);
        assert_eq!(c.withdraw, vec![p("10.0.0.1/32")]);
        assert_eq!(c.announce, vec![(p("10.0.0.2/32"), b)]);
        assert_eq!(r.sent_count(), 1);
        r.session_down();
        r.session_up();
        assert_eq!(all(&mut r).announce.len(), 1, "resend after reconnect");
        assert_eq!(r.sent_count(), 1);
    }

    /// A walk taken in small batches, with changes landing behind and ahead
    /// of the cursor, ends with exactly the desired set at the peer.
    #[test]
    fn batched_walk_with_concurrent_changes() {
        let a = Arc::new(RouteAttrs::default());
        let b = Arc::new(RouteAttrs {
            med: Some(7),
            ..RouteAttrs::default()
        });
        let prefixes: Vec<IpNet> = (0..100u32)
            .map(|i| IpNet::V4(ipnet::Ipv4Net::new((0x0a00_0000 + i).into(), 32).unwrap()))
            .collect();
        let mut r = RibOut::default();
        r.set_desired_sorted(prefixes.iter().map(|p| (*p, a.clone())));
        r.session_up();
        // The peer's view, applied from each batch.
        let mut peer: BTreeMap<IpNet, Arc<RouteAttrs>> = BTreeMap::new();
        let apply = |c: Changes, peer: &mut BTreeMap<IpNet, Arc<RouteAttrs>>| {
            for w in c.withdraw {
                assert!(peer.remove(&w).is_some(), "withdraw of {w} never sent");
            }
            for (p, a) in c.announce {
                peer.insert(p, a);
            }
        };
        apply(r.take_changes(30), &mut peer);
        assert!(r.walking());
        assert_eq!(peer.len(), 30);
        // Behind the cursor: a change and a withdrawal; ahead: the same.
        r.announce(prefixes[5], b.clone());
        r.withdraw(prefixes[6]);
        r.announce(prefixes[50], b.clone());
        r.withdraw(prefixes[60]);
        while r.has_changes() {
            apply(r.take_changes(7), &mut peer);
        }
        assert!(!r.walking());
        let mut want: BTreeMap<IpNet, Arc<RouteAttrs>> =
            prefixes.iter().map(|p| (*p, a.clone())).collect();
        want.insert(prefixes[5], b.clone());
        want.remove(&prefixes[6]);
        want.insert(prefixes[50], b.clone());
        want.remove(&prefixes[60]);
        assert_eq!(peer, want);
        assert_eq!(r.sent_count(), 98);
        assert_eq!(r.pending_count(), 0);
    }

    /// Replacing the set merges with what was sent: removed prefixes are
    /// withdrawn, unchanged ones are not resent.
    #[test]
    fn set_desired_merge() {
        let a = Arc::new(RouteAttrs::default());
        let mut r = RibOut::default();
        r.set_desired_sorted(
            ["10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32"]
                .iter()
                .map(|s| (p(s), a.clone())),
        );
        r.session_up();
        assert_eq!(all(&mut r).announce.len(), 3);
        r.set_desired_sorted(
            ["10.0.0.2/32", "10.0.0.4/32"]
                .iter()
                .map(|s| (p(s), a.clone())),
        );
        let c = all(&mut r);
        assert_eq!(c.withdraw, vec![p("10.0.0.1/32"), p("10.0.0.3/32")]);
        assert_eq!(c.announce, vec![(p("10.0.0.4/32"), a.clone())]);
        assert_eq!(r.sent_count(), 2);
        assert_eq!(r.entries.len(), 2);
    }

    /// A table emptied in the middle of a walk (sent routes withdrawn, unsent
    /// ones forgotten) and then refilled reaches the peer whole.
    #[test]
    fn refill_after_emptying_mid_walk() {
        let a = Arc::new(RouteAttrs::default());
        let pfx = |i: u32| IpNet::V4(ipnet::Ipv4Net::new((0x0a00_0000 + i).into(), 32).unwrap());
        let mut r = RibOut::default();
        r.set_desired_sorted((0..10).map(|i| (pfx(i), a.clone())));
        r.session_up();
        assert_eq!(r.take_changes(5).announce.len(), 5);
        assert!(r.walking());
        r.set_desired_sorted(std::iter::empty());
        let mut peer: BTreeMap<IpNet, Arc<RouteAttrs>> = BTreeMap::new();
        let apply = |c: Changes, peer: &mut BTreeMap<IpNet, Arc<RouteAttrs>>| {
            for w in c.withdraw {
                peer.remove(&w);
            }
            for (p, a) in c.announce {
                peer.insert(p, a);
            }
        };
        // The five sent ones are withdrawn; the rest were never sent.
        while r.has_changes() {
            apply(r.take_changes(3), &mut peer);
        }
        assert!(peer.is_empty());
        r.set_desired_sorted((0..10).map(|i| (pfx(i), a.clone())));
        while r.has_changes() {
            apply(r.take_changes(3), &mut peer);
        }
        assert_eq!(peer.len(), 10, "every refilled route reaches the peer");
        assert_eq!(r.sent_count(), 10);
    }
}
