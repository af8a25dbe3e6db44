//! The borrowed `UpdateView`: what it yields agrees with `Message::decode`,
//! and every malformed entry is yielded as an error of the RFC 4271 §6.3
//! kind that `Message::decode` reports for the same octets. Messages are
//! built byte by byte, not with the crate's encoder.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

use bgp_proto::ErrorKind;
use bgp_proto::{Context, Message, Nlri, Prefixes, UpdateView, ViewError, ViewErrorKind};

#[path = "support/wire.rs"]
mod wire;
use wire::{ORIGIN, attr, update};

/// ORIGIN, AS_PATH (65001), NEXT_HOP, then `extra`.
fn attrs(extra: &[u8]) -> Vec<u8> {
    wire::with_mandatory(65001, extra)
}

/// Offset of the NLRI field in an UPDATE built by [`update`].
fn nlri_at(withdrawn: &[u8], attrs: &[u8]) -> usize {
    23 + withdrawn.len() + attrs.len()
}

/// Every route of the view in the owned form, or the first error.
fn routes(it: Prefixes<'_>) -> Result<Vec<Nlri>, ViewError> {
    it.map(|p| p.map(|p| p.to_nlri())).collect()
}

/// The first error met by walking everything, with `validate`'s answer
/// checked against it.
fn first_error(v: &UpdateView<'_>) -> Option<ViewError> {
    let mut found = None;
    let mut note = |r: Result<(), ViewError>| {
        if let (None, Err(e)) = (found, r) {
            found = Some(e);
        }
    };
    note(routes(v.withdrawn()).map(drop));
    note(routes(v.nlri()).map(drop));
    for a in v.attributes() {
        match a {
            Ok(a) => match v.mp_nlri(&a) {
                Ok(mp) => {
                    if let Some(r) = mp.and_then(|m| m.routes()) {
                        note(routes(r).map(drop));
                    }
                }
                Err(e) => note(Err(e)),
            },
            Err(e) => note(Err(e)),
        }
    }
    assert_eq!(
        v.validate().err(),
        found.map(|e| v.decode_error(e)),
        "validate() and the walk disagree"
    );
    found
}

/// The error `Message::decode` reports for `msg`: the session-reset error,
/// or else the first RFC 7606 attribute error.
fn owned_error(msg: &[u8]) -> (ErrorKind, usize) {
    match Message::decode_slice(msg, &Context::modern()) {
        Err(e) => (e.kind, e.offset),
        Ok(d) => {
            let e = d
                .errors
                .first()
                .expect("Message::decode found nothing wrong");
            (e.kind.clone(), e.offset)
        }
    }
}

