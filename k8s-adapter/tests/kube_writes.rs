//! Writes against the fake API server: Service status and annotation
//! patches, Events, ServiceBGPStatus and BGPSessionState objects.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

mod fake_apiserver;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

use fake_apiserver::FakeApiServer;
use k8s_adapter::allocate::{Event, EventType, ServiceOutcome};
use k8s_adapter::kube_io::{
    POOL_ANNOTATION, ServiceWriter, SessionState, StatusPublisher, SyncReport, ingress_ips,
    service_bgp_status_name, session_state_name,
};
use k8s_adapter::world::ObjectKey;
use k8s_openapi::api::core::v1::Service;
use kube::runtime::events::EventType as KubeEventType;
use serde_json::{Value, json};

const NS: &str = "metallb-system";

fn service(server: &FakeApiServer) -> Value {
    server.upsert(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {
            "name": "web", "namespace": "default",
            "labels": {"app": "web"},
            "annotations": {"keep": "me"}
        },
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}]}
    }))
}

fn stored_service(server: &FakeApiServer) -> Value {
    server.get("v1", "services", "default", "web").unwrap()
}

fn typed(v: &Value) -> Service {
    serde_json::from_value(v.clone()).unwrap()
}

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

#[tokio::test]
async fn status_and_annotation_patches_land_exactly() {
    let server = FakeApiServer::start().await;
    let before = service(&server);
    let writer = ServiceWriter::new(server.client(), "metallb-controller", Some("pod-a".into()));

    writer
        .patch_ingress("default", "web", &ips(&["192.0.2.10", "2001:db8::10"]))
        .await
        .unwrap();
    let after = stored_service(&server);
    assert_eq!(
        after["status"],
        json!({"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}, {"ip": "2001:db8::10"}]}})
    );
    // Nothing else changed.
    assert_eq!(after["spec"], before["spec"]);
    assert_eq!(
        after["metadata"]["annotations"],
        before["metadata"]["annotations"]
    );
    assert_eq!(
        ingress_ips(&typed(&after)),
        ips(&["192.0.2.10", "2001:db8::10"])
    );
    let req = server.requests().pop().unwrap();
    assert_eq!(req.method, "PATCH");
    assert_eq!(req.path, "/api/v1/namespaces/default/services/web/status");
    assert_eq!(
        req.content_type.as_deref(),
        Some("application/merge-patch+json")
    );

    writer
        .patch_pool_annotation("default", "web", Some("pool-a"))
        .await
        .unwrap();
    let after = stored_service(&server);
    assert_eq!(
        after["metadata"]["annotations"],
        json!({"keep": "me", POOL_ANNOTATION: "pool-a"})
    );
    assert_eq!(
        after["status"]["loadBalancer"]["ingress"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let req = server.requests().pop().unwrap();
    assert_eq!(req.path, "/api/v1/namespaces/default/services/web");
    assert_eq!(
        req.content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(
        req.body.unwrap(),
        json!({"metadata": {"annotations": {POOL_ANNOTATION: "pool-a"}}})
    );

    // Removing both.
    writer
        .patch_pool_annotation("default", "web", None)
        .await
        .unwrap();
    writer.patch_ingress("default", "web", &[]).await.unwrap();
    let after = stored_service(&server);
    assert_eq!(after["metadata"]["annotations"], json!({"keep": "me"}));
    assert_eq!(after["status"], json!({"loadBalancer": {}}));

    // A missing service is an error, not a creation.
    let err = writer
        .patch_ingress("default", "nope", &ips(&["192.0.2.1"]))
        .await;
    assert!(err.is_err());
    assert!(server.get("v1", "services", "default", "nope").is_none());
}

#[tokio::test]
async fn write_outcome_writes_only_differences_and_records_events() {
    let server = FakeApiServer::start().await;
    service(&server);
    let writer = ServiceWriter::new(server.client(), "metallb-controller", Some("pod-a".into()));
    let outcome = ServiceOutcome {
        key: ObjectKey::new("default", "web"),
        handled: true,
        ips: ips(&["192.0.2.10"]),
        pool: Some("pool-a".into()),
        reason: None,
        message: None,
        events: vec![Event {
            type_: EventType::Normal,
            reason: "IPAllocated".into(),
            message: "Assigned IP [\"192.0.2.10\"]".into(),
        }],
        status_changed: true,
    };
    writer
        .write_outcome(&outcome, &typed(&stored_service(&server)))
        .await
        .unwrap();
    let after = stored_service(&server);
    assert_eq!(after["metadata"]["annotations"][POOL_ANNOTATION], "pool-a");
    assert_eq!(
        after["status"]["loadBalancer"]["ingress"],
        json!([{"ip": "192.0.2.10"}])
    );
    let events = server.list("events.k8s.io/v1", "events");
    assert_eq!(events.len(), 1);
    let ev = &events[0];
    assert_eq!(ev["metadata"]["namespace"], "default");
    assert_eq!(ev["reason"], "IPAllocated");
    assert_eq!(ev["type"], "Normal");
    assert_eq!(ev["note"], "Assigned IP [\"192.0.2.10\"]");
    assert_eq!(ev["regarding"]["kind"], "Service");
    assert_eq!(ev["regarding"]["name"], "web");
    assert_eq!(ev["regarding"]["uid"], after["metadata"]["uid"]);
    assert_eq!(ev["reportingController"], "metallb-controller");
    assert_eq!(ev["reportingInstance"], "pod-a");

    // The same outcome again: the service already matches, so only the
    // event is written (as a series on the first one).
    server.clear_requests();
    let mut again = outcome.clone();
    again.events[0].type_ = EventType::Normal;
    writer
        .write_outcome(&again, &typed(&stored_service(&server)))
        .await
        .unwrap();
    let reqs = server.requests();
    assert!(
        reqs.iter().all(|r| !r.path.contains("/services/")),
        "unexpected service writes: {reqs:?}"
    );
    let events = server.list("events.k8s.io/v1", "events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["series"]["count"], 2);

    // A warning, directly.
    writer
        .publish_event(
            &typed(&stored_service(&server)),
            KubeEventType::Warning,
            "AllocationFailed",
            "no available IPs",
        )
        .await
        .unwrap();
    let events = server.list("events.k8s.io/v1", "events");
    assert!(
        events
            .iter()
            .any(|e| e["reason"] == "AllocationFailed" && e["type"] == "Warning")
    );

    // An unhandled service is never touched.
    server.clear_requests();
    let unhandled = ServiceOutcome {
        handled: false,
        ips: vec![],
        pool: None,
        events: vec![],
        ..outcome
    };
    writer
        .write_outcome(&unhandled, &typed(&stored_service(&server)))
        .await
        .unwrap();
    assert!(server.requests().is_empty());
}

fn peers(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn service_bgp_statuses_applied_and_stale_ones_deleted() {
    let server = FakeApiServer::start().await;
    // Left over from an earlier run of this node, and another node's.
    server.upsert(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "ServiceBGPStatus",
        "metadata": {"name": "bgp-stale", "namespace": NS, "labels": {"metallb.io/node": "node-1"}}
    }));
    server.upsert(json!({
        "apiVersion": "metallb.io/v1beta1", "kind": "ServiceBGPStatus",
        "metadata": {"name": "bgp-other", "namespace": NS, "labels": {"metallb.io/node": "node-2"}}
    }));
    let publisher = StatusPublisher::new(server.client(), NS, "node-1");
    let web = ObjectKey::new("default", "web");
    let db = ObjectKey::new("prod", "db");
    let mut announced = BTreeMap::from([
        (web.clone(), peers(&["peer-b", "peer-a"])),
        (db.clone(), peers(&["peer-a"])),
        // No peer: no object.
        (ObjectKey::new("default", "idle"), peers(&[])),
    ]);
    let report = publisher.sync_service_statuses(&announced).await.unwrap();
    assert_eq!(
        report,
        SyncReport {
            applied: 2,
            unchanged: 0,
            deleted: 1
        }
    );
    let name = service_bgp_status_name("node-1", &web);
    let obj = server
        .get("metallb.io/v1beta1", "servicebgpstatuses", NS, &name)
        .unwrap();
    assert_eq!(
        obj["metadata"]["labels"],
        json!({
            "metallb.io/node": "node-1",
            "metallb.io/service-name": "web",
            "metallb.io/service-namespace": "default"
        })
    );
    assert_eq!(
        obj["status"],
        json!({
            "node": "node-1",
            "serviceName": "web",
            "serviceNamespace": "default",
            "peers": ["peer-a", "peer-b"]
        })
    );
    let applies: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(
        applies.len(),
        4,
        "object and status for each of two services"
    );
    for r in &applies {
        assert_eq!(
            r.content_type.as_deref(),
            Some("application/apply-patch+yaml")
        );
        assert!(r.query.contains("fieldManager=bgp-k8s"), "{}", r.query);
        assert!(r.query.contains("force=true"), "{}", r.query);
    }
    assert!(
        applies
            .iter()
            .any(|r| r.path.ends_with(&format!("{name}/status")))
    );
    assert!(
        server
            .get("metallb.io/v1beta1", "servicebgpstatuses", NS, "bgp-stale")
            .is_none()
    );
    assert!(
        server
            .get("metallb.io/v1beta1", "servicebgpstatuses", NS, "bgp-other")
            .is_some()
    );

    // Unchanged: nothing written, and nothing listed either (the publisher
    // knows what it wrote).
    server.clear_requests();
    let report = publisher.sync_service_statuses(&announced).await.unwrap();
    assert_eq!(report.unchanged, 2);
    assert_eq!(report.applied + report.deleted, 0);
    assert!(server.requests().is_empty(), "{:?}", server.requests());

    // db withdrawn, web's peers changed.
    announced.remove(&db);
    announced.insert(web.clone(), peers(&["peer-a"]));
    let report = publisher.sync_service_statuses(&announced).await.unwrap();
    assert_eq!(
        report,
        SyncReport {
            applied: 1,
            unchanged: 0,
            deleted: 1
        }
    );
    let obj = server
        .get("metallb.io/v1beta1", "servicebgpstatuses", NS, &name)
        .unwrap();
    assert_eq!(obj["status"]["peers"], json!(["peer-a"]));
    let left: Vec<String> = server
        .list("metallb.io/v1beta1", "servicebgpstatuses")
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    let mut expected = vec!["bgp-other".to_owned(), name];
    expected.sort();
    assert_eq!(left, expected);
}

/// Someone else deletes a status object: a publisher that lists on every
/// sync (resync interval zero) writes it again; the default one trusts what
/// it wrote until its resync interval has passed.
#[tokio::test]
async fn service_bgp_status_deleted_by_someone_else_comes_back_after_resync() {
    let server = FakeApiServer::start().await;
    let web = ObjectKey::new("default", "web");
    let announced = BTreeMap::from([(web.clone(), peers(&["peer-a"]))]);
    let name = service_bgp_status_name("node-1", &web);
    let trusting = StatusPublisher::new(server.client(), NS, "node-1");
    let listing = StatusPublisher::new(server.client(), NS, "node-1").with_resync(Duration::ZERO);
    assert_eq!(
        trusting
            .sync_service_statuses(&announced)
            .await
            .unwrap()
            .applied,
        1
    );
    assert_eq!(
        listing
            .sync_service_statuses(&announced)
            .await
            .unwrap()
            .unchanged,
        1
    );

    assert!(server.delete("metallb.io/v1beta1", "servicebgpstatuses", NS, &name));
    let report = trusting.sync_service_statuses(&announced).await.unwrap();
    assert_eq!(
        report.unchanged, 1,
        "within the resync interval: not listed"
    );
    assert!(
        server
            .get("metallb.io/v1beta1", "servicebgpstatuses", NS, &name)
            .is_none()
    );

    let report = listing.sync_service_statuses(&announced).await.unwrap();
    assert_eq!(report.applied, 1);
    let obj = server
        .get("metallb.io/v1beta1", "servicebgpstatuses", NS, &name)
        .unwrap();
    assert_eq!(obj["status"]["peers"], json!(["peer-a"]));
}

/// After `delete_all` the publisher knows nothing is left: the next sync
/// writes the objects again instead of trusting what it wrote before.
#[tokio::test]
async fn service_bgp_statuses_come_back_after_delete_all() {
    let server = FakeApiServer::start().await;
    let publisher = StatusPublisher::new(server.client(), NS, "node-1");
    let web = ObjectKey::new("default", "web");
    let announced = BTreeMap::from([(web.clone(), peers(&["peer-a"]))]);
    let name = service_bgp_status_name("node-1", &web);
    assert_eq!(
        publisher
            .sync_service_statuses(&announced)
            .await
            .unwrap()
            .applied,
        1
    );
    assert_eq!(publisher.delete_all().await.unwrap(), 1);
    assert!(
        server
            .get("metallb.io/v1beta1", "servicebgpstatuses", NS, &name)
            .is_none()
    );
    assert_eq!(
        publisher
            .sync_service_statuses(&announced)
            .await
            .unwrap()
            .applied,
        1
    );
    assert!(
        server
            .get("metallb.io/v1beta1", "servicebgpstatuses", NS, &name)
            .is_some()
    );
}

#[tokio::test]
async fn session_states_applied_and_stale_ones_deleted() {
    let server = FakeApiServer::start().await;
    let publisher = StatusPublisher::new(server.client(), NS, "node-1");
    let a = SessionState {
        peer: "peer-a".into(),
        state: "Established".into(),
        uptime_seconds: 42,
        prefixes_sent: 3,
        prefixes_received: 1,
        last_error: None,
        last_notification: Some("sent Cease/Administrative Reset".into()),
    };
    let b = SessionState {
        peer: "peer-b".into(),
        state: "Active".into(),
        last_error: Some("connection refused".into()),
        ..SessionState::default()
    };
    let report = publisher
        .sync_session_states(&[a.clone(), b.clone()])
        .await
        .unwrap();
    assert_eq!(report.applied, 2);
    let name_a = session_state_name("node-1", "peer-a");
    assert_eq!(name_a, "node-1-peer-a");
    let obj = server
        .get("bgp-k8s.io/v1alpha1", "bgpsessionstates", NS, &name_a)
        .unwrap();
    assert_eq!(
        obj["status"],
        json!({
            "node": "node-1",
            "peer": "peer-a",
            "state": "Established",
            "uptimeSeconds": 42,
            "prefixesSent": 3,
            "prefixesReceived": 1,
            "lastNotification": "sent Cease/Administrative Reset"
        })
    );
    assert_eq!(obj["metadata"]["labels"]["bgp-k8s.io/node"], "node-1");
    assert_eq!(obj["metadata"]["labels"]["bgp-k8s.io/peer"], "peer-a");
    let name_b = session_state_name("node-1", "peer-b");
    let obj = server
        .get("bgp-k8s.io/v1alpha1", "bgpsessionstates", NS, &name_b)
        .unwrap();
    assert_eq!(obj["status"]["lastError"], "connection refused");
    assert_eq!(obj["status"]["state"], "Active");
    // The same states again: nothing written.
    server.clear_requests();
    let report = publisher
        .sync_session_states(&[a.clone(), b.clone()])
        .await
        .unwrap();
    assert_eq!(report.unchanged, 2);
    assert!(server.requests().iter().all(|r| r.method == "GET"));

    // peer-b comes up and its error clears; peer-a is removed from the
    // configuration.
    let b2 = SessionState {
        state: "Established".into(),
        uptime_seconds: 1,
        last_error: None,
        ..b
    };
    let report = publisher.sync_session_states(&[b2]).await.unwrap();
    assert_eq!(
        report,
        SyncReport {
            applied: 1,
            unchanged: 0,
            deleted: 1
        }
    );
    assert!(
        server
            .get("bgp-k8s.io/v1alpha1", "bgpsessionstates", NS, &name_a)
            .is_none()
    );
    let obj = server
        .get("bgp-k8s.io/v1alpha1", "bgpsessionstates", NS, &name_b)
        .unwrap();
    assert_eq!(obj["status"]["state"], "Established");
    assert!(
        obj["status"].get("lastError").is_none(),
        "{}",
        obj["status"]
    );

    // The speaker leaves: everything of this node goes.
    assert_eq!(publisher.delete_all().await.unwrap(), 1);
    assert!(
        server
            .list("bgp-k8s.io/v1alpha1", "bgpsessionstates")
            .is_empty()
    );
}

#[tokio::test]
async fn status_objects_without_status_subresource_still_get_their_status() {
    let server = FakeApiServer::start().await;
    // A CRD installed without `subresources: status`.
    server.remove_resource("bgp-k8s.io/v1alpha1", "bgpsessionstates");
    server.add_resource(
        "bgp-k8s.io/v1alpha1",
        "bgpsessionstates",
        "BGPSessionState",
        true,
        false,
    );
    let publisher = StatusPublisher::new(server.client(), NS, "node-1");
    let s = SessionState {
        peer: "peer-a".into(),
        state: "Idle".into(),
        ..SessionState::default()
    };
    publisher.sync_session_states(&[s]).await.unwrap();
    let obj = server
        .get(
            "bgp-k8s.io/v1alpha1",
            "bgpsessionstates",
            NS,
            "node-1-peer-a",
        )
        .unwrap();
    assert_eq!(obj["status"]["state"], "Idle");
}
