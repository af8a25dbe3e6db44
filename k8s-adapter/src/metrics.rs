//! Prometheus metrics with MetalLB's names and labels, plus the richer
//! session counters of bgp-session.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64};

use bgp_session::{Speaker, State};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::Registry;

/// Labels of `metallb_speaker_announced`.
pub type AnnouncedLabels = Vec<(&'static str, String)>;
/// The `metallb_speaker_announced` series of `ip` of `service` on `node`.
fn announced_labels(
    node: &str,
    service: &crate::world::ObjectKey,
    ip: &std::net::IpAddr,
) -> AnnouncedLabels {
    vec![
        ("service", service.to_string()),
        ("protocol", "bgp".to_string()),
        ("node", node.to_string()),
        ("ip", ip.to_string()),
    ]
}

/// Labels of the per-pool allocator gauges.
pub type PoolLabels = Vec<(&'static str, String)>;

/// Every metric the adapter exports.
pub struct Metrics {
    registry: Registry,
    /// `metallb_k8s_client_config_loaded_bool`: a configuration has been loaded.
    pub config_loaded: Gauge<i64, AtomicI64>,
    /// `metallb_k8s_client_config_stale_bool`: the running configuration is
    /// older than the last one seen (which was invalid).
    pub config_stale: Gauge<i64, AtomicI64>,
    /// `metallb_k8s_client_updates_total`: object updates processed.
    pub k8s_updates: Counter<u64, AtomicU64>,
    /// `metallb_k8s_client_update_errors_total`: updates that failed.
    pub k8s_update_errors: Counter<u64, AtomicU64>,
    /// `metallb_speaker_announced{service,protocol,node,ip}`: 1 while announced.
    pub speaker_announced: Family<AnnouncedLabels, Gauge<i64, AtomicI64>>,
    /// `metallb_allocator_addresses_total{pool}` and the per-family variants.
    pub addresses_total: [Family<PoolLabels, Gauge<i64, AtomicI64>>; 3],
    /// `metallb_allocator_addresses_in_use_total{pool}` and the per-family variants.
    pub addresses_in_use: [Family<PoolLabels, Gauge<i64, AtomicI64>>; 3],
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// A registry with every metric; BGP session metrics are read from
    /// `speaker` at scrape time when given.
    pub fn new(speaker: Option<Speaker>) -> Self {
        let mut registry = Registry::default();
        let config_loaded = Gauge::default();
        registry.register(
            "metallb_k8s_client_config_loaded_bool",
            "1 if the configuration was loaded at least once",
            config_loaded.clone(),
        );
        let config_stale = Gauge::default();
        registry.register(
            "metallb_k8s_client_config_stale_bool",
            "1 if running on a stale configuration because the latest one failed to load",
            config_stale.clone(),
        );
        let k8s_updates = Counter::default();
        registry.register(
            "metallb_k8s_client_updates",
            "Number of object updates processed",
            k8s_updates.clone(),
        );
        let k8s_update_errors = Counter::default();
        registry.register(
            "metallb_k8s_client_update_errors",
            "Number of object updates that failed",
            k8s_update_errors.clone(),
        );
        let speaker_announced = Family::default();
        registry.register(
            "metallb_speaker_announced",
            "Services being announced from this node (1 = announced)",
            speaker_announced.clone(),
        );
        let fam = || -> [Family<PoolLabels, Gauge<i64, AtomicI64>>; 3] { Default::default() };
        let addresses_total = fam();
        let addresses_in_use = fam();
        for (i, family) in ["", "ipv4_", "ipv6_"].iter().enumerate() {
            if let (Some(t), Some(u)) = (addresses_total.get(i), addresses_in_use.get(i)) {
                registry.register(
                    format!("metallb_allocator_{family}addresses_total"),
                    "Number of usable addresses, per pool",
                    t.clone(),
                );
                registry.register(
                    format!("metallb_allocator_{family}addresses_in_use_total"),
                    "Number of addresses allocated, per pool",
                    u.clone(),
                );
            }
        }
        if let Some(s) = speaker {
            registry.register_collector(Box::new(SessionCollector {
                speaker: Arc::new(s),
            }));
        }
        Self {
            registry,
            config_loaded,
            config_stale,
            k8s_updates,
            k8s_update_errors,
            speaker_announced,
            addresses_total,
            addresses_in_use,
        }
    }

    /// Sets the allocator gauges from per-pool counters (in use = assigned;
    /// total = assigned + available).
    pub fn set_pool_counters(
        &self,
        pools: &std::collections::BTreeMap<String, crate::allocate::PoolCounters>,
    ) {
        for (name, c) in pools {
            let labels = vec![("pool", name.clone())];
            // Huge IPv6 pools are reported as i64::MAX (MetalLB does the same); saturate.
            let v4 = c.assigned_ipv4.saturating_add(c.available_ipv4);
            let v6 = c.assigned_ipv6.saturating_add(c.available_ipv6);
            let total = [v4.saturating_add(v6), v4, v6];
            let used = [
                c.assigned_ipv4.saturating_add(c.assigned_ipv6),
                c.assigned_ipv4,
                c.assigned_ipv6,
            ];
            for (i, (t, u)) in total.iter().zip(used).enumerate() {
                if let Some(g) = self.addresses_total.get(i) {
                    g.get_or_create(&labels).set(*t);
                }
                if let Some(g) = self.addresses_in_use.get(i) {
                    g.get_or_create(&labels).set(u);
                }
            }
        }
    }

    /// Sets `metallb_speaker_announced` to exactly the announced service IPs of `node`.
    pub fn set_announced(
        &self,
        node: &str,
        announced: &std::collections::BTreeMap<crate::world::ObjectKey, Vec<std::net::IpAddr>>,
    ) {
        self.speaker_announced.clear();
        for (svc, ips) in announced {
            for ip in ips {
                self.speaker_announced
                    .get_or_create(&announced_labels(node, svc, ip))
                    .set(1);
            }
        }
    }

    /// Updates `metallb_speaker_announced` for one Service of `node` whose
    /// announced IPs went from `old` to `new`: the cost of one Service, not
    /// of every announced one as [`Metrics::set_announced`].
    pub fn update_announced(
        &self,
        node: &str,
        service: &crate::world::ObjectKey,
        old: &[std::net::IpAddr],
        new: &[std::net::IpAddr],
    ) {
        for ip in old.iter().filter(|ip| !new.contains(ip)) {
            self.speaker_announced
                .remove(&announced_labels(node, service, ip));
        }
        for ip in new {
            self.speaker_announced
                .get_or_create(&announced_labels(node, service, ip))
                .set(1);
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Reads per-peer session state and counters from the speaker on each scrape.
struct SessionCollector {
    speaker: Arc<Speaker>,
}

impl std::fmt::Debug for SessionCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionCollector")
    }
}

impl Collector for SessionCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let stats = self.speaker.stats();
        type Row = (
            &'static str,
            &'static str,
            bool,
            fn(State, &bgp_session::SessionStats) -> u64,
        );
        let rows: [Row; 13] = [
            (
                "metallb_bgp_session_up",
                "BGP session state (1 is up, 0 is down)",
                false,
                |s, _| u64::from(s == State::Established),
            ),
            (
                "metallb_bgp_updates",
                "Number of BGP UPDATE messages sent",
                true,
                |_, t| t.sent.update,
            ),
            (
                "metallb_bgp_announced_prefixes_total",
                "Number of prefixes currently being advertised on the BGP session",
                false,
                |_, t| t.prefixes_announced as u64,
            ),
            (
                "metallb_bgp_pending_prefixes_total",
                "Number of prefixes that should be advertised on the BGP session but are not yet",
                false,
                |_, t| t.prefixes_pending as u64,
            ),
            (
                "metallb_bgp_received_prefixes_total",
                "Number of prefixes held from the peer",
                false,
                |_, t| t.prefixes_received as u64,
            ),
            (
                "metallb_bgp_opens_sent",
                "Number of BGP OPEN messages sent",
                true,
                |_, t| t.sent.open,
            ),
            (
                "metallb_bgp_opens_received",
                "Number of BGP OPEN messages received",
                true,
                |_, t| t.received.open,
            ),
            (
                "metallb_bgp_notifications_sent",
                "Number of BGP NOTIFICATION messages sent",
                true,
                |_, t| t.sent.notification,
            ),
            (
                "metallb_bgp_notifications_received",
                "Number of BGP NOTIFICATION messages received",
                true,
                |_, t| t.received.notification,
            ),
            (
                "metallb_bgp_updates_total_received",
                "Number of BGP UPDATE messages received",
                false,
                |_, t| t.received.update,
            ),
            (
                "metallb_bgp_keepalives_sent",
                "Number of BGP KEEPALIVE messages sent",
                true,
                |_, t| t.sent.keepalive,
            ),
            (
                "metallb_bgp_keepalives_received",
                "Number of BGP KEEPALIVE messages received",
                true,
                |_, t| t.received.keepalive,
            ),
            (
                "metallb_bgp_session_flaps",
                "Number of times the session left Established",
                true,
                |_, t| t.flaps,
            ),
        ];
        for (name, help, counter, get) in rows {
            let kind = if counter {
                ConstCounter::new(0u64).metric_type()
            } else {
                ConstGauge::new(0i64).metric_type()
            };
            let mut desc = encoder.encode_descriptor(name, help, None, kind)?;
            for (peer, state, s) in &stats {
                let labels = [("peer", peer.to_string())];
                let v = get(*state, s);
                let fam = desc.encode_family(&labels)?;
                if counter {
                    ConstCounter::new(v).encode(fam)?;
                } else {
                    ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX)).encode(fam)?;
                }
            }
        }
        Ok(())
    }
}
