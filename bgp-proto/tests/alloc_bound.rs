//! Memory a peer can make the decoder use: for any input, the bytes
//! allocated while decoding one message stay within a small multiple of the
//! message's own length (the codec's "bounded memory for anything a peer can
//! send"). The decoder shares the input's bytes instead of copying them, so
//! what it allocates is the owned structure: one `Nlri` per prefix, one
//! `PathAttribute` per attribute, one entry per capability.
//!
//! The inputs are the golden vectors, the worst shapes a peer can build (the
//! densest prefix, attribute and capability fields there are, at 4096 and
//! at 65535 octets), and mutations of both. The counts are per thread, so
//! the test harness's own allocations do not enter them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // Test code: a panic is a test failure.

use std::path::PathBuf;

use bgp_proto::{Context, Family, FamilySet, Message, UpdateView};
use bytes::Bytes;

#[path = "support/wire.rs"]
#[allow(dead_code)] // Shared builders; this test uses three of them.
mod wire;
use wire::{msg, update};
#[global_allocator]
static GLOBAL: densa_alloc::CountingAllocator = densa_alloc::CountingAllocator::system();

/// Allowed bytes per input octet. The densest input there is, an OPEN of
/// empty capabilities, costs one 72-octet `Capability` per two octets (36
/// per octet). Prefixes are kept in their wire form, so a field of
/// one-octet /0 prefixes costs next to nothing; a repeated attribute is
/// discarded, and reported once per type.
const PER_OCTET: usize = 40;
/// Allowed bytes on top, for the fixed part of a decoded message.
const FIXED: usize = 2048;

/// Bytes requested from the allocator on this thread while `f` runs (by
/// `alloc`, and the new size of each `realloc`).
fn allocated(f: impl FnOnce()) -> usize {
    let ((), s) = densa_alloc::measure(f);
    usize::try_from(s.bytes_allocated).unwrap()
}

/// ORIGIN, an empty AS_PATH and NEXT_HOP 192.0.2.1 (RFC 4271 §5.1).
const MANDATORY: [u8; 14] = [0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4, 192, 0, 2, 1];

/// The densest inputs a peer can send in a message of at most `max` octets.
fn worst_shapes(max: usize) -> Vec<Vec<u8>> {
    let room = max - 19 - 4;
    let mut out = vec![
        // Withdrawn routes and NLRI made of one-octet /0 prefixes.
        update(&vec![0; room], &[], &[]),
        update(&[], &MANDATORY, &vec![0; room - MANDATORY.len()]),
        // ADD-PATH entries: a path identifier and a /0.
        update(
            &[],
            &MANDATORY,
            &[0, 0, 0, 1, 0].repeat((room - MANDATORY.len()) / 5),
        ),
        // Empty unknown optional transitive attributes, three octets each
        // (all but the first are repeats, discarded), and empty
        // ATOMIC_AGGREGATEs.
        update(
            &[],
            &[0xC0, 200, 0].repeat((room - 4) / 3),
            &[24, 192, 0, 2],
        ),
        update(&[], &[0x40, 6, 0].repeat(room / 3), &[]),
    ];
    // MP_REACH_NLRI and MP_UNREACH_NLRI for IPv6 full of /0 prefixes.
    let n = room - 4 - 5 - 16;
    let mut reach = vec![0x90, 14];
    reach.extend_from_slice(&u16::try_from(5 + 16 + n).unwrap().to_be_bytes());
    reach.extend_from_slice(&[0, 2, 1, 16]);
    reach.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    reach.push(0);
    reach.extend(std::iter::repeat_n(0, n));
    out.push(update(&[], &reach, &[]));
    let n = room - 4 - 3;
    let mut unreach = vec![0x90, 15];
    unreach.extend_from_slice(&u16::try_from(3 + n).unwrap().to_be_bytes());
    unreach.extend_from_slice(&[0, 2, 1]);
    unreach.extend(std::iter::repeat_n(0, n));
    out.push(update(&[], &unreach, &[]));
    out
}

/// An OPEN whose optional parameters are as many empty unknown
/// capabilities as fit (RFC 5492: code and a zero length, two octets each).
fn open_full_of_capabilities() -> Vec<u8> {
    let caps = [200u8, 0].repeat(126);
    let mut param = vec![2, u8::try_from(caps.len()).unwrap()];
    param.extend_from_slice(&caps);
    let mut body = vec![4, 0xFD, 0xE9, 0, 90, 192, 0, 2, 1];
    body.push(u8::try_from(param.len()).unwrap());
    body.extend_from_slice(&param);
    msg(1, &body)
}

/// An OPEN in the RFC 9072 extended form whose optional parameters each
/// hold one empty unknown capability (four octets a parameter), as many as
/// a 4096-octet message holds.
fn open_full_of_parameters() -> Vec<u8> {
    let params = [2u8, 0, 2, 200, 0].repeat((4096 - 19 - 13) / 5);
    let mut body = vec![4, 0xFD, 0xE9, 0, 90, 192, 0, 2, 1, 255, 255];
    body.extend_from_slice(&u16::try_from(params.len()).unwrap().to_be_bytes());
    body.extend_from_slice(&params);
    msg(1, &body)
}

