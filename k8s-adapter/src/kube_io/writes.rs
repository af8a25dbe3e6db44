//! Writes to Services: `status.loadBalancer.ingress`, the pool annotation,
//! and Events.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource};
use serde_json::{Value, json};
use tracing::{debug, warn};

use super::resources::{METALLB_CONFIG_KINDS, metallb_resource};
use super::{KubeIoError, POOL_ANNOTATION};
use crate::allocate::{self, PoolCounters, ServiceOutcome};

/// The `status` MetalLB writes on an IPAddressPool.
pub fn pool_status(c: &PoolCounters) -> Value {
    json!({
        "assignedIPv4": c.assigned_ipv4,
        "assignedIPv6": c.assigned_ipv6,
        "availableIPv4": c.available_ipv4,
        "availableIPv6": c.available_ipv6,
    })
}

/// The IPs in a Service's `status.loadBalancer.ingress`, in order (entries
/// without a parsable `ip` are skipped).
pub fn ingress_ips(svc: &Service) -> Vec<IpAddr> {
    svc.status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .map(|ing| {
            ing.iter()
                .filter_map(|i| i.ip.as_deref().and_then(|ip| ip.parse().ok()))
                .collect()
        })
        .unwrap_or_default()
}

/// The pool annotation of a Service.
fn pool_annotation(svc: &Service) -> Option<&str> {
    svc.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(POOL_ANNOTATION))
        .map(String::as_str)
}

/// Writes what the controller decided about Services.
#[derive(Clone)]
pub struct ServiceWriter {
    client: Client,
    recorder: Recorder,
}

impl ServiceWriter {
    /// A writer whose Events name `controller` (e.g. `metallb-controller`)
    /// and `instance` (the pod name; the host name when `None`) as their
    /// reporter.
    pub fn new(client: Client, controller: &str, instance: Option<String>) -> Self {
        let reporter = Reporter {
            controller: controller.to_owned(),
            instance,
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
        }
    }

    fn api(&self, namespace: &str) -> Api<Service> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Sets `status.loadBalancer.ingress` to `ips` (one `{ip}` entry each;
    /// an empty list removes the field) by a JSON merge patch on the status
    /// subresource.
    pub async fn patch_ingress(
        &self,
        namespace: &str,
        name: &str,
        ips: &[IpAddr],
    ) -> Result<(), KubeIoError> {
        let ingress = if ips.is_empty() {
            Value::Null
        } else {
            Value::Array(
                ips.iter()
                    .map(|ip| json!({ "ip": ip.to_string() }))
                    .collect(),
            )
        };
        let patch = json!({ "status": { "loadBalancer": { "ingress": ingress } } });
        self.api(namespace)
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        debug!(service = %format_args!("{namespace}/{name}"), ?ips, "ingress written");
        Ok(())
    }

    /// Sets (or with `None` removes) the `metallb.io/ip-allocated-from-pool`
    /// annotation by a JSON merge patch on the Service.
    pub async fn patch_pool_annotation(
        &self,
        namespace: &str,
        name: &str,
        pool: Option<&str>,
    ) -> Result<(), KubeIoError> {
        let patch = json!({ "metadata": { "annotations": { POOL_ANNOTATION: pool } } });
        self.api(namespace)
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        debug!(service = %format_args!("{namespace}/{name}"), ?pool, "pool annotation written");
        Ok(())
    }

    /// Sets the counters in an IPAddressPool's `status` (in `namespace`,
    /// MetalLB's) by a JSON merge patch on its status subresource.
    pub async fn patch_pool_status(
        &self,
        namespace: &str,
        name: &str,
        counters: &PoolCounters,
    ) -> Result<(), KubeIoError> {
        let Some(kind) = METALLB_CONFIG_KINDS
            .iter()
            .find(|k| k.kind == "IPAddressPool")
        else {
            return Ok(());
        };
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &metallb_resource(kind));
        let patch = json!({ "status": pool_status(counters) });
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        debug!(pool = name, ?counters, "pool status written");
        Ok(())
    }

    /// Records an Event on a Service (`events.k8s.io/v1`, shown by
    /// `kubectl describe service`); repeats within a few minutes become a
    /// series on the first one.
    pub async fn publish_event(
        &self,
        service: &Service,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> Result<(), KubeIoError> {
        self.publish_object_event(&service.object_ref(&()), type_, reason, message)
            .await
    }

    /// Records an Event on any object (e.g. the configuration object that
    /// failed validation).
    pub async fn publish_object_event(
        &self,
        reference: &k8s_openapi::api::core::v1::ObjectReference,
        type_: EventType,
        reason: &str,
        message: &str,
    ) -> Result<(), KubeIoError> {
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(message.chars().take(1024).collect()),
            action: reason.to_owned(),
            secondary: None,
        };
        self.recorder.publish(&event, reference).await?;
        Ok(())
    }

    /// Writes one allocator outcome back to its Service: the pool
    /// annotation and the ingress IPs where they differ from `service` (an
    /// unhandled service is never touched), then its events. A failed event
    /// is logged, not returned.
    pub async fn write_outcome(
        &self,
        outcome: &ServiceOutcome,
        service: &Service,
    ) -> Result<(), KubeIoError> {
        let ns = outcome.key.namespace.as_str();
        let name = outcome.key.name.as_str();
        if outcome.handled {
            if pool_annotation(service) != outcome.pool.as_deref() {
                self.patch_pool_annotation(ns, name, outcome.pool.as_deref())
                    .await?;
            }
            if ingress_ips(service) != outcome.ips {
                self.patch_ingress(ns, name, &outcome.ips).await?;
            }
        }
        for e in &outcome.events {
            let type_ = match e.type_ {
                allocate::EventType::Normal => EventType::Normal,
                allocate::EventType::Warning => EventType::Warning,
            };
            if let Err(err) = self
                .publish_event(service, type_, &e.reason, &e.message)
                .await
            {
                warn!(service = %outcome.key, reason = %e.reason, error = %err, "event not recorded");
            }
        }
        Ok(())
    }
}
