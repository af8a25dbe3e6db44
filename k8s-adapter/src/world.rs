//! A plain snapshot of the Kubernetes objects the adapter reads: Services,
//! EndpointSlices, Nodes and Namespaces.
//!
//! Objects are kept in ordered maps keyed by namespace and name, so every
//! computation over a [`World`] is independent of the order in which objects
//! were inserted. EndpointSlices are additionally indexed by the Service they
//! belong to (label `kubernetes.io/service-name`), so looking up a service's
//! endpoints costs time proportional to that service's slices.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::api::core::v1::{Namespace, Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The label an EndpointSlice carries naming its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// The Node label that excludes a node from external load balancers.
pub const EXCLUDE_LB_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

static EMPTY: BTreeMap<String, String> = BTreeMap::new();

/// A namespaced object's identity, printed `namespace/name`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// Namespace (`default` when the object has none).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjectKey {
    /// A key from its parts.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key of an object from its metadata (`default` namespace when unset).
    pub fn of(meta: &ObjectMeta) -> Self {
        Self {
            namespace: meta
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
            name: meta.name.clone().unwrap_or_default(),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// An object's labels (empty when it has none).
pub fn labels(meta: &ObjectMeta) -> &BTreeMap<String, String> {
    meta.labels.as_ref().unwrap_or(&EMPTY)
}

/// An object's annotations (empty when it has none).
pub fn annotations(meta: &ObjectMeta) -> &BTreeMap<String, String> {
    meta.annotations.as_ref().unwrap_or(&EMPTY)
}

/// Whether a Service with `spec.loadBalancerClass` = `class` is handled
/// when the adapter runs with `--lb-class` = `configured`: with no configured
/// class only services without a class are handled, otherwise only services
/// of exactly that class (MetalLB's rule).
pub fn handles_class(svc: &Service, configured: Option<&str>) -> bool {
    let class = svc
        .spec
        .as_ref()
        .and_then(|s| s.load_balancer_class.as_deref());
    class == configured
}

/// Whether a Service is of type LoadBalancer.
pub fn is_load_balancer(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer")
}

/// The Kubernetes objects the adapter decides from.
#[derive(Clone, Debug, Default)]
pub struct World {
    services: BTreeMap<ObjectKey, Service>,
    endpoint_slices: BTreeMap<ObjectKey, EndpointSlice>,
    slices_by_service: BTreeMap<ObjectKey, BTreeSet<ObjectKey>>,
    nodes: BTreeMap<String, Node>,
    namespaces: BTreeMap<String, Namespace>,
}

impl World {
    /// An empty world.
    pub fn new() -> Self {
        Self::default()
    }

    /// A world holding the given objects (a later object with the same key
    /// replaces an earlier one).
    pub fn from_objects(
        services: impl IntoIterator<Item = Service>,
        endpoint_slices: impl IntoIterator<Item = EndpointSlice>,
        nodes: impl IntoIterator<Item = Node>,
        namespaces: impl IntoIterator<Item = Namespace>,
    ) -> Self {
        let mut w = Self::new();
        services.into_iter().for_each(|s| w.upsert_service(s));
        endpoint_slices
            .into_iter()
            .for_each(|s| w.upsert_endpoint_slice(s));
        nodes.into_iter().for_each(|n| w.upsert_node(n));
        namespaces.into_iter().for_each(|n| w.upsert_namespace(n));
        w
    }

    /// Inserts or replaces a Service.
    pub fn upsert_service(&mut self, svc: Service) {
        self.services.insert(ObjectKey::of(&svc.metadata), svc);
    }

    /// Removes a Service, returning it.
    pub fn remove_service(&mut self, key: &ObjectKey) -> Option<Service> {
        self.services.remove(key)
    }

    /// Inserts or replaces an EndpointSlice (re-indexing it by service).
    pub fn upsert_endpoint_slice(&mut self, slice: EndpointSlice) {
        let key = ObjectKey::of(&slice.metadata);
        self.remove_endpoint_slice(&key);
        if let Some(svc) = slice_service(&slice) {
            self.slices_by_service
                .entry(svc)
                .or_default()
                .insert(key.clone());
        }
        self.endpoint_slices.insert(key, slice);
    }

    /// Removes an EndpointSlice, returning it.
    pub fn remove_endpoint_slice(&mut self, key: &ObjectKey) -> Option<EndpointSlice> {
        let old = self.endpoint_slices.remove(key)?;
        if let Some(svc) = slice_service(&old) {
            if let Some(set) = self.slices_by_service.get_mut(&svc) {
                set.remove(key);
                if set.is_empty() {
                    self.slices_by_service.remove(&svc);
                }
            }
        }
        Some(old)
    }

    /// Inserts or replaces a Node.
    pub fn upsert_node(&mut self, node: Node) {
        let name = node.metadata.name.clone().unwrap_or_default();
        self.nodes.insert(name, node);
    }

    /// Removes a Node, returning it.
    pub fn remove_node(&mut self, name: &str) -> Option<Node> {
        self.nodes.remove(name)
    }

    /// Inserts or replaces a Namespace.
    pub fn upsert_namespace(&mut self, ns: Namespace) {
        let name = ns.metadata.name.clone().unwrap_or_default();
        self.namespaces.insert(name, ns);
    }

    /// Removes a Namespace, returning it.
    pub fn remove_namespace(&mut self, name: &str) -> Option<Namespace> {
        self.namespaces.remove(name)
    }

    /// Every Service, ordered by namespace and name.
    pub fn services(&self) -> impl Iterator<Item = (&ObjectKey, &Service)> {
        self.services.iter()
    }

    /// One Service.
    pub fn service(&self, key: &ObjectKey) -> Option<&Service> {
        self.services.get(key)
    }

    /// Every EndpointSlice, ordered by namespace and name.
    pub fn endpoint_slices(&self) -> impl Iterator<Item = (&ObjectKey, &EndpointSlice)> {
        self.endpoint_slices.iter()
    }

    /// The EndpointSlices of a Service (by label `kubernetes.io/service-name`
    /// in the service's namespace), ordered by slice name.
    pub fn endpoint_slices_for<'a>(
        &'a self,
        service: &ObjectKey,
    ) -> impl Iterator<Item = &'a EndpointSlice> + 'a {
        self.slices_by_service
            .get(service)
            .into_iter()
            .flatten()
            .filter_map(|k| self.endpoint_slices.get(k))
    }

    /// Every Node, ordered by name.
    pub fn nodes(&self) -> impl Iterator<Item = (&String, &Node)> {
        self.nodes.iter()
    }

    /// One Node.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.get(name)
    }

    /// Every Namespace, ordered by name.
    pub fn namespaces(&self) -> impl Iterator<Item = (&String, &Namespace)> {
        self.namespaces.iter()
    }

    /// One Namespace.
    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.get(name)
    }

    /// A namespace's labels (empty when the namespace is unknown).
    pub fn namespace_labels(&self, name: &str) -> &BTreeMap<String, String> {
        self.namespaces
            .get(name)
            .map_or(&EMPTY, |n| labels(&n.metadata))
    }

    /// A node's labels (empty when the node is unknown).
    pub fn node_labels(&self, name: &str) -> &BTreeMap<String, String> {
        self.nodes.get(name).map_or(&EMPTY, |n| labels(&n.metadata))
    }

    /// Numbers of services, slices, nodes and namespaces.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        (
            self.services.len(),
            self.endpoint_slices.len(),
            self.nodes.len(),
            self.namespaces.len(),
        )
    }
}

