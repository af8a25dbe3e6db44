//! Standalone mode: MetalLB configuration and Kubernetes object manifests
//! from files instead of an apiserver, real BGP sessions, and with `--demo`
//! an embedded route collector on loopback so the whole flow runs with one
//! command and no root.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bgp_proto::attribute::AttrValue;
use bgp_session::{
    ConnectMode, Event, MaxPrefixAction, Password, PeerConfig, ReceiveConfig, RemoteAs, Speaker,
    SpeakerEvent,
};
use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus, ServiceStatus};

use crate::announce::ServiceDecision;
use crate::announcer::Announcer;
use crate::config::{Config, PasswordSource, Peer, PeerAsn};
use crate::incremental::{IpSource, NodePlanner};
use crate::metrics::Metrics;
use crate::plan::{Plan, PlanOptions, plan};
use crate::world::{ObjectKey, World};

/// Options of `k8s-adapter standalone`.
#[derive(Clone, Debug)]
pub struct Options {
    /// MetalLB configuration files (legacy ConfigMap or CRs).
    pub config: Vec<PathBuf>,
    /// Object manifests: files or directories.
    pub objects: Vec<PathBuf>,
    /// The node this instance announces for.
    pub node: String,
    /// Start an embedded collector and point every peer at it.
    pub demo: bool,
    /// How often file modification times are checked for changes (the
    /// fallback when inotify is off or unavailable).
    pub poll: Duration,
    /// Watch the files with inotify, acting on a change as soon as the
    /// writer closes the file.
    pub watch: bool,
    /// Plan options (`--lb-class`, ...).
    pub plan: PlanOptions,
}

/// Why standalone mode could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StandaloneError {
    /// The speaker failed (e.g. the collector could not listen).
    #[error(transparent)]
    Speaker(#[from] bgp_session::SpeakerError),
}

/// The peers as the demo rewires them: every configured peer talks to the
/// embedded collector at `collector`, each from its own loopback source
/// address so the collector can tell the sessions apart.
struct Demo {
    collector: Speaker,
    addr: SocketAddr,
    sources: BTreeMap<String, IpAddr>,
}

fn newest_mtime(paths: &[PathBuf]) -> Option<SystemTime> {
    let mut newest = None;
    let mut visit = |p: &Path| {
        if let Ok(m) = std::fs::metadata(p).and_then(|m| m.modified()) {
            newest = newest.max(Some(m));
        }
    };
    for p in paths {
        visit(p);
        if let Ok(dir) = std::fs::read_dir(p) {
            for e in dir.flatten() {
                visit(&e.path());
            }
        }
    }
    newest
}

/// The BGP session configuration for a configured peer, seen from `node_ip`.
pub fn peer_config(peer: &Peer, node_ip: Option<IpAddr>) -> PeerConfig {
    let router_id = peer.router_id.unwrap_or(match node_ip {
        Some(IpAddr::V4(v4)) => v4,
        _ => Ipv4Addr::new(192, 0, 2, 1),
    });
    let remote_as = match peer.peer_asn {
        PeerAsn::Asn(a) => RemoteAs::Asn(a),
        PeerAsn::Internal => RemoteAs::Internal,
        PeerAsn::External => RemoteAs::External,
    };
    let mut c = PeerConfig::new(
        SocketAddr::new(peer.address, peer.port),
        peer.my_asn,
        remote_as,
        router_id,
    );
    c.hold_time = peer.hold_time;
    c.keepalive = peer.keepalive_time;
    if let Some(t) = peer.connect_time {
        c.connect_retry = t;
    }
    c.local_address = peer.source_address;
    c.md5_password = match &peer.password {
        Some(PasswordSource::Inline(p)) => Some(Password::new(p.clone())),
        _ => None,
    };
    if peer.ebgp_multihop {
        c.ttl = Some(255);
    }
    if peer.graceful_restart {
        c.graceful_restart = Some(bgp_session::GracefulRestartConfig::default());
    }
    c
}

