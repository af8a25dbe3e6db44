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

impl Entry {
    fn in_sync(&self) -> bool {
        match (&self.desired, &self.sent) {
            (Some(d), Some(s)) => Arc::ptr_eq(d, s) || d == s,
            (None, None) => true,
            _ => false,
        }
    }
}

/// Desired versus advertised routes for one peer.
///
/// While the session is down nothing is tracked as dirty: the next
/// establishment sends everything desired anyway (`full`), which keeps memory
/// flat when millions of routes are installed before the peer comes up.
#[derive(Clone, Debug, Default)]
pub(crate) struct RibOut {
    entries: BTreeMap<IpNet, Entry>,
    dirty: BTreeSet<IpNet>,
    /// The session is up: changes are tracked in `dirty`.
    live: bool,
    /// Everything desired must be (re)sent: set on establishment and refresh.
    full: bool,
    /// Entries whose `sent` is `Some` (kept incrementally; O(1) statistics).
    sent: usize,
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
        let live = self.live;
        for (p, e) in &mut self.entries {
            if e.desired.is_some() && !routes.contains_key(p) {
                e.desired = None;
                if live {
                    self.dirty.insert(*p);
                }
            }
        }
        if !live {
            self.entries.retain(|_, e| e.desired.is_some());
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
            if self.live {
                self.dirty.insert(prefix);
            }
        }
    }

    /// Wants `prefix` withdrawn.
    pub(crate) fn withdraw(&mut self, prefix: IpNet) {
        let Some(e) = self.entries.get_mut(&prefix) else {
            return;
        };
        if e.desired.take().is_some() {
            if self.live {
                self.dirty.insert(prefix);
            } else if e.sent.is_none() {
                self.entries.remove(&prefix);
            }
        }
    }

    /// The session came up: the peer has nothing; everything desired goes out.
    pub(crate) fn session_up(&mut self) {
        self.clear_sent();
        self.live = true;
        self.full = true;
    }

    /// The session went down: the peer has nothing and changes are not tracked.
    pub(crate) fn session_down(&mut self) {
        self.clear_sent();
        self.live = false;
        self.full = false;
    }

    fn clear_sent(&mut self) {
        self.entries.retain(|_, e| {
            e.sent = None;
            e.desired.is_some()
        });
        self.dirty.clear();
        self.sent = 0;
    }

    /// Marks everything desired as needing to be sent again (ROUTE-REFRESH).
    pub(crate) fn mark_all_dirty(&mut self) {
        self.full = true;
    }

    /// Takes the pending changes and records them as sent.
    pub(crate) fn take_changes(&mut self) -> Changes {
        let mut c = Changes::default();
        if std::mem::take(&mut self.full) {
            self.dirty.clear();
            for (p, e) in &mut self.entries {
                // A full resend (establishment or ROUTE-REFRESH) re-announces
                // everything desired and withdraws what was sent but is no longer wanted.
                match &e.desired {
                    Some(d) => {
                        c.announce.push((*p, d.clone()));
                        if e.sent.is_none() {
                            self.sent += 1;
                        }
                        e.sent = Some(d.clone());
                    }
                    None if e.sent.is_some() => {
                        c.withdraw.push(*p);
                        e.sent = None;
                        self.sent -= 1;
                    }
                    None => {}
                }
            }
            self.entries
                .retain(|_, e| e.desired.is_some() || e.sent.is_some());
            return c;
        }
        for p in std::mem::take(&mut self.dirty) {
            let Some(e) = self.entries.get_mut(&p) else {
                continue;
            };
            if !e.in_sync() {
                match &e.desired {
                    Some(d) => {
                        c.announce.push((p, d.clone()));
                        if e.sent.is_none() {
                            self.sent += 1;
                        }
                        e.sent = Some(d.clone());
                    }
                    None => {
                        c.withdraw.push(p);
                        e.sent = None;
                        self.sent -= 1;
                    }
                }
            }
            if e.desired.is_none() && e.sent.is_none() {
                self.entries.remove(&p);
            }
        }
        c
    }

    /// Prefixes the peer has.
    pub(crate) fn sent_count(&self) -> usize {
        self.sent
    }

    /// Prefixes waiting to be sent or withdrawn.
    pub(crate) fn pending_count(&self) -> usize {
        if self.full {
            self.entries.len()
        } else if self.live {
            self.dirty.len()
        } else {
            self.entries
                .values()
                .filter(|e| e.desired.is_some())
                .count()
        }
    }

    /// Whether anything is waiting.
    pub(crate) fn has_changes(&self) -> bool {
        self.full || !self.dirty.is_empty()
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
        assert!(
            r.take_changes().announce.is_empty(),
            "nothing is sent while down"
        );
        r.session_up();
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
        r.session_down();
        r.session_up();
        assert_eq!(r.take_changes().announce.len(), 1, "resend after reconnect");
        assert_eq!(r.sent_count(), 1);
    }
}
