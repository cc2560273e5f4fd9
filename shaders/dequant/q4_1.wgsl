// Q4_1, 5 words: [d | m][16 bytes of nibbles]; w = q * d + m.
fn dq8(base: u32, c: u32) -> W8 {
    let sub = c & 3u;
    let o = base + (c >> 2u) * 5u;
    let dm = unpack2x16float(w[o]);
    let qo = o + 1u + (sub & 1u) * 2u;
    let sh = (sub >> 1u) * 4u;
    return W8(
        vec4<f32>(bytes4(w[qo], sh, 0xFu)) * dm.x + dm.y,
        vec4<f32>(bytes4(w[qo + 1u], sh, 0xFu)) * dm.x + dm.y,
    );
}
