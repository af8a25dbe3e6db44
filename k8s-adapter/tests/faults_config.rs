//! Configuration faults against a real BIRD (issue 5, "Fault injection with
//! real daemons"): the `k8s-adapter standalone` binary runs in one network
//! namespace and peers with BIRD in another (the interop lab of
//! `bgp-session/tests/common`, included by path). While the session runs:
//!
//! 1. a syntactically broken configuration file, then a semantically invalid
//!    one: the session stays up and BIRD's table stays exactly the same (the
//!    last good configuration is kept);
//! 2. a good change (a community on every advertisement) applies, without a
//!    session reset;
//! 3. the TCP MD5 password is changed live in the adapter's configuration
//!    only: the session goes down, the routes are withdrawn (nothing stale),
//!    and the mismatch keeps it down; then BIRD gets the new password too
//!    (`birdc configure`) and the session returns with exactly the routes;
//! 4. throughout, neither password appears in the adapter's output (debug
//!    logging on) nor in its /metrics.
//!
//! Needs root and BIRD; otherwise it prints "SKIPPED: ..." and passes (in
//! CI, `CI=true`, a missing prerequisite fails).
//!
//! ```text
//! cargo test -p k8s-adapter --test faults_config -- --nocapture
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

#[path = "../../bgp-session/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::bird::{Bird, config as bird_config};
use common::daemon::{Daemon, Neighbor, wait_established, wait_not_established, wait_table};
use common::lab::{Lab, Proc, holds_for, log, run, wait_for};
use common::rib::Table;

const THEM_AS: u32 = 65002;
const US_AS: u32 = 64500;
const OLD_PW: &str = "old-Secret-4711";
const NEW_PW: &str = "new-Secret-0815";
const UP: Duration = Duration::from_secs(30);
const CONVERGE: Duration = Duration::from_secs(20);
const METRICS: &str = "127.0.0.1:9120";

/// The legacy ConfigMap: one peer (BIRD) with `password`, one pool.
fn adapter_config(lab: &Lab, password: &str, hold: &str, communities: &[&str]) -> String {
    let adv = if communities.is_empty() {
        String::new()
    } else {
        format!(
            "      bgp-advertisements:\n      - communities: [{}]\n",
            communities.join(", ")
        )
    };
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: metallb\n  name: config\ndata:\n  config: |\n    peers:\n    - peer-address: {them}\n      peer-asn: {THEM_AS}\n      my-asn: {US_AS}\n      source-address: {us}\n      hold-time: {hold}\n      password: \"{password}\"\n    address-pools:\n    - name: default\n      protocol: bgp\n      addresses:\n      - 192.168.10.0/24\n{adv}",
        them = lab.them_v4(),
        us = lab.us_v4(0),
    )
}

/// Copies the demo objects (Nodes, Services, EndpointSlices) into `to`.
fn copy_objects(to: &Path) {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples-data");
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(&data).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".yaml") && name != "metallb-config.yaml" {
            std::fs::copy(e.path(), to.join(name)).unwrap();
        }
    }
}

/// Writes `text` to `path` so that the adapter's mtime poll notices it
/// (a new mtime even within the same second).
fn write_config(path: &Path, text: &str) {
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(path, text).unwrap();
}

