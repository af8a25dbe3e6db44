//! The configuration as written: serde mirrors of the legacy ConfigMap
//! (kebab-case, strict like MetalLB's `yaml.UnmarshalStrict`) and of the
//! `metallb.io` CRD specs (camelCase, unknown fields rejected like
//! `kubectl apply --validate=strict`). No validation beyond types here.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A boolean the way Kubernetes' and MetalLB's YAML 1.1 parsers read it:
/// `true`/`false` plus `yes`/`no`/`on`/`off`/`y`/`n` in their usual cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bool(pub(crate) bool);

impl<'de> Deserialize<'de> for Bool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Bool;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a boolean (true or false)")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Bool, E> {
                Ok(Bool(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bool, E> {
                match v {
                    "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True"
                    | "TRUE" => Ok(Bool(true)),
                    "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False"
                    | "FALSE" => Ok(Bool(false)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A string, or a bare scalar (`64`, `true`) read as its text, as the YAML
/// 1.1 decoders of MetalLB (legacy fields) and Kubernetes label maps do.
/// A password as written in the configuration: deserialized like `T`,
/// printed by `Debug` as `<redacted>` so no debug output can leak it.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub(crate) struct Secret<T>(pub(crate) T);

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Text(pub(crate) String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
                Ok(Text(String::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// One `matchExpressions` / `match-expressions` entry (same keys in both
/// dialects).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRequirement {
    pub(crate) key: Option<String>,
    pub(crate) operator: Option<String>,
    pub(crate) values: Option<Vec<Text>>,
}

/// A legacy `node-selectors` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct LegacySelector {
    pub(crate) match_labels: Option<BTreeMap<String, Text>>,
    pub(crate) match_expressions: Option<Vec<RawRequirement>>,
}

/// A Kubernetes `metav1.LabelSelector`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct K8sSelector {
    pub(crate) match_labels: Option<BTreeMap<String, Text>>,
    pub(crate) match_expressions: Option<Vec<RawRequirement>>,
}

// ---------------------------------------------------------------------------
// Legacy ConfigMap (MetalLB v0.12 `internal/config/config.go`).

/// `peers[]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct LegacyPeer {
    pub(crate) my_asn: Option<i64>,
    pub(crate) peer_asn: Option<i64>,
    pub(crate) peer_address: Option<Text>,
    pub(crate) source_address: Option<Text>,
    pub(crate) peer_port: Option<i64>,
    pub(crate) hold_time: Option<Text>,
    pub(crate) keepalive_time: Option<Text>,
    pub(crate) router_id: Option<Text>,
    pub(crate) node_selectors: Option<Vec<LegacySelector>>,
    pub(crate) password: Option<Secret<Text>>,
    pub(crate) bfd_profile: Option<Text>,
    pub(crate) ebgp_multihop: Option<Bool>,
}

/// `address-pools[]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct LegacyPool {
    pub(crate) name: Option<Text>,
    pub(crate) protocol: Option<Text>,
    pub(crate) addresses: Option<Vec<Text>>,
    pub(crate) avoid_buggy_ips: Option<Bool>,
    pub(crate) auto_assign: Option<Bool>,
    pub(crate) bgp_advertisements: Option<Vec<LegacyAdvertisement>>,
}

/// `address-pools[].bgp-advertisements[]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct LegacyAdvertisement {
    pub(crate) aggregation_length: Option<i64>,
    pub(crate) aggregation_length_v6: Option<i64>,
    pub(crate) localpref: Option<i64>,
    pub(crate) communities: Option<Vec<Text>>,
}

/// `bfd-profiles[]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct LegacyBfdProfile {
    pub(crate) name: Option<Text>,
    pub(crate) receive_interval: Option<i64>,
    pub(crate) transmit_interval: Option<i64>,
    pub(crate) detect_multiplier: Option<i64>,
    pub(crate) echo_interval: Option<i64>,
    pub(crate) echo_mode: Option<Bool>,
    pub(crate) passive_mode: Option<Bool>,
    pub(crate) minimum_ttl: Option<i64>,
}

// ---------------------------------------------------------------------------
// metallb.io CRD specs.

/// `IPAddressPool.spec` (v1beta1).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct IpAddressPoolSpec {
    pub(crate) addresses: Option<Vec<String>>,
    pub(crate) auto_assign: Option<Bool>,
    #[serde(rename = "avoidBuggyIPs")]
    pub(crate) avoid_buggy_ips: Option<Bool>,
    pub(crate) service_allocation: Option<ServiceAllocationSpec>,
}

/// `IPAddressPool.spec.serviceAllocation`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ServiceAllocationSpec {
    pub(crate) priority: Option<i64>,
    pub(crate) namespaces: Option<Vec<String>>,
    pub(crate) namespace_selectors: Option<Vec<K8sSelector>>,
    pub(crate) service_selectors: Option<Vec<K8sSelector>>,
}

/// A `SecretReference`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretRef {
    pub(crate) name: Option<String>,
    pub(crate) namespace: Option<String>,
}

