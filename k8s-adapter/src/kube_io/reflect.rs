//! Reflectors: one kube-runtime watcher per resource, its store, and one
//! level-triggered change signal for all of them.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::utils::Backoff;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::resources::{METALLB_CONFIG_KINDS, metallb_resource};
use super::snapshot::Snapshot;
use super::{CONFIG_MAP_NAME, DEFAULT_NAMESPACE};
use crate::world::ObjectKey;

/// Retry delays after a failed list or watch: exponential from `initial`
/// up to `max`, reset after each successful event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffConfig {
    /// First delay (800 ms, as client-go).
    pub initial: Duration,
    /// Longest delay (30 s).
    pub max: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(800),
            max: Duration::from_secs(30),
        }
    }
}

/// An exponential backoff for [`WatchStreamExt::backoff`].
struct ExpBackoff {
    config: BackoffConfig,
    next: Duration,
}

impl ExpBackoff {
    fn new(config: BackoffConfig) -> Self {
        Self {
            config,
            next: config.initial,
        }
    }
}

impl Iterator for ExpBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let now = self.next;
        self.next = self.next.saturating_mul(2).min(self.config.max);
        Some(now)
    }
}

impl Backoff for ExpBackoff {
    fn reset(&mut self) {
        self.next = self.config.initial;
    }
}

/// What to watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchOptions {
    /// MetalLB's namespace: Secrets, the ConfigMap and the `metallb.io`
    /// resources are read there only.
    pub namespace: String,
    /// Name of the legacy configuration ConfigMap (`config`).
    pub config_map_name: String,
    /// Watch Services (all namespaces).
    pub services: bool,
    /// Watch EndpointSlices (all namespaces).
    pub endpoint_slices: bool,
    /// Watch Nodes.
    pub nodes: bool,
    /// Watch Namespaces.
    pub namespaces: bool,
    /// Watch Secrets in [`Self::namespace`] (BGPPeer `passwordSecret`).
    pub secrets: bool,
    /// Watch the ConfigMap [`Self::config_map_name`] in [`Self::namespace`].
    pub config_map: bool,
    /// Watch the `metallb.io` configuration resources in [`Self::namespace`].
    /// A kind the API server does not serve (CRD not installed) counts as
    /// synced and empty, and keeps being retried.
    pub custom_resources: bool,
    /// Retry delays after errors.
    pub backoff: BackoffConfig,
}

impl WatchOptions {
    /// What the controller needs to allocate: Services, Namespaces (pool
    /// namespace selectors), the ConfigMap and the custom resources.
    pub fn controller(namespace: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            config_map_name: CONFIG_MAP_NAME.to_owned(),
            services: true,
            endpoint_slices: false,
            nodes: false,
            namespaces: true,
            secrets: false,
            config_map: true,
            custom_resources: true,
            backoff: BackoffConfig::default(),
        }
    }

    /// What a speaker needs to announce: everything, Secrets included.
    pub fn speaker(namespace: &str) -> Self {
        Self {
            endpoint_slices: true,
            nodes: true,
            secrets: true,
            ..Self::controller(namespace)
        }
    }
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self::speaker(DEFAULT_NAMESPACE)
    }
}

/// The objects of the [`World`](crate::world::World) kinds that changed
/// since the last [`Reflectors::take_changes`], or that everything must be
/// read again.
///
/// Bounded: each set holds at most one entry per object, and past
/// [`MAX_TRACKED_CHANGES`] entries the sets are dropped for `full`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changes {
    /// Read everything again: a store was listed (first sync or relist,
    /// which reports no deletions), an object outside the world kinds
    /// changed (configuration, Secrets), or too many changes piled up.
    pub full: bool,
    /// Services added, changed or deleted.
    pub services: BTreeSet<ObjectKey>,
    /// EndpointSlices added, changed or deleted.
    pub endpoint_slices: BTreeSet<ObjectKey>,
    /// Nodes added, changed or deleted.
    pub nodes: BTreeSet<String>,
    /// Namespaces added, changed or deleted.
    pub namespaces: BTreeSet<String>,
}

impl Default for Changes {
    /// Nothing read yet: everything must be.
    fn default() -> Self {
        Self {
            full: true,
            services: BTreeSet::new(),
            endpoint_slices: BTreeSet::new(),
            nodes: BTreeSet::new(),
            namespaces: BTreeSet::new(),
        }
    }
}

/// Past this many changed objects [`Changes`] gives up the sets and asks
/// for a full read, which is then no dearer.
pub const MAX_TRACKED_CHANGES: usize = 10_000;

