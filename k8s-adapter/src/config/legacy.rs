//! The legacy ConfigMap format (MetalLB ≤ v0.12: `data.config`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_norway::Value;

use super::addr::parse_address_entry;
use super::common::{
    BfdRaw, Diag, Fields, TimerRules, asn, bfd_profile, check_duplicates, convert_legacy_selectors,
    decode, field_name, ranged, text, timers,
};
use super::community;
use super::model::{Advertisement, PasswordSource, Peer, PeerAsn, Pool};
use super::raw::{LegacyAdvertisement, LegacyBfdProfile, LegacyPeer, LegacyPool, Text};
use super::validate::{AdvItem, Built, Entry, PeerItem, PoolItem};

/// The most communities MetalLB accepts on one advertisement.
pub(crate) const MAX_COMMUNITIES: usize = 63;

/// Builds from the parsed `data.config` document. `object` names the
/// ConfigMap (`ConfigMap metallb-system/config`).
pub(crate) fn build(value: Value, object: &str, diag: &mut Diag) -> Built {
    let mut peers = Value::Null;
    let mut pools = Value::Null;
    let mut communities = Value::Null;
    let mut bfd = Value::Null;
    match value {
        Value::Null => {}
        Value::Mapping(m) => {
            for (k, v) in m {
                match k.as_str() {
                    Some("peers") => peers = v,
                    Some("address-pools") => pools = v,
                    Some("bgp-communities") => communities = v,
                    Some("bfd-profiles") => bfd = v,
                    Some(other) => diag.error(
                        object,
                        field_name(other),
                        "unknown field (expected peers, address-pools, bgp-communities or bfd-profiles)",
                    ),
                    None => diag.error(object, "-", format!("non-string key {k:?}")),
                }
            }
        }
        _ => diag.error(object, "-", "the MetalLB configuration must be a mapping"),
    }

    let mut built = Built::default();

    for (i, v) in seq(bfd, object, "bfd-profiles", diag)
        .into_iter()
        .enumerate()
    {
        let obj = format!("{object} bfd-profiles[{i}]");
        let Some(raw) = decode::<LegacyBfdProfile>(v, &obj, "", diag) else {
            continue;
        };
        let Some(name) = text(raw.name) else {
            diag.error(&obj, "name", "required");
            continue;
        };
        if built.bfd_profiles.contains_key(&name) {
            diag.error(&obj, "name", format!("duplicate BFD profile name {name:?}"));
            continue;
        }
        let r = BfdRaw {
            receive_interval: raw.receive_interval,
            transmit_interval: raw.transmit_interval,
            detect_multiplier: raw.detect_multiplier,
            echo_interval: raw.echo_interval,
            echo_mode: raw.echo_mode.map(|b| b.0),
            passive_mode: raw.passive_mode.map(|b| b.0),
            minimum_ttl: raw.minimum_ttl,
        };
        if let Some(p) = bfd_profile(name.clone(), &r, &obj, &Fields::legacy(""), diag) {
            built.bfd_profiles.insert(name, p);
        }
    }

    if let Some(map) =
        decode::<BTreeMap<String, Text>>(communities, object, "bgp-communities", diag)
    {
        for (alias, value) in map {
            match community::parse_community(&value.0) {
                Ok(c) => {
                    built.communities.insert(alias, c);
                }
                Err(e) => diag.error(object, format!("bgp-communities.{alias}"), e),
            }
        }
    }

    for (i, v) in seq(peers, object, "peers", diag).into_iter().enumerate() {
        let obj = format!("{object} peers[{i}]");
        let Some(raw) = decode::<LegacyPeer>(v, &obj, "", diag) else {
            continue;
        };
        if let Some(peer) = peer(raw, i, &obj, diag) {
            built.peers.push(PeerItem {
                object: obj,
                fields: Fields::legacy(""),
                name_field: "-".into(),
                peer,
            });
        }
    }

    for (i, v) in seq(pools, object, "address-pools", diag)
        .into_iter()
        .enumerate()
    {
        let obj = format!("{object} address-pools[{i}]");
        let Some(raw) = decode::<LegacyPool>(v, &obj, "", diag) else {
            continue;
        };
        pool(raw, &obj, &mut built, diag);
    }
    built
}

/// A YAML list field (`null` = empty).
fn seq(v: Value, object: &str, field: &str, diag: &mut Diag) -> Vec<Value> {
    match v {
        Value::Null => Vec::new(),
        Value::Sequence(s) => s,
        _ => {
            diag.error(object, field, "must be a list");
            Vec::new()
        }
    }
}

fn ip(s: &str, object: &str, field: &str, diag: &mut Diag) -> Option<IpAddr> {
    match s.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            diag.error(object, field, format!("invalid IP address {s:?}"));
            None
        }
    }
}