/// What differs between two [`World`]s (see [`World::diff`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorldDiff {
    /// Services added, removed or changed.
    pub services: BTreeSet<ObjectKey>,
    /// Services whose EndpointSlices were added, removed or changed (the
    /// service named by the old and by the new slice).
    pub endpoints: BTreeSet<ObjectKey>,
    /// Nodes added, removed or changed.
    pub nodes: BTreeSet<String>,
    /// Namespaces added, removed or changed.
    pub namespaces: BTreeSet<String>,
}

impl WorldDiff {
    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
            && self.endpoints.is_empty()
            && self.nodes.is_empty()
            && self.namespaces.is_empty()
    }

    /// Every service whose announcement may have changed: changed services
    /// plus services whose endpoints changed.
    pub fn affected_services(&self) -> BTreeSet<ObjectKey> {
        self.services.union(&self.endpoints).cloned().collect()
    }

    /// Records an EndpointSlice change (its service, when it names one).
    pub fn slice_changed(&mut self, slice: &EndpointSlice) {
        if let Some(svc) = slice_service(slice) {
            self.endpoints.insert(svc);
        }
    }
}

/// Calls `f` with every key whose value differs between two ordered maps
/// (merge join: time linear in the sizes, no allocation).
fn diff_maps<'a, K: Ord, V: PartialEq>(
    old: &'a BTreeMap<K, V>,
    new: &'a BTreeMap<K, V>,
    mut f: impl FnMut(&'a K, Option<&'a V>, Option<&'a V>),
) {
    let mut a = old.iter().peekable();
    let mut b = new.iter().peekable();
    loop {
        match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some((ka, va)), None) => {
                f(ka, Some(va), None);
                a.next();
            }
            (None, Some((kb, vb))) => {
                f(kb, None, Some(vb));
                b.next();
            }
            (Some((ka, va)), Some((kb, vb))) => match ka.cmp(kb) {
                std::cmp::Ordering::Less => {
                    f(ka, Some(va), None);
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    f(kb, None, Some(vb));
                    b.next();
                }
                std::cmp::Ordering::Equal => {
                    if va != vb {
                        f(ka, Some(va), Some(vb));
                    }
                    a.next();
                    b.next();
                }
            },
        }
    }
}

impl World {
    /// What differs from `self` to `new`, object by object. Costs one
    /// comparison per object (no cloning of unchanged objects).
    pub fn diff(&self, new: &World) -> WorldDiff {
        let mut d = WorldDiff::default();
        diff_maps(&self.services, &new.services, |k, _, _| {
            d.services.insert(k.clone());
        });
        diff_maps(&self.endpoint_slices, &new.endpoint_slices, |_, a, b| {
            for s in a.into_iter().chain(b) {
                d.slice_changed(s);
            }
        });
        diff_maps(&self.nodes, &new.nodes, |k, _, _| {
            d.nodes.insert(k.clone());
        });
        diff_maps(&self.namespaces, &new.namespaces, |k, _, _| {
            d.namespaces.insert(k.clone());
        });
        d
    }
}

/// The Service an EndpointSlice belongs to (label
/// `kubernetes.io/service-name`, in the slice's namespace).
pub fn slice_service(slice: &EndpointSlice) -> Option<ObjectKey> {
    let name = labels(&slice.metadata).get(SERVICE_NAME_LABEL)?;
    let ns = ObjectKey::of(&slice.metadata).namespace;
    Some(ObjectKey::new(ns, name.clone()))
}

/// The status of a Node condition (`"True"`, `"False"`, `"Unknown"`), if present.
pub fn node_condition<'a>(node: &'a Node, kind: &str) -> Option<&'a str> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| c.status.as_str())
}