/// How many lines of the adapter's output contain `needle`.
fn count(adapter: &Proc, needle: &str) -> usize {
    adapter
        .log_text()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

fn wait_count(adapter: &Proc, needle: &str, n: usize) {
    wait_for(
        &format!("adapter prints {needle:?} ({n}×)"),
        Duration::from_secs(15),
        || {
            let c = count(adapter, needle);
            if c >= n {
                Ok(())
            } else {
                Err(format!("{c} so far"))
            }
        },
    );
}

/// `t` with `community` added to every route.
fn with_community(t: &Table, community: &str) -> Table {
    t.iter()
        .map(|(p, r)| {
            let mut r = r.clone();
            r.communities.push(community.to_owned());
            r.communities.sort();
            (*p, r)
        })
        .collect()
}

#[test]
fn broken_config_and_live_md5_change_against_bird() {
    if !common::prerequisites(
        "broken_config_and_live_md5_change_against_bird",
        &["bird", "birdc"],
    ) {
        return;
    }
    let lab = Lab::new("adapter-config");
    let mut nb = Neighbor::new("k", lab.us_v4(0), lab.them_v4(), THEM_AS, US_AS);
    nb.hold = 9;
    nb.md5 = Some(OLD_PW.into());
    let bird = Bird::start(&lab, std::slice::from_ref(&nb));

    let objects = lab.path("objects");
    copy_objects(&objects);
    let cfg = lab.write("metallb.yaml", &adapter_config(&lab, OLD_PW, "9s", &[]));
    let bin = env!("CARGO_BIN_EXE_k8s-adapter");
    let (cfg_s, obj_s) = (
        cfg.to_string_lossy().into_owned(),
        objects.to_string_lossy().into_owned(),
    );
    // Debug logging: the password check below covers every log line.
    let argv = [
        "env",
        "RUST_LOG=debug",
        bin,
        "standalone",
        "--node",
        "node-1",
        "--config",
        &cfg_s,
        "--objects",
        &obj_s,
        "--metrics-addr",
        METRICS,
    ];
    let adapter = Proc::spawn("k8s-adapter", &lab.ns_us, &argv, &lab.path("adapter.log"));
    wait_established(&bird, &nb, UP);

    // The initial table: snapshot once it stops changing, check the sample.
    let mut last = Table::new();
    let good = wait_for(
        "BIRD's table from the adapter is non-empty and stable",
        CONVERGE,
        || {
            let t = bird.routes(&nb)?;
            if !t.is_empty() && t == last {
                Ok(t)
            } else {
                last = t;
                Err(format!("{} routes", last.len()))
            }
        },
    );
    let sample: ipnet::IpNet = "192.168.10.20/32".parse().unwrap();
    let r = good
        .get(&sample)
        .unwrap_or_else(|| panic!("{sample} missing from {good:?}"));
    assert_eq!(r.communities, vec!["64500:20", "65535:65281"], "{r}");
    assert_eq!(r.as_path, vec![US_AS], "{r}");
    assert_eq!(r.next_hop, nb.addr, "{r}");
    lab.log(&format!(
        "adapter announces {} routes: {:?}",
        good.len(),
        good.keys().collect::<Vec<_>>()
    ));
    let established = |a: &Proc| count(a, "established, peer AS");
    assert_eq!(established(&adapter), 1);

    // 1a. Syntactically broken file.
    write_config(&cfg, "this: is: not: valid\n  - yaml ]");
    wait_count(&adapter, "keeping the last good configuration", 1);
    holds_for(
        "session up and table unchanged after a broken (YAML) config",
        Duration::from_secs(3),
        || {
            if !bird.established(&nb)? {
                return Err("session down".into());
            }
            common::rib::diff(&good, &bird.routes(&nb)?)
        },
    );
    // 1b. Valid YAML, invalid value (hold time 1 s: must be 0 or >= 3 s).
    let errors = count(&adapter, "keeping the last good configuration");
    write_config(&cfg, &adapter_config(&lab, OLD_PW, "1s", &[]));
    wait_count(&adapter, "keeping the last good configuration", errors + 1);
    holds_for(
        "session up and table unchanged after an invalid config",
        Duration::from_secs(3),
        || {
            if !bird.established(&nb)? {
                return Err("session down".into());
            }
            common::rib::diff(&good, &bird.routes(&nb)?)
        },
    );
    assert_eq!(established(&adapter), 1, "no session reset on bad config");

    // 2. A good change applies: a community on every route, no reset.
    let tagged = with_community(&good, "64500:99");
    write_config(&cfg, &adapter_config(&lab, OLD_PW, "9s", &["64500:99"]));
    wait_table(&bird, &nb, &tagged, "after a good change", CONVERGE);
    assert_eq!(established(&adapter), 1, "a route change needs no reset");
    assert_eq!(count(&adapter, "down:"), 0, "{}", adapter.log_text());

    // 3. Live MD5 change, adapter side first: down, withdrawn, kept down.
    write_config(&cfg, &adapter_config(&lab, NEW_PW, "9s", &["64500:99"]));
    wait_not_established(&bird, &nb, Duration::from_secs(15));
    wait_table(
        &bird,
        &nb,
        &Table::new(),
        "withdrawn after our reconfiguration",
        CONVERGE,
    );
    holds_for(
        "mismatched MD5 keeps the session down",
        Duration::from_secs(5),
        || match bird.established(&nb)? {
            false => Ok(()),
            true => Err("Established with mismatched passwords".into()),
        },
    );
    // ... then BIRD's side: the session returns with exactly the routes.
    nb.md5 = Some(NEW_PW.into());
    lab.write("bird.conf", &bird_config(&lab, std::slice::from_ref(&nb)));
    let out = bird.birdc(&["configure"]).unwrap();
    lab.log(&format!("birdc configure: {}", out.trim()));
    wait_established(&bird, &nb, UP);
    wait_table(
        &bird,
        &nb,
        &tagged,
        "after the MD5 change on both sides",
        CONVERGE,
    );
    assert_eq!(established(&adapter), 2);

    // 4. No password in the adapter's output or metrics.
    let metrics = run(&[
        "ip",
        "netns",
        "exec",
        &lab.ns_us,
        "curl",
        "-sf",
        &format!("http://{METRICS}/metrics"),
    ]);
    let text = adapter.log_text();
    assert!(text.lines().count() > 10, "debug output expected:\n{text}");
    for pw in [OLD_PW, NEW_PW] {
        assert!(!text.contains(pw), "password {pw} in the adapter's output");
        if let Ok(m) = &metrics {
            assert!(!m.contains(pw), "password {pw} in /metrics");
        }
    }
    match metrics {
        Ok(m) => lab.log(&format!(
            "/metrics: {} lines, no password",
            m.lines().count()
        )),
        Err(e) => lab.log(&format!("/metrics not checked: {e}")),
    }
    log("broken_config_and_live_md5_change_against_bird: done");
}
