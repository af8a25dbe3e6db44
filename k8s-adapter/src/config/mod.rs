//! MetalLB configuration: the legacy ConfigMap and the `metallb.io` CRDs,
//! parsed into one validated [`Config`].
//!
//! Input is multi-document YAML (`---`-separated, `kind: List` / `*List`
//! objects with `items` are flattened) or JSON. Recognised:
//!
//! - the legacy format (MetalLB ≤ v0.12): a `ConfigMap` whose `data.config`
//!   holds the MetalLB configuration (any ConfigMap named `config`, or any
//!   other whose `data.config` has MetalLB's top-level keys), or a bare
//!   document whose
//!   top-level keys are `peers`, `address-pools`, `bgp-communities`,
//!   `bfd-profiles`. Unknown keys are errors, as with MetalLB's
//!   `yaml.UnmarshalStrict`;
//! - `metallb.io` resources: `IPAddressPool` (v1beta1), `BGPPeer` (v1beta2,
//!   and the deprecated v1beta1, converted), `BGPAdvertisement`,
//!   `Community`, `BFDProfile` (v1beta1). Unknown `spec` fields are errors.
//!   `L2Advertisement` and MetalLB's status kinds are tolerated and ignored.
//!
//! Every other kind (Deployment, Service, Namespace…) is ignored. Mixing the
//! ConfigMap with custom resources is an error. Every problem is collected
//! (not only the first), each naming the object, the field path and the
//! reason. See `docs/configuration.md` for the field reference.

mod addr;
mod common;
mod community;
mod crd;
mod duration;
mod legacy;
mod model;
mod raw;
mod validate;

pub use addr::{parse_address_entry, summarize_range};
pub use community::parse_community;
pub use duration::parse_go_duration;
pub use model::{
    Advertisement, BfdProfile, CommunityValue, Config, PasswordSource, Peer, PeerAsn, Pool,
    ServiceAllocation, Source,
};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_norway::{Mapping, Value};

use common::Diag;
use crd::{CrKind, CrObject};

