//! The normalized configuration: what the legacy ConfigMap and the
//! `metallb.io` CRDs both turn into, with MetalLB's defaults applied and
//! validation done. Everything downstream (allocation, announcement) reads
//! only this.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bgp_proto::attribute::{Community, LargeCommunity};
use ipnet::IpNet;

use crate::selector::LabelSelector;

/// Where a configuration came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The legacy `config` ConfigMap (MetalLB ≤ 0.12).
    ConfigMap,
    /// `metallb.io` custom resources.
    Crds,
}

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where it came from.
    pub source: Source,
    /// Address pools by name: every pool, since pools allocate independently
    /// of how they are announced (ConfigMap `protocol: layer2` pools and
    /// IPAddressPools no BGPAdvertisement selects are here too; they simply
    /// have no advertisement).
    pub pools: BTreeMap<String, Pool>,
    /// BGP peers by name (ConfigMap peers get generated names `peer-<index>`,
    /// counting from 0 in `peers` order).
    pub peers: BTreeMap<String, Peer>,
    /// BGP advertisements in declaration order. A ConfigMap `protocol: bgp`
    /// pool's `bgp-advertisements` become advertisements named
    /// `<pool>-adv-<index>` that select that pool only (one default
    /// advertisement, `<pool>-adv-0`, when the list is absent or empty).
    pub advertisements: Vec<Advertisement>,
    /// Community aliases (ConfigMap `bgp-communities`, Community CRs).
    pub communities: BTreeMap<String, CommunityValue>,
    /// BFD profiles by name (accepted and validated; BFD itself is future work).
    pub bfd_profiles: BTreeMap<String, BfdProfile>,
}

/// An address pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pool {
    /// Name.
    pub name: String,
    /// Address blocks, ranges already summarised into CIDRs, in declaration order.
    pub cidrs: Vec<IpNet>,
    /// Used for automatic assignment (`autoAssign`, default true).
    pub auto_assign: bool,
    /// Skip IPv4 addresses ending in .0 and .255.
    pub avoid_buggy_ips: bool,
    /// `serviceAllocation`, when present.
    pub allocation: Option<ServiceAllocation>,
    /// The pool object's labels (for `ipAddressPoolSelectors`).
    pub labels: BTreeMap<String, String>,
}

/// `IPAddressPool.spec.serviceAllocation`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceAllocation {
    /// Lower is preferred; 0 means no priority (sorted last).
    pub priority: i32,
    /// Namespaces by name.
    pub namespaces: Vec<String>,
    /// Namespaces by labels.
    pub namespace_selectors: Vec<LabelSelector>,
    /// Services by labels.
    pub service_selectors: Vec<LabelSelector>,
}

/// The peer's AS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerAsn {
    /// A fixed AS.
    Asn(u32),
    /// Same as ours (`dynamicASN: internal`).
    Internal,
    /// Different from ours (`dynamicASN: external`).
    External,
}

/// Where a peer's MD5 password comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// Inline `password` (never printed).
    Inline(String),
    /// `passwordSecret`: a `kubernetes.io/basic-auth` Secret with key `password`.
    Secret {
        /// Secret name.
        name: String,
        /// Secret namespace (MetalLB's namespace when omitted).
        namespace: Option<String>,
    },
}

impl std::fmt::Debug for PasswordSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Inline(_) => f.write_str("Inline(<redacted>)"),
            Self::Secret { name, namespace } => {
                write!(f, "Secret {{ name: {name:?}, namespace: {namespace:?} }}")
            }
        }
    }
}

/// A BGP peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// Name (BGPPeer `metadata.name`, or `peer-<index>` from the ConfigMap).
    pub name: String,
    /// Our AS.
    pub my_asn: u32,
    /// The peer's AS.
    pub peer_asn: PeerAsn,
    /// The peer's address.
    pub address: IpAddr,
    /// The peer's port (179).
    pub port: u16,
    /// Source address to bind.
    pub source_address: Option<IpAddr>,
    /// Hold time (90 s default; 0 or ≥ 3 s).
    pub hold_time: Duration,
    /// Keepalive (hold/3 when unset).
    pub keepalive_time: Option<Duration>,
    /// Connect retry time.
    pub connect_time: Option<Duration>,
    /// Router id; the node's IPv4 address when unset.
    pub router_id: Option<Ipv4Addr>,
    /// Nodes that peer (empty = all), OR-ed.
    pub node_selectors: Vec<LabelSelector>,
    /// MD5 password.
    pub password: Option<PasswordSource>,
    /// BFD profile name (validated to exist).
    pub bfd_profile: Option<String>,
    /// Graceful restart (RFC 4724).
    pub graceful_restart: bool,
    /// eBGP multihop (TTL 255 instead of 1).
    pub ebgp_multihop: bool,
    /// VRF (accepted; peering happens in the default VRF).
    pub vrf: Option<String>,
}

/// A community value: standard (RFC 1997) or large (RFC 8092).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CommunityValue {
    /// `A:B`.
    Standard(Community),
    /// `large:G:L1:L2`.
    Large(LargeCommunity),
}

/// A BGP advertisement: how and to whom a pool's IPs are announced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advertisement {
    /// Name (BGPAdvertisement `metadata.name`, or `<pool>-adv-<index>`).
    pub name: String,
    /// IPv4 aggregation length (32 default).
    pub aggregation_length: u8,
    /// IPv6 aggregation length (128 default).
    pub aggregation_length_v6: u8,
    /// LOCAL_PREF (iBGP only); `None` when 0/unset.
    pub local_pref: Option<u32>,
    /// Communities, aliases already resolved.
    pub communities: Vec<CommunityValue>,
    /// Pools by name; together with `pool_selectors`, empty means all pools.
    pub pools: Vec<String>,
    /// Pools by labels.
    pub pool_selectors: Vec<LabelSelector>,
    /// Nodes that announce (empty = all), OR-ed.
    pub node_selectors: Vec<LabelSelector>,
    /// Peers by name (empty = all).
    pub peers: Vec<String>,
    /// Services by labels (empty = all), OR-ed.
    pub service_selectors: Vec<LabelSelector>,
}

/// A BFD profile (MetalLB's BFDProfile / `bfd-profiles`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BfdProfile {
    /// Name.
    pub name: String,
    /// Receive interval, ms (10..60000, default 300).
    pub receive_interval: u32,
    /// Transmit interval, ms (10..60000, default 300).
    pub transmit_interval: u32,
    /// Detect multiplier (2..255, default 3).
    pub detect_multiplier: u32,
    /// Echo interval, ms (10..60000, default 50).
    pub echo_interval: u32,
    /// Echo mode.
    pub echo_mode: bool,
    /// Passive mode.
    pub passive_mode: bool,
    /// Minimum TTL (1..254, default 254).
    pub minimum_ttl: u32,
}

impl Advertisement {
    /// Whether this advertisement applies to `pool`.
    pub fn selects_pool(&self, pool: &Pool) -> bool {
        (self.pools.is_empty() && self.pool_selectors.is_empty())
            || self.pools.contains(&pool.name)
            || self.pool_selectors.iter().any(|s| s.matches(&pool.labels))
    }
}
