//! Shared pieces of the two front ends: error collection, typed decoding
//! with field paths, label selectors, timers and BFD ranges.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_norway::Value;
use serde_path_to_error::Segment;

use super::ConfigError;
use super::duration::{parse_go_duration, show, whole_seconds};
use super::model::BfdProfile;
use super::raw::{RawRequirement, Text};
use crate::selector::{LabelSelector, Operator, Requirement};

/// How a key shows as a field in an error: a key that is the empty string
/// (YAML allows one) is shown quoted, `""`, so that no error names an empty
/// field.
pub(crate) fn field_name(key: &str) -> &str {
    if key.is_empty() { "\"\"" } else { key }
}

/// Errors and warnings collected while loading.
#[derive(Debug, Default)]
pub(crate) struct Diag {
    pub(crate) errors: Vec<ConfigError>,
    pub(crate) warnings: Vec<ConfigError>,
    /// (object, field) pairs whose value was dropped after a decoding
    /// error: further errors on them would only repeat it.
    suppressed: Vec<(String, String)>,
}

impl Diag {
    pub(crate) fn error(
        &mut self,
        object: &str,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) {
        let field = whole_if_empty(field.into());
        if self.suppressed.iter().any(|(o, f)| {
            o == object
                && (field == *f
                    || field.starts_with(&format!("{f}."))
                    || field.starts_with(&format!("{f}[")))
        }) {
            return;
        }
        self.errors.push(ConfigError {
            object: object.to_owned(),
            field,
            reason: reason.into(),
        });
    }

    /// Drops later errors on `field` (and below it) of `object`.
    pub(crate) fn suppress(&mut self, object: &str, field: String) {
        self.suppressed.push((object.to_owned(), field));
    }

    pub(crate) fn warn(
        &mut self,
        object: &str,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) {
        self.warnings.push(ConfigError {
            object: object.to_owned(),
            field: whole_if_empty(field.into()),
            reason: reason.into(),
        });
    }

    /// A marker to ask later whether errors were added since.
    pub(crate) fn mark(&self) -> usize {
        self.errors.len()
    }

    /// Whether no error was added since `mark`.
    pub(crate) fn clean_since(&self, mark: usize) -> bool {
        self.errors.len() == mark
    }
}

/// An error about the whole object (no field path) names the field `-`.
fn whole_if_empty(field: String) -> String {
    if field.is_empty() {
        "-".to_owned()
    } else {
        field
    }
}

/// Which spelling of field names an object uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Legacy ConfigMap: kebab-case, fields relative to the list element.
    Legacy,
    /// CRDs: camelCase under `spec.`.
    Crd,
}

/// Where an object's fields live: its dialect plus a path prefix (`spec.`,
/// `bgp-advertisements[1].`, or nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fields {
    pub(crate) dialect: Dialect,
    pub(crate) prefix: String,
}

impl Fields {
    pub(crate) fn legacy(prefix: impl Into<String>) -> Self {
        Self {
            dialect: Dialect::Legacy,
            prefix: prefix.into(),
        }
    }

    pub(crate) fn crd() -> Self {
        Self {
            dialect: Dialect::Crd,
            prefix: "spec.".into(),
        }
    }

    /// The full path of a field given its legacy and CRD names.
    pub(crate) fn name(&self, legacy: &str, crd: &str) -> String {
        match self.dialect {
            Dialect::Legacy => format!("{}{legacy}", self.prefix),
            Dialect::Crd => format!("{}{crd}", self.prefix),
        }
    }
}

/// Joins a field path prefix (`spec.`, `bgp-advertisements[0].`, `""`)
/// and a relative path.
fn join(prefix: &str, rel: &str) -> String {
    if rel.is_empty() || rel == "." {
        let p = prefix.trim_end_matches('.');
        if p.is_empty() {
            "-".to_owned()
        } else {
            p.to_owned()
        }
    } else if rel.starts_with('[') {
        format!("{}{rel}", prefix.trim_end_matches('.'))
    } else {
        format!("{prefix}{rel}")
    }
}

