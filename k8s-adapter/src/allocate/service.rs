//! What the allocator reads from a Service: families, requested IPs, pool
//! annotation, sharing and backend keys, ports.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Service, ServiceSpec};

use crate::world::annotations;

/// `metallb.io/address-pool`.
pub const ANNOTATION_ADDRESS_POOL: &str = "metallb.io/address-pool";
/// Deprecated `metallb.universe.tf/address-pool`.
pub const DEPRECATED_ANNOTATION_ADDRESS_POOL: &str = "metallb.universe.tf/address-pool";
/// `metallb.io/loadBalancerIPs`.
pub const ANNOTATION_LOAD_BALANCER_IPS: &str = "metallb.io/loadBalancerIPs";
/// Deprecated `metallb.universe.tf/loadBalancerIPs`.
pub const DEPRECATED_ANNOTATION_LOAD_BALANCER_IPS: &str = "metallb.universe.tf/loadBalancerIPs";
/// `metallb.io/allow-shared-ip`.
pub const ANNOTATION_ALLOW_SHARED_IP: &str = "metallb.io/allow-shared-ip";
/// Deprecated `metallb.universe.tf/allow-shared-ip`.
pub const DEPRECATED_ANNOTATION_ALLOW_SHARED_IP: &str = "metallb.universe.tf/allow-shared-ip";
/// `metallb.io/ip-allocated-from-pool`, written by the controller.
pub const ANNOTATION_IP_ALLOCATED_FROM_POOL: &str = "metallb.io/ip-allocated-from-pool";
/// Prefix of MetalLB's deprecated annotations.
pub const DEPRECATED_ANNOTATION_PREFIX: &str = "metallb.universe.tf/";

/// An address family, or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
    /// Both.
    Dual,
}

impl Family {
    /// The family of one address.
    pub fn of(ip: IpAddr) -> Self {
        if ip.is_ipv4() { Self::V4 } else { Self::V6 }
    }

    /// The family of a set of addresses: one address, or two of different
    /// families (MetalLB's `ipfamily.ForAddresses`).
    pub fn of_all(ips: &[IpAddr]) -> Result<Self, String> {
        match ips {
            [a] => Ok(Self::of(*a)),
            [a, b] if Self::of(*a) != Self::of(*b) => Ok(Self::Dual),
            [_, _] => Err(format!("same address family {}", quoted(ips))),
            _ => Err(format!("invalid number of addresses {}", quoted(ips))),
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::V4 => "ipv4",
            Self::V6 => "ipv6",
            Self::Dual => "dual",
        })
    }
}

/// `spec.ipFamilyPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyPolicy {
    /// `SingleStack` (the default).
    SingleStack,
    /// `PreferDualStack`.
    PreferDualStack,
    /// `RequireDualStack`.
    RequireDualStack,
}

/// One (protocol, port) pair of a Service, for sharing conflict checks.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port {
    /// `TCP`, `UDP` or `SCTP`.
    pub proto: String,
    /// Port number.
    pub port: i32,
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.proto, self.port)
    }
}

/// Go's `%q` of a list of IPs: `["192.0.2.1" "2001:db8::1"]`.
pub fn quoted(ips: &[IpAddr]) -> String {
    let parts: Vec<String> = ips.iter().map(|ip| format!("\"{ip}\"")).collect();
    format!("[{}]", parts.join(" "))
}

fn spec(svc: &Service) -> Option<&ServiceSpec> {
    svc.spec.as_ref()
}

/// MetalLB's `valueForAnnotation`: the stable annotation when present (even
/// if empty), else the deprecated one, else "".
pub fn annotation_value<'a>(svc: &'a Service, stable: &str, deprecated: &str) -> &'a str {
    let a = annotations(&svc.metadata);
    a.get(stable)
        .or_else(|| a.get(deprecated))
        .map_or("", String::as_str)
}

/// The service's family from its cluster IPs (`spec.clusterIPs`, else
/// `spec.clusterIP`).
pub fn cluster_family(svc: &Service) -> Result<Family, String> {
    let s = spec(svc);
    let ips: Vec<&str> = match s.and_then(|s| s.cluster_ips.as_ref()) {
        Some(v) if !v.is_empty() => v.iter().map(String::as_str).collect(),
        _ => s
            .and_then(|s| s.cluster_ip.as_deref())
            .into_iter()
            .collect(),
    };
    let parsed: Vec<IpAddr> = ips
        .iter()
        .map(|s| {
            s.trim()
                .parse()
                .map_err(|_| format!("invalid cluster IP {s:?}"))
        })
        .collect::<Result<_, _>>()?;
    Family::of_all(&parsed)
}

/// Whether the service has any cluster IP set.
pub fn has_cluster_ips(svc: &Service) -> bool {
    spec(svc).is_some_and(|s| {
        s.cluster_ips.as_ref().is_some_and(|v| !v.is_empty())
            || s.cluster_ip.as_ref().is_some_and(|v| !v.is_empty())
    })
}

