//! Shared helpers of the interop tests: namespaces and processes ([`lab`]),
//! the daemons and their route-table readers, our `inject` speaker, and the
//! expected-table model ([`rib`]).
// Each test binary uses a different subset; items are `pub` for the sibling modules.
#![allow(dead_code, unreachable_pub)]

pub mod bird;
pub mod daemon;
pub mod exabgp;
pub mod frr;
pub mod gobgp;
pub mod inject;
pub mod lab;
pub mod rib;

use std::path::{Path, PathBuf};

/// Looks `name` up in PATH and the usual sbin/libexec directories.
pub fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name).exists().then(|| PathBuf::from(name));
    }
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/lib/frr"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// Whether we run in CI (`CI=true`), where missing prerequisites are failures.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Checks root and the binaries a test needs. Returns `false` (after printing
/// "SKIPPED: reason") when the test must be skipped; panics instead in CI.
/// `BGP_INTEROP=skip` skips on purpose, even in CI.
#[must_use]
pub fn prerequisites(test: &str, binaries: &[&str]) -> bool {
    if std::env::var("BGP_INTEROP").is_ok_and(|v| v == "skip") {
        eprintln!("SKIPPED: {test}: BGP_INTEROP=skip");
        return false;
    }
    let mut missing = Vec::new();
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .unwrap_or_default();
    if uid != "0" {
        missing.push("root (network namespaces)".to_owned());
    }
    for b in ["ip"].iter().chain(binaries) {
        if which(b).is_none() {
            missing.push(format!("binary {b}"));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let reason = format!("{test}: needs {}", missing.join(", "));
    if in_ci() {
        panic!(
            "{reason} (CI=true: missing prerequisites fail; install bird2 frr gobgpd exabgp tshark and run as root, or set BGP_INTEROP=skip)"
        );
    }
    eprintln!("SKIPPED: {reason}");
    false
}

/// The first line a `--version` style command prints (stdout or stderr).
pub fn version(argv: &[&str]) -> String {
    let Some((cmd, args)) = argv.split_first() else {
        return String::new();
    };
    match std::process::Command::new(cmd).args(args).output() {
        Ok(o) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            text.lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or_default()
                .trim()
                .to_owned()
        }
        Err(e) => format!("{cmd}: {e}"),
    }
}
