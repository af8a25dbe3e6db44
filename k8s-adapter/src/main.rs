//! `k8s-adapter`: MetalLB-compatible BGP load balancing for Kubernetes.
//!
//! Subcommands:
//! - `check-config FILE...`: validate MetalLB configuration files.
//! - `plan --config FILE --objects FILE_OR_DIR --node NAME`: print what the adapter would do.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// MetalLB-compatible BGP load balancer.
#[derive(Parser)]
#[command(name = "k8s-adapter", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate MetalLB configuration files (legacy ConfigMap or metallb.io CRs).
    CheckConfig {
        /// Files or directories.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { files } => {
            let paths: Vec<&std::path::Path> = files.iter().map(PathBuf::as_path).collect();
            match k8s_adapter::config::load_paths(&paths) {
                Ok(cfg) => {
                    println!(
                        "configuration OK: {} pool(s), {} peer(s), {} advertisement(s)",
                        cfg.pools.len(),
                        cfg.peers.len(),
                        cfg.advertisements.len()
                    );
                    ExitCode::SUCCESS
                }
                Err(errs) => {
                    for e in &errs.0 {
                        eprintln!("error: {e}");
                    }
                    ExitCode::FAILURE
                }
            }
        }
    }
}
