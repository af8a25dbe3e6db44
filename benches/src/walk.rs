//! The borrowed view's walk, shared by `codec-bench` and the criterion bench.

use bgp_proto::UpdateView;

/// The borrowed view's walk: every prefix of every route field and every
/// attribute, in the order they sit in the message (withdrawn routes, the
/// attributes, then the announced routes), with MP_REACH_NLRI and
/// MP_UNREACH_NLRI routes walked where they are met. Each item is
/// checked as it is read; the walk stops at the first error, and returns
/// `u64::MAX` then, so that a view failure cannot pass for a result.
#[inline]
pub fn view_walk(v: &UpdateView<'_>) -> u64 {
    #[inline(always)]
    fn prefixes(it: bgp_proto::Prefixes<'_>) -> Option<u64> {
        let mut sum = 0;
        for p in it {
            sum += u64::from(p.ok()?.len);
        }
        Some(sum)
    }
    let walk = || -> Option<u64> {
        let mut sum = prefixes(v.withdrawn())?;
        for a in v.attributes() {
            let a = a.ok()?;
            sum += u64::from(a.code.0) + a.value.len() as u64;
            if let Some(routes) = v.mp_nlri(&a).ok()?.and_then(|mp| mp.routes()) {
                sum += prefixes(routes)?;
            }
        }
        Some(sum + prefixes(v.nlri())?)
    };
    walk().unwrap_or(u64::MAX)
}
