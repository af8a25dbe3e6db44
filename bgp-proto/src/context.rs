//! The negotiated facts that change how bytes on the wire are read and written.
//!
//! A BGP message cannot be decoded in isolation: whether AS numbers are two or
//! four octets (RFC 6793), whether NLRI carry ADD-PATH identifiers (RFC 7911),
//! and how long a message may be (RFC 8654) all depend on the OPEN exchange.
//! [`Context`] carries those facts explicitly, and [`Context::negotiate`]
//! computes the pair of contexts (receive and send) from the two OPENs.

use crate::capability::{AddPathMode, Capability};
use crate::iana::{Afi, Safi};
use crate::message::Open;

/// Maximum BGP message length without the extended message capability (RFC 4271 §4.1).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Maximum BGP message length with the extended message capability (RFC 8654 §4).
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;

/// An address family: AFI plus SAFI (RFC 4760).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Family {
    /// Address family identifier.
    pub afi: Afi,
    /// Subsequent address family identifier.
    pub safi: Safi,
}

impl Family {
    /// IPv4 unicast.
    pub const IPV4_UNICAST: Self = Self::new(Afi::IPV4, Safi::UNICAST);
    /// IPv6 unicast.
    pub const IPV6_UNICAST: Self = Self::new(Afi::IPV6, Safi::UNICAST);
    /// IPv4 multicast.
    pub const IPV4_MULTICAST: Self = Self::new(Afi::IPV4, Safi::MULTICAST);
    /// IPv6 multicast.
    pub const IPV6_MULTICAST: Self = Self::new(Afi::IPV6, Safi::MULTICAST);

    /// A family from its AFI and SAFI.
    pub const fn new(afi: Afi, safi: Safi) -> Self {
        Self { afi, safi }
    }

    /// The bit of this family in a [`FamilySet`], for the families whose NLRI this crate parses.
    const fn bit(self) -> Option<u8> {
        match (self.afi.0, self.safi.0) {
            (1, 1) => Some(1),
            (2, 1) => Some(2),
            (1, 2) => Some(4),
            (2, 2) => Some(8),
            _ => None,
        }
    }

    /// Parses `ipv4-unicast`, `ipv6-unicast`, `ipv4-multicast` or `ipv6-multicast`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ipv4-unicast" => Some(Self::IPV4_UNICAST),
            "ipv6-unicast" => Some(Self::IPV6_UNICAST),
            "ipv4-multicast" => Some(Self::IPV4_MULTICAST),
            "ipv6-multicast" => Some(Self::IPV6_MULTICAST),
            _ => None,
        }
    }
}

/// A set of the IP families whose NLRI this crate parses (IPv4/IPv6 unicast and multicast).
///
/// It is `Copy` and one byte wide, so a [`Context`] is cheap to pass around.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct FamilySet(u8);

impl FamilySet {
    /// The empty set.
    pub const EMPTY: Self = Self(0);

    /// Adds a family. Families whose NLRI this crate does not parse are ignored,
    /// and the return value says whether the family could be represented.
    pub fn insert(&mut self, family: Family) -> bool {
        match family.bit() {
            Some(b) => {
                self.0 |= b;
                true
            }
            None => false,
        }
    }

    /// This set plus `family`.
    #[must_use]
    pub fn with(mut self, family: Family) -> Self {
        self.insert(family);
        self
    }

