//! Adapter scale: time and memory of the adapter's decisions over a large,
//! synthetic but realistically shaped cluster (issue 6 §4).
//!
//! Objects are generated as the JSON `kubectl get -o json` prints (Service,
//! EndpointSlice and Node Lists with the usual metadata, ports, conditions,
//! owner references) and parsed through the adapter's own manifest loader
//! (`objects::add_str`, the standalone path). The MetalLB configuration has
//! three pools, three peers (one selecting a rack) and four advertisements.
//!
//! Measured, per cluster size:
//! - the initial allocation of every Service (`allocate`);
//! - one node's announcement plan (`announce`), and `plan` (both);
//! - building the incremental planner;
//! - one endpoint on the planned node going not-ready and back, with
//!   everything installed: the old path (a full `plan` per change) and the
//!   incremental path (`NodePlanner::update` on the one Service), plus
//!   `World::diff` (how standalone finds the change after a reload).
//!
//! Memory is counted with a `#[global_allocator]` wrapper: allocations and
//! bytes during a step, peak live heap above the step's start, and live
//! heap retained afterwards.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod alloc;
mod synth;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Parser;
use k8s_adapter::allocate::{AllocateOptions, allocate};
use k8s_adapter::announce::{AnnounceOptions, announce, ips_from_allocations};
use k8s_adapter::incremental::{IpSource, NodePlanner};
use k8s_adapter::plan::{PlanOptions, plan};
use k8s_adapter::world::{ObjectKey, World};

#[derive(Parser, Debug)]
#[command(about = "Adapter scale bench: allocation, announcement plan and incremental change cost")]
struct Args {
    /// Cluster sizes (number of LoadBalancer Services).
    #[arg(long, value_delimiter = ',', default_values_t = vec![1_000usize, 10_000])]
    services: Vec<usize>,
    /// Endpoints per Service (50,000 endpoints at 10,000 Services).
    #[arg(long, default_value_t = 5)]
    endpoints: usize,
    /// Nodes.
    #[arg(long, default_value_t = 100)]
    nodes: usize,
    /// Repetitions of the single-endpoint change (each is one not-ready
    /// and one ready change).
    #[arg(long, default_value_t = 100)]
    changes: usize,
    /// Repetitions of the full-recompute baseline per change.
    #[arg(long, default_value_t = 5)]
    full_repeats: usize,
    /// CI smoke: 100 Services, few repetitions.
    #[arg(long)]
    smoke: bool,
}

/// One measured step.
struct Step {
    name: String,
    time: Duration,
    stats: alloc::Stats,
}

