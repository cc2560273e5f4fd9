// The 6-bit scale and min of sub-block `j` of a Q4_K/Q5_K super-block, from the header vec4
// (x: d and dmin; y, z, w: the 12 scale bytes). Branch-free, with no dynamic vector indexing
// (both are slow on CPU implementations):
// j < 4: scale = y[j] & 63, min = z[j] & 63;
// j >= 4: scale = (w[j-4] & 15) | (y[j-4] >> 6) << 4, min = (w[j-4] >> 4) | (z[j-4] >> 6) << 4.
fn scale_min_k4(hdr: vec4<u32>, j: u32) -> vec2<f32> {
    let sh = (j & 3u) * 8u;
    let y = (hdr.y >> sh) & 0xFFu;
    let z = (hdr.z >> sh) & 0xFFu;
    let w4 = (hdr.w >> sh) & 0xFFu;
    let lo = vec2<u32>(y & 63u, z & 63u);
    let hi = vec2<u32>((w4 & 0xFu) | ((y >> 6u) << 4u), (w4 >> 4u) | ((z >> 6u) << 4u));
    return vec2<f32>(select(hi, lo, j < 4u));
}
