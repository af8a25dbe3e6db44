//! UPDATE encoding writes first and patches the lengths in: the result must
//! match `encoded_len`, and a message over the maximum must fail with the
//! same length and leave the buffer's contents as they were.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::Ipv4Addr;

use bgp_proto::attribute::{AsPath, AttrValue, Origin, PathAttribute};
use bgp_proto::{Context, EncodeError, Message, Nlri, Update};
use bytes::BytesMut;

fn update(prefixes: u32, path_len: u32) -> Message {
    let nlri: Vec<Nlri> = (0..prefixes)
        .map(|i| {
            Nlri::new(ipnet::Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24).unwrap())
        })
        .collect();
    Message::Update(Update {
        withdrawn: Vec::new().into(),
        attributes: vec![
            PathAttribute::new(AttrValue::Origin(Origin::Igp)),
            PathAttribute::new(AttrValue::AsPath(AsPath::from_sequence(1..=path_len))),
            PathAttribute::new(AttrValue::NextHop(Ipv4Addr::new(192, 0, 2, 1))),
        ],
        nlri: nlri.into(),
    })
}

#[test]
fn lengths_are_patched_in() {
    for ctx in [Context::default(), Context::modern()] {
        for (prefixes, path_len) in [(0, 0), (1, 1), (50, 70), (800, 3)] {
            let m = update(prefixes, path_len);
            let mut b = BytesMut::from(&b"prefix"[..]);
            m.encode(&ctx, &mut b).unwrap();
            let out = &b[6..];
            assert_eq!(out.len(), m.encoded_len(&ctx));
            assert_eq!(
                usize::from(u16::from_be_bytes([out[16], out[17]])),
                out.len()
            );
            let wlen = usize::from(u16::from_be_bytes([out[19], out[20]]));
            let alen = usize::from(u16::from_be_bytes([out[21 + wlen], out[22 + wlen]]));
            let attrs: usize = match &m {
                Message::Update(u) => u.attributes.iter().map(|a| a.encoded_len(&ctx)).sum(),
                _ => unreachable!(),
            };
            assert_eq!(alen, attrs);
            // Decodes cleanly and re-encodes to the same octets.
            let d = Message::decode(&b.clone().freeze().slice(6..), &ctx).unwrap();
            assert!(d.errors.is_empty());
            let mut again = BytesMut::new();
            d.message.encode(&ctx, &mut again).unwrap();
            assert_eq!(&again[..], out);
        }
    }
}

#[test]
fn too_long_leaves_the_buffer_as_it_was() {
    let ctx = Context::default();
    let m = update(1100, 3);
    let mut b = BytesMut::from(&b"prefix"[..]);
    let err = m.encode(&ctx, &mut b).unwrap_err();
    assert_eq!(
        err,
        EncodeError::TooLong {
            len: m.encoded_len(&ctx),
            max: 4096
        }
    );
    assert_eq!(&b[..], b"prefix");
}
