//! The accept loop: hand each connection to the peer with that address, or
//! refuse it with Cease / Connection Rejected.

use std::sync::{Arc, Mutex};

use bgp_proto::iana::subcode;
use bgp_proto::{Context, Message, Notification};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use super::{Inner, Speaker};

pub(super) async fn run(listener: Arc<TcpListener>, inner: Arc<Mutex<Inner>>) {
    loop {
        let (mut stream, remote) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match Speaker::route_inbound(&inner, remote.ip()) {
            Some(tx) => {
                if tx.send(stream).await.is_err() {
                    tracing::debug!(%remote, "peer task gone; connection dropped");
                }
            }
            None => {
                tracing::info!(%remote, "connection from unknown peer refused");
                tokio::spawn(async move {
                    // RFC 4486: Cease / Connection Rejected, then close.
                    let n = Message::Notification(Notification::cease(
                        subcode::cease::CONNECTION_REJECTED,
                    ));
                    if let Ok(b) = n.to_bytes(&Context::default()) {
                        let _ = stream.write_all(&b).await;
                    }
                    let _ = stream.shutdown().await;
                });
            }
        }
    }
}
