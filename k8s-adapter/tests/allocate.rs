//! Allocation scenarios over `kubectl get -o yaml` fixtures: one world
//! (tests/fixtures/objects/allocation.yaml) processed the way MetalLB's
//! controller does, one expectation per Service.
// Tests: unwrap/indexing on known fixtures is fine.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[path = "plan_common.rs"]
mod common;

use std::collections::BTreeMap;

use common::{allocation_config, ips, world};
use k8s_adapter::allocate::{
    AllocateOptions, Allocations, Allocator, EventType, ServiceOutcome, allocate,
};
use k8s_adapter::world::ObjectKey;

fn run() -> Allocations {
    let w = world(&["cluster.yaml", "allocation.yaml"]);
    allocate(&allocation_config(), &w, &AllocateOptions::default())
}

fn get<'a>(a: &'a Allocations, key: &str) -> &'a ServiceOutcome {
    let (ns, name) = key.split_once('/').unwrap();
    a.get(&ObjectKey::new(ns, name))
        .unwrap_or_else(|| panic!("no outcome for {key}"))
}

struct Case {
    service: &'static str,
    ips: &'static [&'static str],
    pool: Option<&'static str>,
    reason: Option<&'static str>,
    /// A substring of the reason's message, when there is a reason.
    message: &'static str,
    /// Event reasons in order.
    events: &'static [&'static str],
}

