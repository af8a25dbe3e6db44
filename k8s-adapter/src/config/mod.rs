//! MetalLB configuration: the legacy ConfigMap and the `metallb.io` CRDs,
//! parsed into one validated [`Config`].

mod model;

pub use model::{
    Advertisement, BfdProfile, CommunityValue, Config, PasswordSource, Peer, PeerAsn, Pool,
    ServiceAllocation, Source,
};