impl Changes {
    /// Nothing changed.
    fn none() -> Self {
        Self {
            full: false,
            ..Self::default()
        }
    }

    fn len(&self) -> usize {
        self.services.len() + self.endpoint_slices.len() + self.nodes.len() + self.namespaces.len()
    }

    fn record(&mut self, kind: Tracked, meta: &ObjectMeta) {
        if self.full {
            return;
        }
        match kind {
            Tracked::Services => self.services.insert(ObjectKey::of(meta)),
            Tracked::EndpointSlices => self.endpoint_slices.insert(ObjectKey::of(meta)),
            Tracked::Nodes => self.nodes.insert(meta.name.clone().unwrap_or_default()),
            Tracked::Namespaces => self
                .namespaces
                .insert(meta.name.clone().unwrap_or_default()),
            Tracked::Other => {
                self.set_full();
                return;
            }
        };
        if self.len() > MAX_TRACKED_CHANGES {
            self.set_full();
        }
    }

    fn set_full(&mut self) {
        *self = Self::default();
    }
}

/// Which [`Changes`] set a reflector's events go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tracked {
    Services,
    EndpointSlices,
    Nodes,
    Namespaces,
    /// Not a world kind: any change asks for a full read.
    Other,
}

/// State shared by the reflector tasks.
struct Shared {
    generation: watch::Sender<u64>,
    ready: watch::Sender<bool>,
    /// Reflectors that have not completed their first list yet.
    pending: Mutex<BTreeSet<String>>,
    /// What changed since the consumer last looked.
    changes: Mutex<Changes>,
}

impl Shared {
    fn bump(&self) {
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
    }

    fn changes(&self) -> std::sync::MutexGuard<'_, Changes> {
        self.changes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn synced(&self, name: &str) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.remove(name) {
            debug!(resource = name, "initial list complete");
            if pending.is_empty() {
                info!("every reflector has synced");
                self.ready.send_replace(true);
            }
        }
    }
}

/// The stores of the running reflectors.
#[derive(Clone, Default)]
struct Stores {
    services: Option<Store<Service>>,
    endpoint_slices: Option<Store<EndpointSlice>>,
    nodes: Option<Store<Node>>,
    namespaces: Option<Store<Namespace>>,
    secrets: Option<Store<Secret>>,
    config_maps: Option<Store<ConfigMap>>,
    custom: Vec<(ApiResource, Store<DynamicObject>)>,
}

