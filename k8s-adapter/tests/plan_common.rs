//! Helpers shared by the allocation and plan tests (included with
//! `#[path = "plan_common.rs"] mod common;`): configuration builders and
//! fixture loading. Configurations are built directly as `Config` values so
//! these tests do not depend on the configuration parser.
// Test helpers: panicking on bad fixtures is the point, and each including
// test crate uses only some of them.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bgp_proto::attribute::{Community, LargeCommunity};
use k8s_adapter::config::{
    Advertisement, CommunityValue, Config, Peer, PeerAsn, Pool, ServiceAllocation, Source,
};
use k8s_adapter::selector::LabelSelector;
use k8s_adapter::world::World;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/objects")
}

/// Loads fixture files (names relative to tests/fixtures/objects).
pub fn world(files: &[&str]) -> World {
    let paths: Vec<PathBuf> = files.iter().map(|f| fixtures().join(f)).collect();
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    k8s_adapter::objects::load_paths(&refs).expect("fixtures load")
}

pub fn sel(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        match_expressions: Vec::new(),
    }
}

pub fn pool(name: &str, cidrs: &[&str]) -> Pool {
    Pool {
        name: name.to_owned(),
        cidrs: cidrs.iter().map(|c| c.parse().unwrap()).collect(),
        auto_assign: true,
        avoid_buggy_ips: false,
        allocation: None,
        labels: BTreeMap::new(),
    }
}

pub fn alloc(priority: i32) -> ServiceAllocation {
    ServiceAllocation {
        priority,
        ..ServiceAllocation::default()
    }
}

pub fn peer(name: &str, address: &str, peer_asn: u32, my_asn: u32) -> Peer {
    Peer {
        name: name.to_owned(),
        my_asn,
        peer_asn: PeerAsn::Asn(peer_asn),
        address: address.parse().unwrap(),
        port: 179,
        source_address: None,
        hold_time: Duration::from_secs(90),
        keepalive_time: None,
        connect_time: None,
        router_id: None,
        node_selectors: Vec::new(),
        password: None,
        bfd_profile: None,
        graceful_restart: false,
        ebgp_multihop: false,
        vrf: None,
    }
}

pub fn adv(name: &str, pools: &[&str]) -> Advertisement {
    Advertisement {
        name: name.to_owned(),
        aggregation_length: 32,
        aggregation_length_v6: 128,
        local_pref: None,
        communities: Vec::new(),
        pools: pools.iter().map(|p| (*p).to_owned()).collect(),
        pool_selectors: Vec::new(),
        node_selectors: Vec::new(),
        peers: Vec::new(),
        service_selectors: Vec::new(),
    }
}

pub fn std_comm(s: &str) -> CommunityValue {
    CommunityValue::Standard(s.parse::<Community>().unwrap())
}

pub fn large_comm(s: &str) -> CommunityValue {
    CommunityValue::Large(s.parse::<LargeCommunity>().unwrap())
}

pub fn config(pools: Vec<Pool>, peers: Vec<Peer>, ads: Vec<Advertisement>) -> Config {
    Config {
        source: Source::Crds,
        pools: pools.into_iter().map(|p| (p.name.clone(), p)).collect(),
        peers: peers.into_iter().map(|p| (p.name.clone(), p)).collect(),
        advertisements: ads,
        communities: BTreeMap::new(),
        bfd_profiles: BTreeMap::new(),
    }
}

/// The configuration of the allocation scenarios (tests/allocate.rs).
pub fn allocation_config() -> Config {
    let mut reserved = pool("reserved", &["192.168.20.0/28"]);
    reserved.auto_assign = false;
    let mut team_a = pool("team-a", &["10.10.0.0/29"]);
    team_a.allocation = Some(ServiceAllocation {
        namespaces: vec!["team-a".into()],
        ..alloc(10)
    });
    let mut team_a_low = pool("team-a-low", &["10.10.1.0/29"]);
    team_a_low.allocation = Some(ServiceAllocation {
        namespace_selectors: vec![sel(&[("team", "a")])],
        ..alloc(20)
    });
    let mut gold = pool("gold", &["10.20.0.0/30"]);
    gold.allocation = Some(ServiceAllocation {
        service_selectors: vec![sel(&[("tier", "gold")])],
        ..alloc(5)
    });
    // 10.30.0.255-10.30.1.1 summarised.
    let mut buggy = pool("buggy", &["10.30.0.255/32", "10.30.1.0/31"]);
    buggy.auto_assign = false;
    buggy.avoid_buggy_ips = true;
    let mut dual = pool("dual", &["172.16.0.0/30", "fd00:10::/126"]);
    dual.auto_assign = false;
    let v6only = pool("v6only", &["fd00:20::/125"]);
    config(
        vec![
            pool("default", &["192.168.10.0/24"]),
            reserved,
            team_a,
            team_a_low,
            gold,
            buggy,
            dual,
            v6only,
        ],
        vec![peer("router-1", "192.0.2.1", 64500, 64512)],
        vec![adv("all", &[])],
    )
}

/// The configuration of the announcement scenarios (tests/plan.rs).
pub fn announce_config() -> Config {
    let mut r2 = peer("router-2", "192.0.2.2", 64512, 64512);
    r2.node_selectors = vec![sel(&[("rack", "r2")])];
    let mut r3 = peer("router-3", "192.0.2.3", 64501, 64512);
    r3.node_selectors = vec![sel(&[("rack", "r1")])];
    let mut ads = Vec::new();
    let mut a = adv("default-adv", &["default", "v6", "dual"]);
    a.communities = vec![std_comm("65000:1")];
    ads.push(a);
    let mut a = adv("default-adv-r2", &["default"]);
    a.peers = vec!["router-2".into()];
    a.local_pref = Some(200);
    a.communities = vec![std_comm("65000:2"), large_comm("65000:0:2")];
    ads.push(a);
    let mut a = adv("agg-adv", &["agg"]);
    a.aggregation_length = 24;
    a.communities = vec![std_comm("65000:24")];
    ads.push(a);
    let mut a = adv("rack1", &["rack1only"]);
    a.node_selectors = vec![sel(&[("rack", "r1")])];
    ads.push(a);
    let mut a = adv("lp-a", &["lp"]);
    a.local_pref = Some(100);
    ads.push(a);
    let mut a = adv("lp-b", &["lp"]);
    a.local_pref = Some(200);
    ads.push(a);
    let mut a = adv("sel-adv", &["sel"]);
    a.service_selectors = vec![sel(&[("tier", "gold")])];
    ads.push(a);
    let mut a = adv("v6-agg", &["v6"]);
    a.aggregation_length_v6 = 64;
    ads.push(a);
    let mut c = config(
        vec![
            pool("default", &["192.168.10.0/24"]),
            pool("agg", &["192.168.30.0/24"]),
            pool("rack1only", &["192.168.40.0/24"]),
            pool("lp", &["192.168.50.0/24"]),
            pool("sel", &["192.168.60.0/24"]),
            pool("dual", &["192.168.70.0/24", "fd00:70::/64"]),
            pool("v6", &["fd00:20::/64"]),
        ],
        vec![peer("router-1", "192.0.2.1", 64500, 64512), r2, r3],
        ads,
    );
    c.communities
        .insert("gold-alias".into(), std_comm("65000:500"));
    c
}

pub fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}
