//! Real traffic: every BGP message in the MRT archives of `../shared/data/mrt/`
//! (RFC 6396 BGP4MP records from RIPE RIS and RouteViews) decodes without a
//! session-reset error and re-encodes byte-exact. Skipped, loudly, when the
//! folder is absent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

use std::io::Read;
use std::path::PathBuf;

use bgp_proto::{Context, Message};
use bytes::{Bytes, BytesMut};

fn mrt_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/mrt")
}

/// (four_octet_as, message) for every BGP4MP message record.
fn messages(raw: &[u8]) -> Vec<(bool, Bytes)> {
    let mut out = Vec::new();
    let mut rest = raw;
    while rest.len() >= 12 {
        let ty = u16::from_be_bytes([rest[4], rest[5]]);
        let sub = u16::from_be_bytes([rest[6], rest[7]]);
        let len = u32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]) as usize;
        let Some(body) = rest.get(12..12 + len) else {
            break;
        };
        rest = &rest[12 + len..];
        let body = match ty {
            16 => body,
            17 => &body[4..],
            _ => continue,
        };
        // MESSAGE, MESSAGE_AS4, MESSAGE_LOCAL, MESSAGE_AS4_LOCAL.
        let as4 = match sub {
            1 | 6 => false,
            4 | 7 => true,
            _ => continue,
        };
        let asn = if as4 { 4 } else { 2 };
        let afi = u16::from_be_bytes([body[2 * asn + 2], body[2 * asn + 3]]);
        let ip = if afi == 2 { 16 } else { 4 };
        let msg = &body[2 * asn + 4 + 2 * ip..];
        out.push((as4, Bytes::copy_from_slice(msg)));
    }
    out
}

/// The borrowed view finds nothing wrong in a real UPDATE and yields the
/// routes of the owned decode.
fn view_agrees(msg: &[u8], ctx: &Context, u: &bgp_proto::Update) {
    let v = bgp_proto::UpdateView::new(msg, ctx).unwrap();
    v.validate()
        .unwrap_or_else(|e| panic!("view: {e} in {}", hex::encode(msg)));
    let owned = |it: bgp_proto::Prefixes<'_>| -> Vec<bgp_proto::Nlri> {
        it.map(|p| p.unwrap().to_nlri()).collect()
    };
    assert_eq!(owned(v.nlri()), u.nlri, "{}", hex::encode(msg));
    assert_eq!(owned(v.withdrawn()), u.withdrawn, "{}", hex::encode(msg));
    let reach = v.mp_reach().unwrap().and_then(|m| m.routes()).map(owned);
    assert_eq!(
        reach.unwrap_or_default(),
        u.mp_reach().map(|m| m.nlri.to_vec()).unwrap_or_default(),
        "{}",
        hex::encode(msg)
    );
    let unreach = v.mp_unreach().unwrap().and_then(|m| m.routes()).map(owned);
    assert_eq!(
        unreach.unwrap_or_default(),
        u.mp_unreach()
            .map(|m| m.withdrawn.to_vec())
            .unwrap_or_default(),
        "{}",
        hex::encode(msg)
    );
}

#[test]
fn real_updates_decode_and_reencode_exactly() {
    let dir = mrt_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("SKIPPED: {} not present", dir.display());
        return;
    };
    let mut total = 0usize;
    let mut soft = 0usize;
    let mut views = 0usize;
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "gz") {
            continue;
        }
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
            .read_to_end(&mut raw)
            .unwrap();
        for (as4, msg) in messages(&raw) {
            let ctx = Context {
                four_octet_as: as4,
                ..Context::default()
            };
            let decoded = Message::decode(&msg, &ctx)
                .unwrap_or_else(|e| panic!("{}: {e} in {}", path.display(), hex::encode(&msg)));
            total += 1;
            if !decoded.errors.is_empty() {
                soft += 1;
                continue;
            }
            if let Message::Update(u) = &decoded.message {
                view_agrees(&msg, &ctx, u);
                views += 1;
            }
            let mut out = BytesMut::new();
            decoded.message.encode(&ctx, &mut out).unwrap();
            assert_eq!(
                hex::encode(&out),
                hex::encode(&msg),
                "{}: re-encoding differs",
                path.display()
            );
        }
    }
    eprintln!(
        "decoded {total} real messages, {soft} with RFC 7606 soft errors; \
         {views} UPDATEs walked by the view"
    );
    assert!(
        total > 50_000,
        "expected the MRT archives to hold >50k messages, got {total}"
    );
}
