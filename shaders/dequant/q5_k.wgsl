// Q5_K, 44 words: [d | dmin][12 scale bytes][32 bytes qh][128 bytes of nibbles]; like Q4_K
// with a 5th bit: bit (2 * group + high) of qh byte l belongs to weight l of that half-group.
fn dq8(base: u32, c: u32) -> W8 {
    let sub = c & 31u;
    let o = base + (c >> 5u) * 44u;
    let g = sub >> 3u;
    let h = (sub >> 2u) & 1u;
    let dm = unpack2x16float(w[o]);
    let sm = scale_min_k4(o + 1u, g * 2u + h);
    let d = dm.x * sm.x;
    let m = dm.y * sm.y;
    let bit = g * 2u + h;
    let ho = o + 4u + (sub & 3u) * 2u;
    let qo = o + 12u + g * 8u + (sub & 3u) * 2u;
    let ha = bytes4(w[ho], bit, 1u) << vec4<u32>(4u);
    let hb = bytes4(w[ho + 1u], bit, 1u) << vec4<u32>(4u);
    return W8(
        d * vec4<f32>(bytes4(w[qo], h * 4u, 0xFu) | ha) - m,
        d * vec4<f32>(bytes4(w[qo + 1u], h * 4u, 0xFu) | hb) - m,
    );
}