/// Decodes `value` into `T`, collecting every type error and unknown field
/// with its path under `prefix`.
///
/// serde stops at the first problem, so each failure is recorded, the
/// offending key (or the list holding an offending element) is removed and
/// decoding is retried; later "required" errors for removed fields are
/// suppressed. Returns `None` only when decoding cannot make progress.
pub(crate) fn decode<T: DeserializeOwned + Default>(
    mut value: Value,
    object: &str,
    prefix: &str,
    diag: &mut Diag,
) -> Option<T> {
    for _ in 0..64 {
        if value.is_null() {
            return Some(T::default());
        }
        let e = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(t) => return Some(t),
            Err(e) => e,
        };
        let mut segments: Vec<Segment> = e.path().iter().cloned().collect();
        let inner = e.into_inner().to_string();
        // Point unknown-field errors at the offending key itself.
        if let Some(rest) = inner.strip_prefix("unknown field `") {
            if let Some((key, _)) = rest.split_once('`') {
                let is_tail = matches!(segments.last(), Some(Segment::Map { key: k }) if k == key);
                if !is_tail {
                    segments.push(Segment::Map {
                        key: key.to_owned(),
                    });
                }
            }
        }
        diag.error(object, join(prefix, &path_string(&segments)), inner);
        // Drop what failed: a mapping key, or the whole list around a bad
        // element (removing the element would renumber its siblings).
        while matches!(segments.last(), Some(Segment::Seq { .. })) {
            segments.pop();
        }
        if segments.is_empty() || !remove_at(&mut value, &segments) {
            return None;
        }
        diag.suppress(object, join(prefix, &path_string(&segments)));
    }
    None
}

