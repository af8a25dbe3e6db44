//! `k8s-adapter`: MetalLB-compatible BGP load balancing for Kubernetes.
//!
//! Subcommands:
//! - `standalone --config FILE --objects FILE_OR_DIR --node NAME [--demo]`:
//!   allocate and announce from files, no cluster needed.
//! - `plan --config FILE --objects FILE_OR_DIR --node NAME`: print what the
//!   adapter would do, as JSON.
//! - `check-config FILE...`: validate MetalLB configuration files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use k8s_adapter::plan::PlanOptions;

/// MetalLB-compatible BGP load balancer.
#[derive(Parser)]
#[command(name = "k8s-adapter", version)]
struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct Inputs {
    /// MetalLB configuration: a legacy ConfigMap or metallb.io CRs (repeatable).
    #[arg(long, required = true)]
    config: Vec<PathBuf>,
    /// Services, EndpointSlices, Nodes and Namespaces as `kubectl get -o yaml`
    /// writes them: files or directories (repeatable).
    #[arg(long, required = true)]
    objects: Vec<PathBuf>,
    /// The node to announce from.
    #[arg(long)]
    node: String,
    /// Handle only Services of this loadBalancerClass.
    #[arg(long)]
    lb_class: Option<String>,
    /// Ignore the node.kubernetes.io/exclude-from-external-load-balancers label.
    #[arg(long)]
    ignore_exclude_lb: bool,
}

