//! An in-process fake Kubernetes API server speaking the real HTTP API
//! (JSON over HTTP/1.1 on 127.0.0.1), enough for kube-rs clients and
//! kube-runtime watchers:
//!
//! - LIST (`kind: <Kind>List`, `metadata.resourceVersion`), with label
//!   selectors (`k=v`, `k==v`, `k!=v`, `k`, `!k`) and field selectors
//!   (`metadata.name`, `metadata.namespace`);
//! - WATCH (`?watch=true&resourceVersion=N&allowWatchBookmarks=true`):
//!   newline-delimited JSON `ADDED`/`MODIFIED`/`DELETED`/`BOOKMARK` events
//!   after `N`, or an `ERROR` event carrying a `Status` with code 410 when
//!   `N` is older than the last compaction (what the real server does), so
//!   the client relists;
//! - GET, POST (create, 409 AlreadyExists), PUT (replace, 409 Conflict on a
//!   stale `metadata.resourceVersion`), PATCH (`merge-patch+json`,
//!   `strategic-merge-patch+json` treated as merge, `apply-patch+yaml` as an
//!   upsert-merge) on objects and on the `status` subresource, DELETE.
//!
//! Resources with a status subresource ignore `status` in writes to the
//! object and everything but `status` in writes to `/status`, like the
//! real server. Writes that change nothing keep the resourceVersion and
//! send no event. Every request is recorded for inspection.
//!
//! Not modelled: server-side apply field ownership (an apply merges into the
//! stored object; `null` removes a field), pagination (`limit` is ignored),
//! `sendInitialEvents`, admission and validation.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test support: each test crate uses part of it; a panic is a test failure.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Map, Value, json};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;

/// A resource: `apiVersion` (`v1`, `group/version`) and plural name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvr {
    pub api_version: String,
    pub plural: String,
}

impl Gvr {
    pub fn new(api_version: &str, plural: &str) -> Self {
        Self {
            api_version: api_version.to_owned(),
            plural: plural.to_owned(),
        }
    }
}

#[derive(Clone, Debug)]
struct ResourceInfo {
    kind: String,
    namespaced: bool,
    status: bool,
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: Option<String>,
    pub body: Option<Value>,
}

#[derive(Debug)]
struct Change {
    /// `None`: a bookmark for every watcher.
    gvr: Option<Gvr>,
    type_: &'static str,
    object: Value,
    rv: u64,
}

type ObjKey = (String, String);

struct Inner {
    rv: u64,
    resources: BTreeMap<Gvr, ResourceInfo>,
    objects: BTreeMap<Gvr, BTreeMap<ObjKey, Value>>,
    history: Vec<Arc<Change>>,
    /// Watches from a resourceVersion below this get 410 Gone.
    compacted: u64,
    live: broadcast::Sender<Arc<Change>>,
    mute: bool,
    requests: Vec<Recorded>,
    uid: u64,
    /// Watches answered with 410 Gone.
    gone: usize,
}

impl Inner {
    fn info(&self, gvr: &Gvr) -> Option<&ResourceInfo> {
        self.resources.get(gvr)
    }

    fn gvr_of_kind(&self, api_version: &str, kind: &str) -> Option<Gvr> {
        self.resources
            .iter()
            .find(|(g, i)| g.api_version == api_version && i.kind == kind)
            .map(|(g, _)| g.clone())
    }

    fn get(&self, gvr: &Gvr, ns: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(gvr)
            .and_then(|m| m.get(&(ns.to_owned(), name.to_owned())))
    }

    /// Stores (or removes, for DELETED) an object under a new
    /// resourceVersion, records and broadcasts the change.
    fn commit(&mut self, gvr: &Gvr, type_: &'static str, mut obj: Value) -> Value {
        self.rv += 1;
        let rv = self.rv;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let key = key_of(&obj);
        let map = self.objects.entry(gvr.clone()).or_default();
        if type_ == "DELETED" {
            map.remove(&key);
        } else {
            map.insert(key, obj.clone());
        }
        let change = Arc::new(Change {
            gvr: Some(gvr.clone()),
            type_,
            object: obj.clone(),
            rv,
        });
        self.history.push(Arc::clone(&change));
        if !self.mute {
            let _ = self.live.send(change);
        }
        obj
    }

