//! Graceful restart (RFC 4724 §3) and long-lived graceful restart (RFC 9494 §3).

use bytes::{BufMut, BytesMut};

use crate::context::Family;
use crate::iana::{Afi, Safi};

/// One family in the graceful restart capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GracefulRestartFamily {
    /// The address family.
    pub family: Family,
    /// The per-family flags octet; bit 0x80 is Forwarding State (F).
    pub flags: u8,
}

impl GracefulRestartFamily {
    /// The F bit: forwarding state was preserved for this family.
    pub const FORWARDING: u8 = 0x80;

    /// Whether forwarding state was preserved.
    pub fn forwarding(&self) -> bool {
        self.flags & Self::FORWARDING != 0
    }
}

/// The graceful restart capability (code 64).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GracefulRestart {
    /// The upper four bits of the first octet: Restart State (R, 0x8) and
    /// Notification (N, 0x4, RFC 8538).
    pub flags: u8,
    /// Restart time in seconds (12 bits).
    pub restart_time: u16,
    /// The families whose state is preserved.
    pub families: Vec<GracefulRestartFamily>,
}

impl GracefulRestart {
    /// The Restart State bit (R).
    pub const RESTART_STATE: u8 = 0x8;
    /// The Graceful Notification bit (N, RFC 8538 §2).
    pub const NOTIFICATION: u8 = 0x4;

    /// Whether the sender has restarted (R bit).
    pub fn restart_state(&self) -> bool {
        self.flags & Self::RESTART_STATE != 0
    }

    pub(crate) fn decode(v: &[u8]) -> Option<Self> {
        let (hdr, rest) = v.split_first_chunk::<2>()?;
        let word = u16::from_be_bytes(*hdr);
        if rest.len() % 4 != 0 {
            return None;
        }
        let families = rest
            .chunks_exact(4)
            .filter_map(|c| match c {
                [a1, a2, s, f] => Some(GracefulRestartFamily {
                    family: Family::new(Afi(u16::from_be_bytes([*a1, *a2])), Safi(*s)),
                    flags: *f,
                }),
                _ => None,
            })
            .collect();
        Some(Self {
            flags: u8::try_from(word >> 12).unwrap_or(0),
            restart_time: word & 0x0FFF,
            families,
        })
    }

    pub(crate) fn encoded_len(&self) -> usize {
        2 + 4 * self.families.len()
    }

    pub(crate) fn encode(&self, dst: &mut BytesMut) {
        dst.put_u16((u16::from(self.flags & 0xF) << 12) | (self.restart_time & 0x0FFF));
        for f in &self.families {
            dst.put_u16(f.family.afi.0);
            dst.put_u8(f.family.safi.0);
            dst.put_u8(f.flags);
        }
    }
}

/// One family in the long-lived graceful restart capability (code 71).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LlgrFamily {
    /// The address family.
    pub family: Family,
    /// Flags; 0x80 is Forwarding State (F).
    pub flags: u8,
    /// Long-lived stale time in seconds (24 bits).
    pub stale_time: u32,
}

pub(crate) fn decode_llgr(v: &[u8]) -> Option<Vec<LlgrFamily>> {
    if v.len() % 7 != 0 {
        return None;
    }
    Some(
        v.chunks_exact(7)
            .filter_map(|c| match c {
                [a1, a2, s, f, t1, t2, t3] => Some(LlgrFamily {
                    family: Family::new(Afi(u16::from_be_bytes([*a1, *a2])), Safi(*s)),
                    flags: *f,
                    stale_time: u32::from_be_bytes([0, *t1, *t2, *t3]),
                }),
                _ => None,
            })
            .collect(),
    )
}

pub(crate) fn encode_llgr(v: &[LlgrFamily], dst: &mut BytesMut) {
    for f in v {
        dst.put_u16(f.family.afi.0);
        dst.put_u8(f.family.safi.0);
        dst.put_u8(f.flags);
        let t = f.stale_time.min(0x00FF_FFFF).to_be_bytes();
        dst.put_slice(t.get(1..).unwrap_or_default());
    }
}
