//! COMMUNITIES (RFC 1997) with the IANA well-known values.

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::list::{List, ListItem};

/// One standard community, `high:low` with 16 bits each (RFC 1997).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Community(pub u32);

impl Community {
    /// GRACEFUL_SHUTDOWN (RFC 8326).
    pub const GRACEFUL_SHUTDOWN: Self = Self(0xFFFF_0000);
    /// ACCEPT_OWN (RFC 7611).
    pub const ACCEPT_OWN: Self = Self(0xFFFF_0001);
    /// LLGR_STALE (RFC 9494).
    pub const LLGR_STALE: Self = Self(0xFFFF_0006);
    /// NO_LLGR (RFC 9494).
    pub const NO_LLGR: Self = Self(0xFFFF_0007);
    /// BLACKHOLE (RFC 7999).
    pub const BLACKHOLE: Self = Self(0xFFFF_029A);
    /// NO_EXPORT (RFC 1997).
    pub const NO_EXPORT: Self = Self(0xFFFF_FF01);
    /// NO_ADVERTISE (RFC 1997).
    pub const NO_ADVERTISE: Self = Self(0xFFFF_FF02);
    /// NO_EXPORT_SUBCONFED (RFC 1997).
    pub const NO_EXPORT_SUBCONFED: Self = Self(0xFFFF_FF03);
    /// NOPEER (RFC 3765).
    pub const NO_PEER: Self = Self(0xFFFF_FF04);

    const NAMES: [(&'static str, Self); 9] = [
        ("graceful-shutdown", Self::GRACEFUL_SHUTDOWN),
        ("accept-own", Self::ACCEPT_OWN),
        ("llgr-stale", Self::LLGR_STALE),
        ("no-llgr", Self::NO_LLGR),
        ("blackhole", Self::BLACKHOLE),
        ("no-export", Self::NO_EXPORT),
        ("no-advertise", Self::NO_ADVERTISE),
        ("no-export-subconfed", Self::NO_EXPORT_SUBCONFED),
        ("no-peer", Self::NO_PEER),
    ];

    /// A community from its two halves.
    pub const fn new(high: u16, low: u16) -> Self {
        Self(((high as u32) << 16) | low as u32)
    }

    /// The upper 16 bits (by convention an AS number).
    pub const fn high(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// The lower 16 bits.
    pub const fn low(self) -> u16 {
        (self.0 & 0xFFFF) as u16
    }

    /// The IANA well-known name (lowercase, dashed), if this is a well-known community.
    pub fn well_known_name(self) -> Option<&'static str> {
        Self::NAMES
            .iter()
            .find(|(_, c)| *c == self)
            .map(|(n, _)| *n)
    }
}

impl fmt::Display for Community {
    /// Always `high:low`; use [`Community::well_known_name`] for names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.high(), self.low())
    }
}

impl fmt::Debug for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.well_known_name() {
            Some(n) => write!(f, "Community({n})"),
            None => write!(f, "Community({self})"),
        }
    }
}

/// Error parsing a community from text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid community {0:?}: expected A:B with 16-bit numbers, or a well-known name")]
pub struct ParseCommunityError(pub String);

impl FromStr for Community {
    type Err = ParseCommunityError;
    /// Parses `A:B` (16 bits each) or a well-known name such as `no-export`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        if let Some((_, c)) = Self::NAMES
            .iter()
            .find(|(n, _)| *n == lower || n.replace('-', "_") == lower)
        {
            return Ok(*c);
        }
        let err = || ParseCommunityError(s.to_owned());
        let (a, b) = lower.split_once(':').ok_or_else(err)?;
        let a: u16 = a.parse().map_err(|_| err())?;
        let b: u16 = b.parse().map_err(|_| err())?;
        Ok(Self::new(a, b))
    }
}

impl ListItem for Community {
    const WIRE_LEN: usize = 4;
    fn read(b: &[u8]) -> Option<Self> {
        Some(Self(u32::from_be_bytes(b.try_into().ok()?)))
    }
    fn write(&self, dst: &mut BytesMut) {
        dst.put_u32(self.0);
    }
}

/// The COMMUNITIES attribute value.
pub type Communities = List<Community>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        assert_eq!(
            "64500:100".parse::<Community>().unwrap(),
            Community::new(64500, 100)
        );
        assert_eq!(
            "no-export".parse::<Community>().unwrap(),
            Community::NO_EXPORT
        );
        assert_eq!(Community::NO_EXPORT.to_string(), "65535:65281");
        assert!("65536:1".parse::<Community>().is_err());
        assert!("1".parse::<Community>().is_err());
    }
}