fn measure<T>(name: &str, f: impl FnOnce() -> T) -> (T, Step) {
    let before = alloc::snapshot();
    alloc::reset_peak();
    let t = Instant::now();
    let out = f();
    let time = t.elapsed();
    let stats = alloc::since(&before);
    (
        out,
        Step {
            name: name.to_owned(),
            time,
            stats,
        },
    )
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn mib(b: i64) -> String {
    format!("{:.1}", b as f64 / (1024.0 * 1024.0))
}

struct Row {
    services: usize,
    steps: Vec<Step>,
    change_full: Vec<Duration>,
    change_inc: Vec<Duration>,
    change_inc_allocs: u64,
    change_inc_bytes: u64,
    change_full_allocs: u64,
    diff: Vec<Duration>,
    delta_routes: usize,
}

fn run(args: &Args, n: usize) -> Row {
    let node_name = synth::node_name(0);
    let (config, step_cfg) = measure("config: parse 3 pools, 3 peers, 4 ads", || {
        k8s_adapter::config::load_str(synth::CONFIG).unwrap()
    });
    let (texts, step_gen) = measure("generate JSON (not the adapter)", || {
        synth::objects_json(n, args.endpoints, args.nodes)
    });
    let bytes: usize = texts.iter().map(String::len).sum();
    let (world, step_parse) = measure(
        &format!(
            "parse {:.1} MB of manifests into a World",
            bytes as f64 / 1e6
        ),
        || {
            let mut w = World::new();
            for t in &texts {
                k8s_adapter::objects::add_str(&mut w, t, "<generated>").unwrap();
            }
            w
        },
    );
    drop(texts);
    let (s, e, nd, _) = world.counts();
    assert_eq!((s, e, nd), (n, n, args.nodes));

    let (allocs, step_alloc) = measure("initial allocation of every Service", || {
        allocate(&config, &world, &AllocateOptions::default())
    });
    let failed = allocs.services.iter().filter(|o| o.ips.is_empty()).count();
    assert_eq!(failed, 0, "every service gets an IP");
    let ips = ips_from_allocations(&allocs);
    let opts = AnnounceOptions::default();
    let (ann, step_ann) = measure("one node's announcement plan", || {
        announce(&config, &world, &node_name, &ips, &opts)
    });
    let routes = ann.route_count();
    let (_, step_plan) = measure(
        "plan (allocate + announce), the old per-change cost",
        || plan(&config, &world, &node_name, &PlanOptions::default()),
    );
    let (mut planner, step_planner) = measure("incremental planner: build (once)", || {
        NodePlanner::new(
            &config,
            &world,
            &node_name,
            IpSource::Allocated(&ips),
            &opts,
        )
    });
    assert_eq!(planner.announcements(), ann, "planner equals announce");

    // The change: an endpoint of an externalTrafficPolicy=Local Service on
    // the planned node goes not-ready (that node withdraws the IP), then
    // ready again.
    let (svc_key, slice_key) = synth::local_service_on_node0(&world);
    let base = world
        .endpoint_slices()
        .find(|(k, _)| **k == slice_key)
        .unwrap()
        .1
        .clone();
    let down = serde_json::from_value(synth::with_node_ready(
        &serde_json::to_value(&base).unwrap(),
        &node_name,
        false,
    ))
    .unwrap();
    let mut world = world;
    let mut change_inc = Vec::new();
    let mut change_full = Vec::new();
    let mut diff_times = Vec::new();
    let mut inc_allocs = 0u64;
    let mut inc_bytes = 0u64;
    let mut full_allocs = 0u64;
    let mut delta_routes = 0;
    for i in 0..args.changes {
        for (j, slice) in [&down, &base].into_iter().enumerate() {
            world.upsert_endpoint_slice(slice.clone());
            let before = alloc::snapshot();
            let t = Instant::now();
            let delta = planner.update(&world, IpSource::Allocated(&ips), [&svc_key]);
            change_inc.push(t.elapsed());
            let st = alloc::since(&before);
            inc_allocs += st.allocs;
            inc_bytes += st.bytes;
            assert!(!delta.is_empty(), "the change withdraws or re-announces");
            delta_routes = delta_routes.max(delta.len());
            if i < args.full_repeats {
                let before = alloc::snapshot();
                let t = Instant::now();
                let p = plan(&config, &world, &node_name, &PlanOptions::default());
                change_full.push(t.elapsed());
                full_allocs += alloc::since(&before).allocs;
                // Keep the check cheap: only the routes.
                assert_eq!(p.announcements.routes, planner.route_sets());
                if j == 0 {
                    // standalone's path: diff the reloaded world against the last.
                    let mut old = world.clone();
                    old.upsert_endpoint_slice(base.clone());
                    let t = Instant::now();
                    let d = old.diff(&world);
                    diff_times.push(t.elapsed());
                    assert_eq!(d.affected_services().len(), 1);
                }
            }
        }
    }
    let samples = change_inc.len() as u64;
    change_inc.sort();
    change_full.sort();
    diff_times.sort();
    eprintln!(
        "[{n} services] {routes} routes from {node_name}; change on {svc_key}: delta of {delta_routes} (peer, prefix)"
    );
    let _ = step_gen;
    Row {
        services: n,
        steps: vec![
            step_cfg,
            step_parse,
            step_alloc,
            step_ann,
            step_plan,
            step_planner,
        ],
        change_full,
        change_inc,
        change_inc_allocs: inc_allocs / samples.max(1),
        change_inc_bytes: inc_bytes / samples.max(1),
        change_full_allocs: full_allocs / (args.full_repeats.min(args.changes) as u64 * 2).max(1),
        diff: diff_times,
        delta_routes,
    }
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.smoke {
        args.services = vec![100];
        args.changes = 5;
        args.full_repeats = 2;
    }
    println!(
        "adapter-scale: {} endpoints/service, {} nodes, {} change pairs (machine: {} CPUs)",
        args.endpoints,
        args.nodes,
        args.changes,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let mut rows = Vec::new();
    for &n in &args.services {
        rows.push(run(&args, n));
    }
    for r in &rows {
        println!();
        println!(
            "### {} Services, {} endpoints, {} nodes",
            r.services,
            r.services * args.endpoints,
            args.nodes
        );
        println!();
        println!(
            "| step | time (ms) | allocations | allocated (MiB) | peak heap above start (MiB) | retained (MiB) |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        for s in &r.steps {
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                s.name,
                ms(s.time),
                s.stats.allocs,
                mib(s.stats.bytes as i64),
                mib(s.stats.peak_above),
                mib(s.stats.retained)
            );
        }
    }
    println!();
    println!("### One endpoint change with everything installed (not-ready, then ready again)");
    println!();
    println!(
        "| Services | path | samples | p50 (ms) | p99 (ms) | max (ms) | allocations/change | bytes/change |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | full recompute (`plan`, before) | {} | {} | {} | {} | {} | |",
            r.services,
            r.change_full.len(),
            ms(pct(&r.change_full, 0.5)),
            ms(pct(&r.change_full, 0.99)),
            ms(r.change_full.last().copied().unwrap_or_default()),
            r.change_full_allocs
        );
        println!(
            "| {} | incremental (`NodePlanner::update`) | {} | {} | {} | {} | {} | {} |",
            r.services,
            r.change_inc.len(),
            ms(pct(&r.change_inc, 0.5)),
            ms(pct(&r.change_inc, 0.99)),
            ms(r.change_inc.last().copied().unwrap_or_default()),
            r.change_inc_allocs,
            r.change_inc_bytes
        );
        println!(
            "| {} | `World::diff` of two reloads (standalone finds the change) | {} | {} | {} | {} | 0 | |",
            r.services,
            r.diff.len(),
            ms(pct(&r.diff, 0.5)),
            ms(pct(&r.diff, 0.99)),
            ms(r.diff.last().copied().unwrap_or_default()),
        );
    }
    if rows.len() >= 2 {
        let a = &rows[0];
        let b = &rows[rows.len() - 1];
        let ratio = |x: &[Duration], y: &[Duration]| {
            pct(y, 0.5).as_secs_f64() / pct(x, 0.5).as_secs_f64().max(1e-9)
        };
        println!();
        println!(
            "Scaling {}→{} Services (×{:.0}): full recompute ×{:.1}, incremental ×{:.2}, diff ×{:.1}.",
            a.services,
            b.services,
            b.services as f64 / a.services as f64,
            ratio(&a.change_full, &b.change_full),
            ratio(&a.change_inc, &b.change_inc),
            ratio(&a.diff, &b.diff)
        );
    }
    let by: BTreeMap<usize, usize> = rows.iter().map(|r| (r.services, r.delta_routes)).collect();
    println!("(route delta per change, per size: {by:?})");
    let _ = ObjectKey::default();
    Ok(())
}
