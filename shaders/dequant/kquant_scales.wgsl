// The 6-bit scale and min of sub-block `j` of a Q4_K/Q5_K super-block, from the header vec4
// (x: d and dmin; y, z, w: the 12 scale bytes).
fn kbyte(hdr: vec4<u32>, i: u32) -> u32 {
    return (hdr[1u + i / 4u] >> ((i % 4u) * 8u)) & 0xFFu;
}
fn scale_min_k4(hdr: vec4<u32>, j: u32) -> vec2<f32> {
    if (j < 4u) {
        return vec2<f32>(f32(kbyte(hdr, j) & 63u), f32(kbyte(hdr, j + 4u) & 63u));
    }
    let hi = kbyte(hdr, j + 4u);
    return vec2<f32>(
        f32((hi & 0xFu) | ((kbyte(hdr, j - 4u) >> 6u) << 4u)),
        f32((hi >> 4u) | ((kbyte(hdr, j) >> 6u) << 4u)),
    );
}