fn print_allocation_changes(
    previous: &BTreeMap<ObjectKey, (Vec<IpAddr>, Option<String>)>,
    plan: &Plan,
) {
    let Some(alloc) = &plan.allocations else {
        return;
    };
    for s in &alloc.services {
        if !s.handled {
            continue;
        }
        let now = (s.ips.clone(), s.pool.clone());
        if previous.get(&s.key) == Some(&now) {
            continue;
        }
        if s.ips.is_empty() {
            let why = s.reason.as_deref().unwrap_or("no IP");
            let msg = s.message.as_deref().unwrap_or("");
            println!("allocation  {} : none ({why}) {msg}", s.key);
        } else {
            let ips: Vec<String> = s.ips.iter().map(ToString::to_string).collect();
            println!(
                "allocation  {} : {} from pool {}",
                s.key,
                ips.join(", "),
                s.pool.as_deref().unwrap_or("?")
            );
        }
    }
}

/// The file watch: inotify (through `notify`) on the directories holding
/// the configuration and object files, forwarding a wake-up for every
/// completed write (close after write), creation, deletion or rename.
struct FileWatch {
    _watcher: notify::RecommendedWatcher,
    rx: tokio::sync::mpsc::UnboundedReceiver<()>,
}

fn relevant(kind: &notify::EventKind) -> bool {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode, ModifyKind};
    match kind {
        // A completed write; plain data modifications are skipped so a
        // half-written file is not read (the poll catches writers that
        // never close).
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Name(_) | ModifyKind::Metadata(_)) => true,
        EventKind::Modify(ModifyKind::Any | ModifyKind::Other) => true,
        _ => false,
    }
}

fn watch_files(paths: &[PathBuf]) -> Result<FileWatch, notify::Error> {
    use notify::Watcher;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let wanted: Vec<PathBuf> = paths.to_vec();
    let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        let Ok(ev) = ev else { return };
        if !relevant(&ev.kind) {
            return;
        }
        // Only the watched files, or anything inside a watched directory.
        let hit = ev.paths.iter().any(|p| {
            wanted
                .iter()
                .any(|w| p == w || (w.is_dir() && p.parent() == Some(w.as_path())))
        });
        if hit {
            let _ = tx.send(());
        }
    })?;
    let mut dirs: Vec<PathBuf> = Vec::new();
    for p in paths {
        // Watch the directory, not the file: a file replaced by rename
        // (how editors and `kubectl`-driven tools write) keeps being seen.
        let dir = if p.is_dir() {
            p.clone()
        } else {
            p.parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        };
        if !dirs.contains(&dir) {
            watcher.watch(&dir, notify::RecursiveMode::NonRecursive)?;
            dirs.push(dir);
        }
    }
    Ok(FileWatch {
        _watcher: watcher,
        rx,
    })
}

async fn recv_watch(w: &mut Option<FileWatch>) -> Option<()> {
    match w {
        Some(w) => w.rx.recv().await,
        None => std::future::pending().await,
    }
}

/// What was last applied, for incremental updates.
struct Applied {
    world: World,
    planner: NodePlanner,
    ips: BTreeMap<ObjectKey, Vec<IpAddr>>,
}