/// `BGPPeer.spec` (v1beta2, the storage version).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct BgpPeerSpecV2 {
    #[serde(rename = "myASN")]
    pub(crate) my_asn: Option<i64>,
    #[serde(rename = "peerASN")]
    pub(crate) peer_asn: Option<i64>,
    #[serde(rename = "localASN")]
    pub(crate) local_asn: Option<i64>,
    #[serde(rename = "dynamicASN")]
    pub(crate) dynamic_asn: Option<String>,
    pub(crate) peer_address: Option<String>,
    pub(crate) interface: Option<String>,
    pub(crate) source_address: Option<String>,
    pub(crate) peer_port: Option<i64>,
    pub(crate) hold_time: Option<String>,
    pub(crate) keepalive_time: Option<String>,
    pub(crate) connect_time: Option<String>,
    #[serde(rename = "routerID")]
    pub(crate) router_id: Option<String>,
    pub(crate) node_selectors: Option<Vec<K8sSelector>>,
    pub(crate) password: Option<Secret<String>>,
    pub(crate) password_secret: Option<SecretRef>,
    pub(crate) bfd_profile: Option<String>,
    pub(crate) enable_graceful_restart: Option<Bool>,
    pub(crate) ebgp_multi_hop: Option<Bool>,
    pub(crate) vrf: Option<String>,
    #[serde(rename = "disableMP")]
    pub(crate) disable_mp: Option<Bool>,
    pub(crate) dual_stack_address_family: Option<Bool>,
}

/// `BGPPeer.spec` (v1beta1, deprecated): a subset of v1beta2 with the same
/// JSON names.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct BgpPeerSpecV1 {
    #[serde(rename = "myASN")]
    pub(crate) my_asn: Option<i64>,
    #[serde(rename = "peerASN")]
    pub(crate) peer_asn: Option<i64>,
    pub(crate) peer_address: Option<String>,
    pub(crate) source_address: Option<String>,
    pub(crate) peer_port: Option<i64>,
    pub(crate) hold_time: Option<String>,
    pub(crate) keepalive_time: Option<String>,
    #[serde(rename = "routerID")]
    pub(crate) router_id: Option<String>,
    pub(crate) node_selectors: Option<Vec<K8sSelector>>,
    pub(crate) password: Option<Secret<String>>,
    pub(crate) bfd_profile: Option<String>,
    pub(crate) ebgp_multi_hop: Option<Bool>,
}

impl From<BgpPeerSpecV1> for BgpPeerSpecV2 {
    /// MetalLB's `v1beta1.BGPPeer.ConvertTo`: same fields, nothing added.
    fn from(v1: BgpPeerSpecV1) -> Self {
        Self {
            my_asn: v1.my_asn,
            peer_asn: v1.peer_asn,
            peer_address: v1.peer_address,
            source_address: v1.source_address,
            peer_port: v1.peer_port,
            hold_time: v1.hold_time,
            keepalive_time: v1.keepalive_time,
            router_id: v1.router_id,
            node_selectors: v1.node_selectors,
            password: v1.password,
            bfd_profile: v1.bfd_profile,
            ebgp_multi_hop: v1.ebgp_multi_hop,
            ..Self::default()
        }
    }
}

/// `BGPAdvertisement.spec`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct BgpAdvertisementSpec {
    pub(crate) aggregation_length: Option<i64>,
    #[serde(rename = "aggregationLengthV6")]
    pub(crate) aggregation_length_v6: Option<i64>,
    pub(crate) local_pref: Option<i64>,
    pub(crate) communities: Option<Vec<String>>,
    pub(crate) ip_address_pools: Option<Vec<String>>,
    pub(crate) ip_address_pool_selectors: Option<Vec<K8sSelector>>,
    pub(crate) node_selectors: Option<Vec<K8sSelector>>,
    pub(crate) peers: Option<Vec<String>>,
    pub(crate) service_selectors: Option<Vec<K8sSelector>>,
}

/// `Community.spec`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommunitySpec {
    pub(crate) communities: Option<Vec<CommunityAlias>>,
}

/// `Community.spec.communities[]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommunityAlias {
    pub(crate) name: Option<String>,
    pub(crate) value: Option<String>,
}

/// `BFDProfile.spec`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct BfdProfileSpec {
    pub(crate) receive_interval: Option<i64>,
    pub(crate) transmit_interval: Option<i64>,
    pub(crate) detect_multiplier: Option<i64>,
    pub(crate) echo_interval: Option<i64>,
    pub(crate) echo_mode: Option<Bool>,
    pub(crate) passive_mode: Option<Bool>,
    pub(crate) minimum_ttl: Option<i64>,
}

#[cfg(test)]
mod secret_tests {
    use super::*;

    /// The raw configuration structs never print a password.
    #[test]
    fn raw_passwords_are_redacted_in_debug() {
        let legacy: LegacyPeer =
            serde_norway::from_str("peer-address: 192.0.2.1\npassword: hunter2-legacy\n").unwrap();
        let crd: BgpPeerSpecV2 =
            serde_json::from_str(r#"{"peerAddress": "192.0.2.1", "password": "hunter2-crd"}"#)
                .unwrap();
        let out = format!("{legacy:?} {crd:?}");
        assert!(!out.contains("hunter2"), "{out}");
        assert!(out.contains("<redacted>"), "{out}");
        assert_eq!(
            legacy.password.map(|p| p.0.0).as_deref(),
            Some("hunter2-legacy")
        );
    }
}
