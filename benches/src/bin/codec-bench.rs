//! `codec-bench`: single-threaded throughput and allocation comparison of
//! `bgp-proto` with other Rust BGP codecs, printed as markdown tables.
//!
//! ```text
//! cargo run --release -p benches --bin codec-bench -- [--quick] [--smoke] [--wall] [--mrt-dir DIR] [--messages N] [--only ipv4|ipv6|mrt] [--view-shapes]
//! ```
//!
//! For every corpus (synthetic IPv4, synthetic IPv6 MP_REACH_NLRI, real
//! UPDATEs from MRT archives) it measures our owned decode (from `Bytes` and
//! from `&[u8]`), our borrowed [`UpdateView`] walk, our encode, and the
//! decode and encode of each peer crate through its ordinary public API for
//! one BGP message. Each measurement runs a fixed number of passes over the
//! corpus, sized to about 1 s (0.2 s with `--quick`), three times; the best
//! run is reported. Time is this thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), so that other processes on a shared machine
//! do not inflate it; `--wall` uses elapsed time instead. Allocations are
//! counted by a `#[global_allocator]` wrapping the system allocator
//! (`densa-alloc`, per thread and without atomics: calls to `alloc`,
//! `alloc_zeroed` and `realloc` during the measured runs).

// A benchmark binary: failing loudly on broken setup is the right behaviour,
// and indexing into corpora it built itself cannot go out of bounds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use benches::{Corpus, Msg, view_walk};
use bgp_proto::{Context, Message, UpdateView};
use bytes::BytesMut;
use nix::time::{ClockId, clock_gettime};

// ---------------------------------------------------------------------------
// Allocation counting
// ---------------------------------------------------------------------------

/// The system allocator, counting this thread's calls (`densa-alloc`).
///
/// The counters are a plain thread-local, updated without an atomic
/// read-modify-write (`lock xadd`), so counting adds next to nothing to each
/// call and does not penalise the implementations that allocate more. The
/// measured loops run on this thread, so they see every allocation they make
/// and none of another thread's.
#[global_allocator]
static GLOBAL: densa_alloc::CountingAllocator = densa_alloc::CountingAllocator::system();

/// Number of allocation calls (`alloc`, `alloc_zeroed`, `realloc`) this
/// thread has made so far.
fn alloc_calls() -> u64 {
    let s = densa_alloc::thread_stats();
    s.allocs + s.reallocs
}

// ---------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------

/// One measured throughput.
#[derive(Clone, Copy, Debug)]
struct Speed {
    msgs_per_s: f64,
    mb_per_s: f64,
    allocs_per_msg: f64,
}

/// One measurement to make: a table row and the closure that does one pass
/// over the corpus (`msgs` messages, `bytes` octets).
struct Item<'a> {
    row: Row,
    msgs: usize,
    bytes: usize,
    pass: Box<dyn FnMut() -> u64 + 'a>,
}

impl<'a> Item<'a> {
    fn new(row: Row, msgs: usize, bytes: usize, pass: impl FnMut() -> u64 + 'a) -> Self {
        Self {
            row,
            msgs,
            bytes,
            pass: Box::new(pass),
        }
    }
}

/// Measures every item: each runs a fixed number of passes sized to last
/// about `target`; the items take turns (round-robin) for [`ROUNDS`] rounds,
/// so that a burst of load on the machine hits all of them alike, and each
/// row keeps its best round.
fn measure_all(items: &mut [Item<'_>], target: Duration) {
    let clock = clock();
    let origin = Instant::now();
    // Warm-up and calibration.
    let passes: Vec<u64> = items
        .iter_mut()
        .map(|it| {
            let t = now(clock, origin);
            black_box((it.pass)());
            let one = (now(clock, origin) - t).max(1e-6);
            (target.as_secs_f64() / one).ceil().max(1.0) as u64
        })
        .collect();
    let mut best = vec![(f64::INFINITY, 0u64); items.len()];
    for round in 0..ROUNDS {
        eprintln!("[codec-bench]   round {}/{ROUNDS}", round + 1);
        for ((it, n), best) in items.iter_mut().zip(&passes).zip(best.iter_mut()) {
            let a0 = alloc_calls();
            let t = now(clock, origin);
            for _ in 0..*n {
                black_box((it.pass)());
            }
            let secs = now(clock, origin) - t;
            let allocs = alloc_calls() - a0;
            if secs < best.0 {
                *best = (secs, allocs);
            }
        }
    }
    for ((it, n), (secs, allocs)) in items.iter_mut().zip(&passes).zip(best) {
        let msgs = (it.msgs as f64) * *n as f64;
        it.row.speed = Some(Speed {
            msgs_per_s: msgs / secs,
            mb_per_s: (it.bytes as f64) * *n as f64 / secs / 1e6,
            allocs_per_msg: allocs as f64 / msgs.max(1.0),
        });
    }
}

/// Measured rounds per item; the best is reported.
const ROUNDS: usize = 3;

/// A clock for one measured run.
#[derive(Clone, Copy, Debug)]
enum Clock {
    /// CPU time of this thread: what the work itself cost, excluding the time
    /// the thread waited for a core (the machine is shared with builds).
    ThreadCpu,
    /// Elapsed wall-clock time.
    Wall,
}

/// Seconds on `clock` since an arbitrary origin.
fn now(clock: Clock, origin: Instant) -> f64 {
    match clock {
        Clock::Wall => origin.elapsed().as_secs_f64(),
        Clock::ThreadCpu => {
            let ts = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
                .expect("clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
            ts.tv_sec() as f64 + ts.tv_nsec() as f64 * 1e-9
        }
    }
}

/// The clock every measurement uses (set once from the command line).
static CLOCK_WALL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn clock() -> Clock {
    if CLOCK_WALL.load(Ordering::Relaxed) {
        Clock::Wall
    } else {
        Clock::ThreadCpu
    }
}

/// What a table row measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    OursDecode,
    OursDecodeSlice,
    OursView,
    OursEncode,
    PeerDecode,
    /// A peer's decode that does not parse attributes or NLRI (not comparable).
    PeerFrameOnly,
    PeerEncode,
}

/// One table row.
#[derive(Clone, Debug)]
struct Row {
    imp: String,
    op: String,
    kind: Kind,
    speed: Option<Speed>,
    /// Messages the implementation failed to decode (or encode).
    failures: usize,
    /// Messages attempted (the denominator of `failures`).
    measured: usize,
    notes: String,
}

impl Row {
    fn new(imp: &str, op: &str, kind: Kind) -> Self {
        Self {
            imp: imp.into(),
            op: op.into(),
            kind,
            speed: None,
            failures: 0,
            measured: 0,
            notes: String::new(),
        }
    }
    fn msgs_per_s(&self) -> f64 {
        self.speed.map_or(0.0, |s| s.msgs_per_s)
    }
}

fn ctx_for(m: &Msg) -> Context {
    let base = if m.four_octet_as {
        Context::modern()
    } else {
        Context::default()
    };
    Context {
        extended_message: m.bytes.len() > bgp_proto::MAX_MESSAGE_LEN,
        ..base
    }
}

fn total_len<'a>(msgs: impl IntoIterator<Item = &'a Msg>) -> usize {
    msgs.into_iter().map(|m| m.bytes.len()).sum()
}

