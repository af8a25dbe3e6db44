//! The 19-octet message header (RFC 4271 §4.1) and framing checks.

use crate::error::{DecodeError, ErrorKind};

/// The all-ones marker that starts every message.
pub const MARKER: [u8; 16] = [0xFF; 16];
/// Length of the message header.
pub const HEADER_LEN: usize = 19;

/// Reads the header at the start of `buf` and returns the whole message's
/// length, or `Ok(None)` when fewer than 19 octets are buffered.
///
/// Errors are the RFC 4271 §6.1 header errors: a marker that is not all ones,
/// or a length below 19 or above `max_len` (4096, or 65535 with RFC 8654).
#[inline]
pub fn message_len(buf: &[u8], max_len: usize) -> Result<Option<usize>, DecodeError> {
    let Some(hdr) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let (marker, rest) = hdr.split_at(16);
    if marker != MARKER {
        return Err(DecodeError::new(ErrorKind::ConnectionNotSynchronized, 0));
    }
    let length = match rest {
        [a, b, _] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    };
    let len = usize::from(length);
    if len < HEADER_LEN || len > max_len {
        return Err(DecodeError::new(ErrorKind::BadMessageLength { length }, 16));
    }
    Ok(Some(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_checks() {
        let mut m = [0xFFu8; 19];
        m[16] = 0;
        m[17] = 19;
        m[18] = 4;
        assert_eq!(message_len(&m, 4096), Ok(Some(19)));
        assert_eq!(message_len(&m[..18], 4096), Ok(None));
        m[17] = 18;
        assert_eq!(
            message_len(&m, 4096).unwrap_err().kind,
            ErrorKind::BadMessageLength { length: 18 }
        );
        m[17] = 19;
        m[3] = 0;
        assert_eq!(
            message_len(&m, 4096).unwrap_err().kind,
            ErrorKind::ConnectionNotSynchronized
        );
    }
}
