//! What every daemon under test offers: neighbor configuration, session
//! state and the routes it holds from one neighbor, read through its own CLI.

use std::net::IpAddr;
use std::time::Duration;

use super::lab::wait_for;
use super::rib::Table;

/// AS_TRANS (RFC 6793).
pub const AS_TRANS: u32 = 23456;

/// One BGP neighbor (one of our inject speakers) as the daemon configures it.
#[derive(Clone, Debug)]
pub struct Neighbor {
    /// Short identifier (BIRD protocol name, file names).
    pub name: String,
    /// Our address.
    pub addr: IpAddr,
    /// The daemon's address on this session.
    pub local: IpAddr,
    /// The daemon's AS.
    pub local_as: u32,
    /// Our AS as the daemon configures it (AS_TRANS for a 4-octet AS seen by an old speaker).
    pub peer_as: u32,
    /// The daemon advertises (and uses) the 4-octet AS capability.
    pub as4: bool,
    /// TCP MD5 password the daemon uses.
    pub md5: Option<String>,
    /// Hold time the daemon proposes.
    pub hold: u16,
    /// The daemon enables IPv4 unicast on this session.
    pub ipv4: bool,
    /// The daemon enables IPv6 unicast on this session.
    pub ipv6: bool,
    /// The daemon asks to receive several paths (ADD-PATH receive).
    pub add_path_rx: bool,
    /// The daemon acts as graceful restart helper.
    pub graceful_restart: bool,
    /// The daemon only accepts connections (otherwise it connects too).
    pub passive: bool,
}

impl Neighbor {
    /// A neighbor with defaults: 4-octet AS, hold 90, the address family of `addr`.
    pub fn new(name: &str, addr: IpAddr, local: IpAddr, local_as: u32, peer_as: u32) -> Self {
        Self {
            name: name.to_owned(),
            addr,
            local,
            local_as,
            peer_as,
            as4: true,
            md5: None,
            hold: 90,
            ipv4: addr.is_ipv4(),
            ipv6: addr.is_ipv6(),
            add_path_rx: false,
            graceful_restart: false,
            passive: true,
        }
    }

    /// iBGP?
    pub fn ibgp(&self) -> bool {
        self.local_as == self.peer_as
    }
}

/// A daemon under test.
pub trait Daemon: Send {
    /// "BIRD", "FRR", "GoBGP", "ExaBGP".
    fn kind(&self) -> &'static str;

    /// Whether the session with `n` is Established; `Err` for unreadable state.
    fn established(&self, n: &Neighbor) -> Result<bool, String>;

    /// The daemon's view of why the session with `n` last went down (free text).
    fn last_error(&self, n: &Neighbor) -> String;

    /// Every route the daemon holds from `n` (both families).
    fn routes(&self, n: &Neighbor) -> Result<Table, String>;

    /// How many routes the daemon accepted from `n` (cheap for large tables).
    fn route_count(&self, n: &Neighbor) -> Result<usize, String> {
        Ok(self.routes(n)?.len())
    }

    /// Prefixes from `n` the daemon marks as stale (graceful restart).
    fn stale(&self, n: &Neighbor) -> Result<Vec<ipnet::IpNet>, String> {
        let _ = n;
        Err(format!("{}: stale routes not readable", self.kind()))
    }

    /// Path identifiers (ADD-PATH) of the routes from `n`.
    fn path_ids(&self, n: &Neighbor) -> Result<Vec<(ipnet::IpNet, u32)>, String> {
        let _ = n;
        Err(format!("{}: path ids not readable", self.kind()))
    }

    /// Makes the daemon send a ROUTE-REFRESH to `n` (both families it has).
    fn request_refresh(&self, n: &Neighbor) -> Result<(), String> {
        let _ = n;
        Err(format!("{}: cannot request a route refresh", self.kind()))
    }

    /// LOCAL_PREF the daemon shows on routes learned over eBGP (none by default).
    fn ebgp_local_pref(&self) -> Option<u32> {
        None
    }

    /// Kills the daemon by PID (SIGKILL: no NOTIFICATION) and starts it again
    /// with the same configuration.
    fn restart(&mut self);

    /// Session state as text, for messages.
    fn describe(&self, n: &Neighbor) -> String {
        format!("{:?}", self.established(n))
    }
}

/// Waits until the daemon shows the session with `n` Established.
pub fn wait_established(d: &dyn Daemon, n: &Neighbor, timeout: Duration) {
    wait_for(
        &format!("{} shows {} Established", d.kind(), n.name),
        timeout,
        || match d.established(n) {
            Ok(true) => Ok(()),
            Ok(false) => Err(d.describe(n)),
            Err(e) => Err(e),
        },
    );
}

/// Waits until the daemon shows the session with `n` down.
pub fn wait_not_established(d: &dyn Daemon, n: &Neighbor, timeout: Duration) {
    wait_for(
        &format!("{} shows {} down", d.kind(), n.name),
        timeout,
        || match d.established(n) {
            Ok(false) => Ok(()),
            Ok(true) => Err("still Established".into()),
            Err(e) => Err(e),
        },
    );
}

/// Waits until the daemon's table for `n` equals `want`.
pub fn wait_table(d: &dyn Daemon, n: &Neighbor, want: &Table, what: &str, timeout: Duration) {
    wait_for(
        &format!(
            "{} holds exactly the {} expected routes from {} ({what})",
            d.kind(),
            want.len(),
            n.name
        ),
        timeout,
        || super::rib::diff(want, &d.routes(n)?),
    );
}
