//! Pool address entries: CIDRs and `start-end` ranges summarised into CIDRs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Parses one pool address entry: a CIDR (`192.168.10.0/24`; host bits are
/// cleared, as Go's `net.ParseCIDR` does) or an inclusive range
/// (`192.168.10.1 - 192.168.10.20`; whitespace around either address is
/// trimmed) summarised into the minimal list of CIDRs, in address order.
pub fn parse_address_entry(entry: &str) -> Result<Vec<IpNet>, String> {
    let entry = entry.trim();
    let Some((start, end)) = entry.split_once('-') else {
        let net: IpNet = entry.parse().map_err(|_| {
            format!("invalid CIDR {entry:?} (expected a.b.c.d/len, x::/len or a range start-end)")
        })?;
        return Ok(vec![net.trunc()]);
    };
    let start: IpAddr = start.trim().parse().map_err(|_| {
        format!(
            "invalid IP range {entry:?}: invalid start address {:?}",
            start.trim()
        )
    })?;
    let end: IpAddr = end.trim().parse().map_err(|_| {
        format!(
            "invalid IP range {entry:?}: invalid end address {:?}",
            end.trim()
        )
    })?;
    summarize_range(start, end).map_err(|e| format!("invalid IP range {entry:?}: {e}"))
}

/// The minimal list of CIDRs covering exactly `start..=end`, in address
/// order. Both ends must be of the same family and `start <= end`.
pub fn summarize_range(start: IpAddr, end: IpAddr) -> Result<Vec<IpNet>, String> {
    let (lo, hi, bits) = match (start, end) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            (u128::from(u32::from(a)), u128::from(u32::from(b)), 32u32)
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128u32),
        _ => {
            return Err(format!(
                "{start} and {end} are of different address families"
            ));
        }
    };
    if lo > hi {
        return Err(format!("start address {start} is after end address {end}"));
    }
    let mut out = Vec::new();
    let mut cur = lo;
    loop {
        // Largest block aligned at `cur`…
        let align = cur.trailing_zeros().min(bits);
        // …that does not run past `hi`: span = hi - cur + 1 addresses.
        let span_minus_one = hi - cur;
        let fit = if span_minus_one == u128::MAX {
            128
        } else {
            127 - (span_minus_one + 1).leading_zeros()
        };
        let size = align.min(fit);
        let prefix_len = bits - size;
        let net = if bits == 32 {
            let addr = Ipv4Addr::from(u32::try_from(cur).map_err(|_| "address out of range")?);
            IpNet::V4(
                Ipv4Net::new(addr, u8::try_from(prefix_len).map_err(|_| "bad prefix")?)
                    .map_err(|e| e.to_string())?,
            )
        } else {
            IpNet::V6(
                Ipv6Net::new(
                    Ipv6Addr::from(cur),
                    u8::try_from(prefix_len).map_err(|_| "bad prefix")?,
                )
                .map_err(|e| e.to_string())?,
            )
        };
        out.push(net);
        let block = if size >= 128 {
            None
        } else {
            Some(1u128 << size)
        };
        match block.and_then(|b| cur.checked_add(b)) {
            Some(next) if next <= hi => cur = next,
            _ => break,
        }
    }
    Ok(out)
}

/// Whether two CIDRs share any address.
pub(crate) fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}
