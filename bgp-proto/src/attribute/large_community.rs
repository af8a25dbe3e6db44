//! LARGE_COMMUNITY (RFC 8092).

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::list::{List, ListItem};

/// One large community, `global:local1:local2` with 32 bits each (RFC 8092 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LargeCommunity {
    /// Global administrator (an AS number).
    pub global: u32,
    /// First local data part.
    pub local1: u32,
    /// Second local data part.
    pub local2: u32,
}

impl LargeCommunity {
    /// A large community from its three parts.
    pub const fn new(global: u32, local1: u32, local2: u32) -> Self {
        Self {
            global,
            local1,
            local2,
        }
    }
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.global, self.local1, self.local2)
    }
}

/// Error parsing a large community from text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid large community {0:?}: expected A:B:C with 32-bit numbers")]
pub struct ParseLargeCommunityError(pub String);

impl FromStr for LargeCommunity {
    type Err = ParseLargeCommunityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseLargeCommunityError(s.to_owned());
        let mut it = s.trim().split(':');
        let mut next = || -> Result<u32, ParseLargeCommunityError> {
            it.next().ok_or_else(err)?.parse().map_err(|_| err())
        };
        let v = Self::new(next()?, next()?, next()?);
        if it.next().is_some() {
            return Err(err());
        }
        Ok(v)
    }
}

impl ListItem for LargeCommunity {
    const WIRE_LEN: usize = 12;
    fn read(b: &[u8]) -> Option<Self> {
        let (g, rest) = b.split_first_chunk::<4>()?;
        let (l1, rest) = rest.split_first_chunk::<4>()?;
        let l2: [u8; 4] = rest.try_into().ok()?;
        Some(Self::new(
            u32::from_be_bytes(*g),
            u32::from_be_bytes(*l1),
            u32::from_be_bytes(l2),
        ))
    }
    fn write(&self, dst: &mut BytesMut) {
        dst.put_u32(self.global);
        dst.put_u32(self.local1);
        dst.put_u32(self.local2);
    }
}

/// The LARGE_COMMUNITY attribute value.
pub type LargeCommunities = List<LargeCommunity>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        assert_eq!(
            "4200000000:1:2".parse::<LargeCommunity>().unwrap(),
            LargeCommunity::new(4_200_000_000, 1, 2)
        );
        assert!("1:2".parse::<LargeCommunity>().is_err());
        assert!("1:2:3:4".parse::<LargeCommunity>().is_err());
    }
}