/// An OPEN in the RFC 9072 extended form with one optional parameter that
/// holds as many empty unknown capabilities as a 4096-octet message holds.
fn open_extended_full_of_capabilities() -> Vec<u8> {
    let caps = [200u8, 0].repeat((4096 - 19 - 13 - 3) / 2);
    let mut params = vec![2];
    params.extend_from_slice(&u16::try_from(caps.len()).unwrap().to_be_bytes());
    params.extend_from_slice(&caps);
    let mut body = vec![4, 0xFD, 0xE9, 0, 90, 192, 0, 2, 1, 255, 255];
    body.extend_from_slice(&u16::try_from(params.len()).unwrap().to_be_bytes());
    body.extend_from_slice(&params);
    msg(1, &body)
}

/// Every message of every golden vector file.
fn golden() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "bin") {
            let raw = std::fs::read(&path).unwrap();
            out.extend(wire::split_messages(&raw).into_iter().map(<[u8]>::to_vec));
        }
    }
    assert!(
        out.len() > 50,
        "golden vectors not found in {}",
        dir.display()
    );
    out
}

/// xorshift64: reproducible mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap()).unwrap()
    }
}

/// A copy of `m` with a few octets changed; the header's Length is kept
/// consistent half of the time, so that the body decoders see the damage.
fn mutate(m: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = m.to_vec();
    for _ in 0..=rng.below(4) {
        let i = rng.below(v.len());
        v[i] = u8::try_from(rng.next() & 0xFF).unwrap();
    }
    if rng.below(2) == 0 && v.len() > 19 {
        v.truncate(19 + rng.below(v.len() - 19));
        let len = u16::try_from(v.len()).unwrap().to_be_bytes();
        v[16..18].copy_from_slice(&len);
    }
    v
}

/// The contexts a decoder can be in: 2- and 4-octet AS, ADD-PATH for both
/// unicast families, extended messages.
fn contexts() -> Vec<Context> {
    let add_path = FamilySet::EMPTY
        .with(Family::IPV4_UNICAST)
        .with(Family::IPV6_UNICAST);
    vec![
        Context::modern(),
        Context {
            four_octet_as: false,
            ..Context::modern()
        },
        Context {
            add_path,
            extended_message: true,
            ..Context::modern()
        },
    ]
}

#[test]
fn decoding_allocates_at_most_a_small_multiple_of_the_input() {
    let mut inputs = golden();
    inputs.extend(worst_shapes(4096));
    inputs.extend(worst_shapes(65_535));
    inputs.push(open_full_of_capabilities());
    inputs.push(open_full_of_parameters());
    inputs.push(open_extended_full_of_capabilities());
    let mut rng = Rng(0x5eed_a110c);
    let seeds = inputs.clone();
    for _ in 0..20_000 {
        let m = &seeds[rng.below(seeds.len())];
        inputs.push(mutate(m, &mut rng));
    }
    let ctxs = contexts();
    let mut worst = (0.0f64, 0usize, 0usize);
    let mut decoded = 0usize;
    let mut failures = Vec::new();
    for m in &inputs {
        let msg = Bytes::from(m.clone());
        for ctx in &ctxs {
            let mut ok = false;
            let bytes = allocated(|| {
                ok = std::hint::black_box(Message::decode(&msg, ctx)).is_ok();
            });
            decoded += usize::from(ok);
            // The view allocates nothing for a well-formed message; for a
            // malformed one the error may copy the attribute it names
            // (NOTIFICATION data, RFC 4271 §6.3).
            let mut valid = false;
            let view_bytes = allocated(|| {
                if let Ok(v) = UpdateView::new(&msg, ctx) {
                    valid = std::hint::black_box(v.validate().is_ok());
                }
            });
            if (valid && view_bytes != 0) || view_bytes > m.len() + FIXED {
                failures.push(format!(
                    "view allocated {view_bytes} B for {}",
                    hex::encode(&m[..m.len().min(64)])
                ));
            }
            let ratio = bytes as f64 / m.len() as f64;
            if ratio > worst.0 {
                worst = (ratio, bytes, m.len());
            }
            if bytes > PER_OCTET * m.len() + FIXED {
                failures.push(format!(
                    "{bytes} B for a {}-octet input {}",
                    m.len(),
                    hex::encode(&m[..m.len().min(64)])
                ));
            }
        }
    }
    eprintln!(
        "{} inputs × {} contexts, {decoded} decoded; worst {:.1} B per input octet ({} B for {} octets)",
        inputs.len(),
        ctxs.len(),
        worst.0,
        worst.1,
        worst.2
    );
    // The shapes above must reach the dense case, or the bound tests nothing.
    assert!(worst.0 > 8.0, "no input came near the bound: {worst:?}");
    assert!(
        failures.is_empty(),
        "{}",
        failures[..failures.len().min(10)].join("\n")
    );
}
