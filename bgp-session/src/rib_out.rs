//! Adj-RIB-Out (RFC 4271 §3.2): what we want the peer to have, what it has,
//! and the difference still to send.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ipnet::IpNet;

use crate::route::RouteAttrs;

#[derive(Clone, Debug, Default)]
struct Entry {
    desired: Option<Arc<RouteAttrs>>,
    sent: Option<Arc<RouteAttrs>>,
}

/// Desired versus advertised routes for one peer.
#[derive(Clone, Debug, Default)]
pub(crate) struct RibOut {
    entries: BTreeMap<IpNet, Entry>,
    dirty: BTreeSet<IpNet>,
}

/// One batch of changes to send.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub(crate) announce: Vec<(IpNet, Arc<RouteAttrs>)>,
    pub(crate) withdraw: Vec<IpNet>,
}

impl RibOut {
    /// Replaces the desired set (MetalLB `Set` semantics).
    pub(crate) fn set_desired(&mut self, routes: &BTreeMap<IpNet, Arc<RouteAttrs>>) {
        for (p, e) in &mut self.entries {
            if e.desired.is_some() && !routes.contains_key(p) {
                e.desired = None;
                self.dirty.insert(*p);
            }
        }
        for (p, attrs) in routes {
            self.announce(*p, attrs.clone());
        }
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
            self.dirty.insert(prefix);
        }
    }

    /// Wants `prefix` withdrawn.
    pub(crate) fn withdraw(&mut self, prefix: IpNet) {
        if let Some(e) = self.entries.get_mut(&prefix) {
            if e.desired.take().is_some() {
                self.dirty.insert(prefix);
            }
        }
    }

    /// The peer has nothing from us any more (session down).
    pub(crate) fn reset_sent(&mut self) {
        self.entries.retain(|_, e| {
            e.sent = None;
            e.desired.is_some()
        });
        self.dirty = self.entries.keys().copied().collect();
    }

    /// Marks everything desired as needing to be sent again (ROUTE-REFRESH).
    pub(crate) fn mark_all_dirty(&mut self) {
        for (p, e) in &mut self.entries {
            e.sent = None;
            if e.desired.is_some() {
                self.dirty.insert(*p);
            }
        }
    }

    /// Takes the pending changes and records them as sent.
    pub(crate) fn take_changes(&mut self) -> Changes {
        let mut c = Changes::default();
        for p in std::mem::take(&mut self.dirty) {
            let Some(e) = self.entries.get_mut(&p) else {
                continue;
            };
            match (&e.desired, &e.sent) {
                (Some(d), Some(s)) if Arc::ptr_eq(d, s) || d == s => {}
                (Some(d), _) => {
                    c.announce.push((p, d.clone()));
                    e.sent = Some(d.clone());
                }
                (None, Some(_)) => {
                    c.withdraw.push(p);
                    e.sent = None;
                }
                (None, None) => {}
            }
            if e.desired.is_none() && e.sent.is_none() {
                self.entries.remove(&p);
            }
        }
        c
    }

    /// Prefixes the peer has.
    pub(crate) fn sent_count(&self) -> usize {
        self.entries.values().filter(|e| e.sent.is_some()).count()
    }

    /// Prefixes waiting to be sent or withdrawn.
    pub(crate) fn pending_count(&self) -> usize {
        self.dirty.len()
    }

    /// Whether anything is waiting.
    pub(crate) fn has_changes(&self) -> bool {
        !self.dirty.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> IpNet {
        s.parse().unwrap()
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
        let c = r.take_changes();
        assert_eq!(c.announce.len(), 2);
        assert!(r.take_changes().announce.is_empty(), "nothing new");
        want.remove(&p("10.0.0.1/32"));
        want.insert(p("10.0.0.2/32"), b.clone());
        r.set_desired(&want);
        let c = r.take_changes();
        assert_eq!(c.withdraw, vec![p("10.0.0.1/32")]);
        assert_eq!(c.announce, vec![(p("10.0.0.2/32"), b)]);
        assert_eq!(r.sent_count(), 1);
        r.reset_sent();
        assert_eq!(r.take_changes().announce.len(), 1, "resend after reconnect");
    }
}
