//! Loading Kubernetes object manifests into a [`World`].
//!
//! Accepts what `kubectl get -o yaml` / `-o json` prints: multi-document YAML
//! or JSON, single objects or `kind: List` (and `ServiceList`, `NodeList`, …)
//! with `items`. Services (`v1`), EndpointSlices (`discovery.k8s.io/v1`),
//! Nodes (`v1`) and Namespaces (`v1`) are kept; every other kind (ConfigMaps,
//! `metallb.io` resources, Pods, …) is skipped, so one directory can hold the
//! MetalLB configuration and the cluster objects together.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::world::World;

/// A problem loading object manifests.
#[derive(Debug, thiserror::Error)]
pub enum ObjectsError {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A document is not valid YAML/JSON.
    #[error("{origin}: document {document}: {message}")]
    Syntax {
        /// File name (or `<string>`).
        origin: String,
        /// 1-based document index in the file.
        document: usize,
        /// What is wrong.
        message: String,
    },
    /// A known kind did not deserialize.
    #[error("{origin}: document {document}: {kind} {name}: {message}")]
    Object {
        /// File name (or `<string>`).
        origin: String,
        /// 1-based document index in the file.
        document: usize,
        /// The object's kind.
        kind: String,
        /// The object's name, when present.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// What a load found besides the objects it kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadSummary {
    /// Objects kept, per kind (`Service`, `EndpointSlice`, `Node`, `Namespace`).
    pub kept: std::collections::BTreeMap<String, usize>,
    /// Objects skipped, per `apiVersion/kind`.
    pub skipped: std::collections::BTreeMap<String, usize>,
}

/// Parses manifests from a string into a new [`World`].
pub fn load_str(text: &str) -> Result<World, ObjectsError> {
    let mut world = World::new();
    add_str(&mut world, text, "<string>")?;
    Ok(world)
}

/// Loads every file in `paths` (a directory means each `.yaml`, `.yml` and
/// `.json` file directly inside it, in name order) into a new [`World`].
pub fn load_paths(paths: &[&Path]) -> Result<World, ObjectsError> {
    let mut world = World::new();
    for p in paths {
        add_path(&mut world, p)?;
    }
    Ok(world)
}

/// Adds the objects of one file or directory to `world`.
pub fn add_path(world: &mut World, path: &Path) -> Result<LoadSummary, ObjectsError> {
    let io = |source| ObjectsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut summary = LoadSummary::default();
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.is_file()
                    && p.extension()
                        .and_then(|e| e.to_str())
                        .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
            })
            .collect();
        files.sort();
        for f in files {
            merge(&mut summary, add_path(world, &f)?);
        }
        return Ok(summary);
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    add_str(world, &text, &path.display().to_string())
}

fn merge(into: &mut LoadSummary, from: LoadSummary) {
    for (k, v) in from.kept {
        *into.kept.entry(k).or_default() += v;
    }
    for (k, v) in from.skipped {
        *into.skipped.entry(k).or_default() += v;
    }
}

/// Adds the objects in `text` to `world`; `origin` names the source in errors.
pub fn add_str(world: &mut World, text: &str, origin: &str) -> Result<LoadSummary, ObjectsError> {
    let mut summary = LoadSummary::default();
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let document = i + 1;
        let syntax = |message: String| ObjectsError::Syntax {
            origin: origin.to_owned(),
            document,
            message,
        };
        let value: serde_yaml::Value =
            serde::Deserialize::deserialize(doc).map_err(|e| syntax(e.to_string()))?;
        if value.is_null() {
            continue;
        }
        let value: Value = serde_json::to_value(&value).map_err(|e| syntax(e.to_string()))?;
        add_value(world, value, origin, document, &mut summary)?;
    }
    Ok(summary)
}

fn add_value(
    world: &mut World,
    value: Value,
    origin: &str,
    document: usize,
    summary: &mut LoadSummary,
) -> Result<(), ObjectsError> {
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if kind.ends_with("List") {
        // `kind: List` or a typed list such as `ServiceList`: items may omit
        // apiVersion/kind in the typed form, so fill them in.
        let item_kind = kind.strip_suffix("List").unwrap_or_default();
        if let Some(Value::Array(items)) = value.get("items").cloned() {
            for mut item in items {
                if !item_kind.is_empty() {
                    if let Value::Object(m) = &mut item {
                        m.entry("kind")
                            .or_insert_with(|| Value::String(item_kind.to_owned()));
                        m.entry("apiVersion")
                            .or_insert_with(|| Value::String(api_version.clone()));
                    }
                }
                add_value(world, item, origin, document, summary)?;
            }
        }
        return Ok(());
    }
    let name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let bad = |message: String| ObjectsError::Object {
        origin: origin.to_owned(),
        document,
        kind: kind.clone(),
        name: name.clone(),
        message,
    };
    match (api_version.as_str(), kind.as_str()) {
        ("v1", "Service") => world.upsert_service(parse(value).map_err(bad)?),
        ("discovery.k8s.io/v1", "EndpointSlice") => {
            world.upsert_endpoint_slice(parse(value).map_err(bad)?);
        }
        ("v1", "Node") => world.upsert_node(parse(value).map_err(bad)?),
        ("v1", "Namespace") => world.upsert_namespace(parse(value).map_err(bad)?),
        _ => {
            *summary
                .skipped
                .entry(format!("{api_version}/{kind}"))
                .or_default() += 1;
            return Ok(());
        }
    }
    *summary.kept.entry(kind).or_default() += 1;
    Ok(())
}

fn parse<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}
