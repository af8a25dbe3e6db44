//! The `metallb.io` custom resources.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_norway::Value;

use super::common::{
    BfdRaw, Diag, Fields, TimerRules, asn, bfd_profile, check_duplicates, convert_k8s_selectors,
    decode, non_empty, ranged, timers,
};
use super::community;
use super::duration::parse_go_duration;
use super::legacy::{entries, resolve_communities, router_id, source_address};
use super::model::{Advertisement, PasswordSource, Peer, PeerAsn, Pool, ServiceAllocation};
use super::raw::{
    BfdProfileSpec, BgpAdvertisementSpec, BgpPeerSpecV1, BgpPeerSpecV2, CommunitySpec,
    IpAddressPoolSpec,
};
use super::validate::{AdvItem, Built, PeerItem, PoolItem};

/// The `metallb.io` kinds that carry BGP configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CrKind {
    /// `IPAddressPool` (v1beta1).
    IpAddressPool,
    /// `BGPPeer` (v1beta1 or v1beta2).
    BgpPeer,
    /// `BGPAdvertisement` (v1beta1).
    BgpAdvertisement,
    /// `Community` (v1beta1).
    Community,
    /// `BFDProfile` (v1beta1).
    BfdProfile,
}

/// One custom resource, its envelope already checked.
#[derive(Clone, Debug)]
pub(crate) struct CrObject {
    pub(crate) kind: CrKind,
    /// `v1beta1` or `v1beta2`.
    pub(crate) version: String,
    /// `metadata.name`.
    pub(crate) name: String,
    /// `metadata.labels`.
    pub(crate) labels: BTreeMap<String, String>,
    /// `BGPPeer metallb-system/name`.
    pub(crate) label: String,
    /// `spec` (Null when absent).
    pub(crate) spec: Value,
}

/// Builds from all custom resources.
pub(crate) fn build(objects: Vec<CrObject>, diag: &mut Diag) -> Built {
    let mut built = Built::default();
    let of = |k: CrKind| objects.iter().filter(move |o| o.kind == k);

    for o in of(CrKind::BfdProfile) {
        let Some(spec) = decode::<BfdProfileSpec>(o.spec.clone(), &o.label, "spec.", diag) else {
            continue;
        };
        if built.bfd_profiles.contains_key(&o.name) {
            diag.error(
                &o.label,
                "metadata.name",
                format!("duplicate BFDProfile name {:?}", o.name),
            );
            continue;
        }
        let r = BfdRaw {
            receive_interval: spec.receive_interval,
            transmit_interval: spec.transmit_interval,
            detect_multiplier: spec.detect_multiplier,
            echo_interval: spec.echo_interval,
            echo_mode: spec.echo_mode.map(|b| b.0),
            passive_mode: spec.passive_mode.map(|b| b.0),
            minimum_ttl: spec.minimum_ttl,
        };
        if let Some(p) = bfd_profile(o.name.clone(), &r, &o.label, &Fields::crd(), diag) {
            built.bfd_profiles.insert(o.name.clone(), p);
        }
    }

    let mut alias_owner: BTreeMap<String, String> = BTreeMap::new();
    for o in of(CrKind::Community) {
        let Some(spec) = decode::<CommunitySpec>(o.spec.clone(), &o.label, "spec.", diag) else {
            continue;
        };
        for (i, a) in spec.communities.unwrap_or_default().into_iter().enumerate() {
            let f = format!("spec.communities[{i}]");
            let Some(name) = non_empty(a.name) else {
                diag.error(&o.label, format!("{f}.name"), "required");
                continue;
            };
            if let Some(prev) = alias_owner.get(&name) {
                diag.error(
                    &o.label,
                    format!("{f}.name"),
                    format!("duplicate community alias {name:?} (also defined by {prev})"),
                );
                continue;
            }
            alias_owner.insert(name.clone(), o.label.clone());
            let Some(value) = non_empty(a.value) else {
                diag.error(&o.label, format!("{f}.value"), "required");
                continue;
            };
            match community::parse_community(&value) {
                Ok(c) => {
                    built.communities.insert(name, c);
                }
                Err(e) => diag.error(&o.label, format!("{f}.value"), e),
            }
        }
    }

    for o in of(CrKind::BgpPeer) {
        let spec = if o.version == "v1beta1" {
            decode::<BgpPeerSpecV1>(o.spec.clone(), &o.label, "spec.", diag)
                .map(BgpPeerSpecV2::from)
        } else {
            decode::<BgpPeerSpecV2>(o.spec.clone(), &o.label, "spec.", diag)
        };
        let Some(spec) = spec else { continue };
        if let Some(peer) = peer(spec, o, diag) {
            built.peers.push(PeerItem {
                object: o.label.clone(),
                fields: Fields::crd(),
                name_field: "metadata.name".into(),
                peer,
            });
        }
    }

    for o in of(CrKind::IpAddressPool) {
        let Some(spec) = decode::<IpAddressPoolSpec>(o.spec.clone(), &o.label, "spec.", diag)
        else {
            continue;
        };
        if let Some(item) = pool(spec, o, diag) {
            built.pools.push(item);
        }
    }

    for o in of(CrKind::BgpAdvertisement) {
        let Some(spec) = decode::<BgpAdvertisementSpec>(o.spec.clone(), &o.label, "spec.", diag)
        else {
            continue;
        };
        if let Some(adv) = advertisement(spec, o, &built.communities, diag) {
            built.ads.push(AdvItem {
                object: o.label.clone(),
                fields: Fields::crd(),
                name_field: "metadata.name".into(),
                adv,
            });
        }
    }
    built
}

