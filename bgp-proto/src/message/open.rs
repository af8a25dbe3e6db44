//! OPEN (RFC 4271 §4.2) with capabilities (RFC 5492) and extended optional
//! parameters (RFC 9072).

use std::net::Ipv4Addr;

use bytes::{BufMut, Bytes, BytesMut};

use crate::attribute::AS_TRANS;
use crate::capability::{AddPathMode, Capability, GracefulRestart};
use crate::context::{Family, FamilySet};
use crate::error::{DecodeError, ErrorKind};
use crate::iana::{Afi, CapabilityCode, Safi};
use crate::wire;

/// Optional parameter type of capabilities (RFC 5492 §4).
const PARAM_CAPABILITIES: u8 = 2;
/// The non-extended length and type octets that announce RFC 9072 encoding.
const EXTENDED_PARAMS_MARK: u8 = 255;

/// An OPEN message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Open {
    /// Protocol version (always 4 once decoded).
    pub version: u8,
    /// My Autonomous System: the sender's AS, or AS_TRANS when it needs 4 octets.
    pub my_as: u16,
    /// Proposed hold time in seconds (0, or at least 3).
    pub hold_time: u16,
    /// BGP identifier.
    pub bgp_id: Ipv4Addr,
    /// Optional parameters, each a group of capabilities (RFC 5492 §4), in wire order.
    pub params: Vec<Vec<Capability>>,
    /// Whether the parameters use the RFC 9072 extended encoding. Encoding
    /// switches to it anyway when the parameters exceed 255 octets.
    pub extended_params: bool,
    /// With the RFC 9072 encoding, the Non-Ext OP Len octet. RFC 9072 §2
    /// has senders set it to 255 and receivers ignore it (the type octet of
    /// 255 announces the encoding), so any value is accepted; it is kept so
    /// that a received OPEN re-encodes byte-exact. 255 by default.
    pub non_ext_params_len: u8,
}

