//! Cross-object validation shared by both front ends, and assembly of the
//! final [`Config`].

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;

use super::addr::overlaps;
use super::common::{Diag, Dialect, Fields};
use super::model::{Advertisement, BfdProfile, CommunityValue, Config, Peer, Pool, Source};

/// One address entry of a pool as written, with its CIDRs.
#[derive(Debug)]
pub(crate) struct Entry {
    /// As written (trimmed).
    pub(crate) raw: String,
    /// Index in the `addresses` list.
    pub(crate) index: usize,
    /// Summarised CIDRs (one for a CIDR entry).
    pub(crate) cidrs: Vec<IpNet>,
}

/// A parsed pool and where it came from.
#[derive(Debug)]
pub(crate) struct PoolItem {
    pub(crate) object: String,
    pub(crate) fields: Fields,
    pub(crate) name_field: String,
    pub(crate) pool: Pool,
    pub(crate) entries: Vec<Entry>,
    /// Whether this pool is expected to be announced over BGP (legacy
    /// `protocol: bgp`; always for CRDs).
    pub(crate) bgp: bool,
}

/// A parsed peer and where it came from.
#[derive(Debug)]
pub(crate) struct PeerItem {
    pub(crate) object: String,
    pub(crate) fields: Fields,
    pub(crate) name_field: String,
    pub(crate) peer: Peer,
}

/// A parsed advertisement and where it came from.
#[derive(Debug)]
pub(crate) struct AdvItem {
    pub(crate) object: String,
    pub(crate) fields: Fields,
    pub(crate) name_field: String,
    pub(crate) adv: Advertisement,
}

/// Everything one front end produced, before cross-object checks.
#[derive(Debug, Default)]
pub(crate) struct Built {
    pub(crate) pools: Vec<PoolItem>,
    pub(crate) peers: Vec<PeerItem>,
    pub(crate) ads: Vec<AdvItem>,
    pub(crate) communities: BTreeMap<String, CommunityValue>,
    pub(crate) bfd_profiles: BTreeMap<String, BfdProfile>,
}

/// Runs the cross-object checks and assembles the [`Config`].
pub(crate) fn finish(built: Built, source: Source, diag: &mut Diag) -> Config {
    let pools = check_pools(&built, diag);
    let peers = check_peers(&built, diag);
    check_ads(&built, &pools, source, diag);
    check_bfd_echo(&built, &pools, diag);

    let pools = pools
        .into_values()
        .map(|i| (i.pool.name.clone(), i.pool.clone()))
        .collect();
    let peers = peers
        .into_values()
        .map(|p| (p.peer.name.clone(), p.peer.clone()))
        .collect();
    let mut names = BTreeSet::new();
    let advertisements = built
        .ads
        .into_iter()
        .filter(|a| names.insert(a.adv.name.clone()))
        .map(|a| a.adv)
        .collect();
    Config {
        source,
        pools,
        peers,
        advertisements,
        communities: built.communities,
        bfd_profiles: built.bfd_profiles,
    }
}

/// Unique names and non-overlapping CIDRs across all pools.
fn check_pools<'a>(built: &'a Built, diag: &mut Diag) -> BTreeMap<String, &'a PoolItem> {
    let mut by_name: BTreeMap<String, &PoolItem> = BTreeMap::new();
    let mut all: Vec<(IpNet, &str)> = Vec::new();
    for item in &built.pools {
        if let Some(prev) = by_name.get(&item.pool.name) {
            diag.error(
                &item.object,
                item.name_field.clone(),
                format!(
                    "duplicate pool name {:?} (also defined by {})",
                    item.pool.name, prev.object
                ),
            );
            continue;
        }
        for e in &item.entries {
            for c in &e.cidrs {
                if let Some((o, owner)) = all.iter().find(|(o, _)| overlaps(c, o)) {
                    let from = if e.raw == c.to_string() {
                        String::new()
                    } else {
                        format!(" (from {:?})", e.raw)
                    };
                    let whose = if *owner == item.pool.name {
                        "an earlier entry of this pool".to_owned()
                    } else {
                        format!("pool {owner:?}")
                    };
                    diag.error(
                        &item.object,
                        item.fields.name(
                            &format!("addresses[{}]", e.index),
                            &format!("addresses[{}]", e.index),
                        ),
                        format!("CIDR {c}{from} overlaps with {o} of {whose}"),
                    );
                    break;
                }
            }
            for c in &e.cidrs {
                all.push((*c, item.pool.name.as_str()));
            }
        }
        by_name.insert(item.pool.name.clone(), item);
    }
    by_name
}

