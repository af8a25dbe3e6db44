//! `UpdateView::new` on any bytes with any context, then every iterator.
//! When `Message::decode` accepts the same bytes as a clean UPDATE, the view
//! must accept them too and list the same IPv4 routes.
#![no_main]

use bgp_fuzz::CtxInput;
use bgp_proto::{Message, Nlri, UpdateView};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: CtxInput<'_>| {
    let view = UpdateView::new(input.data, &input.ctx);
    if let Ok(v) = &view {
        v.withdrawn().for_each(drop);
        v.nlri().for_each(drop);
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
    let Ok(d) = Message::decode_slice(input.data, &input.ctx) else {
        return;
    };
    let Message::Update(u) = d.message else {
        return;
    };
    if !d.errors.is_empty() {
        return;
    }
    let v = view.expect("Message::decode accepted an UPDATE that UpdateView rejects");
    assert_eq!(v.withdrawn().collect::<Vec<Nlri>>(), u.withdrawn);
    assert_eq!(v.nlri().collect::<Vec<Nlri>>(), u.nlri);
    assert_eq!(v.attributes().count(), u.attributes.len());
});
