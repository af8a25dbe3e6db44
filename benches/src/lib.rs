//! Benchmark support: the message corpora that `codec-bench` and the
//! criterion bench (`benches/codec.rs`) run over, and [`cmd::run`] for the
//! lab harnesses.
//!
//! - [`synthetic_ipv4`] and [`synthetic_ipv6`] build UPDATE streams with a
//!   small hand-written byte builder (independent of `bgp-proto`'s encoder),
//!   so that a bug in our encoder cannot make our decoder look good.
//! - [`mrt_updates`] extracts the BGP UPDATE messages from gzip MRT archives
//!   (RFC 6396, BGP4MP and BGP4MP_ET records).
//!
//! Every corpus is one contiguous [`Bytes`] buffer; each [`Msg`] is a
//! zero-copy slice of it.

pub mod cmd;
mod walk;

pub use walk::view_walk;

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use bytes::Bytes;

/// One BGP message of a corpus.
#[derive(Clone, Debug)]
pub struct Msg {
    /// The complete message, header included: a slice of [`Corpus::buf`].
    pub bytes: Bytes,
    /// Whether AS numbers are 4 octets wide (RFC 6793) for this message.
    pub four_octet_as: bool,
}

/// A stream of BGP UPDATE messages in one buffer.
#[derive(Clone, Debug)]
pub struct Corpus {
    /// Short name, used as the table title.
    pub name: String,
    /// Every message, back to back.
    pub buf: Bytes,
    /// The messages, in order.
    pub msgs: Vec<Msg>,
}

impl Corpus {
    /// Builds a corpus from a buffer of back-to-back messages and their
    /// `(offset, length, four_octet_as)` positions.
    fn from_parts(name: String, buf: Vec<u8>, spans: &[(usize, usize, bool)]) -> Self {
        let buf = Bytes::from(buf);
        let msgs = spans
            .iter()
            .map(|&(at, len, four_octet_as)| Msg {
                bytes: buf.slice(at..at + len),
                four_octet_as,
            })
            .collect();
        Self { name, buf, msgs }
    }

    /// Total octets of all messages.
    pub fn total_bytes(&self) -> usize {
        self.msgs.iter().map(|m| m.bytes.len()).sum()
    }

    /// Number of messages whose AS numbers are 2 octets wide.
    pub fn two_octet_count(&self) -> usize {
        self.msgs.iter().filter(|m| !m.four_octet_as).count()
    }
}

/// A small deterministic PRNG (xorshift64*), so runs are reproducible.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed (zero is replaced).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u32, hi: u32) -> u32 {
        let span = u64::from(hi - lo) + 1;
        lo + u32::try_from(self.next_u64() % span).unwrap_or(0)
    }

    /// A random 32-bit value.
    pub fn u32(&mut self) -> u32 {
        u32::try_from(self.next_u64() >> 32).unwrap_or(0)
    }
}

/// Appends a path attribute (header and value), with a 2-octet length when
/// the value is longer than 255 octets or `extended` is set.
fn put_attr(out: &mut Vec<u8>, flags: u8, code: u8, value: &[u8], extended: bool) {
    if extended || value.len() > 255 {
        out.push(flags | 0x10);
        out.push(code);
        out.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_be_bytes());
    } else {
        out.push(flags);
        out.push(code);
        out.push(u8::try_from(value.len()).unwrap_or(u8::MAX));
    }
    out.extend_from_slice(value);
}

/// Appends one prefix in NLRI encoding: length octet, then the minimum
/// number of address octets.
fn put_prefix(out: &mut Vec<u8>, addr: &[u8], len: u8) {
    out.push(len);
    let n = usize::from(len).div_ceil(8);
    out.extend_from_slice(addr.get(..n).unwrap_or(addr));
}

/// Zeroes the bits of `addr` beyond `len` (a canonical network address).
fn mask(addr: &mut [u8], len: u8) {
    for (i, b) in addr.iter_mut().enumerate() {
        let bit = i * 8;
        let keep = usize::from(len).saturating_sub(bit).min(8);
        *b &= if keep == 0 { 0 } else { 0xffu8 << (8 - keep) };
    }
}

/// An IPv4 prefix length with roughly the distribution of the global table:
/// mostly /24, then /22–/23, /16–/21, a few short and host routes.
fn v4_len(rng: &mut Rng) -> u8 {
    let r = rng.range(0, 99);
    let len = match r {
        0..=54 => 24,
        55..=69 => rng.range(22, 23),
        70..=89 => rng.range(16, 21),
        90..=94 => rng.range(8, 15),
        _ => 32,
    };
    u8::try_from(len).unwrap_or(24)
}

