// Q8_0, 9 words: [d | pad][32 signed bytes]; w = q * d.
fn dq8(base: u32, c: u32) -> W8 {
    let o = base + (c >> 2u) * 9u;
    let d = unpack2x16float(w[o]).x;
    let qo = o + 1u + (c & 3u) * 2u;
    return W8(sbytes4(w[qo]) * d, sbytes4(w[qo + 1u]) * d);
}
