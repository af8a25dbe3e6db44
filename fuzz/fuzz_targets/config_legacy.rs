//! The legacy MetalLB configuration (the `config` ConfigMap of MetalLB ≤ 0.12).
//! The input is the text of `data.config`, loaded two ways, as `check-config`
//! would load a file holding it:
//!
//! - as a bare legacy document;
//! - inside `ConfigMap metallb-system/config` (`data.config`).
//!
//! Checks (see `bgp_fuzz::config`): no panic, errors are a non-empty list
//! naming object, field and reason, no inline password in `Debug` output of a
//! loaded configuration, pool CIDRs truncated; and when the text is one
//! mapping that loads as a bare legacy document, the ConfigMap form loads to
//! the same configuration. Each line also goes through the field parsers
//! (durations, communities, address entries).
#![no_main]

use bgp_fuzz::config::{leaf_parsers, load_checked};
use k8s_adapter::config::Source;
use libfuzzer_sys::fuzz_target;
use serde_norway::{Mapping, Value};

fn configmap(config: &str) -> Option<String> {
    let mut meta = Mapping::new();
    meta.insert("name".into(), "config".into());
    meta.insert("namespace".into(), "metallb-system".into());
    let mut data = Mapping::new();
    data.insert("config".into(), config.into());
    let mut cm = Mapping::new();
    cm.insert("apiVersion".into(), "v1".into());
    cm.insert("kind".into(), "ConfigMap".into());
    cm.insert("metadata".into(), Value::Mapping(meta));
    cm.insert("data".into(), Value::Mapping(data));
    serde_norway::to_string(&Value::Mapping(cm)).ok()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let bare = load_checked(&text);
    let Some(cm) = configmap(&text) else { return };
    let wrapped = load_checked(&cm);
    if let Ok(bare) = &bare {
        let single_mapping = matches!(
            serde_norway::from_str::<Value>(&text),
            Ok(Value::Mapping(m)) if !m.contains_key("kind")
        );
        if bare.source == Source::ConfigMap && single_mapping {
            match &wrapped {
                Ok(w) => assert_eq!(w, bare, "bare and ConfigMap forms differ"),
                Err(e) => panic!("loads bare but not inside the ConfigMap: {e}"),
            }
        }
    }
    for line in text.lines().take(16) {
        leaf_parsers(line);
    }
});