/// Unique names, no identical duplicates, BFD profile references.
fn check_peers<'a>(built: &'a Built, diag: &mut Diag) -> BTreeMap<String, &'a PeerItem> {
    let mut by_name: BTreeMap<String, &PeerItem> = BTreeMap::new();
    let mut seen: Vec<&PeerItem> = Vec::new();
    for item in &built.peers {
        let p = &item.peer;
        if let Some(prev) = by_name.get(&p.name) {
            diag.error(
                &item.object,
                item.name_field.clone(),
                format!(
                    "duplicate peer name {:?} (also defined by {})",
                    p.name, prev.object
                ),
            );
            continue;
        }
        if let Some(prev) = seen.iter().find(|q| {
            let mut a = q.peer.clone();
            a.name.clone_from(&p.name);
            a == *p
        }) {
            diag.error(
                &item.object,
                "-",
                format!("duplicate peer: identical to {}", prev.object),
            );
        }
        if let Some(profile) = &p.bfd_profile {
            if !built.bfd_profiles.contains_key(profile) {
                diag.error(
                    &item.object,
                    item.fields.name("bfd-profile", "bfdProfile"),
                    format!("BFD profile {profile:?} does not exist"),
                );
            }
        }
        seen.push(item);
        by_name.insert(p.name.clone(), item);
    }
    by_name
}

/// Whether two node-selector lists can select a common node, judged
/// without the node list: yes if either selects all nodes or they share a
/// selector.
fn nodes_may_overlap(a: &Advertisement, b: &Advertisement) -> bool {
    a.node_selectors.is_empty()
        || b.node_selectors.is_empty()
        || a.node_selectors
            .iter()
            .any(|s| b.node_selectors.contains(s))
}

/// MetalLB's `isAggrLengthDifferent`.
fn aggregation_differs(a: &Advertisement, b: &Advertisement, pool: &PoolItem) -> bool {
    let has_v4 = pool.pool.cidrs.iter().any(|c| matches!(c, IpNet::V4(_)));
    let has_v6 = pool.pool.cidrs.iter().any(|c| matches!(c, IpNet::V6(_)));
    let v4_differs = a.aggregation_length != b.aggregation_length;
    let v6_differs = a.aggregation_length_v6 != b.aggregation_length_v6;
    match (has_v4, has_v6) {
        (false, false) => true,
        (true, false) => v4_differs,
        (false, true) => v6_differs,
        (true, true) => v4_differs && v6_differs,
    }
}

/// MetalLB's `BGPAdvertisementsHaveCompatibleLocalPref`.
fn local_pref_compatible(a: &Advertisement, b: &Advertisement, pool: &PoolItem) -> bool {
    if a.local_pref == b.local_pref || aggregation_differs(a, b, pool) {
        return true;
    }
    if !a.peers.is_empty() && !b.peers.is_empty() && !a.peers.iter().any(|p| b.peers.contains(p)) {
        return true;
    }
    !nodes_may_overlap(a, b)
}

