//! Typed decode and encode errors, their NOTIFICATIONs, and RFC 7606 actions.
//!
//! Every [`DecodeError`] knows the NOTIFICATION that answers it
//! ([`DecodeError::notification`]), following RFC 4271 §6 for the code,
//! subcode and data. Errors inside an UPDATE's path attributes are
//! [`AttrError`]s, which also carry the RFC 7606 [`AttrAction`]: only
//! [`AttrAction::SessionReset`] makes the UPDATE undecodable; the milder
//! actions are returned beside the decoded message.

use bytes::Bytes;

use crate::iana::{AttrType, ErrorCode, subcode};
use crate::message::Notification;

/// A message that could not be decoded, with the byte offset of the fault
/// from the start of the message (the first marker octet).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (at byte {offset})")]
pub struct DecodeError {
    /// What is wrong.
    pub kind: ErrorKind,
    /// Offset of the offending field from the start of the message.
    pub offset: usize,
}

impl DecodeError {
    pub(crate) fn new(kind: ErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }

    /// The NOTIFICATION that a speaker sends for this error (RFC 4271 §6).
    pub fn notification(&self) -> Notification {
        self.kind.notification()
    }
}

/// What is wrong with a message. Each variant names the RFC 4271 §6 error it maps to.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The marker is not all ones (RFC 4271 §6.1: Connection Not Synchronized).
    #[error("marker is not all ones")]
    ConnectionNotSynchronized,
    /// The length field is out of range for the message type or context
    /// (RFC 4271 §6.1: Bad Message Length; data is the length field).
    #[error("bad message length {length}")]
    BadMessageLength {
        /// The erroneous length field.
        length: u16,
    },
    /// Unknown message type (RFC 4271 §6.1: Bad Message Type; data is the type).
    #[error("bad message type {message_type}")]
    BadMessageType {
        /// The erroneous type field.
        message_type: u8,
    },
    /// OPEN version other than 4 (RFC 4271 §6.2; data is the highest version we support, 4).
    #[error("unsupported BGP version {version}")]
    UnsupportedVersion {
        /// The version the peer sent.
        version: u8,
    },
    /// OPEN My Autonomous System is 0 (RFC 7607 §3; RFC 4271 §6.2 Bad Peer AS).
    #[error("bad peer AS {asn}")]
    BadPeerAs {
        /// The AS the peer sent.
        asn: u32,
    },
    /// OPEN BGP Identifier is 0 (RFC 6286 §2.2; RFC 4271 §6.2 Bad BGP Identifier).
    #[error("bad BGP identifier {id}")]
    BadBgpIdentifier {
        /// The identifier the peer sent.
        id: u32,
    },
    /// An optional parameter other than capabilities (RFC 4271 §6.2:
    /// Unsupported Optional Parameter).
    #[error("unsupported optional parameter type {param_type}")]
    UnsupportedOptionalParameter {
        /// The parameter type.
        param_type: u8,
    },
    /// Optional parameters whose lengths do not add up (RFC 9072 §3 and
    /// RFC 4271 §6.2: OPEN Message Error, subcode 0 Unspecific).
    #[error("malformed optional parameters")]
    MalformedOptionalParameters,
    /// Hold time of 1 or 2 seconds (RFC 4271 §6.2: Unacceptable Hold Time).
    #[error("unacceptable hold time {hold_time}")]
    UnacceptableHoldTime {
        /// The hold time the peer sent.
        hold_time: u16,
    },
    /// A capability we require and the peer lacks, or one we cannot accept
    /// (RFC 5492 §5: Unsupported Capability; data is the capabilities).
    #[error("unsupported capability")]
    UnsupportedCapability {
        /// The capability TLVs, as they go into the NOTIFICATION data.
        capabilities: Bytes,
    },
    /// The peer's BGP role does not fit ours (RFC 9234 §4.2: Role Mismatch).
    #[error("BGP role mismatch")]
    RoleMismatch,
    /// Withdrawn Routes Length or Total Path Attribute Length do not fit the
    /// message, or an attribute is malformed beyond recovery (RFC 4271 §6.3:
    /// Malformed Attribute List).
    #[error("malformed attribute list")]
    MalformedAttributeList,
    /// An attribute with a well-known (non-optional) flag that we do not know
    /// (RFC 4271 §6.3; data is the attribute).
    #[error("unrecognized well-known attribute {}", attr_type(.attribute))]
    UnrecognizedWellKnownAttribute {
        /// The attribute as received: type, length and value.
        attribute: Bytes,
    },
    /// A well-known mandatory attribute is missing (RFC 4271 §6.3; data is its type code).
    #[error("missing well-known attribute {code:?}")]
    MissingWellKnownAttribute {
        /// The missing attribute's type.
        code: AttrType,
    },
    /// Attribute flags conflict with the attribute type (RFC 4271 §6.3; data is the attribute).
    #[error("attribute flags error in attribute {}", attr_type(.attribute))]
    AttributeFlagsError {
        /// The attribute as received.
        attribute: Bytes,
    },
    /// Attribute length conflicts with the attribute type (RFC 4271 §6.3; data is the attribute).
    #[error("attribute length error in attribute {}", attr_type(.attribute))]
    AttributeLengthError {
        /// The attribute as received.
        attribute: Bytes,
    },
    /// ORIGIN value other than 0, 1 or 2 (RFC 4271 §6.3; data is the attribute).
    #[error("invalid ORIGIN attribute")]
    InvalidOrigin {
        /// The attribute as received.
        attribute: Bytes,
    },
    /// NEXT_HOP syntactically incorrect (RFC 4271 §6.3; data is the attribute).
    #[error("invalid NEXT_HOP attribute")]
    InvalidNextHop {
        /// The attribute as received.
        attribute: Bytes,
    },
    /// An optional attribute whose value is malformed (RFC 4271 §6.3; data is the attribute).
    #[error("optional attribute error in attribute {}", attr_type(.attribute))]
    OptionalAttributeError {
        /// The attribute as received.
        attribute: Bytes,
    },
    /// An NLRI or withdrawn-routes field that is syntactically incorrect
    /// (RFC 4271 §6.3: Invalid Network Field).
    #[error("invalid network field")]
    InvalidNetworkField,
    /// AS_PATH syntactically incorrect (RFC 4271 §6.3: Malformed AS_PATH).
    #[error("malformed AS_PATH")]
    MalformedAsPath,
    /// A NOTIFICATION shorter than its fixed part, or a ROUTE-REFRESH of the
    /// wrong length (RFC 7313 §5: ROUTE-REFRESH Message Error, Invalid Message
    /// Length; data is the whole message).
    #[error("invalid ROUTE-REFRESH length")]
    RouteRefreshInvalidLength {
        /// The complete message.
        message: Bytes,
    },
}

