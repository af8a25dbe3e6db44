//! The tokio-util framing codec: byte-at-a-time delivery, context switches
//! after the OPEN exchange, and maximum-length enforcement.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

use bgp_proto::capability::{AddPathFamily, AddPathMode, Capability};
use bgp_proto::{BgpCodec, CodecError, Context, ErrorKind, Family, Message, Open};
use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

fn open(asn: u32, caps: Vec<Capability>) -> Open {
    Open::new(asn, 90, "192.0.2.1".parse().unwrap(), caps)
}

#[test]
fn decodes_a_stream_fed_one_byte_at_a_time() {
    let mut codec = BgpCodec::default();
    let mut wire = BytesMut::new();
    let msgs = [
        Message::from(open(65001, vec![Capability::RouteRefresh])),
        Message::Keepalive,
        Message::Keepalive,
    ];
    for m in &msgs {
        codec.encode(m, &mut wire).unwrap();
    }
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for b in wire.iter() {
        buf.extend_from_slice(&[*b]);
        while let Some(d) = codec.decode(&mut buf).unwrap() {
            got.push(d.message);
        }
    }
    assert_eq!(got, msgs);
    assert!(buf.is_empty());
}

#[test]
fn rejects_oversized_messages_until_extended_message_is_negotiated() {
    let mut header = vec![0xFF; 16];
    header.extend_from_slice(&5000u16.to_be_bytes());
    header.push(2);
    let mut codec = BgpCodec::default();
    let err = codec.decode(&mut BytesMut::from(&header[..])).unwrap_err();
    let CodecError::Decode(e) = err else {
        panic!("{err:?}")
    };
    assert_eq!(e.kind, ErrorKind::BadMessageLength { length: 5000 });
    codec.set_context(Context {
        extended_message: true,
        ..Context::modern()
    });
    // Now the header is acceptable and the codec waits for the body.
    assert!(
        codec
            .decode(&mut BytesMut::from(&header[..]))
            .unwrap()
            .is_none()
    );
}

#[test]
fn negotiation_computes_both_directions() {
    let ap = |mode| {
        Capability::AddPath(vec![AddPathFamily {
            family: Family::IPV4_UNICAST,
            mode,
        }])
    };
    let ours = open(
        4_200_000_001,
        vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::FourOctetAs(4_200_000_001),
            ap(AddPathMode::Send),
            Capability::ExtendedMessage,
        ],
    );
    let theirs = open(
        65002,
        vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::Multiprotocol(Family::IPV6_UNICAST),
            Capability::FourOctetAs(65002),
            ap(AddPathMode::Both),
        ],
    );
    let n = Context::negotiate(&ours, &theirs);
    assert!(n.send.four_octet_as && n.receive.four_octet_as);
    assert!(n.send.add_path(Family::IPV4_UNICAST));
    assert!(
        !n.receive.add_path(Family::IPV4_UNICAST),
        "we only said send"
    );
    assert!(
        !n.send.extended_message,
        "only one side offered extended messages"
    );
    assert_eq!(n.families, vec![Family::IPV4_UNICAST]);
    assert_eq!(ours.my_as, 23456, "AS_TRANS in My Autonomous System");
    assert_eq!(ours.asn(), 4_200_000_001);

    // A peer without the 4-octet capability: 2-octet AS numbers both ways.
    let old = open(65002, vec![]);
    let n = Context::negotiate(&ours, &old);
    assert!(!n.send.four_octet_as && !n.receive.four_octet_as);
    assert_eq!(
        old.families(),
        vec![Family::IPV4_UNICAST],
        "IPv4 unicast is implied"
    );
}