    /// Fills in server-set fields of a new object.
    fn prepare_new(&mut self, gvr: &Gvr, info: &ResourceInfo, mut obj: Value, ns: &str) -> Value {
        if !obj.is_object() {
            obj = json!({});
        }
        obj["apiVersion"] = json!(gvr.api_version);
        obj["kind"] = json!(info.kind);
        if !obj["metadata"].is_object() {
            obj["metadata"] = json!({});
        }
        if info.namespaced {
            obj["metadata"]["namespace"] = json!(ns);
        }
        if obj["metadata"]["name"].as_str().unwrap_or("").is_empty() {
            if let Some(prefix) = obj["metadata"]["generateName"].as_str() {
                self.uid += 1;
                obj["metadata"]["name"] = json!(format!("{prefix}{:05x}", self.uid));
            }
        }
        self.uid += 1;
        obj["metadata"]["uid"] = json!(format!("00000000-0000-0000-0000-{:012x}", self.uid));
        obj["metadata"]["creationTimestamp"] = json!("2025-01-01T00:00:00Z");
        obj
    }
}

fn key_of(obj: &Value) -> ObjKey {
    (
        obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        obj["metadata"]["name"].as_str().unwrap_or("").to_owned(),
    )
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    if let Value::Object(p) = patch {
        if !target.is_object() {
            *target = Value::Object(Map::new());
        }
        let t = target.as_object_mut().unwrap();
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    } else {
        *target = patch.clone();
    }
}

/// Equal but for metadata.resourceVersion.
fn same_object(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        v
    };
    strip(a) == strip(b)
}

fn status_body(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    })
}

fn json_response(code: u16, body: &Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap())
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn error(code: u16, reason: &str, message: &str) -> Response {
    json_response(code, &status_body(code, reason, message))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// Label and field selectors of a request.
#[derive(Clone, Debug, Default)]
struct Selectors {
    labels: Vec<String>,
    fields: Vec<String>,
}

impl Selectors {
    fn from_query(q: &BTreeMap<String, String>) -> Self {
        let split = |s: Option<&String>| {
            s.map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
        };
        Self {
            labels: split(q.get("labelSelector")),
            fields: split(q.get("fieldSelector")),
        }
    }

    fn matches(&self, obj: &Value) -> bool {
        let labels = obj["metadata"]["labels"].as_object();
        let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        for term in &self.labels {
            let ok = if let Some((k, v)) = term.split_once("!=") {
                label(k) != Some(v)
            } else if let Some((k, v)) = term.split_once("==") {
                label(k) == Some(v)
            } else if let Some((k, v)) = term.split_once('=') {
                label(k) == Some(v)
            } else if let Some(k) = term.strip_prefix('!') {
                label(k).is_none()
            } else {
                label(term).is_some()
            };
            if !ok {
                return false;
            }
        }
        for term in &self.fields {
            let (k, v, neg) = if let Some((k, v)) = term.split_once("!=") {
                (k, v, true)
            } else if let Some((k, v)) = term.split_once("==") {
                (k, v, false)
            } else if let Some((k, v)) = term.split_once('=') {
                (k, v, false)
            } else {
                return false;
            };
            let actual = match k {
                "metadata.name" => obj["metadata"]["name"].as_str(),
                "metadata.namespace" => obj["metadata"]["namespace"].as_str(),
                _ => return false,
            };
            if (actual == Some(v)) == neg {
                return false;
            }
        }
        true
    }
}

/// The target of a request.
#[derive(Clone, Debug)]
struct Target {
    gvr: Gvr,
    namespace: Option<String>,
    name: Option<String>,
    status: bool,
}

fn parse_path(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (api_version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ((*v).to_owned(), rest),
        ["apis", g, v, rest @ ..] => (format!("{g}/{v}"), rest),
        _ => return None,
    };
    let namespaced_form =
        rest.len() >= 3 && rest[0] == "namespaces" && !(rest.len() == 3 && rest[2] == "status");
    let (namespace, rest) = if namespaced_form {
        (Some(rest[1].to_owned()), &rest[2..])
    } else {
        (None, rest)
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(*n), None),
        [p, n, s] => (*p, Some(*n), Some(*s)),
        _ => return None,
    };
    if sub.is_some_and(|s| s != "status") {
        return None;
    }
    Some(Target {
        gvr: Gvr::new(&api_version, plural),
        namespace,
        name: name.map(str::to_owned),
        status: sub.is_some(),
    })
}

