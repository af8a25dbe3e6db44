//! Cases taken from the RFC texts: every message is written byte by byte
//! from the RFC's format figures (never produced by the crate's encoder),
//! decoded, checked field by field, and where the crate promises it,
//! re-encoded to the same bytes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

use std::net::{Ipv4Addr, Ipv6Addr};

use bgp_proto::attribute::{AttrValue, NextHop};
use bgp_proto::iana::{AttrType, ErrorCode};
use bgp_proto::{
    Context, Family, FamilySet, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN,
    MAX_SHUTDOWN_MESSAGE_LEN, Message, Nlri, Notification, Open, Update, UpdateBuilder,
};
use bytes::Bytes;
use ipnet::Ipv4Net;

#[path = "support/wire.rs"]
mod wire;
use wire::{NLRI, ORIGIN, attr, msg, update};

/// 2001:db8::1 (RFC 3849 documentation prefix), as 16 octets.
const V6_GLOBAL: [u8; 16] = [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
/// fe80::1, as 16 octets.
const V6_LINK_LOCAL: [u8; 16] = [0xFE, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// Decodes `bytes` under `ctx`, requires a clean UPDATE, and requires that
/// it re-encodes to exactly `bytes`.
fn clean_update(bytes: &[u8], ctx: &Context) -> Update {
    let decoded = Message::decode(&Bytes::copy_from_slice(bytes), ctx).unwrap();
    assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
    assert_eq!(
        decoded.message.to_bytes(ctx).unwrap().as_ref(),
        bytes,
        "decode then encode must give the same octets"
    );
    let Message::Update(u) = decoded.message else {
        panic!("not an UPDATE: {:?}", decoded.message)
    };
    u
}

fn v4(a: [u8; 4], len: u8) -> Nlri {
    Nlri::new(Ipv4Net::new(Ipv4Addr::from(a), len).unwrap())
}

// RFC 5701 §2: IPv6 Address Specific Extended Community, attribute type 25,
// optional transitive; each value is 20 octets: type, sub-type, 16-octet
// IPv6 Global Administrator, 2-octet Local Administrator. Sub-types 0x02
// (Route Target) and 0x03 (Route Origin) as in RFC 4360 §4 and §5.
#[test]
fn rfc5701_ipv6_address_specific_extended_community() {
    let mut value = vec![0x00, 0x02];
    value.extend_from_slice(&V6_GLOBAL);
    value.extend_from_slice(&[0x00, 0x64]); // local administrator 100
    value.extend_from_slice(&[0x40, 0x03]); // non-transitive Route Origin
    value.extend_from_slice(&V6_LINK_LOCAL);
    value.extend_from_slice(&[0x01, 0x2C]); // local administrator 300
    assert_eq!(value.len(), 40);
    let bytes = update(
        &[],
        &wire::with_mandatory(65001, &attr(0xC0, 25, &value)),
        NLRI,
    );

    let u = clean_update(&bytes, &Context::modern());
    let Some(AttrValue::Ipv6ExtendedCommunities(list)) =
        u.attribute(AttrType::IPV6_EXTENDED_COMMUNITIES)
    else {
        panic!("no IPv6 extended communities: {:?}", u.attributes)
    };
    let got: Vec<_> = list
        .iter()
        .map(|c| (c.type_high(), c.sub_type(), c.address(), c.local()))
        .collect();
    assert_eq!(
        got,
        vec![
            (0x00, 0x02, "2001:db8::1".parse::<Ipv6Addr>().unwrap(), 100),
            (0x40, 0x03, "fe80::1".parse::<Ipv6Addr>().unwrap(), 300),
        ]
    );
    assert_eq!(list.as_bytes(), value.as_slice());
    assert_eq!(u.nlri, vec![v4([198, 51, 100, 0], 24)]);
}

/// An UPDATE that announces only through MP_REACH_NLRI (RFC 4760 §3:
/// no NEXT_HOP attribute is needed then), with MP_REACH_NLRI first as
/// RFC 7606 §5.1 asks: AFI 1, SAFI 1, the next hop, a reserved 0, and
/// 198.51.100.0/24 and 203.0.113.7/32.
fn ipv4_mp_reach(next_hop: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 1, 1, u8::try_from(next_hop.len()).unwrap()];
    v.extend_from_slice(next_hop);
    v.push(0);
    v.extend_from_slice(&[24, 198, 51, 100, 32, 203, 0, 113, 7]);
    let attrs = [attr(0x80, 14, &v), ORIGIN.to_vec(), wire::as_path(65001)].concat();
    update(&[], &attrs, &[])
}

fn ipv4_mp_reach_decodes(next_hop: &[u8], ctx: &Context, expected: &NextHop) {
    let u = clean_update(&ipv4_mp_reach(next_hop), ctx);
    let mp = u.mp_reach().expect("MP_REACH_NLRI");
    assert_eq!(mp.family, Family::IPV4_UNICAST);
    assert_eq!(&mp.next_hop, expected);
    assert_eq!(mp.reserved, 0);
    assert!(mp.opaque_nlri.is_empty());
    assert_eq!(
        mp.nlri,
        vec![v4([198, 51, 100, 0], 24), v4([203, 0, 113, 7], 32)]
    );
    assert!(u.nlri.is_empty() && u.withdrawn.is_empty());
    assert!(u.has_reachable());
    assert_eq!(u.next_hop(), None);
}

// RFC 4760 §3: MP_REACH_NLRI for AFI 1 / SAFI 1 with a 4-octet IPv4 next hop.
#[test]
fn rfc4760_mp_reach_ipv4_unicast_with_ipv4_next_hop() {
    ipv4_mp_reach_decodes(
        &[192, 0, 2, 1],
        &Context::modern(),
        &NextHop::Ipv4(Ipv4Addr::new(192, 0, 2, 1)),
    );
}

/// The receive context of a session on which we announced RFC 8950
/// extended next hop for IPv4 unicast.
fn enh_ctx() -> Context {
    Context {
        extended_next_hop: FamilySet::EMPTY.with(Family::IPV4_UNICAST),
        ..Context::modern()
    }
}

// RFC 8950 §3: IPv4 NLRI with an IPv6 next hop: Length of Next Hop 16,
// the global address only.
#[test]
fn rfc8950_ipv4_nlri_with_16_octet_ipv6_next_hop() {
    ipv4_mp_reach_decodes(
        &V6_GLOBAL,
        &enh_ctx(),
        &NextHop::Ipv6 {
            global: Ipv6Addr::from(V6_GLOBAL),
            link_local: None,
        },
    );
}

// RFC 8950 §3: Length of Next Hop 32: the global address followed by the
// link-local one.
#[test]
fn rfc8950_ipv4_nlri_with_32_octet_ipv6_next_hops() {
    ipv4_mp_reach_decodes(
        &[V6_GLOBAL, V6_LINK_LOCAL].concat(),
        &enh_ctx(),
        &NextHop::Ipv6 {
            global: Ipv6Addr::from(V6_GLOBAL),
            link_local: Some(Ipv6Addr::from(V6_LINK_LOCAL)),
        },
    );
}

/// An OPEN (RFC 4271 §4.2) from AS 65001 with one Capabilities optional
/// parameter (RFC 5492 §4) holding `caps`, decoded.
fn open_with(id: u8, caps: &[u8]) -> Open {
    let mut b = vec![4, 0xFD, 0xE9, 0, 90, 192, 0, 2, id];
    b.push(u8::try_from(caps.len() + 2).unwrap());
    b.extend_from_slice(&[2, u8::try_from(caps.len()).unwrap()]);
    b.extend_from_slice(caps);
    let d = Message::decode(&Bytes::from(msg(1, &b)), &Context::default()).unwrap();
    let Message::Open(o) = d.message else {
        panic!("not an OPEN: {:?}", d.message)
    };
    o
}

/// Multiprotocol IPv4 unicast (RFC 4760 §8) and 4-octet AS 65001 (RFC 6793 §3).
const BASE_CAPS: [u8; 12] = [1, 4, 0, 1, 0, 1, 65, 4, 0, 0, 0xFD, 0xE9];
/// Extended message (RFC 8654 §3): code 6, length 0.
const EXTENDED_MESSAGE: [u8; 2] = [6, 0];
/// Extended next hop (RFC 8950 §3): code 5, NLRI AFI 1, NLRI SAFI 1, next hop AFI 2.
const EXTENDED_NEXT_HOP: [u8; 8] = [5, 6, 0, 1, 0, 1, 0, 2];

// RFC 8950 §3 and the doc of `Context::negotiate`: our capability 5 says
// which families we receive with an IPv6 next hop, the peer's which we may
// send so.
#[test]
fn rfc8950_extended_next_hop_capability_negotiates_per_direction() {
    let ours = open_with(1, &[&BASE_CAPS[..], &EXTENDED_NEXT_HOP].concat());
    let theirs = open_with(2, &BASE_CAPS);
    let n = Context::negotiate(&ours, &theirs);
    assert!(n.receive.extended_next_hop.contains(Family::IPV4_UNICAST));
    assert!(n.send.extended_next_hop.is_empty());
    let n = Context::negotiate(&theirs, &ours);
    assert!(n.receive.extended_next_hop.is_empty());
    assert!(n.send.extended_next_hop.contains(Family::IPV4_UNICAST));
}

// RFC 8654 §3: extended messages (up to 65535 octets, §4) only when both
// sides advertise capability 6; otherwise 4096 (RFC 4271 §4.1).
#[test]
fn rfc8654_extended_message_needs_both_sides() {
    let plain = open_with(1, &BASE_CAPS);
    let extended = open_with(2, &[&BASE_CAPS[..], &EXTENDED_MESSAGE].concat());
    let extended2 = open_with(3, &[&EXTENDED_MESSAGE[..], &BASE_CAPS].concat());

    let n = Context::negotiate(&extended, &extended2);
    for ctx in [n.receive, n.send] {
        assert!(ctx.extended_message);
        assert_eq!(ctx.max_message_len(), MAX_EXTENDED_MESSAGE_LEN);
        assert_eq!(ctx.max_message_len(), 65535);
    }
    for (local, remote) in [(&plain, &extended), (&extended, &plain)] {
        let n = Context::negotiate(local, remote);
        for ctx in [n.receive, n.send] {
            assert!(!ctx.extended_message);
            assert_eq!(ctx.max_message_len(), MAX_MESSAGE_LEN);
            assert_eq!(ctx.max_message_len(), 4096);
        }
    }
}

// RFC 9003 §2 (Cease subcodes 2 and 4, RFC 4486 §4): the data is a length
// octet and that many octets of UTF-8. Subcode 4 is Administrative Reset.
#[test]
fn rfc9003_administrative_reset_with_shutdown_communication() {
    let text = "Wartung: Router wird ausgetauscht – zurück um 14:00 UTC";
    let mut body = vec![6, 4, u8::try_from(text.len()).unwrap()];
    body.extend_from_slice(text.as_bytes());
    let bytes = msg(3, &body);
    let ctx = Context::modern();
    let d = Message::decode(&Bytes::from(bytes.clone()), &ctx).unwrap();
    assert!(d.errors.is_empty());
    let Message::Notification(ref n) = d.message else {
        panic!("not a NOTIFICATION: {:?}", d.message)
    };
    assert_eq!(n.code, ErrorCode::CEASE);
    assert_eq!(n.subcode, 4);
    assert_eq!(n.shutdown_message(), Some(text));
    assert_eq!(d.message.to_bytes(&ctx).unwrap().as_ref(), bytes.as_slice());
}

// RFC 9003 §2: the shutdown communication is at most 255 octets of UTF-8;
// `cease_with_message` cuts a longer one at a character boundary, never
// inside a multi-byte character.
#[test]
fn rfc9003_cease_with_message_cuts_at_a_character_boundary() {
    // Byte 255 falls inside a 2-, 3- and 4-octet character respectively.
    let cases = [
        ("é".repeat(200), 254),
        (format!("a{}", "€".repeat(100)), 253),
        ("😀".repeat(70), 252),
        ("x".repeat(300), 255),
        ("x".repeat(255), 255),
        ("ß".repeat(20), 40),
    ];
    for (input, want) in &cases {
        if input.len() > MAX_SHUTDOWN_MESSAGE_LEN {
            assert!(
                *want == 255 || !input.is_char_boundary(MAX_SHUTDOWN_MESSAGE_LEN),
                "case must put byte 255 inside a character"
            );
        }
        let n = Notification::cease_with_message(4, input);
        assert_eq!((n.code, n.subcode), (ErrorCode::CEASE, 4));
        let (len, text) = n.data.split_first().unwrap();
        assert_eq!(usize::from(*len), *want, "{input:?}");
        assert_eq!(text.len(), *want, "length octet matches the text");
        let text = std::str::from_utf8(text).expect("valid UTF-8");
        assert!(input.starts_with(text), "a prefix of the input");
        // The longest such prefix: the next character would not fit.
        if let Some(next) = input[text.len()..].chars().next() {
            assert!(text.len() + next.len_utf8() > MAX_SHUTDOWN_MESSAGE_LEN);
        }
        assert_eq!(n.shutdown_message(), Some(text));
    }
}

// RFC 4271 §4.3 (Withdrawn Routes) and RFC 8654 §4: with extended messages
// the builder packs withdrawals into UPDATEs of up to 65535 octets. Mirrors
// the unit test `withdraws_more_than_800_prefixes_split_correctly`.
#[test]
fn rfc8654_withdrawals_pack_to_the_extended_maximum() {
    let ctx = Context {
        extended_message: true,
        ..Context::modern()
    };
    // Distinct prefixes of 5, 4, 4 and 3 octets on the wire.
    let prefixes: Vec<Nlri> = (0..60_000u32)
        .map(|i| {
            let k = i / 4;
            let (base, len) = match i % 4 {
                0 => (0x0A00_0000 + k, 32),
                1 => (k << 8, 24),
                2 => (k << 12, 20),
                _ => (k << 16, 16),
            };
            Nlri::new(Ipv4Net::new(Ipv4Addr::from(base), len).unwrap())
        })
        .collect();
    let msgs = UpdateBuilder::new(ctx)
        .withdraw(Family::IPV4_UNICAST, &prefixes)
        .unwrap();
    let total: usize = prefixes.iter().map(Nlri::encoded_len).sum();
    // 23 octets of header and length fields in each message.
    let room = MAX_EXTENDED_MESSAGE_LEN - 23;
    assert_eq!(msgs.len(), total.div_ceil(room), "fewest messages");
    assert!(msgs.len() > 1);

    let mut got = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        assert!(m.len() <= MAX_EXTENDED_MESSAGE_LEN, "message {i}");
        let d = Message::decode(m, &ctx).unwrap();
        assert!(d.errors.is_empty());
        let Message::Update(u) = d.message else {
            panic!()
        };
        assert!(u.attributes.is_empty() && u.nlri.is_empty());
        got.extend(u.withdrawn);
        // Full: the prefix that starts the next message would not have fit.
        if let Some(next) = prefixes.get(got.len()).filter(|_| i + 1 < msgs.len()) {
            assert!(m.len() + next.encoded_len() > MAX_EXTENDED_MESSAGE_LEN);
        }
    }
    assert_eq!(got, prefixes, "every prefix withdrawn once, in order");
}
