//! Kubernetes I/O: everything that talks to the API server.
//!
//! The decisions (configuration, allocation, announcements) are pure
//! functions elsewhere in the crate; this module feeds them and writes their
//! results back:
//!
//! - [`Reflectors`]: kube-runtime reflectors for Services, EndpointSlices,
//!   Nodes, Namespaces, the MetalLB namespace's Secrets and `config`
//!   ConfigMap and the `metallb.io` configuration resources (read as
//!   [`kube::api::DynamicObject`]s). Level-triggered: one generation counter
//!   is bumped after any store change and the consumer rebuilds a whole
//!   [`Snapshot`]; no snapshot is handed out before every reflector has
//!   completed its initial list, so nothing is withdrawn at startup because
//!   a store was still empty.
//! - [`Snapshot`]: the object lists, turned into a [`crate::world::World`]
//!   and into the configuration text [`crate::config::load_str`] takes.
//! - [`ServiceWriter`]: Service `status.loadBalancer.ingress`, the
//!   `metallb.io/ip-allocated-from-pool` annotation and Events.
//! - [`StatusPublisher`]: `ServiceBGPStatus` (metallb.io/v1beta1) and
//!   `BGPSessionState` (bgp-k8s.io/v1alpha1) objects by server-side apply,
//!   stale ones deleted.
//! - [`LeaderElector`]: leader election over a coordination.k8s.io/v1
//!   Lease, for the controller role.
//!
//! # Running the roles
//!
//! Controller (allocates and writes Service status):
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use k8s_adapter::kube_io::{LeaseConfig, LeaderElector, Reflectors, ServiceWriter, WatchOptions};
//! let client = kube::Client::try_default().await?;
//! let ns = "metallb-system";
//! let leader = LeaderElector::new(client.clone(), LeaseConfig::new(ns, "bgp-k8s-controller", "pod-a"))
//!     .spawn();
//! let reflectors = Reflectors::start(client.clone(), &WatchOptions::controller(ns));
//! let writer = ServiceWriter::new(client.clone(), "metallb-controller", Some("pod-a".into()));
//! let mut changes = reflectors.subscribe();
//! let mut leadership = leader.subscribe();
//! reflectors.wait_until_ready().await;
//! loop {
//!     if leader.is_leader() {
//!         if let Some(snapshot) = reflectors.snapshot() {
//!             let _config = snapshot.load_config();
//!             // allocate, then writer.write_outcome(...) for each service
//!         }
//!     }
//!     tokio::select! {
//!         r = changes.changed() => if r.is_err() { break },
//!         _ = leadership.changed() => {}
//!     }
//! }
//! leader.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Speaker: [`WatchOptions::speaker`], the same loop without the lease,
//! feeding the plan to the BGP speaker and [`StatusPublisher`] with what it
//! announces.

mod bgp_status;
mod leader;
mod reflect;
mod resources;
mod snapshot;
mod writes;

pub use bgp_status::{
    NODE_LABEL, SERVICE_NAME_LABEL, SERVICE_NAMESPACE_LABEL, SESSION_NODE_LABEL,
    SESSION_PEER_LABEL, SessionState, StatusPublisher, SyncReport, service_bgp_status_name,
    service_peers, session_state_name,
};
pub use leader::{LeaderElector, LeaderHandle, LeaseConfig};
pub use reflect::{BackoffConfig, Reflectors, WatchOptions};
pub use resources::{
    ConfigKind, METALLB_CONFIG_KINDS, bgp_session_state_resource, metallb_resource,
    service_bgp_status_resource,
};
pub use snapshot::{PasswordError, Snapshot};
pub use writes::{ServiceWriter, ingress_ips};

/// The annotation naming the pool a Service's IPs came from.
pub const POOL_ANNOTATION: &str = "metallb.io/ip-allocated-from-pool";

/// Name of the legacy MetalLB ConfigMap.
pub const CONFIG_MAP_NAME: &str = "config";

/// The namespace MetalLB runs in by default.
pub const DEFAULT_NAMESPACE: &str = "metallb-system";

/// The field manager of every server-side apply.
pub const FIELD_MANAGER: &str = "bgp-k8s";

/// A failed API call or a request that could not be built.
#[derive(Debug, thiserror::Error)]
pub enum KubeIoError {
    /// The API server refused the request or could not be reached.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// An object could not be serialised.
    #[error("serialising {what}: {source}")]
    Serialize {
        /// What was being serialised.
        what: &'static str,
        /// The error.
        source: serde_json::Error,
    },
}

/// Whether an API error is a 404 Not Found.
pub(crate) fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// Whether an API error is a 409 Conflict (or AlreadyExists).
pub(crate) fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}
