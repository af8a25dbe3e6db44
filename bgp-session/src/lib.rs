//! # bgp-session
//!
//! The sans-IO BGP session state machine and multi-peer speaker. This crate
//! is being built on top of [`bgp_proto`]; see the project README for status.

pub use bgp_proto;