fn peer(spec: BgpPeerSpecV2, o: &CrObject, diag: &mut Diag) -> Option<Peer> {
    let obj = o.label.as_str();
    let v1 = o.version == "v1beta1";
    let mark = diag.mark();
    let my_asn = asn(spec.my_asn, obj, "spec.myASN", diag);
    let dynamic = non_empty(spec.dynamic_asn);
    let peer_asn = match (spec.peer_asn.filter(|a| *a != 0), dynamic.as_deref()) {
        (Some(_), Some(_)) => {
            diag.error(
                obj,
                "spec.dynamicASN",
                "peerASN and dynamicASN are mutually exclusive",
            );
            None
        }
        (None, None) => {
            diag.error(obj, "spec.peerASN", "required: set peerASN or dynamicASN");
            None
        }
        (Some(a), None) => asn(Some(a), obj, "spec.peerASN", diag).map(PeerAsn::Asn),
        (None, Some("internal")) => Some(PeerAsn::Internal),
        (None, Some("external")) => Some(PeerAsn::External),
        (None, Some(other)) => {
            diag.error(
                obj,
                "spec.dynamicASN",
                format!("invalid dynamicASN {other:?} (expected internal or external)"),
            );
            None
        }
    };
    if let Some(l) = spec.local_asn.filter(|l| *l != 0) {
        diag.error(
            obj,
            "spec.localASN",
            format!("localASN ({l}) is not supported by this speaker; set myASN instead"),
        );
    }
    let ebgp_multihop = spec.ebgp_multi_hop.is_some_and(|b| b.0);
    let ibgp = match (peer_asn, my_asn) {
        (Some(PeerAsn::Asn(p)), Some(m)) => p == m,
        (Some(PeerAsn::Internal), _) => true,
        _ => false,
    };
    if ebgp_multihop && ibgp {
        diag.error(
            obj,
            "spec.ebgpMultiHop",
            "ebgpMultiHop cannot be set for an iBGP peer (peerASN == myASN)",
        );
    }
    let interface = non_empty(spec.interface);
    let address = match (non_empty(spec.peer_address), interface) {
        (Some(_), Some(_)) => {
            diag.error(
                obj,
                "spec.interface",
                "peerAddress and interface are mutually exclusive",
            );
            None
        }
        (None, Some(i)) => {
            diag.error(
                obj,
                "spec.interface",
                format!("BGP unnumbered peering (interface {i:?}) is not supported by this speaker; set peerAddress"),
            );
            None
        }
        (None, None) => {
            diag.error(obj, "spec.peerAddress", "required");
            None
        }
        (Some(a), None) => match a.parse() {
            Ok(ip) => Some(ip),
            Err(_) => {
                diag.error(obj, "spec.peerAddress", format!("invalid IP address {a:?}"));
                None
            }
        },
    };
    let t = timers(
        non_empty(spec.hold_time).as_deref(),
        non_empty(spec.keepalive_time).as_deref(),
        TimerRules::Crd,
        obj,
        "spec.holdTime",
        "spec.keepaliveTime",
        diag,
    );
    let connect_time = non_empty(spec.connect_time).and_then(|s| match parse_go_duration(&s) {
        Err(e) => {
            diag.error(obj, "spec.connectTime", e);
            None
        }
        Ok(d) if d.subsec_nanos() != 0 => {
            diag.error(
                obj,
                "spec.connectTime",
                "connect time must be a whole number of seconds",
            );
            None
        }
        Ok(d) if !(1..=65535).contains(&d.as_secs()) => {
            diag.error(
                obj,
                "spec.connectTime",
                "connect time must be between 1s and 65535s",
            );
            None
        }
        Ok(d) => Some(d),
    });
    // v1beta2: minimum 1 (179 by default); v1beta1: minimum 0 (0 = 179).
    let port = match spec.peer_port {
        None => Some(179),
        Some(0) if v1 => Some(179),
        Some(p) => {
            ranged(p, 1, 16384, obj, "spec.peerPort", diag).and_then(|p| u16::try_from(p).ok())
        }
    };
    let rid = router_id(non_empty(spec.router_id), obj, "spec.routerID", diag);
    let src = source_address(
        non_empty(spec.source_address),
        address,
        obj,
        "spec.sourceAddress",
        diag,
    );
    let node_selectors = convert_k8s_selectors(
        spec.node_selectors.as_deref(),
        obj,
        "spec.nodeSelectors",
        diag,
    );
    let inline = non_empty(spec.password.map(|p| p.0));
    let secret = spec.password_secret.unwrap_or_default();
    let password = match (inline, non_empty(secret.name)) {
        (Some(_), Some(_)) => {
            diag.error(
                obj,
                "spec.passwordSecret",
                "password and passwordSecret are mutually exclusive",
            );
            None
        }
        (Some(p), None) => Some(PasswordSource::Inline(p)),
        (None, Some(name)) => Some(PasswordSource::Secret {
            name,
            namespace: non_empty(secret.namespace),
        }),
        (None, None) => {
            if non_empty(secret.namespace).is_some() {
                diag.error(obj, "spec.passwordSecret.name", "required");
            }
            None
        }
    };
    let vrf = non_empty(spec.vrf);
    if let Some(v) = &vrf {
        diag.warn(
            obj,
            "spec.vrf",
            format!("VRF {v:?} is accepted but this speaker peers from the default VRF"),
        );
    }
    if spec.dual_stack_address_family.is_some_and(|b| b.0) {
        diag.warn(
            obj,
            "spec.dualStackAddressFamily",
            "accepted: every session offers IPv4 and IPv6 unicast and carries what the peer negotiates",
        );
    }
    if spec.disable_mp.is_some_and(|b| b.0) {
        diag.warn(obj, "spec.disableMP", "deprecated and ignored");
    }
    if !diag.clean_since(mark) {
        return None;
    }
    let (hold_time, keepalive_time) = t?;
    Some(Peer {
        name: o.name.clone(),
        my_asn: my_asn?,
        peer_asn: peer_asn?,
        address: address?,
        port: port?,
        source_address: src?,
        hold_time,
        keepalive_time,
        connect_time: connect_time.map(|d: Duration| Duration::from_secs(d.as_secs())),
        router_id: rid?,
        node_selectors,
        password,
        bfd_profile: non_empty(spec.bfd_profile),
        graceful_restart: spec.enable_graceful_restart.is_some_and(|b| b.0),
        ebgp_multihop,
        vrf,
    })
}