/// Shared peer field checks (both dialects): addresses, router id, port.
pub(crate) fn router_id(
    s: Option<String>,
    object: &str,
    field: &str,
    diag: &mut Diag,
) -> Option<Option<std::net::Ipv4Addr>> {
    let Some(s) = s else { return Some(None) };
    match s.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) if a.is_unspecified() => {
            diag.error(object, field, "router ID must not be 0.0.0.0");
            None
        }
        Ok(IpAddr::V4(a)) => Some(Some(a)),
        Ok(IpAddr::V6(_)) => {
            diag.error(
                object,
                field,
                format!("router ID {s:?} must be an IPv4 address (a BGP identifier is 32 bits)"),
            );
            None
        }
        Err(_) => {
            diag.error(object, field, format!("invalid router ID {s:?}"));
            None
        }
    }
}

/// The source address, which must be of the peer address's family.
pub(crate) fn source_address(
    s: Option<String>,
    peer: Option<IpAddr>,
    object: &str,
    field: &str,
    diag: &mut Diag,
) -> Option<Option<IpAddr>> {
    let Some(s) = s else { return Some(None) };
    let a = ip(&s, object, field, diag)?;
    if let Some(p) = peer {
        if p.is_ipv4() != a.is_ipv4() {
            diag.error(
                object,
                field,
                format!(
                    "source address {a} is not of the same address family as the peer address {p}"
                ),
            );
            return None;
        }
    }
    Some(Some(a))
}

fn peer(raw: LegacyPeer, index: usize, obj: &str, diag: &mut Diag) -> Option<Peer> {
    let mark = diag.mark();
    let my_asn = asn(raw.my_asn, obj, "my-asn", diag);
    let peer_asn = asn(raw.peer_asn, obj, "peer-asn", diag);
    let ebgp_multihop = raw.ebgp_multihop.is_some_and(|b| b.0);
    if ebgp_multihop && my_asn.is_some() && my_asn == peer_asn {
        diag.error(
            obj,
            "ebgp-multihop",
            "ebgp-multihop cannot be set for an iBGP peer (my-asn == peer-asn)",
        );
    }
    let address = match text(raw.peer_address) {
        None => {
            diag.error(obj, "peer-address", "required");
            None
        }
        Some(s) => ip(&s, obj, "peer-address", diag),
    };
    let t = timers(
        text(raw.hold_time).as_deref(),
        text(raw.keepalive_time).as_deref(),
        TimerRules::Legacy,
        obj,
        "hold-time",
        "keepalive-time",
        diag,
    );
    let port = match raw.peer_port {
        None | Some(0) => Some(179),
        Some(p) => ranged(p, 0, 65535, obj, "peer-port", diag).and_then(|p| u16::try_from(p).ok()),
    };
    let rid = router_id(text(raw.router_id), obj, "router-id", diag);
    let src = source_address(
        text(raw.source_address),
        address,
        obj,
        "source-address",
        diag,
    );
    let node_selectors =
        convert_legacy_selectors(raw.node_selectors.as_deref(), obj, "node-selectors", diag);
    if !diag.clean_since(mark) {
        return None;
    }
    let (hold_time, keepalive_time) = t?;
    Some(Peer {
        name: format!("peer-{index}"),
        my_asn: my_asn?,
        peer_asn: PeerAsn::Asn(peer_asn?),
        address: address?,
        port: port?,
        source_address: src?,
        hold_time,
        keepalive_time,
        connect_time: None,
        router_id: rid?,
        node_selectors,
        password: text(raw.password.map(|p| p.0)).map(PasswordSource::Inline),
        bfd_profile: text(raw.bfd_profile),
        graceful_restart: false,
        ebgp_multihop,
        vrf: None,
    })
}

/// Parses a pool's `addresses` (either dialect).
pub(crate) fn entries(list: &[String], obj: &str, fields: &Fields, diag: &mut Diag) -> Vec<Entry> {
    let mut out = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let f = fields.name(&format!("addresses[{i}]"), &format!("addresses[{i}]"));
        match parse_address_entry(a) {
            Ok(cidrs) => out.push(Entry {
                raw: a.trim().to_owned(),
                index: i,
                cidrs,
            }),
            Err(e) => diag.error(obj, f, e),
        }
    }
    if list.is_empty() {
        diag.error(
            obj,
            fields.name("addresses", "addresses"),
            "required: a pool needs at least one address range",
        );
    }
    out
}

