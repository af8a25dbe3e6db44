//! Standalone mode end to end: the real binary with `--demo` allocates,
//! announces over real TCP to its embedded collector, and reacts to file
//! edits with announcements and withdrawals. Loopback only, no root.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Adapter(Child);

impl Drop for Adapter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().extension().is_some_and(|x| x == "yaml") {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn wait_for(rx: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) -> Duration {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            let hit = line.contains(needle);
            seen.push(line);
            if hit {
                return start.elapsed();
            }
        }
    }
    panic!("never saw {needle:?}; output so far:\n{}", seen.join("\n"));
}

#[test]
fn demo_allocates_announces_and_follows_file_edits() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples-data");
    let dir = std::env::temp_dir().join(format!("k8s-adapter-standalone-{}", std::process::id()));
    let objects = dir.join("objects");
    copy_dir(&data, &objects);
    let config = objects.join("metallb-config.yaml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_k8s-adapter"))
        .args(["standalone", "--demo", "--node", "node-1", "--config"])
        .arg(&config)
        .arg("--objects")
        .arg(&objects)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _adapter = Adapter(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    wait_for(
        &rx,
        "allocation  demo/web : 192.168.10.1 from pool default",
        &mut seen,
    );
    wait_for(&rx, "collector   received 192.168.10.20/32", &mut seen);
    wait_for(&rx, "collector   End-of-RIB (AFI 1 SAFI 1)", &mut seen);
    assert!(
        seen.iter().any(|l| l.contains("received 192.168.10.20/32")
            && l.contains("communities 64500:20,65535:65281")),
        "per-service communities reach the router:\n{}",
        seen.join("\n")
    );
    assert!(
        !seen.iter().any(|l| l.contains("received 192.168.10.0/32")),
        "batch has no local endpoint on node-1"
    );

    // Delete the `web` Service (an item of the kubectl List): its IP is withdrawn.
    let services = objects.join("services.yaml");
    let mut list: serde_json::Value =
        serde_norway::from_str(&std::fs::read_to_string(&services).unwrap()).unwrap();
    let items = list["items"].as_array_mut().unwrap();
    let before = items.len();
    items.retain(|i| i["metadata"]["name"] != "web");
    assert_eq!(items.len(), before - 1, "the fixture has a `web` Service");
    std::fs::write(&services, serde_json::to_string_pretty(&list).unwrap()).unwrap();
    let took = wait_for(&rx, "collector   withdrawn 192.168.10.1/32", &mut seen);
    eprintln!("withdrawal reached the collector {took:?} after the edit was noticed");

    // A broken configuration keeps the routes (no withdraw storm on a typo).
    std::fs::write(&config, "this: is: not: valid").unwrap();
    wait_for(&rx, "keeping the last good configuration", &mut seen);
    std::thread::sleep(Duration::from_millis(600));
    while let Ok(l) = rx.try_recv() {
        seen.push(l);
    }
    assert!(
        !seen
            .iter()
            .any(|l| l.contains("withdrawn 192.168.10.20/32")),
        "{}",
        seen.join("\n")
    );
    assert!(
        !seen
            .iter()
            .any(|l| l.contains("withdrawn 192.168.10.53/32")),
        "{}",
        seen.join("\n")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
