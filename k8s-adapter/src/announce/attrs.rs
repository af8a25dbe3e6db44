//! Per-service BGP attribute annotations (`bgp-k8s.io/*`), which MetalLB
//! lacks. See `docs/annotations.md`.

use bgp_proto::attribute::{Community, LargeCommunity};
use k8s_openapi::api::core::v1::Service;

use crate::config::{CommunityValue, Config};
use crate::world::annotations;

/// Communities added to every route of the service: comma-separated `A:B`,
/// `large:G:L1:L2`, a well-known name (`no-export`, …) or a community alias
/// from the configuration.
pub const ANNOTATION_COMMUNITIES: &str = "bgp-k8s.io/communities";
/// Large communities added to every route: comma-separated `G:L1:L2`.
pub const ANNOTATION_LARGE_COMMUNITIES: &str = "bgp-k8s.io/large-communities";
/// LOCAL_PREF for the service's routes (iBGP only), overriding the
/// advertisement's `localPref`.
pub const ANNOTATION_LOCAL_PREF: &str = "bgp-k8s.io/local-pref";
/// Extra prepends of our AS on eBGP sessions, 0 to 16.
pub const ANNOTATION_AS_PATH_PREPEND: &str = "bgp-k8s.io/as-path-prepend";
/// MULTI_EXIT_DISC for the service's routes.
pub const ANNOTATION_MED: &str = "bgp-k8s.io/med";

/// The largest accepted `bgp-k8s.io/as-path-prepend`.
pub const MAX_AS_PATH_PREPEND: u8 = 16;

/// Attributes a service asks for through annotations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceAttrs {
    /// Standard communities to add.
    pub communities: Vec<Community>,
    /// Large communities to add.
    pub large_communities: Vec<LargeCommunity>,
    /// LOCAL_PREF override.
    pub local_pref: Option<u32>,
    /// MED.
    pub med: Option<u32>,
    /// AS-path prepend count.
    pub as_path_prepend: u8,
}

/// Parses the `bgp-k8s.io/*` annotations of a service; the error names the
/// annotation and the bad value.
pub fn service_attrs(config: &Config, svc: &Service) -> Result<ServiceAttrs, String> {
    let ann = annotations(&svc.metadata);
    let mut out = ServiceAttrs::default();
    let bad =
        |name: &str, value: &str, why: &str| format!("{name}: invalid value {value:?}: {why}");

    if let Some(v) = ann.get(ANNOTATION_COMMUNITIES) {
        for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match parse_community(config, item) {
                Some(CommunityValue::Standard(c)) => out.communities.push(c),
                Some(CommunityValue::Large(l)) => out.large_communities.push(l),
                None => {
                    return Err(bad(
                        ANNOTATION_COMMUNITIES,
                        item,
                        "expected A:B, large:G:L1:L2, a well-known name or a community alias",
                    ));
                }
            }
        }
    }
    if let Some(v) = ann.get(ANNOTATION_LARGE_COMMUNITIES) {
        for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let text = item.strip_prefix("large:").unwrap_or(item);
            let l: LargeCommunity = text.parse().map_err(|_| {
                bad(
                    ANNOTATION_LARGE_COMMUNITIES,
                    item,
                    "expected G:L1:L2 with 32-bit numbers",
                )
            })?;
            out.large_communities.push(l);
        }
    }
    if let Some(v) = ann.get(ANNOTATION_LOCAL_PREF) {
        out.local_pref = Some(
            v.trim()
                .parse()
                .map_err(|_| bad(ANNOTATION_LOCAL_PREF, v, "expected a 32-bit number"))?,
        );
    }
    if let Some(v) = ann.get(ANNOTATION_MED) {
        out.med = Some(
            v.trim()
                .parse()
                .map_err(|_| bad(ANNOTATION_MED, v, "expected a 32-bit number"))?,
        );
    }
    if let Some(v) = ann.get(ANNOTATION_AS_PATH_PREPEND) {
        let n: u8 = v
            .trim()
            .parse()
            .ok()
            .filter(|n| *n <= MAX_AS_PATH_PREPEND)
            .ok_or_else(|| bad(ANNOTATION_AS_PATH_PREPEND, v, "expected 0 to 16"))?;
        out.as_path_prepend = n;
    }
    out.communities.sort();
    out.communities.dedup();
    out.large_communities.sort();
    out.large_communities.dedup();
    Ok(out)
}

/// One community item: alias, `large:G:L1:L2`, `A:B` or a well-known name.
fn parse_community(config: &Config, item: &str) -> Option<CommunityValue> {
    if let Some(v) = config.communities.get(item) {
        return Some(*v);
    }
    if let Some(rest) = item.strip_prefix("large:") {
        return rest.parse().ok().map(CommunityValue::Large);
    }
    item.parse().ok().map(CommunityValue::Standard)
}
