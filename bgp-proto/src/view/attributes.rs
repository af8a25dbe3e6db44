//! The path attributes of an [`super::UpdateView`], framed as they are read.

use super::error::{ViewError, ViewErrorKind};
use crate::attribute::AttrFlags;
use crate::iana::AttrType;

/// One path attribute, borrowed from the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawAttribute<'a> {
    /// Flags octet.
    pub flags: AttrFlags,
    /// Type code.
    pub code: AttrType,
    /// Value octets.
    pub value: &'a [u8],
}

impl RawAttribute<'_> {
    /// The value as a 4-octet number (MED, LOCAL_PREF, NEXT_HOP, ORIGINATOR_ID…).
    pub fn as_u32(&self) -> Option<u32> {
        <[u8; 4]>::try_from(self.value).ok().map(u32::from_be_bytes)
    }
}

/// Offset in `msg` of the flags octet of the attribute with `flags` whose
/// value is `value`, a slice of `msg`.
pub(crate) fn header_offset(msg: &[u8], flags: AttrFlags, value: &[u8]) -> usize {
    let header = if flags.extended_length() { 4 } else { 3 };
    crate::wire::offset(msg, value).saturating_sub(header)
}

/// Iterator over the attributes of an [`super::UpdateView`].
///
/// An attribute whose header or value runs past the end of the path
/// attribute field is yielded as a Malformed Attribute List error (RFC 4271
/// §6.3; RFC 7606 §4 lets the caller treat the routes as withdrawn), and the
/// iteration ends there.
#[derive(Clone, Debug)]
pub struct RawAttributes<'a> {
    rest: &'a [u8],
    /// Offset of the end of the field in the message, for error offsets.
    end: usize,
}

impl<'a> RawAttributes<'a> {
    pub(super) fn new(field: &'a [u8], end: usize) -> Self {
        Self { rest: field, end }
    }

    /// Ends the walk with a Malformed Attribute List error at the current attribute.
    #[inline]
    fn overrun(&mut self) -> Option<Result<RawAttribute<'a>, ViewError>> {
        let at = self.end - self.rest.len();
        self.rest = &[];
        Some(Err(ViewError::cold(
            ViewErrorKind::MalformedAttributeList,
            at,
        )))
    }
}

/// The octets (header and value) of the attribute at the start of `field`,
/// when it is whole.
pub(super) fn first_whole(field: &[u8]) -> Option<&[u8]> {
    let mut it = RawAttributes::new(field, field.len());
    it.next()?.ok()?;
    field.get(..field.len() - it.rest.len())
}

impl<'a> Iterator for RawAttributes<'a> {
    type Item = Result<RawAttribute<'a>, ViewError>;

    // Always inlined: the walk is only fast when the iterator's state lives
    // in the caller's registers (a refactor that made the compiler stop
    // inlining it cost 25–30 %).
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let (flags, code, len, tail) = match self.rest {
            [f, c, l, tail @ ..] if f & AttrFlags::EXTENDED_LENGTH == 0 => {
                (*f, *c, usize::from(*l), tail)
            }
            [f, c, l1, l2, tail @ ..] if f & AttrFlags::EXTENDED_LENGTH != 0 => {
                (*f, *c, usize::from(u16::from_be_bytes([*l1, *l2])), tail)
            }
            [] => return None,
            _ => return self.overrun(),
        };
        let Some((value, rest)) = tail.split_at_checked(len) else {
            return self.overrun();
        };
        self.rest = rest;
        Some(Ok(RawAttribute {
            flags: AttrFlags(flags),
            code: AttrType(code),
            value,
        }))
    }
}

impl std::iter::FusedIterator for RawAttributes<'_> {}