#[derive(Clone)]
struct App {
    inner: Arc<Mutex<Inner>>,
    close: watch::Receiver<u64>,
    watches: Arc<AtomicUsize>,
}

impl App {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }
}

async fn handle(
    State(app): State<App>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query_str = uri.query().unwrap_or("").to_owned();
    let query = parse_query(&query_str);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body_json: Option<Value> = if body.is_empty() {
        None
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => Some(v),
            Err(e) => return error(400, "BadRequest", &format!("invalid JSON body: {e}")),
        }
    };
    app.lock().requests.push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        query: query_str,
        content_type: content_type.clone(),
        body: body_json.clone(),
    });
    let Some(target) = parse_path(&path) else {
        return error(
            404,
            "NotFound",
            &format!("the server could not find {path}"),
        );
    };
    let Some(info) = app.lock().info(&target.gvr).cloned() else {
        return error(
            404,
            "NotFound",
            &format!("the server could not find the requested resource ({path})"),
        );
    };
    if target.status && !info.status {
        return error(
            404,
            "NotFound",
            &format!("the server could not find the requested resource ({path})"),
        );
    }
    let ns = target.namespace.clone().unwrap_or_default();
    match (&method, target.name.as_deref()) {
        (&Method::GET, None) => {
            let watching = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
            if watching {
                watch_response(&app, &target, &info, &query)
            } else {
                list(&app, &target, &info, &query)
            }
        }
        (&Method::GET, Some(name)) => match app.lock().get(&target.gvr, &ns, name) {
            Some(o) => json_response(200, o),
            None => not_found(&target, name),
        },
        (&Method::POST, None) => create(&app, &target, &info, body_json),
        (&Method::PUT, Some(name)) => replace(&app, &target, &info, name, body_json),
        (&Method::PATCH, Some(name)) => patch(
            &app,
            &target,
            &info,
            name,
            content_type.as_deref(),
            body_json,
        ),
        (&Method::DELETE, Some(name)) => {
            let mut inner = app.lock();
            match inner.get(&target.gvr, &ns, name).cloned() {
                Some(o) => {
                    let deleted = inner.commit(&target.gvr, "DELETED", o);
                    json_response(200, &deleted)
                }
                None => not_found(&target, name),
            }
        }
        _ => error(405, "MethodNotAllowed", "method not allowed"),
    }
}

fn not_found(target: &Target, name: &str) -> Response {
    error(
        404,
        "NotFound",
        &format!("{} \"{name}\" not found", target.gvr.plural),
    )
}

fn visible(target: &Target, sel: &Selectors, obj: &Value) -> bool {
    target
        .namespace
        .as_deref()
        .is_none_or(|ns| obj["metadata"]["namespace"].as_str() == Some(ns))
        && sel.matches(obj)
}