/// Running reflectors over the objects the adapter reads.
///
/// Level-triggered: [`Reflectors::subscribe`] gives a receiver whose value
/// (a generation counter) changes after any store change; the consumer then
/// either rebuilds a whole [`Snapshot`] or, with [`Reflectors::take_changes`],
/// reads only the objects that changed. Changes that arrive while the
/// consumer is busy coalesce into one notification. A relist (after
/// `410 Gone` or a broken watch) replaces a store's contents at once when the
/// list completes, so a snapshot never sees a half-listed store, and asks
/// change-set consumers for a full read.
///
/// Dropping the value stops the watches.
pub struct Reflectors {
    stores: Stores,
    namespace: String,
    generation: watch::Receiver<u64>,
    ready: watch::Receiver<bool>,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Reflectors {
    /// Starts the watches described by `options` (must be called within a
    /// Tokio runtime).
    pub fn start(client: Client, options: &WatchOptions) -> Self {
        let (gen_tx, generation) = watch::channel(0u64);
        let (ready_tx, ready) = watch::channel(false);
        let shared = Arc::new(Shared {
            generation: gen_tx,
            ready: ready_tx,
            pending: Mutex::new(BTreeSet::new()),
            changes: Mutex::new(Changes::default()),
        });
        let mut this = Self {
            stores: Stores::default(),
            namespace: options.namespace.clone(),
            generation,
            ready,
            shared,
            tasks: Vec::new(),
        };
        let ns = options.namespace.as_str();
        let cfg = watcher::Config::default;
        let b = options.backoff;
        if options.services {
            let (store, writer) = reflector::store();
            this.stores.services = Some(store);
            this.spawn(
                "services",
                Api::all(client.clone()),
                cfg(),
                writer,
                (false, Tracked::Services),
                b,
            );
        }
        if options.endpoint_slices {
            let (store, writer) = reflector::store();
            this.stores.endpoint_slices = Some(store);
            this.spawn(
                "endpointslices",
                Api::all(client.clone()),
                cfg(),
                writer,
                (false, Tracked::EndpointSlices),
                b,
            );
        }
        if options.nodes {
            let (store, writer) = reflector::store();
            this.stores.nodes = Some(store);
            let t = (false, Tracked::Nodes);
            this.spawn("nodes", Api::all(client.clone()), cfg(), writer, t, b);
        }
        if options.namespaces {
            let (store, writer) = reflector::store();
            this.stores.namespaces = Some(store);
            this.spawn(
                "namespaces",
                Api::all(client.clone()),
                cfg(),
                writer,
                (false, Tracked::Namespaces),
                b,
            );
        }
        if options.secrets {
            let (store, writer) = reflector::store();
            this.stores.secrets = Some(store);
            let api = Api::namespaced(client.clone(), ns);
            this.spawn("secrets", api, cfg(), writer, (false, Tracked::Other), b);
        }
        if options.config_map {
            let (store, writer) = reflector::store();
            this.stores.config_maps = Some(store);
            let api = Api::namespaced(client.clone(), ns);
            let c = cfg().fields(&format!("metadata.name={}", options.config_map_name));
            this.spawn("configmap", api, c, writer, (false, Tracked::Other), b);
        }
        if options.custom_resources {
            for kind in &METALLB_CONFIG_KINDS {
                let ar = metallb_resource(kind);
                let writer = Writer::new(ar.clone());
                this.stores.custom.push((ar.clone(), writer.as_reader()));
                let api = Api::<DynamicObject>::namespaced_with(client.clone(), ns, &ar);
                this.spawn(kind.plural, api, cfg(), writer, (true, Tracked::Other), b);
            }
        }
        if this.tasks.is_empty() {
            this.shared.ready.send_replace(true);
        }
        this
    }

    fn spawn<K>(
        &mut self,
        name: &str,
        api: Api<K>,
        config: watcher::Config,
        writer: Writer<K>,
        (tolerate_missing, tracked): (bool, Tracked),
        backoff: BackoffConfig,
    ) where
        K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
        K::DynamicType: Eq + Hash + Clone + Send + Sync,
    {
        let name = name.to_owned();
        self.shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.clone());
        let shared = Arc::clone(&self.shared);
        self.tasks.push(tokio::spawn(async move {
            let stream = watcher::watcher(api, config)
                .backoff(ExpBackoff::new(backoff))
                .reflect(writer);
            let mut stream = std::pin::pin!(stream);
            let mut missing = false;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(Event::Apply(o) | Event::Delete(o)) => {
                        missing = false;
                        // The store already holds the change (`reflect`
                        // applies it before passing the event on).
                        shared.changes().record(tracked, o.meta());
                        shared.bump();
                    }
                    Ok(Event::InitDone) => {
                        missing = false;
                        // A (re)list replaced the store: deletions while
                        // the watch was down have no events.
                        shared.changes().set_full();
                        shared.synced(&name);
                        shared.bump();
                    }
                    Ok(Event::Init) => debug!(resource = %name, "listing"),
                    Ok(Event::InitApply(_)) => {}
                    Err(e) if tolerate_missing && watch_not_found(&e) => {
                        if !missing {
                            warn!(
                                resource = %name,
                                "resource not served (CRD not installed?): treated as empty"
                            );
                            missing = true;
                        }
                        shared.synced(&name);
                    }
                    Err(watcher::Error::WatchError(status)) if status.code == 410 => {
                        info!(resource = %name, "watch expired (410 Gone): relisting");
                    }
                    Err(e) => warn!(resource = %name, error = %e, "watch failed; retrying"),
                }
            }
        }));
    }

    /// Whether every reflector has completed its initial list.
    pub fn ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Waits until every reflector has completed its initial list.
    pub async fn wait_until_ready(&self) {
        let mut ready = self.ready.clone();
        // An error means the sender is gone, which cannot happen while
        // `self` holds `shared`.
        let _ = ready.wait_for(|r| *r).await;
    }

    /// The reflectors that have not completed their initial list yet.
    pub fn pending(&self) -> Vec<String> {
        self.shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    /// A receiver of the change generation: `changed().await` returns after
    /// any store change (or readiness) since the last value seen. Take it
    /// before reading the first snapshot so no change is missed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.clone()
    }

    /// The current change generation.
    pub fn generation(&self) -> u64 {
        *self.generation.borrow()
    }

    /// What changed since the last call (see [`Changes`]); starts `full`.
    /// Taking the changes before reading the stores loses nothing: a
    /// change made after the take is in the stores and also in the next
    /// take.
    pub fn take_changes(&self) -> Changes {
        std::mem::replace(&mut *self.shared.changes(), Changes::none())
    }

    /// The Service `key` as the store holds it now.
    pub fn service(&self, key: &ObjectKey) -> Option<Service> {
        namespaced(self.stores.services.as_ref()?, key)
    }

    /// The EndpointSlice `key` as the store holds it now.
    pub fn endpoint_slice(&self, key: &ObjectKey) -> Option<EndpointSlice> {
        namespaced(self.stores.endpoint_slices.as_ref()?, key)
    }

    /// The Node `name` as the store holds it now.
    pub fn node(&self, name: &str) -> Option<Node> {
        let o = self.stores.nodes.as_ref()?.get(&ObjectRef::new(name))?;
        Some((*o).clone())
    }

    /// The Namespace `name` as the store holds it now.
    pub fn namespace(&self, name: &str) -> Option<Namespace> {
        let o = self
            .stores
            .namespaces
            .as_ref()?
            .get(&ObjectRef::new(name))?;
        Some((*o).clone())
    }

    /// A snapshot of every store, or `None` until every reflector has
    /// synced (acting on partial stores would withdraw or reallocate what
    /// is merely not listed yet).
    pub fn snapshot(&self) -> Option<Snapshot> {
        if !self.ready() {
            return None;
        }
        Some(self.snapshot_unchecked())
    }

    /// A snapshot of the stores as they are, synced or not (diagnostics).
    pub fn snapshot_unchecked(&self) -> Snapshot {
        fn all<K: Clone + Resource>(s: &Option<Store<K>>) -> Vec<K>
        where
            K::DynamicType: Eq + Hash + Clone,
        {
            s.as_ref()
                .map(|s| s.state().iter().map(|o| (**o).clone()).collect())
                .unwrap_or_default()
        }
        let generation = self.generation();
        let mut custom_resources = Vec::new();
        for (ar, store) in &self.stores.custom {
            for o in store.state() {
                let mut o = (*o).clone();
                // List items may lack apiVersion/kind; the parser needs them.
                o.types = Some(kube::api::TypeMeta {
                    api_version: ar.api_version.clone(),
                    kind: ar.kind.clone(),
                });
                o.metadata.managed_fields = None;
                custom_resources.push(o);
            }
        }
        let mut snapshot = Snapshot {
            generation,
            namespace: self.namespace.clone(),
            services: all(&self.stores.services),
            endpoint_slices: all(&self.stores.endpoint_slices),
            nodes: all(&self.stores.nodes),
            namespaces: all(&self.stores.namespaces),
            secrets: all(&self.stores.secrets),
            config_maps: all(&self.stores.config_maps),
            custom_resources,
        };
        snapshot.sort();
        snapshot
    }

    /// Stops every watch.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for Reflectors {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Whether a watcher error is the API server saying the resource does not
