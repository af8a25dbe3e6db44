//! Applying a node's announcement plan to the BGP speaker: peer sessions
//! added, changed or removed, and each peer's routes replaced (the session
//! layer sends only the difference). Shared by standalone mode and the
//! speaker role.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::SocketAddr;

use bgp_session::{PeerConfig, Peers, Route, Speaker};
use ipnet::IpNet;

use crate::incremental::RouteDelta;

/// One change made to the speaker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A session was configured.
    PeerAdded {
        /// Peer name.
        name: String,
        /// Peer address.
        remote: SocketAddr,
        /// Our AS on the session.
        local_as: u32,
    },
    /// A session was removed (Cease sent).
    PeerRemoved {
        /// Peer name.
        name: String,
        /// Peer address.
        remote: SocketAddr,
    },
    /// A session could not be configured.
    PeerError {
        /// Peer name.
        name: String,
        /// Why.
        error: String,
    },
    /// A route is now announced (or announced with new attributes).
    Announce {
        /// Peer name.
        peer: String,
        /// Peer address.
        remote: SocketAddr,
        /// The route.
        route: Route,
    },
    /// A prefix is withdrawn.
    Withdraw {
        /// Peer name.
        peer: String,
        /// The prefix.
        prefix: IpNet,
    },
}

/// `prefix k=v ...` for a route.
pub fn describe(r: &Route) -> String {
    let mut parts = vec![r.prefix.to_string()];
    let a = &r.attrs;
    if !a.communities.is_empty() {
        let c: Vec<String> = a.communities.iter().map(ToString::to_string).collect();
        parts.push(format!("communities={}", c.join(",")));
    }
    if !a.large_communities.is_empty() {
        let c: Vec<String> = a
            .large_communities
            .iter()
            .map(ToString::to_string)
            .collect();
        parts.push(format!("large-communities={}", c.join(",")));
    }
    if let Some(l) = a.local_pref {
        parts.push(format!("local-pref={l}"));
    }
    if let Some(m) = a.med {
        parts.push(format!("med={m}"));
    }
    if a.as_path_prepend > 0 {
        parts.push(format!("prepend={}", a.as_path_prepend));
    }
    parts.join(" ")
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PeerAdded {
                name,
                remote,
                local_as,
            } => {
                write!(f, "peer        {name} ({remote}) AS {local_as} added")
            }
            Self::PeerRemoved { name, remote } => {
                write!(f, "peer        {name} ({remote}) removed")
            }
            Self::PeerError { name, error } => write!(f, "peer        {name} ERROR {error}"),
            Self::Announce {
                peer,
                remote,
                route,
            } => {
                write!(f, "announce    {} to {peer} ({remote})", describe(route))
            }
            Self::Withdraw { peer, prefix } => write!(f, "withdraw    {prefix} from {peer}"),
        }
    }
}

/// The speaker plus what was last applied to it.
pub struct Announcer {
    speaker: Speaker,
    peers: HashMap<String, PeerConfig>,
    routes: BTreeMap<String, BTreeMap<IpNet, Route>>,
}

impl fmt::Debug for Announcer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Announcer")
            .field("peers", &self.peers.len())
            .finish()
    }
}

impl Announcer {
    /// Wraps a running speaker.
    pub fn new(speaker: Speaker) -> Self {
        Self {
            speaker,
            peers: HashMap::new(),
            routes: BTreeMap::new(),
        }
    }

    /// The speaker.
    pub fn speaker(&self) -> &Speaker {
        &self.speaker
    }

    /// The name of the peer at `remote`, if configured.
    pub fn peer_name(&self, remote: SocketAddr) -> Option<&str> {
        self.peers
            .iter()
            .find(|(_, pc)| pc.remote == remote)
            .map(|(n, _)| n.as_str())
    }

    /// The configured sessions by peer name.
    pub fn peers(&self) -> &HashMap<String, PeerConfig> {
        &self.peers
    }

