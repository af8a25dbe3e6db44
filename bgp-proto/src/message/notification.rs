//! NOTIFICATION (RFC 4271 §4.5) with the shutdown communication of
//! RFC 8203 / RFC 9003 on Cease subcodes 2 and 4.

use bytes::{BufMut, Bytes, BytesMut};

use crate::iana::{ErrorCode, subcode};

/// Longest shutdown communication, in octets (RFC 9003 §2).
pub const MAX_SHUTDOWN_MESSAGE_LEN: usize = 255;

/// A NOTIFICATION message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Notification {
    /// Error code.
    pub code: ErrorCode,
    /// Error subcode.
    pub subcode: u8,
    /// Data, whose meaning depends on code and subcode.
    pub data: Bytes,
}

impl Notification {
    /// A NOTIFICATION from its parts.
    pub fn new(code: ErrorCode, subcode: u8, data: Bytes) -> Self {
        Self {
            code,
            subcode,
            data,
        }
    }

    /// A Cease with subcode 2 (Administrative Shutdown) or 4 (Administrative
    /// Reset) carrying a shutdown communication (RFC 9003 §2). The text is cut
    /// at a character boundary to fit 255 octets.
    pub fn cease_with_message(subcode: u8, message: &str) -> Self {
        let mut end = message.len().min(MAX_SHUTDOWN_MESSAGE_LEN);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let text = message.get(..end).unwrap_or_default();
        let mut data = BytesMut::with_capacity(1 + text.len());
        data.put_u8(u8::try_from(text.len()).unwrap_or(u8::MAX));
        data.put_slice(text.as_bytes());
        Self::new(ErrorCode::CEASE, subcode, data.freeze())
    }

    /// A Cease with the given subcode and no data (RFC 4486).
    pub fn cease(subcode: u8) -> Self {
        Self::new(ErrorCode::CEASE, subcode, Bytes::new())
    }

    /// The shutdown communication of a Cease/2 or Cease/4 (RFC 9003 §2), when
    /// the data holds one: a length octet followed by that many octets of UTF-8.
    /// Malformed communications give `None` (RFC 9003 §4 says to treat them as
    /// absent, not as errors).
    pub fn shutdown_message(&self) -> Option<&str> {
        if self.code != ErrorCode::CEASE
            || !matches!(
                self.subcode,
                subcode::cease::ADMINISTRATIVE_SHUTDOWN | subcode::cease::ADMINISTRATIVE_RESET
            )
        {
            return None;
        }
        let (len, rest) = self.data.split_first()?;
        let text = rest.get(..usize::from(*len))?;
        std::str::from_utf8(text).ok()
    }

    pub(crate) fn decode(body: &[u8], whole: &Bytes) -> Option<Self> {
        let (code, rest) = body.split_first()?;
        let (sub, data) = rest.split_first()?;
        Some(Self::new(
            ErrorCode(*code),
            *sub,
            crate::wire::share(whole, data),
        ))
    }

    pub(crate) fn body_len(&self) -> usize {
        2 + self.data.len()
    }

    pub(crate) fn encode_body(&self, dst: &mut BytesMut) {
        dst.put_u8(self.code.0);
        dst.put_u8(self.subcode);
        dst.put_slice(&self.data);
    }
}

impl std::fmt::Display for Notification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // "MESSAGE_HEADER subcode 1 (1/1)": the registry name, and the
        // numbers routers log (FRR and BIRD print code/subcode).
        match self.code.name() {
            Some(name) => write!(f, "{name} subcode {}", self.subcode)?,
            None => write!(f, "error code {} subcode {}", self.code.0, self.subcode)?,
        }
        write!(f, " ({}/{})", self.code.0, self.subcode)?;
        if let Some(m) = self.shutdown_message() {
            write!(f, ": {m:?}")?;
        }
        Ok(())
    }
}