/// An IPv6 prefix length: mostly /48, then /32–/47, /29, /56 and /64.
fn v6_len(rng: &mut Rng) -> u8 {
    let r = rng.range(0, 99);
    let len = match r {
        0..=49 => 48,
        50..=79 => rng.range(32, 47),
        80..=84 => 29,
        85..=92 => 56,
        _ => 64,
    };
    u8::try_from(len).unwrap_or(48)
}

/// The common attributes: ORIGIN, AS_PATH (one AS_SEQUENCE of 3–6 4-octet
/// ASNs), then MED and COMMUNITIES (2–3). NEXT_HOP is added by the caller
/// between AS_PATH and MED when `next_hop` is given.
fn put_common_attrs(out: &mut Vec<u8>, rng: &mut Rng, next_hop: Option<[u8; 4]>) {
    put_attr(
        out,
        0x40,
        1,
        &[u8::try_from(rng.range(0, 2)).unwrap_or(0)],
        false,
    );
    let hops = rng.range(3, 6);
    let mut path = vec![2u8, u8::try_from(hops).unwrap_or(3)];
    for i in 0..hops {
        // Mix 2-octet-range and 4-octet-only ASNs; never 0 (RFC 7607).
        let asn = if i % 2 == 0 {
            rng.range(1, 64_511)
        } else {
            rng.range(131_072, 4_199_999_999)
        };
        path.extend_from_slice(&asn.to_be_bytes());
    }
    put_attr(out, 0x40, 2, &path, false);
    if let Some(nh) = next_hop {
        put_attr(out, 0x40, 3, &nh, false);
    }
    put_attr(out, 0x80, 4, &rng.range(0, 1000).to_be_bytes(), false);
    let n = rng.range(2, 3);
    let mut comms = Vec::with_capacity(12);
    for _ in 0..n {
        comms.extend_from_slice(&rng.range(1, 65_535).to_be_bytes()[2..]);
        comms.extend_from_slice(&rng.range(0, 65_535).to_be_bytes()[2..]);
    }
    put_attr(out, 0xc0, 8, &comms, false);
}

/// Writes a complete UPDATE (header, empty withdrawn field, `attrs`, `nlri`)
/// and returns its span.
fn put_update(out: &mut Vec<u8>, attrs: &[u8], nlri: &[u8]) -> (usize, usize, bool) {
    let start = out.len();
    let len = 19 + 2 + 2 + attrs.len() + nlri.len();
    out.extend_from_slice(&[0xff; 16]);
    out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    out.push(2);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&u16::try_from(attrs.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(attrs);
    out.extend_from_slice(nlri);
    (start, len, true)
}

/// `count` IPv4 unicast UPDATEs, each with ORIGIN, AS_PATH (3–6 4-octet
/// ASNs), NEXT_HOP, MED, COMMUNITIES (2–3) and 1–20 prefixes of varied
/// lengths in the NLRI field. Decode with a 4-octet-AS context.
pub fn synthetic_ipv4(count: usize, seed: u64) -> Corpus {
    let mut rng = Rng::new(seed);
    let mut buf = Vec::with_capacity(count * 130);
    let mut spans = Vec::with_capacity(count);
    let mut attrs = Vec::with_capacity(64);
    let mut nlri = Vec::with_capacity(100);
    for _ in 0..count {
        attrs.clear();
        nlri.clear();
        // A unicast next hop in 10.0.0.0/8 (never 0.0.0.0 or broadcast).
        let nh = [
            10,
            rng.range(0, 255) as u8,
            rng.range(0, 255) as u8,
            rng.range(1, 254) as u8,
        ];
        put_common_attrs(&mut attrs, &mut rng, Some(nh));
        for _ in 0..rng.range(1, 20) {
            let len = v4_len(&mut rng);
            let mut a = rng.range(0x0100_0000, 0xdfff_ffff).to_be_bytes();
            mask(&mut a, len);
            put_prefix(&mut nlri, &a, len);
        }
        spans.push(put_update(&mut buf, &attrs, &nlri));
    }
    Corpus::from_parts("synthetic IPv4 unicast".into(), buf, &spans)
}

/// How [`reshape_ipv4`] rewrites the NLRI field of every message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reshape {
    /// Every prefix becomes a /24 (four octets); each message keeps its
    /// number of prefixes.
    All24,
    /// Every message carries ten /24 prefixes.
    Ten24,
}