fn attr_type(attribute: &Bytes) -> u8 {
    attribute.get(1).copied().unwrap_or(0)
}

impl ErrorKind {
    /// The NOTIFICATION (code, subcode, data) for this error, per RFC 4271 §6.
    pub fn notification(&self) -> Notification {
        use subcode::{header, open, update};
        let (code, sub, data) = match self {
            Self::ConnectionNotSynchronized => (
                ErrorCode::MESSAGE_HEADER,
                header::CONNECTION_NOT_SYNCHRONIZED,
                Bytes::new(),
            ),
            Self::BadMessageLength { length } => (
                ErrorCode::MESSAGE_HEADER,
                header::BAD_MESSAGE_LENGTH,
                Bytes::copy_from_slice(&length.to_be_bytes()),
            ),
            Self::BadMessageType { message_type } => (
                ErrorCode::MESSAGE_HEADER,
                header::BAD_MESSAGE_TYPE,
                Bytes::copy_from_slice(&[*message_type]),
            ),
            Self::UnsupportedVersion { .. } => (
                ErrorCode::OPEN_MESSAGE,
                open::UNSUPPORTED_VERSION,
                Bytes::from_static(&[0, 4]),
            ),
            Self::BadPeerAs { .. } => (ErrorCode::OPEN_MESSAGE, open::BAD_PEER_AS, Bytes::new()),
            Self::BadBgpIdentifier { .. } => (
                ErrorCode::OPEN_MESSAGE,
                open::BAD_BGP_IDENTIFIER,
                Bytes::new(),
            ),
            Self::UnsupportedOptionalParameter { .. } => (
                ErrorCode::OPEN_MESSAGE,
                open::UNSUPPORTED_OPTIONAL_PARAMETER,
                Bytes::new(),
            ),
            Self::MalformedOptionalParameters => {
                (ErrorCode::OPEN_MESSAGE, open::UNSPECIFIC, Bytes::new())
            }
            Self::UnacceptableHoldTime { .. } => (
                ErrorCode::OPEN_MESSAGE,
                open::UNACCEPTABLE_HOLD_TIME,
                Bytes::new(),
            ),
            Self::UnsupportedCapability { capabilities } => (
                ErrorCode::OPEN_MESSAGE,
                open::UNSUPPORTED_CAPABILITY,
                capabilities.clone(),
            ),
            Self::RoleMismatch => (ErrorCode::OPEN_MESSAGE, open::ROLE_MISMATCH, Bytes::new()),
            Self::MalformedAttributeList => (
                ErrorCode::UPDATE_MESSAGE,
                update::MALFORMED_ATTRIBUTE_LIST,
                Bytes::new(),
            ),
            Self::UnrecognizedWellKnownAttribute { attribute } => (
                ErrorCode::UPDATE_MESSAGE,
                update::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                attribute.clone(),
            ),
            Self::MissingWellKnownAttribute { code } => (
                ErrorCode::UPDATE_MESSAGE,
                update::MISSING_WELL_KNOWN_ATTRIBUTE,
                Bytes::copy_from_slice(&[code.0]),
            ),
            Self::AttributeFlagsError { attribute } => (
                ErrorCode::UPDATE_MESSAGE,
                update::ATTRIBUTE_FLAGS_ERROR,
                attribute.clone(),
            ),
            Self::AttributeLengthError { attribute } => (
                ErrorCode::UPDATE_MESSAGE,
                update::ATTRIBUTE_LENGTH_ERROR,
                attribute.clone(),
            ),
            Self::InvalidOrigin { attribute } => (
                ErrorCode::UPDATE_MESSAGE,
                update::INVALID_ORIGIN_ATTRIBUTE,
                attribute.clone(),
            ),
            Self::InvalidNextHop { attribute } => (
                ErrorCode::UPDATE_MESSAGE,
                update::INVALID_NEXT_HOP_ATTRIBUTE,
                attribute.clone(),
            ),
            Self::OptionalAttributeError { attribute } => (
                ErrorCode::UPDATE_MESSAGE,
                update::OPTIONAL_ATTRIBUTE_ERROR,
                attribute.clone(),
            ),
            Self::InvalidNetworkField => (
                ErrorCode::UPDATE_MESSAGE,
                update::INVALID_NETWORK_FIELD,
                Bytes::new(),
            ),
            Self::MalformedAsPath => (
                ErrorCode::UPDATE_MESSAGE,
                update::MALFORMED_AS_PATH,
                Bytes::new(),
            ),
            Self::RouteRefreshInvalidLength { message } => (
                ErrorCode::ROUTE_REFRESH_MESSAGE,
                subcode::route_refresh::INVALID_MESSAGE_LENGTH,
                message.clone(),
            ),
        };
        Notification::new(code, sub, data)
    }
}

