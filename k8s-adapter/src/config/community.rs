//! Community strings: `A:B` (RFC 1997) and `large:G:L1:L2` (RFC 8092).

use std::collections::BTreeMap;

use bgp_proto::attribute::{Community, LargeCommunity};

use super::model::CommunityValue;

/// Why a community string did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CommunityParseError {
    /// Not shaped like a community at all (so it may be an alias).
    Format,
    /// Shaped like one, with a bad number.
    Value(String),
}

/// Parses `A:B` (two 16-bit numbers) or `large:G:L1:L2` (three 32-bit
/// numbers), exactly as MetalLB's `community.New`.
pub fn parse_community(s: &str) -> Result<CommunityValue, String> {
    parse(s).map_err(|e| match e {
        CommunityParseError::Format => format!(
            "invalid community {s:?}: expected A:B (16-bit numbers) or large:G:L1:L2 (32-bit numbers)"
        ),
        CommunityParseError::Value(v) => v,
    })
}

pub(crate) fn parse(s: &str) -> Result<CommunityValue, CommunityParseError> {
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [a, b] => {
            let a = num16(a, s)?;
            let b = num16(b, s)?;
            Ok(CommunityValue::Standard(Community(
                (u32::from(a) << 16) | u32::from(b),
            )))
        }
        [marker, g, l1, l2] => {
            if *marker != "large" {
                return Err(CommunityParseError::Value(format!(
                    "invalid community {s:?}: a 4-part community must be large:G:L1:L2"
                )));
            }
            Ok(CommunityValue::Large(LargeCommunity::new(
                num32(g, s)?,
                num32(l1, s)?,
                num32(l2, s)?,
            )))
        }
        _ => Err(CommunityParseError::Format),
    }
}

fn digits_only(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())
}

fn num16(part: &str, whole: &str) -> Result<u16, CommunityParseError> {
    if !digits_only(part) {
        return Err(CommunityParseError::Value(format!(
            "invalid community {whole:?}: {part:?} is not a number"
        )));
    }
    part.parse().map_err(|_| {
        CommunityParseError::Value(format!(
            "invalid community {whole:?}: {part} does not fit in 16 bits"
        ))
    })
}

fn num32(part: &str, whole: &str) -> Result<u32, CommunityParseError> {
    if !digits_only(part) {
        return Err(CommunityParseError::Value(format!(
            "invalid community {whole:?}: {part:?} is not a number"
        )));
    }
    part.parse().map_err(|_| {
        CommunityParseError::Value(format!(
            "invalid community {whole:?}: {part} does not fit in 32 bits"
        ))
    })
}

/// Resolves an advertisement's community entry: an alias first (as MetalLB
/// does), then a literal value.
pub(crate) fn resolve(
    s: &str,
    aliases: &BTreeMap<String, CommunityValue>,
) -> Result<CommunityValue, String> {
    if let Some(v) = aliases.get(s) {
        return Ok(*v);
    }
    parse(s).map_err(|e| match e {
        CommunityParseError::Format => {
            format!("{s:?} is neither a community value (A:B or large:G:L1:L2) nor a defined alias")
        }
        CommunityParseError::Value(v) => v,
    })
}
