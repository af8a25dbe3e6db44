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
//! Controller (leader-elected; allocates and writes Service status):
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use k8s_adapter::kube_io::{ControllerOptions, run_controller};
//! let client = kube::Client::try_default().await?;
//! let pod = std::env::var("POD_NAME")?;
//! let options = ControllerOptions::new("metallb-system", &pod);
//! run_controller(client, options, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await;
//! # Ok(()) }
//! ```
//!
//! Speaker (every node; no lease): the same level-triggered loop over
//! [`WatchOptions::speaker`], feeding the plan to the BGP speaker and what
//! it announces to [`StatusPublisher`]:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use k8s_adapter::kube_io::{Reflectors, StatusPublisher, WatchOptions, service_peers};
//! use k8s_adapter::plan::{PlanOptions, plan};
//! let client = kube::Client::try_default().await?;
//! let (ns, node) = ("metallb-system", std::env::var("METALLB_NODE_NAME")?);
//! let reflectors = Reflectors::start(client.clone(), &WatchOptions::speaker(ns));
//! let publisher = StatusPublisher::new(client, ns, &node);
//! let mut changes = reflectors.subscribe();
//! reflectors.wait_until_ready().await;
//! loop {
//!     changes.borrow_and_update();
//!     if let Some(snapshot) = reflectors.snapshot() {
//!         if let Ok(config) = snapshot.load_config() {
//!             let opts = PlanOptions { speaker_only: true, ..PlanOptions::default() };
//!             let p = plan(&config, &snapshot.world(), &node, &opts);
//!             // speaker.set_routes(p.announcements.route_table(&config)) ...;
//!             // peer passwords: snapshot.password(source)
//!             publisher.sync_service_statuses(&service_peers(&p.announcements)).await?;
//!         }
//!     }
//!     if changes.changed().await.is_err() {
//!         break;
//!     }
//! }
//! # Ok(()) }
//! ```

mod bgp_status;
mod controller;
mod leader;
mod reflect;
mod resources;
mod snapshot;
mod writes;

pub use bgp_status::{
    DEFAULT_RESYNC, NODE_LABEL, SERVICE_NAME_LABEL, SERVICE_NAMESPACE_LABEL, SESSION_NODE_LABEL,
    SESSION_PEER_LABEL, SessionState, StatusPublisher, SyncReport, service_bgp_status_name,
    service_peers, session_state_name,
};
pub use controller::{ControllerOptions, ControllerState, reconcile_services, run_controller};
pub use leader::{LeaderElector, LeaderHandle, LeaseConfig};
pub use reflect::{BackoffConfig, Changes, MAX_TRACKED_CHANGES, Reflectors, WatchOptions};
pub use resources::{
    ConfigKind, METALLB_CONFIG_KINDS, bgp_session_state_resource, metallb_resource,
    service_bgp_status_resource,
};
pub use snapshot::{PasswordError, Snapshot};
pub use writes::{ServiceWriter, ingress_ips, pool_status};

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