fn pool(raw: LegacyPool, obj: &str, built: &mut Built, diag: &mut Diag) {
    let mark = diag.mark();
    let name = text(raw.name);
    if name.is_none() {
        diag.error(obj, "name", "required");
    }
    let bgp = match text(raw.protocol).as_deref() {
        Some("bgp") => Some(true),
        Some("layer2") => Some(false),
        Some("l2") => {
            diag.warn(
                obj,
                "protocol",
                "\"l2\" is not a MetalLB protocol name (use \"layer2\"); treated as layer2",
            );
            Some(false)
        }
        None => {
            diag.error(obj, "protocol", "required (bgp or layer2)");
            None
        }
        Some(other) => {
            diag.error(
                obj,
                "protocol",
                format!("unknown protocol {other:?} (expected bgp or layer2)"),
            );
            None
        }
    };
    let addresses: Vec<String> = raw
        .addresses
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.0)
        .collect();
    let entries = entries(&addresses, obj, &Fields::legacy(""), diag);
    let ads = raw.bgp_advertisements.unwrap_or_default();
    if bgp == Some(false) && !ads.is_empty() {
        diag.error(
            obj,
            "bgp-advertisements",
            "a layer2 address pool cannot have bgp-advertisements",
        );
    }
    let (Some(name), Some(bgp)) = (name, bgp) else {
        return;
    };
    let mut advertisements = Vec::new();
    if bgp {
        if ads.is_empty() {
            advertisements.push(AdvItem {
                object: obj.to_owned(),
                fields: Fields::legacy(""),
                name_field: "name".into(),
                adv: default_advertisement(format!("{name}-adv-0"), &name),
            });
        }
        for (j, a) in ads.iter().enumerate() {
            let prefix = format!("bgp-advertisements[{j}].");
            if let Some(k) = ads.iter().take(j).position(|b| b == a) {
                diag.error(
                    obj,
                    format!("bgp-advertisements[{j}]"),
                    format!("duplicate advertisement: identical to bgp-advertisements[{k}]"),
                );
                continue;
            }
            if let Some(adv) = advertisement(a, &name, j, obj, &prefix, &built.communities, diag) {
                advertisements.push(AdvItem {
                    object: obj.to_owned(),
                    fields: Fields::legacy(prefix),
                    name_field: "name".into(),
                    adv,
                });
            }
        }
    }
    if !diag.clean_since(mark) {
        return;
    }
    let cidrs = entries
        .iter()
        .flat_map(|e| e.cidrs.iter().copied())
        .collect();
    built.pools.push(PoolItem {
        object: obj.to_owned(),
        fields: Fields::legacy(""),
        name_field: "name".into(),
        pool: Pool {
            name,
            cidrs,
            auto_assign: raw.auto_assign.is_none_or(|b| b.0),
            avoid_buggy_ips: raw.avoid_buggy_ips.is_some_and(|b| b.0),
            allocation: None,
            labels: BTreeMap::new(),
        },
        entries,
        bgp,
    });
    built.ads.extend(advertisements);
}

/// The advertisement MetalLB creates for a `protocol: bgp` pool without
/// `bgp-advertisements`: /32, /128, no localpref, no communities.
fn default_advertisement(name: String, pool: &str) -> Advertisement {
    Advertisement {
        name,
        aggregation_length: 32,
        aggregation_length_v6: 128,
        local_pref: None,
        communities: Vec::new(),
        pools: vec![pool.to_owned()],
        pool_selectors: Vec::new(),
        node_selectors: Vec::new(),
        peers: Vec::new(),
        service_selectors: Vec::new(),
    }
}

fn advertisement(
    raw: &LegacyAdvertisement,
    pool: &str,
    index: usize,
    obj: &str,
    prefix: &str,
    aliases: &BTreeMap<String, super::model::CommunityValue>,
    diag: &mut Diag,
) -> Option<Advertisement> {
    let mark = diag.mark();
    let f = |n: &str| format!("{prefix}{n}");
    let agg = raw.aggregation_length.map_or(Some(32), |v| {
        ranged(v, 0, 32, obj, &f("aggregation-length"), diag)
    });
    let agg6 = raw.aggregation_length_v6.map_or(Some(128), |v| {
        ranged(v, 0, 128, obj, &f("aggregation-length-v6"), diag)
    });
    let local_pref = raw.localpref.map_or(Some(0), |v| {
        ranged(v, 0, i64::from(u32::MAX), obj, &f("localpref"), diag)
    });
    let list: Vec<String> = raw
        .communities
        .iter()
        .flatten()
        .map(|t| t.0.clone())
        .collect();
    let communities = resolve_communities(&list, aliases, obj, &f("communities"), diag);
    if !diag.clean_since(mark) {
        return None;
    }
    let mut adv = default_advertisement(format!("{pool}-adv-{index}"), pool);
    adv.aggregation_length = u8::try_from(agg?).ok()?;
    adv.aggregation_length_v6 = u8::try_from(agg6?).ok()?;
    adv.local_pref = u32::try_from(local_pref?).ok().filter(|v| *v != 0);
    adv.communities = communities;
    Some(adv)
}

/// Resolves an advertisement's `communities` (either dialect): duplicates
/// rejected, aliases resolved, equal values merged, at most 63.
pub(crate) fn resolve_communities(
    list: &[String],
    aliases: &BTreeMap<String, super::model::CommunityValue>,
    obj: &str,
    field: &str,
    diag: &mut Diag,
) -> Vec<super::model::CommunityValue> {
    check_duplicates(list, obj, field, "community", diag);
    let mut out = Vec::new();
    for (i, c) in list.iter().enumerate() {
        match community::resolve(c, aliases) {
            Ok(v) if !out.contains(&v) => out.push(v),
            Ok(_) => {}
            Err(e) => diag.error(obj, format!("{field}[{i}]"), e),
        }
    }
    if out.len() > MAX_COMMUNITIES {
        diag.error(
            obj,
            field,
            format!(
                "{} communities; at most {MAX_COMMUNITIES} are allowed per advertisement",
                out.len()
            ),
        );
    }
    out
}
