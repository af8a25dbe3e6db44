//! The `metallb.io` custom resources (IPAddressPool, BGPPeer v1beta1/v1beta2,
//! BGPAdvertisement, Community, BFDProfile, lists, mixed with other kinds and
//! with the legacy ConfigMap): the input is multi-document YAML, loaded as
//! `check-config` loads a `.yaml` file; when it is JSON, it is also loaded the
//! way `check-config` loads a `.json` file (JSON value → YAML value).
//!
//! Checks (see `bgp_fuzz::config`): no panic, errors are a non-empty list
//! naming object, field and reason, no inline password in `Debug` output of a
//! loaded configuration, pool CIDRs truncated. Each line also goes through
//! the field parsers (durations, communities, address entries).
#![no_main]

use bgp_fuzz::config::{leaf_parsers, load_checked};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = load_checked(&text);
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) {
        // `check-config x.json`: serde_json, then a YAML value.
        if let Ok(yaml) = serde_norway::to_value(json).and_then(|v| serde_norway::to_string(&v)) {
            let _ = load_checked(&yaml);
        }
    }
    for line in text.lines().take(16) {
        leaf_parsers(line);
    }
});
