//! Feeds a byte stream to `BgpCodec` in chunks, like a socket, and checks that
//! the messages (and the error that ends the stream, if any) are the same as
//! when the whole stream is buffered at once. Chunk sizes cycle through the
//! eight bytes after the context (size = byte + 1).
#![no_main]

use arbitrary::Arbitrary;
use bgp_proto::{BgpCodec, Context, Decoded};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    ctx: Context,
    chunks: [u8; 8],
    stream: &'a [u8],
}

/// Decodes until the buffer runs dry or an error; `Err` carries the error text.
fn drain(codec: &mut BgpCodec, buf: &mut BytesMut, out: &mut Vec<Decoded>) -> Result<(), String> {
    while let Some(d) = codec.decode(buf).map_err(|e| format!("{e:?}"))? {
        out.push(d);
    }
    Ok(())
}

fuzz_target!(|input: Input<'_>| {
    let (mut codec, mut buf, mut chunked) = (BgpCodec::new(input.ctx), BytesMut::new(), Vec::new());
    let mut rest = input.stream;
    let mut sizes = input.chunks.iter().cycle();
    let mut chunked_end = Ok(());
    while !rest.is_empty() && chunked_end.is_ok() {
        let n = sizes
            .next()
            .map_or(1, |&s| usize::from(s) + 1)
            .min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        buf.extend_from_slice(chunk);
        rest = tail;
        chunked_end = drain(&mut codec, &mut buf, &mut chunked);
    }
    let (mut codec, mut whole, mut oneshot) = (
        BgpCodec::new(input.ctx),
        BytesMut::from(input.stream),
        Vec::new(),
    );
    let oneshot_end = drain(&mut codec, &mut whole, &mut oneshot);
    assert_eq!(chunked, oneshot, "chunked and one-shot decoding disagree");
    assert_eq!(
        chunked_end, oneshot_end,
        "chunked and one-shot decoding end differently"
    );
});