#[test]
fn malformed_entries_are_yielded_as_errors_of_the_owned_decodes_kind() {
    let a = attrs(&[]);
    let mp_v6 = |nh_len: u8, rest: &[u8]| {
        let mut v = vec![0, 2, 1, nh_len];
        v.extend_from_slice(rest);
        attr(0x80, 14, &v)
    };
    let nh16 = [[0x20, 0x01, 0x0d, 0xb8].as_slice(), &[0; 11], &[1], &[0]].concat();
    // (name, message, kind, offset of the bad entry or attribute)
    let mut cases: Vec<(&str, Vec<u8>, ViewErrorKind, usize)> = vec![
        (
            "NLRI prefix length 33",
            update(&[], &a, &[33, 1, 2, 3, 4, 5]),
            ViewErrorKind::InvalidNetworkField,
            nlri_at(&[], &a),
        ),
        (
            "NLRI /24 with two octets",
            update(&[], &a, &[24, 198, 51]),
            ViewErrorKind::InvalidNetworkField,
            nlri_at(&[], &a),
        ),
        (
            "NLRI /24, then a /17 with one octet",
            update(&[], &a, &[24, 198, 51, 100, 17, 10]),
            ViewErrorKind::InvalidNetworkField,
            nlri_at(&[], &a) + 4,
        ),
        (
            "withdrawn /25 with three octets",
            update(&[25, 10, 0, 0], &a, &[]),
            ViewErrorKind::InvalidNetworkField,
            21,
        ),
        (
            "attribute value past the field",
            update(&[], &[ORIGIN, &[0x40, 2, 200, 1, 2]].concat(), &[]),
            ViewErrorKind::MalformedAttributeList,
            23 + ORIGIN.len(),
        ),
        (
            "extended-length attribute header cut short",
            update(&[], &[ORIGIN, &[0x50, 2, 0]].concat(), &[]),
            ViewErrorKind::MalformedAttributeList,
            23 + ORIGIN.len(),
        ),
        (
            "MP_REACH_NLRI without its SAFI",
            update(&[], &[ORIGIN, &attr(0x80, 14, &[0, 2])].concat(), &[]),
            ViewErrorKind::AttributeLength,
            23 + ORIGIN.len(),
        ),
        (
            "MP_UNREACH_NLRI without its SAFI",
            update(&[], &attr(0x80, 15, &[0, 2]), &[]),
            ViewErrorKind::AttributeLength,
            23,
        ),
        (
            "MP_REACH_NLRI next hop longer than the attribute",
            update(&[], &attrs(&mp_v6(16, &[0x20, 1, 0xd, 0xb8])), &[]),
            ViewErrorKind::NextHopLength,
            23 + a.len(),
        ),
    ];
    let bad_v6_prefix = mp_v6(16, &[nh16.as_slice(), &[129, 0x20]].concat());
    cases.push((
        "MP_REACH_NLRI IPv6 prefix length 129",
        update(&[], &attrs(&bad_v6_prefix), &[]),
        ViewErrorKind::InvalidNetworkField,
        23 + a.len() + 3 + 4 + 16 + 1,
    ));
    for (name, msg, kind, offset) in cases {
        let ctx = Context::modern();
        let v = UpdateView::new(&msg, &ctx).unwrap_or_else(|e| panic!("{name}: {e}"));
        let e = first_error(&v).unwrap_or_else(|| panic!("{name}: the view found nothing wrong"));
        assert_eq!((e.kind, e.offset), (kind, offset), "{name}");
        // The same RFC 4271 §6.3 error, and so the same NOTIFICATION, as
        // the owned decode. For prefixes inside MP_REACH_NLRI the owned
        // decode points at the attribute and the view at the entry.
        let full = v.decode_error(e);
        let (owned_kind, owned_offset) = owned_error(&msg);
        assert_eq!(full.kind, owned_kind, "{name}");
        assert_eq!(
            full.notification(),
            owned_kind.notification(),
            "{name}: NOTIFICATION"
        );
        if !name.starts_with("MP_REACH_NLRI IPv6") {
            assert_eq!(full.offset, owned_offset, "{name}: offset");
        }
    }
}

#[test]
fn an_iterator_ends_after_its_error() {
    let a = attrs(&[]);
    let msg = update(&[], &a, &[wire::NLRI, &[40, 1]].concat());
    let ctx = Context::modern();
    let v = UpdateView::new(&msg, &ctx).unwrap();
    let mut it = v.nlri();
    assert_eq!(
        it.next().unwrap().unwrap().to_nlri().to_string(),
        "198.51.100.0/24"
    );
    assert_eq!(
        it.next().unwrap().unwrap_err().kind,
        ViewErrorKind::InvalidNetworkField
    );
    assert!(it.next().is_none());
    let bad_attrs = update(&[], &[ORIGIN, &[0x40, 2]].concat(), &[]);
    let v = UpdateView::new(&bad_attrs, &ctx).unwrap();
    let mut it = v.attributes();
    assert_eq!(it.next().unwrap().unwrap().code.0, 1);
    assert!(it.next().unwrap().is_err());
    assert!(it.next().is_none());
}

#[test]
fn new_rejects_only_what_locates_the_fields() {
    let ctx = Context::modern();
    let a = attrs(&[]);
    // A withdrawn length past the end, and an attribute length past the end.
    let mut m = update(&[], &a, &[]);
    m[19..21].copy_from_slice(&500u16.to_be_bytes());
    let e = UpdateView::new(&m, &ctx).unwrap_err();
    assert_eq!((e.kind, e.offset), (ErrorKind::MalformedAttributeList, 19));
    let mut m = update(&[], &a, &[]);
    m[21..23].copy_from_slice(&500u16.to_be_bytes());
    let e = UpdateView::new(&m, &ctx).unwrap_err();
    assert_eq!((e.kind, e.offset), (ErrorKind::MalformedAttributeList, 21));
    // Not an UPDATE, and a header length that is not the message's.
    let e = UpdateView::new(&wire::msg(4, &[]), &ctx).unwrap_err();
    assert!(matches!(
        e.kind,
        ErrorKind::BadMessageType { message_type: 4 }
    ));
    let mut m = update(&[], &a, &[]);
    m.push(0);
    let e = UpdateView::new(&m, &ctx).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::BadMessageLength { .. }));
    // A malformed prefix is not `new`'s business: it is met while walking.
    let m = update(&[], &a, &[33, 1, 2, 3, 4, 5]);
    assert!(UpdateView::new(&m, &ctx).is_ok());
}

