// The 6-bit scale and min of sub-block `j` of a Q4_K/Q5_K super-block whose 12 scale bytes
// start at word `o`.
fn kbyte(o: u32, i: u32) -> u32 {
    return (w[o + i / 4u] >> ((i % 4u) * 8u)) & 0xFFu;
}
fn scale_min_k4(o: u32, j: u32) -> vec2<f32> {
    if (j < 4u) {
        return vec2<f32>(f32(kbyte(o, j) & 63u), f32(kbyte(o, j + 4u) & 63u));
    }
    let hi = kbyte(o, j + 4u);
    return vec2<f32>(
        f32((hi & 0xFu) | ((kbyte(o, j - 4u) >> 6u) << 4u)),
        f32((hi >> 4u) | ((kbyte(o, j) >> 6u) << 4u)),
    );
}
