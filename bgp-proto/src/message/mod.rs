//! BGP messages: decode and encode dispatch over the five message types.

mod notification;
mod open;
mod route_refresh;
mod update;

use bytes::{BufMut, Bytes, BytesMut};

pub use notification::{MAX_SHUTDOWN_MESSAGE_LEN, Notification};
pub use open::Open;
pub use route_refresh::RouteRefresh;
pub use update::Update;

use crate::context::{Context, MAX_MESSAGE_LEN};
use crate::error::{AttrAction, AttrError, DecodeError, EncodeError, ErrorKind};
use crate::header::{HEADER_LEN, MARKER};
use crate::iana::MessageType;

/// A BGP message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// OPEN (RFC 4271 §4.2).
    Open(Open),
    /// UPDATE (RFC 4271 §4.3).
    Update(Update),
    /// NOTIFICATION (RFC 4271 §4.5).
    Notification(Notification),
    /// KEEPALIVE (RFC 4271 §4.4).
    Keepalive,
    /// ROUTE-REFRESH (RFC 2918, RFC 7313).
    RouteRefresh(RouteRefresh),
}

/// A decoded message and the RFC 7606 soft errors found in it.
///
/// `errors` is empty for a clean message. When it is not, the strongest
/// [`AttrAction`] ([`Decoded::action`]) says what the receiver must do; a
/// message needing a session reset is never `Decoded` but a [`DecodeError`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The message. Attributes that were discarded are absent from it.
    pub message: Message,
    /// Malformed attributes that were discarded or call for treat-as-withdraw
    /// or AFI/SAFI disable.
    pub errors: Vec<AttrError>,
}

impl Decoded {
    /// The strongest action the errors call for (RFC 7606 §3 h).
    pub fn action(&self) -> Option<AttrAction> {
        self.errors.iter().map(|e| e.action).max()
    }

    /// Whether every route in the UPDATE must be treated as withdrawn (RFC 7606 §2).
    pub fn treat_as_withdraw(&self) -> bool {
        self.errors
            .iter()
            .any(|e| e.action == AttrAction::TreatAsWithdraw)
    }
}

impl Message {
    /// The message type.
    pub fn message_type(&self) -> MessageType {
        match self {
            Self::Open(_) => MessageType::OPEN,
            Self::Update(_) => MessageType::UPDATE,
            Self::Notification(_) => MessageType::NOTIFICATION,
            Self::Keepalive => MessageType::KEEPALIVE,
            Self::RouteRefresh(_) => MessageType::ROUTE_REFRESH,
        }
    }

    /// Decodes one complete message (header included) from shared bytes.
    /// Sub-slices of `msg` are shared, not copied, so decoding from the
    /// framing codec's `Bytes` costs one allocation per UPDATE (the attribute
    /// vector), two when it carries MP_REACH_NLRI or MP_UNREACH_NLRI.
    ///
    /// The length field must equal `msg.len()` and respect the context's
    /// maximum; OPEN and KEEPALIVE never exceed 4096 octets (RFC 8654 §4).
    pub fn decode(msg: &Bytes, ctx: &Context) -> Result<Decoded, DecodeError> {
        let len = crate::header::message_len(msg, ctx.max_message_len())?.ok_or(
            DecodeError::new(ErrorKind::BadMessageLength { length: 0 }, 16),
        )?;
        let length = u16::try_from(len).unwrap_or(u16::MAX);
        let bad_len = || DecodeError::new(ErrorKind::BadMessageLength { length }, 16);
        if len != msg.len() {
            return Err(bad_len());
        }
        let ty = msg.get(18).copied().unwrap_or(0);
        let body = msg.get(HEADER_LEN..).unwrap_or_default();
        let errors = Vec::new();
        let message = match MessageType(ty) {
            MessageType::OPEN => {
                // RFC 4271 §6.1: OPEN is at least 29 octets; RFC 8654 §4: at most 4096.
                if !(29..=MAX_MESSAGE_LEN).contains(&len) {
                    return Err(bad_len());
                }
                Self::Open(Open::decode(msg)?)
            }
            MessageType::UPDATE => {
                if len < 23 {
                    return Err(bad_len());
                }
                return decode_update(msg, ctx);
            }
            MessageType::NOTIFICATION => {
                Self::Notification(Notification::decode(body, msg).ok_or_else(bad_len)?)
            }
            MessageType::KEEPALIVE => {
                if len != HEADER_LEN {
                    return Err(bad_len());
                }
                Self::Keepalive
            }
            MessageType::ROUTE_REFRESH => match RouteRefresh::decode(body) {
                Some(rr) => Self::RouteRefresh(rr),
                // RFC 7313 §5: a BoRR or EoRR whose body is not 4 octets is a
                // ROUTE-REFRESH Message Error with the whole message as data.
                None if matches!(body.get(2), Some(1 | 2)) => {
                    return Err(DecodeError::new(
                        ErrorKind::RouteRefreshInvalidLength {
                            message: msg.clone(),
                        },
                        16,
                    ));
                }
                None => return Err(bad_len()),
            },
            _ => {
                return Err(DecodeError::new(
                    ErrorKind::BadMessageType { message_type: ty },
                    18,
                ));
            }
        };
        Ok(Decoded { message, errors })
    }

