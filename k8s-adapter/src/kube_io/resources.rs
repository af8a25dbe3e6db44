//! The custom resources this adapter reads and writes, described as
//! [`ApiResource`]s (no CRD types are derived).

use kube::api::{ApiResource, GroupVersionKind};

/// One `metallb.io` configuration kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigKind {
    /// Kind, e.g. `BGPPeer`.
    pub kind: &'static str,
    /// Version watched, e.g. `v1beta2`.
    pub version: &'static str,
    /// Plural resource name, e.g. `bgppeers`.
    pub plural: &'static str,
}

/// The `metallb.io` kinds carrying BGP configuration, in the versions
/// watched.
pub const METALLB_CONFIG_KINDS: [ConfigKind; 5] = [
    ConfigKind {
        kind: "IPAddressPool",
        version: "v1beta1",
        plural: "ipaddresspools",
    },
    ConfigKind {
        kind: "BGPPeer",
        version: "v1beta2",
        plural: "bgppeers",
    },
    ConfigKind {
        kind: "BGPAdvertisement",
        version: "v1beta1",
        plural: "bgpadvertisements",
    },
    ConfigKind {
        kind: "Community",
        version: "v1beta1",
        plural: "communities",
    },
    ConfigKind {
        kind: "BFDProfile",
        version: "v1beta1",
        plural: "bfdprofiles",
    },
];

/// The [`ApiResource`] of a `metallb.io` configuration kind.
pub fn metallb_resource(kind: &ConfigKind) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metallb.io", kind.version, kind.kind),
        kind.plural,
    )
}

/// `servicebgpstatuses.metallb.io/v1beta1`, kind `ServiceBGPStatus`.
pub fn service_bgp_status_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metallb.io", "v1beta1", "ServiceBGPStatus"),
        "servicebgpstatuses",
    )
}

/// `bgpsessionstates.bgp-k8s.io/v1alpha1`, kind `BGPSessionState`.
pub fn bgp_session_state_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("bgp-k8s.io", "v1alpha1", "BGPSessionState"),
        "bgpsessionstates",
    )
}
