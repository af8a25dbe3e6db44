//! Per-session counters.

use std::time::Instant;

use bgp_proto::Notification;

/// Message counters for one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageCounts {
    /// OPEN messages.
    pub open: u64,
    /// UPDATE messages.
    pub update: u64,
    /// KEEPALIVE messages.
    pub keepalive: u64,
    /// NOTIFICATION messages.
    pub notification: u64,
    /// ROUTE-REFRESH messages.
    pub route_refresh: u64,
}

impl MessageCounts {
    pub(crate) fn count(&mut self, ty: u8) {
        match ty {
            1 => self.open += 1,
            2 => self.update += 1,
            3 => self.notification += 1,
            4 => self.keepalive += 1,
            5 => self.route_refresh += 1,
            _ => {}
        }
    }
}

/// Counters and last errors of a session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Messages sent.
    pub sent: MessageCounts,
    /// Messages received.
    pub received: MessageCounts,
    /// Prefixes the peer currently has from us.
    pub prefixes_announced: usize,
    /// Prefixes whose desired state differs from what the peer has.
    pub prefixes_pending: usize,
    /// Prefixes held from the peer (when receiving).
    pub prefixes_received: usize,
    /// When the session last became Established.
    pub established_at: Option<Instant>,
    /// How many times the session left Established.
    pub flaps: u64,
    /// The last error, as text.
    pub last_error: Option<String>,
    /// The last NOTIFICATION we sent.
    pub last_notification_sent: Option<Notification>,
    /// The last NOTIFICATION we received.
    pub last_notification_received: Option<Notification>,
}
