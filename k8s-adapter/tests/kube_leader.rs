//! Leader election over a Lease on the fake API server, with real time and
//! short durations (1 s leases, 100 ms retries).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

mod fake_apiserver;

use std::time::{Duration, Instant};

use fake_apiserver::FakeApiServer;
use k8s_adapter::kube_io::{LeaderElector, LeaseConfig};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use serde_json::Value;

const NS: &str = "metallb-system";
const LEASE: &str = "bgp-k8s-controller";

fn config(identity: &str) -> LeaseConfig {
    LeaseConfig {
        lease_duration: Duration::from_secs(1),
        renew_deadline: Duration::from_millis(700),
        retry_period: Duration::from_millis(100),
        ..LeaseConfig::new(NS, LEASE, identity)
    }
}

fn lease(server: &FakeApiServer) -> Value {
    server
        .get("coordination.k8s.io/v1", "leases", NS, LEASE)
        .unwrap()
}

fn holder(server: &FakeApiServer) -> Option<String> {
    lease(server)["spec"]["holderIdentity"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test]
async fn one_of_two_leads_and_the_other_takes_over_after_release() {
    let server = FakeApiServer::start().await;
    let a = LeaderElector::new(server.client(), config("a")).spawn();
    tokio::time::timeout(Duration::from_secs(2), a.wait_until_leader())
        .await
        .unwrap();
    let b = LeaderElector::new(server.client(), config("b")).spawn();
    // Several renew periods: a keeps leading, b never does.
    let mut b_rx = b.subscribe();
    let b_led = tokio::time::timeout(Duration::from_millis(500), b_rx.wait_for(|l| *l)).await;
    assert!(b_led.is_err(), "b led while a held the lease");
    assert!(a.is_leader());
    assert_eq!(holder(&server).as_deref(), Some("a"));
    assert_eq!(lease(&server)["spec"]["leaseDurationSeconds"], 1);

    // a releases on shutdown; b takes over without waiting for expiry.
    let released = Instant::now();
    a.shutdown().await;
    tokio::time::timeout(Duration::from_secs(2), b.wait_until_leader())
        .await
        .unwrap();
    let took = released.elapsed();
    assert!(took < Duration::from_millis(900), "took {took:?}");
    assert_eq!(holder(&server).as_deref(), Some("b"));
    assert_eq!(lease(&server)["spec"]["leaseTransitions"], 1);
    b.shutdown().await;
    assert_eq!(holder(&server), None);
}

#[tokio::test]
async fn an_expired_lease_is_taken_over() {
    let server = FakeApiServer::start().await;
    let a = LeaderElector::new(server.client(), config("a")).spawn();
    tokio::time::timeout(Duration::from_secs(2), a.wait_until_leader())
        .await
        .unwrap();
    let b = LeaderElector::new(server.client(), config("b")).spawn();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!b.is_leader());
    // a crashes: no release, no renewals.
    let crashed = Instant::now();
    drop(a);
    tokio::time::timeout(Duration::from_secs(3), b.wait_until_leader())
        .await
        .unwrap();
    let took = crashed.elapsed();
    // Not before the lease (1 s) has gone unrenewed.
    assert!(
        took >= Duration::from_millis(700),
        "took over after {took:?}"
    );
    assert_eq!(holder(&server).as_deref(), Some("b"));
    b.shutdown().await;
}

#[tokio::test]
async fn candidates_starting_together_elect_exactly_one() {
    let server = FakeApiServer::start().await;
    let handles: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|id| LeaderElector::new(server.client(), config(id)).spawn())
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..5 {
        let leaders = handles.iter().filter(|h| h.is_leader()).count();
        assert_eq!(leaders, 1);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let leader = ["a", "b", "c"]
        .iter()
        .zip(&handles)
        .find(|(_, h)| h.is_leader())
        .map(|(id, _)| (*id).to_owned());
    assert_eq!(holder(&server), leader);
    for h in handles {
        h.shutdown().await;
    }
}

#[tokio::test]
async fn a_leader_whose_lease_is_taken_steps_down() {
    let server = FakeApiServer::start().await;
    let mut a = LeaderElector::new(server.client(), config("a"));
    assert!(a.try_acquire_or_renew().await.unwrap());
    assert!(a.try_acquire_or_renew().await.unwrap());
    // Someone else overwrites the lease (e.g. an operator, or a's clock was
    // so far off that another candidate saw it expire).
    let api: Api<Lease> = Api::namespaced(server.client(), NS);
    let mut l = api.get(LEASE).await.unwrap();
    l.spec.as_mut().unwrap().holder_identity = Some("z".into());
    api.replace(LEASE, &PostParams::default(), &l)
        .await
        .unwrap();
    assert!(!a.try_acquire_or_renew().await.unwrap());
    // A replace from a stale read is refused with 409 Conflict.
    let err = api
        .replace(LEASE, &PostParams::default(), &l)
        .await
        .unwrap_err();
    assert!(matches!(err, kube::Error::Api(s) if s.code == 409));
    // Releasing a lease one does not hold leaves it alone.
    a.release().await.unwrap();
    assert_eq!(holder(&server).as_deref(), Some("z"));
}