/// One problem in a configuration, naming the object, the field and the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{object}: {field}: {reason}")]
pub struct ConfigError {
    /// The object, e.g. `BGPPeer metallb-system/peer1` or
    /// `ConfigMap metallb-system/config peers[0]`.
    pub object: String,
    /// The field path, e.g. `spec.holdTime` or `hold-time` (`-` when the
    /// problem is with the object as a whole).
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

/// Every problem found in a configuration (never empty).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} configuration error(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// Parses multi-document YAML holding either the legacy ConfigMap or
/// `metallb.io` custom resources (other kinds are ignored) into a validated
/// [`Config`].
pub fn load_str(yaml: &str) -> Result<Config, ConfigErrors> {
    load_str_with_warnings(yaml).map(|(c, _)| c)
}

/// [`load_str`], also returning warnings: things accepted but worth a
/// look (dangling pool/peer references, pools no advertisement selects,
/// fields accepted but without effect in this speaker).
pub fn load_str_with_warnings(yaml: &str) -> Result<(Config, Vec<ConfigError>), ConfigErrors> {
    let mut diag = Diag::default();
    let mut docs = Vec::new();
    split_yaml(yaml, None, &mut docs, &mut diag);
    assemble(docs, diag)
}

/// [`load_str`] over several files (a directory means every
/// `.yaml`/`.yml`/`.json` file in it, in name order).
pub fn load_paths(paths: &[&Path]) -> Result<Config, ConfigErrors> {
    load_paths_with_warnings(paths).map(|(c, _)| c)
}

/// [`load_paths`] with warnings, as [`load_str_with_warnings`].
pub fn load_paths_with_warnings(
    paths: &[&Path],
) -> Result<(Config, Vec<ConfigError>), ConfigErrors> {
    let mut diag = Diag::default();
    let mut docs = Vec::new();
    for p in paths {
        let files: Vec<PathBuf> = if p.is_dir() {
            match std::fs::read_dir(p) {
                Ok(rd) => {
                    let mut v: Vec<PathBuf> = rd
                        .filter_map(Result::ok)
                        .map(|e| e.path())
                        .filter(|f| {
                            f.is_file()
                                && f.extension()
                                    .and_then(|e| e.to_str())
                                    .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
                        })
                        .collect();
                    v.sort();
                    v
                }
                Err(e) => {
                    diag.error(&p.display().to_string(), "-", e.to_string());
                    continue;
                }
            }
        } else {
            vec![p.to_path_buf()]
        };
        for f in files {
            let label = f.display().to_string();
            match std::fs::read_to_string(&f) {
                Ok(text) if f.extension().is_some_and(|e| e == "json") => {
                    match serde_json::from_str::<serde_json::Value>(&text)
                        .map_err(|e| e.to_string())
                        .and_then(|j| serde_norway::to_value(j).map_err(|e| e.to_string()))
                    {
                        Ok(value) => docs.push(Doc { value, label }),
                        Err(e) => diag.error(&label, "-", format!("invalid JSON: {e}")),
                    }
                }
                Ok(text) => split_yaml(&text, Some(&label), &mut docs, &mut diag),
                Err(e) => diag.error(&label, "-", e.to_string()),
            }
        }
    }
    assemble(docs, diag)
}

/// One YAML document and where it came from.
struct Doc {
    value: Value,
    label: String,
}

fn split_yaml(text: &str, file: Option<&str>, docs: &mut Vec<Doc>, diag: &mut Diag) {
    for (i, de) in serde_norway::Deserializer::from_str(text).enumerate() {
        let n = i + 1;
        let label = file.map_or_else(|| format!("document {n}"), |f| format!("{f} document {n}"));
        match Value::deserialize(de) {
            Ok(mut value) => match value.apply_merge() {
                Ok(()) => docs.push(Doc { value, label }),
                Err(e) => diag.error(&label, "-", format!("invalid YAML merge key: {e}")),
            },
            Err(e) => {
                // The stream cannot be resynchronised after a syntax error.
                diag.error(&label, "-", format!("invalid YAML: {e}"));
                break;
            }
        }
    }
}

/// Keys of a bare legacy configuration document.
const LEGACY_KEYS: [&str; 4] = ["peers", "address-pools", "bgp-communities", "bfd-profiles"];

/// What the documents hold, sorted by format.
#[derive(Default)]
struct Found {
    /// Legacy configurations: (object label, parsed `data.config`).
    legacy: Vec<(String, Value)>,
    /// BGP-relevant custom resources.
    crs: Vec<CrObject>,
    /// Every `metallb.io` configuration object seen (including ignored
    /// L2Advertisements), for the mixing check.
    cr_labels: Vec<String>,
}

fn assemble(docs: Vec<Doc>, mut diag: Diag) -> Result<(Config, Vec<ConfigError>), ConfigErrors> {
    let mut found = Found::default();
    for d in docs {
        classify(d.value, &d.label, &mut found, &mut diag);
    }
    let Found {
        mut legacy,
        crs,
        cr_labels,
    } = found;
    if let Some((first, _)) = legacy.first() {
        let first = first.clone();
        for (other, _) in legacy.iter().skip(1) {
            diag.error(
                other,
                "-",
                format!("more than one legacy MetalLB configuration (the first is {first})"),
            );
        }
        if !cr_labels.is_empty() {
            let shown: Vec<&str> = cr_labels.iter().take(3).map(String::as_str).collect();
            let more = if cr_labels.len() > 3 { ", …" } else { "" };
            diag.error(
                &first,
                "-",
                format!(
                    "the legacy ConfigMap configuration cannot be mixed with metallb.io custom \
                     resources (found {}{more}); migrate fully to one format",
                    shown.join(", ")
                ),
            );
        }
    }
    let config = if legacy.is_empty() {
        let built = crd::build(crs, &mut diag);
        validate::finish(built, Source::Crds, &mut diag)
    } else {
        if !crs.is_empty() {
            // Validate the custom resources too, so every error is reported.
            let built = crd::build(crs, &mut diag);
            let _ = validate::finish(built, Source::Crds, &mut diag);
        }
        let (object, value) = legacy.swap_remove(0);
        let built = legacy::build(value, &object, &mut diag);
        validate::finish(built, Source::ConfigMap, &mut diag)
    };
    if diag.errors.is_empty() {
        Ok((config, diag.warnings))
    } else {
        Err(ConfigErrors(diag.errors))
    }
}

fn str_field<'a>(m: &'a Mapping, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str)
}

