//! The speaker's route table: which route goes to which peer (sans-IO).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use ipnet::IpNet;

use crate::bulk::chunk_len;
use crate::route::{Route, RouteAttrs};

/// Which peers a route is announced to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Peers {
    /// Every peer, including peers added later.
    All,
    /// Only these peers (by configured address and port).
    Only(Arc<[SocketAddr]>),
}

impl Peers {
    /// Only the given peers.
    pub fn only(peers: impl IntoIterator<Item = SocketAddr>) -> Self {
        Self::Only(peers.into_iter().collect())
    }

    /// Whether `peer` is selected.
    pub fn contains(&self, peer: &SocketAddr) -> bool {
        match self {
            Self::All => true,
            Self::Only(v) => v.contains(peer),
        }
    }
}

/// The attributes a prefix has, for all peers or per peer selection.
#[derive(Clone, Debug)]
enum Targets {
    /// The same attributes for every peer (the common case: one word).
    All(Arc<RouteAttrs>),
    /// Entries per peer selection; for a given peer the last matching one
    /// wins. Boxed so that the common case stays two words.
    #[allow(clippy::box_collection)]
    Some(Box<Vec<(Peers, Arc<RouteAttrs>)>>),
}

impl Targets {
    fn for_peer(&self, peer: &SocketAddr) -> Option<&Arc<RouteAttrs>> {
        match self {
            Self::All(a) => Some(a),
            Self::Some(v) => v
                .iter()
                .rev()
                .find(|(p, _)| p.contains(peer))
                .map(|(_, a)| a),
        }
    }
}

/// Desired routes and their peer selection. A prefix may appear more than
/// once with different attributes for different peers; for a given peer,
/// the last matching entry wins.
///
/// Identical attribute sets are stored once (interned), so a million routes
/// that share their attributes cost one allocation for the attributes.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    entries: BTreeMap<IpNet, Targets>,
    interned: std::collections::HashMap<RouteAttrs, Arc<RouteAttrs>>,
}

impl RouteTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    fn intern(&mut self, attrs: RouteAttrs) -> Arc<RouteAttrs> {
        if let Some(a) = self.interned.get(&attrs) {
            return a.clone();
        }
        let a = Arc::new(attrs.clone());
        self.interned.insert(attrs, a.clone());
        a
    }

    /// A table holding exactly `routes` (MetalLB `Set` semantics).
    ///
    /// Routes for all peers are gathered in chunks that are sorted and merged
    /// in bulk (full tree nodes: about 36 bytes per IPv4 prefix); a route
    /// that selects only some peers is merged one by one.
    pub fn from_routes(routes: impl IntoIterator<Item = (Route, Peers)>) -> Self {
        let mut t = Self::new();
        let mut chunk: Vec<(IpNet, Targets)> = Vec::new();
        for (r, p) in routes {
            match p {
                Peers::All => {
                    let attrs = t.intern(r.attrs);
                    chunk.push((r.prefix.trunc(), Targets::All(attrs)));
                    if chunk.len() >= chunk_len(t.entries.len()) {
                        // Later entries win, as with `announce`.
                        let mut part: BTreeMap<IpNet, Targets> = chunk.drain(..).collect();
                        t.entries.append(&mut part);
                    }
                }
                // Order matters between a prefix's entries: keep it by
                // flushing the pending chunk first.
                p => {
                    let mut part: BTreeMap<IpNet, Targets> = chunk.drain(..).collect();
                    t.entries.append(&mut part);
                    t.announce(r, p);
                }
            }
        }
        let mut part: BTreeMap<IpNet, Targets> = chunk.into_iter().collect();
        t.entries.append(&mut part);
        t
    }

    /// Adds or replaces the route for the peers in `peers` (other peers keep
    /// what they had for this prefix).
    pub fn announce(&mut self, route: Route, peers: Peers) {
        let attrs = self.intern(route.attrs);
        let slot = self.entries.entry(route.prefix);
        match (slot, peers) {
            (std::collections::btree_map::Entry::Vacant(v), Peers::All) => {
                v.insert(Targets::All(attrs));
            }
            (std::collections::btree_map::Entry::Occupied(mut o), Peers::All) => {
                o.insert(Targets::All(attrs));
            }
            (std::collections::btree_map::Entry::Vacant(v), peers) => {
                v.insert(Targets::Some(Box::new(vec![(peers, attrs)])));
            }
            (std::collections::btree_map::Entry::Occupied(mut o), peers) => {
                let t = o.get_mut();
                let list = match t {
                    Targets::All(a) => {
                        *t = Targets::Some(Box::new(vec![(Peers::All, a.clone())]));
                        match t {
                            Targets::Some(l) => l,
                            Targets::All(_) => return,
                        }
                    }
                    Targets::Some(l) => l,
                };
                list.retain(|(p, _)| p != &peers);
                list.push((peers, attrs));
            }
        }
    }

    /// Removes every entry for `prefix`.
    pub fn withdraw(&mut self, prefix: IpNet) -> bool {
        self.entries.remove(&prefix.trunc()).is_some()
    }

    /// The route for `prefix` as `peer` should see it.
    pub fn route_for(&self, prefix: &IpNet, peer: &SocketAddr) -> Option<Arc<RouteAttrs>> {
        self.entries.get(prefix)?.for_peer(peer).cloned()
    }

    /// Everything `peer` should have.
    pub fn routes_for(&self, peer: &SocketAddr) -> BTreeMap<IpNet, Arc<RouteAttrs>> {
        self.iter_for(peer).collect()
    }

    /// Everything `peer` should have, in prefix order, without copying the table.
    pub fn iter_for<'a>(
        &'a self,
        peer: &'a SocketAddr,
    ) -> impl Iterator<Item = (IpNet, Arc<RouteAttrs>)> + 'a {
        self.entries
            .iter()
            .filter_map(move |(prefix, t)| t.for_peer(peer).map(|a| (*prefix, a.clone())))
    }

    /// Whether every route goes to every peer (so all peers share one set).
    pub fn is_uniform(&self) -> bool {
        self.entries.values().all(|t| matches!(t, Targets::All(_)))
    }

    /// Number of distinct prefixes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_peer_selection() {
        let a: SocketAddr = "192.0.2.1:179".parse().unwrap();
        let b: SocketAddr = "192.0.2.2:179".parse().unwrap();
        let p: IpNet = "203.0.113.1/32".parse().unwrap();
        let mut t = RouteTable::new();
        t.announce(Route::new(p), Peers::All);
        let special = Route::with_attrs(
            p,
            RouteAttrs {
                med: Some(9),
                ..RouteAttrs::default()
            },
        );
        t.announce(special, Peers::only([b]));
        assert_eq!(t.route_for(&p, &a).unwrap().med, None);
        assert_eq!(t.route_for(&p, &b).unwrap().med, Some(9));
        assert_eq!(t.routes_for(&a).len(), 1);
        t.withdraw(p);
        assert!(t.routes_for(&b).is_empty());
    }
}
