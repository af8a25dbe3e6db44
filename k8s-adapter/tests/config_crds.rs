//! The CustomResourceDefinitions in deploy/crds agree with the loader: same
//! kinds, versions and field names, and the defaults they declare are the
//! loader's defaults.

// Tests may unwrap/index/panic: a failure here is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeSet;
use std::path::Path;

use k8s_adapter::config::load_str;
use serde_norway::Value;

const CRDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/crds");

fn crd(file: &str) -> Value {
    let text = std::fs::read_to_string(Path::new(CRDS).join(file)).unwrap();
    serde_norway::from_str(&text).unwrap()
}

fn get<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| match v {
        Value::Mapping(m) => m.get(*k).unwrap_or_else(|| panic!("no {k} in {path:?}")),
        _ => panic!("{k}: not a mapping in {path:?}"),
    })
}

fn version<'a>(crd: &'a Value, name: &str) -> &'a Value {
    get(crd, &["spec", "versions"])
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| get(v, &["name"]).as_str() == Some(name))
        .unwrap_or_else(|| panic!("no version {name}"))
}

fn props(schema: &Value) -> BTreeSet<String> {
    get(schema, &["properties"])
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

fn spec_schema<'a>(crd: &'a Value, v: &str) -> &'a Value {
    get(
        version(crd, v),
        &["schema", "openAPIV3Schema", "properties", "spec"],
    )
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// A value of the schema's type, to probe the loader with.
fn sample(schema: &Value) -> &'static str {
    match get(schema, &["type"]).as_str().unwrap() {
        "string" => "\"x\"",
        "integer" => "1",
        "boolean" => "false",
        "array" => "[]",
        "object" => "{}",
        t => panic!("type {t}"),
    }
}

/// Every spec property of the schema is a field the loader knows (it may
/// reject the sample value, but never as an unknown field).
fn loader_knows_every_field(crd_value: &Value, kind: &str, v: &str) {
    let spec = spec_schema(crd_value, v);
    for (name, schema) in get(spec, &["properties"]).as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let yaml = format!(
            "apiVersion: metallb.io/{v}\nkind: {kind}\nmetadata: {{name: x, namespace: metallb-system}}\nspec:\n  {name}: {}\n",
            sample(schema)
        );
        if let Err(e) = load_str(&yaml) {
            assert!(
                !e.0.iter().any(|e| e.reason.contains("unknown field")),
                "{kind} {v} spec.{name}: {e}"
            );
        }
    }
}

fn check_envelope(
    c: &Value,
    plural: &str,
    group: &str,
    kind: &str,
    versions: &[&str],
    storage: &str,
) {
    assert_eq!(
        get(c, &["apiVersion"]).as_str(),
        Some("apiextensions.k8s.io/v1")
    );
    assert_eq!(get(c, &["kind"]).as_str(), Some("CustomResourceDefinition"));
    assert_eq!(
        get(c, &["metadata", "name"]).as_str().unwrap(),
        format!("{plural}.{group}")
    );
    assert_eq!(get(c, &["spec", "group"]).as_str(), Some(group));
    assert_eq!(get(c, &["spec", "scope"]).as_str(), Some("Namespaced"));
    assert_eq!(get(c, &["spec", "names", "kind"]).as_str(), Some(kind));
    assert_eq!(get(c, &["spec", "names", "plural"]).as_str(), Some(plural));
    assert_eq!(
        get(c, &["spec", "names", "listKind"]).as_str().unwrap(),
        format!("{kind}List")
    );
    let vs = get(c, &["spec", "versions"]).as_sequence().unwrap();
    let names: Vec<&str> = vs
        .iter()
        .map(|v| get(v, &["name"]).as_str().unwrap())
        .collect();
    assert_eq!(names, versions);
    let stored: Vec<&str> = vs
        .iter()
        .filter(|v| get(v, &["storage"]).as_bool() == Some(true))
        .map(|v| get(v, &["name"]).as_str().unwrap())
        .collect();
    assert_eq!(stored, [storage]);
    for v in vs {
        assert_eq!(get(v, &["served"]).as_bool(), Some(true));
        let top = props(get(v, &["schema", "openAPIV3Schema"]));
        assert!(
            top.is_superset(&set(&["apiVersion", "kind", "metadata", "status"])),
            "{top:?}"
        );
    }
}

#[test]
fn kustomization_lists_every_crd() {
    let k: Value = serde_norway::from_str(
        &std::fs::read_to_string(Path::new(CRDS).join("kustomization.yaml")).unwrap(),
    )
    .unwrap();
    let listed: BTreeSet<String> = get(&k, &["resources"])
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    let files: BTreeSet<String> = std::fs::read_dir(CRDS)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".yaml") && f != "kustomization.yaml")
        .collect();
    assert_eq!(listed, files);
    assert_eq!(files.len(), 7);
}