/// IPv4 routes in the Withdrawn Routes and NLRI fields, as our decoder sees them.
fn our_body_routes(m: &Message) -> usize {
    match m {
        Message::Update(u) => u.withdrawn.len() + u.nlri.len(),
        _ => 0,
    }
}

/// Non-empty route vectors in a decoded UPDATE (withdrawn, NLRI,
/// MP_REACH_NLRI, MP_UNREACH_NLRI): each is one allocation.
fn route_lists(m: &Message) -> usize {
    let Message::Update(u) = m else { return 0 };
    usize::from(!u.withdrawn.is_empty())
        + usize::from(!u.nlri.is_empty())
        + usize::from(u.mp_reach().is_some_and(|r| !r.nlri.is_empty()))
        + usize::from(u.mp_unreach().is_some_and(|r| !r.withdrawn.is_empty()))
}

// ---------------------------------------------------------------------------
// Our codec
// ---------------------------------------------------------------------------

/// Validates our four operations and prepares their measurements; also
/// returns the per-message body route counts, the reference for checking the
/// peers.
fn bench_ours<'a>(c: &'a Corpus, ctxs: &'a [Context]) -> (Vec<Item<'a>>, Vec<Option<usize>>) {
    let bytes = c.total_bytes();
    let n = c.msgs.len();

    // Validation pass (untimed): decode everything once, check byte-exact re-encoding.
    let mut decoded = Vec::with_capacity(n);
    let mut routes = Vec::with_capacity(n);
    let (mut fails, mut soft, mut inexact) = (0, 0, 0);
    // Messages whose decode allocated more than twice, by likely cause.
    let (mut over2, mut over2_as2, mut over2_multi, mut max_allocs) = (0, 0, 0, 0);
    let mut out = BytesMut::with_capacity(65_536);
    for (m, ctx) in c.msgs.iter().zip(ctxs) {
        let a0 = alloc_calls();
        let res = Message::decode(&m.bytes, ctx);
        let allocs = alloc_calls() - a0;
        max_allocs = max_allocs.max(allocs);
        if allocs > 2 {
            over2 += 1;
            if !m.four_octet_as {
                over2_as2 += 1;
            } else if res.as_ref().is_ok_and(|d| route_lists(&d.message) >= 2) {
                over2_multi += 1;
            }
        }
        match res {
            Ok(d) => {
                soft += usize::from(!d.errors.is_empty());
                out.clear();
                if d.message.encode(ctx, &mut out).is_err() || out[..] != m.bytes[..] {
                    inexact += 1;
                }
                routes.push(Some(our_body_routes(&d.message)));
                decoded.push(Some(d.message));
            }
            Err(_) => {
                fails += 1;
                routes.push(None);
                decoded.push(None);
            }
        }
    }
    let mut view_fails = 0;
    for (m, ctx) in c.msgs.iter().zip(ctxs) {
        view_fails +=
            usize::from(UpdateView::new(&m.bytes, ctx).map_or(true, |v| view_walk(&v) == u64::MAX));
    }

    let mut items = Vec::new();

    let mut r = Row::new(
        "**bgp-proto**",
        "decode (`Message::decode`, `Bytes`)",
        Kind::OursDecode,
    );
    r.failures = fails;
    r.measured = n;
    r.notes = format!("{soft} with RFC 7606 soft errors; max {max_allocs} allocs/msg");
    if over2 > 0 {
        r.notes += &format!(
            "; {over2} msgs > 2 allocs ({over2_as2} 2-octet AS_PATH widened, {over2_multi} with ≥ 2 non-empty route lists)"
        );
    }
    items.push(Item::new(r, n, bytes, move || {
        let mut ok = 0u64;
        for (m, ctx) in c.msgs.iter().zip(ctxs) {
            if let Ok(d) = Message::decode(&m.bytes, ctx) {
                black_box(&d);
                ok += 1;
            }
        }
        ok
    }));

    let mut r = Row::new(
        "**bgp-proto**",
        "decode (`decode_slice`, `&[u8]`)",
        Kind::OursDecodeSlice,
    );
    r.failures = fails;
    r.measured = n;
    items.push(Item::new(r, n, bytes, move || {
        let mut ok = 0u64;
        for (m, ctx) in c.msgs.iter().zip(ctxs) {
            if let Ok(d) = Message::decode_slice(&m.bytes[..], ctx) {
                black_box(&d);
                ok += 1;
            }
        }
        ok
    }));

    let mut r = Row::new(
        "**bgp-proto**",
        "borrowed view (`UpdateView`, walk all)",
        Kind::OursView,
    );
    r.failures = view_fails;
    r.measured = n;
    items.push(Item::new(r, n, bytes, move || {
        let mut sum = 0u64;
        for (m, ctx) in c.msgs.iter().zip(ctxs) {
            if let Ok(v) = UpdateView::new(&m.bytes, ctx) {
                sum += view_walk(&v);
            }
        }
        black_box(sum)
    }));

    let enc: Vec<(Message, &Context, &Msg)> = decoded
        .into_iter()
        .zip(ctxs)
        .zip(&c.msgs)
        .filter_map(|((d, ctx), m)| d.map(|d| (d, ctx, m)))
        .collect();
    let (enc_n, enc_bytes) = (enc.len(), total_len(enc.iter().map(|e| e.2)));
    let mut r = Row::new(
        "**bgp-proto**",
        "encode (`Message::encode`, reused `BytesMut`)",
        Kind::OursEncode,
    );
    r.measured = enc_n;
    r.failures = inexact;
    r.notes = if inexact == 0 {
        "byte-exact".into()
    } else {
        format!("{inexact} not byte-exact")
    };
    let mut out = BytesMut::with_capacity(65_536);
    items.push(Item::new(r, enc_n, enc_bytes, move || {
        let mut len = 0u64;
        for (d, ctx, _) in &enc {
            out.clear();
            if d.encode(ctx, &mut out).is_ok() {
                len += out.len() as u64;
            }
        }
        black_box(len)
    }));
    (items, routes)
}

