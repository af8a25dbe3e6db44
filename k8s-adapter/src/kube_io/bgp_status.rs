//! Per-node status objects: MetalLB's `ServiceBGPStatus` (one per
//! announced service) and this project's `BGPSessionState` (one per peer),
//! written by server-side apply; objects of the node that are no longer
//! wanted are deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bgp_session::{PeerStatus, State as FsmState};

use kube::Client;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;
use tracing::debug;

use super::resources::{bgp_session_state_resource, service_bgp_status_resource};
use super::{FIELD_MANAGER, KubeIoError, is_not_found};
use crate::announce::NodeAnnouncements;
use crate::world::ObjectKey;

/// Label naming the node of a `ServiceBGPStatus`.
pub const NODE_LABEL: &str = "metallb.io/node";
/// Label naming the service of a `ServiceBGPStatus`.
pub const SERVICE_NAME_LABEL: &str = "metallb.io/service-name";
/// Label naming the service namespace of a `ServiceBGPStatus`.
pub const SERVICE_NAMESPACE_LABEL: &str = "metallb.io/service-namespace";
/// Label naming the node of a `BGPSessionState`.
pub const SESSION_NODE_LABEL: &str = "bgp-k8s.io/node";
/// Label naming the peer of a `BGPSessionState`.
pub const SESSION_PEER_LABEL: &str = "bgp-k8s.io/peer";

/// One BGP session as the speaker sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionState {
    /// Peer name (the BGPPeer's name, `peer-<index>` for ConfigMap peers).
    pub peer: String,
    /// FSM state (`Idle`, `Connect`, `Active`, `OpenSent`, `OpenConfirm`,
    /// `Established`).
    pub state: String,
    /// Seconds since the session was established (0 when it is not).
    pub uptime_seconds: u64,
    /// Prefixes advertised to the peer.
    pub prefixes_sent: u64,
    /// Prefixes received from the peer.
    pub prefixes_received: u64,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// The last NOTIFICATION sent or received, if any.
    pub last_notification: Option<String>,
}

impl SessionState {
    /// The state of the session with `peer` (its configured name) from the
    /// speaker's view of it; `now` measures the uptime.
    pub fn from_peer_status(peer: &str, status: &PeerStatus, now: Instant) -> Self {
        let stats = &status.stats;
        let established = status.state == FsmState::Established;
        let uptime_seconds = match stats.established_at {
            Some(t) if established => now.saturating_duration_since(t).as_secs(),
            _ => 0,
        };
        let sent = stats.last_notification_sent.as_ref();
        let received = stats.last_notification_received.as_ref();
        let last_notification = match (sent, received) {
            (Some(s), Some(r)) => Some(format!("sent: {s}; received: {r}")),
            (Some(s), None) => Some(format!("sent: {s}")),
            (None, Some(r)) => Some(format!("received: {r}")),
            (None, None) => None,
        };
        Self {
            peer: peer.to_owned(),
            // Variant names (`OpenSent`), as the CRD documents, not the
            // lower-case `Display` names.
            state: format!("{:?}", status.state),
            uptime_seconds,
            prefixes_sent: u64::try_from(stats.prefixes_announced).unwrap_or(u64::MAX),
            prefixes_received: u64::try_from(stats.prefixes_received).unwrap_or(u64::MAX),
            last_error: stats.last_error.clone(),
            last_notification,
        }
    }
}

/// What a sync did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Objects created or changed.
    pub applied: usize,
    /// Objects already as wanted (not written).
    pub unchanged: usize,
    /// Stale objects deleted.
    pub deleted: usize,
}

/// 64-bit FNV-1a, stable across releases (object names depend on it).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0xff;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        for b in p.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The name of the `ServiceBGPStatus` of `service` on `node`:
/// `bgp-<16 hex digits>`, a hash of node, namespace and name.
pub fn service_bgp_status_name(node: &str, service: &ObjectKey) -> String {
    format!(
        "bgp-{:016x}",
        fnv1a(&[node, &service.namespace, &service.name])
    )
}

fn is_dns_subdomain(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty()
        && s.len() <= 253
        && s.chars().all(|c| alnum(c) || c == '-' || c == '.')
        && s.starts_with(alnum)
        && s.ends_with(alnum)
}

/// The name of the `BGPSessionState` of `peer` on `node`: `<node>-<peer>`
/// when that is a valid object name, else `bgpsession-<16 hex digits>`.
pub fn session_state_name(node: &str, peer: &str) -> String {
    let plain = format!("{node}-{peer}");
    if is_dns_subdomain(&plain) {
        plain
    } else {
        format!("bgpsession-{:016x}", fnv1a(&[node, peer]))
    }
}