/// Sorts one document (or list item) into legacy, custom resource or ignored.
fn classify(value: Value, at: &str, found: &mut Found, diag: &mut Diag) {
    let map = match value {
        Value::Null => return,
        Value::Mapping(m) => m,
        _ => {
            diag.error(
                at,
                "-",
                "expected a mapping (a Kubernetes object or a MetalLB configuration)",
            );
            return;
        }
    };
    let Some(kind) = str_field(&map, "kind").map(str::to_owned) else {
        if map
            .keys()
            .any(|k| k.as_str().is_some_and(|k| LEGACY_KEYS.contains(&k)))
        {
            found
                .legacy
                .push((format!("MetalLB config ({at})"), Value::Mapping(map)));
        } else if !map.is_empty() {
            diag.error(
                at,
                "kind",
                "missing: neither a Kubernetes object nor a MetalLB configuration \
                 (peers, address-pools, bgp-communities, bfd-profiles)",
            );
        }
        return;
    };
    let api_version = str_field(&map, "apiVersion").unwrap_or_default().to_owned();

    if kind == "List" || (kind.ends_with("List") && map.contains_key("items")) {
        match map.get("items") {
            Some(Value::Sequence(items)) => {
                for (i, item) in items.iter().enumerate() {
                    classify(item.clone(), &format!("{at} items[{i}]"), found, diag);
                }
            }
            None | Some(Value::Null) => {}
            Some(_) => diag.error(at, "items", "must be a list"),
        }
        return;
    }

    let meta = map.get("metadata").and_then(Value::as_mapping);
    let name = meta.and_then(|m| str_field(m, "name")).map(str::to_owned);
    let namespace = meta
        .and_then(|m| str_field(m, "namespace"))
        .map(str::to_owned);
    let label = |kind: &str| match (&namespace, &name) {
        (Some(ns), Some(n)) => format!("{kind} {ns}/{n}"),
        (None, Some(n)) => format!("{kind} {n}"),
        (_, None) => format!("{kind} ({at})"),
    };

    if kind == "ConfigMap" && (api_version == "v1" || api_version.is_empty()) {
        let object = label("ConfigMap");
        let data = map.get("data").and_then(Value::as_mapping);
        match data.and_then(|d| d.get("config")) {
            None => {
                if name.as_deref() == Some("bgpextras")
                    && data.is_some_and(|d| d.contains_key("extras"))
                {
                    diag.warn(
                        &object,
                        "data.extras",
                        "raw FRR configuration is not used by this speaker",
                    );
                }
            }
            Some(Value::String(s)) => {
                // MetalLB reads the ConfigMap named `config`; under another
                // name, `data.config` is MetalLB's only if it looks like it.
                let metallb_name = name.as_deref() == Some("config");
                match serde_norway::from_str::<Value>(s) {
                    Ok(mut v) => {
                        let looks_legacy = match &v {
                            Value::Mapping(m) => m
                                .keys()
                                .any(|k| k.as_str().is_some_and(|k| LEGACY_KEYS.contains(&k))),
                            _ => false,
                        };
                        if !metallb_name && !looks_legacy {
                            diag.warn(
                                &object,
                                "data.config",
                                "ignored: not a MetalLB configuration (no peers, address-pools, \
                                 bgp-communities or bfd-profiles)",
                            );
                        } else {
                            match v.apply_merge() {
                                Ok(()) => found.legacy.push((object, v)),
                                Err(e) => diag.error(
                                    &object,
                                    "data.config",
                                    format!("invalid YAML merge key: {e}"),
                                ),
                            }
                        }
                    }
                    Err(e) if metallb_name => {
                        diag.error(&object, "data.config", format!("invalid YAML: {e}"));
                    }
                    Err(e) => diag.warn(
                        &object,
                        "data.config",
                        format!("ignored: not a MetalLB configuration (invalid YAML: {e})"),
                    ),
                }
            }
            Some(_) => diag.error(
                &object,
                "data.config",
                "must be a string holding the MetalLB configuration",
            ),
        }
        return;
    }

    let Some(version) = api_version.strip_prefix("metallb.io/") else {
        return; // Another API group: not ours to judge.
    };
    let (cr_kind, versions): (Option<CrKind>, &[&str]) = match kind.as_str() {
        "IPAddressPool" => (Some(CrKind::IpAddressPool), &["v1beta1"]),
        "BGPPeer" => (Some(CrKind::BgpPeer), &["v1beta1", "v1beta2"]),
        "BGPAdvertisement" => (Some(CrKind::BgpAdvertisement), &["v1beta1"]),
        "Community" => (Some(CrKind::Community), &["v1beta1"]),
        "BFDProfile" => (Some(CrKind::BfdProfile), &["v1beta1"]),
        "L2Advertisement" => (None, &["v1beta1"]),
        "ServiceBGPStatus" | "ServiceL2Status" | "ConfigurationState" => return,
        "AddressPool" => {
            diag.error(
                &label(&kind),
                "kind",
                "AddressPool was removed in MetalLB v0.14: use IPAddressPool plus BGPAdvertisement",
            );
            return;
        }
        other => {
            diag.error(
                &label(other),
                "kind",
                format!("unknown metallb.io kind {other:?}"),
            );
            return;
        }
    };
    let object = label(&kind);
    found.cr_labels.push(object.clone());
    if !versions.contains(&version) {
        diag.error(
            &object,
            "apiVersion",
            format!(
                "unsupported version {api_version:?} for {kind} (expected {})",
                versions
                    .iter()
                    .map(|v| format!("metallb.io/{v}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        );
        return;
    }
    let Some(cr_kind) = cr_kind else {
        return; // L2Advertisement: tolerated, not used for BGP.
    };
    let mark = diag.mark();
    for k in map.keys() {
        match k.as_str() {
            Some("apiVersion" | "kind" | "metadata" | "spec" | "status") => {}
            Some(other) => diag.error(
                &object,
                common::field_name(other),
                "unknown top-level field (expected apiVersion, kind, metadata, spec, status)",
            ),
            None => diag.error(&object, "-", format!("non-string key {k:?}")),
        }
    }
    match map.get("metadata") {
        None | Some(Value::Mapping(_)) => {}
        Some(_) => diag.error(&object, "metadata", "must be a mapping"),
    }
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        diag.error(&object, "metadata.name", "required");
        return;
    };
    let mut labels = BTreeMap::new();
    match meta.and_then(|m| m.get("labels")) {
        None | Some(Value::Null) => {}
        Some(Value::Mapping(l)) => {
            for (k, v) in l {
                match (k.as_str(), v) {
                    (Some(k), Value::String(v)) => {
                        labels.insert(k.to_owned(), v.clone());
                    }
                    _ => diag.error(
                        &object,
                        "metadata.labels",
                        format!("label {k:?} must map a string to a string"),
                    ),
                }
            }
        }
        Some(_) => diag.error(&object, "metadata.labels", "must be a mapping"),
    }
    if !diag.clean_since(mark) {
        return;
    }
    found.crs.push(CrObject {
        kind: cr_kind,
        version: version.to_owned(),
        name,
        labels,
        label: object,
        spec: map.get("spec").cloned().unwrap_or(Value::Null),
    });
}
