//! Malformed inputs mapped to their exact NOTIFICATION (RFC 4271 §6) or
//! RFC 7606 action. Every message here is built byte by byte, not with the
//! crate's encoder.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

use bgp_proto::{AttrAction, Context, Message, Notification};
use bytes::Bytes;

#[path = "support/wire.rs"]
mod wire;
use wire::{NEXT_HOP, NLRI, ORIGIN, attr, msg, update};

/// AS_PATH, one AS_SEQUENCE of 65001 (4-octet).
const AS_PATH: &[u8] = &[0x40, 2, 6, 2, 1, 0, 0, 0xFD, 0xE9];

fn base_attrs(extra: &[u8]) -> Vec<u8> {
    wire::with_mandatory(65001, extra)
}

/// An OPEN body with version, AS, hold time, id and optional parameters.
fn open(version: u8, asn: u16, hold: u16, id: [u8; 4], params: &[u8]) -> Vec<u8> {
    let mut b = vec![version];
    b.extend_from_slice(&asn.to_be_bytes());
    b.extend_from_slice(&hold.to_be_bytes());
    b.extend_from_slice(&id);
    b.push(u8::try_from(params.len()).unwrap());
    b.extend_from_slice(params);
    msg(1, &b)
}

#[derive(Debug)]
enum Expect {
    /// Session reset with NOTIFICATION (code, subcode, data).
    Notify(u8, u8, Vec<u8>),
    /// Decodes, with the strongest RFC 7606 action as given.
    Soft(AttrAction),
    /// Decodes with this strongest action, and the first error (the
    /// malformed attribute's own) maps to NOTIFICATION (code, subcode, data),
    /// for a caller that resets the session anyway or logs the error.
    SoftNotify(AttrAction, u8, u8, Vec<u8>),
}
use Expect::{Notify, Soft, SoftNotify};

/// Treat-as-withdraw attribute errors (RFC 7606) as attribute fields, with
/// the UPDATE Message Error subcode and data of their NOTIFICATION (RFC 4271
/// §6.3: the data of subcodes 4, 5, 8 and 9 is the erroneous attribute, type
/// (flags and code), length and value; Malformed AS_PATH, 11, has none).
fn soft_errors() -> Vec<(&'static str, Vec<u8>, u8, Vec<u8>)> {
    // An extra attribute after the mandatory ones, and the data naming it.
    let extra = |a: &[u8]| (base_attrs(a), a.to_vec());
    let origin = attr(0xC0, 1, &[0]);
    let path = |v: &[u8]| [ORIGIN, &attr(0x40, 2, v), NEXT_HOP].concat();
    let next_hop = |v: [u8; 4]| {
        let a = attr(0x40, 3, &v);
        ([ORIGIN, AS_PATH, &a].concat(), a)
    };
    let (nh_zero, nh_multicast, nh_broadcast) = (
        next_hop([0, 0, 0, 0]),
        next_hop([224, 0, 0, 1]),
        next_hop([255; 4]),
    );
    let communities_ext_len = extra(&[0x50, 8, 0, 4, 0xFD, 0xE9, 0, 1]);
    let [comm5, comm0, ext7, v6ext19, large11] = [
        extra(&attr(0xC0, 8, &[0; 5])),
        extra(&attr(0xC0, 8, &[])),
        extra(&attr(0xC0, 16, &[0; 7])),
        extra(&attr(0xC0, 25, &[0; 19])),
        extra(&attr(0xC0, 32, &[0; 11])),
    ];
    vec![
        // 3/4 Attribute Flags Error.
        (
            "ORIGIN flags conflict",
            [&origin[..], AS_PATH, NEXT_HOP].concat(),
            4,
            origin,
        ),
        (
            "COMMUNITIES flagged well-known, extended length",
            communities_ext_len.0,
            4,
            communities_ext_len.1,
        ),
        // 3/8 Invalid NEXT_HOP Attribute.
        ("NEXT_HOP 0.0.0.0", nh_zero.0, 8, nh_zero.1),
        ("NEXT_HOP multicast", nh_multicast.0, 8, nh_multicast.1),
        ("NEXT_HOP broadcast", nh_broadcast.0, 8, nh_broadcast.1),
        // 3/5 Attribute Length Error: a community list whose length is not
        // a non-zero multiple of its entry size (RFC 4271 §6.3; the action
        // is RFC 7606 §7.8, §7.14, §7.15 and RFC 8092 §6).
        ("COMMUNITIES length 5", comm5.0, 5, comm5.1),
        ("COMMUNITIES length 0", comm0.0, 5, comm0.1),
        ("EXTENDED COMMUNITIES length 7", ext7.0, 5, ext7.1),
        (
            "IPv6 extended communities length 19",
            v6ext19.0,
            5,
            v6ext19.1,
        ),
        ("LARGE_COMMUNITY length 11", large11.0, 5, large11.1),
        // 3/11 Malformed AS_PATH.
        (
            "AS_PATH segment overrun",
            path(&[2, 2, 0, 0, 0xFD, 0xE9]),
            11,
            vec![],
        ),
        ("AS_PATH zero-length segment", path(&[2, 0]), 11, vec![]),
        (
            "AS_PATH unknown segment type",
            path(&[9, 1, 0, 0, 0xFD, 0xE9]),
            11,
            vec![],
        ),
        (
            "AS_PATH contains AS 0 (RFC 7607)",
            path(&[2, 1, 0, 0, 0, 0]),
            11,
            vec![],
        ),
    ]
}