// ---------------------------------------------------------------------------
// Peers
// ---------------------------------------------------------------------------

/// A peer codec, used through its ordinary public API for one BGP message.
trait Peer: Sized {
    /// A fresh instance (contexts and reusable buffers).
    fn new() -> Self;
    /// The peer's decoded message.
    type Owned;
    /// Crate name and version.
    const NAME: &'static str;
    /// What its decode call is.
    const DECODE: &'static str;
    /// What its encode call is, if it has one.
    const ENCODE: Option<&'static str>;
    /// Decodes one complete message (header included).
    fn decode(&mut self, m: &Msg) -> Option<Self::Owned>;
    /// IPv4 routes in its decoded Withdrawn Routes and NLRI fields.
    fn body_routes(o: &Self::Owned) -> usize;
    /// Encodes a decoded message, header included; returns the wire bytes.
    fn encode(&mut self, o: &Self::Owned, m: &Msg) -> Option<&[u8]>;
}

/// `netgauze-bgp-pkt`: `BgpMessage::parse(SliceReader, &mut BgpParsingContext)`.
mod netgauze {
    use super::{Msg, Peer};
    use netgauze_bgp_pkt::BgpMessage;
    use netgauze_bgp_pkt::wire::deserializer::BgpParsingContext;
    use netgauze_parse_utils::WritablePdu;
    use netgauze_parse_utils::reader::SliceReader;
    use netgauze_parse_utils::traits::ParseFromWithOneInput;

    pub(crate) struct Netgauze {
        asn4: BgpParsingContext,
        asn2: BgpParsingContext,
        out: Vec<u8>,
    }

    impl Netgauze {
        pub(crate) fn create() -> Self {
            Self {
                asn4: BgpParsingContext::default(),
                asn2: BgpParsingContext::asn2_default(),
                out: Vec::with_capacity(65_536),
            }
        }
    }

    impl Peer for Netgauze {
        fn new() -> Self {
            Self::create()
        }
        type Owned = BgpMessage;
        const NAME: &'static str = "netgauze-bgp-pkt 0.13.0";
        const DECODE: &'static str = "decode (`BgpMessage::parse`)";
        const ENCODE: Option<&'static str> = Some("encode (`WritablePdu::write`, reused `Vec`)");
        fn decode(&mut self, m: &Msg) -> Option<BgpMessage> {
            let ctx = if m.four_octet_as {
                &mut self.asn4
            } else {
                &mut self.asn2
            };
            let mut r = SliceReader::new(&m.bytes);
            BgpMessage::parse(&mut r, ctx).ok()
        }
        fn body_routes(o: &BgpMessage) -> usize {
            match o {
                BgpMessage::Update(u) => u.withdraw_routes().len() + u.nlri().len(),
                _ => 0,
            }
        }
        fn encode(&mut self, o: &BgpMessage, _m: &Msg) -> Option<&[u8]> {
            self.out.clear();
            o.write(&mut self.out).ok()?;
            Some(&self.out)
        }
    }
}

/// `bgpkit-parser`: `parse_bgp_message(&mut Bytes, add_path, &AsnLength)`.
mod bgpkit {
    use super::{Msg, Peer};
    use bgpkit_parser::models::{AsnLength, BgpMessage};
    use bgpkit_parser::parser::bgp::parse_bgp_message;
    use bytes::Bytes;

