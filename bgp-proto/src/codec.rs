//! tokio-util framing: a `Decoder`/`Encoder` for BGP messages.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::context::Context;
use crate::error::{DecodeError, EncodeError};
use crate::header;
use crate::message::{Decoded, Message};

/// Frames and decodes BGP messages on a byte stream.
///
/// The maximum message length comes from the context: 4096 until the OPEN
/// exchange negotiates extended messages. Switch the context with
/// [`BgpCodec::set_context`] once both OPENs are known.
#[derive(Clone, Debug, Default)]
pub struct BgpCodec {
    ctx: Context,
}

/// A framing error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The underlying stream failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A message could not be decoded; send its NOTIFICATION and close.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A message could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

impl BgpCodec {
    /// A codec with the given context.
    pub fn new(ctx: Context) -> Self {
        Self { ctx }
    }

    /// The current context.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Replaces the context, e.g. after the OPEN exchange.
    pub fn set_context(&mut self, ctx: Context) {
        self.ctx = ctx;
    }
}

impl Decoder for BgpCodec {
    type Item = Decoded;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Decoded>, CodecError> {
        let Some(len) = header::message_len(src, self.ctx.max_message_len())? else {
            src.reserve(header::HEADER_LEN);
            return Ok(None);
        };
        if src.len() < len {
            src.reserve(len - src.len());
            return Ok(None);
        }
        let frame = src.split_to(len).freeze();
        Ok(Some(Message::decode(&frame, &self.ctx)?))
    }
}

impl Encoder<&Message> for BgpCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(item.encode(&self.ctx, dst)?)
    }
}

impl Encoder<Message> for BgpCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(item.encode(&self.ctx, dst)?)
    }
}