#[test]
fn ipaddresspools() {
    let c = crd("metallb.io_ipaddresspools.yaml");
    check_envelope(
        &c,
        "ipaddresspools",
        "metallb.io",
        "IPAddressPool",
        &["v1beta1"],
        "v1beta1",
    );
    let spec = spec_schema(&c, "v1beta1");
    assert_eq!(
        props(spec),
        set(&[
            "addresses",
            "autoAssign",
            "avoidBuggyIPs",
            "serviceAllocation"
        ])
    );
    assert_eq!(
        props(get(spec, &["properties", "serviceAllocation"])),
        set(&[
            "priority",
            "namespaces",
            "namespaceSelectors",
            "serviceSelectors"
        ])
    );
    assert_eq!(
        get(spec, &["properties", "autoAssign", "default"]).as_bool(),
        Some(true)
    );
    assert_eq!(
        get(spec, &["properties", "avoidBuggyIPs", "default"]).as_bool(),
        Some(false)
    );
    let status = get(
        version(&c, "v1beta1"),
        &["schema", "openAPIV3Schema", "properties", "status"],
    );
    assert_eq!(
        props(status),
        set(&[
            "assignedIPv4",
            "assignedIPv6",
            "availableIPv4",
            "availableIPv6"
        ])
    );
    loader_knows_every_field(&c, "IPAddressPool", "v1beta1");
}

#[test]
fn bgppeers() {
    let c = crd("metallb.io_bgppeers.yaml");
    check_envelope(
        &c,
        "bgppeers",
        "metallb.io",
        "BGPPeer",
        &["v1beta1", "v1beta2"],
        "v1beta2",
    );
    assert_eq!(
        get(version(&c, "v1beta1"), &["deprecated"]).as_bool(),
        Some(true)
    );
    assert_eq!(
        props(spec_schema(&c, "v1beta1")),
        set(&[
            "myASN",
            "peerASN",
            "peerAddress",
            "sourceAddress",
            "peerPort",
            "holdTime",
            "keepaliveTime",
            "routerID",
            "nodeSelectors",
            "password",
            "bfdProfile",
            "ebgpMultiHop",
        ])
    );
    let v2 = spec_schema(&c, "v1beta2");
    assert_eq!(
        props(v2),
        set(&[
            "myASN",
            "peerASN",
            "localASN",
            "dynamicASN",
            "peerAddress",
            "interface",
            "sourceAddress",
            "peerPort",
            "holdTime",
            "keepaliveTime",
            "connectTime",
            "routerID",
            "nodeSelectors",
            "password",
            "passwordSecret",
            "bfdProfile",
            "enableGracefulRestart",
            "ebgpMultiHop",
            "vrf",
            "disableMP",
            "dualStackAddressFamily",
        ])
    );
    assert_eq!(
        get(v2, &["properties", "peerPort", "default"]).as_u64(),
        Some(179)
    );
    assert_eq!(
        get(v2, &["properties", "peerPort", "maximum"]).as_u64(),
        Some(16384)
    );
    assert_eq!(
        get(v2, &["properties", "myASN", "maximum"]).as_u64(),
        Some(4_294_967_295)
    );
    assert_eq!(
        props(get(v2, &["properties", "passwordSecret"])),
        set(&["name", "namespace"])
    );
    let sel = get(v2, &["properties", "nodeSelectors", "items"]);
    assert_eq!(props(sel), set(&["matchLabels", "matchExpressions"]));
    assert_eq!(
        props(get(sel, &["properties", "matchExpressions", "items"])),
        set(&["key", "operator", "values"])
    );
    loader_knows_every_field(&c, "BGPPeer", "v1beta1");
    loader_knows_every_field(&c, "BGPPeer", "v1beta2");
}