    pub(crate) struct Bgpkit {
        last: Bytes,
    }

    impl Bgpkit {
        pub(crate) fn create() -> Self {
            Self { last: Bytes::new() }
        }
    }

    fn asn_len(m: &Msg) -> AsnLength {
        if m.four_octet_as {
            AsnLength::Bits32
        } else {
            AsnLength::Bits16
        }
    }

    impl Peer for Bgpkit {
        fn new() -> Self {
            Self::create()
        }
        type Owned = BgpMessage;
        const NAME: &'static str = "bgpkit-parser 0.23.0";
        const DECODE: &'static str = "decode (`parse_bgp_message`)";
        const ENCODE: Option<&'static str> = Some("encode (`BgpMessage::encode` → new `Bytes`)");
        fn decode(&mut self, m: &Msg) -> Option<BgpMessage> {
            let mut b = m.bytes.clone();
            parse_bgp_message(&mut b, false, &asn_len(m)).ok()
        }
        fn body_routes(o: &BgpMessage) -> usize {
            match o {
                BgpMessage::Update(u) => u.withdrawn_prefixes.len() + u.announced_prefixes.len(),
                _ => 0,
            }
        }
        fn encode(&mut self, o: &BgpMessage, m: &Msg) -> Option<&[u8]> {
            self.last = o.encode(asn_len(m)).ok()?;
            Some(&self.last)
        }
    }
}

/// `zettabgp`: `decode_message_head` + `BgpUpdateMessage::decode_from`.
mod zetta {
    use super::{Msg, Peer};
    use zettabgp::prelude::{
        BgpMessage as _, BgpMessageType, BgpSessionParams, BgpTransportMode, BgpUpdateMessage,
    };

    pub(crate) struct Zetta {
        asn4: BgpSessionParams,
        asn2: BgpSessionParams,
        buf: Vec<u8>,
    }

    fn params(four: bool) -> BgpSessionParams {
        let mut p = BgpSessionParams::new(
            64_512,
            180,
            BgpTransportMode::IPv4,
            std::net::Ipv4Addr::new(192, 0, 2, 1),
            Vec::new(),
        );
        p.has_as32bit = four;
        // No ADD-PATH was negotiated: turn off the path-id guessing heuristic,
        // which would otherwise misread some plain NLRI as ADD-PATH.
        p.fuzzy_pathid = false;
        p
    }

    impl Zetta {
        pub(crate) fn create() -> Self {
            Self {
                asn4: params(true),
                asn2: params(false),
                buf: vec![0; 65_536],
            }
        }
        fn params(&self, m: &Msg) -> &BgpSessionParams {
            if m.four_octet_as {
                &self.asn4
            } else {
                &self.asn2
            }
        }
    }

    impl Peer for Zetta {
        fn new() -> Self {
            Self::create()
        }
        type Owned = BgpUpdateMessage;
        const NAME: &'static str = "zettabgp 0.6.0";
        const DECODE: &'static str =
            "decode (`decode_message_head` + `BgpUpdateMessage::decode_from`)";
        const ENCODE: Option<&'static str> =
            Some("encode (`encode_to` + `prepare_message_buf`, reused buffer)");
        fn decode(&mut self, m: &Msg) -> Option<BgpUpdateMessage> {
            let p = self.params(m);
            let (ty, len) = p.decode_message_head(&m.bytes).ok()?;
            if ty != BgpMessageType::Update {
                return None;
            }
            let mut u = BgpUpdateMessage::new();
            u.decode_from(p, m.bytes.get(19..19 + len)?).ok()?;
            Some(u)
        }
        fn body_routes(o: &BgpUpdateMessage) -> usize {
            o.withdraws.len() + o.updates.len()
        }
        fn encode(&mut self, o: &BgpUpdateMessage, m: &Msg) -> Option<&[u8]> {
            let p = if m.four_octet_as {
                &self.asn4
            } else {
                &self.asn2
            };
            let n = o.encode_to(p, &mut self.buf[19..]).ok()?;
            let total = p
                .prepare_message_buf(&mut self.buf, BgpMessageType::Update, n)
                .ok()?;
            self.buf.get(..total)
        }
    }
}

/// `rustbgpd-wire`: `decode_message` (framing into three raw fields) then
/// `UpdateMessage::parse` (prefixes and attributes).
mod rustbgpd {
    use super::{Msg, Peer};
    use bytes::BytesMut;
    use rustbgpd_wire::{Ipv4UnicastMode, Message, ParsedUpdate, UpdateMessage, decode_message};

    pub(crate) struct Rustbgpd {
        out: BytesMut,
    }

    impl Rustbgpd {
        pub(crate) fn create() -> Self {
            Self {
                out: BytesMut::with_capacity(65_536),
            }
        }
        /// Framing only: the UPDATE's three fields as raw `Bytes`, nothing parsed.
        pub(crate) fn frame(m: &Msg) -> Option<UpdateMessage> {
            let mut b = m.bytes.clone();
            match decode_message(&mut b, u16::MAX) {
                Ok(Message::Update(u)) => Some(u),
                _ => None,
            }
        }
    }