    /// Makes the speaker match `peers` (sessions by peer name) and `routes`
    /// (routes by peer name), and returns what changed. Changed sessions are
    /// restarted; routes are replaced at once, before new sessions start, so
    /// a new session sends everything in its initial sync.
    pub async fn apply(
        &mut self,
        peers: HashMap<String, PeerConfig>,
        routes: &BTreeMap<String, BTreeSet<Route>>,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        for (name, pc) in &self.peers {
            match peers.get(name) {
                Some(new) if new == pc => continue,
                // RFC 4486 §4: a session reset for a changed configuration
                // is Cease / Other Configuration Change.
                Some(_) => {
                    let _ = self
                        .speaker
                        .remove_peer_for_change(pc.remote, Some("configuration changed".into()))
                        .await;
                }
                None => {
                    let _ = self
                        .speaker
                        .remove_peer(
                            pc.remote,
                            Some("peer removed from the configuration".into()),
                        )
                        .await;
                }
            }
            changes.push(Change::PeerRemoved {
                name: name.clone(),
                remote: pc.remote,
            });
        }
        let added: Vec<(String, PeerConfig)> = peers
            .iter()
            .filter(|(name, pc)| self.peers.get(*name) != Some(*pc))
            .map(|(n, pc)| (n.clone(), pc.clone()))
            .collect();
        self.peers = peers;

        let mut table = Vec::new();
        let mut applied: BTreeMap<String, BTreeMap<IpNet, Route>> = BTreeMap::new();
        for (peer, list) in routes {
            let now: BTreeMap<IpNet, Route> = list.iter().map(|r| (r.prefix, r.clone())).collect();
            if let Some(pc) = self.peers.get(peer) {
                table.extend(list.iter().map(|r| (r.clone(), Peers::only([pc.remote]))));
                let before = self.routes.get(peer);
                for (prefix, r) in &now {
                    if before.and_then(|b| b.get(prefix)) != Some(r) {
                        changes.push(Change::Announce {
                            peer: peer.clone(),
                            remote: pc.remote,
                            route: r.clone(),
                        });
                    }
                }
                for prefix in before.into_iter().flat_map(BTreeMap::keys) {
                    if !now.contains_key(prefix) {
                        changes.push(Change::Withdraw {
                            peer: peer.clone(),
                            prefix: *prefix,
                        });
                    }
                }
            }
            applied.insert(peer.clone(), now);
        }
        for (peer, before) in &self.routes {
            if !routes.contains_key(peer) {
                changes.extend(before.keys().map(|prefix| Change::Withdraw {
                    peer: peer.clone(),
                    prefix: *prefix,
                }));
            }
        }
        self.routes = applied;
        self.speaker.set_routes(table);
        for (name, pc) in added {
            match self.speaker.add_peer(pc.clone()) {
                Ok(()) => changes.push(Change::PeerAdded {
                    name,
                    remote: pc.remote,
                    local_as: pc.local_as,
                }),
                Err(e) => changes.push(Change::PeerError {
                    name,
                    error: e.to_string(),
                }),
            }
        }
        changes
    }

    /// Applies route changes computed incrementally (see
    /// [`crate::incremental::NodePlanner::update`]) with the sessions left
    /// as they are, and returns what changed. Costs time proportional to the
    /// delta: each changed prefix is announced to its peer, or withdrawn.
    ///
    /// The speaker withdraws a prefix from every peer at once, so when a
    /// prefix leaves some peers but stays with others it is withdrawn and
    /// re-announced to the remaining ones.
    pub fn apply_delta(&mut self, delta: &RouteDelta) -> Vec<Change> {
        let mut changes = Vec::new();
        let mut by_prefix: BTreeMap<IpNet, Vec<(&String, &Option<Route>)>> = BTreeMap::new();
        for ((peer, prefix), r) in &delta.changes {
            by_prefix.entry(*prefix).or_default().push((peer, r));
        }
        for (prefix, list) in by_prefix {
            let mut lost = false;
            for (peer, r) in &list {
                let remote = self.peers.get(*peer).map(|pc| pc.remote);
                match r {
                    Some(r) => {
                        self.routes
                            .entry((*peer).clone())
                            .or_default()
                            .insert(prefix, r.clone());
                        if let Some(remote) = remote {
                            changes.push(Change::Announce {
                                peer: (*peer).clone(),
                                remote,
                                route: r.clone(),
                            });
                        }
                    }
                    None => {
                        let had = self
                            .routes
                            .get_mut(*peer)
                            .and_then(|m| m.remove(&prefix))
                            .is_some();
                        if self.routes.get(*peer).is_some_and(BTreeMap::is_empty) {
                            self.routes.remove(*peer);
                        }
                        if had && remote.is_some() {
                            lost = true;
                            changes.push(Change::Withdraw {
                                peer: (*peer).clone(),
                                prefix,
                            });
                        }
                    }
                }
            }
            if lost {
                self.speaker.withdraw(prefix);
                for (peer, m) in &self.routes {
                    if let (Some(r), Some(pc)) = (m.get(&prefix), self.peers.get(peer)) {
                        self.speaker.announce(r.clone(), Peers::only([pc.remote]));
                    }
                }
            } else {
                for (peer, r) in list {
                    if let (Some(r), Some(pc)) = (r, self.peers.get(peer)) {
                        self.speaker.announce(r.clone(), Peers::only([pc.remote]));
                    }
                }
            }
        }
        changes
    }
}
