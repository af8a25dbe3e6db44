//! # bgp-proto
//!
//! A complete BGP-4 wire codec: every message, capability and path attribute
//! a modern speaker meets, decoded into typed values and encoded back
//! byte-exact. It does no I/O and never panics on input.
//!
//! ```text
//!  bytes from a socket ──► BgpCodec (framing, max length) ──► Message::decode(ctx)
//!                                                               │
//!                          Decoded { message, errors (RFC 7606) } ◄┘
//!  Message / UpdateBuilder ──► Message::encode(ctx) ──► bytes to a socket
//! ```
//!
//! - [`Context`] carries the negotiated facts that change the wire format
//!   (4-octet AS, ADD-PATH, extended message); [`Context::negotiate`]
//!   computes it from the two OPENs.
//! - Errors are typed ([`DecodeError`], [`AttrError`]) with byte offsets, and
//!   map to the exact NOTIFICATION of RFC 4271 §6 ([`DecodeError::notification`]).
//!   Malformed attributes get the RFC 7606 action ([`AttrAction`]); a message
//!   with only soft errors still decodes and the errors come with it.
//! - [`UpdateView`] walks a received UPDATE without allocating, checking each
//!   prefix and attribute as it reads it.
//! - [`UpdateBuilder`] packs many prefixes into as few UPDATEs as the
//!   negotiated maximum allows.
//!
//! ```
//! use bgp_proto::{Context, Message, Nlri, UpdateBuilder, attribute::{AttrValue, AsPath, Origin}};
//! use std::net::Ipv4Addr;
//!
//! let ctx = Context::modern();
//! let mut builder = UpdateBuilder::new(ctx);
//! let attrs = vec![
//!     AttrValue::Origin(Origin::Igp).into(),
//!     AttrValue::AsPath(AsPath::from_sequence([65001])).into(),
//!     AttrValue::NextHop(Ipv4Addr::new(192, 0, 2, 1)).into(),
//! ];
//! let prefixes: Vec<Nlri> = (0..1000u32)
//!     .map(|i| Nlri::new(ipnet::Ipv4Net::new(Ipv4Addr::from(0x6440_0000 + i), 32).unwrap()))
//!     .collect();
//! let messages = builder.announce(&attrs, &prefixes).unwrap();
//! assert_eq!(messages.len(), 2); // 1000 × 5 octets do not fit one 4096-octet UPDATE
//!
//! let decoded = Message::decode(&messages[0], &ctx).unwrap();
//! let Message::Update(update) = decoded.message else { panic!() };
//! assert_eq!(update.as_path().unwrap().to_string(), "65001");
//! assert!(decoded.errors.is_empty());
//! ```

pub mod attribute;
pub mod capability;
#[cfg(feature = "codec")]
mod codec;
mod context;
mod error;
pub mod header;
pub mod iana;
mod message;
mod nlri;
mod raw;
mod update_builder;
mod view;
mod wire;

#[cfg(feature = "codec")]
pub use codec::{BgpCodec, CodecError};
pub use context::{
    Context, Family, FamilySet, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN, Negotiated,
};
pub use error::{AttrAction, AttrError, DecodeError, EncodeError, ErrorKind};
pub use message::{
    Decoded, MAX_SHUTDOWN_MESSAGE_LEN, Message, Notification, Open, RouteRefresh, Update,
};
pub use nlri::{Nlri, NlriIter, NlriList, NlriListIter};
pub use update_builder::UpdateBuilder;
pub use view::{
    MpNlri, Prefixes, RawAttribute, RawAttributes, RawPrefix, UpdateView, ViewError, ViewErrorKind,
};
