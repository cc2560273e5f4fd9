// Q5_0, 6 words: [d | pad][qh: bit j is element j's 5th bit][16 bytes of nibbles];
// w = (q - 16) * d.
fn dq8(base: u32, c: u32) -> W8 {
    let sub = c & 3u;
    let o = base + (c >> 2u) * 6u;
    let d = unpack2x16float(w[o]).x;
    let hb = w[o + 1u] >> (sub * 8u);
    let qo = o + 2u + (sub & 1u) * 2u;
    let sh = (sub >> 1u) * 4u;
    let ha = (vec4<u32>(hb, hb >> 1u, hb >> 2u, hb >> 3u) & vec4<u32>(1u)) << vec4<u32>(4u);
    let hc = (vec4<u32>(hb >> 4u, hb >> 5u, hb >> 6u, hb >> 7u) & vec4<u32>(1u)) << vec4<u32>(4u);
    return W8(
        (vec4<f32>(bytes4(w[qo], sh, 0xFu) | ha) - 16.0) * d,
        (vec4<f32>(bytes4(w[qo + 1u], sh, 0xFu) | hc) - 16.0) * d,
    );
}
