//! LoadBalancer IP allocation with MetalLB's rules (controller side).
//!
//! [`Allocator`] holds the assignment state — per pool the set of used
//! addresses, per address its users, ports and sharing key — and converges
//! one Service at a time exactly as MetalLB's controller does
//! (`convergeBalancer`): keep a still-valid assignment, honour requested IPs
//! and the pool annotation, otherwise pick pools by `serviceAllocation`
//! priority and take the first free (or shareable) address in CIDR order.
//! [`allocate`] runs it over a whole [`World`] deterministically.
//!
//! Converging one service costs time proportional to that service (its
//! addresses, ports and sharing group, plus a logarithmic lookup per used
//! address range crossed while searching a pool), never to the number of
//! services.

mod ipset;
pub mod service;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::Service;
use serde::Serialize;

use crate::config::{Config, ServiceAllocation};
use crate::world::{ObjectKey, World, annotations, handles_class, is_load_balancer, labels};

use ipset::{RangeSet, bounds, from_u128, is_buggy, to_u128};
use service::{Family, FamilyPolicy, Port, quoted};

/// Options of the allocator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllocateOptions {
    /// `--lb-class`: when set, only services with this `spec.loadBalancerClass`
    /// are handled; when unset, only services without a class.
    pub lb_class: Option<String>,
}

/// Kubernetes event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum EventType {
    /// `Normal` (MetalLB's `Infof`).
    Normal,
    /// `Warning` (MetalLB's `Errorf`).
    Warning,
}

/// An event MetalLB's controller would record on the Service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Normal or Warning.
    #[serde(rename = "type")]
    pub type_: EventType,
    /// Reason, e.g. `IPAllocated`, `AllocationFailed`.
    pub reason: String,
    /// Message.
    pub message: String,
}

/// The allocator's decision for one Service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceOutcome {
    /// The service.
    pub key: ObjectKey,
    /// Whether this adapter handles the service (`spec.loadBalancerClass`);
    /// the status of an unhandled service must not be touched.
    pub handled: bool,
    /// The IPs in `status.loadBalancer.ingress` after convergence (what the
    /// speaker announces).
    pub ips: Vec<IpAddr>,
    /// The value of annotation `metallb.io/ip-allocated-from-pool` after
    /// convergence (`None`: absent).
    pub pool: Option<String>,
    /// Why the service did not converge to an allocation (MetalLB event or
    /// log reason: `AllocationFailed`, `LoadBalancerFailed`,
    /// `notLoadBalancer`, `noClusterIPs`, `noConfig`,
    /// `noclusterIPsIPFamily`, `loadBalancerClass`).
    pub reason: Option<String>,
    /// Details for `reason`.
    pub message: Option<String>,
    /// Events MetalLB's controller would record during this convergence.
    pub events: Vec<Event>,
    /// Whether the ingress IPs or the pool annotation differ from the
    /// Service object (the status/annotation must be written).
    pub status_changed: bool,
}

impl ServiceOutcome {
    fn new(key: ObjectKey) -> Self {
        Self {
            key,
            handled: true,
            ips: Vec::new(),
            pool: None,
            reason: None,
            message: None,
            events: Vec::new(),
            status_changed: false,
        }
    }

    fn info(&mut self, reason: &str, message: String) {
        self.events.push(Event {
            type_: EventType::Normal,
            reason: reason.to_owned(),
            message,
        });
    }

    fn warn(&mut self, reason: &str, message: String) {
        self.events.push(Event {
            type_: EventType::Warning,
            reason: reason.to_owned(),
            message,
        });
    }

    fn fail(&mut self, reason: &str, message: impl Into<String>) {
        self.reason = Some(reason.to_owned());
        self.message = Some(message.into());
    }
}

/// IPAddressPool status counters (MetalLB's `PoolCounters`); capacities of
/// 2^62 addresses or more are reported as `i64::MAX`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PoolCounters {
    /// `status.assignedIPv4`.
    pub assigned_ipv4: i64,
    /// `status.assignedIPv6`.
    pub assigned_ipv6: i64,
    /// `status.availableIPv4`.
    pub available_ipv4: i64,
    /// `status.availableIPv6`.
    pub available_ipv6: i64,
}

/// The result of allocating over a whole [`World`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allocations {
    /// Per service, in processing order (services holding IPs first).
    pub services: Vec<ServiceOutcome>,
    /// Per pool counters after allocation.
    pub pools: BTreeMap<String, PoolCounters>,
}