#[test]
fn bgpadvertisements() {
    let c = crd("metallb.io_bgpadvertisements.yaml");
    check_envelope(
        &c,
        "bgpadvertisements",
        "metallb.io",
        "BGPAdvertisement",
        &["v1beta1"],
        "v1beta1",
    );
    let spec = spec_schema(&c, "v1beta1");
    assert_eq!(
        props(spec),
        set(&[
            "aggregationLength",
            "aggregationLengthV6",
            "localPref",
            "communities",
            "ipAddressPools",
            "ipAddressPoolSelectors",
            "nodeSelectors",
            "peers",
            "serviceSelectors",
        ])
    );
    assert_eq!(
        get(spec, &["properties", "aggregationLength", "default"]).as_u64(),
        Some(32)
    );
    assert_eq!(
        get(spec, &["properties", "aggregationLength", "minimum"]).as_u64(),
        Some(1)
    );
    assert_eq!(
        get(spec, &["properties", "aggregationLengthV6", "default"]).as_u64(),
        Some(128)
    );
    loader_knows_every_field(&c, "BGPAdvertisement", "v1beta1");
    // The API server's defaults are the loader's defaults: a defaulted
    // object with service selectors is valid.
    let yaml = "apiVersion: metallb.io/v1beta1\nkind: BGPAdvertisement\nmetadata: {name: a}\n\
                spec: {aggregationLength: 32, aggregationLengthV6: 128, serviceSelectors: [{matchLabels: {a: b}}]}\n";
    load_str(yaml).unwrap();
}

#[test]
fn communities_and_bfdprofiles() {
    let c = crd("metallb.io_communities.yaml");
    check_envelope(
        &c,
        "communities",
        "metallb.io",
        "Community",
        &["v1beta1"],
        "v1beta1",
    );
    let spec = spec_schema(&c, "v1beta1");
    assert_eq!(props(spec), set(&["communities"]));
    assert_eq!(
        props(get(spec, &["properties", "communities", "items"])),
        set(&["name", "value"])
    );
    loader_knows_every_field(&c, "Community", "v1beta1");

    let b = crd("metallb.io_bfdprofiles.yaml");
    check_envelope(
        &b,
        "bfdprofiles",
        "metallb.io",
        "BFDProfile",
        &["v1beta1"],
        "v1beta1",
    );
    let spec = spec_schema(&b, "v1beta1");
    assert_eq!(
        props(spec),
        set(&[
            "receiveInterval",
            "transmitInterval",
            "detectMultiplier",
            "echoInterval",
            "echoMode",
            "passiveMode",
            "minimumTtl",
        ])
    );
    for (field, lo, hi) in [
        ("receiveInterval", 10, 60000),
        ("transmitInterval", 10, 60000),
        ("detectMultiplier", 2, 255),
        ("echoInterval", 10, 60000),
        ("minimumTtl", 1, 254),
    ] {
        assert_eq!(
            get(spec, &["properties", field, "minimum"]).as_u64(),
            Some(lo),
            "{field}"
        );
        assert_eq!(
            get(spec, &["properties", field, "maximum"]).as_u64(),
            Some(hi),
            "{field}"
        );
    }
    loader_knows_every_field(&b, "BFDProfile", "v1beta1");
}

#[test]
fn status_kinds() {
    let c = crd("metallb.io_servicebgpstatuses.yaml");
    check_envelope(
        &c,
        "servicebgpstatuses",
        "metallb.io",
        "ServiceBGPStatus",
        &["v1beta1"],
        "v1beta1",
    );
    let status = get(
        version(&c, "v1beta1"),
        &["schema", "openAPIV3Schema", "properties", "status"],
    );
    assert_eq!(
        props(status),
        set(&["node", "serviceName", "serviceNamespace", "peers"])
    );

    let s = crd("bgp-k8s.io_bgpsessionstates.yaml");
    check_envelope(
        &s,
        "bgpsessionstates",
        "bgp-k8s.io",
        "BGPSessionState",
        &["v1alpha1"],
        "v1alpha1",
    );
    let schema = get(version(&s, "v1alpha1"), &["schema", "openAPIV3Schema"]);
    assert!(!props(schema).contains("spec"), "spec-less");
    let status = get(schema, &["properties", "status"]);
    assert_eq!(
        props(status),
        set(&[
            "node",
            "peer",
            "state",
            "uptimeSeconds",
            "prefixesSent",
            "prefixesReceived",
            "lastError",
            "lastNotification",
        ])
    );
    for f in ["uptimeSeconds", "prefixesSent", "prefixesReceived"] {
        assert_eq!(
            get(status, &["properties", f, "type"]).as_str(),
            Some("integer"),
            "{f}"
        );
    }
    for f in ["lastError", "lastNotification"] {
        assert_eq!(
            get(status, &["properties", f, "nullable"]).as_bool(),
            Some(true),
            "{f}"
        );
    }
    // Status objects are tolerated by the loader.
    load_str(
        "apiVersion: bgp-k8s.io/v1alpha1\nkind: BGPSessionState\nmetadata: {name: n-p}\nstatus: {state: Idle}\n\
         ---\napiVersion: metallb.io/v1beta1\nkind: ServiceBGPStatus\nmetadata: {name: s}\nstatus: {node: n}\n",
    )
    .unwrap();
}
