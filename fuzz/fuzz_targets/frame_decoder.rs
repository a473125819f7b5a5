//! Feeds arbitrary bytes through the server's read path: FrameDecoder, then RequestHeader +
//! decode_request on every complete frame, and ConnectRequest::decode (the first frame of a
//! connection). Corpus seeds are the captured vectors (tests/fuzz.sh), which are frame *bodies*, so
//! every input is also decoded directly as a body. Successful decodes must re-encode stably.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rzk_proto::jute::{Jute, Reader, Writer};
use rzk_proto::records::RequestHeader;
use rzk_proto::{decode_request, ConnectRequest, FrameDecoder, DEFAULT_MAX_BUFFER};

fn body(b: &[u8]) {
    if let Ok(c) = ConnectRequest::decode(b) {
        let mut w = Writer::new();
        c.encode(&mut w);
        assert_eq!(ConnectRequest::decode(&w.buf).as_ref(), Ok(&c));
    }
    let mut r = Reader::new(b);
    if let Ok(h) = RequestHeader::decode(&mut r) {
        let _ = decode_request(h.op, &b[r.position()..]);
    }
}

fuzz_target!(|data: &[u8]| {
    body(data);

    // As a byte stream from a socket: consecutive length-prefixed frames until one is incomplete or
    // rejected (which closes the connection).
    for max in [DEFAULT_MAX_BUFFER, 64] {
        let d = FrameDecoder::new(max);
        let mut rest = data;
        while let Ok(Some((range, total))) = d.next_frame(rest) {
            assert!(range.start == 4 && range.end == total && total <= rest.len() && (total - 4) as u32 <= max);
            body(&rest[range]);
            rest = &rest[total..];
        }
    }
});
