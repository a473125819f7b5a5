//! Robustness of the codec on untrusted bytes: a deterministic pseudo-random loop (xorshift, no deps)
//! over truncations and single-byte mutations of every captured vector plus random and adversarial
//! inputs, fed to `decode_request` for every opcode, `ConnectRequest`/`ConnectResponse::decode`, reply
//! records and `FrameDecoder::next_frame`. Nothing may panic, and a counting global allocator checks that
//! no decode allocates more than a small multiple of its input (vector counts, buffer lengths and frame
//! lengths must be bounded by the bytes actually present, never trusted).
//!
//! Whatever decodes successfully must also re-encode to bytes that decode to the same value.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::{all_vectors, encode_request_body, ALL_OPCODES};
use rzk_proto::jute::{Jute, Reader, Writer};
use rzk_proto::records::*;
use rzk_proto::{
    decode_request, ConnectRequest, ConnectResponse, FrameDecoder, FrameError, DEFAULT_MAX_BUFFER,
};

// ---------------------------------------------------------------------------------------------
// allocation accounting (per thread, so parallel tests don't disturb each other)

struct Counting;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static TOTAL: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = TRACKING.try_with(|t| {
        if t.get() {
            let _ = PEAK.try_with(|p| p.set(p.get().max(size)));
            let _ = TOTAL.try_with(|s| s.set(s.get().saturating_add(size)));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Generous linear bound: decoded Strings/Vecs cost a few times the bytes they were decoded from
/// (e.g. a 4-byte empty string becomes a 24-byte `String`); anything trusting a length field would
/// ask for up to gigabytes.
fn alloc_bound(input_len: usize) -> usize {
    64 * input_len + 4096
}

/// Runs `f` and fails if any single allocation, or the sum of all allocations, exceeds the bound.
fn bounded<R>(what: &str, input: &[u8], f: impl FnOnce() -> R) -> R {
    PEAK.with(|p| p.set(0));
    TOTAL.with(|s| s.set(0));
    TRACKING.with(|t| t.set(true));
    let r = f();
    TRACKING.with(|t| t.set(false));
    let (peak, total) = (PEAK.with(Cell::get), TOTAL.with(Cell::get));
    let bound = alloc_bound(input.len());
    assert!(
        peak <= bound && total <= bound,
        "{what}: allocated peak {peak} / total {total} bytes for a {}-byte input (bound {bound}): {}",
        input.len(),
        hex(input)
    );
    r
}

fn hex(b: &[u8]) -> String {
    b.iter().take(256).map(|x| format!("{x:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// deterministic PRNG

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
}

/// Values that exercise length/count handling when written over an int field.
const INTERESTING_I32: &[i32] = &[
    0,
    1,
    -1,
    -2,
    2,
    3,
    4,
    8,
    16,
    255,
    256,
    0x7fff,
    0xffff,
    0x7fff_ffff,
    i32::MIN,
    -0x7fff_ffff,
    0x0fff_ffff,
    0x000f_ffff,
    0x0010_0000,
];

// ---------------------------------------------------------------------------------------------
// the checks applied to every input

/// Every decoder on `input`; successful decodes must re-encode to something that decodes identically.
fn exercise(input: &[u8]) {
    for &opc in ALL_OPCODES {
        if let Ok(req) = bounded("decode_request", input, || decode_request(opc, input)) {
            let mut w = Writer::new();
            encode_request_body(opc, &req, &mut w);
            let again = decode_request(opc, &w.buf).unwrap_or_else(|e| {
                panic!("op {opc}: re-encoded body does not decode: {e}; {req:?}")
            });
            assert_eq!(
                again,
                req,
                "op {opc}: decode(encode(decode(x))) != decode(x) for {}",
                hex(input)
            );
            let mut w2 = Writer::new();
            encode_request_body(opc, &again, &mut w2);
            assert_eq!(w2.buf, w.buf, "op {opc}: encoding is not stable");
        }
    }

    // As the server does: RequestHeader from the frame, opcode from the header.
    let mut r = Reader::new(input);
    if let Ok(h) = RequestHeader::decode(&mut r) {
        let body = &input[r.position()..];
        let _ = bounded("header + decode_request", body, || {
            decode_request(h.op, body)
        });
    }

    if let Ok(c) = bounded("ConnectRequest::decode", input, || {
        ConnectRequest::decode(input)
    }) {
        let mut w = Writer::new();
        c.encode(&mut w);
        assert_eq!(
            ConnectRequest::decode(&w.buf).expect("re-encoded ConnectRequest"),
            c
        );
    }
    if let Ok(c) = bounded("ConnectResponse::decode", input, || {
        ConnectResponse::decode(input)
    }) {
        let mut w = Writer::new();
        c.encode(&mut w);
        assert_eq!(
            ConnectResponse::decode(&w.buf).expect("re-encoded ConnectResponse"),
            c
        );
    }

    // Reply-side records (used by tests and tools; the server only encodes them).
    reply_record::<WatcherEvent>(input);
    reply_record::<GetDataResponse>(input);
    reply_record::<GetAclResponse>(input);
    reply_record::<GetChildren2Response>(input);
    reply_record::<WhoAmIResponse>(input);
    reply_record::<Create2Response>(input);
    reply_record::<MultiHeader>(input);

    frames(input);
}

fn reply_record<T: Jute + PartialEq + std::fmt::Debug>(input: &[u8]) {
    let decoded = bounded(std::any::type_name::<T>(), input, || {
        let mut r = Reader::new(input);
        ReplyHeader::decode(&mut r).and_then(|_| T::decode(&mut r))
    });
    if let Ok(v) = decoded {
        let mut w = Writer::new();
        v.encode(&mut w);
        assert_eq!(
            T::decode(&mut Reader::new(&w.buf)).expect("re-encoded record"),
            v
        );
    }
}

const MAXES: &[u32] = &[0, 1, 4, 16, DEFAULT_MAX_BUFFER, i32::MAX as u32, u32::MAX];

/// `FrameDecoder::next_frame` invariants for one buffer.
fn frames(buf: &[u8]) {
    for &max in MAXES {
        let d = FrameDecoder::new(max);
        let res = bounded("next_frame", buf, || d.next_frame(buf));
        let prefix = (buf.len() >= 4).then(|| i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]));
        match (res, prefix) {
            (Ok(None), None) => {}
            (Ok(None), Some(len)) => {
                assert!(
                    len >= 0 && len as u32 <= max && buf.len() < 4 + len as usize,
                    "needs-more with len {len}, max {max}, have {}",
                    buf.len()
                )
            }
            (Ok(Some((range, total))), Some(len)) => {
                assert!(len >= 0 && len as u32 <= max);
                assert_eq!(range, 4..4 + len as usize);
                assert_eq!(total, range.end);
                assert!(total <= buf.len());
            }
            (Err(FrameError::Negative(n)), Some(len)) => assert!(n == len && len < 0),
            (Err(FrameError::TooLarge { len: l, max: m }), Some(len)) => {
                assert!(len >= 0 && l == len as u32 && m == max && l > max)
            }
            (other, prefix) => panic!(
                "next_frame({}) with max {max}: {other:?} (prefix {prefix:?})",
                hex(buf)
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// the inputs

/// Every captured vector cut at every length.
#[test]
fn truncations_of_every_vector() {
    let mut n = 0;
    for (_, v) in all_vectors() {
        for len in 0..=v.len() {
            exercise(&v[..len]);
            n += 1;
        }
    }
    assert!(n > 3000, "{n}");
}

/// Every byte of every captured vector replaced by boundary and random values.
#[test]
fn single_byte_mutations_of_every_vector() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut n = 0;
    for (_, v) in all_vectors() {
        for i in 0..v.len() {
            let orig = v[i];
            let mut values = vec![
                0x00,
                0xff,
                0x7f,
                0x80,
                0x01,
                orig ^ 0x01,
                orig.wrapping_add(1),
                orig.wrapping_sub(1),
                rng.byte(),
            ];
            values.retain(|&x| x != orig);
            values.dedup();
            let mut m = v.clone();
            for x in values {
                m[i] = x;
                exercise(&m);
                n += 1;
            }
        }
    }
    assert!(n > 20_000, "{n}");
}

/// Random bytes, vectors with several random int/byte overwrites, splices of two vectors, and
/// vectors behind random 8-byte request headers.
/// (Two halves with different seeds, so the test harness runs them on two threads.)
#[test]
fn random_inputs_1() {
    random_inputs(0x2545_f491_4f6c_dd1d, 85_000);
}

#[test]
fn random_inputs_2() {
    random_inputs(0x5851_f42d_4c95_7f2d, 85_000);
}

fn random_inputs(seed: u64, iterations: usize) {
    let vectors: Vec<Vec<u8>> = all_vectors().into_iter().map(|(_, v)| v).collect();
    let mut rng = XorShift(seed);
    for _ in 0..iterations {
        let input = match rng.below(5) {
            0 => {
                let n = rng.below(48);
                rng.bytes(n)
            }
            1 | 2 => {
                let mut m = vectors[rng.below(vectors.len())].clone();
                for _ in 0..1 + rng.below(4) {
                    if m.is_empty() {
                        break;
                    }
                    if rng.below(2) == 0 && m.len() >= 4 {
                        let at = rng.below(m.len() - 3);
                        let val = INTERESTING_I32[rng.below(INTERESTING_I32.len())];
                        m[at..at + 4].copy_from_slice(&val.to_be_bytes());
                    } else {
                        let at = rng.below(m.len());
                        m[at] = rng.byte();
                    }
                }
                if rng.below(4) == 0 {
                    let cut = rng.below(m.len() + 1);
                    m.truncate(cut);
                }
                m
            }
            3 => {
                let a = &vectors[rng.below(vectors.len())];
                let b = &vectors[rng.below(vectors.len())];
                let (i, j) = (rng.below(a.len() + 1), rng.below(b.len() + 1));
                [&a[..i], &b[j..]].concat()
            }
            _ => {
                let mut m = rng.bytes(4);
                m.extend_from_slice(&ALL_OPCODES[rng.below(ALL_OPCODES.len())].to_be_bytes());
                let v = &vectors[rng.below(vectors.len())];
                m.extend_from_slice(&v[rng.below(v.len().min(9))..]);
                m
            }
        };
        exercise(&input);
    }
}

/// Huge, negative and boundary frame lengths, with and without (partial) bodies.
#[test]
fn frame_lengths() {
    let lens: &[i32] = &[
        0,
        1,
        3,
        4,
        15,
        16,
        17,
        0xfffff,
        0x100000,
        0x7fff_fffe,
        i32::MAX,
        -1,
        -2,
        i32::MIN,
        -0x100000,
    ];
    for &len in lens {
        for extra in [0usize, 1, 15, 16, 17, 64] {
            let mut buf = len.to_be_bytes().to_vec();
            buf.extend(std::iter::repeat_n(0xab, extra));
            frames(&buf);
            for cut in 0..buf.len() {
                frames(&buf[..cut]);
            }
        }
    }
    let d = FrameDecoder::new(DEFAULT_MAX_BUFFER);
    assert_eq!(
        d.next_frame(&[0xff, 0xff, 0xff, 0xff]),
        Err(FrameError::Negative(-1))
    );
    assert_eq!(
        d.next_frame(&[0x80, 0, 0, 0]),
        Err(FrameError::Negative(i32::MIN))
    );
    assert_eq!(
        d.next_frame(&[0x7f, 0xff, 0xff, 0xff]),
        Err(FrameError::TooLarge {
            len: i32::MAX as u32,
            max: DEFAULT_MAX_BUFFER
        })
    );
    assert_eq!(
        d.next_frame(&[0x00, 0x10, 0x00, 0x00]),
        Err(FrameError::TooLarge {
            len: 0x100000,
            max: DEFAULT_MAX_BUFFER
        })
    );
    assert_eq!(d.next_frame(&[0x00, 0x0f, 0xff, 0xff, 1, 2]), Ok(None));
    assert_eq!(d.next_frame(&[0, 0, 0, 0]), Ok(Some((4..4, 4))));
    assert_eq!(d.next_frame(&[0, 0, 0]), Ok(None));
}

/// All vectors, framed and concatenated, fed to a FrameDecoder in random-sized chunks (as a socket
/// would deliver them) come out as the same frames in the same order.
#[test]
fn streamed_frames_reassemble() {
    let vectors: Vec<Vec<u8>> = all_vectors().into_iter().map(|(_, v)| v).collect();
    let mut stream = Vec::new();
    for v in &vectors {
        stream.extend_from_slice(&(v.len() as u32).to_be_bytes());
        stream.extend_from_slice(v);
    }
    let d = FrameDecoder::new(DEFAULT_MAX_BUFFER);
    let mut rng = XorShift(0xdead_beef_cafe_f00d);
    for round in 0..200 {
        let mut pending: Vec<u8> = Vec::new();
        let mut out: Vec<Vec<u8>> = Vec::new();
        let mut fed = 0;
        while fed < stream.len() {
            let chunk = 1 + rng.below(if round % 2 == 0 { 8 } else { 300 });
            let end = (fed + chunk).min(stream.len());
            pending.extend_from_slice(&stream[fed..end]);
            fed = end;
            while let Some((range, total)) = d.next_frame(&pending).expect("valid stream") {
                out.push(pending[range].to_vec());
                pending.drain(..total);
            }
        }
        assert!(pending.is_empty());
        assert_eq!(out, vectors);
    }
}