/// Runs standalone mode with `speaker` until the process is interrupted.
///
/// Files are watched with inotify when `opts.watch` is set (a change is
/// acted on as soon as the writer closes the file) and polled every
/// `opts.poll` in any case (modification times; the fallback for
/// filesystems without inotify). After a reload, only the Services whose
/// objects changed are re-decided ([`NodePlanner`]) and only the changed
/// routes are sent to the speaker; a change of the configuration or of this
/// node's Node object re-plans everything.
pub async fn run(
    opts: Options,
    speaker: Speaker,
    metrics: Option<Arc<Metrics>>,
) -> Result<(), StandaloneError> {
    let mut events = speaker.subscribe();
    let demo = if opts.demo {
        let collector = Speaker::new();
        let addr = collector
            .listen(
                "127.0.0.1:0"
                    .parse()
                    .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0))),
            )
            .await?;
        println!("demo: embedded route collector listening on {addr}");
        Some(Demo {
            collector,
            addr,
            sources: BTreeMap::new(),
        })
    } else {
        None
    };
    let mut demo = demo;
    let mut collector_events = demo.as_ref().map(|d| d.collector.subscribe());

    let all_paths = [opts.config.clone(), opts.objects.clone()].concat();
    let mut watch = if opts.watch {
        match watch_files(&all_paths) {
            Ok(w) => {
                println!("watch       inotify on the configuration and object files");
                Some(w)
            }
            Err(e) => {
                println!(
                    "watch       inotify unavailable ({e}); polling every {:?}",
                    opts.poll
                );
                None
            }
        }
    } else {
        None
    };

    let mut last_mtime = None;
    let mut config: Option<Config> = None;
    let mut announcer = Announcer::new(speaker.clone());
    let mut previous_alloc: BTreeMap<ObjectKey, (Vec<IpAddr>, Option<String>)> = BTreeMap::new();
    let mut applied: Option<Applied> = None;
    let mut ticker = tokio::time::interval(opts.poll);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let mtime = newest_mtime(&all_paths);
                if mtime.is_some() && mtime == last_mtime {
                    continue;
                }
                if last_mtime.is_some() {
                    println!("watch       change seen (poll)");
                }
            }
            w = recv_watch(&mut watch) => {
                if w.is_none() {
                    watch = None;
                    continue;
                }
                // Coalesce a burst of events into one reload.
                if let Some(w) = watch.as_mut() {
                    while w.rx.try_recv().is_ok() {}
                }
                println!("watch       change seen (inotify)");
            }
            ev = events.recv() => {
                if let Ok(ev) = ev {
                    print_session_event(&ev, &announcer, "speaker");
                }
                continue;
            }
            ev = recv_opt(&mut collector_events) => {
                if let Some(Ok(ev)) = ev {
                    print_collector_event(&ev);
                }
                continue;
            }
            _ = tokio::signal::ctrl_c() => break,
        }
        last_mtime = newest_mtime(&all_paths);

        let config_paths: Vec<&Path> = opts.config.iter().map(PathBuf::as_path).collect();
        match crate::config::load_paths(&config_paths) {
            Ok(c) => {
                if config.as_ref() != Some(&c) {
                    println!(
                        "config      loaded: {} pool(s), {} peer(s), {} advertisement(s)",
                        c.pools.len(),
                        c.peers.len(),
                        c.advertisements.len()
                    );
                }
                config = Some(c);
                if let Some(m) = &metrics {
                    m.config_loaded.set(1);
                    m.config_stale.set(0);
                }
            }
            Err(e) => {
                // Keep the last good configuration: a typo never withdraws routes.
                for err in &e.0 {
                    println!("config      ERROR {err} (keeping the last good configuration)");
                }
                if let Some(m) = &metrics {
                    m.config_stale.set(i64::from(config.is_some()));
                }
            }
        }
        let Some(cfg) = &config else { continue };
        let object_paths: Vec<&Path> = opts.objects.iter().map(PathBuf::as_path).collect();
        let mut world = match crate::objects::load_paths(&object_paths) {
            Ok(w) => w,
            Err(e) => {
                println!("objects     ERROR {e} (keeping the previous announcements)");
                continue;
            }
        };
        if let Some(m) = &metrics {
            m.k8s_updates.inc();
        }
        // Allocations are sticky: feed back what we assigned before, as the
        // controller's status write would in a cluster.
        keep_previous_allocations(&mut world, &previous_alloc);

        // Incremental path: same configuration and node object, so only the
        // Services whose objects (or IPs) changed need a new decision.
        if let Some(a) = applied.as_mut() {
            if a.planner.config() == cfg {
                let diff = a.world.diff(&world);
                if !diff.nodes.contains(&opts.node) {
                    if diff.is_empty() {
                        continue;
                    }
                    let mut changed = diff.affected_services();
                    if !opts.plan.speaker_only
                        && (!diff.services.is_empty() || !diff.namespaces.is_empty())
                    {
                        let allocs =
                            crate::allocate::allocate(cfg, &world, &opts.plan.allocate_options());
                        let p = Plan {
                            allocations: Some(allocs),
                            announcements: crate::announce::NodeAnnouncements::default(),
                        };
                        print_allocation_changes(&previous_alloc, &p);
                        if let Some(allocs) = &p.allocations {
                            previous_alloc = sticky(allocs);
                            let ips = crate::announce::ips_from_allocations(allocs);
                            for k in a.ips.keys().chain(ips.keys()) {
                                if a.ips.get(k) != ips.get(k) {
                                    changed.insert(k.clone());
                                }
                            }
                            a.ips = ips;
                            if let Some(m) = &metrics {
                                m.set_pool_counters(&allocs.pools);
                            }
                        }
                    }
                    let source = if opts.plan.speaker_only {
                        IpSource::Status
                    } else {
                        IpSource::Allocated(&a.ips)
                    };
                    let delta = a.planner.update(&world, source, &changed);
                    for key in &changed {
                        if let Some(ServiceDecision::Withdrawn(v)) = a.planner.decision(key) {
                            print_skips(v);
                        }
                    }
                    for change in announcer.apply_delta(&delta) {
                        println!("{change}");
                    }
                    if let Some(m) = &metrics {
                        if !delta.is_empty() {
                            m.set_announced(&opts.node, &a.planner.announcements().announced);
                        }
                    }
                    a.world = world;
                    continue;
                }
            }
        }

        let p = plan(cfg, &world, &opts.node, &opts.plan);
        print_allocation_changes(&previous_alloc, &p);
        if let Some(a) = &p.allocations {
            previous_alloc = sticky(a);
        }
        print_skips(&p.announcements.not_announced);

        // Peers: this node's sessions (in the demo, rewired to the collector).
        let node_ip = node_address(&world, &opts.node);
        let mut wanted: HashMap<String, PeerConfig> = HashMap::new();
        for name in &p.announcements.peers {
            let Some(peer) = cfg.peers.get(name) else {
                continue;
            };
            let mut pc = peer_config(peer, node_ip);
            if let Some(d) = demo.as_mut() {
                pc = demo_rewire(d, name, peer, pc).await;
            }
            wanted.insert(name.clone(), pc);
        }
        for change in announcer.apply(wanted, &p.announcements.routes).await {
            println!("{change}");
        }
        if let (Some(m), Some(a)) = (&metrics, &p.allocations) {
            m.set_pool_counters(&a.pools);
        }
        if let Some(m) = &metrics {
            m.set_announced(&opts.node, &p.announcements.announced);
        }
        let ips = p
            .allocations
            .as_ref()
            .map(crate::announce::ips_from_allocations)
            .unwrap_or_default();
        let source = if opts.plan.speaker_only {
            IpSource::Status
        } else {
            IpSource::Allocated(&ips)
        };
        let planner = NodePlanner::new(
            cfg,
            &world,
            &opts.node,
            source,
            &opts.plan.announce_options(),
        );
        applied = Some(Applied {
            world,
            planner,
            ips,
        });
    }
    speaker
        .shutdown(Some("k8s-adapter standalone stopping".into()), false)
        .await;
    if let Some(d) = demo {
        d.collector.shutdown(None, false).await;
    }
    Ok(())
}

