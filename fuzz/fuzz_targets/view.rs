//! `UpdateView::new` on any bytes with any context, then every iterator.
//! When `Message::decode` accepts the same bytes as a clean UPDATE, the view
//! must accept them too, find nothing wrong in them, and list the same routes.
#![no_main]

use bgp_fuzz::CtxInput;
use bgp_proto::{Message, Nlri, Prefixes, UpdateView};
use libfuzzer_sys::fuzz_target;

/// Every prefix, or the first error turned into its NOTIFICATION.
fn walk(v: &UpdateView<'_>, it: Prefixes<'_>) -> Vec<Nlri> {
    let mut out = Vec::new();
    for p in it {
        match p {
            Ok(p) => out.push(p.to_nlri()),
            Err(e) => {
                std::hint::black_box(v.decode_error(e).notification());
            }
        }
    }
    out
}

fuzz_target!(|input: CtxInput<'_>| {
    let view = UpdateView::new(input.data, &input.ctx);
    if let Ok(v) = &view {
        walk(v, v.withdrawn());
        walk(v, v.nlri());
        for a in v.attributes() {
            match a {
                Ok(a) => {
                    std::hint::black_box(a.as_u32());
                    match v.mp_nlri(&a) {
                        Ok(mp) => {
                            if let Some(routes) = mp.and_then(|m| m.routes()) {
                                walk(v, routes);
                            }
                        }
                        Err(e) => {
                            std::hint::black_box(v.decode_error(e).notification());
                        }
                    }
                }
                Err(e) => {
                    std::hint::black_box(v.decode_error(e).notification());
                }
            }
        }
        let _ = std::hint::black_box((v.mp_reach(), v.mp_unreach(), v.validate()));
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
    if let Err(e) = v.validate() {
        panic!("Message::decode accepted an UPDATE in which UpdateView finds {e}");
    }
    assert_eq!(walk(&v, v.withdrawn()), u.withdrawn);
    assert_eq!(walk(&v, v.nlri()), u.nlri);
    assert_eq!(v.attributes().count(), u.attributes.len());
    let mp = v.mp_reach().ok().flatten();
    assert_eq!(
        mp.and_then(|m| m.routes())
            .map(|r| walk(&v, r))
            .unwrap_or_default(),
        u.mp_reach().map(|m| m.nlri.to_vec()).unwrap_or_default()
    );
    let mpu = v.mp_unreach().ok().flatten();
    assert_eq!(
        mpu.and_then(|m| m.routes())
            .map(|r| walk(&v, r))
            .unwrap_or_default(),
        u.mp_unreach()
            .map(|m| m.withdrawn.to_vec())
            .unwrap_or_default()
    );
});
