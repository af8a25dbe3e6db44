//! The input is the body of an UPDATE behind a valid header (type 2, right
//! length), so every execution reaches the UPDATE parser.
#![no_main]

use bgp_fuzz::{CtxInput, decode_and_encode, frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: CtxInput<'_>| {
    decode_and_encode(&frame(2, input.data), &input.ctx);
});