/// Aggregation lengths against each selected pool, localPref conflicts,
/// dangling references (warnings).
fn check_ads(built: &Built, pools: &BTreeMap<String, &PoolItem>, source: Source, diag: &mut Diag) {
    let mut names: BTreeMap<&str, &str> = BTreeMap::new();
    let mut attached: BTreeMap<&str, Vec<&AdvItem>> = BTreeMap::new();
    let peer_names: BTreeSet<&str> = built.peers.iter().map(|p| p.peer.name.as_str()).collect();
    for item in &built.ads {
        let adv = &item.adv;
        if let Some(prev) = names.get(adv.name.as_str()) {
            if item.fields.dialect == Dialect::Legacy {
                // Generated names only collide for duplicate pool names,
                // already reported.
                continue;
            }
            diag.error(
                &item.object,
                item.name_field.clone(),
                format!(
                    "duplicate advertisement name {:?} (also defined by {prev})",
                    adv.name
                ),
            );
            continue;
        }
        names.insert(&adv.name, &item.object);
        for (i, p) in adv.pools.iter().enumerate() {
            if !pools.contains_key(p) {
                diag.warn(
                    &item.object,
                    format!("{}ipAddressPools[{i}]", item.fields.prefix),
                    format!("no IPAddressPool named {p:?}: nothing to advertise from it"),
                );
            }
        }
        for (i, p) in adv.peers.iter().enumerate() {
            if !peer_names.contains(p.as_str()) {
                diag.warn(
                    &item.object,
                    format!("{}peers[{i}]", item.fields.prefix),
                    format!("no BGPPeer named {p:?}: nothing is announced to it"),
                );
            }
        }
        let mut conflicts_reported: BTreeSet<&str> = BTreeSet::new();
        for (name, pool) in pools {
            if !adv.selects_pool(&pool.pool) {
                continue;
            }
            check_aggregation(item, pool, diag);
            let list = attached.entry(name.as_str()).or_default();
            if adv.service_selectors.is_empty() {
                for other in list.iter() {
                    if !other.adv.service_selectors.is_empty()
                        || local_pref_compatible(adv, &other.adv, pool)
                        || !conflicts_reported.insert(other.object.as_str())
                    {
                        continue;
                    }
                    let show = |v: Option<u32>| v.map_or("unset".to_owned(), |v| v.to_string());
                    diag.error(
                        &item.object,
                        item.fields.name("localpref", "localPref"),
                        format!(
                            "local preference {} conflicts with {} of {} for pool {name:?}: \
                             both advertise the same prefixes to the same peers from the same nodes",
                            show(adv.local_pref),
                            show(other.adv.local_pref),
                            other.object
                        ),
                    );
                }
            }
            list.push(item);
        }
    }
    for (name, pool) in pools {
        if pool.bgp && !attached.contains_key(name.as_str()) && source == Source::Crds {
            diag.warn(
                &pool.object,
                "-",
                format!(
                    "pool {name:?} is not selected by any BGPAdvertisement: its addresses are \
                     allocated but not announced over BGP"
                ),
            );
        }
    }
}

/// `aggregationLength(V6)` must not be shorter than any entry of the pool.
fn check_aggregation(item: &AdvItem, pool: &PoolItem, diag: &mut Diag) {
    for e in &pool.entries {
        let Some(first) = e.cidrs.first() else {
            continue;
        };
        let lowest = e.cidrs.iter().map(IpNet::prefix_len).min().unwrap_or(0);
        let (len, field) = match first {
            IpNet::V4(_) => (
                item.adv.aggregation_length,
                item.fields.name("aggregation-length", "aggregationLength"),
            ),
            IpNet::V6(_) => (
                item.adv.aggregation_length_v6,
                item.fields
                    .name("aggregation-length-v6", "aggregationLengthV6"),
            ),
        };
        if len < lowest {
            diag.error(
                &item.object,
                field,
                format!(
                    "aggregation length {len} is shorter than the /{lowest} prefix of address \
                     {:?} in pool {:?}: cannot aggregate beyond the pool",
                    e.raw, pool.pool.name
                ),
            );
        }
    }
}

/// MetalLB's `validateConfig`: a peer with BFD echo mode cannot receive
/// IPv6 prefixes.
fn check_bfd_echo(built: &Built, pools: &BTreeMap<String, &PoolItem>, diag: &mut Diag) {
    let echo = |p: &Peer| {
        p.bfd_profile
            .as_ref()
            .and_then(|n| built.bfd_profiles.get(n))
            .is_some_and(|b| b.echo_mode)
    };
    let mut reported = BTreeSet::new();
    for pool in pools.values() {
        if !pool.pool.cidrs.iter().any(|c| matches!(c, IpNet::V6(_))) {
            continue;
        }
        for ad in built.ads.iter().filter(|a| a.adv.selects_pool(&pool.pool)) {
            for peer in &built.peers {
                let targeted = ad.adv.peers.is_empty() || ad.adv.peers.contains(&peer.peer.name);
                if targeted && echo(&peer.peer) && reported.insert(peer.peer.name.clone()) {
                    diag.error(
                        &peer.object,
                        peer.fields.name("bfd-profile", "bfdProfile"),
                        format!(
                            "BFD echo mode cannot be used on a peer that is sent IPv6 prefixes \
                             (pool {:?} via {})",
                            pool.pool.name, ad.object
                        ),
                    );
                }
            }
        }
    }
}
