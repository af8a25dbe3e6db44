//! The HTTP endpoints: `/metrics` (OpenMetrics text), `/healthz` and `/readyz`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::Metrics;

/// Shared state of the HTTP endpoints.
#[derive(Clone, Debug)]
pub struct Health {
    /// Metrics to serve.
    pub metrics: Arc<Metrics>,
    /// Ready: caches synced and a configuration loaded.
    pub ready: Arc<AtomicBool>,
}

async fn metrics(State(h): State<Health>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        h.metrics.encode(),
    )
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(h): State<Health>) -> impl IntoResponse {
    if h.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: caches not synced or no configuration loaded",
        )
    }
}

/// The router, for tests and embedding.
pub fn router(h: Health) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(h)
}

/// Serves the endpoints on `addr` until the task is dropped; returns the bound address.
pub async fn serve(addr: SocketAddr, h: Health) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(h)).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok(bound)
}
