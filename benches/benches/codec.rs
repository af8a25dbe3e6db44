//! Criterion micro-benchmarks of `bgp-proto` on a few representative UPDATEs:
//! owned decode, borrowed view walk and encode.
//!
//! `cargo bench -p benches --bench codec`. The cross-crate comparison on
//! whole corpora is the `codec-bench` binary (see `docs/performance.md`).

#![allow(missing_docs)] // criterion_group! / criterion_main! generate undocumented items
#![allow(clippy::expect_used)] // fixed, known-good inputs

use std::hint::black_box;
use std::net::Ipv4Addr;

use bgp_proto::attribute::{AsPath, AttrValue, Origin};
use bgp_proto::{Context, Message, Nlri, UpdateBuilder, UpdateView};
use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The messages: (name, bytes).
fn messages() -> Vec<(&'static str, Bytes)> {
    let ctx = Context::modern();
    let v4 = benches::synthetic_ipv4(1, 1);
    let v6 = benches::synthetic_ipv6(1, 1);
    // A full 4096-octet UPDATE of /24s, as a route server sends during a table dump.
    let attrs = vec![
        AttrValue::Origin(Origin::Igp).into(),
        AttrValue::AsPath(AsPath::from_sequence([65_001, 4_200_000_001, 65_002])).into(),
        AttrValue::NextHop(Ipv4Addr::new(192, 0, 2, 1)).into(),
    ];
    let prefixes: Vec<Nlri> = (0..2000u32)
        .map(|i| {
            let net = ipnet::Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 + (i << 8)), 24)
                .expect("valid prefix");
            Nlri::new(net)
        })
        .collect();
    let full = UpdateBuilder::new(ctx)
        .announce(&attrs, &prefixes)
        .expect("encodable")
        .into_iter()
        .next()
        .expect("at least one message");
    let mut out = Vec::new();
    if let Some(m) = v4.msgs.first() {
        out.push(("ipv4_typical", m.bytes.clone()));
    }
    if let Some(m) = v6.msgs.first() {
        out.push(("ipv6_mp_reach", m.bytes.clone()));
    }
    out.push(("ipv4_full_4096", full));
    out
}

fn codec(c: &mut Criterion) {
    let ctx = Context::modern();
    for (name, msg) in messages() {
        let decoded = Message::decode(&msg, &ctx).expect("decodes").message;
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(msg.len() as u64));
        g.bench_function("decode", |b| {
            b.iter(|| Message::decode(black_box(&msg), &ctx).map(|d| black_box(d).message))
        });
        g.bench_function("view", |b| {
            b.iter(|| {
                let v = UpdateView::new(black_box(&msg), &ctx).expect("valid");
                benches::view_walk(&v)
            })
        });
        let mut out = BytesMut::with_capacity(4096);
        g.bench_function("encode", |b| {
            b.iter(|| {
                out.clear();
                black_box(&decoded).encode(&ctx, &mut out).is_ok()
            })
        });
        g.finish();
    }
}

criterion_group!(benches, codec);
criterion_main!(benches);
