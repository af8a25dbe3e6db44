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
        for a in v.attributes().flatten() {
            std::hint::black_box(a.as_u32());
            if let Ok(Some(mp)) = v.mp_nlri(&a) {
                mp.routes().into_iter().flatten().for_each(drop);
            }
        }
        if let Err(e) = v.validate() {
            std::hint::black_box(e.notification());
        }
    }
});
