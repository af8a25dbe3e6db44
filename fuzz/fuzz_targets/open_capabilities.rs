//! The input is the optional-parameters part of an OPEN whose fixed fields
//! are valid (version 4, AS 65001, hold time 90, id 192.0.2.1). The
//! parameter length octet is set from the input length, in the RFC 9072
//! extended form when it exceeds 254.
#![no_main]

use bgp_fuzz::frame;
use bgp_proto::{Context, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|params: &[u8]| {
    let params = params
        .get(..params.len().min(4096 - 19 - 10 - 3))
        .unwrap_or_default();
    let mut body = vec![4, 0xfd, 0xe9, 0, 90, 192, 0, 2, 1];
    match u8::try_from(params.len()) {
        Ok(n) if n < 255 => body.push(n),
        _ => body.extend_from_slice(&[255, 255]),
    }
    if params.len() >= 255 {
        body.extend_from_slice(&u16::try_from(params.len()).unwrap_or(0).to_be_bytes());
    }
    body.extend_from_slice(params);
    if let Ok(d) = Message::decode(&frame(1, &body), &Context::default()) {
        if let Message::Open(open) = &d.message {
            let _ = (open.asn(), open.families(), open.graceful_restart());
            let _ = Context::negotiate(open, open);
        }
        let _ = d.message.to_bytes(&Context::default());
    }
});