/// For each service a node announces, the peers it announces it to (from
/// the per-route sources of the node's announcements).
pub fn service_peers(a: &NodeAnnouncements) -> BTreeMap<ObjectKey, BTreeSet<String>> {
    let mut out: BTreeMap<ObjectKey, BTreeSet<String>> = BTreeMap::new();
    for ((peer, _prefix), services) in &a.sources {
        for svc in services {
            out.entry(svc.clone()).or_default().insert(peer.clone());
        }
    }
    out
}

/// One object to apply.
struct Desired {
    name: String,
    labels: BTreeMap<String, String>,
    status: Value,
}

/// Removes null members of an object (what a stored object looks like
/// after a patch that sets them to null).
fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect::<Map<String, Value>>(),
        ),
        other => other.clone(),
    }
}

/// How long a publisher trusts what it listed and wrote before it lists
/// its objects again ([`StatusPublisher::with_resync`]).
pub const DEFAULT_RESYNC: Duration = Duration::from_secs(300);

/// Writes one node's status objects.
///
/// A sync compares the desired objects with what this publisher last
/// listed or wrote, and writes only the differences. It lists the objects
/// from the API server on its first sync, after any failed request, and
/// once the list is older than the resync interval, so an object edited
/// or deleted by someone else is put right within that interval. A change
/// to a handful of Services therefore costs a handful of requests, not a
/// list of every status object of the node.
#[derive(Clone)]
pub struct StatusPublisher {
    client: Client,
    namespace: String,
    node: String,
    resync: Duration,
    services: Arc<Mutex<Known>>,
    sessions: Arc<Mutex<Known>>,
}

/// What a publisher knows of one kind of its objects on the server.
#[derive(Default)]
struct Known {
    /// When they were last listed; `None` until then and after a failure.
    listed: Option<Instant>,
    /// By name: labels and status (nulls removed) as listed or written.
    objects: BTreeMap<String, (BTreeMap<String, String>, Value)>,
    /// ServiceBGPStatus only: each Service's peers as of the last
    /// successful sync, whose objects are then known to match; `None`
    /// until a full sync succeeds.
    inputs: Option<BTreeMap<ObjectKey, BTreeSet<String>>>,
}

/// Which known objects a sync deletes.
enum Stale {
    /// Every known object that is not desired (a full sync).
    AllOthers,
    /// These, by name (a sync of the differences: the others are right).
    Only(Vec<String>),
}

impl StatusPublisher {
    /// A publisher for `node`'s objects in `namespace` (MetalLB's).
    pub fn new(client: Client, namespace: &str, node: &str) -> Self {
        Self {
            client,
            namespace: namespace.to_owned(),
            node: node.to_owned(),
            resync: DEFAULT_RESYNC,
            services: Arc::default(),
            sessions: Arc::default(),
        }
    }

    /// Lists the objects again when the last list is older than `resync`
    /// (default [`DEFAULT_RESYNC`]; zero lists on every sync).
    #[must_use]
    pub fn with_resync(mut self, resync: Duration) -> Self {
        self.resync = resync;
        self
    }

    /// Makes this node's `ServiceBGPStatus` objects match `announced`
    /// (service → names of the peers it is announced to; services with no
    /// peer get no object): each applied when missing or different, and
    /// every other object labelled with this node deleted.
    ///
    /// Between lists only the Services whose peers differ from the last
    /// successful sync are looked at, so a sync after a change to a few
    /// Services costs little more than those Services.
    pub async fn sync_service_statuses(
        &self,
        announced: &BTreeMap<ObjectKey, BTreeSet<String>>,
    ) -> Result<SyncReport, KubeIoError> {
        let announced: BTreeMap<&ObjectKey, &BTreeSet<String>> = announced
            .iter()
            .filter(|(_, peers)| !peers.is_empty())
            .collect();
        let mut known = self.services.lock().await;
        let list = self.list_due(&known);
        let (desired, stale): (Vec<Desired>, Stale) = match known.inputs.as_ref().filter(|_| !list)
        {
            // Known state: only the differences.
            Some(inputs) => {
                let desired = announced
                    .iter()
                    .filter(|(svc, peers)| inputs.get(**svc) != Some(**peers))
                    .map(|(svc, peers)| self.service_status(svc, peers))
                    .collect();
                let gone = inputs
                    .keys()
                    .filter(|svc| !announced.contains_key(svc))
                    .map(|svc| service_bgp_status_name(&self.node, svc))
                    .collect();
                (desired, Stale::Only(gone))
            }
            None => {
                let desired = announced
                    .iter()
                    .map(|(svc, peers)| self.service_status(svc, peers))
                    .collect();
                (desired, Stale::AllOthers)
            }
        };
        let selector = format!("{NODE_LABEL}={}", self.node);
        let ar = service_bgp_status_resource();
        // Services left out as known to match count as unchanged.
        let skipped = announced.len() - desired.len();
        let result = self
            .sync_locked(&ar, &selector, desired, &mut known, list, stale)
            .await
            .map(|mut report| {
                report.unchanged += skipped;
                report
            });
        known.inputs = result.is_ok().then(|| {
            announced
                .into_iter()
                .map(|(svc, peers)| (svc.clone(), peers.clone()))
                .collect()
        });
        result
    }