const CASES: &[Case] = &[
    // Holding a valid IP: kept, nothing to write, no event.
    Case {
        service: "default/web",
        ips: &["192.168.10.5"],
        pool: Some("default"),
        reason: None,
        message: "",
        events: &[],
    },
    // Holding an IP no pool contains: cleared, then the first free address.
    Case {
        service: "default/moved",
        ips: &["192.168.10.0"],
        pool: Some("default"),
        reason: None,
        message: "",
        events: &["ClearAssignment", "IPAllocated"],
    },
    // First free addresses in CIDR order (.0 included: no avoidBuggyIPs).
    Case {
        service: "default/api",
        ips: &["192.168.10.1"],
        pool: Some("default"),
        reason: None,
        message: "",
        events: &["IPAllocated"],
    },
    // Sharing key "dns": dns-clash takes .2; dns-tcp wants TCP/53 which
    // dns-clash uses on .2, so it gets its own .3; dns-udp (UDP/53) shares .2.
    Case {
        service: "default/dns-clash",
        ips: &["192.168.10.2"],
        pool: Some("default"),
        reason: None,
        message: "",
        events: &["IPAllocated"],
    },
    Case {
        service: "default/dns-tcp",
        ips: &["192.168.10.3"],
        pool: Some("default"),
        reason: None,
        message: "",
        events: &["IPAllocated"],
    },
    Case {
        service: "default/dns-udp",
        ips: &["192.168.10.2"],
        pool: Some("default"),
        reason: None,
        message: "",
        events: &["IPAllocated"],
    },
    // Requesting an IP held by a service without a sharing key.
    Case {
        service: "default/share-refused",
        ips: &[],
        pool: None,
        reason: Some("AllocationFailed"),
        message: "can't change sharing key for \"default/share-refused\", address also in use by default/web",
        events: &["AllocationFailed"],
    },
    // ETP Local sharing: same sharing key but a different pod selector is
    // refused; the same selector on another port shares.
    Case {
        service: "default/local-a",
        ips: &["192.168.10.100"],
        pool: Some("default"),
        reason: None,
        message: "",
        events: &["IPAllocated"],
    },
    Case {
        service: "default/local-b",
        ips: &[],
        pool: None,
        reason: Some("AllocationFailed"),
        message: "address also in use by default/local-a",
        events: &["AllocationFailed"],
    },
    Case {
        service: "default/local-c",
        ips: &["192.168.10.100"],
        pool: Some("default"),
        reason: None,
        message: "",
        events: &["IPAllocated"],
    },
    // Requested IPs.
    Case {
        service: "default/req-ok",
        ips: &["192.168.10.50"],
        pool: Some("default"),
        reason: None,
        message: "",
        events: &["IPAllocated"],
    },
    Case {
        service: "default/req-outside",
        ips: &[],
        pool: None,
        reason: Some("AllocationFailed"),
        message: "[\"203.0.113.10\"] is not allowed in config",
        events: &["AllocationFailed"],
    },
    Case {
        service: "default/req-family",
        ips: &[],
        pool: None,
        reason: Some("AllocationFailed"),
        message: "requested loadBalancer IP(s) [\"fd00:20::5\"] does not match the ipFamily of the service",
        events: &["AllocationFailed"],
    },
    Case {
        service: "default/req-both",
        ips: &[],
        pool: None,
        reason: Some("AllocationFailed"),
        message: "service can not have both metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP",
        events: &["AllocationFailed"],
    },
    Case {
        service: "default/req-pool-mismatch",
        ips: &[],
        pool: None,
        reason: Some("AllocationFailed"),
        message: "is not compatible with requested address pool reserved",
        events: &["AllocationFailed"],
    },
    // spec.loadBalancerIP from a pool with autoAssign=false works.
    Case {
        service: "default/req-spec",
        ips: &["192.168.20.3"],
        pool: Some("reserved"),
        reason: None,
        message: "",
        events: &["IPAllocated"],
    },
    // Pool annotation (autoAssign=false pool), deprecated spelling, unknown pool.
    Case {
        service: "default/pool-reserved",
        ips: &["192.168.20.1"],
        pool: Some("reserved"),
        reason: None,
        message: "",
        events: &["IPAllocated"],
    },
    Case {
        service: "default/pool-deprecated",
        ips: &["192.168.20.0"],
        pool: Some("reserved"),
        reason: None,
        message: "",
        events: &["deprecatedAnnotation", "IPAllocated"],
    },
    Case {
        service: "default/pool-unknown",
        ips: &[],
        pool: None,
        reason: Some("AllocationFailed"),
        message: "unknown pool \"nope\"",
        events: &["AllocationFailed"],
    },
    // avoidBuggyIPs: 10.30.0.255 and 10.30.1.0 are skipped.
    Case {
        service: "default/buggy",
        ips: &["10.30.1.1"],
        pool: Some("buggy"),
        reason: None,
        message: "",
        events: &["IPAllocated"],
    },
    // Not a LoadBalancer any more: stale status and annotation cleared.
    Case {
        service: "default/nodeport-stale",
        ips: &[],
        pool: None,
        reason: Some("notLoadBalancer"),
        message: "",
        events: &[],
    },
    // Another loadBalancerClass: untouched.
    Case {
        service: "default/other-class",
        ips: &[],
        pool: None,
        reason: Some("loadBalancerClass"),
        message: "example.com/other-lb",
        events: &[],
    },
    // Dual stack.
    Case {
        service: "default/dual-require",
        ips: &["172.16.0.1", "fd00:10::1"],
        pool: Some("dual"),
        reason: None,
        message: "",
        events: &["IPAllocated"],
    },
    Case {
        service: "default/dual-prefer-v6first",
        ips: &["172.16.0.0", "fd00:10::"],
        pool: Some("dual"),
        reason: None,
        message: "",
        events: &["IPAllocated"],
    },
    // PreferDualStack with no auto-assign pool holding both families: the
    // primary family (IPv4) from the first pool that has one.
    Case {
        service: "default/dual-prefer",
        ips: &["192.168.10.4"],
        pool: Some("default"),
        reason: None,
        message: "",
        events: &["IPAllocated"],
    },
    Case {
        service: "default/dual-require-auto",
        ips: &[],
        pool: None,
        reason: Some("AllocationFailed"),
        message: "no available IPs",
        events: &["AllocationFailed"],
    },
    Case {
        service: "default/v6-single",
        ips: &["fd00:20::"],
        pool: Some("v6only"),
        reason: None,
        message: "",
        events: &["IPAllocated"],
    },
    // serviceAllocation: priorities, namespaces, namespace and service selectors.
    Case {
        service: "team-a/app",
        ips: &["10.10.0.0"],
        pool: Some("team-a"),
        reason: None,
        message: "",
        events: &["IPAllocated"],
    },
    Case {
        service: "team-a/gold-app",
        ips: &["10.20.0.1"],
        pool: Some("gold"),
        reason: None,
        message: "",
        events: &["IPAllocated"],
    },
    Case {
        service: "shop/gold",
        ips: &["10.20.0.0"],
        pool: Some("gold"),
        reason: None,
        message: "",
        events: &["IPAllocated"],
    },
    Case {
        service: "team-b/app",
        ips: &["192.168.10.6"],
        pool: Some("default"),
        reason: None,
        message: "",
        events: &["IPAllocated"],
    },
];