fn path_string(segments: &[Segment]) -> String {
    let mut out = String::new();
    for s in segments {
        match s {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(field_name(key));
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    out
}

/// Removes the mapping entry at `path` (whose last segment is a key).
fn remove_at(value: &mut Value, path: &[Segment]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut cur = value;
    for seg in parents {
        cur = match (seg, cur) {
            (Segment::Map { key }, Value::Mapping(m)) => match m.get_mut(key.as_str()) {
                Some(v) => v,
                None => return false,
            },
            (Segment::Seq { index }, Value::Sequence(s)) => match s.get_mut(*index) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, cur) {
        (Segment::Map { key }, Value::Mapping(m)) => m.remove(key.as_str()).is_some(),
        _ => false,
    }
}

/// Optional text field: `None` and `""` both mean unset (Go's zero value).
pub(crate) fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// Same for a legacy lenient string.
pub(crate) fn text(s: Option<Text>) -> Option<String> {
    non_empty(s.map(|t| t.0))
}

// ---------------------------------------------------------------------------
// Label selectors.

/// Validates a label key (`[prefix/]name`) the way Kubernetes does.
fn label_key_error(key: &str) -> Option<String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        let dns_ok = !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !dns_ok {
            return Some(format!(
                "invalid label key {key:?}: prefix {p:?} must be a lowercase DNS subdomain"
            ));
        }
    }
    if name.is_empty() {
        return Some(format!(
            "invalid label key {key:?}: name part must not be empty"
        ));
    }
    if let Some(e) = label_name_error(name) {
        return Some(format!("invalid label key {key:?}: {e}"));
    }
    None
}

/// Validates a label value (or the name part of a key).
fn label_name_error(v: &str) -> Option<String> {
    if v.is_empty() {
        return None;
    }
    if v.len() > 63 {
        return Some("must be at most 63 characters".into());
    }
    let alnum = |b: u8| b.is_ascii_alphanumeric();
    let ok = v
        .bytes()
        .all(|b| alnum(b) || b == b'-' || b == b'_' || b == b'.')
        && v.bytes().next().is_some_and(alnum)
        && v.bytes().last().is_some_and(alnum);
    if ok {
        None
    } else {
        Some(
            "must consist of alphanumerics, '-', '_' or '.', and start and end with an alphanumeric"
                .into(),
        )
    }
}

/// Converts a raw selector, validating keys, values and operators like
/// `metav1.LabelSelectorAsSelector` plus MetalLB's duplicate checks.
fn convert_selector(
    match_labels: Option<&BTreeMap<String, Text>>,
    match_expressions: Option<&[RawRequirement]>,
    object: &str,
    path: &str,
    dialect: Dialect,
    diag: &mut Diag,
) -> Option<LabelSelector> {
    let mark = diag.mark();
    let (labels_key, exprs_key) = match dialect {
        Dialect::Legacy => ("match-labels", "match-expressions"),
        Dialect::Crd => ("matchLabels", "matchExpressions"),
    };
    let mut sel = LabelSelector::default();
    for (k, v) in match_labels.into_iter().flatten() {
        let f = format!("{path}.{labels_key}.{k}");
        if let Some(e) = label_key_error(k) {
            diag.error(object, f.clone(), e);
        }
        if let Some(e) = label_name_error(&v.0) {
            diag.error(object, f, format!("invalid label value {:?}: {e}", v.0));
        }
        sel.match_labels.insert(k.clone(), v.0.clone());
    }
    let mut seen: Vec<(String, String, Vec<String>)> = Vec::new();
    for (i, r) in match_expressions.into_iter().flatten().enumerate() {
        let f = format!("{path}.{exprs_key}[{i}]");
        let Some(key) = r.key.clone().filter(|k| !k.is_empty()) else {
            diag.error(object, format!("{f}.key"), "required");
            continue;
        };
        if let Some(e) = label_key_error(&key) {
            diag.error(object, format!("{f}.key"), e);
        }
        let values: Vec<String> = r.values.iter().flatten().map(|t| t.0.clone()).collect();
        let op = match r.operator.as_deref() {
            Some("In") => Operator::In,
            Some("NotIn") => Operator::NotIn,
            Some("Exists") => Operator::Exists,
            Some("DoesNotExist") => Operator::DoesNotExist,
            None | Some("") => {
                diag.error(object, format!("{f}.operator"), "required");
                continue;
            }
            Some(other) => {
                diag.error(
                    object,
                    format!("{f}.operator"),
                    format!(
                        "unknown operator {other:?} (expected In, NotIn, Exists or DoesNotExist)"
                    ),
                );
                continue;
            }
        };
        match op {
            Operator::In | Operator::NotIn if values.is_empty() => {
                diag.error(
                    object,
                    format!("{f}.values"),
                    format!("must be non-empty for operator {op:?}"),
                );
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                diag.error(
                    object,
                    format!("{f}.values"),
                    format!("must be empty for operator {op:?}"),
                );
            }
            _ => {}
        }
        for (j, v) in values.iter().enumerate() {
            if let Some(e) = label_name_error(v) {
                diag.error(
                    object,
                    format!("{f}.values[{j}]"),
                    format!("invalid label value {v:?}: {e}"),
                );
            }
            if values.iter().take(j).any(|w| w == v) {
                diag.error(
                    object,
                    format!("{f}.values[{j}]"),
                    format!("duplicate value {v:?}"),
                );
            }
        }
        let mut sorted = values.clone();
        sorted.sort();
        let sig = (key.clone(), format!("{op:?}"), sorted);
        if seen.contains(&sig) {
            diag.error(object, f.clone(), "duplicate match expression");
        }
        seen.push(sig);
        sel.match_expressions.push(Requirement {
            key,
            operator: op,
            values,
        });
    }
    diag.clean_since(mark).then_some(sel)
}

/// A canonical form of a selector, for duplicate detection.
fn selector_signature(s: &LabelSelector) -> String {
    let mut exprs: Vec<String> = s
        .match_expressions
        .iter()
        .map(|r| {
            let mut v = r.values.clone();
            v.sort();
            format!("{}|{:?}|{}", r.key, r.operator, v.join(","))
        })
        .collect();
    exprs.sort();
    format!("{:?}/{}", s.match_labels, exprs.join(";"))
}

/// Converts a selector list (legacy `node-selectors` or any CRD selector
/// list), rejecting duplicates as MetalLB does.
pub(crate) fn convert_legacy_selectors(
    list: Option<&[super::raw::LegacySelector]>,
    object: &str,
    path: &str,
    diag: &mut Diag,
) -> Vec<LabelSelector> {
    let items: Vec<_> = list
        .into_iter()
        .flatten()
        .map(|s| (s.match_labels.as_ref(), s.match_expressions.as_deref()))
        .collect();
    convert_selector_list(&items, object, path, Dialect::Legacy, diag)
}

/// See [`convert_legacy_selectors`].
pub(crate) fn convert_k8s_selectors(
    list: Option<&[super::raw::K8sSelector]>,
    object: &str,
    path: &str,
    diag: &mut Diag,
) -> Vec<LabelSelector> {
    let items: Vec<_> = list
        .into_iter()
        .flatten()
        .map(|s| (s.match_labels.as_ref(), s.match_expressions.as_deref()))
        .collect();
    convert_selector_list(&items, object, path, Dialect::Crd, diag)
}

type RawSel<'a> = (
    Option<&'a BTreeMap<String, Text>>,
    Option<&'a [RawRequirement]>,
);

