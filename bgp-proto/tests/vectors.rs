//! Golden vectors from real traffic (see `tests/vectors/README.md`): raw
//! messages captured between BIRD, FRR, GoBGP and ExaBGP, with the decode
//! that tshark's own BGP dissector gave. Every message must decode to what
//! tshark saw and re-encode to the same bytes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

#[path = "../examples/bgpdecode/json.rs"]
mod json;
#[path = "support/wire.rs"]
#[allow(dead_code)] // Shared builders; this test uses the splitter only.
mod wire;

use std::path::PathBuf;

use bgp_proto::{Context, Family, Message};
use bytes::{Bytes, BytesMut};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// Checks that every key of `expected` is in `actual` with a matching value.
fn subset(expected: &Value, actual: &Value, path: &str) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, v) in e {
                let got = a.get(k).ok_or_else(|| format!("{path}.{k}: missing"))?;
                subset(v, got, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!(
                    "{path}: expected {} items, got {}: {actual}",
                    e.len(),
                    a.len()
                ));
            }
            for (i, (x, y)) in e.iter().zip(a).enumerate() {
                subset(x, y, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ if expected == actual => Ok(()),
        _ => Err(format!("{path}: expected {expected}, got {actual}")),
    }
}

#[test]
fn golden_vectors_decode_as_tshark_saw_them_and_reencode_exactly() {
    let manifest: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir().join("manifest.json")).unwrap())
            .unwrap();
    assert!(!manifest.is_empty());
    let mut checked = 0;
    for entry in &manifest {
        let file = entry["file"].as_str().unwrap();
        let mut ctx = Context {
            four_octet_as: entry["four_octet_as"].as_bool().unwrap(),
            extended_message: entry["extended_message"].as_bool().unwrap(),
            ..Context::default()
        };
        for f in entry["add_path"].as_array().unwrap() {
            ctx.add_path
                .insert(Family::from_name(f.as_str().unwrap()).unwrap());
        }
        let raw = Bytes::from(std::fs::read(dir().join(file)).unwrap());
        let expected: Vec<Value> =
            std::fs::read_to_string(dir().join(entry["expected"].as_str().unwrap()))
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
        let messages: Vec<Bytes> = wire::split_messages(&raw)
            .into_iter()
            .map(|m| raw.slice_ref(m))
            .collect();
        assert_eq!(messages.len(), expected.len(), "{file}: message count");
        for (i, (msg, exp)) in messages.iter().zip(&expected).enumerate() {
            let decoded = Message::decode(msg, &ctx)
                .unwrap_or_else(|e| panic!("{file} #{i}: {e}: {}", hex::encode(msg)));
            assert!(
                decoded.errors.is_empty(),
                "{file} #{i}: {:?}",
                decoded.errors
            );
            let got = json::message(&decoded, msg.len());
            if let Err(e) = subset(exp, &got, "") {
                panic!("{file} #{i}: {e}\n  expected {exp}\n  got      {got}");
            }
            // The borrowed view sees exactly the owned decode's routes.
            if let Message::Update(u) = &decoded.message {
                let view = bgp_proto::UpdateView::new(msg, &ctx).unwrap();
                view.validate()
                    .unwrap_or_else(|e| panic!("{file} #{i}: view: {e}"));
                let owned = |it: bgp_proto::Prefixes<'_>| -> Vec<bgp_proto::Nlri> {
                    it.map(|p| p.unwrap().to_nlri()).collect()
                };
                assert_eq!(owned(view.nlri()), u.nlri, "{file} #{i}: view nlri");
                assert_eq!(
                    owned(view.withdrawn()),
                    u.withdrawn,
                    "{file} #{i}: view withdrawn"
                );
                let mp = view
                    .mp_reach()
                    .unwrap()
                    .map(|m| (m.family, m.routes().map(owned).unwrap_or_default()));
                assert_eq!(
                    mp,
                    u.mp_reach().map(|m| (m.family, m.nlri.to_vec())),
                    "{file} #{i}: view mp_reach"
                );
                let mpu = view
                    .mp_unreach()
                    .unwrap()
                    .map(|m| (m.family, m.routes().map(owned).unwrap_or_default()));
                assert_eq!(
                    mpu,
                    u.mp_unreach().map(|m| (m.family, m.withdrawn.to_vec())),
                    "{file} #{i}: view mp_unreach"
                );
                assert_eq!(
                    view.attributes().count(),
                    u.attributes.len(),
                    "{file} #{i}: view attributes"
                );
            }
            let mut out = BytesMut::new();
            decoded.message.encode(&ctx, &mut out).unwrap();
            assert_eq!(
                hex::encode(&out),
                hex::encode(msg),
                "{file} #{i}: re-encoding differs"
            );
            checked += 1;
        }
    }
    eprintln!("checked {checked} captured messages");
}