fn list(app: &App, target: &Target, info: &ResourceInfo, q: &BTreeMap<String, String>) -> Response {
    let sel = Selectors::from_query(q);
    let inner = app.lock();
    let items: Vec<Value> = inner
        .objects
        .get(&target.gvr)
        .map(|m| {
            m.values()
                .filter(|o| visible(target, &sel, o))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    json_response(
        200,
        &json!({
            "kind": format!("{}List", info.kind),
            "apiVersion": target.gvr.api_version,
            "metadata": { "resourceVersion": inner.rv.to_string() },
            "items": items,
        }),
    )
}

fn event_line(type_: &str, object: &Value) -> Bytes {
    let mut s = json!({ "type": type_, "object": object }).to_string();
    s.push('\n');
    Bytes::from(s)
}

fn bookmark(target: &Target, info: &ResourceInfo, rv: u64) -> Value {
    json!({
        "kind": info.kind,
        "apiVersion": target.gvr.api_version,
        "metadata": { "resourceVersion": rv.to_string() },
    })
}

fn watch_response(
    app: &App,
    target: &Target,
    info: &ResourceInfo,
    q: &BTreeMap<String, String>,
) -> Response {
    let sel = Selectors::from_query(q);
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|v| v == "true");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800);
    let requested = q.get("resourceVersion").cloned().unwrap_or_default();
    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    let mut backlog = Vec::new();
    let live;
    let start_rv;
    {
        let mut inner = app.lock();
        start_rv = inner.rv;
        match requested.parse::<u64>() {
            Ok(n) if n > 0 => {
                if n < inner.compacted {
                    let status = json!({
                        "kind": "Status",
                        "apiVersion": "v1",
                        "metadata": {},
                        "status": "Failure",
                        "message": format!("too old resource version: {n} ({})", inner.compacted),
                        "reason": "Expired",
                        "code": 410,
                    });
                    backlog.push(event_line("ERROR", &status));
                    inner.gone += 1;
                    live = None;
                } else {
                    for c in &inner.history {
                        if c.rv > n
                            && c.gvr.as_ref() == Some(&target.gvr)
                            && visible(target, &sel, &c.object)
                        {
                            backlog.push(event_line(c.type_, &c.object));
                        }
                    }
                    live = Some(inner.live.subscribe());
                }
            }
            // "" or "0": the current state as ADDED events, then changes.
            _ => {
                if let Some(m) = inner.objects.get(&target.gvr) {
                    for o in m.values().filter(|o| visible(target, &sel, o)) {
                        backlog.push(event_line("ADDED", o));
                    }
                }
                live = Some(inner.live.subscribe());
            }
        }
    }
    let mut close = app.close.clone();
    close.borrow_and_update();
    let watches = Arc::clone(&app.watches);
    let target = target.clone();
    let info = info.clone();
    tokio::spawn(async move {
        struct Count(Arc<AtomicUsize>);
        impl Drop for Count {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        watches.fetch_add(1, Ordering::SeqCst);
        let _count = Count(watches);
        for line in backlog {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        let Some(mut live) = live else {
            return;
        };
        if bookmarks
            && tx
                .send(event_line("BOOKMARK", &bookmark(&target, &info, start_rv)))
                .await
                .is_err()
        {
            return;
        }
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                biased;
                _ = close.changed() => return,
                () = &mut deadline => return,
                msg = live.recv() => match msg {
                    Ok(c) => {
                        if c.rv <= start_rv && c.gvr.is_some() {
                            continue;
                        }
                        let line = match &c.gvr {
                            None if bookmarks => event_line("BOOKMARK", &bookmark(&target, &info, c.rv)),
                            None => continue,
                            Some(g) if *g == target.gvr && visible(&target, &sel, &c.object) => {
                                event_line(c.type_, &c.object)
                            }
                            Some(_) => continue,
                        };
                        if tx.send(line).await.is_err() {
                            return;
                        }
                    }
                    // Lagged or closed: end the watch; the client resumes.
                    Err(_) => return,
                },
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, Infallible>(b), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn create(app: &App, target: &Target, info: &ResourceInfo, body: Option<Value>) -> Response {
    let Some(body) = body else {
        return error(400, "BadRequest", "no body");
    };
    let ns = target.namespace.clone().unwrap_or_default();
    let mut inner = app.lock();
    let obj = inner.prepare_new(&target.gvr, info, body, &ns);
    let key = key_of(&obj);
    if key.1.is_empty() {
        return error(422, "Invalid", "metadata.name: Required value");
    }
    if inner.get(&target.gvr, &key.0, &key.1).is_some() {
        return error(
            409,
            "AlreadyExists",
            &format!("{} \"{}\" already exists", target.gvr.plural, key.1),
        );
    }
    let stored = inner.commit(&target.gvr, "ADDED", obj);
    json_response(201, &stored)
}

/// The object that results from writing `new` over `old` through the object
/// or its status subresource.
fn scoped(info: &ResourceInfo, status_path: bool, old: &Value, new: Value) -> Value {
    if !info.status {
        return new;
    }
    if status_path {
        let mut out = old.clone();
        match new.get("status") {
            Some(s) => out["status"] = s.clone(),
            None => {
                if let Some(m) = out.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        out
    } else {
        let mut out = new;
        match old.get("status") {
            Some(s) => out["status"] = s.clone(),
            None => {
                if let Some(m) = out.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        out
    }
}

/// Keeps the server-set metadata of `old` in `new`.
fn keep_server_fields(old: &Value, new: &mut Value) {
    for k in [
        "uid",
        "creationTimestamp",
        "resourceVersion",
        "namespace",
        "name",
    ] {
        if let Some(v) = old["metadata"].get(k) {
            new["metadata"][k] = v.clone();
        }
    }
    new["apiVersion"] = old["apiVersion"].clone();
    new["kind"] = old["kind"].clone();
}

fn conflict(target: &Target, name: &str) -> Response {
    error(
        409,
        "Conflict",
        &format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
             please apply your changes to the latest version and try again",
            target.gvr.plural
        ),
    )
}

fn replace(
    app: &App,
    target: &Target,
    info: &ResourceInfo,
    name: &str,
    body: Option<Value>,
) -> Response {
    let Some(mut body) = body else {
        return error(400, "BadRequest", "no body");
    };
    let ns = target.namespace.clone().unwrap_or_default();
    let mut inner = app.lock();
    let Some(old) = inner.get(&target.gvr, &ns, name).cloned() else {
        return not_found(target, name);
    };
    let sent_rv = body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    if !sent_rv.is_empty() && Some(sent_rv.as_str()) != old["metadata"]["resourceVersion"].as_str()
    {
        return conflict(target, name);
    }
    if !body["metadata"].is_object() {
        body["metadata"] = json!({});
    }
    keep_server_fields(&old, &mut body);
    let new = scoped(info, target.status, &old, body);
    if same_object(&old, &new) {
        return json_response(200, &old);
    }
    let stored = inner.commit(&target.gvr, "MODIFIED", new);
    json_response(200, &stored)
}

fn patch(
    app: &App,
    target: &Target,
    info: &ResourceInfo,
    name: &str,
    content_type: Option<&str>,
    body: Option<Value>,
) -> Response {
    let Some(body) = body else {
        return error(400, "BadRequest", "no body");
    };
    let ct = content_type.unwrap_or("");
    let apply = ct.starts_with("application/apply-patch");
    if !apply
        && !ct.starts_with("application/merge-patch+json")
        && !ct.starts_with("application/strategic-merge-patch+json")
    {
        return error(
            415,
            "UnsupportedMediaType",
            &format!("unsupported patch type {ct:?}"),
        );
    }
    let ns = target.namespace.clone().unwrap_or_default();
    let mut inner = app.lock();
    let old = match inner.get(&target.gvr, &ns, name).cloned() {
        Some(o) => o,
        None if apply && !target.status => {
            let mut obj = body;
            obj["metadata"]["name"] = json!(name);
            let obj = inner.prepare_new(&target.gvr, info, obj, &ns);
            let obj = scoped(info, false, &json!({}), obj);
            let stored = inner.commit(&target.gvr, "ADDED", obj);
            return json_response(201, &stored);
        }
        None => return not_found(target, name),
    };
    if !apply {
        let sent_rv = body["metadata"]["resourceVersion"].as_str().unwrap_or("");
        if !sent_rv.is_empty() && Some(sent_rv) != old["metadata"]["resourceVersion"].as_str() {
            return conflict(target, name);
        }
    }
    let mut new = old.clone();
    merge_patch(&mut new, &body);
    keep_server_fields(&old, &mut new);
    let new = scoped(info, target.status, &old, new);
    if same_object(&old, &new) {
        return json_response(200, &old);
    }
    let stored = inner.commit(&target.gvr, "MODIFIED", new);
    json_response(200, &stored)
}

/// The default resources: core, discovery, events, coordination, MetalLB's
/// and this project's.
fn default_resources() -> BTreeMap<Gvr, ResourceInfo> {
    let r = |kind: &str, namespaced: bool, status: bool| ResourceInfo {
        kind: kind.to_owned(),
        namespaced,
        status,
    };
    BTreeMap::from([
        (Gvr::new("v1", "services"), r("Service", true, true)),
        (Gvr::new("v1", "nodes"), r("Node", false, true)),
        (Gvr::new("v1", "namespaces"), r("Namespace", false, true)),
        (Gvr::new("v1", "secrets"), r("Secret", true, false)),
        (Gvr::new("v1", "configmaps"), r("ConfigMap", true, false)),
        (Gvr::new("v1", "events"), r("Event", true, false)),
        (
            Gvr::new("discovery.k8s.io/v1", "endpointslices"),
            r("EndpointSlice", true, false),
        ),
        (
            Gvr::new("events.k8s.io/v1", "events"),
            r("Event", true, false),
        ),
        (
            Gvr::new("coordination.k8s.io/v1", "leases"),
            r("Lease", true, false),
        ),
        (
            Gvr::new("metallb.io/v1beta1", "ipaddresspools"),
            r("IPAddressPool", true, true),
        ),
        (
            Gvr::new("metallb.io/v1beta2", "bgppeers"),
            r("BGPPeer", true, true),
        ),
        (
            Gvr::new("metallb.io/v1beta1", "bgpadvertisements"),
            r("BGPAdvertisement", true, true),
        ),
        (
            Gvr::new("metallb.io/v1beta1", "communities"),
            r("Community", true, true),
        ),
        (
            Gvr::new("metallb.io/v1beta1", "bfdprofiles"),
            r("BFDProfile", true, true),
        ),
        (
            Gvr::new("metallb.io/v1beta1", "servicebgpstatuses"),
            r("ServiceBGPStatus", true, true),
        ),
        (
            Gvr::new("bgp-k8s.io/v1alpha1", "bgpsessionstates"),
            r("BGPSessionState", true, true),
        ),
    ])
}

/// A running fake API server.
pub struct FakeApiServer {
    addr: SocketAddr,
    app: App,
    close: watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeApiServer {
    /// Starts a server on 127.0.0.1 (an ephemeral port).
    pub async fn start() -> Self {
        let (live, _) = broadcast::channel(4096);
        let inner = Inner {
            rv: 1,
            resources: default_resources(),
            objects: BTreeMap::new(),
            history: Vec::new(),
            compacted: 0,
            live,
            mute: false,
            requests: Vec::new(),
            uid: 0,
            gone: 0,
        };
        let (close, close_rx) = watch::channel(0u64);
        let app = App {
            inner: Arc::new(Mutex::new(inner)),
            close: close_rx,
            watches: Arc::new(AtomicUsize::new(0)),
        };
        let router = Router::new().fallback(handle).with_state(app.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Like the real API server (Go's net/http): no Nagle delay, so a
        // watch event is not held back behind an unacknowledged write.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            addr,
            app,
            close,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kube client for this server (no authentication).
    pub fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.url().parse().unwrap());
        kube::Client::try_from(config).unwrap()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.app.lock()
    }

    /// Creates or replaces an object (found by `apiVersion` and `kind`).
    pub fn upsert(&self, obj: Value) -> Value {
        let mut inner = self.lock();
        let api_version = obj["apiVersion"].as_str().unwrap().to_owned();
        let kind = obj["kind"].as_str().unwrap().to_owned();
        let gvr = inner
            .gvr_of_kind(&api_version, &kind)
            .unwrap_or_else(|| panic!("unknown resource {api_version} {kind}"));
        let info = inner.info(&gvr).cloned().unwrap();
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_owned();
        let key = (
            if info.namespaced {
                ns.clone()
            } else {
                String::new()
            },
            obj["metadata"]["name"].as_str().unwrap().to_owned(),
        );
        match inner.get(&gvr, &key.0, &key.1).cloned() {
            Some(old) => {
                let mut new = obj;
                keep_server_fields(&old, &mut new);
                if same_object(&old, &new) {
                    return old;
                }
                inner.commit(&gvr, "MODIFIED", new)
            }
            None => {
                let new = inner.prepare_new(&gvr, &info, obj, &ns);
                inner.commit(&gvr, "ADDED", new)
            }
        }
    }

    /// Deletes an object; whether it existed.
    pub fn delete(&self, api_version: &str, plural: &str, namespace: &str, name: &str) -> bool {
        let mut inner = self.lock();
        let gvr = Gvr::new(api_version, plural);
        match inner.get(&gvr, namespace, name).cloned() {
            Some(o) => {
                inner.commit(&gvr, "DELETED", o);
                true
            }
            None => false,
        }
    }

    /// One stored object.
    pub fn get(
        &self,
        api_version: &str,
        plural: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        self.lock()
            .get(&Gvr::new(api_version, plural), namespace, name)
            .cloned()
    }

    /// Every stored object of a resource.
    pub fn list(&self, api_version: &str, plural: &str) -> Vec<Value> {
        self.lock()
            .objects
            .get(&Gvr::new(api_version, plural))
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// Runs `f` (which may change objects) without telling the watchers,
    /// then compacts the history so every resourceVersion seen so far is too
    /// old, and closes every watch: watchers come back, get `410 Gone` and
    /// must relist to see what happened in the gap.
    pub fn gap(&self, f: impl FnOnce(&Self)) {
        self.lock().mute = true;
        f(self);
        {
            let mut inner = self.lock();
            inner.mute = false;
            inner.compacted = inner.rv + 1;
            let compacted = inner.compacted;
            inner.history.retain(|c| c.rv >= compacted);
        }
        self.close.send_modify(|g| *g += 1);
    }

    /// Closes every watch (clients resume from their last resourceVersion).
    pub fn close_watches(&self) {
        self.close.send_modify(|g| *g += 1);
    }

    /// Sends a BOOKMARK at the current resourceVersion to every watch that
    /// allowed them.
    pub fn send_bookmarks(&self) {
        let inner = self.lock();
        let change = Arc::new(Change {
            gvr: None,
            type_: "BOOKMARK",
            object: Value::Null,
            rv: inner.rv,
        });
        let _ = inner.live.send(change);
    }

    /// Stops serving a resource (its CRD is "uninstalled"): 404 for it.
    pub fn remove_resource(&self, api_version: &str, plural: &str) {
        self.lock().resources.remove(&Gvr::new(api_version, plural));
    }

    /// Serves a resource (a CRD is "installed").
    pub fn add_resource(
        &self,
        api_version: &str,
        plural: &str,
        kind: &str,
        namespaced: bool,
        status: bool,
    ) {
        self.lock().resources.insert(
            Gvr::new(api_version, plural),
            ResourceInfo {
                kind: kind.to_owned(),
                namespaced,
                status,
            },
        );
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// Watches answered with `410 Gone` so far.
    pub fn gone_served(&self) -> usize {
        self.lock().gone
    }

    /// Open watch connections.
    pub fn active_watches(&self) -> usize {
        self.app.watches.load(Ordering::SeqCst)
    }
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes.
pub async fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
