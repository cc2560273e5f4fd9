// Q4_0, GPU block of 5 words: [d | pad][16 bytes of nibbles]; element j<16 is the low nibble
// of byte j, element j+16 its high nibble; w = (q - 8) * d.
fn dq8(base: u32, c: u32) -> W8 {
    let sub = c & 3u;
    let o = base + (c >> 2u) * 5u;
    let d = unpack2x16float(w[o]).x;
    let qo = o + 1u + (sub & 1u) * 2u;
    let sh = (sub >> 1u) * 4u;
    return W8(
        (vec4<f32>(bytes4(w[qo], sh, 0xFu)) - 8.0) * d,
        (vec4<f32>(bytes4(w[qo + 1u], sh, 0xFu)) - 8.0) * d,
    );
}