fn cases() -> Vec<(&'static str, Vec<u8>, Expect)> {
    let mut bad_marker = msg(4, &[]);
    bad_marker[5] = 0;
    let mut short_len = msg(4, &[]);
    short_len[17] = 18;
    let caps = [2u8, 6, 1, 4, 0, 1, 0, 1]; // capabilities: MP IPv4 unicast
    let med_bad = attr(0x80, 4, &[0, 0, 1]);
    vec![
        // RFC 4271 §6.1 header errors.
        ("marker not all ones", bad_marker, Notify(1, 1, vec![])),
        ("length below 19", short_len, Notify(1, 2, vec![0, 18])),
        (
            "KEEPALIVE longer than 19",
            msg(4, &[0]),
            Notify(1, 2, vec![0, 20]),
        ),
        (
            "OPEN shorter than 29",
            msg(1, &[4, 0, 1]),
            Notify(1, 2, vec![0, 22]),
        ),
        (
            "UPDATE shorter than 23",
            msg(2, &[0, 0]),
            Notify(1, 2, vec![0, 21]),
        ),
        (
            "NOTIFICATION shorter than 21",
            msg(3, &[6]),
            Notify(1, 2, vec![0, 20]),
        ),
        ("unknown message type", msg(9, &[]), Notify(1, 3, vec![9])),
        (
            "OPEN over 4096 even with extended messages",
            {
                let mut params = vec![];
                for _ in 0..20 {
                    params.extend_from_slice(&[2, 255]);
                    params.extend_from_slice(&[99, 253]);
                    params.extend_from_slice(&[0u8; 253]);
                }
                let mut b = vec![4, 0xFD, 0xE9, 0, 90, 1, 2, 3, 4, 255, 255];
                b.extend_from_slice(&u16::try_from(params.len()).unwrap().to_be_bytes());
                b.extend_from_slice(&params);
                msg(1, &b)
            },
            Notify(1, 2, vec![0x14, 0x34]),
        ),
        // RFC 4271 §6.2 OPEN errors.
        (
            "OPEN version 3",
            open(3, 65001, 90, [1, 2, 3, 4], &caps),
            Notify(2, 1, vec![0, 4]),
        ),
        (
            "OPEN AS 0 (RFC 7607)",
            open(4, 0, 90, [1, 2, 3, 4], &caps),
            Notify(2, 2, vec![]),
        ),
        (
            "OPEN BGP identifier 0",
            open(4, 65001, 90, [0; 4], &caps),
            Notify(2, 3, vec![]),
        ),
        (
            "OPEN optional parameter type 1",
            open(4, 65001, 90, [1, 2, 3, 4], &[1, 0]),
            Notify(2, 4, vec![]),
        ),
        (
            "OPEN hold time 1",
            open(4, 65001, 1, [1, 2, 3, 4], &caps),
            Notify(2, 6, vec![]),
        ),
        (
            "OPEN hold time 2",
            open(4, 65001, 2, [1, 2, 3, 4], &caps),
            Notify(2, 6, vec![]),
        ),
        (
            "OPEN parameter overruns",
            open(4, 65001, 90, [1, 2, 3, 4], &[2, 9, 1, 4]),
            Notify(2, 0, vec![]),
        ),
        (
            "OPEN capability overruns parameter",
            open(4, 65001, 90, [1, 2, 3, 4], &[2, 2, 1, 4]),
            Notify(2, 0, vec![]),
        ),
        // RFC 4271 §6.3 / RFC 7606 UPDATE errors.
        (
            "withdrawn length overruns",
            msg(2, &[0, 9, 0, 0]),
            Notify(3, 1, vec![]),
        ),
        (
            "attribute length overruns message",
            msg(2, &[0, 0, 0, 9, 0x40]),
            Notify(3, 1, vec![]),
        ),
        (
            "duplicate MP_REACH_NLRI",
            update(
                &[],
                &[
                    attr(
                        0x80,
                        14,
                        &[
                            0, 2, 1, 16, 0x20, 1, 0xD, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
                        ],
                    ),
                    attr(
                        0x80,
                        14,
                        &[
                            0, 2, 1, 16, 0x20, 1, 0xD, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
                        ],
                    ),
                ]
                .concat(),
                &[],
            ),
            Notify(3, 1, vec![]),
        ),
        (
            "unrecognized well-known attribute",
            update(&[], &base_attrs(&attr(0x40, 99, &[1])), NLRI),
            Notify(3, 2, vec![0x40, 99, 1, 1]),
        ),
        (
            "NLRI prefix length 33",
            update(&[], &base_attrs(&[]), &[33, 1, 2, 3, 4, 5]),
            Notify(3, 10, vec![]),
        ),
        (
            "NLRI prefix overruns field",
            update(&[], &base_attrs(&[]), &[24, 10, 0]),
            Notify(3, 10, vec![]),
        ),
        (
            "withdrawn prefix overruns field",
            update(&[16, 10], &[], &[]),
            Notify(3, 10, vec![]),
        ),
        (
            "MP_REACH shorter than 5",
            update(&[], &base_attrs(&attr(0x80, 14, &[0, 2])), NLRI),
            Notify(3, 5, vec![0x80, 14, 2, 0, 2]),
        ),
        // RFC 7606 §5.2: attributes, no NLRI, and an error stronger than discard.
        (
            "bad ORIGIN with withdrawals only",
            update(&[8, 10], &attr(0x40, 1, &[7]), &[]),
            Notify(3, 6, vec![0x40, 1, 1, 7]),
        ),
        // RFC 7606 soft errors: the session stays up.
        (
            "missing ORIGIN",
            update(&[], &[AS_PATH, NEXT_HOP].concat(), NLRI),
            // 3/3, data the missing attribute's type code (RFC 4271 §6.3).
            SoftNotify(AttrAction::TreatAsWithdraw, 3, 3, vec![1]),
        ),
        (
            "missing AS_PATH",
            update(&[], &[ORIGIN, NEXT_HOP].concat(), NLRI),
            // 3/3, data the missing attribute's type code (RFC 4271 §6.3).
            SoftNotify(AttrAction::TreatAsWithdraw, 3, 3, vec![2]),
        ),
        (
            "missing NEXT_HOP",
            update(&[], &[ORIGIN, AS_PATH].concat(), NLRI),
            // 3/3, data the missing attribute's type code (RFC 4271 §6.3).
            SoftNotify(AttrAction::TreatAsWithdraw, 3, 3, vec![3]),
        ),
        (
            "ORIGIN length 2",
            update(
                &[],
                &[&attr(0x40, 1, &[0, 0])[..], AS_PATH, NEXT_HOP].concat(),
                NLRI,
            ),
            Soft(AttrAction::TreatAsWithdraw),
        ),
        (
            "ORIGIN value 3",
            update(
                &[],
                &[&attr(0x40, 1, &[3])[..], AS_PATH, NEXT_HOP].concat(),
                NLRI,
            ),
            Soft(AttrAction::TreatAsWithdraw),
        ),
        (
            "NEXT_HOP length 5",
            update(
                &[],
                &[ORIGIN, AS_PATH, &attr(0x40, 3, &[1, 2, 3, 4, 5])].concat(),
                NLRI,
            ),
            Soft(AttrAction::TreatAsWithdraw),
        ),
        (
            "MED length 3",
            update(&[], &base_attrs(&med_bad), NLRI),
            Soft(AttrAction::TreatAsWithdraw),
        ),
        (
            "LOCAL_PREF length 0",
            update(&[], &base_attrs(&attr(0x40, 5, &[])), NLRI),
            Soft(AttrAction::TreatAsWithdraw),
        ),
        (
            "ATOMIC_AGGREGATE length 1",
            update(&[], &base_attrs(&attr(0x40, 6, &[0])), NLRI),
            Soft(AttrAction::Discard),
        ),
        (
            "AGGREGATOR length 7",
            update(&[], &base_attrs(&attr(0xC0, 7, &[0; 7])), NLRI),
            Soft(AttrAction::Discard),
        ),
        (
            "AGGREGATOR AS 0 (RFC 7607)",
            update(
                &[],
                &base_attrs(&attr(0xC0, 7, &[0, 0, 0, 0, 1, 2, 3, 4])),
                NLRI,
            ),
            Soft(AttrAction::Discard),
        ),
        (
            "ORIGINATOR_ID length 3",
            update(&[], &base_attrs(&attr(0x80, 9, &[0; 3])), NLRI),
            Soft(AttrAction::TreatAsWithdraw),
        ),
        (
            "CLUSTER_LIST length 6",
            update(&[], &base_attrs(&attr(0x80, 10, &[0; 6])), NLRI),
            Soft(AttrAction::TreatAsWithdraw),
        ),
        (
            "ONLY_TO_CUSTOMER length 2",
            update(&[], &base_attrs(&attr(0xC0, 35, &[0; 2])), NLRI),
            Soft(AttrAction::TreatAsWithdraw),
        ),
        (
            "AS4_PATH malformed",
            update(&[], &base_attrs(&attr(0xC0, 17, &[2, 2, 0, 0])), NLRI),
            Soft(AttrAction::Discard),
        ),
        (
            "AS4_AGGREGATOR length 6",
            update(&[], &base_attrs(&attr(0xC0, 18, &[0; 6])), NLRI),
            Soft(AttrAction::Discard),
        ),
        (
            "duplicate MED is discarded",
            update(
                &[],
                &base_attrs(&[attr(0x80, 4, &[0, 0, 0, 1]), attr(0x80, 4, &[0, 0, 0, 2])].concat()),
                NLRI,
            ),
            Soft(AttrAction::Discard),
        ),
        (
            "attribute header overruns attribute field (RFC 7606 §4)",
            update(&[], &base_attrs(&[0xC0, 8]), NLRI),
            Soft(AttrAction::TreatAsWithdraw),
        ),
        (
            "attribute value overruns attribute field (RFC 7606 §4)",
            update(&[], &base_attrs(&[0xC0, 8, 8, 0, 0, 0, 1]), NLRI),
            Soft(AttrAction::TreatAsWithdraw),
        ),
        (
            "MP_REACH next hop length 5",
            update(
                &[],
                &[
                    ORIGIN,
                    AS_PATH,
                    &attr(0x80, 14, &[0, 2, 1, 5, 1, 2, 3, 4, 5, 0]),
                ]
                .concat(),
                &[],
            ),
            // 3/9 Optional Attribute Error (RFC 7606 §7.11), data the
            // attribute (RFC 4271 §6.3).
            SoftNotify(
                AttrAction::AfiSafiDisable,
                3,
                9,
                attr(0x80, 14, &[0, 2, 1, 5, 1, 2, 3, 4, 5, 0]),
            ),
        ),
        (
            "MP_REACH flags conflict",
            update(
                &[],
                &[
                    ORIGIN,
                    AS_PATH,
                    &attr(
                        0xC0,
                        14,
                        &[
                            0, 2, 1, 16, 0x20, 1, 0xD, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
                        ],
                    ),
                ]
                .concat(),
                &[],
            ),
            Soft(AttrAction::AfiSafiDisable),
        ),
        (
            "MP_UNREACH IPv6 prefix length 129",
            update(&[], &attr(0x80, 15, &[0, 2, 1, 129]), &[]),
            Soft(AttrAction::AfiSafiDisable),
        ),
        // RFC 7313 §5: BoRR with a bad length.
        (
            "BoRR body of 5 octets",
            msg(5, &[0, 1, 1, 1, 0]),
            Notify(7, 1, msg(5, &[0, 1, 1, 1, 0])),
        ),
        (
            "ROUTE-REFRESH body of 3 octets",
            msg(5, &[0, 1, 0]),
            Notify(1, 2, vec![0, 22]),
        ),
    ]
}