/// `c`'s UPDATEs with the same attributes and a rewritten IPv4 NLRI field.
/// A diagnostic for the borrowed view (`codec-bench --view-shapes`): it
/// separates what the prefix sizes cost from what the prefix counts cost.
/// Messages the view cannot walk are left out.
pub fn reshape_ipv4(c: &Corpus, how: Reshape) -> Corpus {
    let ctx = bgp_proto::Context::modern();
    let mut buf = Vec::with_capacity(c.buf.len());
    let mut spans = Vec::with_capacity(c.msgs.len());
    let mut attrs = Vec::with_capacity(256);
    let mut nlri = Vec::with_capacity(256);
    for m in &c.msgs {
        let Ok(v) = bgp_proto::UpdateView::new(&m.bytes, &ctx) else {
            continue;
        };
        attrs.clear();
        nlri.clear();
        let mut whole = true;
        for a in v.attributes() {
            let Ok(a) = a else {
                whole = false;
                break;
            };
            let flags = a.flags.0 & !bgp_proto::attribute::AttrFlags::EXTENDED_LENGTH;
            put_attr(
                &mut attrs,
                flags,
                a.code.0,
                a.value,
                a.flags.extended_length(),
            );
        }
        let mut count = 0;
        for p in v.nlri() {
            whole &= p.is_ok();
            count += 1;
        }
        if how == Reshape::Ten24 {
            count = 10;
        }
        for i in 0..count {
            put_prefix(
                &mut nlri,
                &[198, 51, u8::try_from(i % 256).unwrap_or(0)],
                24,
            );
        }
        if whole {
            spans.push(put_update(&mut buf, &attrs, &nlri));
        }
    }
    let name = match how {
        Reshape::All24 => format!("{}, every prefix a /24", c.name),
        Reshape::Ten24 => format!("{}, ten /24 per message", c.name),
    };
    Corpus::from_parts(name, buf, &spans)
}

/// `count` IPv6 unicast UPDATEs: MP_REACH_NLRI (first, as RFC 7606 §5.1
/// asks) with a 16- or 32-octet next hop and 1–20 prefixes, then ORIGIN,
/// AS_PATH, MED and COMMUNITIES. Decode with a 4-octet-AS context.
pub fn synthetic_ipv6(count: usize, seed: u64) -> Corpus {
    let mut rng = Rng::new(seed);
    let mut buf = Vec::with_capacity(count * 200);
    let mut spans = Vec::with_capacity(count);
    let mut attrs = Vec::with_capacity(256);
    let mut mp = Vec::with_capacity(256);
    for _ in 0..count {
        attrs.clear();
        mp.clear();
        mp.extend_from_slice(&[0, 2, 1]); // AFI IPv6, SAFI unicast
        let link_local = rng.range(0, 1) == 1;
        mp.push(if link_local { 32 } else { 16 });
        let mut global = [0u8; 16];
        global[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        global[4..12].copy_from_slice(&rng.next_u64().to_be_bytes());
        global[15] = 1;
        mp.extend_from_slice(&global);
        if link_local {
            let mut ll = [0u8; 16];
            ll[..2].copy_from_slice(&[0xfe, 0x80]);
            ll[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
            mp.extend_from_slice(&ll);
        }
        mp.push(0); // reserved
        for _ in 0..rng.range(1, 20) {
            let len = v6_len(&mut rng);
            let mut a = [0u8; 16];
            a[0] = 0x20;
            a[1..9].copy_from_slice(&rng.next_u64().to_be_bytes()[..8]);
            mask(&mut a, len);
            put_prefix(&mut mp, &a, len);
        }
        put_attr(&mut attrs, 0x80, 14, &mp, true);
        put_common_attrs(&mut attrs, &mut rng, None);
        spans.push(put_update(&mut buf, &attrs, &[]));
    }
    Corpus::from_parts("synthetic IPv6 unicast (MP_REACH_NLRI)".into(), buf, &spans)
}

/// What [`mrt_updates`] found in the archives.
#[derive(Clone, Debug, Default)]
pub struct MrtStats {
    /// The archives read.
    pub files: Vec<PathBuf>,
    /// MRT records read.
    pub records: usize,
    /// BGP4MP / BGP4MP_ET MESSAGE and MESSAGE_AS4 records.
    pub bgp_messages: usize,
    /// Of those, UPDATE messages kept.
    pub updates: usize,
    /// Records skipped because they were truncated or inconsistent.
    pub malformed: usize,
}

/// Reads every `*.gz` MRT archive in `dir` (sorted by name) and returns the
/// BGP UPDATE messages of its BGP4MP (16) and BGP4MP_ET (17) records with
/// subtype MESSAGE (1, 2-octet AS) or MESSAGE_AS4 (4, 4-octet AS).
///
/// Returns `Ok(None)` when `dir` does not exist or holds no archive.
pub fn mrt_updates(dir: &Path) -> io::Result<Option<(Corpus, MrtStats)>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "gz"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Ok(None);
    }
    let mut stats = MrtStats::default();
    let mut buf = Vec::new();
    let mut spans = Vec::new();
    for f in &files {
        let mut raw = Vec::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(f)?).read_to_end(&mut raw)?;
        extract(&raw, &mut buf, &mut spans, &mut stats);
    }
    stats.files = files;
    stats.updates = spans.len();
    let corpus = Corpus::from_parts("real UPDATEs from MRT archives".into(), buf, &spans);
    Ok(Some((corpus, stats)))
}