    /// Decodes one complete message from a slice, copying it once into shared
    /// storage. Prefer [`Message::decode`] when the bytes are already `Bytes`.
    pub fn decode_slice(msg: &[u8], ctx: &Context) -> Result<Decoded, DecodeError> {
        Self::decode(&Bytes::copy_from_slice(msg), ctx)
    }

    /// The encoded length of the message under `ctx`, header included.
    pub fn encoded_len(&self, ctx: &Context) -> usize {
        HEADER_LEN
            + match self {
                Self::Open(o) => o.body_len(),
                Self::Update(u) => u.body_len(ctx),
                Self::Notification(n) => n.body_len(),
                Self::Keepalive => 0,
                Self::RouteRefresh(_) => 4,
            }
    }

    /// Appends the encoded message to `dst`.
    ///
    /// Fails, leaving `dst` unchanged, if the message exceeds the context's
    /// maximum length (4096 for OPEN and KEEPALIVE). A NOTIFICATION's data is
    /// cut to fit instead (RFC 8654 §5).
    pub fn encode(&self, ctx: &Context, dst: &mut BytesMut) -> Result<(), EncodeError> {
        let max = match self {
            Self::Open(_) | Self::Keepalive => MAX_MESSAGE_LEN,
            _ => ctx.max_message_len(),
        };
        if let Self::Notification(n) = self {
            let room = max - HEADER_LEN - 2;
            if n.data.len() > room {
                let cut = Notification::new(n.code, n.subcode, n.data.slice(..room));
                return Self::Notification(cut).encode(ctx, dst);
            }
        }
        if let Self::Update(u) = self {
            // Written first and measured after, with the length patched in:
            // sizing an UPDATE up front costs as much as writing it.
            let start = dst.len();
            dst.put_slice(&MARKER);
            dst.put_u16(0);
            dst.put_u8(MessageType::UPDATE.0);
            u.encode_body(ctx, dst);
            let len = dst.len() - start;
            if len > max {
                dst.truncate(start);
                return Err(EncodeError::TooLong { len, max });
            }
            let length = u16::try_from(len).unwrap_or(u16::MAX);
            if let Some(field) = dst.get_mut(start + 16..start + 18) {
                field.copy_from_slice(&length.to_be_bytes());
            }
            return Ok(());
        }
        let len = self.encoded_len(ctx);
        if len > max {
            return Err(EncodeError::TooLong { len, max });
        }
        dst.reserve(len);
        dst.put_slice(&MARKER);
        dst.put_u16(u16::try_from(len).unwrap_or(u16::MAX));
        dst.put_u8(self.message_type().0);
        match self {
            Self::Open(o) => o.encode_body(dst),
            Self::Update(u) => u.encode_body(ctx, dst),
            Self::Notification(n) => n.encode_body(dst),
            Self::Keepalive => {}
            Self::RouteRefresh(r) => r.encode_body(dst),
        }
        Ok(())
    }

    /// Encodes into a new buffer.
    pub fn to_bytes(&self, ctx: &Context) -> Result<Bytes, EncodeError> {
        let mut b = BytesMut::with_capacity(self.encoded_len(ctx));
        self.encode(ctx, &mut b)?;
        Ok(b.freeze())
    }
}

/// Decodes an UPDATE in place, in the value that is returned: moving a
/// finished UPDATE through return values cost more than decoding some of
/// its parts.
fn decode_update(msg: &Bytes, ctx: &Context) -> Result<Decoded, DecodeError> {
    let mut result = Ok(Decoded {
        message: Message::Update(Update::default()),
        errors: Vec::new(),
    });
    if let Ok(Decoded {
        message: Message::Update(u),
        errors,
    }) = &mut result
    {
        if let Err(e) = u.decode_into(msg, ctx, errors) {
            result = Err(e);
        }
    }
    result
}

impl From<Open> for Message {
    fn from(v: Open) -> Self {
        Self::Open(v)
    }
}
impl From<Update> for Message {
    fn from(v: Update) -> Self {
        Self::Update(v)
    }
}
impl From<Notification> for Message {
    fn from(v: Notification) -> Self {
        Self::Notification(v)
    }
}
impl From<RouteRefresh> for Message {
    fn from(v: RouteRefresh) -> Self {
        Self::RouteRefresh(v)
    }
}
