//! Running the external commands the lab harnesses use (`ip`, `birdc`,
//! `vtysh`, …).

use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

/// Runs `argv` (no shell, stdin closed) and returns its stdout; a failure to
/// start or a non-zero exit is an error carrying the command, its status,
/// stderr and stdout.
pub fn run(argv: &[&str]) -> anyhow::Result<String> {
    let (cmd, args) = argv.split_first().context("empty command")?;
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| argv.join(" "))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}{}",
            argv.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