/// Appends the UPDATE messages of the MRT records in `raw` to `out`.
fn extract(
    raw: &[u8],
    out: &mut Vec<u8>,
    spans: &mut Vec<(usize, usize, bool)>,
    st: &mut MrtStats,
) {
    let be16 = |b: &[u8], at: usize| {
        b.get(at..at + 2)
            .and_then(|s| <[u8; 2]>::try_from(s).ok())
            .map(u16::from_be_bytes)
    };
    let mut rest = raw;
    // Common header: timestamp 4, type 2, subtype 2, length 4.
    while let Some((hdr, tail)) = rest.split_first_chunk::<12>() {
        let ty = u16::from_be_bytes([hdr[4], hdr[5]]);
        let subtype = u16::from_be_bytes([hdr[6], hdr[7]]);
        let len = u32::from_be_bytes([hdr[8], hdr[9], hdr[10], hdr[11]]) as usize;
        let Some((body, next)) = tail.split_at_checked(len) else {
            st.malformed += 1;
            break;
        };
        rest = next;
        st.records += 1;
        if !matches!(ty, 16 | 17) || !matches!(subtype, 1 | 4) {
            continue;
        }
        st.bgp_messages += 1;
        // BGP4MP_ET: the length includes a 4-octet microsecond field first.
        let body = if ty == 17 {
            body.get(4..).unwrap_or_default()
        } else {
            body
        };
        let four = subtype == 4;
        let as_len = if four { 4 } else { 2 };
        let afi_at = 2 * as_len + 2;
        let ip_len = match be16(body, afi_at) {
            Some(1) => 4,
            Some(2) => 16,
            _ => {
                st.malformed += 1;
                continue;
            }
        };
        let Some(msg) = body.get(afi_at + 2 + 2 * ip_len..) else {
            st.malformed += 1;
            continue;
        };
        let ok = msg.len() >= 19
            && msg.get(..16).is_some_and(|m| m.iter().all(|b| *b == 0xff))
            && be16(msg, 16).map(usize::from) == Some(msg.len());
        if !ok {
            st.malformed += 1;
            continue;
        }
        if msg.get(18) == Some(&2) {
            spans.push((out.len(), msg.len(), four));
            out.extend_from_slice(msg);
        }
    }
}

/// The default location of the MRT archives, relative to the workspace root
/// (`../shared/data/mrt/`), resolved from this crate's manifest directory.
pub fn default_mrt_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mrt")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use bgp_proto::{Context, Message};

    /// The IPv4 unicast prefixes of every message, as the owned decode reads them.
    fn routes(c: &Corpus) -> Vec<Vec<u8>> {
        c.msgs
            .iter()
            .map(|m| {
                let d = Message::decode(&m.bytes, &Context::modern()).expect("decodes");
                let Message::Update(u) = d.message else {
                    panic!("not an UPDATE")
                };
                u.nlri.iter().map(|n| n.prefix.prefix_len()).collect()
            })
            .collect()
    }

    #[test]
    fn reshaped_corpora_keep_the_messages_and_change_only_the_prefixes() {
        let c = synthetic_ipv4(300, 7);
        let before = routes(&c);
        assert!(
            before.iter().flatten().any(|&l| l != 24),
            "the mix is varied"
        );

        let all24 = reshape_ipv4(&c, Reshape::All24);
        assert_eq!(all24.msgs.len(), c.msgs.len());
        let after = routes(&all24);
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(a.len(), b.len(), "same number of prefixes per message");
            assert!(a.iter().all(|&l| l == 24));
        }

        let ten = reshape_ipv4(&c, Reshape::Ten24);
        assert_eq!(ten.msgs.len(), c.msgs.len());
        assert!(
            routes(&ten)
                .iter()
                .all(|r| r.len() == 10 && r.iter().all(|&l| l == 24))
        );

        // The attributes are carried over octet for octet.
        let ctx = Context::modern();
        for (m, r) in c.msgs.iter().zip(&ten.msgs) {
            let a = bgp_proto::UpdateView::new(&m.bytes, &ctx).unwrap();
            let b = bgp_proto::UpdateView::new(&r.bytes, &ctx).unwrap();
            let a: Vec<_> = a.attributes().map(Result::unwrap).collect();
            let b: Vec<_> = b.attributes().map(Result::unwrap).collect();
            assert_eq!(a, b);
        }
    }
}