#[test]
fn every_malformed_input_gets_its_exact_answer() {
    // Extended messages on, so the OPEN case proves the 4096 limit is per type.
    let ctx = Context {
        extended_message: true,
        ..Context::modern()
    };
    // Each soft error twice: beside NLRI it is treat-as-withdraw; in an
    // UPDATE with only withdrawals it is a session reset with the same
    // NOTIFICATION (RFC 7606 §5.2).
    let soft = soft_errors()
        .into_iter()
        .flat_map(|(name, attrs, sub, data)| {
            [
                (
                    format!("{name}, with NLRI"),
                    update(&[], &attrs, NLRI),
                    SoftNotify(AttrAction::TreatAsWithdraw, 3, sub, data.clone()),
                ),
                (
                    format!("{name}, withdrawals only (RFC 7606 §5.2)"),
                    update(&[8, 10], &attrs, &[]),
                    Notify(3, sub, data),
                ),
            ]
        });
    let same = |n: Notification, c: &u8, s: &u8, d: &Vec<u8>| {
        n.code.0 == *c && n.subcode == *s && n.data.as_ref() == d.as_slice()
    };
    let mut failures = Vec::new();
    let all = cases().into_iter().map(|(n, b, e)| (n.to_owned(), b, e));
    for (name, bytes, expect) in all.chain(soft) {
        let got = Message::decode(&Bytes::from(bytes), &ctx);
        let ok = match (&expect, &got) {
            (Notify(c, s, d), Err(e)) => same(e.notification(), c, s, d),
            (Soft(action), Ok(decoded)) => decoded.action() == Some(*action),
            (SoftNotify(action, c, s, d), Ok(decoded)) => {
                decoded.action() == Some(*action)
                    && same(decoded.errors[0].kind.notification(), c, s, d)
            }
            _ => false,
        };
        if !ok {
            failures.push(format!("{name}: expected {expect:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn soft_errors_keep_the_rest_of_the_update() {
    let ctx = Context::modern();
    let m = update(&[], &base_attrs(&attr(0x40, 6, &[0])), NLRI);
    let d = Message::decode(&Bytes::from(m), &ctx).unwrap();
    let Message::Update(ref u) = d.message else {
        panic!()
    };
    // ATOMIC_AGGREGATE was discarded; everything else is there.
    assert_eq!(u.attributes.len(), 3);
    assert_eq!(u.nlri.len(), 1);
    assert!(!d.treat_as_withdraw());
}

#[test]
fn subcodes_raised_only_by_the_session_map_exactly() {
    use bgp_proto::ErrorKind;
    let caps = Bytes::from_static(&[65, 4, 0, 0, 0xFD, 0xE9]);
    let n = ErrorKind::UnsupportedCapability {
        capabilities: caps.clone(),
    }
    .notification();
    assert_eq!((n.code.0, n.subcode, n.data), (2, 7, caps));
    let n = ErrorKind::RoleMismatch.notification();
    assert_eq!((n.code.0, n.subcode, n.data.len()), (2, 11, 0));
    let n = ErrorKind::MissingWellKnownAttribute {
        code: bgp_proto::iana::AttrType::LOCAL_PREF,
    }
    .notification();
    assert_eq!((n.code.0, n.subcode, n.data.as_ref()), (3, 3, &[5u8][..]));
}