#[test]
fn every_prefix_shape_walks_as_the_owned_decode_reads_it() {
    // /24 (the constant-stride case) at the very end of the field, /17, /16,
    // /25, /32, /0 and /8, withdrawn and announced.
    let nlri = [
        &[17, 10, 128, 0][..],
        &[16, 172, 16],
        &[25, 192, 0, 2, 128],
        &[32, 203, 0, 113, 7],
        &[0],
        &[8, 10],
        &[24, 198, 51, 100],
    ]
    .concat();
    let withdrawn = [24u8, 192, 0, 2, 22, 100, 64, 0].to_vec();
    let v6 = [
        &[48u8, 0x20, 0x01, 0x0d, 0xb8, 0, 1][..],
        &[64, 0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 3],
        &[0],
    ]
    .concat();
    let mut mp = vec![0, 2, 1, 16, 0x20, 1, 0xd, 0xb8];
    mp.extend_from_slice(&[0; 11]);
    mp.extend_from_slice(&[1, 0]);
    mp.extend_from_slice(&v6);
    let unreach = [&[0u8, 2, 1][..], &[56, 0x20, 0x01, 0x0d, 0xb8, 0, 9, 1]].concat();
    let a = attrs(&[attr(0x80, 14, &mp), attr(0x80, 15, &unreach)].concat());
    let msg = update(&withdrawn, &a, &nlri);
    let ctx = Context::modern();
    let d = Message::decode_slice(&msg, &ctx).unwrap();
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let Message::Update(u) = d.message else {
        panic!("not an UPDATE")
    };
    let v = UpdateView::new(&msg, &ctx).unwrap();
    v.validate().unwrap();
    assert_eq!(routes(v.nlri()).unwrap(), u.nlri);
    assert_eq!(routes(v.withdrawn()).unwrap(), u.withdrawn);
    let reach = v.mp_reach().unwrap().unwrap();
    assert_eq!(reach.next_hop.len(), 16);
    assert_eq!(
        routes(reach.routes().unwrap()).unwrap(),
        u.mp_reach().unwrap().nlri.to_vec()
    );
    let unreach = v.mp_unreach().unwrap().unwrap();
    assert!(unreach.next_hop.is_empty());
    assert_eq!(
        routes(unreach.routes().unwrap()).unwrap(),
        u.mp_unreach().unwrap().withdrawn.to_vec()
    );
    assert_eq!(u.nlri.len(), 7);
    assert_eq!(v.attributes().count(), u.attributes.len());
}

#[test]
fn add_path_identifiers_and_unparsed_families() {
    let mut ctx = Context::modern();
    ctx.add_path.insert(bgp_proto::Family::IPV4_UNICAST);
    let nlri = [0u8, 0, 0, 7, 32, 100, 64, 0, 1];
    // An L2VPN EVPN (AFI 25, SAFI 70) MP_REACH_NLRI: kept as octets.
    let evpn = attr(0x80, 14, &[0, 25, 70, 4, 192, 0, 2, 1, 0, 2, 3, 9, 9, 9]);
    let msg = update(&[], &attrs(&evpn), &nlri);
    let v = UpdateView::new(&msg, &ctx).unwrap();
    let got = routes(v.nlri()).unwrap();
    assert_eq!(got[0].to_string(), "100.64.0.1/32#7");
    let mp = v.mp_reach().unwrap().unwrap();
    assert!(mp.routes().is_none());
    assert_eq!(mp.field, &[2, 3, 9, 9, 9]);
    // Without ADD-PATH the same octets are a /0 and then a bad length.
    let v = UpdateView::new(&msg, &Context::modern()).unwrap();
    assert!(routes(v.nlri()).is_err());
}