fn pool(spec: IpAddressPoolSpec, o: &CrObject, diag: &mut Diag) -> Option<PoolItem> {
    let obj = o.label.as_str();
    let mark = diag.mark();
    let fields = Fields::crd();
    let entries = entries(&spec.addresses.unwrap_or_default(), obj, &fields, diag);
    let allocation = spec.service_allocation.map(|a| {
        let priority = a
            .priority
            .and_then(|p| {
                ranged(
                    p,
                    i64::from(i32::MIN),
                    i64::from(i32::MAX),
                    obj,
                    "spec.serviceAllocation.priority",
                    diag,
                )
            })
            .and_then(|p| i32::try_from(p).ok())
            .unwrap_or(0);
        let namespaces = a.namespaces.unwrap_or_default();
        check_duplicates(
            &namespaces,
            obj,
            "spec.serviceAllocation.namespaces",
            "namespace",
            diag,
        );
        ServiceAllocation {
            priority,
            namespaces,
            namespace_selectors: convert_k8s_selectors(
                a.namespace_selectors.as_deref(),
                obj,
                "spec.serviceAllocation.namespaceSelectors",
                diag,
            ),
            service_selectors: convert_k8s_selectors(
                a.service_selectors.as_deref(),
                obj,
                "spec.serviceAllocation.serviceSelectors",
                diag,
            ),
        }
    });
    if !diag.clean_since(mark) {
        return None;
    }
    Some(PoolItem {
        object: o.label.clone(),
        fields,
        name_field: "metadata.name".into(),
        pool: Pool {
            name: o.name.clone(),
            cidrs: entries
                .iter()
                .flat_map(|e| e.cidrs.iter().copied())
                .collect(),
            auto_assign: spec.auto_assign.is_none_or(|b| b.0),
            avoid_buggy_ips: spec.avoid_buggy_ips.is_some_and(|b| b.0),
            allocation,
            labels: o.labels.clone(),
        },
        entries,
        bgp: true,
    })
}