/// The RFC 7606 §2 approach for a malformed path attribute, from mildest to harshest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AttrAction {
    /// Drop the attribute and keep the route (RFC 7606 §2 "attribute discard").
    Discard,
    /// Treat every route in the UPDATE as withdrawn (RFC 7606 §2 "treat-as-withdraw").
    TreatAsWithdraw,
    /// Disable the address family of the malformed MP attribute (RFC 7606 §2 "AFI/SAFI disable").
    AfiSafiDisable,
    /// Reset the session with the NOTIFICATION of [`AttrError::kind`] (RFC 7606 §2 "session reset").
    SessionReset,
}

/// A malformed path attribute, with the RFC 7606 action it calls for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (at byte {offset}): {action:?}")]
pub struct AttrError {
    /// The attribute's type code.
    pub code: AttrType,
    /// What is wrong, as it would be reported in a NOTIFICATION.
    pub kind: ErrorKind,
    /// What RFC 7606 says to do about it.
    pub action: AttrAction,
    /// Offset of the attribute from the start of the message.
    pub offset: usize,
    /// The address family concerned, for [`AttrAction::AfiSafiDisable`].
    pub family: Option<crate::Family>,
}

/// Why a message could not be encoded.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The message would exceed the context's maximum length (RFC 4271 §4.1, RFC 8654).
    #[error("message of {len} octets exceeds the maximum of {max}")]
    TooLong {
        /// The length the message would have had.
        len: usize,
        /// The maximum the context allows.
        max: usize,
    },
    /// A field value does not fit its wire width.
    #[error("{field} value does not fit its wire encoding")]
    FieldOverflow {
        /// The field that overflowed.
        field: &'static str,
    },
    /// A single item (one prefix with its attributes) can never fit one message.
    #[error("a single route does not fit in one message")]
    RouteTooLarge,
    /// An IPv6 next hop for IPv4 routes, to a peer that did not advertise the
    /// Extended Next Hop Encoding capability for the family: RFC 8950 §4 lets
    /// a speaker send it only after the peer did.
    #[error(
        "an IPv6 next hop for AFI {} SAFI {} needs the peer's extended next hop capability (RFC 8950 §4)",
        family.afi.0,
        family.safi.0
    )]
    ExtendedNextHopNotNegotiated {
        /// The family of the routes.
        family: crate::Family,
    },
    /// A next hop whose address family cannot carry the routes: a 4-octet
    /// IPv4 next hop for IPv6 routes (RFC 4760 §3 and RFC 2545 §3 want an
    /// IPv6 address there, for example the IPv4-mapped one).
    #[error("a {len}-octet next hop cannot carry routes of AFI {} SAFI {}", family.afi.0, family.safi.0)]
    NextHopFamily {
        /// The family of the routes.
        family: crate::Family,
        /// Octets in the next hop that was given.
        len: usize,
    },
}
