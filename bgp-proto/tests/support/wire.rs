//! Hand-built BGP wire bytes for tests: independent of the crate's encoder,
//! so tests can send exactly the (malformed) octets they mean.
//! Shared by bgp-proto's malformed-input table and bgp-session's
//! conformance suite (included with `#[path]`).

/// A message: marker, length, type, body.
pub(crate) fn msg(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![0xFF; 16];
    m.extend_from_slice(&u16::try_from(19 + body.len()).unwrap().to_be_bytes());
    m.push(ty);
    m.extend_from_slice(body);
    m
}

/// Concatenated messages (a capture, or a stream as sent) split at each
/// header's Length field; trailing octets that are not a whole message fail
/// the test.
#[allow(dead_code)] // Not every test that includes this file reads captures.
pub(crate) fn split_messages(mut rest: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while rest.len() >= 19 {
        let len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
        let (m, tail) = rest.split_at(len);
        out.push(m);
        rest = tail;
    }
    assert!(rest.is_empty(), "trailing bytes");
    out
}

/// An UPDATE: withdrawn field, attributes field, NLRI field.
pub(crate) fn update(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&u16::try_from(withdrawn.len()).unwrap().to_be_bytes());
    b.extend_from_slice(withdrawn);
    b.extend_from_slice(&u16::try_from(attrs.len()).unwrap().to_be_bytes());
    b.extend_from_slice(attrs);
    b.extend_from_slice(nlri);
    msg(2, &b)
}

/// A path attribute with a one-octet length.
pub(crate) fn attr(flags: u8, code: u8, value: &[u8]) -> Vec<u8> {
    let mut a = vec![flags, code, u8::try_from(value.len()).unwrap()];
    a.extend_from_slice(value);
    a
}

/// ORIGIN IGP.
pub(crate) const ORIGIN: &[u8] = &[0x40, 1, 1, 0];
/// NEXT_HOP 192.0.2.1.
pub(crate) const NEXT_HOP: &[u8] = &[0x40, 3, 4, 192, 0, 2, 1];
/// One NLRI: 198.51.100.0/24.
pub(crate) const NLRI: &[u8] = &[24, 198, 51, 100];

/// AS_PATH of one AS_SEQUENCE holding `asn` (4-octet).
pub(crate) fn as_path(asn: u32) -> Vec<u8> {
    let mut v = vec![2, 1];
    v.extend_from_slice(&asn.to_be_bytes());
    attr(0x40, 2, &v)
}

/// ORIGIN, AS_PATH (`asn`), NEXT_HOP, then `extra`.
pub(crate) fn with_mandatory(asn: u32, extra: &[u8]) -> Vec<u8> {
    [ORIGIN, &as_path(asn), NEXT_HOP, extra].concat()
}
