// Q4_K, 36 words: [d | dmin][12 scale bytes][128 bytes of nibbles]. 256 weights in 4 groups
// of 64: a group's 32 bytes give its first 32 weights (low nibbles) and last 32 (high);
// w = d * sc * q - dmin * m.
fn dq8(base: u32, c: u32) -> W8 {
    let sub = c & 31u;
    let o = base + (c >> 5u) * 36u;
    let g = sub >> 3u;
    let h = (sub >> 2u) & 1u;
    let dm = unpack2x16float(w[o]);
    let sm = scale_min_k4(o + 1u, g * 2u + h);
    let d = dm.x * sm.x;
    let m = dm.y * sm.y;
    let qo = o + 4u + g * 8u + (sub & 3u) * 2u;
    return W8(
        d * vec4<f32>(bytes4(w[qo], h * 4u, 0xFu)) - m,
        d * vec4<f32>(bytes4(w[qo + 1u], h * 4u, 0xFu)) - m,
    );
}