impl Allocations {
    /// The outcome of one service.
    pub fn get(&self, key: &ObjectKey) -> Option<&ServiceOutcome> {
        self.services.iter().find(|s| &s.key == key)
    }
}

/// Allocates IPs for every Service of `world` from a fresh [`Allocator`]:
/// services already holding ingress IPs keep them first (most IPs first,
/// then by namespace/name), then the others are allocated in namespace/name
/// order. The result is independent of the order objects were loaded in.
pub fn allocate(config: &Config, world: &World, opts: &AllocateOptions) -> Allocations {
    let mut a = Allocator::new(config);
    let services = a.reconcile_all(world, opts);
    Allocations {
        services,
        pools: a.pool_counters(),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct SharingKey {
    sharing: String,
    backend: String,
}

#[derive(Clone, Debug)]
struct PoolState {
    name: String,
    cidrs: Vec<IpNet>,
    auto_assign: bool,
    avoid_buggy: bool,
    allocation: Option<ServiceAllocation>,
    used_v4: RangeSet,
    used_v6: RangeSet,
    capacity_v4: i64,
    capacity_v6: i64,
}

#[derive(Clone, Debug)]
struct IpUse {
    pool: usize,
    key: SharingKey,
    ports: BTreeMap<Port, ObjectKey>,
    services: BTreeSet<ObjectKey>,
}

#[derive(Clone, Debug)]
struct Alloc {
    pool: usize,
    ips: Vec<IpAddr>,
    ports: Vec<Port>,
}

/// Free candidates of one pool, one per family.
#[derive(Clone, Copy, Debug, Default)]
struct Candidates {
    pool: usize,
    v4: Option<IpAddr>,
    v6: Option<IpAddr>,
}

impl Candidates {
    fn get(&self, f: Family) -> Option<IpAddr> {
        match f {
            Family::V4 => self.v4,
            Family::V6 => self.v6,
            Family::Dual => None,
        }
    }
}

/// Incremental IP allocation state for one configuration.
#[derive(Clone, Debug)]
pub struct Allocator {
    pools: Vec<PoolState>,
    by_name: BTreeMap<String, usize>,
    ips: HashMap<IpAddr, IpUse>,
    by_sharing: BTreeMap<String, BTreeSet<IpAddr>>,
    allocated: BTreeMap<ObjectKey, Alloc>,
}

/// Where convergence stands after the keep stage.
enum Stage {
    /// Continue with allocation.
    Continue(Box<Ctx>),
    /// Converged (or failed) already.
    Done(ServiceOutcome),
}

/// Convergence state between the keep and allocate stages.
struct Ctx {
    out: ServiceOutcome,
    lb_ips: Vec<IpAddr>,
    status_ips: Vec<IpAddr>,
    status_pool: Option<String>,
    orig_ips: Vec<IpAddr>,
    orig_pool: Option<String>,
    cluster_family: Option<Family>,
}

impl Allocator {
    /// An allocator over the pools of `config`, with nothing assigned.
    pub fn new(config: &Config) -> Self {
        let pools: Vec<PoolState> = config
            .pools
            .values()
            .map(|p| {
                let (v4, v6) = capacity(&p.cidrs, p.avoid_buggy_ips);
                PoolState {
                    name: p.name.clone(),
                    cidrs: p.cidrs.clone(),
                    auto_assign: p.auto_assign,
                    avoid_buggy: p.avoid_buggy_ips,
                    allocation: p.allocation.clone(),
                    used_v4: RangeSet::default(),
                    used_v6: RangeSet::default(),
                    capacity_v4: v4,
                    capacity_v6: v6,
                }
            })
            .collect();
        let by_name = pools
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect();
        Self {
            pools,
            by_name,
            ips: HashMap::new(),
            by_sharing: BTreeMap::new(),
            allocated: BTreeMap::new(),
        }
    }

    /// The IPs currently assigned to a service.
    pub fn ips(&self, key: &ObjectKey) -> Option<&[IpAddr]> {
        self.allocated.get(key).map(|a| a.ips.as_slice())
    }

    /// The pool a service's IPs come from.
    pub fn pool(&self, key: &ObjectKey) -> Option<&str> {
        let a = self.allocated.get(key)?;
        self.pools.get(a.pool).map(|p| p.name.as_str())
    }

    /// The configured pool containing every address of `ips` (skipping
    /// `.0`/`.255` in `avoidBuggyIPs` pools), MetalLB's `poolFor`.
    pub fn pool_for(&self, ips: &[IpAddr]) -> Option<&str> {
        self.pool_index_for(ips)
            .and_then(|i| self.pools.get(i))
            .map(|p| p.name.as_str())
    }

    /// Per pool counters.
    pub fn pool_counters(&self) -> BTreeMap<String, PoolCounters> {
        self.pools
            .iter()
            .map(|p| {
                let a4 = i64::try_from(p.used_v4.len()).unwrap_or(i64::MAX);
                let a6 = i64::try_from(p.used_v6.len()).unwrap_or(i64::MAX);
                (
                    p.name.clone(),
                    PoolCounters {
                        assigned_ipv4: a4,
                        assigned_ipv6: a6,
                        available_ipv4: p.capacity_v4.saturating_sub(a4),
                        available_ipv6: p.capacity_v6.saturating_sub(a6),
                    },
                )
            })
            .collect()
    }

    /// Forgets a service's assignment (the service was deleted); returns
    /// whether it held any IP — then services that failed allocation may
    /// now succeed.
    pub fn release(&mut self, key: &ObjectKey) -> bool {
        self.unassign(key)
    }

    /// Converges one Service (MetalLB's `convergeBalancer`) against the
    /// current state and returns the decision.
    pub fn reconcile(
        &mut self,
        world: &World,
        svc: &Service,
        opts: &AllocateOptions,
    ) -> ServiceOutcome {
        match self.keep_stage(world, svc, opts) {
            Stage::Continue(ctx) => self.allocate_stage(world, svc, *ctx),
            Stage::Done(out) => out,
        }
    }

    /// Converges every Service of `world`: first every service holding
    /// ingress IPs re-asserts them (most IPs first, then namespace/name), so
    /// no running address is handed to another service; then missing
    /// allocations are made in the same order.
    pub fn reconcile_all(&mut self, world: &World, opts: &AllocateOptions) -> Vec<ServiceOutcome> {
        let mut order: Vec<(&ObjectKey, &Service)> = world.services().collect();
        order.sort_by(|(ka, a), (kb, b)| {
            let na = service::ingress_ips(a).map_or(0, |v| v.len());
            let nb = service::ingress_ips(b).map_or(0, |v| v.len());
            nb.cmp(&na).then_with(|| ka.cmp(kb))
        });
        let staged: Vec<(&Service, Stage)> = order
            .into_iter()
            .map(|(_, svc)| (svc, self.keep_stage(world, svc, opts)))
            .collect();
        staged
            .into_iter()
            .map(|(svc, st)| match st {
                Stage::Continue(ctx) => self.allocate_stage(world, svc, *ctx),
                Stage::Done(out) => out,
            })
            .collect()
    }

    /// Everything up to allocation: early exits, and keeping or clearing
    /// the current IPs.
    fn keep_stage(&mut self, world: &World, svc: &Service, opts: &AllocateOptions) -> Stage {
        let key = ObjectKey::of(&svc.metadata);
        let mut out = ServiceOutcome::new(key.clone());
        let orig_pool = annotations(&svc.metadata)
            .get(service::ANNOTATION_IP_ALLOCATED_FROM_POOL)
            .cloned();
        let parsed_ingress = service::ingress_ips(svc);
        let orig_ips = parsed_ingress.clone().unwrap_or_default();

        if !handles_class(svc, opts.lb_class.as_deref()) {
            self.unassign(&key);
            out.handled = false;
            let class = svc
                .spec
                .as_ref()
                .and_then(|s| s.load_balancer_class.clone())
                .unwrap_or_else(|| "<none>".to_owned());
            let mine = opts.lb_class.as_deref().unwrap_or("<none>");
            out.fail(
                "loadBalancerClass",
                format!("loadBalancerClass {class} is not handled (handling {mine})"),
            );
            out.ips = orig_ips;
            out.pool = orig_pool;
            return Stage::Done(out);
        }

        let mut ctx = Ctx {
            out,
            lb_ips: Vec::new(),
            status_ips: orig_ips.clone(),
            status_pool: orig_pool.clone(),
            orig_ips,
            orig_pool,
            cluster_family: None,
        };
        for a in service::deprecated_annotations(svc) {
            let stable = a.replacen(service::DEPRECATED_ANNOTATION_PREFIX, "metallb.io/", 1);
            ctx.out.warn(
                "deprecatedAnnotation",
                format!("annotation {a} is deprecated, use {stable} instead"),
            );
        }

        if !is_load_balancer(svc) {
            self.clear(&mut ctx);
            ctx.out.fail("notLoadBalancer", "not a LoadBalancer");
            return Stage::Done(self.finish(ctx));
        }
        if self.pools.is_empty() {
            self.clear(&mut ctx);
            ctx.out.fail("noConfig", "no address pools configured");
            return Stage::Done(self.finish(ctx));
        }
        if !service::has_cluster_ips(svc) {
            self.clear(&mut ctx);
            ctx.out.fail("noClusterIPs", "no ClusterIPs");
            return Stage::Done(self.finish(ctx));
        }
        let policy = service::family_policy(svc);

        let mut lb_ips = match parsed_ingress {
            Ok(v) => v,
            Err(e) => {
                ctx.out.warn(
                    "nolbIPsIPFamily",
                    format!("Failed to retrieve LBIPs IPFamily: {e}"),
                );
                self.clear(&mut ctx);
                Vec::new()
            }
        };
        if lb_ips.is_empty() {
            self.clear(&mut ctx);
        } else {
            let lb_family = match Family::of_all(&lb_ips) {
                Ok(f) => Some(f),
                Err(e) => {
                    ctx.out.warn(
                        "nolbIPsIPFamily",
                        format!(
                            "Failed to retrieve LBIPs IPFamily for {}: {e}",
                            quoted(&lb_ips)
                        ),
                    );
                    None
                }
            };
            let cluster_family = match service::cluster_family(svc) {
                Ok(f) => f,
                Err(e) => {
                    let msg = format!("Failed to retrieve ClusterIPs IPFamily: {e}");
                    ctx.out.warn("noclusterIPsIPFamily", msg.clone());
                    ctx.out.fail("noclusterIPsIPFamily", msg);
                    return Stage::Done(self.finish(ctx));
                }
            };
            ctx.cluster_family = Some(cluster_family);
            let changed = match lb_family {
                None => true,
                Some(f) if f == cluster_family => false,
                Some(_) => {
                    !(cluster_family == Family::Dual && policy == FamilyPolicy::PreferDualStack)
                }
            };
            if changed {
                self.clear(&mut ctx);
                lb_ips.clear();
            }
        }

        if !lb_ips.is_empty() {
            let ports = service::ports(svc);
            let sk = sharing_key_of(svc);
            if let Err(e) = self.assign(world, svc, &ctx.out.key, &lb_ips, &ports, &sk) {
                let msg = format!(
                    "current IP for {:?} not allowed by config, will attempt for new IP assignment: {e}",
                    ctx.out.key.to_string()
                );
                ctx.out.info("ClearAssignment", msg);
                self.clear(&mut ctx);
                lb_ips.clear();
            }
            let desired_pool = service::desired_pool(svc);
            if !lb_ips.is_empty()
                && !desired_pool.is_empty()
                && self.pool(&ctx.out.key) != Some(desired_pool)
            {
                self.clear(&mut ctx);
                lb_ips.clear();
            }
            match service::desired_ips(svc) {
                Err(e) => {
                    let msg = format!("invalid requested loadbalancer IPs: {e}");
                    ctx.out.warn("LoadBalancerFailed", msg.clone());
                    ctx.out.fail("LoadBalancerFailed", msg);
                    return Stage::Done(self.finish(ctx));
                }
                Ok(Some((desired, _))) if !lb_ips.is_empty() && !same_ips(&lb_ips, &desired) => {
                    self.clear(&mut ctx);
                    lb_ips.clear();
                }
                Ok(_) => {}
            }
        }
        ctx.lb_ips = lb_ips;
        Stage::Continue(Box::new(ctx))
    }

    /// The PreferDualStack top-up, allocation when nothing is held, and the
    /// final status.
    fn allocate_stage(&mut self, world: &World, svc: &Service, mut ctx: Ctx) -> ServiceOutcome {
        let key = ctx.out.key.clone();
        let ports = service::ports(svc);
        let sk = sharing_key_of(svc);
        let policy = service::family_policy(svc);
        // MetalLB tries this whenever the policy is PreferDualStack; we only
        // do when the service really has two cluster IPs, otherwise the
        // second address would be cleared again on the next pass (family
        // change) and the assignment would flap.
        if let [existing] = ctx.lb_ips.as_slice() {
            if policy == FamilyPolicy::PreferDualStack && ctx.cluster_family == Some(Family::Dual) {
                let existing = *existing;
                match self.allocate_additional(world, svc, &key, existing, &ports, &sk) {
                    Ok(ip) => {
                        ctx.lb_ips.push(ip);
                        ctx.out
                            .info("IPAllocated", format!("Assigned additional IP \"{ip}\""));
                    }
                    Err(e) => ctx.out.info(
                        "AdditionalAssignFailed",
                        format!("cannot assign additional IP in PreferDualStack: {e}"),
                    ),
                }
            }
        }
        if ctx.lb_ips.is_empty() {
            match self.allocate_ips(world, svc, &key, &ports, &sk) {
                Ok(ips) => {
                    ctx.out
                        .info("IPAllocated", format!("Assigned IP {}", quoted(&ips)));
                    ctx.lb_ips = ips;
                }
                Err(e) => {
                    let msg = format!("Failed to allocate IP for {:?}: {e}", key.to_string());
                    ctx.out.warn("AllocationFailed", msg.clone());
                    ctx.out.fail("AllocationFailed", msg);
                    return self.finish(ctx);
                }
            }
        }
        match self.pool(&key).map(str::to_owned) {
            Some(pool) => {
                ctx.status_ips = ctx.lb_ips.clone();
                ctx.status_pool = Some(pool);
            }
            None => {
                ctx.out
                    .warn("InternalError", "allocated an IP that has no pool".into());
                ctx.out
                    .fail("InternalError", "allocated an IP that has no pool");
                self.clear(&mut ctx);
            }
        }
        self.finish(ctx)
    }

    fn finish(&self, mut ctx: Ctx) -> ServiceOutcome {
        ctx.out.status_changed = ctx.status_ips != ctx.orig_ips || ctx.status_pool != ctx.orig_pool;
        ctx.out.ips = ctx.status_ips;
        ctx.out.pool = ctx.status_pool;
        ctx.out
    }

    /// MetalLB's `clearServiceState`.
    fn clear(&mut self, ctx: &mut Ctx) {
        self.unassign(&ctx.out.key);
        ctx.status_ips.clear();
        ctx.status_pool = None;
    }

    fn allocate_ips(
        &mut self,
        world: &World,
        svc: &Service,
        key: &ObjectKey,
        ports: &[Port],
        sk: &SharingKey,
    ) -> Result<Vec<IpAddr>, String> {
        let family = service::cluster_family(svc)?;
        let desired = service::desired_ips(svc)?;
        let desired_pool = service::desired_pool(svc);
        if let Some((ips, desired_family)) = desired {
            if family != desired_family {
                return Err(format!(
                    "requested loadBalancer IP(s) {} does not match the ipFamily of the service",
                    quoted(&ips)
                ));
            }
            self.assign(world, svc, key, &ips, ports, sk)?;
            if !desired_pool.is_empty() && self.pool(key) != Some(desired_pool) {
                self.unassign(key);
                return Err(format!(
                    "requested loadBalancer IP(s) {} is not compatible with requested address pool {desired_pool}",
                    quoted(&ips)
                ));
            }
            return Ok(ips);
        }
        let policy = service::family_policy(svc);
        if !desired_pool.is_empty() {
            let pool = *self
                .by_name
                .get(desired_pool)
                .ok_or_else(|| format!("unknown pool {desired_pool:?}"))?;
            let cands = self.free_ips(pool, key, ports, sk);
            let ips = self.select(&cands, family, policy)?;
            self.assign(world, svc, key, &ips, ports, sk)?;
            return Ok(ips);
        }
        // Pools pinned to the service by serviceAllocation, by priority.
        let mut pinned: Vec<usize> = (0..self.pools.len())
            .filter(|&i| {
                self.pools.get(i).is_some_and(|p| {
                    p.auto_assign && p.allocation.is_some() && compatible(world, p, svc)
                })
            })
            .collect();
        pinned.sort_by_key(|&i| {
            let prio = self
                .pools
                .get(i)
                .and_then(|p| p.allocation.as_ref())
                .map_or(0, |a| a.priority);
            (prio <= 0, prio, i)
        });
        if let Ok(ips) =
            self.allocate_from_pools(world, svc, key, &pinned, family, policy, ports, sk)
        {
            return Ok(ips);
        }
        let rest: Vec<usize> = (0..self.pools.len())
            .filter(|&i| {
                self.pools
                    .get(i)
                    .is_some_and(|p| p.auto_assign && p.allocation.is_none())
            })
            .collect();
        if let Ok(ips) = self.allocate_from_pools(world, svc, key, &rest, family, policy, ports, sk)
        {
            return Ok(ips);
        }
        Err("no available IPs".to_owned())
    }

    #[allow(clippy::too_many_arguments)]
    fn allocate_from_pools(
        &mut self,
        world: &World,
        svc: &Service,
        key: &ObjectKey,
        pools: &[usize],
        family: Family,
        policy: FamilyPolicy,
        ports: &[Port],
        sk: &SharingKey,
    ) -> Result<Vec<IpAddr>, String> {
        let cands = self.best_pool(svc, key, pools, family, policy, ports, sk)?;
        let ips = self.select(&cands, family, policy)?;
        self.assign(world, svc, key, &ips, ports, sk)?;
        Ok(ips)
    }

    /// MetalLB's `findBestPoolForService`.
    #[allow(clippy::too_many_arguments)]
    fn best_pool(
        &self,
        svc: &Service,
        key: &ObjectKey,
        pools: &[usize],
        family: Family,
        policy: FamilyPolicy,
        ports: &[Port],
        sk: &SharingKey,
    ) -> Result<Candidates, String> {
        let (primary, secondary) = match service::primary_family(svc) {
            Family::V6 => (Family::V6, Family::V4),
            _ => (Family::V4, Family::V6),
        };
        let prefer_dual = policy == FamilyPolicy::PreferDualStack && family == Family::Dual;
        let mut primary_cand = None;
        let mut secondary_cand = None;
        for &p in pools {
            let c = self.free_ips(p, key, ports, sk);
            if c.get(family).is_some() {
                return Ok(c);
            }
            let has_p = c.get(primary).is_some();
            let has_s = c.get(secondary).is_some();
            if has_p && has_s {
                return Ok(c);
            }
            if !prefer_dual {
                continue;
            }
            if has_p && primary_cand.is_none() {
                primary_cand = Some(c);
            }
            if has_s && secondary_cand.is_none() {
                secondary_cand = Some(c);
            }
        }
        primary_cand
            .or(secondary_cand)
            .ok_or_else(|| format!("no suitable pool for {family} IPFamily"))
    }

    /// MetalLB's `selectIPsForFamilyAndPolicy`.
    fn select(
        &self,
        c: &Candidates,
        family: Family,
        policy: FamilyPolicy,
    ) -> Result<Vec<IpAddr>, String> {
        let name = self.pools.get(c.pool).map_or("", |p| p.name.as_str());
        let none = || format!("no available IPs in pool {name:?} for {family} IPFamily");
        match family {
            Family::V4 | Family::V6 => c.get(family).map(|ip| vec![ip]).ok_or_else(none),
            Family::Dual => match (policy, c.v4, c.v6) {
                (FamilyPolicy::SingleStack, _, _) => Err(none()),
                (_, Some(a), Some(b)) => Ok(vec![a, b]),
                (FamilyPolicy::PreferDualStack, Some(a), None)
                | (FamilyPolicy::PreferDualStack, None, Some(a)) => Ok(vec![a]),
                _ => Err(none()),
            },
        }
    }

    /// MetalLB's `AllocateFromPoolForAdditionalFamily`.
    fn allocate_additional(
        &mut self,
        world: &World,
        svc: &Service,
        key: &ObjectKey,
        existing: IpAddr,
        ports: &[Port],
        sk: &SharingKey,
    ) -> Result<IpAddr, String> {
        let additional = match Family::of(existing) {
            Family::V4 => Family::V6,
            _ => Family::V4,
        };
        let pool = self
            .allocated
            .get(key)
            .map(|a| a.pool)
            .ok_or_else(|| "unknown pool \"\"".to_owned())?;
        let c = self.free_ips(pool, key, ports, sk);
        let ip = self
            .select(&c, additional, FamilyPolicy::SingleStack)?
            .first()
            .copied()
            .ok_or_else(|| "no available IPs".to_owned())?;
        self.assign(world, svc, key, &[existing, ip], ports, sk)?;
        Ok(ip)
    }

    /// MetalLB's `getFreeIPsFromPool`: the first usable address of each
    /// family, CIDRs in declaration order.
    fn free_ips(
        &self,
        pool: usize,
        key: &ObjectKey,
        ports: &[Port],
        sk: &SharingKey,
    ) -> Candidates {
        let mut c = Candidates {
            pool,
            ..Candidates::default()
        };
        let Some(p) = self.pools.get(pool) else {
            return c;
        };
        for cidr in &p.cidrs {
            let v4 = matches!(cidr, IpNet::V4(_));
            if (v4 && c.v4.is_some()) || (!v4 && c.v6.is_some()) {
                continue;
            }
            let ip = self.ip_from_cidr(p, cidr, key, ports, sk);
            if v4 {
                c.v4 = ip;
            } else {
                c.v6 = ip;
            }
        }
        c
    }

    /// MetalLB's `getIPFromCIDR`: the first address of `cidr` that is free
    /// or shareable by this service.
    fn ip_from_cidr(
        &self,
        p: &PoolState,
        cidr: &IpNet,
        key: &ObjectKey,
        ports: &[Port],
        sk: &SharingKey,
    ) -> Option<IpAddr> {
        let v4 = matches!(cidr, IpNet::V4(_));
        let avoid = p.avoid_buggy && v4;
        let (lo, hi) = bounds(cidr);
        let used = if v4 { &p.used_v4 } else { &p.used_v6 };
        let gap = used.first_gap(lo, hi, avoid).map(|n| from_u128(n, v4));
        let shared = if sk.sharing.is_empty() {
            None
        } else {
            self.by_sharing.get(&sk.sharing).and_then(|set| {
                set.range(from_u128(lo, v4)..=from_u128(hi, v4))
                    .find(|ip| {
                        !(avoid && is_buggy(**ip))
                            && self.check_sharing(key, **ip, ports, sk).is_ok()
                    })
                    .copied()
            })
        };
        match (gap, shared) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn pool_index_for(&self, ips: &[IpAddr]) -> Option<usize> {
        if ips.is_empty() {
            return None;
        }
        self.pools.iter().position(|p| {
            ips.iter().all(|ip| {
                !(p.avoid_buggy && is_buggy(*ip)) && p.cidrs.iter().any(|c| c.contains(ip))
            })
        })
    }

    /// MetalLB's `Assign`.
    fn assign(
        &mut self,
        world: &World,
        svc: &Service,
        key: &ObjectKey,
        ips: &[IpAddr],
        ports: &[Port],
        sk: &SharingKey,
    ) -> Result<(), String> {
        let pool = self
            .pool_index_for(ips)
            .ok_or_else(|| format!("{} is not allowed in config", quoted(ips)))?;
        if let Some(p) = self.pools.get(pool) {
            if !compatible(world, p, svc) {
                return Err(format!("pool {} not compatible for ip assignment", p.name));
            }
        }
        if ips.len() > 2 {
            return Err(format!("more than two addresses {}", quoted(ips)));
        }
        if let [a, b] = ips {
            if Family::of(*a) == Family::of(*b) {
                return Err(format!("\"{a}\" \"{b}\" has the same family"));
            }
        }
        for ip in ips {
            self.check_sharing(key, *ip, ports, sk)?;
        }
        self.unassign(key);
        self.record(
            key,
            Alloc {
                pool,
                ips: ips.to_vec(),
                ports: ports.to_vec(),
            },
            sk,
        );
        Ok(())
    }

    /// MetalLB's `checkSharing`.
    fn check_sharing(
        &self,
        key: &ObjectKey,
        ip: IpAddr,
        ports: &[Port],
        sk: &SharingKey,
    ) -> Result<(), String> {
        let Some(u) = self.ips.get(&ip) else {
            return Ok(());
        };
        if sharing_ok(&u.key, sk).is_err() {
            let others: Vec<String> = u
                .services
                .iter()
                .filter(|s| *s != key)
                .map(ToString::to_string)
                .collect();
            if !others.is_empty() {
                return Err(format!(
                    "can't change sharing key for {:?}, address also in use by {}",
                    key.to_string(),
                    others.join(",")
                ));
            }
        }
        for port in ports {
            if let Some(cur) = u.ports.get(port) {
                if cur != key {
                    return Err(format!("port {port} is already in use on \"{ip}\""));
                }
            }
        }
        Ok(())
    }

    fn record(&mut self, key: &ObjectKey, alloc: Alloc, sk: &SharingKey) {
        for ip in &alloc.ips {
            let ip = *ip;
            let u = self.ips.entry(ip).or_insert_with(|| IpUse {
                pool: alloc.pool,
                key: sk.clone(),
                ports: BTreeMap::new(),
                services: BTreeSet::new(),
            });
            if u.key.sharing != sk.sharing {
                if let Some(set) = self.by_sharing.get_mut(&u.key.sharing) {
                    set.remove(&ip);
                }
            }
            u.key = sk.clone();
            for port in &alloc.ports {
                u.ports.insert(port.clone(), key.clone());
            }
            u.services.insert(key.clone());
            let pool = u.pool;
            if !sk.sharing.is_empty() {
                self.by_sharing
                    .entry(sk.sharing.clone())
                    .or_default()
                    .insert(ip);
            }
            if let Some(p) = self.pools.get_mut(pool) {
                if ip.is_ipv4() {
                    p.used_v4.insert(to_u128(ip));
                } else {
                    p.used_v6.insert(to_u128(ip));
                }
            }
        }
        self.allocated.insert(key.clone(), alloc);
    }

    /// MetalLB's `Unassign`; returns whether anything was held.
    fn unassign(&mut self, key: &ObjectKey) -> bool {
        let Some(alloc) = self.allocated.remove(key) else {
            return false;
        };
        for ip in &alloc.ips {
            let Some(u) = self.ips.get_mut(ip) else {
                continue;
            };
            u.ports.retain(|_, owner| owner != key);
            u.services.remove(key);
            if !u.services.is_empty() {
                continue;
            }
            let (pool, sharing) = (u.pool, u.key.sharing.clone());
            self.ips.remove(ip);
            if let Some(set) = self.by_sharing.get_mut(&sharing) {
                set.remove(ip);
                if set.is_empty() {
                    self.by_sharing.remove(&sharing);
                }
            }
            if let Some(p) = self.pools.get_mut(pool) {
                if ip.is_ipv4() {
                    p.used_v4.remove(to_u128(*ip));
                } else {
                    p.used_v6.remove(to_u128(*ip));
                }
            }
        }
        true
    }
}

impl fmt::Display for SharingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}/{:?}", self.sharing, self.backend)
    }
}

