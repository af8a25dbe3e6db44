//! Any bytes, any context: `Message::decode` and `decode_slice` must agree and
//! never panic; a decoded message (or the error's NOTIFICATION) must encode
//! under the same context without panicking.
#![no_main]

use bgp_fuzz::{CtxInput, decode_and_encode};
use bgp_proto::Message;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: CtxInput<'_>| {
    let msg = Bytes::copy_from_slice(input.data);
    let shared = Message::decode(&msg, &input.ctx);
    let sliced = Message::decode_slice(input.data, &input.ctx);
    assert_eq!(shared, sliced, "decode and decode_slice disagree");
    decode_and_encode(&msg, &input.ctx);
});
