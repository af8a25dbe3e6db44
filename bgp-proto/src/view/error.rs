//! What an [`super::UpdateView`] iterator found wrong, and where.

use crate::error::{DecodeError, ErrorKind};

/// A malformed entry met while walking an [`super::UpdateView`]: small and
/// `Copy`, so that the walk's items stay in registers.
/// [`super::UpdateView::decode_error`] turns it into a [`DecodeError`] of
/// the kind [`crate::Message::decode`] reports for the same octets, which
/// knows its NOTIFICATION (RFC 4271 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (at byte {offset})")]
pub struct ViewError {
    /// What is wrong.
    pub kind: ViewErrorKind,
    /// Offset of the bad entry or attribute from the start of the message.
    pub offset: usize,
}

/// What is wrong, as one of the RFC 4271 §6.3 UPDATE errors.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ViewErrorKind {
    /// A prefix longer than its address width, or one that runs past the end
    /// of its field: Invalid Network Field.
    #[error("invalid network field")]
    InvalidNetworkField,
    /// An attribute header or value that runs past the end of the path
    /// attribute field: Malformed Attribute List (RFC 7606 §4 allows
    /// treat-as-withdraw).
    #[error("malformed attribute list")]
    MalformedAttributeList,
    /// An MP_REACH_NLRI or MP_UNREACH_NLRI too short to hold its AFI and
    /// SAFI: Attribute Length Error, session reset (RFC 7606 §7.11).
    #[error("MP_REACH_NLRI or MP_UNREACH_NLRI too short for its AFI/SAFI")]
    AttributeLength,
    /// An MP_REACH_NLRI too short for the next hop it announces: Optional
    /// Attribute Error, AFI/SAFI disable (RFC 7606 §7.11).
    #[error("MP_REACH_NLRI too short for its next hop")]
    NextHopLength,
}

impl ViewError {
    pub(crate) fn new(kind: ViewErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }

    /// [`ViewError::new`] out of line, for the iterators' error paths: a
    /// cold call that takes no `&mut self`, so that an iterator's state can
    /// stay in registers.
    #[cold]
    #[inline(never)]
    pub(super) fn cold(kind: ViewErrorKind, offset: usize) -> Self {
        Self::new(kind, offset)
    }

    /// The full error for `msg`, the message the view was made from. For
    /// the attribute errors the NOTIFICATION data is the attribute, copied
    /// from `msg` (RFC 4271 §6.3).
    pub(crate) fn into_decode_error(self, msg: &[u8]) -> DecodeError {
        let attribute = || {
            let rest = msg.get(self.offset..).unwrap_or_default();
            bytes::Bytes::copy_from_slice(super::attributes::first_whole(rest).unwrap_or(rest))
        };
        let kind = match self.kind {
            ViewErrorKind::InvalidNetworkField => ErrorKind::InvalidNetworkField,
            ViewErrorKind::MalformedAttributeList => ErrorKind::MalformedAttributeList,
            ViewErrorKind::AttributeLength => ErrorKind::AttributeLengthError {
                attribute: attribute(),
            },
            ViewErrorKind::NextHopLength => ErrorKind::OptionalAttributeError {
                attribute: attribute(),
            },
        };
        DecodeError::new(kind, self.offset)
    }
}