#[test]
fn allocation_scenarios() {
    let a = run();
    let mut failures = Vec::new();
    for c in CASES {
        let o = get(&a, c.service);
        let want_ips = ips(c.ips);
        let events: Vec<&str> = o.events.iter().map(|e| e.reason.as_str()).collect();
        let ok = o.ips == want_ips
            && o.pool.as_deref() == c.pool
            && o.reason.as_deref() == c.reason
            && o.message.as_deref().unwrap_or("").contains(c.message)
            && events == c.events;
        if !ok {
            failures.push(format!(
                "{}: got ips {:?} pool {:?} reason {:?} message {:?} events {:?}",
                c.service, o.ips, o.pool, o.reason, o.message, events
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every service of the fixture is covered by a case.
    assert_eq!(a.services.len(), CASES.len(), "cases cover every service");
}

#[test]
fn events_and_status() {
    let a = run();
    let api = get(&a, "default/api");
    assert_eq!(api.events[0].type_, EventType::Normal);
    assert_eq!(api.events[0].message, "Assigned IP [\"192.168.10.1\"]");
    assert!(api.status_changed);
    let web = get(&a, "default/web");
    assert!(!web.status_changed, "a kept assignment writes nothing");
    let dual = get(&a, "default/dual-require");
    assert_eq!(
        dual.events[0].message,
        "Assigned IP [\"172.16.0.1\" \"fd00:10::1\"]"
    );
    let failed = get(&a, "default/pool-unknown");
    assert_eq!(failed.events[0].type_, EventType::Warning);
    assert_eq!(
        failed.events[0].message,
        "Failed to allocate IP for \"default/pool-unknown\": unknown pool \"nope\""
    );
    let moved = get(&a, "default/moved");
    assert!(
        moved.events[0]
            .message
            .starts_with("current IP for \"default/moved\" not allowed by config")
    );
    let stale = get(&a, "default/nodeport-stale");
    assert!(
        stale.status_changed,
        "stale ingress and pool annotation are removed"
    );
    let other = get(&a, "default/other-class");
    assert!(!other.handled && !other.status_changed);
    let dep = get(&a, "default/pool-deprecated");
    assert_eq!(dep.events[0].type_, EventType::Warning);
}

#[test]
fn pool_counters() {
    let a = run();
    let d = a.pools["default"];
    // .0 .1 .2 .3 .4 .5 .6 .50 .100
    assert_eq!(d.assigned_ipv4, 9);
    assert_eq!(d.available_ipv4, 256 - 9);
    let b = a.pools["buggy"];
    // 3 addresses, 2 of them .255/.0.
    assert_eq!((b.assigned_ipv4, b.available_ipv4), (1, 0));
    let dual = a.pools["dual"];
    assert_eq!((dual.assigned_ipv4, dual.assigned_ipv6), (2, 2));
    assert_eq!(a.pools["v6only"].available_ipv6, 7);
}

#[test]
fn processing_order_does_not_steal_running_ips() {
    // `moved` is processed before `web`, needs a new address, and must not
    // take 192.168.10.5 which `web` already holds.
    let a = run();
    assert_eq!(get(&a, "default/web").ips, ips(&["192.168.10.5"]));
    assert_ne!(get(&a, "default/moved").ips, ips(&["192.168.10.5"]));
}

#[test]
fn lb_class_option() {
    let w = world(&["cluster.yaml", "allocation.yaml"]);
    let opts = AllocateOptions {
        lb_class: Some("example.com/other-lb".into()),
    };
    let a = allocate(&allocation_config(), &w, &opts);
    let other = get(&a, "default/other-class");
    assert!(other.handled);
    assert_eq!(other.ips, ips(&["192.168.10.0"]));
    // Class-less services are now someone else's.
    let web = get(&a, "default/web");
    assert!(!web.handled);
    assert_eq!(web.reason.as_deref(), Some("loadBalancerClass"));
}

#[test]
fn incremental_allocator() {
    let w = world(&["cluster.yaml", "allocation.yaml"]);
    let cfg = allocation_config();
    let opts = AllocateOptions::default();
    let mut al = Allocator::new(&cfg);
    let svc = |k: &str| {
        let (ns, name) = k.split_once('/').unwrap();
        w.service(&ObjectKey::new(ns, name)).unwrap().clone()
    };
    let api = al.reconcile(&w, &svc("default/api"), &opts);
    assert_eq!(api.ips, ips(&["192.168.10.0"]));
    let web = al.reconcile(&w, &svc("default/web"), &opts);
    assert_eq!(web.ips, ips(&["192.168.10.5"]));
    // Reconciling again with the old (empty) status gives the same address
    // back: the assignment is released and re-made.
    let again = al.reconcile(&w, &svc("default/api"), &opts);
    assert_eq!(again.ips, ips(&["192.168.10.0"]));
    assert_eq!(al.pool(&ObjectKey::new("default", "api")), Some("default"));
    // Deleting frees the address for the next service.
    assert!(al.release(&ObjectKey::new("default", "api")));
    let next = al.reconcile(&w, &svc("team-b/app"), &opts);
    assert_eq!(next.ips, ips(&["192.168.10.0"]));
    assert_eq!(al.pool_for(&ips(&["192.168.20.7"])), Some("reserved"));
    assert_eq!(al.pool_for(&ips(&["10.30.1.0"])), None, "buggy address");
}

#[test]
fn status_round_trip_is_stable() {
    // Writing every outcome back as status and allocating again keeps every
    // address and writes nothing.
    let mut w = world(&["cluster.yaml", "allocation.yaml"]);
    let cfg = allocation_config();
    let first = allocate(&cfg, &w, &AllocateOptions::default());
    let by_key: BTreeMap<ObjectKey, ServiceOutcome> = first
        .services
        .iter()
        .map(|o| (o.key.clone(), o.clone()))
        .collect();
    let keys: Vec<ObjectKey> = w.services().map(|(k, _)| k.clone()).collect();
    for k in keys {
        let o = &by_key[&k];
        if !o.handled {
            continue;
        }
        let mut svc = w.service(&k).unwrap().clone();
        let ingress: Vec<_> = o
            .ips
            .iter()
            .map(|ip| k8s_openapi::api::core::v1::LoadBalancerIngress {
                ip: Some(ip.to_string()),
                ..Default::default()
            })
            .collect();
        svc.status = Some(k8s_openapi::api::core::v1::ServiceStatus {
            load_balancer: Some(k8s_openapi::api::core::v1::LoadBalancerStatus {
                ingress: Some(ingress),
            }),
            ..Default::default()
        });
        let ann = svc.metadata.annotations.get_or_insert_with(BTreeMap::new);
        match &o.pool {
            Some(p) => {
                ann.insert("metallb.io/ip-allocated-from-pool".into(), p.clone());
            }
            None => {
                ann.remove("metallb.io/ip-allocated-from-pool");
            }
        }
        w.upsert_service(svc);
    }
    let second = allocate(&cfg, &w, &AllocateOptions::default());
    for o in &second.services {
        let before = &by_key[&o.key];
        assert_eq!(o.ips, before.ips, "{}", o.key);
        if before.reason.is_none() {
            assert!(!o.status_changed, "{} rewrites its status", o.key);
            // Only the deprecation warning and PreferDualStack's retry for
            // the missing family are repeated.
            assert!(
                o.events
                    .iter()
                    .all(|e| e.reason == "deprecatedAnnotation"
                        || e.reason == "AdditionalAssignFailed"),
                "{}: {:?}",
                o.key,
                o.events
            );
        }
    }
}
