//! Shared helpers for the fuzz targets (bgp-proto codec targets; `config`: the
//! k8s-adapter configuration targets).
//!
//! Every target that takes a [`Context`] reads it from the first four input
//! bytes (`arbitrary` encoding: `four_octet_as` = bit 0 of byte 0,
//! `extended_message` = bit 0 of byte 1, `add_path` = byte 2,
//! `extended_next_hop` = byte 3; family bits 1 = IPv4 unicast, 2 = IPv6
//! unicast, 4 = IPv4 multicast, 8 = IPv6 multicast). `make-seeds.sh` writes
//! seeds in that layout.

use arbitrary::Arbitrary;
use bgp_proto::{Context, Message};
use bytes::{BufMut, Bytes, BytesMut};

/// A context followed by the rest of the input.
#[derive(Arbitrary, Debug)]
pub struct CtxInput<'a> {
    /// The negotiated context to decode with.
    pub ctx: Context,
    /// Everything after the four context bytes.
    pub data: &'a [u8],
}

/// A complete message: marker, length (capped at 65535), `ty`, then `body`
/// (cut so that the length field is right).
pub fn frame(ty: u8, body: &[u8]) -> Bytes {
    let body = body.get(..body.len().min(65535 - 19)).unwrap_or_default();
    let mut m = BytesMut::with_capacity(19 + body.len());
    m.put_slice(&[0xff; 16]);
    m.put_u16(u16::try_from(19 + body.len()).unwrap_or(u16::MAX));
    m.put_u8(ty);
    m.put_slice(body);
    m.freeze()
}

/// Decodes `msg` and, on success, re-encodes the message under the same
/// context (an `EncodeError` is fine, a panic is not). On failure, builds
/// and encodes the NOTIFICATION the error calls for.
pub fn decode_and_encode(msg: &Bytes, ctx: &Context) {
    let mut out = BytesMut::new();
    match Message::decode(msg, ctx) {
        Ok(d) => {
            let _ = d.action();
            let _ = d.treat_as_withdraw();
            let _ = d.message.encode(ctx, &mut out);
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = Message::Notification(e.notification()).encode(ctx, &mut out);
        }
    }
}

pub mod config;
