//! The `bgpdecode` example as a program: its flags, its output (one JSON
//! object per message, `docs/bgpdecode.md`) and its exit status with a
//! clear message on the first undecodable message.
//!
//! It runs the example binary that `cargo test` builds next to the test
//! binaries (`target/<profile>/examples/bgpdecode`); `cargo test
//! --workspace`, the README's test command, always builds it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

#[path = "support/wire.rs"]
#[allow(dead_code)] // Shared builders; this test uses one of them.
mod wire;

/// `target/<profile>/examples/bgpdecode`, beside `target/<profile>/deps/`
/// where this test runs from.
fn bgpdecode() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = profile_dir.join("examples").join("bgpdecode");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (or `cargo build -p bgp-proto --examples` first)",
        bin.display()
    );
    bin
}

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// Runs bgpdecode with `args`, feeding `stdin` when given.
fn run(args: &[String], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(bgpdecode())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every golden vector file, decoded with the flags of its session (4-octet
/// AS, ADD-PATH, extended message), gives one JSON object per message with
/// the message's type and length, and exits 0.
#[test]
fn decodes_every_golden_vector_with_its_session_flags() {
    let manifest: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(vectors().join("manifest.json")).unwrap())
            .unwrap();
    assert!(!manifest.is_empty());
    for entry in &manifest {
        let file = vectors().join(entry["file"].as_str().unwrap());
        let mut args = Vec::new();
        if !entry["four_octet_as"].as_bool().unwrap() {
            args.push("--no-as4".to_string());
        }
        for f in entry["add_path"].as_array().unwrap() {
            args.push("--add-path".to_string());
            args.push(f.as_str().unwrap().to_string());
        }
        if entry["extended_message"].as_bool().unwrap() {
            args.push("--extended-message".to_string());
        }
        args.push(file.display().to_string());
        let out = run(&args, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        let got = lines(&out);
        assert_eq!(
            got.len() as u64,
            entry["messages"].as_u64().unwrap(),
            "{args:?}"
        );
        let total: u64 = got.iter().map(|m| m["length"].as_u64().unwrap()).sum();
        assert_eq!(total, std::fs::metadata(&file).unwrap().len(), "{args:?}");
        for m in &got {
            assert!(
                matches!(
                    m["type"].as_str(),
                    Some("open" | "update" | "notification" | "keepalive" | "route-refresh")
                ),
                "{m}"
            );
        }
    }
}

/// Standard input (`-` or no file) decodes the same as a file.
#[test]
fn reads_standard_input() {
    let keepalive = wire::msg(4, &[]);
    let two = [keepalive.clone(), keepalive].concat();
    for args in [vec!["-".to_string()], vec![]] {
        let out = run(&args, Some(&two));
        assert!(out.status.success(), "{args:?}");
        let got = lines(&out);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0]["type"], "keepalive");
        assert_eq!(got[0]["length"], 19);
    }
}

/// The first undecodable message stops the run with a non-zero status and
/// a message naming it, its byte offset and its NOTIFICATION; the messages
/// before it are printed.
#[test]
fn stops_at_the_first_undecodable_message() {
    let keepalive = wire::msg(4, &[]);
    // A bad marker (RFC 4271 §6.1: Connection Not Synchronized, 1/1).
    let mut bad = wire::msg(4, &[]);
    bad[3] = 0;
    let out = run(
        &["-".to_string()],
        Some(&[keepalive.clone(), bad, keepalive.clone()].concat()),
    );
    assert!(!out.status.success());
    assert_eq!(lines(&out).len(), 1, "the message before the bad one");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("message 1 at byte 19"), "{err}");
    assert!(
        err.contains("NOTIFICATION MESSAGE_HEADER subcode 1 (1/1)"),
        "{err}"
    );

    // A message cut short.
    let out = run(
        &["-".to_string()],
        Some(&[&keepalive[..], &keepalive[..10]].concat()),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("message 1 at byte 19: truncated"), "{err}");

    // An UPDATE whose NLRI overruns: UPDATE Message Error, Invalid
    // Network Field (3/10).
    let update = wire::update(&[], &[], &[33, 10, 0, 0, 0, 0]);
    let out = run(&["-".to_string()], Some(&update));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("message 0 at byte 0") && err.contains("3/10"),
        "{err}"
    );
}

/// Flags: an unknown ADD-PATH family and an unknown flag are refused with
/// a message; a missing file is reported by name.
#[test]
fn refuses_bad_arguments_clearly() {
    let out = run(&["--add-path".into(), "ipv5-unicast".into()], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown family"));

    let out = run(&["--frobnicate".into()], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--frobnicate"));

    let out = run(&["/nonexistent/input.bin".into()], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading /nonexistent/input.bin"));
}
