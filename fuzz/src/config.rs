//! Checks shared by the `config_legacy` and `config_crds` targets: the
//! MetalLB configuration parsers of k8s-adapter (what `check-config` runs).

use std::net::IpAddr;

use ipnet::IpNet;
use k8s_adapter::config::{
    Config, ConfigErrors, PasswordSource, load_str_with_warnings, parse_address_entry,
    parse_community, parse_go_duration,
};

/// Loads `text` as `check-config` does, checks the result and returns it.
///
/// - never panics (libFuzzer reports that);
/// - an error is a non-empty list, each naming an object, a field and a reason;
/// - a loaded configuration never shows an inline MD5 password in `Debug`;
/// - loading is deterministic.
pub fn load_checked(text: &str) -> Result<Config, ConfigErrors> {
    let r = load_str_with_warnings(text);
    match &r {
        Ok((cfg, warnings)) => {
            check_config(cfg);
            for w in warnings {
                assert!(
                    !w.object.is_empty() && !w.reason.is_empty(),
                    "empty warning {w:?}"
                );
            }
        }
        Err(e) => check_errors(e),
    }
    r.map(|(c, _)| c)
}

/// Every error names an object, a field and a reason.
pub fn check_errors(e: &ConfigErrors) {
    assert!(!e.0.is_empty(), "an error list must not be empty");
    for err in &e.0 {
        assert!(
            !err.object.is_empty() && !err.field.is_empty() && !err.reason.is_empty(),
            "incomplete error {err:?}"
        );
    }
    let _ = e.to_string();
}

/// Properties of a configuration that loaded.
pub fn check_config(cfg: &Config) {
    for (name, peer) in &cfg.peers {
        assert_eq!(name, &peer.name, "peers are keyed by name");
        if let Some(PasswordSource::Inline(pw)) = &peer.password {
            // The password must not show in Debug output, unless the same text
            // is there anyway (e.g. a password equal to the peer's name).
            let mut other = peer.clone();
            other.password = Some(PasswordSource::Inline(String::new()));
            let without = format!("{other:?} {cfg:?}");
            if !pw.is_empty() && !without.contains(pw.as_str()) {
                let shown = format!("{peer:?} {cfg:?} {cfg:#?}");
                assert!(
                    !shown.contains(pw.as_str()),
                    "inline password in Debug output"
                );
            }
        }
        let h = peer.hold_time.as_secs();
        assert!(
            h == 0 || (3..=65535).contains(&h),
            "hold time {h} s accepted"
        );
    }
    for (name, pool) in &cfg.pools {
        assert_eq!(name, &pool.name, "pools are keyed by name");
        for c in &pool.cidrs {
            assert_eq!(*c, c.trunc(), "pool CIDR {c} has host bits");
        }
    }
    for a in &cfg.advertisements {
        assert!(
            a.aggregation_length <= 32,
            "aggregation length {}",
            a.aggregation_length
        );
        assert!(
            a.aggregation_length_v6 <= 128,
            "aggregation length v6 {}",
            a.aggregation_length_v6
        );
    }
}

/// The leaf parsers used for field values, on one line of text.
pub fn leaf_parsers(line: &str) {
    let _ = parse_go_duration(line);
    let _ = parse_community(line);
    if let Ok(nets) = parse_address_entry(line) {
        check_range(line, &nets);
    }
}

/// A parsed address entry: a CIDR is one truncated net; a range is covered
/// exactly, in order, by aligned nets without gaps or overlaps.
fn check_range(entry: &str, nets: &[IpNet]) {
    assert!(!nets.is_empty(), "{entry:?} parsed to no CIDR");
    for n in nets {
        assert_eq!(*n, n.trunc(), "{entry:?}: {n} has host bits");
    }
    let Some((start, end)) = entry.trim().split_once('-') else {
        assert_eq!(nets.len(), 1, "a CIDR is one net");
        return;
    };
    let num = |a: IpAddr| match a {
        IpAddr::V4(v) => u128::from(u32::from(v)),
        IpAddr::V6(v) => u128::from(v),
    };
    let (Ok(start), Ok(end)) = (start.trim().parse::<IpAddr>(), end.trim().parse::<IpAddr>())
    else {
        panic!("{entry:?} parsed although an end does not");
    };
    let mut next = Some(num(start));
    for n in nets {
        assert_eq!(
            n.network().is_ipv4(),
            start.is_ipv4(),
            "{entry:?}: family of {n}"
        );
        assert_eq!(
            Some(num(n.network())),
            next,
            "{entry:?}: gap or overlap at {n}"
        );
        next = num(n.broadcast()).checked_add(1);
    }
    let last = nets.last().map(|n| num(n.broadcast()));
    assert_eq!(last, Some(num(end)), "{entry:?}: does not end at {end}");
}