fn convert_selector_list(
    items: &[RawSel<'_>],
    object: &str,
    path: &str,
    dialect: Dialect,
    diag: &mut Diag,
) -> Vec<LabelSelector> {
    let mut out: Vec<LabelSelector> = Vec::new();
    let mut sigs: Vec<String> = Vec::new();
    for (i, (labels, exprs)) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        if let Some(sel) = convert_selector(*labels, *exprs, object, &p, dialect, diag) {
            let sig = selector_signature(&sel);
            if sigs.contains(&sig) {
                diag.error(object, p, "duplicate selector");
                continue;
            }
            sigs.push(sig);
            out.push(sel);
        }
    }
    out
}

/// Rejects duplicate strings in a list (MetalLB's `validateDuplicate`).
pub(crate) fn check_duplicates(
    list: &[String],
    object: &str,
    path: &str,
    what: &str,
    diag: &mut Diag,
) {
    for (i, v) in list.iter().enumerate() {
        if list.iter().take(i).any(|w| w == v) {
            diag.error(
                object,
                format!("{path}[{i}]"),
                format!("duplicate {what} {v:?}"),
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Numbers.

/// An integer field that must lie in `lo..=hi`.
pub(crate) fn ranged(
    v: i64,
    lo: i64,
    hi: i64,
    object: &str,
    field: &str,
    diag: &mut Diag,
) -> Option<i64> {
    if (lo..=hi).contains(&v) {
        Some(v)
    } else {
        diag.error(object, field, format!("{v} is out of range {lo}..{hi}"));
        None
    }
}

/// An AS number: required, 1..=4294967295.
pub(crate) fn asn(v: Option<i64>, object: &str, field: &str, diag: &mut Diag) -> Option<u32> {
    match v {
        None => {
            diag.error(object, field, "required");
            None
        }
        Some(0) => {
            diag.error(object, field, "AS number must not be 0");
            None
        }
        Some(n) => match u32::try_from(n) {
            Ok(n) => Some(n),
            Err(_) => {
                diag.error(
                    object,
                    field,
                    format!("AS number {n} is out of range 1..4294967295"),
                );
                None
            }
        },
    }
}

// ---------------------------------------------------------------------------
// Timers.

/// How hold/keepalive defaults combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimerRules {
    /// Legacy: hold defaults to 90 s; keepalive only checked against it.
    Legacy,
    /// CRD (`parseTimers`): keepalive alone implies hold = 3 × keepalive.
    Crd,
}

/// The BGP OPEN hold time field is 16 bits of seconds.
const MAX_HOLD_SECS: u64 = 65_535;

/// Parses and validates hold/keepalive, returning the normalized
/// `(hold, keepalive)`: whole seconds, default hold 90 s, and keepalive
/// `None` when unset or 0 (meaning hold/3).
pub(crate) fn timers(
    hold: Option<&str>,
    keepalive: Option<&str>,
    rules: TimerRules,
    object: &str,
    hold_field: &str,
    keepalive_field: &str,
    diag: &mut Diag,
) -> Option<(Duration, Option<Duration>)> {
    let mark = diag.mark();
    let parse = |s: Option<&str>, field: &str, diag: &mut Diag| -> Option<Option<Duration>> {
        match s {
            None => Some(None),
            Some(s) => match parse_go_duration(s) {
                Ok(d) => Some(Some(d)),
                Err(e) => {
                    diag.error(object, field, e);
                    None
                }
            },
        }
    };
    let hold_raw = parse(hold, hold_field, diag);
    let ka_raw = parse(keepalive, keepalive_field, diag);
    let (Some(hold_raw), Some(ka_raw)) = (hold_raw, ka_raw) else {
        return None;
    };
    let hold = match (hold_raw, ka_raw, rules) {
        (Some(h), _, _) => h,
        (None, Some(k), TimerRules::Crd) => k.saturating_mul(3),
        (None, _, _) => Duration::from_secs(90),
    };
    let hold_s = whole_seconds(hold);
    if hold_s != Duration::ZERO && hold_s < Duration::from_secs(3) {
        diag.error(
            object,
            hold_field,
            format!("hold time {} must be 0 or at least 3s", show(hold)),
        );
    } else if hold_s.as_secs() > MAX_HOLD_SECS {
        diag.error(
            object,
            if hold_raw.is_some() {
                hold_field
            } else {
                keepalive_field
            },
            format!(
                "hold time {} exceeds the BGP maximum of 65535s",
                show(hold_s)
            ),
        );
    }
    if let Some(k) = ka_raw {
        // Legacy compares the rounded values, CRDs the raw ones.
        let (kc, hc) = match rules {
            TimerRules::Legacy => (whole_seconds(k), hold_s),
            TimerRules::Crd => (k, hold),
        };
        if kc > hc {
            diag.error(
                object,
                keepalive_field,
                format!(
                    "keepalive time {} must not exceed the hold time {}",
                    show(kc),
                    show(hc)
                ),
            );
        }
    }
    if !diag.clean_since(mark) {
        return None;
    }
    let ka = ka_raw.map(whole_seconds).filter(|k| !k.is_zero());
    Some((hold_s, ka))
}

// ---------------------------------------------------------------------------
// BFD.

/// Raw BFD profile numbers, either dialect.
pub(crate) struct BfdRaw {
    pub(crate) receive_interval: Option<i64>,
    pub(crate) transmit_interval: Option<i64>,
    pub(crate) detect_multiplier: Option<i64>,
    pub(crate) echo_interval: Option<i64>,
    pub(crate) echo_mode: Option<bool>,
    pub(crate) passive_mode: Option<bool>,
    pub(crate) minimum_ttl: Option<i64>,
}

/// Validates ranges and applies FRR's defaults.
pub(crate) fn bfd_profile(
    name: String,
    raw: &BfdRaw,
    object: &str,
    fields: &Fields,
    diag: &mut Diag,
) -> Option<BfdProfile> {
    let mark = diag.mark();
    let mut get = |v: Option<i64>, lo: i64, hi: i64, def: u32, legacy: &str, crd: &str| -> u32 {
        match v {
            None => def,
            Some(v) => ranged(v, lo, hi, object, &fields.name(legacy, crd), diag)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(def),
        }
    };
    let receive_interval = get(
        raw.receive_interval,
        10,
        60000,
        300,
        "receive-interval",
        "receiveInterval",
    );
    let transmit_interval = get(
        raw.transmit_interval,
        10,
        60000,
        300,
        "transmit-interval",
        "transmitInterval",
    );
    let detect_multiplier = get(
        raw.detect_multiplier,
        2,
        255,
        3,
        "detect-multiplier",
        "detectMultiplier",
    );
    let echo_interval = get(
        raw.echo_interval,
        10,
        60000,
        50,
        "echo-interval",
        "echoInterval",
    );
    let minimum_ttl = get(raw.minimum_ttl, 1, 254, 254, "minimum-ttl", "minimumTtl");
    diag.clean_since(mark).then(|| BfdProfile {
        name,
        receive_interval,
        transmit_interval,
        detect_multiplier,
        echo_interval,
        echo_mode: raw.echo_mode.unwrap_or(false),
        passive_mode: raw.passive_mode.unwrap_or(false),
        minimum_ttl,
    })
}
