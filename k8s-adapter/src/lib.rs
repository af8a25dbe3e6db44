//! # k8s-adapter
//!
//! The Kubernetes side of the project: MetalLB-compatible configuration,
//! LoadBalancer IP allocation and the per-node announcement plan, kept as
//! pure functions over plain data; the binary (`main.rs`) adds the kube-rs
//! I/O, standalone mode, metrics and health endpoints.
//!
//! Everything but [`config`] and [`selector`] needs the default `runtime`
//! feature; without it the crate is only the kube-free configuration loader
//! (the fuzz targets build it that way).

#[cfg(feature = "runtime")]
pub mod allocate;
#[cfg(feature = "runtime")]
pub mod announce;
#[cfg(feature = "runtime")]
pub mod announcer;
pub mod config;
#[cfg(feature = "runtime")]
pub mod http;
#[cfg(feature = "runtime")]
pub mod incremental;
#[cfg(feature = "runtime")]
pub mod kube_io;
#[cfg(feature = "runtime")]
pub mod metrics;
#[cfg(feature = "runtime")]
pub mod objects;
#[cfg(feature = "runtime")]
pub mod plan;
pub mod selector;
#[cfg(feature = "runtime")]
pub mod speaker_role;
#[cfg(feature = "runtime")]
pub mod standalone;
#[cfg(feature = "runtime")]
pub mod world;