    /// Whether `family` is in the set.
    pub fn contains(self, family: Family) -> bool {
        family.bit().is_some_and(|b| self.0 & b != 0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// The negotiated encoding facts for one direction of one session.
///
/// Use a receive context to decode what a peer sent, and a send context to
/// encode what we send; [`Context::negotiate`] computes both.
///
/// The [`Default`] context is the RFC 4271 baseline: 2-octet AS numbers, no
/// ADD-PATH and a 4096-octet maximum. [`Context::modern`] is what two current
/// speakers usually agree on (4-octet AS).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Context {
    /// AS numbers in AS_PATH and AGGREGATOR are 4 octets wide (RFC 6793).
    pub four_octet_as: bool,
    /// Messages may be up to 65535 octets long (RFC 8654).
    pub extended_message: bool,
    /// Families whose NLRI carry a 4-octet path identifier (RFC 7911).
    pub add_path: FamilySet,
    /// Families whose NLRI may come with an IPv6 next hop (RFC 8950).
    ///
    /// In a send context these are the families the peer advertised the
    /// Extended Next Hop Encoding capability for, and
    /// [`crate::UpdateBuilder`] sends IPv4 routes with an IPv6 next hop only
    /// for them (RFC 8950 §4). Decoding does not consult the set: RFC 8950
    /// constrains only the sender, so a received IPv4 route with a 16- or
    /// 32-octet next hop decodes whether or not the capability was
    /// exchanged, and a caller that wants to refuse it can compare the
    /// route's family with this set.
    pub extended_next_hop: FamilySet,
}

impl Context {
    /// 4-octet AS numbers, no ADD-PATH, 4096-octet messages.
    pub const fn modern() -> Self {
        Self {
            four_octet_as: true,
            extended_message: false,
            add_path: FamilySet::EMPTY,
            extended_next_hop: FamilySet::EMPTY,
        }
    }

    /// The largest message this context allows, header included.
    pub const fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }

    /// Whether NLRI of `family` carry a path identifier in this direction.
    pub fn add_path(&self, family: Family) -> bool {
        self.add_path.contains(family)
    }

    /// Computes the negotiated contexts from our OPEN and the peer's OPEN.
    ///
    /// - 4-octet AS: both sides advertise capability 65 (RFC 6793 §3).
    /// - Extended message: both sides advertise capability 6 (RFC 8654 §3).
    /// - ADD-PATH: we receive path identifiers for a family when we said
    ///   *receive* (or both) and the peer said *send* (or both), and the other
    ///   way round for sending (RFC 7911 §4). Both must also have negotiated the
    ///   family itself; for IPv4 unicast that is implied when neither side sent
    ///   any multiprotocol capability (RFC 4760 §1).
    /// - Extended next hop: the peer's capability 5 tells us which families we
    ///   may send with an IPv6 next hop, ours which we may receive (RFC 8950 §3).
    pub fn negotiate(local: &Open, remote: &Open) -> Negotiated {
        let four_octet_as = local.four_octet_as().is_some() && remote.four_octet_as().is_some();
        let extended_message = has(local, |c| matches!(c, Capability::ExtendedMessage))
            && has(remote, |c| matches!(c, Capability::ExtendedMessage));
        let local_fams = local.families();
        let remote_fams = remote.families();
        let common: Vec<Family> = local_fams
            .iter()
            .copied()
            .filter(|f| remote_fams.contains(f))
            .collect();
        let mut rx = FamilySet::EMPTY;
        let mut tx = FamilySet::EMPTY;
        for fam in &common {
            let ours = local.add_path_mode(*fam);
            let theirs = remote.add_path_mode(*fam);
            if ours.is_some_and(AddPathMode::receives) && theirs.is_some_and(AddPathMode::sends) {
                rx.insert(*fam);
            }
            if ours.is_some_and(AddPathMode::sends) && theirs.is_some_and(AddPathMode::receives) {
                tx.insert(*fam);
            }
        }
        let enh_rx = local.extended_next_hop_families();
        let enh_tx = remote.extended_next_hop_families();
        Negotiated {
            receive: Self {
                four_octet_as,
                extended_message,
                add_path: rx,
                extended_next_hop: enh_rx,
            },
            send: Self {
                four_octet_as,
                extended_message,
                add_path: tx,
                extended_next_hop: enh_tx,
            },
            families: common,
        }
    }
}

fn has(open: &Open, f: impl Fn(&Capability) -> bool) -> bool {
    open.capabilities().any(f)
}

/// The result of [`Context::negotiate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// Decode what the peer sends with this.
    pub receive: Context,
    /// Encode what we send with this.
    pub send: Context,
    /// The address families both sides support, in our OPEN's order.
    pub families: Vec<Family>,
}

impl AddPathMode {
    /// Whether this mode includes receiving.
    pub fn receives(self) -> bool {
        matches!(self, Self::Receive | Self::Both)
    }
    /// Whether this mode includes sending.
    pub fn sends(self) -> bool {
        matches!(self, Self::Send | Self::Both)
    }
}
