//! The input is the path-attribute field of an UPDATE with no withdrawn
//! routes and no NLRI; both lengths are right.
#![no_main]

use bgp_fuzz::{CtxInput, decode_and_encode, frame};
use bgp_proto::UpdateView;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: CtxInput<'_>| {
    let attrs = input
        .data
        .get(..input.data.len().min(65535 - 23))
        .unwrap_or_default();
    let mut body = Vec::with_capacity(4 + attrs.len());
    body.extend_from_slice(&0u16.to_be_bytes());
    body.extend_from_slice(&u16::try_from(attrs.len()).unwrap_or(0).to_be_bytes());
    body.extend_from_slice(attrs);
    let msg = frame(2, &body);
    decode_and_encode(&msg, &input.ctx);
    if let Ok(v) = UpdateView::new(&msg, &input.ctx) {
        v.attributes().for_each(|a| {
            std::hint::black_box(a.as_u32());
        });
        v.mp_reach()
            .into_iter()
            .for_each(|(_, it)| it.for_each(drop));
        v.mp_unreach()
            .into_iter()
            .for_each(|(_, it)| it.for_each(drop));
    }
});
