//! Crate-private nom helpers. nom never appears in the public API: parsers
//! here fail with [`Short`] and callers turn that into a typed
//! [`crate::DecodeError`] with an offset at the message boundary.

use nom::IResult;

/// The input ended before the field did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Short;

impl<I> nom::error::ParseError<I> for Short {
    fn from_error_kind(_: I, _: nom::error::ErrorKind) -> Self {
        Self
    }
    fn append(_: I, _: nom::error::ErrorKind, _: Self) -> Self {
        Self
    }
}

pub(crate) type PResult<'a, T> = IResult<&'a [u8], T, Short>;

pub(crate) fn u8(i: &[u8]) -> PResult<'_, u8> {
    nom::number::complete::be_u8(i)
}

pub(crate) fn u16(i: &[u8]) -> PResult<'_, u16> {
    nom::number::complete::be_u16(i)
}

pub(crate) fn u32(i: &[u8]) -> PResult<'_, u32> {
    nom::number::complete::be_u32(i)
}

pub(crate) fn take(n: usize) -> impl Fn(&[u8]) -> PResult<'_, &[u8]> {
    move |i: &[u8]| nom::bytes::complete::take(n)(i)
}

/// Offset of `part` inside `base`, for error reporting. `part` must be a
/// sub-slice of `base`; otherwise the result is meaningless but never panics.
pub(crate) fn offset(base: &[u8], part: &[u8]) -> usize {
    (part.as_ptr() as usize).saturating_sub(base.as_ptr() as usize)
}

/// A sub-slice of `buf` as shared `Bytes`, without copying when `buf` is the
/// backing storage; copies when `part` lies outside `buf` (never expected).
pub(crate) fn share(buf: &bytes::Bytes, part: &[u8]) -> bytes::Bytes {
    let start = offset(buf, part);
    match start.checked_add(part.len()) {
        Some(end) if end <= buf.len() && (part.as_ptr() as usize) >= (buf.as_ptr() as usize) => {
            buf.slice(start..end)
        }
        _ => bytes::Bytes::copy_from_slice(part),
    }
}