fn advertisement(
    spec: BgpAdvertisementSpec,
    o: &CrObject,
    aliases: &BTreeMap<String, super::model::CommunityValue>,
    diag: &mut Diag,
) -> Option<Advertisement> {
    let obj = o.label.as_str();
    let mark = diag.mark();
    let agg = spec.aggregation_length.map_or(Some(32), |v| {
        ranged(v, 1, 32, obj, "spec.aggregationLength", diag)
    });
    let agg6 = spec.aggregation_length_v6.map_or(Some(128), |v| {
        ranged(v, 0, 128, obj, "spec.aggregationLengthV6", diag)
    });
    let local_pref = spec.local_pref.map_or(Some(0), |v| {
        ranged(v, 0, i64::from(u32::MAX), obj, "spec.localPref", diag)
    });
    let communities = resolve_communities(
        &spec.communities.unwrap_or_default(),
        aliases,
        obj,
        "spec.communities",
        diag,
    );
    let pools = spec.ip_address_pools.unwrap_or_default();
    check_duplicates(&pools, obj, "spec.ipAddressPools", "pool", diag);
    let peers = spec.peers.unwrap_or_default();
    check_duplicates(&peers, obj, "spec.peers", "peer", diag);
    let pool_selectors = convert_k8s_selectors(
        spec.ip_address_pool_selectors.as_deref(),
        obj,
        "spec.ipAddressPoolSelectors",
        diag,
    );
    let node_selectors = convert_k8s_selectors(
        spec.node_selectors.as_deref(),
        obj,
        "spec.nodeSelectors",
        diag,
    );
    let service_selectors = convert_k8s_selectors(
        spec.service_selectors.as_deref(),
        obj,
        "spec.serviceSelectors",
        diag,
    );
    if !service_selectors.is_empty() {
        if agg.is_some_and(|a| a != 32) {
            diag.error(
                obj,
                "spec.aggregationLength",
                "serviceSelectors and a non-default aggregationLength are mutually exclusive",
            );
        }
        if agg6.is_some_and(|a| a != 128) {
            diag.error(
                obj,
                "spec.aggregationLengthV6",
                "serviceSelectors and a non-default aggregationLengthV6 are mutually exclusive",
            );
        }
    }
    if !diag.clean_since(mark) {
        return None;
    }
    Some(Advertisement {
        name: o.name.clone(),
        aggregation_length: u8::try_from(agg?).ok()?,
        aggregation_length_v6: u8::try_from(agg6?).ok()?,
        local_pref: u32::try_from(local_pref?).ok().filter(|v| *v != 0),
        communities,
        pools,
        pool_selectors,
        node_selectors,
        peers,
        service_selectors,
    })
}
