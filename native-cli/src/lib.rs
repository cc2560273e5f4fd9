//! What `cospec serve` parses from other programs (request bodies, stop strings), as a
//! library: the server uses it, and so do the fuzz target and its smoke test.

#[path = "serve/api.rs"]
pub mod serve_api;
#[path = "serve/stop.rs"]
pub mod serve_stop;

/// Fuzz target: one request body (the first byte picks chat or text completions) is parsed,
/// and its stop strings filter a stream of pieces; nothing may panic or take long.
pub fn fuzz_request(data: &[u8]) {
    let Some((&kind, body)) = data.split_first() else { return };
    let Ok(p) = serve_api::parse(body, kind & 1 == 1) else { return };
    let mut filter = serve_stop::StopFilter::new(p.stop);
    for piece in ["The ", "answer", " is", " 4", "2.\n\n", "\u{e9}t\u{e9} ", "\u{1F600}", "aaaa"] {
        let _ = filter.push(piece);
    }
    let _ = filter.finish();
}