    impl Peer for Rustbgpd {
        fn new() -> Self {
            Self::create()
        }
        type Owned = ParsedUpdate;
        const NAME: &'static str = "rustbgpd-wire 0.27.0";
        const DECODE: &'static str = "decode (`decode_message` + `UpdateMessage::parse`)";
        const ENCODE: Option<&'static str> =
            Some("encode (`UpdateMessage::try_build` + `encode`, reused `BytesMut`)");
        fn decode(&mut self, m: &Msg) -> Option<ParsedUpdate> {
            Self::frame(m)?.parse(m.four_octet_as, false, &[]).ok()
        }
        fn body_routes(o: &ParsedUpdate) -> usize {
            o.withdrawn.len() + o.announced.len()
        }
        fn encode(&mut self, o: &ParsedUpdate, m: &Msg) -> Option<&[u8]> {
            let u = UpdateMessage::try_build(
                &o.announced,
                &o.withdrawn,
                &o.attributes,
                m.four_octet_as,
                false,
                Ipv4UnicastMode::Body,
            )
            .ok()?;
            self.out.clear();
            u.encode_with_limit(&mut self.out, u16::MAX).ok()?;
            Some(&self.out)
        }
    }
}

/// `bgp-rs`: `Reader { stream: &[u8], capabilities }.read()`.
mod bgprs {
    use super::{Msg, Peer};
    use bgp_rs::{Capabilities, Message, Reader};

    pub(crate) struct BgpRs {
        asn4: Capabilities,
        asn2: Capabilities,
        out: Vec<u8>,
    }

    impl BgpRs {
        pub(crate) fn create() -> Self {
            Self {
                asn4: Capabilities {
                    FOUR_OCTET_ASN_SUPPORT: true,
                    ..Capabilities::default()
                },
                asn2: Capabilities::default(),
                out: Vec::with_capacity(65_536),
            }
        }
    }

    impl Peer for BgpRs {
        fn new() -> Self {
            Self::create()
        }
        type Owned = Message;
        const NAME: &'static str = "bgp-rs 0.6.0";
        const DECODE: &'static str = "decode (`Reader::read`)";
        const ENCODE: Option<&'static str> = Some("encode (`Message::encode`, reused `Vec`)");
        fn decode(&mut self, m: &Msg) -> Option<Message> {
            let caps = if m.four_octet_as {
                &self.asn4
            } else {
                &self.asn2
            };
            let mut r = Reader {
                stream: &m.bytes[..],
                capabilities: caps,
            };
            r.read().ok().map(|(_, msg)| msg)
        }
        fn body_routes(o: &Message) -> usize {
            match o {
                Message::Update(u) => u.withdrawn_routes.len() + u.announced_routes.len(),
                _ => 0,
            }
        }
        fn encode(&mut self, o: &Message, _m: &Msg) -> Option<&[u8]> {
            self.out.clear();
            o.encode(&mut self.out).ok()?;
            Some(&self.out)
        }
    }
}

/// Runs `f`, turning a panic into `None` (with the panic message silenced).
fn no_panic<T>(f: impl FnOnce() -> Option<T>) -> Result<Option<T>, ()> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| ())
}

