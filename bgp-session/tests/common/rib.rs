//! What a receiver holds, normalised across daemons, and what we expect it to hold.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// One route as a daemon holds it, in a daemon-neutral form.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rt {
    /// ORIGIN: "igp", "egp" or "incomplete".
    pub origin: String,
    /// AS_PATH as a flat list (AS_SETs are not expected here).
    pub as_path: Vec<u32>,
    /// The (global) next hop.
    pub next_hop: IpAddr,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF as the daemon shows it.
    pub local_pref: Option<u32>,
    /// Communities "A:B", sorted.
    pub communities: Vec<String>,
    /// Large communities "A:B:C", sorted.
    pub large: Vec<String>,
}

impl fmt::Display for Rt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "origin={} path={:?} nh={} med={:?} lp={:?} comm={:?} large={:?}",
            self.origin,
            self.as_path,
            self.next_hop,
            self.med,
            self.local_pref,
            self.communities,
            self.large
        )
    }
}

/// A receiver's table for one neighbor.
pub type Table = BTreeMap<IpNet, Rt>;

/// Builds a table from (prefix, route) pairs; a prefix seen twice is an error
/// (we send one path per prefix).
pub fn table(routes: impl IntoIterator<Item = (IpNet, Rt)>) -> Result<Table, String> {
    let mut t = Table::new();
    for (p, r) in routes {
        if let Some(old) = t.insert(p, r.clone()) {
            return Err(format!("{p} held twice: {old} / {r}"));
        }
    }
    Ok(t)
}

/// Attributes we give a route (the `announce` command of inject).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attrs {
    /// MED.
    pub med: Option<u32>,
    /// LOCAL_PREF (sent on iBGP only).
    pub local_pref: Option<u32>,
    /// Communities "A:B".
    pub communities: Vec<String>,
    /// Large communities "A:B:C".
    pub large: Vec<String>,
    /// Extra prepends of our AS.
    pub prepend: u8,
    /// "igp" (default), "egp" or "incomplete".
    pub origin: Option<String>,
}

impl Attrs {
    /// The `announce` command for `prefix`.
    pub fn command(&self, prefix: IpNet) -> String {
        let mut s = format!("announce {prefix}");
        if let Some(m) = self.med {
            s += &format!(" med={m}");
        }
        if let Some(l) = self.local_pref {
            s += &format!(" local-pref={l}");
        }
        if !self.communities.is_empty() {
            s += &format!(" communities={}", self.communities.join(","));
        }
        if !self.large.is_empty() {
            s += &format!(" large={}", self.large.join(","));
        }
        if self.prepend > 0 {
            s += &format!(" prepend={}", self.prepend);
        }
        if let Some(o) = &self.origin {
            s += &format!(" origin={o}");
        }
        s
    }
}

/// How a session looks from the receiver: enough to predict its table.
#[derive(Clone, Debug)]
pub struct SessionView {
    /// Our AS as the receiver should see it in AS_PATH.
    pub path_as: u32,
    /// iBGP (empty AS_PATH, LOCAL_PREF sent).
    pub ibgp: bool,
    /// Our address (the next hop).
    pub next_hop: IpAddr,
    /// LOCAL_PREF the daemon shows for eBGP-learned routes (daemon default).
    pub ebgp_local_pref: Option<u32>,
}

/// What we announced on one session.
#[derive(Clone, Debug, Default)]
pub struct Model {
    /// Current routes.
    pub routes: BTreeMap<IpNet, Attrs>,
}

impl Model {
    /// The table the receiver must hold.
    pub fn expected(&self, s: &SessionView) -> Table {
        self.routes
            .iter()
            .map(|(p, a)| {
                let mut communities = a.communities.clone();
                communities.sort();
                let mut large = a.large.clone();
                large.sort();
                let rt = Rt {
                    origin: a.origin.clone().unwrap_or_else(|| "igp".into()),
                    as_path: if s.ibgp {
                        Vec::new()
                    } else {
                        vec![s.path_as; 1 + usize::from(a.prepend)]
                    },
                    next_hop: s.next_hop,
                    med: a.med,
                    local_pref: if s.ibgp {
                        Some(a.local_pref.unwrap_or(100))
                    } else {
                        s.ebgp_local_pref
                    },
                    communities,
                    large,
                };
                (*p, rt)
            })
            .collect()
    }
}

/// Compares two tables; `Err` lists every difference.
pub fn diff(expected: &Table, got: &Table) -> Result<(), String> {
    let mut out = Vec::new();
    for (p, e) in expected {
        match got.get(p) {
            None => out.push(format!("missing {p}: {e}")),
            Some(g) if g != e => out.push(format!("{p}:\n    want {e}\n    got  {g}")),
            Some(_) => {}
        }
    }
    for (p, g) in got {
        if !expected.contains_key(p) {
            out.push(format!("unexpected {p}: {g}"));
        }
    }
    if out.is_empty() {
        Ok(())
    } else {
        let n = out.len();
        out.truncate(12);
        Err(format!(
            "{n} differences ({} expected, {} held):\n  {}",
            expected.len(),
            got.len(),
            out.join("\n  ")
        ))
    }
}

/// Sorted "A:B" strings from (high, low) pairs.
pub fn communities(pairs: impl IntoIterator<Item = (u64, u64)>) -> Vec<String> {
    let mut v: Vec<String> = pairs.into_iter().map(|(a, b)| format!("{a}:{b}")).collect();
    v.sort();
    v
}

/// Sorted "A:B:C" strings.
pub fn large(triples: impl IntoIterator<Item = (u64, u64, u64)>) -> Vec<String> {
    let mut v: Vec<String> = triples
        .into_iter()
        .map(|(a, b, c)| format!("{a}:{b}:{c}"))
        .collect();
    v.sort();
    v
}
