//! Per-peer configuration, validated on construction.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use bgp_proto::{Family, FamilySet};

/// The peer's AS: a number, or "whatever it says" within or outside ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RemoteAs {
    /// Exactly this AS (RFC 4271 §6.2 Bad Peer AS otherwise).
    Asn(u32),
    /// Any AS equal to ours (iBGP).
    Internal,
    /// Any AS other than ours (eBGP).
    External,
}

/// Who opens the TCP connection (RFC 4271 §8.1.1, PassiveTcpEstablishment).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnectMode {
    /// We connect and also accept.
    Both,
    /// We only connect.
    Active,
    /// We only accept (PassiveTcpEstablishment).
    Passive,
}

/// What to do when a peer exceeds the received-prefix limit (RFC 4486 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MaxPrefixAction {
    /// Warn once and keep accepting, up to a hard ceiling of twice the
    /// limit (prefixes beyond it are ignored, so memory stays bounded).
    Warn,
    /// Warn once and ignore new prefixes beyond the limit.
    Drop,
    /// Close with Cease / Maximum Number of Prefixes Reached (RFC 4486 §4),
    /// with AFI, SAFI and the limit as data.
    Close,
}

/// Receiving routes from the peer (off by default, as in MetalLB).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReceiveConfig {
    /// Upper bound on prefixes held from this peer.
    pub max_prefixes: usize,
    /// What happens beyond it.
    pub action: MaxPrefixAction,
}

/// Graceful restart (RFC 4724) settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GracefulRestartConfig {
    /// Restart time we advertise: how long the peer should keep our routes.
    pub restart_time: Duration,
    /// Set the Restart State (R) bit and Forwarding State (F) bits: we have
    /// just restarted and kept forwarding. The driver sets this after a
    /// process restart so that routers keep our routes while we resync.
    pub restarting: bool,
}

impl Default for GracefulRestartConfig {
    fn default() -> Self {
        Self {
            restart_time: Duration::from_secs(120),
            restarting: false,
        }
    }
}

/// Configuration of one peer.
///
/// Build it with [`PeerConfig::new`] and the setters, then
/// [`PeerConfig::validate`] (the speaker validates too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerConfig {
    /// Peer address and port (179 by default).
    pub remote: SocketAddr,
    /// Our AS.
    pub local_as: u32,
    /// The peer's AS.
    pub remote_as: RemoteAs,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// Hold time we propose (0 disables keepalives and the hold timer).
    pub hold_time: Duration,
    /// Keepalive interval; `None` means a third of the negotiated hold time.
    pub keepalive: Option<Duration>,
    /// ConnectRetryTime (RFC 4271 §10, 120 s suggested; we default to 5 s).
    pub connect_retry: Duration,
    /// Initial IdleHoldTime after an error (RFC 4271 §8.1.1); doubled per
    /// consecutive flap up to [`PeerConfig::idle_hold_max`]. Zero disables damping.
    pub idle_hold: Duration,
    /// Ceiling of the damped IdleHoldTime.
    pub idle_hold_max: Duration,
    /// DelayOpenTime (RFC 4271 §8.1.1); `None` disables DelayOpen.
    pub delay_open: Option<Duration>,
    /// Who connects.
    pub mode: ConnectMode,
    /// Local address to bind and to use as default next hop.
    pub local_address: Option<IpAddr>,
    /// TCP MD5 signature password (RFC 2385).
    pub md5_password: Option<Password>,
    /// eBGP multihop: outgoing TTL. `None` means 1 for eBGP, 64 for iBGP.
    pub ttl: Option<u8>,
    /// GTSM (RFC 5082): accept only packets with this many hops or fewer
    /// (sets TTL 255 and minimum TTL 256 - hops).
    pub gtsm_hops: Option<u8>,
    /// Address families to negotiate.
    pub families: Vec<Family>,
    /// Families for which we offer to send several paths (RFC 7911).
    pub add_path_send: FamilySet,
    /// Graceful restart; `None` disables the capability.
    pub graceful_restart: Option<GracefulRestartConfig>,
    /// Receive routes from this peer; `None` ignores them (they are still validated).
    pub receive: Option<ReceiveConfig>,
    /// Offer extended messages (RFC 8654).
    pub extended_message: bool,
}

/// A secret that never appears in `Debug` output, logs or metrics.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }
    /// The secret, for the socket option only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Why a configuration is unusable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// AS 0 is reserved (RFC 7607).
    #[error("AS 0 is not a valid {0} AS")]
    ZeroAs(&'static str),
    /// The router id must not be 0.0.0.0 (RFC 6286 §2.1).
    #[error("router id 0.0.0.0 is not valid")]
    ZeroRouterId,
    /// Hold time must be 0 or at least 3 s (RFC 4271 §4.2).
    #[error("hold time {0:?} must be 0 or at least 3 s, and at most 65535 s")]
    HoldTime(Duration),
    /// Keepalive must be at most the hold time.
    #[error("keepalive {keepalive:?} exceeds hold time {hold:?}")]
    Keepalive {
        /// Configured keepalive.
        keepalive: Duration,
        /// Configured hold time.
        hold: Duration,
    },
    /// TCP MD5 keys are at most 80 octets (TCP_MD5SIG_MAXKEYLEN).
    #[error("MD5 password longer than 80 octets")]
    PasswordTooLong,
    /// No address family selected.
    #[error("no address family configured")]
    NoFamilies,
    /// GTSM and multihop TTL are mutually exclusive.
    #[error("GTSM and an explicit multihop TTL cannot both be set")]
    GtsmWithTtl,
    /// A zero ConnectRetryTime would retry in a busy loop (RFC 4271 §10
    /// suggests 120 s).
    #[error("connect retry time must be greater than zero")]
    ZeroConnectRetry,
}