fn sticky(a: &crate::allocate::Allocations) -> BTreeMap<ObjectKey, (Vec<IpAddr>, Option<String>)> {
    a.services
        .iter()
        .filter(|s| s.handled && !s.ips.is_empty())
        .map(|s| (s.key.clone(), (s.ips.clone(), s.pool.clone())))
        .collect()
}

fn print_skips(list: &[crate::announce::NotAnnounced]) {
    for n in list {
        if let Some(ip) = n.ip {
            println!("skip        {} {ip}: {}", n.service, n.reason);
        }
    }
}

async fn recv_opt(
    rx: &mut Option<tokio::sync::broadcast::Receiver<SpeakerEvent>>,
) -> Option<Result<SpeakerEvent, tokio::sync::broadcast::error::RecvError>> {
    match rx {
        Some(r) => Some(r.recv().await),
        None => std::future::pending().await,
    }
}

/// Points `pc` at the demo collector from a per-peer loopback source, and
/// configures the collector to accept that session.
async fn demo_rewire(d: &mut Demo, name: &str, peer: &Peer, mut pc: PeerConfig) -> PeerConfig {
    let next = u8::try_from(10 + d.sources.len()).unwrap_or(250);
    let src = *d
        .sources
        .entry(name.to_string())
        .or_insert(IpAddr::V4(Ipv4Addr::new(127, 0, 0, next)));
    pc.remote = d.addr;
    pc.local_address = Some(src);
    pc.md5_password = None;
    pc.ttl = None;
    let collector_as = match peer.peer_asn {
        PeerAsn::Asn(a) => a,
        PeerAsn::Internal | PeerAsn::External => peer.my_asn.wrapping_add(1).max(1),
    };
    pc.remote_as = RemoteAs::Asn(collector_as);
    let key = SocketAddr::new(src, 179);
    if !d.collector.peers().contains(&key) {
        let mut c = PeerConfig::new(
            key,
            collector_as,
            RemoteAs::Asn(peer.my_asn),
            Ipv4Addr::new(192, 0, 2, 254),
        );
        c.mode = ConnectMode::Passive;
        c.idle_hold = Duration::ZERO;
        c.receive = Some(ReceiveConfig {
            max_prefixes: 100_000,
            action: MaxPrefixAction::Drop,
        });
        if let Err(e) = d.collector.add_peer(c) {
            println!("demo        collector cannot accept {name}: {e}");
        }
    }
    pc
}

