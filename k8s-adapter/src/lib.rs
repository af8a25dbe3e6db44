//! # k8s-adapter
//!
//! The Kubernetes side of the project: MetalLB-compatible configuration,
//! LoadBalancer IP allocation and the per-node announcement plan, kept as
//! pure functions over plain data; the binary (`main.rs`) adds the kube-rs
//! I/O, standalone mode, metrics and health endpoints.

pub mod allocate;
pub mod announce;
pub mod announcer;
pub mod config;
pub mod http;
pub mod incremental;
pub mod kube_io;
pub mod metrics;
pub mod objects;
pub mod plan;
pub mod selector;
pub mod speaker_role;
pub mod standalone;
pub mod world;
