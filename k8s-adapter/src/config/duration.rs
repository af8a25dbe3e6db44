//! Go `time.ParseDuration` syntax, as used by MetalLB for `hold-time`,
//! `keepalive-time` and the `metav1.Duration` CRD fields.

use std::time::Duration;

/// The largest duration Go can represent (`1<<63 - 1` ns).
const GO_MAX_NANOS: u128 = i64::MAX as u128;

/// Parses a Go duration string (`90s`, `1m30s`, `1.5h`, `250ms`, `0`).
///
/// Accepts exactly Go's syntax: an optional sign, then one or more
/// `<decimal><unit>` pairs with units `ns`, `us` (`µs`, `μs`), `ms`, `s`,
/// `m`, `h`; a bare `0` is allowed. Negative durations are rejected (Go
/// accepts them, but no MetalLB timer can be negative). Sub-nanosecond
/// fractions are truncated.
pub fn parse_go_duration(input: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {input:?}");
    let mut s = input;
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        // Integer part.
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let (int_digits, rest) = s.split_at(int_len);
        s = rest;
        // Fraction.
        let mut frac_digits = "";
        if let Some(rest) = s.strip_prefix('.') {
            let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            let (f, rest) = rest.split_at(frac_len);
            frac_digits = f;
            s = rest;
        }
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(invalid());
        }
        // Unit: everything up to the next digit or '.'.
        let unit_len = s
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(s.len(), |(i, _)| i);
        let (unit, rest) = s.split_at(unit_len);
        s = rest;
        if unit.is_empty() {
            return Err(format!("missing unit in duration {input:?}"));
        }
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("unknown unit {unit:?} in duration {input:?}")),
        };
        let overflow = || format!("duration {input:?} is too large");
        let mut int_value: u128 = 0;
        for b in int_digits.bytes() {
            int_value = int_value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u128::from(b - b'0')))
                .filter(|v| *v <= GO_MAX_NANOS)
                .ok_or_else(overflow)?;
        }
        let mut part = int_value.checked_mul(unit_nanos).ok_or_else(overflow)?;
        // Keep at most 18 fraction digits: the rest is below a nanosecond
        // for every unit.
        let mut frac_value: u128 = 0;
        let mut scale: u128 = 1;
        for b in frac_digits.bytes().take(18) {
            frac_value = frac_value * 10 + u128::from(b - b'0');
            scale *= 10;
        }
        part = part
            .checked_add(frac_value * unit_nanos / scale)
            .ok_or_else(overflow)?;
        total = total.checked_add(part).ok_or_else(overflow)?;
        if total > GO_MAX_NANOS {
            return Err(overflow());
        }
    }
    if negative && total != 0 {
        return Err(format!("duration {input:?} is negative"));
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| invalid())?;
    let nanos = u32::try_from(total % 1_000_000_000).map_err(|_| invalid())?;
    Ok(Duration::new(secs, nanos))
}

/// Rounds down to whole seconds, as MetalLB does for BGP timers.
pub(crate) fn whole_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

/// Formats a duration the way Go prints it for whole seconds (`1m30s`),
/// falling back to `Debug` for sub-second values.
pub(crate) fn show(d: Duration) -> String {
    if d.subsec_nanos() != 0 {
        return format!("{d:?}");
    }
    let s = d.as_secs();
    if s == 0 {
        return "0s".into();
    }
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}h{m}m{sec}s")
    } else if m > 0 {
        format!("{m}m{sec}s")
    } else {
        format!("{sec}s")
    }
}
