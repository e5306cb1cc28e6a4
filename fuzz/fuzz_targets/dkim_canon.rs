#![no_main]
//! Body canonicalization: streaming in fuzzed chunk sizes equals one-shot,
//! for both algorithms and both line-ending modes; header canonicalization
//! always ends with CRLF.
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sender_auth::dkim::canon::{
    BodyCanonicalizer, canonicalize_body, canonicalize_header,
};
use sender_auth::dkim::{BodyCanon, HeaderCanon, LineEndings};

#[derive(Arbitrary, Debug)]
struct Input {
    relaxed: bool,
    bare_lf: bool,
    chunks: Vec<u8>,
    body: Vec<u8>,
}

fuzz_target!(|i: Input| {
    let canon = if i.relaxed { BodyCanon::Relaxed } else { BodyCanon::Simple };
    let endings = if i.bare_lf { LineEndings::BareLfAsCrlf } else { LineEndings::Crlf };
    let whole = canonicalize_body(canon, endings, &i.body);
    let mut streamed = Vec::new();
    let mut c = BodyCanonicalizer::new(canon, endings);
    let mut rest = &i.body[..];
    let mut k = 0;
    while !rest.is_empty() {
        let n = if i.chunks.is_empty() { 1 } else { i.chunks[k % i.chunks.len()] as usize };
        k += 1;
        let n = n.min(rest.len());
        c.update(&rest[..n], &mut streamed); // n == 0 feeds an empty chunk
        rest = &rest[n..];
        if k > 100_000 {
            c.update(rest, &mut streamed);
            break;
        }
    }
    c.finish(&mut streamed);
    assert_eq!(whole, streamed, "streaming != one-shot");
    // simple: the empty body is one CRLF; relaxed: empty; otherwise ends in CRLF
    match canon {
        BodyCanon::Simple => assert!(whole.ends_with(b"\r\n")),
        BodyCanon::Relaxed => assert!(whole.is_empty() || whole.ends_with(b"\r\n")),
    }
    assert!(whole.len() <= 2 * i.body.len() + 2);
    for hc in [HeaderCanon::Simple, HeaderCanon::Relaxed] {
        let mut out = Vec::new();
        canonicalize_header(hc, endings, &i.body, &mut out);
        assert!(out.ends_with(b"\r\n"));
    }
});