fn sharing_key_of(svc: &Service) -> SharingKey {
    SharingKey {
        sharing: service::sharing_key(svc).to_owned(),
        backend: service::backend_key(svc),
    }
}

/// MetalLB's `sharingOK`.
fn sharing_ok(existing: &SharingKey, new: &SharingKey) -> Result<(), String> {
    if existing.sharing.is_empty() {
        return Err("existing service does not allow sharing".into());
    }
    if new.sharing.is_empty() {
        return Err("new service does not allow sharing".into());
    }
    if existing.sharing != new.sharing {
        return Err(format!(
            "sharing key {:?} does not match existing sharing key {:?}",
            new.sharing, existing.sharing
        ));
    }
    if existing.backend != new.backend {
        return Err(format!(
            "backend key {:?} does not match existing sharing key {:?}",
            new.backend, existing.backend
        ));
    }
    Ok(())
}

/// Whether a pool's `serviceAllocation` admits the service: its namespace
/// (by name or namespace labels) when namespaces are restricted, and its
/// labels when service selectors are given. A pool without
/// `serviceAllocation` admits every service.
fn compatible(world: &World, p: &PoolState, svc: &Service) -> bool {
    let Some(a) = &p.allocation else {
        return true;
    };
    let ns = ObjectKey::of(&svc.metadata).namespace;
    if !a.namespaces.is_empty() || !a.namespace_selectors.is_empty() {
        let ns_labels = world.namespace_labels(&ns);
        let ok = a.namespaces.contains(&ns)
            || a.namespace_selectors.iter().any(|s| s.matches(ns_labels));
        if !ok {
            return false;
        }
    }
    if !a.service_selectors.is_empty() {
        let l = labels(&svc.metadata);
        return a.service_selectors.iter().any(|s| s.matches(l));
    }
    true
}

fn same_ips(a: &[IpAddr], b: &[IpAddr]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

/// MetalLB's `poolCount` per family.
fn capacity(cidrs: &[IpNet], avoid_buggy: bool) -> (i64, i64) {
    let (mut v4, mut v6) = (0i64, 0i64);
    for c in cidrs {
        let host_bits = u32::from(c.max_prefix_len() - c.prefix_len());
        if host_bits >= 62 {
            v6 = i64::MAX;
            continue;
        }
        let mut size = 1i64 << host_bits;
        if avoid_buggy && matches!(c, IpNet::V4(_)) {
            if c.prefix_len() <= 24 {
                size -= (1i64 << (24 - u32::from(c.prefix_len()))) * 2;
            } else {
                let (lo, hi) = bounds(c);
                size -= i64::from(ipset::is_buggy_v4(lo));
                if hi != lo {
                    size -= i64::from(ipset::is_buggy_v4(hi));
                }
            }
        }
        if matches!(c, IpNet::V4(_)) {
            v4 = v4.saturating_add(size);
        } else {
            v6 = v6.saturating_add(size);
        }
    }
    (v4, v6)
}