/// exist (its CRD is not installed).
fn watch_not_found(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::InitialListFailed(e) | watcher::Error::WatchStartFailed(e) => {
            super::is_not_found(e)
        }
        _ => false,
    }
}

/// A namespaced object of `store` by key, cloned.
fn namespaced<K>(store: &Store<K>, key: &ObjectKey) -> Option<K>
where
    K: Resource + Clone,
    K::DynamicType: Eq + Hash + Clone + Default,
{
    let o = store.get(&ObjectRef::new(&key.name).within(&key.namespace))?;
    Some((*o).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(ns: &str, name: &str) -> ObjectMeta {
        ObjectMeta {
            namespace: Some(ns.into()),
            name: Some(name.into()),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn records_keys_per_kind_and_asks_for_a_full_read_otherwise() {
        let mut c = Changes::none();
        c.record(Tracked::Services, &meta("default", "web"));
        c.record(Tracked::Services, &meta("default", "web"));
        c.record(Tracked::EndpointSlices, &meta("default", "web-1"));
        c.record(Tracked::Nodes, &meta("", "node-1"));
        assert!(!c.full);
        assert_eq!(c.services.len(), 1, "one entry per object");
        assert!(
            c.endpoint_slices
                .contains(&ObjectKey::new("default", "web-1"))
        );
        assert!(c.nodes.contains("node-1"));

        c.record(Tracked::Other, &meta("metallb-system", "pool"));
        assert!(c.full);
        assert_eq!(c.len(), 0, "a full read needs no keys");
        c.record(Tracked::Services, &meta("default", "db"));
        assert_eq!(
            c.len(),
            0,
            "nothing is tracked until the full read is taken"
        );
    }

    #[test]
    fn too_many_changes_become_a_full_read() {
        let mut c = Changes::none();
        for i in 0..MAX_TRACKED_CHANGES {
            c.record(Tracked::EndpointSlices, &meta("default", &format!("s-{i}")));
        }
        assert!(!c.full);
        c.record(Tracked::Services, &meta("default", "one-more"));
        assert!(c.full);
        assert_eq!(c.len(), 0);
    }
}