fn node_address(world: &World, node: &str) -> Option<IpAddr> {
    let n = world.node(node)?;
    let addrs = n.status.as_ref()?.addresses.as_ref()?;
    addrs
        .iter()
        .find(|a| a.type_ == "InternalIP")
        .and_then(|a| a.address.parse().ok())
}

fn keep_previous_allocations(
    world: &mut World,
    previous: &BTreeMap<ObjectKey, (Vec<IpAddr>, Option<String>)>,
) {
    let keys: Vec<ObjectKey> = world.services().map(|(k, _)| k.clone()).collect();
    for key in keys {
        let Some((ips, pool)) = previous.get(&key) else {
            continue;
        };
        let Some(svc) = world.service(&key).cloned() else {
            continue;
        };
        let has_status = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| l.ingress.as_ref())
            .is_some_and(|i| !i.is_empty());
        if has_status {
            continue;
        }
        let mut svc = svc;
        svc.status = Some(ServiceStatus {
            load_balancer: Some(LoadBalancerStatus {
                ingress: Some(
                    ips.iter()
                        .map(|ip| LoadBalancerIngress {
                            ip: Some(ip.to_string()),
                            ..Default::default()
                        })
                        .collect(),
                ),
            }),
            ..Default::default()
        });
        if let Some(pool) = pool {
            svc.metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert("metallb.io/ip-allocated-from-pool".into(), pool.clone());
        }
        world.upsert_service(svc);
    }
}

fn print_session_event(ev: &SpeakerEvent, announcer: &Announcer, who: &str) {
    let name = announcer.peer_name(ev.peer).unwrap_or("?");
    match &ev.event {
        Event::Established(i) => println!(
            "session     {who} -> {name} ({}) established, peer AS {}, hold {} s",
            ev.peer, i.peer_as, i.hold_time
        ),
        Event::Down(r) => println!("session     {who} -> {name} ({}) down: {r:?}", ev.peer),
        Event::SyncComplete => println!(
            "session     {who} -> {name} ({}) initial routes sent (End-of-RIB)",
            ev.peer
        ),
        _ => {}
    }
}

fn print_collector_event(ev: &SpeakerEvent) {
    match &ev.event {
        Event::Routes {
            announced,
            withdrawn,
        } => {
            for r in announced {
                let mut parts = vec![format!(
                    "collector   received {} from {}",
                    r.nlri,
                    ev.peer.ip()
                )];
                for a in r.attributes.iter() {
                    match &a.value {
                        AttrValue::NextHop(n) => parts.push(format!("next-hop {n}")),
                        AttrValue::MpReach(m) => {
                            parts.push(format!("next-hop {}", m.next_hop.addresses().join(",")))
                        }
                        AttrValue::AsPath(p) => parts.push(format!("as-path [{p}]")),
                        AttrValue::Communities(c) => {
                            parts.push(format!(
                                "communities {}",
                                c.iter()
                                    .map(|c| c.to_string())
                                    .collect::<Vec<_>>()
                                    .join(",")
                            ));
                        }
                        AttrValue::LargeCommunities(c) => {
                            parts.push(format!(
                                "large-communities {}",
                                c.iter()
                                    .map(|c| c.to_string())
                                    .collect::<Vec<_>>()
                                    .join(",")
                            ));
                        }
                        AttrValue::LocalPref(l) => parts.push(format!("local-pref {l}")),
                        AttrValue::MultiExitDisc(m) => parts.push(format!("med {m}")),
                        _ => {}
                    }
                }
                println!("{}", parts.join(" "));
            }
            for w in withdrawn {
                println!("collector   withdrawn {} from {}", w, ev.peer.ip());
            }
        }
        Event::EndOfRib(f) => println!(
            "collector   End-of-RIB (AFI {} SAFI {}) from {}",
            f.afi.0,
            f.safi.0,
            ev.peer.ip()
        ),
        _ => {}
    }
}