/// `spec.ipFamilyPolicy` (SingleStack when unset or unknown).
pub fn family_policy(svc: &Service) -> FamilyPolicy {
    match spec(svc).and_then(|s| s.ip_family_policy.as_deref()) {
        Some("PreferDualStack") => FamilyPolicy::PreferDualStack,
        Some("RequireDualStack") => FamilyPolicy::RequireDualStack,
        _ => FamilyPolicy::SingleStack,
    }
}

/// The preferred family for dual-stack decisions: `spec.ipFamilies[0]`,
/// IPv4 by default.
pub fn primary_family(svc: &Service) -> Family {
    match spec(svc)
        .and_then(|s| s.ip_families.as_ref())
        .and_then(|f| f.first())
        .map(String::as_str)
    {
        Some("IPv6") => Family::V6,
        _ => Family::V4,
    }
}

/// The IPs the user asked for (`metallb.io/loadBalancerIPs` or
/// `spec.loadBalancerIP`), with their family; `None` when none requested.
pub fn desired_ips(svc: &Service) -> Result<Option<(Vec<IpAddr>, Family)>, String> {
    let ann = annotation_value(
        svc,
        ANNOTATION_LOAD_BALANCER_IPS,
        DEPRECATED_ANNOTATION_LOAD_BALANCER_IPS,
    );
    let spec_ip = spec(svc)
        .and_then(|s| s.load_balancer_ip.as_deref())
        .unwrap_or("");
    match (ann.is_empty(), spec_ip.is_empty()) {
        (true, true) => Ok(None),
        (false, false) => Err(format!(
            "service can not have both {ANNOTATION_LOAD_BALANCER_IPS} and svc.Spec.LoadBalancerIP"
        )),
        (false, true) => {
            let ips: Vec<IpAddr> = ann
                .split(',')
                .map(|s| {
                    s.trim()
                        .parse()
                        .map_err(|_| format!("invalid {ANNOTATION_LOAD_BALANCER_IPS}: {ann:?}"))
                })
                .collect::<Result<_, _>>()?;
            let fam = Family::of_all(&ips)?;
            Ok(Some((ips, fam)))
        }
        (true, false) => {
            let ip: IpAddr = spec_ip
                .parse()
                .map_err(|_| format!("invalid spec.loadBalancerIP {spec_ip:?}"))?;
            Ok(Some((vec![ip], Family::of(ip))))
        }
    }
}

/// The pool requested by annotation ("" when none).
pub fn desired_pool(svc: &Service) -> &str {
    annotation_value(
        svc,
        ANNOTATION_ADDRESS_POOL,
        DEPRECATED_ANNOTATION_ADDRESS_POOL,
    )
}

/// The sharing key (`metallb.io/allow-shared-ip`), "" when unset.
pub fn sharing_key(svc: &Service) -> &str {
    annotation_value(
        svc,
        ANNOTATION_ALLOW_SHARED_IP,
        DEPRECATED_ANNOTATION_ALLOW_SHARED_IP,
    )
}

/// Whether `spec.externalTrafficPolicy` is `Local`.
pub fn is_local(svc: &Service) -> bool {
    spec(svc).and_then(|s| s.external_traffic_policy.as_deref()) == Some("Local")
}

/// The backend key: for `externalTrafficPolicy: Local` the pod selector as
/// `k1=v1,k2=v2` (keys sorted), else "" — so Local services share only with
/// Local services selecting the same pods.
pub fn backend_key(svc: &Service) -> String {
    if !is_local(svc) {
        return String::new();
    }
    let empty = BTreeMap::new();
    let sel = spec(svc)
        .and_then(|s| s.selector.as_ref())
        .unwrap_or(&empty);
    sel.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The service's (protocol, port) pairs; protocol defaults to TCP.
pub fn ports(svc: &Service) -> Vec<Port> {
    spec(svc)
        .and_then(|s| s.ports.as_ref())
        .into_iter()
        .flatten()
        .map(|p| Port {
            proto: p.protocol.clone().unwrap_or_else(|| "TCP".to_owned()),
            port: p.port,
        })
        .collect()
}

/// The IPs in `status.loadBalancer.ingress[].ip`; unparsable entries are
/// returned as errors.
pub fn ingress_ips(svc: &Service) -> Result<Vec<IpAddr>, String> {
    svc.status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.as_deref().filter(|s| !s.is_empty()))
        .map(|s| {
            s.parse()
                .map_err(|_| format!("invalid LoadBalancer IP {s:?}"))
        })
        .collect()
}

/// The deprecated `metallb.universe.tf/*` annotations the service carries.
pub fn deprecated_annotations(svc: &Service) -> Vec<&str> {
    annotations(&svc.metadata)
        .keys()
        .filter(|k| k.starts_with(DEPRECATED_ANNOTATION_PREFIX))
        .map(String::as_str)
        .collect()
}