impl Inputs {
    fn plan_options(&self) -> PlanOptions {
        PlanOptions {
            lb_class: self.lb_class.clone(),
            ignore_exclude_lb: self.ignore_exclude_lb,
            ..PlanOptions::default()
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Validate MetalLB configuration files (legacy ConfigMap or metallb.io CRs).
    CheckConfig {
        /// Files or directories.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print, as JSON, what the adapter would allocate and announce from a node.
    Plan {
        #[command(flatten)]
        inputs: Inputs,
    },
    /// Allocate and announce from files, watching them for changes.
    Standalone {
        #[command(flatten)]
        inputs: Inputs,
        /// Start an embedded route collector on loopback and point every peer at it.
        #[arg(long)]
        demo: bool,
        /// Serve /metrics, /healthz and /readyz here (e.g. 127.0.0.1:9120).
        #[arg(long)]
        metrics_addr: Option<SocketAddr>,
        /// Do not watch the files with inotify; only poll their modification
        /// times (every --poll-ms).
        #[arg(long)]
        no_inotify: bool,
        /// How often file modification times are polled, in milliseconds
        /// (the fallback to inotify).
        #[arg(long, default_value_t = 200)]
        poll_ms: u64,
    },
    /// In-cluster speaker role (DaemonSet): announce this node's Service IPs.
    Speaker {
        /// MetalLB's namespace.
        #[arg(long, default_value = "metallb-system")]
        namespace: String,
        /// This node's name.
        #[arg(long, env = "METALLB_NODE_NAME")]
        node: String,
        /// Handle only Services of this loadBalancerClass.
        #[arg(long)]
        lb_class: Option<String>,
        /// Ignore the node.kubernetes.io/exclude-from-external-load-balancers label.
        #[arg(long)]
        ignore_exclude_lb: bool,
        /// Metrics and health endpoints.
        #[arg(long, default_value = "0.0.0.0:9120")]
        metrics_addr: SocketAddr,
    },
    /// In-cluster controller role (Deployment, leader-elected): allocate IPs.
    Controller {
        /// MetalLB's namespace.
        #[arg(long, default_value = "metallb-system")]
        namespace: String,
        /// This pod's name (the Lease holder identity).
        #[arg(long, env = "POD_NAME")]
        pod_name: String,
        /// Metrics and health endpoints.
        #[arg(long, default_value = "0.0.0.0:9120")]
        metrics_addr: SocketAddr,
    },
}

/// The runtime of the long-running subcommands (two worker threads).
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// A client from the in-cluster or kubeconfig environment.
async fn kube_client() -> anyhow::Result<kube::Client> {
    kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API")
}

/// Resolves on Ctrl-C (SIGINT).
async fn interrupted() {
    let _ = tokio::signal::ctrl_c().await;
}

fn paths(v: &[PathBuf]) -> Vec<&Path> {
    v.iter().map(PathBuf::as_path).collect()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    if cli.log_json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::CheckConfig { files } => match k8s_adapter::config::load_paths(&paths(&files)) {
            Ok(cfg) => {
                println!(
                    "configuration OK: {} pool(s), {} peer(s), {} advertisement(s)",
                    cfg.pools.len(),
                    cfg.peers.len(),
                    cfg.advertisements.len()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(errs) => {
                for e in &errs.0 {
                    eprintln!("error: {e}");
                }
                Ok(ExitCode::FAILURE)
            }
        },
        Command::Plan { inputs } => {
            let cfg = k8s_adapter::config::load_paths(&paths(&inputs.config))
                .context("loading the configuration")?;
            let world = k8s_adapter::objects::load_paths(&paths(&inputs.objects))
                .context("loading the objects")?;
            let report = k8s_adapter::plan::plan_report_with(
                &cfg,
                &world,
                &inputs.node,
                &inputs.plan_options(),
            );
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Standalone {
            inputs,
            demo,
            metrics_addr,
            no_inotify,
            poll_ms,
        } => runtime()?.block_on(async move {
            let speaker = bgp_session::Speaker::new();
            let metrics = Arc::new(k8s_adapter::metrics::Metrics::new(Some(speaker.clone())));
            if let Some(addr) = metrics_addr {
                let health = k8s_adapter::http::Health {
                    metrics: metrics.clone(),
                    ready: Arc::new(AtomicBool::new(true)),
                };
                let bound = k8s_adapter::http::serve(addr, health).await?;
                println!("metrics     serving on http://{bound}/metrics");
            }
            let opts = k8s_adapter::standalone::Options {
                plan: inputs.plan_options(),
                config: inputs.config,
                objects: inputs.objects,
                node: inputs.node,
                demo,
                poll: Duration::from_millis(poll_ms.max(1)),
                watch: !no_inotify,
            };
            k8s_adapter::standalone::run(opts, speaker, Some(metrics)).await?;
            anyhow::Ok(ExitCode::SUCCESS)
        }),
        Command::Speaker {
            namespace,
            node,
            lb_class,
            ignore_exclude_lb,
            metrics_addr,
        } => runtime()?.block_on(async move {
            let client = kube_client().await?;
            let speaker = bgp_session::Speaker::new();
            let metrics = Arc::new(k8s_adapter::metrics::Metrics::new(Some(speaker.clone())));
            let ready = Arc::new(AtomicBool::new(false));
            let health = k8s_adapter::http::Health {
                metrics: metrics.clone(),
                ready: ready.clone(),
            };
            k8s_adapter::http::serve(metrics_addr, health).await?;
            let mut announcer = k8s_adapter::announcer::Announcer::new(speaker.clone());
            let opts = k8s_adapter::speaker_role::SpeakerOptions {
                namespace,
                node,
                plan: PlanOptions {
                    lb_class,
                    ignore_exclude_lb,
                    ..PlanOptions::default()
                },
                status_interval: Duration::from_secs(10),
            };
            k8s_adapter::speaker_role::run(
                client,
                opts,
                &mut announcer,
                metrics,
                ready,
                interrupted(),
            )
            .await;
            speaker
                .shutdown(Some("speaker stopping".into()), false)
                .await;
            anyhow::Ok(ExitCode::SUCCESS)
        }),
        Command::Controller {
            namespace,
            pod_name,
            metrics_addr,
        } => runtime()?.block_on(async move {
            let client = kube_client().await?;
            let metrics = Arc::new(k8s_adapter::metrics::Metrics::new(None));
            let health = k8s_adapter::http::Health {
                metrics: metrics.clone(),
                ready: Arc::new(AtomicBool::new(true)),
            };
            k8s_adapter::http::serve(metrics_addr, health).await?;
            let mut opts = k8s_adapter::kube_io::ControllerOptions::new(&namespace, &pod_name);
            opts.metrics = Some(metrics);
            k8s_adapter::kube_io::run_controller(client, opts, interrupted()).await;
            anyhow::Ok(ExitCode::SUCCESS)
        }),
    }
}
