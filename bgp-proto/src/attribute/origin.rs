//! ORIGIN (RFC 4271 §5.1.1).

/// Where a route came from (RFC 4271 §4.3 a).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// Learned from an interior protocol (0).
    Igp = 0,
    /// Learned from EGP (1).
    Egp = 1,
    /// Learned some other way (2).
    Incomplete = 2,
}

impl Origin {
    /// The value from its wire octet; `None` for anything but 0, 1, 2.
    pub fn from_wire(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::Igp),
            1 => Some(Self::Egp),
            2 => Some(Self::Incomplete),
            _ => None,
        }
    }
}