impl Open {
    /// An OPEN for `asn` with the given capabilities in one parameter. An AS
    /// above 65535 goes out as AS_TRANS; remember to include
    /// [`Capability::FourOctetAs`] (RFC 6793 §3).
    pub fn new(asn: u32, hold_time: u16, bgp_id: Ipv4Addr, capabilities: Vec<Capability>) -> Self {
        Self {
            version: 4,
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS as u16),
            hold_time,
            bgp_id,
            params: vec![capabilities],
            extended_params: false,
            non_ext_params_len: EXTENDED_PARAMS_MARK,
        }
    }

    /// Every capability, across parameters.
    pub fn capabilities(&self) -> impl Iterator<Item = &Capability> {
        self.params.iter().flatten()
    }

    /// The AS from the 4-octet AS capability, if present (RFC 6793 §3).
    pub fn four_octet_as(&self) -> Option<u32> {
        self.capabilities().find_map(|c| match c {
            Capability::FourOctetAs(a) => Some(*a),
            _ => None,
        })
    }

    /// The sender's AS: the 4-octet capability's value, else My Autonomous System.
    pub fn asn(&self) -> u32 {
        self.four_octet_as().unwrap_or(u32::from(self.my_as))
    }

    /// The families announced with the multiprotocol capability, or IPv4
    /// unicast when there is none (RFC 4760 §8 keeps the RFC 4271 default).
    pub fn families(&self) -> Vec<Family> {
        let mut v: Vec<Family> = self
            .capabilities()
            .filter_map(Capability::multiprotocol_family)
            .collect();
        if v.is_empty() {
            v.push(Family::IPV4_UNICAST);
        }
        v.dedup();
        v
    }

    /// The ADD-PATH mode announced for `family`, if any (RFC 7911 §4).
    pub fn add_path_mode(&self, family: Family) -> Option<AddPathMode> {
        self.capabilities().find_map(|c| match c {
            Capability::AddPath(v) => v.iter().find(|e| e.family == family).map(|e| e.mode),
            _ => None,
        })
    }

    /// The families for which this side accepts an IPv6 next hop (RFC 8950 §3).
    pub fn extended_next_hop_families(&self) -> FamilySet {
        let mut set = FamilySet::EMPTY;
        for c in self.capabilities() {
            if let Capability::ExtendedNextHop(v) = c {
                for e in v.iter().filter(|e| e.next_hop_afi == Afi::IPV6) {
                    if let Ok(s) = u8::try_from(e.safi) {
                        set.insert(Family::new(e.afi, Safi(s)));
                    }
                }
            }
        }
        set
    }

    /// The graceful restart capability, if present.
    pub fn graceful_restart(&self) -> Option<&GracefulRestart> {
        self.capabilities().find_map(|c| match c {
            Capability::GracefulRestart(g) => Some(g),
            _ => None,
        })
    }

    /// Whether a capability with this code is present.
    pub fn has_capability(&self, code: CapabilityCode) -> bool {
        self.capabilities().any(|c| c.code() == code)
    }

    /// Decodes the body (after the header). `whole` is the complete message.
    ///
    /// Checks follow RFC 4271 §6.2 in order: version, My AS (0 is invalid,
    /// RFC 7607), hold time (1 and 2 are unacceptable), BGP identifier (0 is
    /// invalid, RFC 6286 §2.2), then the optional parameters.
    pub(crate) fn decode(whole: &Bytes) -> Result<Self, DecodeError> {
        let body = whole.get(19..).unwrap_or_default();
        let at = |part: &[u8]| wire::offset(whole, part);
        let short = || {
            DecodeError::new(
                ErrorKind::BadMessageLength {
                    length: len16(whole),
                },
                16,
            )
        };
        let (rest, version) = wire::u8(body).map_err(|_| short())?;
        if version != 4 {
            return Err(DecodeError::new(
                ErrorKind::UnsupportedVersion { version },
                19,
            ));
        }
        let (rest, my_as) = wire::u16(rest).map_err(|_| short())?;
        if my_as == 0 {
            return Err(DecodeError::new(ErrorKind::BadPeerAs { asn: 0 }, 20));
        }
        let (rest, hold_time) = wire::u16(rest).map_err(|_| short())?;
        if hold_time == 1 || hold_time == 2 {
            return Err(DecodeError::new(
                ErrorKind::UnacceptableHoldTime { hold_time },
                22,
            ));
        }
        let (rest, id) = wire::u32(rest).map_err(|_| short())?;
        if id == 0 {
            return Err(DecodeError::new(ErrorKind::BadBgpIdentifier { id }, 24));
        }
        let (rest, opt_len) = wire::u8(rest).map_err(|_| short())?;
        let malformed = |p: &[u8]| DecodeError::new(ErrorKind::MalformedOptionalParameters, at(p));
        // RFC 9072 §2: a non-zero non-extended length followed by a type of
        // 255 announces a 2-octet length and 2-octet parameter lengths (the
        // non-extended length is then ignored).
        let non_ext_params_len = opt_len;
        let (extended, params_field) = match rest {
            [EXTENDED_PARAMS_MARK, len_hi, len_lo, field @ ..] if opt_len != 0 => (
                true,
                (usize::from(u16::from_be_bytes([*len_hi, *len_lo])), field),
            ),
            _ => (false, (usize::from(opt_len), rest)),
        };
        let (len, field) = params_field;
        if field.len() != len {
            return Err(malformed(field));
        }
        let mut params = Vec::new();
        let mut p = field;
        while !p.is_empty() {
            let start = p;
            let (r, ptype) = wire::u8(p).map_err(|_| malformed(start))?;
            let (r, plen) = if extended {
                wire::u16(r).map_err(|_| malformed(start))?
            } else {
                let (r, l) = wire::u8(r).map_err(|_| malformed(start))?;
                (r, u16::from(l))
            };
            let (r, value) = wire::take(usize::from(plen))(r).map_err(|_| malformed(start))?;
            if ptype != PARAM_CAPABILITIES {
                return Err(DecodeError::new(
                    ErrorKind::UnsupportedOptionalParameter { param_type: ptype },
                    at(start),
                ));
            }
            params.push(decode_capabilities(value, whole).ok_or_else(|| malformed(start))?);
            p = r;
        }
        Ok(Self {
            version,
            my_as,
            hold_time,
            bgp_id: Ipv4Addr::from(id),
            params,
            extended_params: extended,
            non_ext_params_len: if extended {
                non_ext_params_len
            } else {
                EXTENDED_PARAMS_MARK
            },
        })
    }

    fn params_len(&self, extended: bool) -> usize {
        let hdr = if extended { 3 } else { 2 };
        self.params
            .iter()
            .map(|caps| hdr + caps.iter().map(|c| 2 + c.value_len()).sum::<usize>())
            .sum()
    }

    fn use_extended(&self) -> bool {
        self.extended_params || self.params_len(false) > 255
    }

    pub(crate) fn body_len(&self) -> usize {
        let ext = self.use_extended();
        10 + if ext { 3 } else { 0 } + self.params_len(ext)
    }

    pub(crate) fn encode_body(&self, dst: &mut BytesMut) {
        let ext = self.use_extended();
        dst.put_u8(self.version);
        dst.put_u16(self.my_as);
        dst.put_u16(self.hold_time);
        dst.put_slice(&self.bgp_id.octets());
        let len = self.params_len(ext);
        if ext {
            // A received non-extended length octet is written back as it
            // came (only when the OPEN was in the extended form already).
            dst.put_u8(if self.extended_params && self.non_ext_params_len != 0 {
                self.non_ext_params_len
            } else {
                EXTENDED_PARAMS_MARK
            });
            dst.put_u8(EXTENDED_PARAMS_MARK);
            dst.put_u16(u16::try_from(len).unwrap_or(u16::MAX));
        } else {
            dst.put_u8(u8::try_from(len).unwrap_or(u8::MAX));
        }
        for caps in &self.params {
            dst.put_u8(PARAM_CAPABILITIES);
            let plen: usize = caps.iter().map(|c| 2 + c.value_len()).sum();
            if ext {
                dst.put_u16(u16::try_from(plen).unwrap_or(u16::MAX));
            } else {
                dst.put_u8(u8::try_from(plen).unwrap_or(u8::MAX));
            }
            for c in caps {
                c.encode(dst);
            }
        }
    }
}

fn len16(whole: &[u8]) -> u16 {
    match whole.get(16..18) {
        Some([a, b]) => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}

fn decode_capabilities(mut v: &[u8], whole: &Bytes) -> Option<Vec<Capability>> {
    // Sized exactly: a list grown by doubling would allocate about twice
    // what it keeps, and a peer chooses how many capabilities to send.
    let mut out = Vec::with_capacity(count_capabilities(v));
    while let [code, len, rest @ ..] = v {
        let (value, tail) = rest.split_at_checked(usize::from(*len))?;
        out.push(Capability::decode(CapabilityCode(*code), value, whole));
        v = tail;
    }
    v.is_empty().then_some(out)
}

/// How many capability headers (code, length) `v` holds, stopping where one
/// runs past the end; `decode_capabilities` then rejects the field.
fn count_capabilities(mut v: &[u8]) -> usize {
    let mut n = 0;
    while let [_, len, rest @ ..] = v {
        n += 1;
        v = rest.get(usize::from(*len)..).unwrap_or_default();
    }
    n
}
