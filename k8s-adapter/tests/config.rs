//! Configuration loading: real MetalLB samples, the seed ConfigMap, a
//! complete CRD set, every default, and a table of broken configurations
//! each asserting the exact object, field and reason.

// Tests may unwrap/index/panic: a failure here is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use bgp_proto::attribute::{Community, LargeCommunity};
use ipnet::IpNet;
use k8s_adapter::config::{
    Advertisement, BfdProfile, CommunityValue, Config, ConfigError, PasswordSource, Peer, PeerAsn,
    Pool, ServiceAllocation, Source, load_paths, load_paths_with_warnings, load_str,
    load_str_with_warnings, parse_address_entry, parse_community, parse_go_duration,
    summarize_range,
};
use k8s_adapter::selector::{LabelSelector, Operator, Requirement};

const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/metallb-configs"
);
const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/seed/metallb-bgp-mode.md"
);
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/config");
const CM: &str = "ConfigMap metallb-system/config";

// ---------------------------------------------------------------------------
// Helpers.

fn load(yaml: &str) -> Config {
    match load_str(yaml) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid configuration, got {e}\n--- input:\n{yaml}"),
    }
}

fn dedent(s: &str) -> String {
    let indent = s
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    s.lines()
        .map(|l| {
            if l.len() >= indent {
                &l[indent..]
            } else {
                l.trim_start()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A legacy ConfigMap holding `body` (indented freely) as `data.config`.
fn cm(body: &str) -> String {
    let mut s = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: metallb-system\n  name: config\ndata:\n  config: |\n",
    );
    for line in dedent(body).lines() {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// A metallb.io object with `spec` (indented freely).
fn cr(kind: &str, name: &str, spec: &str) -> String {
    let version = if kind == "BGPPeer" {
        "v1beta2"
    } else {
        "v1beta1"
    };
    cr_v(kind, version, name, spec)
}

fn cr_v(kind: &str, version: &str, name: &str, spec: &str) -> String {
    let mut s = format!(
        "---\napiVersion: metallb.io/{version}\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: metallb-system\n"
    );
    if !spec.trim().is_empty() {
        s.push_str("spec:\n");
        for line in dedent(spec).lines() {
            s.push_str("  ");
            s.push_str(line);
            s.push('\n');
        }
    }
    s
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn nets(v: &[&str]) -> Vec<IpNet> {
    v.iter().map(|s| net(s)).collect()
}

fn std_comm(a: u16, b: u16) -> CommunityValue {
    CommunityValue::Standard(Community((u32::from(a) << 16) | u32::from(b)))
}

fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn match_labels(kv: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: labels(kv),
        match_expressions: Vec::new(),
    }
}

fn peer_defaults(name: &str, my: u32, peer: PeerAsn, addr: &str) -> Peer {
    Peer {
        name: name.into(),
        my_asn: my,
        peer_asn: peer,
        address: addr.parse().unwrap(),
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

fn adv_defaults(name: &str, pools: &[&str]) -> Advertisement {
    Advertisement {
        name: name.into(),
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

fn pool_defaults(name: &str, cidrs: &[&str]) -> Pool {
    Pool {
        name: name.into(),
        cidrs: nets(cidrs),
        auto_assign: true,
        avoid_buggy_ips: false,
        allocation: None,
        labels: BTreeMap::new(),
    }
}

fn yaml_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------
// Real MetalLB samples.

#[test]
fn every_real_sample_loads() {
    let root = Path::new(SAMPLES);
    if !root.is_dir() {
        println!("note: {SAMPLES} is absent; skipping the real-sample test");
        return;
    }
    let mut count = 0;
    for sub in ["crds", "legacy-configmap"] {
        for f in yaml_files(&root.join(sub)) {
            let text = std::fs::read_to_string(&f).unwrap();
            if let Err(e) = load_str(&text) {
                panic!("{} must load: {e}", f.display());
            }
            let cfg = load_paths(&[f.as_path()]).unwrap();
            let expected = if sub == "crds" {
                Source::Crds
            } else {
                Source::ConfigMap
            };
            assert_eq!(cfg.source, expected, "{}", f.display());
            count += 1;
        }
    }
    assert!(count >= 24, "only {count} samples found");
}

#[test]
fn real_full_legacy_sample_values() {
    let f = Path::new(SAMPLES).join("legacy-configmap/config-yaml-full.yaml");
    if !f.is_file() {
        println!("note: {} is absent; skipping", f.display());
        return;
    }
    let (cfg, warnings) = load_paths_with_warnings(&[f.as_path()]).unwrap();
    assert_eq!(cfg.source, Source::ConfigMap);

    let mut peer = peer_defaults("peer-0", 64512, PeerAsn::Asn(64512), "10.0.0.1");
    peer.source_address = Some("10.0.0.2".parse().unwrap());
    peer.hold_time = Duration::from_secs(120);
    peer.keepalive_time = Some(Duration::from_secs(30));
    peer.router_id = Some(Ipv4Addr::new(1, 2, 3, 4));
    peer.password = Some(PasswordSource::Inline("yourPassword".into()));
    peer.bfd_profile = Some("bfdprofile1".into());
    peer.node_selectors = vec![LabelSelector {
        match_labels: labels(&[("kubernetes.io/hostname", "prod-01")]),
        match_expressions: vec![Requirement {
            key: "kubernetes.io/arch".into(),
            operator: Operator::In,
            values: vec!["amd64".into(), "arm".into()],
        }],
    }];
    assert_eq!(cfg.peers, BTreeMap::from([("peer-0".to_owned(), peer)]));

    let range = |p: &str| {
        [
            format!("{p}.150/31"),
            format!("{p}.152/29"),
            format!("{p}.160/27"),
            format!("{p}.192/29"),
            format!("{p}.200/32"),
        ]
    };
    let mut bgp = pool_defaults("my-ip-space", &["192.168.10.0/24"]);
    bgp.cidrs.extend(range("192.168.0").iter().map(|s| net(s)));
    bgp.avoid_buggy_ips = true;
    let mut l2 = pool_defaults("my-l2-space", &["192.168.11.0/24"]);
    l2.cidrs.extend(range("192.168.1").iter().map(|s| net(s)));
    l2.avoid_buggy_ips = true;
    assert_eq!(
        cfg.pools,
        BTreeMap::from([
            ("my-ip-space".to_owned(), bgp),
            ("my-l2-space".to_owned(), l2)
        ])
    );

    let mut adv = adv_defaults("my-ip-space-adv-0", &["my-ip-space"]);
    adv.aggregation_length_v6 = 64;
    adv.local_pref = Some(100);
    adv.communities = vec![std_comm(64512, 1), std_comm(65535, 65281)];
    assert_eq!(cfg.advertisements, vec![adv]);
    assert_eq!(
        cfg.communities,
        BTreeMap::from([("no-export".to_owned(), std_comm(65535, 65281))])
    );
    assert_eq!(
        cfg.bfd_profiles,
        BTreeMap::from([(
            "bfdprofile1".to_owned(),
            BfdProfile {
                name: "bfdprofile1".into(),
                receive_interval: 280,
                transmit_interval: 270,
                detect_multiplier: 200,
                echo_interval: 62,
                echo_mode: false,
                passive_mode: false,
                minimum_ttl: 254,
            }
        )])
    );
    // `protocol: l2` is not MetalLB's spelling: accepted as layer2, flagged.
    assert!(
        warnings
            .iter()
            .any(|w| w.field == "protocol" && w.object.ends_with("address-pools[1]")),
        "{warnings:?}"
    );
}

// ---------------------------------------------------------------------------
// The seed document's ConfigMap.

fn seed_expected() -> Config {
    Config {
        source: Source::ConfigMap,
        pools: BTreeMap::from([(
            "default".to_owned(),
            pool_defaults("default", &["192.168.10.0/24"]),
        )]),
        peers: BTreeMap::from([(
            "peer-0".to_owned(),
            peer_defaults("peer-0", 64500, PeerAsn::Asn(64501), "10.0.0.1"),
        )]),
        advertisements: vec![adv_defaults("default-adv-0", &["default"])],
        communities: BTreeMap::new(),
        bfd_profiles: BTreeMap::new(),
    }
}

#[test]
fn seed_configmap_exact_values() {
    let cfg = load_paths(&[Path::new(FIXTURES).join("seed-configmap.yaml").as_path()]).unwrap();
    assert_eq!(cfg, seed_expected());
}

#[test]
fn seed_document_configmap_matches_fixture() {
    let Ok(md) = std::fs::read_to_string(SEED) else {
        println!("note: {SEED} is absent; skipping");
        return;
    };
    // The ``` block holding the ConfigMap, minus the "... (1)" annotations.
    let mut blocks = md.split("```").skip(1).step_by(2);
    let block = blocks.find(|b| b.contains("kind: ConfigMap")).unwrap();
    let yaml: String = block
        .lines()
        .map(|l| match l.find("... (") {
            Some(i) => l[..i].trim_end(),
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(load(&yaml), seed_expected());
}

// ---------------------------------------------------------------------------
// A complete CRD set.

#[test]
fn complete_crd_set_exact_values() {
    let (cfg, warnings) =
        load_paths_with_warnings(&[Path::new(FIXTURES).join("crds-complete.yaml").as_path()])
            .unwrap();
    assert_eq!(cfg.source, Source::Crds);
    assert!(warnings.is_empty(), "{warnings:?}");

    let mut public = pool_defaults(
        "public",
        &[
            "198.51.100.0/24",
            "203.0.113.10/31",
            "203.0.113.12/30",
            "203.0.113.16/30",
            "203.0.113.20/32",
            "2001:db8:1::/120",
        ],
    );
    public.auto_assign = false;
    public.avoid_buggy_ips = true;
    public.labels = labels(&[("tier", "public")]);
    public.allocation = Some(ServiceAllocation {
        priority: 10,
        namespaces: vec!["web".into()],
        namespace_selectors: vec![match_labels(&[("team", "a")])],
        service_selectors: vec![LabelSelector {
            match_labels: BTreeMap::new(),
            match_expressions: vec![Requirement {
                key: "app".into(),
                operator: Operator::In,
                values: vec!["x".into(), "y".into()],
            }],
        }],
    });
    let mut internal = pool_defaults("internal", &["10.96.0.0/16"]);
    internal.labels = labels(&[("tier", "internal")]);
    assert_eq!(
        cfg.pools,
        BTreeMap::from([
            ("internal".to_owned(), internal),
            ("public".to_owned(), public)
        ])
    );

    let mut tor1 = peer_defaults("tor1", 64500, PeerAsn::Asn(64501), "192.0.2.1");
    tor1.source_address = Some("192.0.2.10".parse().unwrap());
    tor1.port = 1179;
    tor1.keepalive_time = Some(Duration::from_secs(10));
    tor1.connect_time = Some(Duration::from_secs(5));
    tor1.router_id = Some(Ipv4Addr::new(10, 0, 0, 1));
    tor1.node_selectors = vec![match_labels(&[("rack", "r1")])];
    tor1.password = Some(PasswordSource::Secret {
        name: "tor1-md5".into(),
        namespace: Some("metallb-system".into()),
    });
    tor1.bfd_profile = Some("fast".into());
    tor1.graceful_restart = true;
    tor1.ebgp_multihop = true;
    let mut rr = peer_defaults("rr", 64500, PeerAsn::Internal, "2001:db8::1");
    rr.password = Some(PasswordSource::Inline("s3cret".into()));
    let mut old = peer_defaults("old-peer", 64500, PeerAsn::Asn(64502), "192.0.2.2");
    old.hold_time = Duration::from_secs(30);
    assert_eq!(
        cfg.peers,
        BTreeMap::from([
            ("old-peer".to_owned(), old),
            ("rr".to_owned(), rr),
            ("tor1".to_owned(), tor1)
        ])
    );

    let mut public_adv = adv_defaults("public-adv", &["public"]);
    public_adv.local_pref = Some(200);
    public_adv.communities = vec![
        std_comm(65535, 65281),
        std_comm(64500, 100),
        CommunityValue::Large(LargeCommunity::new(64500, 1, 2)),
    ];
    public_adv.peers = vec!["rr".into(), "tor1".into()];
    public_adv.node_selectors = vec![match_labels(&[("rack", "r1")])];
    let mut internal_adv = adv_defaults("internal-adv", &[]);
    internal_adv.aggregation_length = 24;
    internal_adv.pool_selectors = vec![match_labels(&[("tier", "internal")])];
    let mut svc_adv = adv_defaults("svc-adv", &[]);
    svc_adv.service_selectors = vec![match_labels(&[("bgp", "yes")])];
    assert_eq!(cfg.advertisements, vec![public_adv, internal_adv, svc_adv]);

    assert_eq!(
        cfg.communities,
        BTreeMap::from([
            (
                "big".to_owned(),
                CommunityValue::Large(LargeCommunity::new(64500, 1, 2))
            ),
            ("no-export".to_owned(), std_comm(65535, 65281)),
        ])
    );
    assert_eq!(
        cfg.bfd_profiles,
        BTreeMap::from([(
            "fast".to_owned(),
            BfdProfile {
                name: "fast".into(),
                receive_interval: 100,
                transmit_interval: 100,
                detect_multiplier: 5,
                echo_interval: 50,
                echo_mode: false,
                passive_mode: false,
                minimum_ttl: 254,
            }
        )])
    );
    // Selection semantics.
    let [p, i, s] = &cfg.advertisements[..] else {
        panic!()
    };
    assert!(p.selects_pool(&cfg.pools["public"]) && !p.selects_pool(&cfg.pools["internal"]));
    assert!(i.selects_pool(&cfg.pools["internal"]) && !i.selects_pool(&cfg.pools["public"]));
    assert!(s.selects_pool(&cfg.pools["internal"]) && s.selects_pool(&cfg.pools["public"]));
}

#[test]
fn directory_with_yaml_and_json_list() {
    let cfg = load_paths(&[Path::new(FIXTURES).join("dir").as_path()]).unwrap();
    assert_eq!(cfg.source, Source::Crds);
    assert_eq!(cfg.pools["pool"].cidrs, nets(&["192.168.50.0/24"]));
    assert_eq!(cfg.peers["json-peer"].hold_time, Duration::from_secs(540));
    assert_eq!(cfg.advertisements, vec![adv_defaults("all", &[])]);
}

#[test]
fn unreadable_path_is_an_error() {
    let errs = load_paths(&[Path::new("/nonexistent/metallb.yaml")]).unwrap_err();
    assert_eq!(errs.0.len(), 1);
    assert_eq!(errs.0[0].object, "/nonexistent/metallb.yaml");
}

// ---------------------------------------------------------------------------
// Input shapes.

#[test]
fn bare_legacy_document_and_other_kinds_ignored() {
    let yaml = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec: {whatever: [1, 2]}
---
peers:
- peer-address: 10.0.0.1
  peer-asn: 64501
  my-asn: 64500
address-pools:
- name: default
  protocol: bgp
  addresses: [192.168.10.0/24]
---
";
    let mut expected = seed_expected();
    let cfg = load(yaml);
    assert_eq!(cfg.source, Source::ConfigMap);
    expected.source = Source::ConfigMap;
    assert_eq!(cfg, expected);
}

#[test]
fn configmaps_that_are_not_metallb_are_ignored() {
    let other = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: grafana, namespace: x}\ndata:\n  config: |\n    [server]\n    port = 3000\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {config: \"a: b\"}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: kube-root-ca.crt}\ndata: {ca.crt: x}\n";
    let (cfg, w) = load_str_with_warnings(
        &(other.to_owned() + &cr("IPAddressPool", "p", "addresses: [10.0.0.0/24]")),
    )
    .unwrap();
    assert_eq!(cfg.source, Source::Crds);
    assert_eq!(
        w.iter()
            .filter(|w| w.field == "data.config")
            .map(|w| w.object.as_str())
            .collect::<Vec<_>>(),
        ["ConfigMap x/grafana", "ConfigMap app"]
    );
    // Under another name, a MetalLB-looking data.config is the legacy format.
    let renamed =
        cm("peers: []\naddress-pools: [{name: a, protocol: bgp, addresses: [10.0.0.0/24]}]")
            .replace("name: config", "name: metallb-config");
    assert_eq!(load(&renamed).source, Source::ConfigMap);
}

#[test]
fn kind_list_and_typed_lists_are_flattened() {
    let yaml = "\
apiVersion: v1
kind: List
items:
- apiVersion: metallb.io/v1beta1
  kind: IPAddressPool
  metadata: {name: a, namespace: metallb-system}
  spec: {addresses: [10.0.0.0/24]}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeerList
items:
- apiVersion: metallb.io/v1beta2
  kind: BGPPeer
  metadata: {name: p, namespace: metallb-system}
  spec: {myASN: 1, peerASN: 2, peerAddress: 10.1.1.1}
";
    let cfg = load(yaml);
    assert_eq!(cfg.pools.len(), 1);
    assert_eq!(cfg.peers.len(), 1);
    assert!(cfg.advertisements.is_empty());
}

#[test]
fn empty_input_is_an_empty_crd_config() {
    for y in ["", "---\n", "# nothing\n", "---\n---\n"] {
        let cfg = load(y);
        assert_eq!(cfg.source, Source::Crds);
        assert!(cfg.pools.is_empty() && cfg.peers.is_empty() && cfg.advertisements.is_empty());
    }
}

#[test]
fn l2_only_pools_allocate_but_are_not_advertised() {
    // Legacy: a layer2 pool is in `pools` without an advertisement.
    let cfg = load(&cm("
        address-pools:
        - name: l2
          protocol: layer2
          addresses: [192.168.1.0/28]
        - name: b
          protocol: bgp
          addresses: [192.168.2.0/28]
    "));
    assert_eq!(cfg.pools.keys().collect::<Vec<_>>(), ["b", "l2"]);
    assert_eq!(cfg.advertisements, vec![adv_defaults("b-adv-0", &["b"])]);
    // CRDs: an L2Advertisement is tolerated and ignored.
    let yaml = cr("IPAddressPool", "p", "addresses: [10.0.0.0/24]")
        + &cr("L2Advertisement", "l2", "ipAddressPools: [p]");
    let (cfg, warnings) = load_str_with_warnings(&yaml).unwrap();
    assert_eq!(cfg.pools.len(), 1);
    assert!(cfg.advertisements.is_empty());
    assert!(
        warnings
            .iter()
            .any(|w| w.object == "IPAddressPool metallb-system/p"
                && w.reason.contains("not selected by any BGPAdvertisement")),
        "{warnings:?}"
    );
}

#[test]
fn v1beta1_bgppeer_converts() {
    let yaml = cr_v(
        "BGPPeer",
        "v1beta1",
        "old",
        "
        myASN: 64500
        peerASN: 64500
        peerAddress: 10.0.0.1
        sourceAddress: 10.0.0.2
        holdTime: 3m
        keepaliveTime: 1m
        routerID: 10.0.0.2
        password: pw
        nodeSelectors:
        - matchLabels: {a: b}
          matchExpressions: [{key: c, operator: NotIn, values: [d]}]
        ",
    );
    let p = &load(&yaml).peers["old"];
    let mut want = peer_defaults("old", 64500, PeerAsn::Asn(64500), "10.0.0.1");
    want.source_address = Some("10.0.0.2".parse().unwrap());
    want.hold_time = Duration::from_secs(180);
    want.keepalive_time = Some(Duration::from_secs(60));
    want.router_id = Some(Ipv4Addr::new(10, 0, 0, 2));
    want.password = Some(PasswordSource::Inline("pw".into()));
    want.node_selectors = vec![LabelSelector {
        match_labels: labels(&[("a", "b")]),
        match_expressions: vec![Requirement {
            key: "c".into(),
            operator: Operator::NotIn,
            values: vec!["d".into()],
        }],
    }];
    assert_eq!(*p, want);
}

#[test]
fn yaml_1_1_booleans_and_scalar_labels() {
    let cfg = load(&cm("
        address-pools:
        - name: p
          protocol: bgp
          addresses: [10.0.0.0/24]
          auto-assign: no
          avoid-buggy-ips: yes
        peers:
        - peer-address: 10.0.0.1
          peer-asn: 1
          my-asn: 2
          password: 12345
          node-selectors:
          - match-labels: {rack: 7, edge: true}
    "));
    assert!(!cfg.pools["p"].auto_assign);
    assert!(cfg.pools["p"].avoid_buggy_ips);
    let p = &cfg.peers["peer-0"];
    assert_eq!(p.password, Some(PasswordSource::Inline("12345".into())));
    assert_eq!(
        p.node_selectors,
        vec![match_labels(&[("edge", "true"), ("rack", "7")])]
    );
}

#[test]
fn password_is_redacted_in_debug() {
    let p = PasswordSource::Inline("hunter2".into());
    assert!(!format!("{p:?}").contains("hunter2"));
}

// ---------------------------------------------------------------------------
// Defaults.

#[test]
fn legacy_defaults() {
    let cfg = load(&cm("
        peers:
        - peer-address: 10.0.0.1
          peer-asn: 64501
          my-asn: 64500
          peer-port: 0
          hold-time: \"\"
        address-pools:
        - name: p
          protocol: bgp
          addresses: [10.0.0.0/24]
          bgp-advertisements: []
        - name: q
          protocol: bgp
          addresses: [10.1.0.0/24]
          bgp-advertisements:
          - communities: []
        bfd-profiles:
        - name: b
    "));
    // peer-port 0 → 179, hold 90s, keepalive unset (= hold/3).
    assert_eq!(
        cfg.peers["peer-0"],
        peer_defaults("peer-0", 64500, PeerAsn::Asn(64501), "10.0.0.1")
    );
    // auto-assign true, avoid-buggy-ips false, no allocation, no labels.
    assert_eq!(cfg.pools["p"], pool_defaults("p", &["10.0.0.0/24"]));
    // Empty bgp-advertisements → one default ad; an empty ad → /32, /128.
    assert_eq!(
        cfg.advertisements,
        vec![
            adv_defaults("p-adv-0", &["p"]),
            adv_defaults("q-adv-0", &["q"])
        ]
    );
    assert_eq!(
        cfg.bfd_profiles["b"],
        BfdProfile {
            name: "b".into(),
            receive_interval: 300,
            transmit_interval: 300,
            detect_multiplier: 3,
            echo_interval: 50,
            echo_mode: false,
            passive_mode: false,
            minimum_ttl: 254,
        }
    );
}

#[test]
fn crd_defaults() {
    let yaml = cr(
        "BGPPeer",
        "p",
        "{myASN: 64500, peerASN: 64501, peerAddress: 10.0.0.1}",
    ) + &cr("IPAddressPool", "pool", "addresses: [10.0.0.0/24]")
        + &cr("BGPAdvertisement", "empty", "")
        + &cr("BFDProfile", "b", "")
        + &cr(
            "IPAddressPool",
            "alloc",
            "{addresses: [10.9.0.0/24], serviceAllocation: {}}",
        )
        + &cr(
            "BGPPeer",
            "zero",
            "{myASN: 1, peerASN: 2, peerAddress: 10.0.0.2, localASN: 0, password: '', passwordSecret: {}}",
        );
    let cfg = load(&yaml);
    assert_eq!(
        cfg.peers["p"],
        peer_defaults("p", 64500, PeerAsn::Asn(64501), "10.0.0.1")
    );
    assert_eq!(
        cfg.peers["zero"],
        peer_defaults("zero", 1, PeerAsn::Asn(2), "10.0.0.2")
    );
    assert_eq!(cfg.pools["pool"], pool_defaults("pool", &["10.0.0.0/24"]));
    // Present but empty serviceAllocation: priority 0, matches everything.
    assert_eq!(
        cfg.pools["alloc"].allocation,
        Some(ServiceAllocation::default())
    );
    // An empty-spec BGPAdvertisement selects every pool, /32, /128.
    assert_eq!(cfg.advertisements, vec![adv_defaults("empty", &[])]);
    assert!(cfg.advertisements[0].selects_pool(&cfg.pools["pool"]));
    assert_eq!(cfg.bfd_profiles["b"].detect_multiplier, 3);
    assert_eq!(cfg.bfd_profiles["b"].minimum_ttl, 254);
}

#[test]
fn timer_rules() {
    let peer = |spec: &str| load(&cr("BGPPeer", "p", spec)).peers["p"].clone();
    let base = "myASN: 1\npeerASN: 2\npeerAddress: 10.0.0.1\n";
    // CRD: keepalive alone implies hold = 3 × keepalive.
    let p = peer(&format!("{base}keepaliveTime: 20s"));
    assert_eq!(
        (p.hold_time, p.keepalive_time),
        (Duration::from_secs(60), Some(Duration::from_secs(20)))
    );
    // Rounded down to whole seconds.
    let p = peer(&format!("{base}holdTime: 1m30.9s"));
    assert_eq!(
        (p.hold_time, p.keepalive_time),
        (Duration::from_secs(90), None)
    );
    // keepalive 0 means unset (hold/3), as MetalLB's zero-value output has it.
    let p = peer(&format!("{base}holdTime: 9m0s\nkeepaliveTime: 0s"));
    assert_eq!(
        (p.hold_time, p.keepalive_time),
        (Duration::from_secs(540), None)
    );
    // Hold 0 disables keepalives and the hold timer.
    let p = peer(&format!("{base}holdTime: \"0\""));
    assert_eq!(p.hold_time, Duration::ZERO);
    // Exactly 3s is the minimum non-zero hold.
    assert_eq!(
        peer(&format!("{base}holdTime: 3.999s")).hold_time,
        Duration::from_secs(3)
    );
    // Legacy: keepalive alone keeps the default hold of 90s.
    let cfg = load(&cm("
        peers:
        - {peer-address: 10.0.0.1, peer-asn: 1, my-asn: 2, keepalive-time: 20s}
    "));
    let p = &cfg.peers["peer-0"];
    assert_eq!(
        (p.hold_time, p.keepalive_time),
        (Duration::from_secs(90), Some(Duration::from_secs(20)))
    );
}

// ---------------------------------------------------------------------------
// Unit functions.

#[test]
fn go_duration_parsing() {
    let ok = [
        ("0", Duration::ZERO),
        ("90s", Duration::from_secs(90)),
        ("1m30s", Duration::from_secs(90)),
        ("1h", Duration::from_secs(3600)),
        ("1.5h", Duration::from_secs(5400)),
        ("2h45m10s", Duration::from_secs(9910)),
        ("9m0s", Duration::from_secs(540)),
        ("250ms", Duration::from_millis(250)),
        ("1.5s", Duration::from_millis(1500)),
        (".5s", Duration::from_millis(500)),
        ("5.s", Duration::from_secs(5)),
        ("10us", Duration::from_micros(10)),
        ("10µs", Duration::from_micros(10)),
        ("10μs", Duration::from_micros(10)),
        ("7ns", Duration::from_nanos(7)),
        ("+3s", Duration::from_secs(3)),
        ("-0s", Duration::ZERO),
        ("1h1m1s1ms1us1ns", Duration::new(3661, 1_001_001)),
        ("2562047h", Duration::from_secs(2_562_047 * 3600)),
    ];
    for (s, want) in ok {
        assert_eq!(parse_go_duration(s), Ok(want), "{s}");
    }
    let bad = [
        ("", "invalid duration"),
        ("90", "missing unit"),
        ("1m30", "missing unit"),
        ("s", "invalid duration"),
        (".s", "invalid duration"),
        ("1d", "unknown unit \"d\""),
        ("1 s", "unknown unit \" s\""),
        ("-1s", "negative"),
        ("3000000h", "too large"),
        ("1.5.5s", "missing unit"),
    ];
    for (s, want) in bad {
        let e = parse_go_duration(s).unwrap_err();
        assert!(e.contains(want), "{s:?}: {e}");
    }
}

#[test]
fn range_summarisation() {
    let r = |s: &str| parse_address_entry(s).unwrap();
    assert_eq!(r("192.168.10.0-192.168.10.255"), nets(&["192.168.10.0/24"]));
    assert_eq!(
        r("10.0.0.1-10.0.0.6"),
        nets(&["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"])
    );
    assert_eq!(r(" 10.0.0.1 - 10.0.0.1 "), nets(&["10.0.0.1/32"]));
    assert_eq!(r("0.0.0.0-255.255.255.255"), nets(&["0.0.0.0/0"]));
    assert_eq!(
        r("192.168.0.150-192.168.0.200"),
        nets(&[
            "192.168.0.150/31",
            "192.168.0.152/29",
            "192.168.0.160/27",
            "192.168.0.192/29",
            "192.168.0.200/32"
        ])
    );
    assert_eq!(r("fc00::1-fc00::2"), nets(&["fc00::1/128", "fc00::2/128"]));
    assert_eq!(r("fc00::-fc00::ff"), nets(&["fc00::/120"]));
    assert_eq!(
        r("::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        nets(&["::/0"])
    );
    assert_eq!(
        r("255.255.255.254-255.255.255.255"),
        nets(&["255.255.255.254/31"])
    );
    // CIDRs: host bits cleared (as Go's net.ParseCIDR), whitespace trimmed.
    assert_eq!(r(" 192.168.10.7/24 "), nets(&["192.168.10.0/24"]));
    assert_eq!(
        r("fc00:f853:0ccd:e799::/124"),
        nets(&["fc00:f853:ccd:e799::/124"])
    );
    // Direct API.
    let a: IpAddr = "10.0.0.0".parse().unwrap();
    let b: IpAddr = "10.0.1.255".parse().unwrap();
    assert_eq!(summarize_range(a, b).unwrap(), nets(&["10.0.0.0/23"]));
    // Summaries cover exactly the range.
    let got = r("10.0.0.3-10.0.2.17");
    let total: u64 = got.iter().map(|n| 1u64 << (32 - n.prefix_len())).sum();
    assert_eq!(total, (2 * 256 + 17) - 3 + 1);
    for (s, want) in [
        ("10.0.0.5-10.0.0.1", "is after end address"),
        ("10.0.0.1-fc00::1", "different address families"),
        ("10.0.0.1-", "invalid end address"),
        ("x-10.0.0.1", "invalid start address"),
        ("10.0.0.1", "invalid CIDR"),
        ("10.0.0.0/33", "invalid CIDR"),
    ] {
        let e = parse_address_entry(s).unwrap_err();
        assert!(e.contains(want), "{s:?}: {e}");
    }
}

#[test]
fn community_parsing() {
    assert_eq!(parse_community("65535:65281"), Ok(std_comm(65535, 65281)));
    assert_eq!(parse_community("0:0"), Ok(std_comm(0, 0)));
    assert_eq!(
        parse_community("large:4294967295:0:1"),
        Ok(CommunityValue::Large(LargeCommunity::new(u32::MAX, 0, 1)))
    );
    for (s, want) in [
        ("65536:1", "does not fit in 16 bits"),
        ("1:-1", "is not a number"),
        ("+1:1", "is not a number"),
        ("large:1:2", "expected A:B"),
        ("huge:1:2:3", "must be large:G:L1:L2"),
        ("large:1:2:4294967296", "does not fit in 32 bits"),
        ("no-export", "expected A:B"),
        ("1:2:3:4:5", "expected A:B"),
    ] {
        let e = parse_community(s).unwrap_err();
        assert!(e.contains(want), "{s:?}: {e}");
    }
}

// ---------------------------------------------------------------------------
// Warnings.

#[test]
fn warnings_for_dangling_references_and_inert_fields() {
    let yaml = cr("IPAddressPool", "p", "addresses: [10.0.0.0/24]")
        + &cr(
            "BGPAdvertisement",
            "a",
            "{ipAddressPools: [p, missing], peers: [nobody]}",
        )
        + &cr(
            "BGPPeer",
            "v",
            "{myASN: 1, peerASN: 2, peerAddress: 10.0.0.1, vrf: red, dualStackAddressFamily: true}",
        );
    let (_, w) = load_str_with_warnings(&yaml).unwrap();
    let has = |obj: &str, field: &str, why: &str| {
        w.iter()
            .any(|e| e.object == obj && e.field == field && e.reason.contains(why))
    };
    assert!(
        has(
            "BGPAdvertisement metallb-system/a",
            "spec.ipAddressPools[1]",
            "no IPAddressPool named \"missing\""
        ),
        "{w:?}"
    );
    assert!(
        has(
            "BGPAdvertisement metallb-system/a",
            "spec.peers[0]",
            "no BGPPeer named \"nobody\""
        ),
        "{w:?}"
    );
    assert!(
        has("BGPPeer metallb-system/v", "spec.vrf", "default VRF"),
        "{w:?}"
    );
    assert!(
        has(
            "BGPPeer metallb-system/v",
            "spec.dualStackAddressFamily",
            "accepted"
        ),
        "{w:?}"
    );
    assert_eq!(w.len(), 4, "{w:?}");
}

// ---------------------------------------------------------------------------
// Broken configurations: every error, exactly.

struct Case {
    name: &'static str,
    yaml: String,
    /// (object, field, reason substring), in any order; nothing else.
    want: Vec<(&'static str, &'static str, &'static str)>,
}

fn legacy_peer(extra: &str) -> String {
    format!(
        "peers:\n- peer-address: 10.0.0.1\n  peer-asn: 64501\n  my-asn: 64500\n{}",
        extra
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!("  {}\n", l.trim()))
            .collect::<String>()
    )
}

const P0: &str = "ConfigMap metallb-system/config peers[0]";
const P1: &str = "ConfigMap metallb-system/config peers[1]";
const A0: &str = "ConfigMap metallb-system/config address-pools[0]";
const A1: &str = "ConfigMap metallb-system/config address-pools[1]";
const PEER: &str = "BGPPeer metallb-system/p";
const POOL: &str = "IPAddressPool metallb-system/pool";
const ADV: &str = "BGPAdvertisement metallb-system/a";

fn peer_spec(extra: &str) -> String {
    format!(
        "myASN: 64500\npeerASN: 64501\npeerAddress: 10.0.0.1\n{}",
        dedent(extra)
    )
}

#[allow(clippy::too_many_lines)]
fn cases() -> Vec<Case> {
    let pool = |extra: &str| {
        format!(
            "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n{}",
            extra
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| format!("  {}\n", l.trim_start_matches(' ')))
                .collect::<String>()
        )
    };
    let c = |name, yaml: String, want: Vec<(&'static str, &'static str, &'static str)>| Case {
        name,
        yaml,
        want,
    };
    vec![
        // ---- legacy peers
        c("legacy: missing my-asn", cm("peers:\n- {peer-address: 10.0.0.1, peer-asn: 1}"), vec![(P0, "my-asn", "required")]),
        c("legacy: peer-asn 0", cm("peers:\n- {peer-address: 10.0.0.1, peer-asn: 0, my-asn: 1}"), vec![(P0, "peer-asn", "must not be 0")]),
        c("legacy: asn too large", cm("peers:\n- {peer-address: 10.0.0.1, peer-asn: 4294967296, my-asn: 1}"), vec![(P0, "peer-asn", "out of range")]),
        c("legacy: missing peer-address", cm("peers:\n- {peer-asn: 2, my-asn: 1}"), vec![(P0, "peer-address", "required")]),
        c("legacy: bad peer-address", cm("peers:\n- {peer-address: 10.0.0.256, peer-asn: 2, my-asn: 1}"), vec![(P0, "peer-address", "invalid IP address \"10.0.0.256\"")]),
        c("legacy: hold-time < 3s", cm(&legacy_peer("hold-time: 2s")), vec![(P0, "hold-time", "must be 0 or at least 3s")]),
        c("legacy: hold-time without unit", cm(&legacy_peer("hold-time: \"90\"")), vec![(P0, "hold-time", "missing unit")]),
        c("legacy: hold-time too large", cm(&legacy_peer("hold-time: 24h")), vec![(P0, "hold-time", "exceeds the BGP maximum of 65535s")]),
        c("legacy: keepalive > hold", cm(&legacy_peer("hold-time: 30s\nkeepalive-time: 31s")), vec![(P0, "keepalive-time", "keepalive time 31s must not exceed the hold time 30s")]),
        c("legacy: router-id IPv6", cm(&legacy_peer("router-id: \"fc00::1\"")), vec![(P0, "router-id", "must be an IPv4 address")]),
        c("legacy: router-id 0.0.0.0", cm(&legacy_peer("router-id: 0.0.0.0")), vec![(P0, "router-id", "must not be 0.0.0.0")]),
        c("legacy: bad source-address", cm(&legacy_peer("source-address: nope")), vec![(P0, "source-address", "invalid IP address")]),
        c("legacy: source-address family", cm(&legacy_peer("source-address: \"fc00::2\"")), vec![(P0, "source-address", "not of the same address family")]),
        c("legacy: peer-port out of range", cm(&legacy_peer("peer-port: 70000")), vec![(P0, "peer-port", "out of range 0..65535")]),
        c("legacy: unknown peer key (and the rest still checked)", cm(&legacy_peer("holdtime: 90s\nrouter-id: x")), vec![
            (P0, "holdtime", "unknown field `holdtime`"),
            (P0, "router-id", "invalid router ID"),
        ]),
        c("legacy: wrong type", cm("peers:\n- {peer-address: 10.0.0.1, peer-asn: 1, my-asn: abc}"), vec![(P0, "my-asn", "invalid type: string \"abc\"")]),
        c("legacy: ebgp-multihop on iBGP", cm("peers:\n- {peer-address: 10.0.0.1, peer-asn: 1, my-asn: 1, ebgp-multihop: true}"), vec![(P0, "ebgp-multihop", "iBGP")]),
        c("legacy: missing bfd profile", cm(&legacy_peer("bfd-profile: nope")), vec![(P0, "bfd-profile", "BFD profile \"nope\" does not exist")]),
        c("legacy: duplicate peers", cm(&format!("{}- {{peer-address: 10.0.0.1, peer-asn: 64501, my-asn: 64500, peer-port: 179}}", legacy_peer(""))), vec![(P1, "-", "identical to ConfigMap metallb-system/config peers[0]")]),
        c("legacy: bad selector operator", cm(&legacy_peer("node-selectors:\n- match-expressions: [{key: a, operator: in, values: [b]}]")), vec![(P0, "node-selectors[0].match-expressions[0].operator", "unknown operator \"in\"")]),
        c("legacy: selector values for Exists", cm(&legacy_peer("node-selectors:\n- match-expressions: [{key: a, operator: Exists, values: [b]}]")), vec![(P0, "node-selectors[0].match-expressions[0].values", "must be empty")]),
        c("legacy: bad label key", cm(&legacy_peer("node-selectors:\n- match-labels: {\"-x\": y}")), vec![(P0, "node-selectors[0].match-labels.-x", "invalid label key")]),
        c("legacy: bad label value", cm(&legacy_peer("node-selectors:\n- match-labels: {x: \"a b\"}")), vec![(P0, "node-selectors[0].match-labels.x", "invalid label value")]),
        c("legacy: duplicate node selectors", cm(&legacy_peer("node-selectors:\n- match-labels: {x: y}\n- match-labels: {x: y}")), vec![(P0, "node-selectors[1]", "duplicate selector")]),
        c("legacy: unknown selector key", cm(&legacy_peer("node-selectors:\n- matchLabels: {x: y}")), vec![(P0, "node-selectors[0].matchLabels", "unknown field `matchLabels`")]),
        // ---- legacy pools
        c("legacy: pool without name/protocol/addresses", cm("address-pools:\n- {}"), vec![(A0, "name", "required"), (A0, "protocol", "required"), (A0, "addresses", "at least one")]),
        c("legacy: unknown protocol", cm("address-pools:\n- {name: a, protocol: ospf, addresses: [10.0.0.0/24]}"), vec![(A0, "protocol", "unknown protocol \"ospf\"")]),
        c("legacy: bad addresses", cm("address-pools:\n- {name: a, protocol: bgp, addresses: [10.0.0.0/24, 10.1.0.0/33, 10.2.0.9-10.2.0.1, 10.3.0.1-fc00::1, 10.4.0.1]}"), vec![
            (A0, "addresses[1]", "invalid CIDR \"10.1.0.0/33\""),
            (A0, "addresses[2]", "start address 10.2.0.9 is after end address 10.2.0.1"),
            (A0, "addresses[3]", "different address families"),
            (A0, "addresses[4]", "invalid CIDR \"10.4.0.1\""),
        ]),
        c("legacy: overlapping pools", cm("address-pools:\n- {name: a, protocol: bgp, addresses: [10.0.0.0/24]}\n- {name: b, protocol: layer2, addresses: [10.0.0.128-10.0.0.130]}"), vec![
            (A1, "addresses[0]", "CIDR 10.0.0.128/31 (from \"10.0.0.128-10.0.0.130\") overlaps with 10.0.0.0/24 of pool \"a\""),
        ]),
        c("legacy: overlap within a pool", cm("address-pools:\n- {name: a, protocol: bgp, addresses: [10.0.0.0/16, 10.0.5.0/24]}"), vec![(A0, "addresses[1]", "overlaps with 10.0.0.0/16 of an earlier entry of this pool")]),
        c("legacy: duplicate pool names", cm("address-pools:\n- {name: a, protocol: bgp, addresses: [10.0.0.0/24]}\n- {name: a, protocol: bgp, addresses: [10.1.0.0/24]}"), vec![(A1, "name", "duplicate pool name \"a\" (also defined by ConfigMap metallb-system/config address-pools[0])")]),
        c("legacy: layer2 with advertisements", cm("address-pools:\n- {name: a, protocol: layer2, addresses: [10.0.0.0/24], bgp-advertisements: [{}]}"), vec![(A0, "bgp-advertisements", "layer2")]),
        c("legacy: aggregation-length > 32", cm(&pool("bgp-advertisements:\n- aggregation-length: 33")), vec![(A0, "bgp-advertisements[0].aggregation-length", "33 is out of range 0..32")]),
        c("legacy: aggregation-length-v6 > 128", cm(&pool("bgp-advertisements:\n- aggregation-length-v6: 129")), vec![(A0, "bgp-advertisements[0].aggregation-length-v6", "out of range 0..128")]),
        c("legacy: aggregation wider than the pool", cm(&pool("bgp-advertisements:\n- aggregation-length: 16")), vec![(A0, "bgp-advertisements[0].aggregation-length", "aggregation length 16 is shorter than the /24 prefix of address \"10.0.0.0/24\" in pool \"a\"")]),
        c("legacy: aggregation vs widest CIDR of a range", cm("address-pools:\n- {name: a, protocol: bgp, addresses: [10.0.0.1-10.0.0.6], bgp-advertisements: [{aggregation-length: 30}, {aggregation-length: 31}]}"), vec![(A0, "bgp-advertisements[0].aggregation-length", "shorter than the /31 prefix of address \"10.0.0.1-10.0.0.6\"")]),
        c("legacy: v6 aggregation wider than the pool", cm("address-pools:\n- {name: a, protocol: bgp, addresses: [\"fc00::/64\"], bgp-advertisements: [{aggregation-length-v6: 48}]}"), vec![(A0, "bgp-advertisements[0].aggregation-length-v6", "aggregation length 48 is shorter than the /64 prefix")]),
        c("legacy: negative aggregation", cm(&pool("bgp-advertisements:\n- aggregation-length: -1")), vec![(A0, "bgp-advertisements[0].aggregation-length", "-1 is out of range")]),
        c("legacy: communities", cm(&format!("bgp-communities: {{ok: \"1:1\", bad: \"1:99999\"}}\n{}", pool("bgp-advertisements:\n- communities: [\"1:2\", \"1:2\", ok, nope, \"70000:1\", \"large:1:2:3\"]"))), vec![
            (CM, "bgp-communities.bad", "99999 does not fit in 16 bits"),
            (A0, "bgp-advertisements[0].communities[1]", "duplicate community \"1:2\""),
            (A0, "bgp-advertisements[0].communities[3]", "\"nope\" is neither a community value"),
            (A0, "bgp-advertisements[0].communities[4]", "70000 does not fit in 16 bits"),
        ]),
        c("legacy: more than 63 communities", cm(&pool(&format!("bgp-advertisements:\n- communities: [{}]", (1..=64).map(|i| format!("\"1:{i}\"")).collect::<Vec<_>>().join(", ")))), vec![(A0, "bgp-advertisements[0].communities", "64 communities; at most 63")]),
        c("legacy: duplicate advertisements", cm(&pool("bgp-advertisements:\n- {localpref: 5}\n- {localpref: 5}")), vec![(A0, "bgp-advertisements[1]", "identical to bgp-advertisements[0]")]),
        c("legacy: conflicting localpref", cm(&pool("bgp-advertisements:\n- {localpref: 5}\n- {localpref: 6, communities: [\"1:1\"]}")), vec![(A0, "bgp-advertisements[1].localpref", "local preference 6 conflicts with 5")]),
        c("legacy: localpref negative", cm(&pool("bgp-advertisements:\n- {localpref: -5}")), vec![(A0, "bgp-advertisements[0].localpref", "out of range")]),
        // ---- legacy BFD and top level
        c("legacy: bfd ranges", cm("bfd-profiles:\n- {name: b, receive-interval: 9, transmit-interval: 60001, detect-multiplier: 1, echo-interval: 0, minimum-ttl: 255}"), vec![
            ("ConfigMap metallb-system/config bfd-profiles[0]", "receive-interval", "9 is out of range 10..60000"),
            ("ConfigMap metallb-system/config bfd-profiles[0]", "transmit-interval", "out of range 10..60000"),
            ("ConfigMap metallb-system/config bfd-profiles[0]", "detect-multiplier", "out of range 2..255"),
            ("ConfigMap metallb-system/config bfd-profiles[0]", "echo-interval", "out of range 10..60000"),
            ("ConfigMap metallb-system/config bfd-profiles[0]", "minimum-ttl", "out of range 1..254"),
        ]),
        c("legacy: bfd names", cm("bfd-profiles:\n- {name: b}\n- {name: b}\n- {echo-mode: true}"), vec![
            ("ConfigMap metallb-system/config bfd-profiles[1]", "name", "duplicate BFD profile name \"b\""),
            ("ConfigMap metallb-system/config bfd-profiles[2]", "name", "required"),
        ]),
        c("legacy: BFD echo with IPv6 prefixes", cm(&format!("bfd-profiles:\n- {{name: echo, echo-mode: true}}\n{}address-pools:\n- {{name: v6, protocol: bgp, addresses: [\"fc00::/120\"]}}", legacy_peer("bfd-profile: echo"))), vec![(P0, "bfd-profile", "BFD echo mode cannot be used on a peer that is sent IPv6 prefixes")]),
        c("legacy: unknown top-level key", cm("peer:\n- {}"), vec![(CM, "peer", "unknown field")]),
        // Found by the config_legacy fuzz target (input "\n?\n|": an empty key).
        c("legacy: empty top-level key", cm("\"\": 1"), vec![(CM, "\"\"", "unknown field")]),
        c("legacy: empty key in a peer", cm(&legacy_peer("\"\": x")), vec![(P0, "\"\"", "unknown field ``")]),
        c("legacy: peers not a list", cm("peers: {a: b}"), vec![(CM, "peers", "must be a list")]),
        c("legacy: invalid YAML in data.config", cm("peers: [unclosed"), vec![(CM, "data.config", "invalid YAML")]),
        c("legacy: two ConfigMaps", format!("{}---\n{}", cm("peers: []"), cm("peers: []").replace("name: config", "name: config2")), vec![("ConfigMap metallb-system/config2", "-", "more than one legacy MetalLB configuration")]),
        c("mixing ConfigMap and CRs", cm("peers: []") + &cr("L2Advertisement", "l2", ""), vec![(CM, "-", "cannot be mixed with metallb.io custom resources (found L2Advertisement metallb-system/l2)")]),
        // ---- BGPPeer
        c("crd: missing myASN/peerASN/peerAddress", cr("BGPPeer", "p", "ebgpMultiHop: false"), vec![(PEER, "spec.myASN", "required"), (PEER, "spec.peerASN", "required: set peerASN or dynamicASN"), (PEER, "spec.peerAddress", "required")]),
        c("crd: peerASN and dynamicASN", cr("BGPPeer", "p", &peer_spec("dynamicASN: external")), vec![(PEER, "spec.dynamicASN", "mutually exclusive")]),
        c("crd: bad dynamicASN", cr("BGPPeer", "p", "{myASN: 1, dynamicASN: both, peerAddress: 10.0.0.1}"), vec![(PEER, "spec.dynamicASN", "invalid dynamicASN \"both\"")]),
        c("crd: myASN 0", cr("BGPPeer", "p", "{myASN: 0, peerASN: 1, peerAddress: 10.0.0.1}"), vec![(PEER, "spec.myASN", "must not be 0")]),
        c("crd: ebgpMultiHop on iBGP", cr("BGPPeer", "p", "{myASN: 1, peerASN: 1, peerAddress: 10.0.0.1, ebgpMultiHop: true}"), vec![(PEER, "spec.ebgpMultiHop", "iBGP")]),
        c("crd: ebgpMultiHop with dynamicASN internal", cr("BGPPeer", "p", "{myASN: 1, dynamicASN: internal, peerAddress: 10.0.0.1, ebgpMultiHop: true}"), vec![(PEER, "spec.ebgpMultiHop", "iBGP")]),
        c("crd: password and passwordSecret", cr("BGPPeer", "p", &peer_spec("password: a\npasswordSecret: {name: s}")), vec![(PEER, "spec.passwordSecret", "mutually exclusive")]),
        c("crd: passwordSecret without name", cr("BGPPeer", "p", &peer_spec("passwordSecret: {namespace: x}")), vec![(PEER, "spec.passwordSecret.name", "required")]),
        c("crd: passwordSecret unknown key", cr("BGPPeer", "p", &peer_spec("passwordSecret: {name: s, key: k}")), vec![(PEER, "spec.passwordSecret.key", "unknown field `key`")]),
        c("crd: peerPort 0 in v1beta2", cr("BGPPeer", "p", &peer_spec("peerPort: 0")), vec![(PEER, "spec.peerPort", "0 is out of range 1..16384")]),
        c("crd: peerPort too large", cr("BGPPeer", "p", &peer_spec("peerPort: 16385")), vec![(PEER, "spec.peerPort", "out of range 1..16384")]),
        c("crd: holdTime < 3s", cr("BGPPeer", "p", &peer_spec("holdTime: 2.5s")), vec![(PEER, "spec.holdTime", "hold time 2.5s must be 0 or at least 3s")]),
        c("crd: keepalive alone too small", cr("BGPPeer", "p", &peer_spec("keepaliveTime: 500ms")), vec![(PEER, "spec.holdTime", "must be 0 or at least 3s")]),
        c("crd: keepalive > hold", cr("BGPPeer", "p", &peer_spec("holdTime: 1m\nkeepaliveTime: 61s")), vec![(PEER, "spec.keepaliveTime", "keepalive time 1m1s must not exceed the hold time 1m0s")]),
        c("crd: bad durations", cr("BGPPeer", "p", &peer_spec("holdTime: 90\nkeepaliveTime: 3x")), vec![(PEER, "spec.holdTime", "invalid type: integer `90`"), (PEER, "spec.keepaliveTime", "unknown unit \"x\"")]),
        c("crd: connectTime", cr("BGPPeer", "p", &peer_spec("connectTime: 1500ms")) + &cr("BGPPeer", "q", &peer_spec("connectTime: 0s").replace("10.0.0.1", "10.0.0.2")) + &cr("BGPPeer", "r", &peer_spec("connectTime: 20h").replace("10.0.0.1", "10.0.0.3")), vec![
            (PEER, "spec.connectTime", "whole number of seconds"),
            ("BGPPeer metallb-system/q", "spec.connectTime", "between 1s and 65535s"),
            ("BGPPeer metallb-system/r", "spec.connectTime", "between 1s and 65535s"),
        ]),
        c("crd: routerID", cr("BGPPeer", "p", &peer_spec("routerID: 300.0.0.1")), vec![(PEER, "spec.routerID", "invalid router ID \"300.0.0.1\"")]),
        c("crd: interface (unnumbered)", cr("BGPPeer", "p", "{myASN: 1, peerASN: 2, interface: eth0}"), vec![(PEER, "spec.interface", "not supported")]),
        c("crd: interface and address", cr("BGPPeer", "p", &peer_spec("interface: eth0")), vec![(PEER, "spec.interface", "mutually exclusive")]),
        c("crd: localASN", cr("BGPPeer", "p", &peer_spec("localASN: 65000")), vec![(PEER, "spec.localASN", "not supported")]),
        c("crd: unknown spec field (rest still checked)", cr("BGPPeer", "p", "{myASN: 1, peerAsn: 2, peerAddress: 10.0.0.1}"), vec![(PEER, "spec.peerAsn", "unknown field `peerAsn`"), (PEER, "spec.peerASN", "required")]),
        c("crd: v1beta1 has no dynamicASN", cr_v("BGPPeer", "v1beta1", "p", "{myASN: 1, dynamicASN: internal, peerAddress: 10.0.0.1}"), vec![(PEER, "spec.dynamicASN", "unknown field `dynamicASN`"), (PEER, "spec.peerASN", "required")]),
        c("crd: v1beta1 peerPort 20000", cr_v("BGPPeer", "v1beta1", "p", &peer_spec("peerPort: 20000")), vec![(PEER, "spec.peerPort", "out of range 1..16384")]),
        c("crd: missing BFD profile", cr("BGPPeer", "p", &peer_spec("bfdProfile: fast")), vec![(PEER, "spec.bfdProfile", "BFD profile \"fast\" does not exist")]),
        c("crd: duplicate peers", cr("BGPPeer", "p", &peer_spec("")) + &cr("BGPPeer", "q", &peer_spec("")), vec![("BGPPeer metallb-system/q", "-", "identical to BGPPeer metallb-system/p")]),
        c("crd: duplicate peer names", cr("BGPPeer", "p", &peer_spec("")) + &cr("BGPPeer", "p", &peer_spec("peerPort: 1179")), vec![(PEER, "metadata.name", "duplicate peer name \"p\"")]),
        c("crd: selector errors", cr("BGPPeer", "p", &peer_spec("nodeSelectors:\n- matchExpressions: [{operator: In, values: [a]}, {key: k, operator: In}, {key: k, operator: In, values: [a, a]}]\n- {}\n- {}")), vec![
            (PEER, "spec.nodeSelectors[0].matchExpressions[0].key", "required"),
            (PEER, "spec.nodeSelectors[0].matchExpressions[1].values", "must be non-empty for operator In"),
            (PEER, "spec.nodeSelectors[0].matchExpressions[2].values[1]", "duplicate value \"a\""),
            (PEER, "spec.nodeSelectors[2]", "duplicate selector"),
        ]),
        // ---- IPAddressPool
        c("crd: pool without addresses", cr("IPAddressPool", "pool", "autoAssign: true"), vec![(POOL, "spec.addresses", "at least one")]),
        c("crd: pool bad entries", cr("IPAddressPool", "pool", "addresses: [10.0.0.0/24, bogus]"), vec![(POOL, "spec.addresses[1]", "invalid CIDR \"bogus\"")]),
        c("crd: overlapping pools", cr("IPAddressPool", "pool", "addresses: [\"fc00::/64\"]") + &cr("IPAddressPool", "other", "addresses: [\"fc00::1-fc00::5\"]"), vec![("IPAddressPool metallb-system/other", "spec.addresses[0]", "CIDR fc00::1/128 (from \"fc00::1-fc00::5\") overlaps with fc00::/64 of pool \"pool\"")]),
        c("crd: serviceAllocation errors", cr("IPAddressPool", "pool", "addresses: [10.0.0.0/24]\nserviceAllocation:\n  priority: 3000000000\n  namespaces: [a, a]\n  serviceSelectors: [{matchLabels: {x: y}}, {matchLabels: {x: y}}]"), vec![
            (POOL, "spec.serviceAllocation.priority", "out of range"),
            (POOL, "spec.serviceAllocation.namespaces[1]", "duplicate namespace \"a\""),
            (POOL, "spec.serviceAllocation.serviceSelectors[1]", "duplicate selector"),
        ]),
        c("crd: pool unknown field", cr("IPAddressPool", "pool", "addresses: [10.0.0.0/24]\navoidBuggyIps: true"), vec![(POOL, "spec.avoidBuggyIps", "unknown field `avoidBuggyIps`")]),
        // ---- BGPAdvertisement
        c("crd: aggregationLength 0", cr("BGPAdvertisement", "a", "aggregationLength: 0"), vec![(ADV, "spec.aggregationLength", "0 is out of range 1..32")]),
        c("crd: aggregationLengthV6 200", cr("BGPAdvertisement", "a", "aggregationLengthV6: 200"), vec![(ADV, "spec.aggregationLengthV6", "out of range 0..128")]),
        c("crd: serviceSelectors with aggregation", cr("BGPAdvertisement", "a", "aggregationLength: 24\naggregationLengthV6: 64\nserviceSelectors: [{matchLabels: {a: b}}]"), vec![
            (ADV, "spec.aggregationLength", "serviceSelectors and a non-default aggregationLength are mutually exclusive"),
            (ADV, "spec.aggregationLengthV6", "mutually exclusive"),
        ]),
        c("crd: aggregation vs selected pool", cr("IPAddressPool", "pool", "addresses: [10.0.0.0/24, \"fc00::/120\"]") + &cr("BGPAdvertisement", "a", "{aggregationLength: 20, aggregationLengthV6: 112}"), vec![
            (ADV, "spec.aggregationLength", "aggregation length 20 is shorter than the /24 prefix of address \"10.0.0.0/24\" in pool \"pool\""),
            (ADV, "spec.aggregationLengthV6", "aggregation length 112 is shorter than the /120 prefix"),
        ]),
        c("crd: aggregation only checked on selected pools", cr("IPAddressPool", "pool", "addresses: [10.0.0.0/24]") + &cr("IPAddressPool", "wide", "addresses: [10.1.0.0/16]") + &cr("BGPAdvertisement", "a", "{aggregationLength: 20, ipAddressPools: [pool]}"), vec![
            (ADV, "spec.aggregationLength", "in pool \"pool\""),
        ]),
        c("crd: localPref conflict", cr("IPAddressPool", "pool", "addresses: [10.0.0.0/24]") + &cr("BGPAdvertisement", "x", "localPref: 100") + &cr("BGPAdvertisement", "a", "localPref: 200"), vec![(ADV, "spec.localPref", "local preference 200 conflicts with 100 of BGPAdvertisement metallb-system/x for pool \"pool\"")]),
        c("crd: localPref conflicts only where ads overlap", [
            cr("IPAddressPool", "pool", "addresses: [10.0.0.0/24, \"fc00::/120\"]"),
            cr("BGPAdvertisement", "x", "{localPref: 100, peers: [p0]}"),
            // disjoint peers: different sessions
            cr("BGPAdvertisement", "y", "{localPref: 200, peers: [p1]}"),
            // disjoint node selectors: judged at announce time
            cr("BGPAdvertisement", "n1", "{localPref: 400, nodeSelectors: [{matchLabels: {r: a}}], peers: [p3]}"),
            cr("BGPAdvertisement", "n2", "{localPref: 500, nodeSelectors: [{matchLabels: {r: b}}], peers: [p3]}"),
            // service selectors: judged at announce time
            cr("BGPAdvertisement", "s", "{localPref: 600, serviceSelectors: [{matchLabels: {a: b}}]}"),
            // both aggregation lengths differ: different prefixes
            cr("BGPAdvertisement", "g", "{localPref: 700, aggregationLength: 25, aggregationLengthV6: 121}"),
            // only the IPv4 length differs on a dual-stack pool, same peer as y: conflict
            cr("BGPAdvertisement", "a", "{localPref: 800, aggregationLength: 26, peers: [p1]}"),
        ].concat(), vec![(ADV, "spec.localPref", "local preference 800 conflicts with 200 of BGPAdvertisement metallb-system/y")]),
        c("crd: ad list duplicates", cr("BGPAdvertisement", "a", "{ipAddressPools: [p, p], peers: [x, x], communities: [\"1:1\", \"1:1\"]}"), vec![
            (ADV, "spec.ipAddressPools[1]", "duplicate pool \"p\""),
            (ADV, "spec.peers[1]", "duplicate peer \"x\""),
            (ADV, "spec.communities[1]", "duplicate community \"1:1\""),
        ]),
        c("crd: unknown alias and bad large community", cr("BGPAdvertisement", "a", "communities: [gold, \"large:1:2:-3\"]"), vec![
            (ADV, "spec.communities[0]", "\"gold\" is neither a community value (A:B or large:G:L1:L2) nor a defined alias"),
            (ADV, "spec.communities[1]", "\"-3\" is not a number"),
        ]),
        c("crd: duplicate advertisement names", cr("BGPAdvertisement", "a", "") + &cr("BGPAdvertisement", "a", "localPref: 5"), vec![(ADV, "metadata.name", "duplicate advertisement name \"a\"")]),
        c("crd: duplicate pool names", cr("IPAddressPool", "pool", "addresses: [10.0.0.0/24]") + &cr("IPAddressPool", "pool", "addresses: [10.1.0.0/24]"), vec![(POOL, "metadata.name", "duplicate pool name \"pool\"")]),
        // ---- Community, BFDProfile
        c("crd: community aliases", cr("Community", "c1", "communities: [{name: gold, value: \"1:1\"}, {value: \"1:2\"}, {name: bad, value: \"1\"}, {name: none}]") + &cr("Community", "c2", "communities: [{name: gold, value: \"1:3\"}]"), vec![
            ("Community metallb-system/c1", "spec.communities[1].name", "required"),
            ("Community metallb-system/c1", "spec.communities[2].value", "invalid community \"1\""),
            ("Community metallb-system/c1", "spec.communities[3].value", "required"),
            ("Community metallb-system/c2", "spec.communities[0].name", "duplicate community alias \"gold\" (also defined by Community metallb-system/c1)"),
        ]),
        c("crd: BFD ranges", cr("BFDProfile", "b", "{detectMultiplier: 256, minimumTtl: 0}"), vec![
            ("BFDProfile metallb-system/b", "spec.detectMultiplier", "out of range 2..255"),
            ("BFDProfile metallb-system/b", "spec.minimumTtl", "out of range 1..254"),
        ]),
        c("crd: BFD unknown field", cr("BFDProfile", "b", "minimumTTL: 10"), vec![("BFDProfile metallb-system/b", "spec.minimumTTL", "unknown field `minimumTTL`")]),
        // ---- envelopes
        c("crd: missing name", "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {namespace: metallb-system}\nspec: {addresses: [10.0.0.0/24]}\n".into(), vec![("IPAddressPool (document 1)", "metadata.name", "required")]),
        c("crd: unsupported version", cr_v("IPAddressPool", "v1beta2", "pool", "addresses: [10.0.0.0/24]"), vec![(POOL, "apiVersion", "expected metallb.io/v1beta1")]),
        c("crd: unknown kind", cr("BGPPeers", "x", ""), vec![("BGPPeers metallb-system/x", "kind", "unknown metallb.io kind")]),
        c("crd: removed AddressPool", cr("AddressPool", "x", "{protocol: bgp, addresses: [10.0.0.0/24]}"), vec![("AddressPool metallb-system/x", "kind", "removed in MetalLB v0.14")]),
        c("crd: top-level field", cr("IPAddressPool", "pool", "addresses: [10.0.0.0/24]") + "addresses: [10.1.0.0/24]\n", vec![(POOL, "addresses", "unknown top-level field")]),
        c("crd: spec not a mapping", cr("IPAddressPool", "pool", "") + "spec: [1]\n", vec![(POOL, "spec", "invalid type: sequence")]),
        c("crd: non-string label", "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: pool, namespace: metallb-system, labels: {a: [b]}}\nspec: {addresses: [10.0.0.0/24]}\n".into(), vec![(POOL, "metadata.labels", "must map a string to a string")]),
        c("document without kind", "foo: bar\n".into(), vec![("document 1", "kind", "missing")]),
        c("YAML syntax error", "a: [\n".into(), vec![("document 1", "-", "invalid YAML")]),
    ]
}

#[test]
fn broken_configurations_report_exact_errors() {
    let mut failures = Vec::new();
    let all = cases();
    for case in &all {
        let errs = match load_str(&case.yaml) {
            Ok(_) => {
                failures.push(format!("{}: loaded without error", case.name));
                continue;
            }
            Err(e) => e.0,
        };
        let matches = |e: &ConfigError, (o, f, r): &(&str, &str, &str)| {
            e.object == *o && e.field == *f && e.reason.contains(r)
        };
        for w in &case.want {
            if !errs.iter().any(|e| matches(e, w)) {
                failures.push(format!("{}: missing {w:?}; got {errs:#?}", case.name));
            }
        }
        for e in &errs {
            if !case.want.iter().any(|w| matches(e, w)) {
                failures.push(format!("{}: unexpected {e:?}", case.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(all.len() >= 90, "{}", all.len());
}

#[test]
fn errors_display_object_field_reason() {
    let e = load_str(&cm(&legacy_peer("hold-time: 1s"))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "1 configuration error(s): ConfigMap metallb-system/config peers[0]: hold-time: \
         hold time 1s must be 0 or at least 3s"
    );
}

// ---------------------------------------------------------------------------
// Robustness: mangled configurations never panic, and errors are well formed.

mod mangled {
    use super::*;
    use proptest::prelude::*;

    fn corpus() -> Vec<String> {
        let mut v = vec![
            std::fs::read_to_string(Path::new(FIXTURES).join("crds-complete.yaml")).unwrap(),
            std::fs::read_to_string(Path::new(FIXTURES).join("seed-configmap.yaml")).unwrap(),
        ];
        v.push(cm("
            peers:
            - {peer-address: 10.0.0.1, peer-asn: 1, my-asn: 2, hold-time: 1m30s, keepalive-time: 30s}
            address-pools:
            - name: p
              protocol: bgp
              addresses: [10.0.0.0/24, 10.1.0.1-10.1.0.9, \"fc00::/120\"]
              bgp-advertisements:
              - {aggregation-length: 32, localpref: 10, communities: [\"1:1\", a]}
            bgp-communities: {a: \"large:1:2:3\"}
            bfd-profiles:
            - {name: b, echo-mode: true}
        "));
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn never_panics(doc in 0usize..3, edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, any::<char>()), 1..6)) {
            let mut text: Vec<char> = corpus()[doc].chars().collect();
            for (at, op, c) in edits {
                if text.is_empty() { break; }
                let i = at.index(text.len());
                match op {
                    0 => { text.remove(i); }
                    1 => text.insert(i, c),
                    2 => text[i] = c,
                    _ => {
                        // Swap in a character that is meaningful to YAML.
                        text[i] = [':', '-', ' ', '\n', '[', '{', '"', '0', '9', '.', '/'][usize::from(u8::try_from(u32::from(c) % 11).unwrap())];
                    }
                }
            }
            let text: String = text.into_iter().collect();
            if let Err(e) = load_str(&text) {
                prop_assert!(!e.0.is_empty());
                for err in &e.0 {
                    prop_assert!(!err.object.is_empty() && !err.field.is_empty() && !err.reason.is_empty(), "{err:?}");
                }
            }
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
            let _ = load_str(&s);
        }
    }
}