/// Validates one peer on one corpus and prepares its measurements.
fn bench_peer<'a, P: Peer + 'a>(c: &'a Corpus, ours: &[Option<usize>]) -> Vec<Item<'a>> {
    let mut p = P::new();
    // Validation pass (untimed): failures, panics, route-count agreement with
    // bgp-proto, byte-exact re-encoding.
    let prev_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut ok_msgs: Vec<&Msg> = Vec::with_capacity(c.msgs.len());
    let mut decoded: Vec<(P::Owned, &Msg)> = Vec::with_capacity(c.msgs.len());
    let (mut fails, mut panics, mut mismatch) = (0usize, 0usize, 0usize);
    for (m, our_routes) in c.msgs.iter().zip(ours) {
        match no_panic(|| p.decode(m)) {
            Ok(Some(o)) => {
                if let Some(r) = our_routes {
                    mismatch += usize::from(P::body_routes(&o) != *r);
                }
                ok_msgs.push(m);
                decoded.push((o, m));
            }
            Ok(None) => {
                fails += 1;
                ok_msgs.push(m);
            }
            Err(()) => panics += 1,
        }
    }
    let (mut enc_fail, mut enc_panic, mut inexact) = (0usize, 0usize, 0usize);
    let mut enc_ok = vec![true; decoded.len()];
    if P::ENCODE.is_some() {
        for ((o, m), keep) in decoded.iter().zip(enc_ok.iter_mut()) {
            match no_panic(|| p.encode(o, m).map(|b| b == &m.bytes[..])) {
                Ok(Some(exact)) => inexact += usize::from(!exact),
                Ok(None) => enc_fail += 1,
                Err(()) => {
                    enc_panic += 1;
                    *keep = false;
                }
            }
        }
    }
    std::panic::set_hook(prev_hook);

    let mut items = Vec::new();
    let mut r = Row::new(P::NAME, P::DECODE, Kind::PeerDecode);
    r.failures = fails + panics;
    r.measured = c.msgs.len();
    let mut notes = Vec::new();
    if panics > 0 {
        notes.push(format!("{panics} panicked (excluded from timing)"));
    }
    if mismatch > 0 {
        notes.push(format!(
            "{mismatch} with a different IPv4 route count than bgp-proto"
        ));
    }
    r.notes = notes.join("; ");
    let (n, bytes) = (ok_msgs.len(), total_len(ok_msgs.iter().copied()));
    let mut dec = P::new();
    items.push(Item::new(r, n, bytes, move || {
        let mut ok = 0u64;
        for m in &ok_msgs {
            if let Some(o) = dec.decode(m) {
                black_box(&o);
                ok += 1;
            }
        }
        ok
    }));

    if let Some(op) = P::ENCODE {
        let attempted = decoded.len();
        let enc: Vec<(P::Owned, &Msg)> = decoded
            .into_iter()
            .zip(enc_ok)
            .filter_map(|(d, keep)| keep.then_some(d))
            .collect();
        let (n, bytes) = (enc.len(), total_len(enc.iter().map(|d| d.1)));
        let mut r = Row::new(P::NAME, op, Kind::PeerEncode);
        r.failures = enc_fail + enc_panic;
        r.measured = attempted;
        let mut notes = Vec::new();
        if enc_panic > 0 {
            notes.push(format!("{enc_panic} panicked (excluded from timing)"));
        }
        notes.push(if inexact == 0 {
            "byte-exact".to_string()
        } else {
            format!("{inexact} not byte-exact")
        });
        r.notes = notes.join("; ");
        items.push(Item::new(r, n, bytes, move || {
            let mut len = 0u64;
            for (o, m) in &enc {
                if let Some(b) = p.encode(o, m) {
                    len += b.len() as u64;
                }
            }
            black_box(len)
        }));
    }
    items
}

/// rustbgpd-wire's framing-only decode: shown for reference, not comparable.
fn bench_rustbgpd_frame(c: &Corpus) -> Item<'_> {
    let fails = c
        .msgs
        .iter()
        .filter(|m| rustbgpd::Rustbgpd::frame(m).is_none())
        .count();
    let mut r = Row::new(
        "rustbgpd-wire 0.27.0",
        "framing only (`decode_message`, no attribute/NLRI parsing)",
        Kind::PeerFrameOnly,
    );
    r.failures = fails;
    r.measured = c.msgs.len();
    r.notes = "lazy: not a full decode, excluded from comparisons".into();
    Item::new(r, c.msgs.len(), c.total_bytes(), || {
        let mut ok = 0u64;
        for m in &c.msgs {
            if let Some(u) = rustbgpd::Rustbgpd::frame(m) {
                black_box(&u);
                ok += 1;
            }
        }
        ok
    })
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

fn fmt_int(x: f64) -> String {
    let s = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Results for one corpus.
struct Report {
    name: String,
    rows: Vec<Row>,
}

impl Report {
    fn ours(&self, kind: Kind) -> Option<&Row> {
        self.rows.iter().find(|r| r.kind == kind)
    }
    /// The fastest peer row of `kind` whose failure rate is at most 1 %.
    fn best_peer(&self, kind: Kind) -> Option<&Row> {
        self.rows
            .iter()
            .filter(|r| r.kind == kind && (r.failures as f64) <= 0.01 * r.measured.max(1) as f64)
            .max_by(|a, b| a.msgs_per_s().total_cmp(&b.msgs_per_s()))
    }

    fn print(&self) {
        let dec = self.ours(Kind::OursDecode).map_or(0.0, Row::msgs_per_s);
        let enc = self.ours(Kind::OursEncode).map_or(0.0, Row::msgs_per_s);
        println!("### {}\n", self.name);
        println!(
            "| implementation | operation | msgs/s | MB/s | allocs/msg | our decode ÷ this | our encode ÷ this | failures | notes |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|---:|---|");
        for r in &self.rows {
            let Some(s) = r.speed else { continue };
            let enc_ratio = if matches!(r.kind, Kind::OursEncode | Kind::PeerEncode) {
                format!("{:.2}×", enc / s.msgs_per_s)
            } else {
                String::new()
            };
            println!(
                "| {} | {} | {} | {:.1} | {:.3} | {:.2}× | {} | {} | {} |",
                r.imp,
                r.op,
                fmt_int(s.msgs_per_s),
                s.mb_per_s,
                s.allocs_per_msg,
                dec / s.msgs_per_s,
                enc_ratio,
                if r.failures == 0 {
                    "0".to_string()
                } else {
                    format!("**{} / {}**", r.failures, r.measured)
                },
                r.notes
            );
        }
        println!();
        for line in self.summary() {
            println!("- {line}");
        }
        println!();
    }

    fn summary(&self) -> Vec<String> {
        let mut out = Vec::new();
        let verdict = |ok: bool| if ok { "met" } else { "**NOT met**" };
        let dec = self.ours(Kind::OursDecode);
        let view = self.ours(Kind::OursView);
        let enc = self.ours(Kind::OursEncode);
        let best = self.best_peer(Kind::PeerDecode);
        if let (Some(d), Some(b)) = (dec, best) {
            let x = d.msgs_per_s() / b.msgs_per_s();
            out.push(format!(
                "owned decode vs best peer decode ({}): {x:.2}× (target ≥ 2×: {})",
                b.imp,
                verdict(x >= 2.0)
            ));
        }
        if let (Some(v), Some(b)) = (view, best) {
            let x = v.msgs_per_s() / b.msgs_per_s();
            out.push(format!(
                "borrowed view vs best peer decode ({}): {x:.2}× (target ≥ 10×: {})",
                b.imp,
                verdict(x >= 10.0)
            ));
        }
        if let Some(d) = dec.and_then(|d| d.speed) {
            out.push(format!(
                "allocations per owned UPDATE decode: {:.3} (target ≤ 2: {})",
                d.allocs_per_msg,
                verdict(d.allocs_per_msg <= 2.0 + 1e-9)
            ));
        }
        if let (Some(e), Some(d)) = (enc, dec) {
            let x = e.msgs_per_s() / d.msgs_per_s();
            out.push(format!(
                "encode vs owned decode: {x:.2}× (target encode ≥ decode: {})",
                verdict(x >= 1.0)
            ));
        }
        if let (Some(e), Some(b)) = (enc, self.best_peer(Kind::PeerEncode)) {
            out.push(format!(
                "encode vs best peer encode ({}): {:.2}×",
                b.imp,
                e.msgs_per_s() / b.msgs_per_s()
            ));
        }
        out
    }
}

fn describe(c: &Corpus) {
    let n = c.msgs.len();
    let bytes = c.total_bytes();
    println!(
        "- **{}**: {} UPDATEs, {:.2} MB, {:.0} octets/message on average, {} with 2-octet AS numbers",
        c.name,
        fmt_int(n as f64),
        bytes as f64 / 1e6,
        bytes as f64 / n.max(1) as f64,
        fmt_int(c.two_octet_count() as f64),
    );
}

fn run(c: &Corpus, target: Duration) -> Report {
    let ctxs: Vec<Context> = c.msgs.iter().map(ctx_for).collect();
    eprintln!("[codec-bench] {}: validating", c.name);
    let (mut items, ours) = bench_ours(c, &ctxs);
    items.extend(bench_peer::<netgauze::Netgauze>(c, &ours));
    items.extend(bench_peer::<bgpkit::Bgpkit>(c, &ours));
    items.extend(bench_peer::<zetta::Zetta>(c, &ours));
    items.extend(bench_peer::<rustbgpd::Rustbgpd>(c, &ours));
    items.push(bench_rustbgpd_frame(c));
    items.extend(bench_peer::<bgprs::BgpRs>(c, &ours));
    eprintln!("[codec-bench] {}: measuring {} items", c.name, items.len());
    measure_all(&mut items, target);
    Report {
        name: c.name.clone(),
        rows: items.into_iter().map(|it| it.row).collect(),
    }
}

/// `--profile DATASET SECONDS [decode|view|encode]`: runs one of our
/// operations over one corpus for a while, for `perf record` or
/// `valgrind --tool=callgrind`.
fn profile(corpora: &[Corpus], which: &str, secs: f64, op: &str) {
    use bgp_proto::attribute::{AttrValue, PathAttribute};
    let c = corpora
        .iter()
        .find(|c| c.name.to_lowercase().contains(which))
        .expect("--profile: dataset ipv4, ipv6 or mrt");
    let ctxs: Vec<Context> = c.msgs.iter().map(ctx_for).collect();
    let decoded: Vec<(Message, Context)> = c
        .msgs
        .iter()
        .zip(&ctxs)
        .filter_map(|(m, ctx)| {
            Message::decode(&m.bytes, ctx)
                .ok()
                .map(|d| (d.message, *ctx))
        })
        .collect();
    let mut out = BytesMut::with_capacity(65_536);
    let t = Instant::now();
    let cpu0 = now(clock(), t);
    let mut passes = 0u64;
    while t.elapsed().as_secs_f64() < secs {
        match op {
            "view" => {
                let mut sum = 0u64;
                for (m, ctx) in c.msgs.iter().zip(&ctxs) {
                    if let Ok(v) = UpdateView::new(&m.bytes, ctx) {
                        sum += view_walk(&v);
                    }
                }
                black_box(sum);
            }
            "encode" => {
                for (d, ctx) in &decoded {
                    out.clear();
                    black_box(d.encode(ctx, &mut out).is_ok());
                }
            }
            _ => {
                for (m, ctx) in c.msgs.iter().zip(&ctxs) {
                    if let Ok(d) = Message::decode(&m.bytes, ctx) {
                        black_box(&d);
                    }
                }
            }
        }
        passes += 1;
    }
    let n = passes as f64 * c.msgs.len() as f64;
    println!(
        "size_of: Message {}, Update {}, PathAttribute {}, AttrValue {}, Nlri {}, Decoded {}",
        size_of::<Message>(),
        size_of::<bgp_proto::Update>(),
        size_of::<PathAttribute>(),
        size_of::<AttrValue>(),
        size_of::<bgp_proto::Nlri>(),
        size_of::<bgp_proto::Decoded>(),
    );
    println!(
        "{} / {op}: {passes} passes, {} msgs/s ({} clock)",
        c.name,
        fmt_int(n / (now(clock(), t) - cpu0)),
        match clock() {
            Clock::ThreadCpu => "thread CPU-time",
            Clock::Wall => "wall",
        }
    );
}

/// `--view-shapes`: the borrowed view's walk over the synthetic IPv4
/// corpus and over two reshaped copies of it (every prefix a /24 with the
/// same counts; ten /24 per message), measured in turns like the main
/// table. What the walk loses to unpredictable prefix sizes is the first
/// gap; what it loses to unpredictable prefix counts (the loop's exit) is
/// most of the second.
fn view_shapes(corpora: &[Corpus], target: Duration) {
    use benches::{Reshape, reshape_ipv4};
    let Some(c) = corpora.iter().find(|c| c.name.contains("IPv4")) else {
        eprintln!("--view-shapes: the synthetic IPv4 corpus is not loaded");
        std::process::exit(2);
    };
    let shapes = [
        c.clone(),
        reshape_ipv4(c, Reshape::All24),
        reshape_ipv4(c, Reshape::Ten24),
    ];
    let ctx = Context::modern();
    let per_msg: Vec<f64> = shapes
        .iter()
        .map(|s| {
            let routes: usize = s
                .msgs
                .iter()
                .filter_map(|m| UpdateView::new(&m.bytes, &ctx).ok())
                .map(|v| v.nlri().count())
                .sum();
            routes as f64 / s.msgs.len().max(1) as f64
        })
        .collect();
    let mut items: Vec<Item<'_>> = shapes
        .iter()
        .map(|s| {
            let r = Row::new(&s.name, "view walk", Kind::OursView);
            Item::new(r, s.msgs.len(), s.total_bytes(), move || {
                let mut sum = 0u64;
                for m in &s.msgs {
                    if let Ok(v) = UpdateView::new(&m.bytes, &ctx) {
                        sum += view_walk(&v);
                    }
                }
                sum
            })
        })
        .collect();
    measure_all(&mut items, target);
    println!("| corpus | prefixes/msg | msgs/s | ns/msg |\n|---|---:|---:|---:|");
    for (it, per_msg) in items.iter().zip(per_msg) {
        if let Some(sp) = &it.row.speed {
            println!(
                "| {} | {per_msg:.2} | {} | {:.1} |",
                it.row.imp,
                fmt_int(sp.msgs_per_s),
                1e9 / sp.msgs_per_s
            );
        }
    }
}

fn main() {
    let mut quick = false;
    let mut smoke = false;
    let mut profile_of: Option<(String, f64, String)> = None;
    let mut mrt_dir: Option<PathBuf> = None;
    let mut count = 100_000usize;
    let mut only: Option<String> = None;
    let mut shapes = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--smoke" => smoke = true,
            "--wall" => CLOCK_WALL.store(true, Ordering::Relaxed),
            "--mrt-dir" => mrt_dir = args.next().map(PathBuf::from),
            "--only" => only = args.next().map(|s| s.to_lowercase()),
            "--view-shapes" => shapes = true,
            "--messages" => {
                count = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--messages N")
            }
            "--profile" => {
                let which = args.next().expect("--profile DATASET SECONDS");
                let secs = args.next().and_then(|s| s.parse().ok()).unwrap_or(5.0);
                let op = args.next().unwrap_or_else(|| "decode".into());
                profile_of = Some((which.to_lowercase(), secs, op));
            }
            "-h" | "--help" => {
                println!(
                    "usage: codec-bench [--quick] [--smoke] [--wall] [--mrt-dir DIR] [--messages N] [--only ipv4|ipv6|mrt] [--profile ipv4|ipv6|mrt SECONDS [decode|view|encode]] [--view-shapes]"
                );
                return;
            }
            other => {
                eprintln!("unknown argument {other:?} (try --help)");
                std::process::exit(2);
            }
        }
    }
    // --smoke (CI, dev build): 1,000 messages per dataset, ~20 ms per run;
    // it checks that every implementation and the validation pass run, and
    // its ratios mean nothing.
    if smoke {
        count = count.min(1_000);
    }
    let target = if smoke {
        Duration::from_millis(20)
    } else if quick {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(1)
    };
    let mrt_dir = mrt_dir.unwrap_or_else(|| {
        let rel = PathBuf::from("../shared/data/mrt");
        if rel.is_dir() {
            rel
        } else {
            benches::default_mrt_dir()
        }
    });

    let mut corpora = vec![
        benches::synthetic_ipv4(count, 0x5eed_0004),
        benches::synthetic_ipv6(count, 0x5eed_0006),
    ];
    let mrt_note = match benches::mrt_updates(&mrt_dir) {
        Ok(Some((c, st))) => {
            let names: Vec<String> = st
                .files
                .iter()
                .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            let note = format!(
                "MRT: {} records in {}; {} BGP4MP MESSAGE/MESSAGE_AS4 records, {} UPDATEs kept, {} malformed records skipped",
                fmt_int(st.records as f64),
                names.join(", "),
                fmt_int(st.bgp_messages as f64),
                fmt_int(st.updates as f64),
                st.malformed
            );
            corpora.push(c);
            note
        }
        Ok(None) => format!(
            "MRT: no archives in {}: the real-UPDATE dataset is skipped",
            mrt_dir.display()
        ),
        Err(e) => format!(
            "MRT: reading {} failed ({e}): the real-UPDATE dataset is skipped",
            mrt_dir.display()
        ),
    };

    if let Some(o) = &only {
        corpora.retain(|c| c.name.to_lowercase().contains(o.as_str()));
    }
    if smoke {
        for c in &mut corpora {
            c.msgs.truncate(count);
        }
    }

    if let Some((which, secs, op)) = profile_of {
        profile(&corpora, &which, secs, &op);
        return;
    }
    if shapes {
        view_shapes(&corpora, target);
        return;
    }

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "## Codec benchmark (one thread, best of 3 runs, ~{} ms per run, {} clock)\n",
        target.as_millis(),
        match clock() {
            Clock::ThreadCpu => "thread CPU-time",
            Clock::Wall => "wall",
        }
    );
    println!(
        "Load average at start: {}\n",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    if smoke {
        println!(
            "**Smoke run**: {count} messages per dataset, ~20 ms per run, in whatever profile it was built; the ratios below mean nothing.\n"
        );
    }
    println!("Datasets:\n");
    for c in &corpora {
        describe(c);
    }
    println!("- {mrt_note}\n");

    let reports: Vec<Report> = corpora.iter().map(|c| run(c, target)).collect();
    for r in &reports {
        r.print();
    }
    println!("### Summary\n");
    for r in &reports {
        println!("**{}**\n", r.name);
        for line in r.summary() {
            println!("- {line}");
        }
        println!();
    }
}
