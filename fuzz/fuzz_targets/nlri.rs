//! The input is an NLRI field twice: as the IPv4 NLRI of an UPDATE with an
//! empty attribute field, and as the NLRI of an IPv6 unicast MP_REACH_NLRI
//! (next hop 2001:db8::1).
#![no_main]

use bgp_fuzz::{CtxInput, decode_and_encode, frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: CtxInput<'_>| {
    let nlri = input.data;
    // withdrawn length 0, attribute length 0, NLRI.
    let mut body = vec![0, 0, 0, 0];
    body.extend_from_slice(nlri);
    decode_and_encode(&frame(2, &body), &input.ctx);

    // AFI 2, SAFI 1, next hop length 16, next hop, reserved, NLRI.
    let mut mp = vec![0, 2, 1, 16, 0x20, 0x01, 0x0d, 0xb8];
    mp.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    mp.extend_from_slice(
        nlri.get(..nlri.len().min(65535 - 19 - 4 - 4 - 21))
            .unwrap_or_default(),
    );
    let alen = u16::try_from(mp.len()).unwrap_or(0);
    let mut body = vec![0, 0];
    body.extend_from_slice(&(alen + 4).to_be_bytes());
    body.extend_from_slice(&[0x90, 14]); // optional, extended length, MP_REACH_NLRI
    body.extend_from_slice(&alen.to_be_bytes());
    body.extend_from_slice(&mp);
    decode_and_encode(&frame(2, &body), &input.ctx);
});