    /// The `ServiceBGPStatus` object for `svc` announced to `peers`.
    fn service_status(&self, svc: &ObjectKey, peers: &BTreeSet<String>) -> Desired {
        Desired {
            name: service_bgp_status_name(&self.node, svc),
            labels: BTreeMap::from([
                (NODE_LABEL.to_owned(), self.node.clone()),
                (SERVICE_NAME_LABEL.to_owned(), svc.name.clone()),
                (SERVICE_NAMESPACE_LABEL.to_owned(), svc.namespace.clone()),
            ]),
            status: json!({
                "node": self.node,
                "serviceName": svc.name,
                "serviceNamespace": svc.namespace,
                "peers": peers,
            }),
        }
    }

    /// Whether the objects must be listed before the next sync.
    fn list_due(&self, known: &Known) -> bool {
        known.listed.is_none_or(|at| at.elapsed() >= self.resync)
    }

    /// Makes this node's `BGPSessionState` objects match `sessions` (one per
    /// peer), deleting those of peers no longer present.
    pub async fn sync_session_states(
        &self,
        sessions: &[SessionState],
    ) -> Result<SyncReport, KubeIoError> {
        let desired = sessions
            .iter()
            .map(|s| Desired {
                name: session_state_name(&self.node, &s.peer),
                labels: BTreeMap::from([
                    (SESSION_NODE_LABEL.to_owned(), self.node.clone()),
                    (SESSION_PEER_LABEL.to_owned(), label_value(&s.peer)),
                ]),
                status: json!({
                    "node": self.node,
                    "peer": s.peer,
                    "state": s.state,
                    "uptimeSeconds": s.uptime_seconds,
                    "prefixesSent": s.prefixes_sent,
                    "prefixesReceived": s.prefixes_received,
                    "lastError": s.last_error,
                    "lastNotification": s.last_notification,
                }),
            })
            .collect();
        let selector = format!("{SESSION_NODE_LABEL}={}", self.node);
        self.sync(
            &bgp_session_state_resource(),
            &selector,
            desired,
            &self.sessions,
            false,
        )
        .await
    }

    /// Deletes every status object of this node (when the speaker leaves),
    /// listing them first whatever this publisher knows.
    pub async fn delete_all(&self) -> Result<usize, KubeIoError> {
        let a = self
            .sync(
                &service_bgp_status_resource(),
                &format!("{NODE_LABEL}={}", self.node),
                Vec::new(),
                &self.services,
                true,
            )
            .await?;
        let b = self
            .sync(
                &bgp_session_state_resource(),
                &format!("{SESSION_NODE_LABEL}={}", self.node),
                Vec::new(),
                &self.sessions,
                true,
            )
            .await?;
        Ok(a.deleted + b.deleted)
    }

    async fn sync(
        &self,
        ar: &ApiResource,
        selector: &str,
        desired: Vec<Desired>,
        known: &Mutex<Known>,
        list: bool,
    ) -> Result<SyncReport, KubeIoError> {
        // Held to the end: syncs of one kind never interleave.
        let mut known = known.lock().await;
        // This path keeps no per-Service inputs: the next
        // ServiceBGPStatus sync compares everything again.
        known.inputs = None;
        let list = list || self.list_due(&known);
        self.sync_locked(ar, selector, desired, &mut known, list, Stale::AllOthers)
            .await
    }

    /// Lists when `list`, then writes `desired` and deletes `stale`. After
    /// a failure, which may have half happened, the next sync lists again.
    async fn sync_locked(
        &self,
        ar: &ApiResource,
        selector: &str,
        desired: Vec<Desired>,
        known: &mut Known,
        list: bool,
        stale: Stale,
    ) -> Result<SyncReport, KubeIoError> {
        let result = self
            .write_differences(ar, selector, desired, known, list, stale)
            .await;
        if result.is_err() {
            known.listed = None;
        }
        result
    }

