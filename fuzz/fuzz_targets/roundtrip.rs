//! A message that decodes cleanly must re-encode to exactly the input bytes,
//! and the re-encoding must decode to the same message.
#![no_main]

use bgp_fuzz::CtxInput;
use bgp_proto::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: CtxInput<'_>| {
    let ctx = input.ctx;
    let Ok(first) = Message::decode_slice(input.data, &ctx) else {
        return;
    };
    if !first.errors.is_empty() {
        return;
    }
    let encoded = first
        .message
        .to_bytes(&ctx)
        .expect("a decoded message must encode under the same context");
    let second = Message::decode(&encoded, &ctx).expect("re-encoded message must decode");
    assert_eq!(first.message, second.message, "decode(encode(m)) != m");
    assert!(
        second.errors.is_empty(),
        "re-encoding introduced errors: {:?}",
        second.errors
    );
    assert_eq!(&encoded[..], input.data, "re-encoding is not byte-exact");
});