impl PeerConfig {
    /// A peer at `remote` (port 179 when the address has port 0) with
    /// MetalLB's defaults: hold 90 s, keepalive hold/3, connect both ways,
    /// IPv4 and IPv6 unicast, graceful restart off, receiving off.
    pub fn new(
        remote: SocketAddr,
        local_as: u32,
        remote_as: RemoteAs,
        router_id: Ipv4Addr,
    ) -> Self {
        let remote = if remote.port() == 0 {
            SocketAddr::new(remote.ip(), 179)
        } else {
            remote
        };
        Self {
            remote,
            local_as,
            remote_as,
            router_id,
            hold_time: Duration::from_secs(90),
            keepalive: None,
            connect_retry: Duration::from_secs(5),
            idle_hold: Duration::from_secs(1),
            idle_hold_max: Duration::from_secs(60),
            delay_open: None,
            mode: ConnectMode::Both,
            local_address: None,
            md5_password: None,
            ttl: None,
            gtsm_hops: None,
            families: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
            add_path_send: FamilySet::EMPTY,
            graceful_restart: None,
            receive: None,
            extended_message: true,
        }
    }

    /// Checks the configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.local_as == 0 {
            return Err(ConfigError::ZeroAs("local"));
        }
        if self.remote_as == RemoteAs::Asn(0) {
            return Err(ConfigError::ZeroAs("peer"));
        }
        if self.router_id.is_unspecified() {
            return Err(ConfigError::ZeroRouterId);
        }
        let h = self.hold_time.as_secs();
        if (h != 0 && h < 3) || h > 65535 {
            return Err(ConfigError::HoldTime(self.hold_time));
        }
        if let Some(k) = self.keepalive {
            if h != 0 && k > self.hold_time {
                return Err(ConfigError::Keepalive {
                    keepalive: k,
                    hold: self.hold_time,
                });
            }
        }
        if self.md5_password.as_ref().is_some_and(|p| p.0.len() > 80) {
            return Err(ConfigError::PasswordTooLong);
        }
        if self.families.is_empty() {
            return Err(ConfigError::NoFamilies);
        }
        if self.gtsm_hops.is_some() && self.ttl.is_some() {
            return Err(ConfigError::GtsmWithTtl);
        }
        if self.connect_retry.is_zero() {
            return Err(ConfigError::ZeroConnectRetry);
        }
        Ok(())
    }

    /// Whether the session is iBGP, given the AS the peer announced.
    pub fn is_internal(&self, peer_as: u32) -> bool {
        peer_as == self.local_as
    }

    /// Whether `peer_as` is acceptable (RFC 4271 §6.2).
    pub fn accepts_as(&self, peer_as: u32) -> bool {
        match self.remote_as {
            RemoteAs::Asn(a) => a == peer_as,
            RemoteAs::Internal => peer_as == self.local_as,
            RemoteAs::External => peer_as != self.local_as && peer_as != 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> PeerConfig {
        PeerConfig::new(
            "192.0.2.2:0".parse().unwrap(),
            64512,
            RemoteAs::Asn(64513),
            "192.0.2.1".parse().unwrap(),
        )
    }

    #[test]
    fn password_never_appears_in_debug_output() {
        let mut c = cfg();
        c.md5_password = Some(Password::new("s3cr3t-md5"));
        let dbg = format!("{c:?} {c:#?}");
        assert!(!dbg.contains("s3cr3t-md5"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }

    #[test]
    fn validation_rules() {
        assert_eq!(cfg().remote.port(), 179, "port 0 means 179");
        assert!(cfg().validate().is_ok());
        let bad = |f: fn(&mut PeerConfig)| {
            let mut c = cfg();
            f(&mut c);
            c.validate()
        };
        assert_eq!(bad(|c| c.local_as = 0), Err(ConfigError::ZeroAs("local")));
        assert_eq!(
            bad(|c| c.remote_as = RemoteAs::Asn(0)),
            Err(ConfigError::ZeroAs("peer"))
        );
        assert_eq!(
            bad(|c| c.router_id = Ipv4Addr::UNSPECIFIED),
            Err(ConfigError::ZeroRouterId)
        );
        assert!(matches!(
            bad(|c| c.hold_time = Duration::from_secs(2)),
            Err(ConfigError::HoldTime(_))
        ));
        assert!(
            bad(|c| c.hold_time = Duration::ZERO).is_ok(),
            "0 disables the hold timer"
        );
        assert!(matches!(
            bad(|c| c.keepalive = Some(Duration::from_secs(100))),
            Err(ConfigError::Keepalive { .. })
        ));
        assert_eq!(
            bad(|c| c.md5_password = Some(Password::new("x".repeat(81)))),
            Err(ConfigError::PasswordTooLong)
        );
        assert_eq!(bad(|c| c.families.clear()), Err(ConfigError::NoFamilies));
        assert_eq!(
            bad(|c| {
                c.gtsm_hops = Some(1);
                c.ttl = Some(2);
            }),
            Err(ConfigError::GtsmWithTtl)
        );
        assert_eq!(
            bad(|c| c.connect_retry = Duration::ZERO),
            Err(ConfigError::ZeroConnectRetry)
        );
    }

    #[test]
    fn remote_as_acceptance() {
        let mut c = cfg();
        assert!(c.accepts_as(64513) && !c.accepts_as(64514));
        c.remote_as = RemoteAs::Internal;
        assert!(c.accepts_as(64512) && !c.accepts_as(64513));
        c.remote_as = RemoteAs::External;
        assert!(!c.accepts_as(64512) && c.accepts_as(64513));
    }
}