    async fn write_differences(
        &self,
        ar: &ApiResource,
        selector: &str,
        desired: Vec<Desired>,
        known: &mut Known,
        list: bool,
        stale: Stale,
    ) -> Result<SyncReport, KubeIoError> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &self.namespace, ar);
        if list {
            let listed = api.list(&ListParams::default().labels(selector)).await?;
            known.objects = listed
                .items
                .into_iter()
                .filter_map(|o| {
                    let name = o.metadata.name.clone()?;
                    let labels = o.metadata.labels.clone().unwrap_or_default();
                    // Nulls compare as absent whichever way the server
                    // stored them; no status at all is `null`, which no
                    // desired status equals.
                    let status = o.data.get("status").map_or(Value::Null, without_nulls);
                    Some((name, (labels, status)))
                })
                .collect();
            known.listed = Some(Instant::now());
        }
        let mut report = SyncReport::default();
        let apply = PatchParams::apply(FIELD_MANAGER).force();
        let wanted: BTreeSet<&str> = desired.iter().map(|d| d.name.as_str()).collect();
        for d in &desired {
            let status = without_nulls(&d.status);
            if let Some((labels, current)) = known.objects.get(&d.name) {
                let labels_ok = d.labels.iter().all(|(k, v)| labels.get(k) == Some(v));
                if labels_ok && *current == status {
                    report.unchanged += 1;
                    continue;
                }
            }
            let object = json!({
                "apiVersion": ar.api_version,
                "kind": ar.kind,
                "metadata": {
                    "name": d.name,
                    "namespace": self.namespace,
                    "labels": d.labels,
                },
                // Ignored where the CRD has a status subresource; kept for
                // CRDs without one.
                "status": d.status,
            });
            api.patch(&d.name, &apply, &Patch::Apply(&object)).await?;
            let status_patch = json!({
                "apiVersion": ar.api_version,
                "kind": ar.kind,
                "metadata": { "name": d.name, "namespace": self.namespace },
                "status": d.status,
            });
            match api
                .patch_status(&d.name, &apply, &Patch::Apply(&status_patch))
                .await
            {
                Ok(_) => {}
                // No status subresource: the status went with the object.
                Err(e) if is_not_found(&e) => {
                    debug!(kind = %ar.kind, name = %d.name, "no status subresource");
                }
                Err(e) => return Err(e.into()),
            }
            debug!(kind = %ar.kind, name = %d.name, "applied");
            known
                .objects
                .insert(d.name.clone(), (d.labels.clone(), status));
            report.applied += 1;
        }
        let stale: Vec<String> = match stale {
            Stale::AllOthers => known
                .objects
                .keys()
                .filter(|name| !wanted.contains(name.as_str()))
                .cloned()
                .collect(),
            Stale::Only(names) => names,
        };
        for name in stale {
            match api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => {
                    debug!(kind = %ar.kind, %name, "stale object deleted");
                    report.deleted += 1;
                }
                // Already gone (deleted by someone else): nothing to count.
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
            known.objects.remove(&name);
        }
        Ok(report)
    }
}

/// A label value for `s`: itself when valid (≤ 63 characters of
/// `[A-Za-z0-9._-]`, alphanumeric at both ends), else a hash.
fn label_value(s: &str) -> String {
    let ok = s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        s.to_owned()
    } else {
        format!("h{:016x}", fnv1a(&[s]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_valid() {
        let key = ObjectKey::new("default", "web");
        let a = service_bgp_status_name("node-1", &key);
        assert_eq!(a, service_bgp_status_name("node-1", &key));
        assert_ne!(a, service_bgp_status_name("node-2", &key));
        assert!(a.starts_with("bgp-") && a.len() == 20);
        // The separator matters: ("a", "bc") and ("ab", "c") differ.
        assert_ne!(fnv1a(&["a", "bc"]), fnv1a(&["ab", "c"]));
        assert_eq!(session_state_name("node-1", "peer1"), "node-1-peer1");
        assert!(session_state_name("Node_1", "p").starts_with("bgpsession-"));
        assert_eq!(label_value("peer-0"), "peer-0");
        assert!(label_value(&"x".repeat(70)).starts_with('h'));
    }

    #[test]
    fn session_state_from_peer_status() {
        let now = Instant::now();
        let mut stats = bgp_session::SessionStats {
            prefixes_announced: 3,
            prefixes_received: 2,
            last_error: Some("hold timer expired".into()),
            ..bgp_session::SessionStats::default()
        };
        stats.established_at = now.checked_sub(std::time::Duration::from_secs(42));
        let status = PeerStatus {
            peer: "198.51.100.1:179".parse().unwrap_or_else(|e| panic!("{e}")),
            state: FsmState::Established,
            stats,
            info: None,
            synced: true,
        };
        let s = SessionState::from_peer_status("peer-a", &status, now);
        assert_eq!(s.peer, "peer-a");
        assert_eq!(s.state, "Established");
        assert_eq!(s.uptime_seconds, 42);
        assert_eq!((s.prefixes_sent, s.prefixes_received), (3, 2));
        assert_eq!(s.last_error.as_deref(), Some("hold timer expired"));
        assert_eq!(s.last_notification, None);
        let idle = PeerStatus {
            state: FsmState::Idle,
            ..status
        };
        assert_eq!(
            SessionState::from_peer_status("peer-a", &idle, now).uptime_seconds,
            0
        );
    }
}
