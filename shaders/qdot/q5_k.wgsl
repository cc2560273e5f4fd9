// q5_k: the chunk's weights dotted with activations `xv(0..7)`, which the including kernel
// defines; `xs` holds the sums of the chunk's first and last 16 activations.
// sum_j w_j x_j = d * sc * sum_j q_j x_j - dmin * m * sum_j x_j.
fn qdot(blk: u32, sbase: u32, xs: vec2<f32>) -> f32 {
    let o = (blk >> 3u) * 11u;
    let j = blk & 7u;
    let hdr = w[o];
    let dm = unpack2x16float(hdr.x);
    let sm = scale_min_k4(hdr, j);
    let sh = (j & 1u) * 4u;
    var s = 0.0;
    for (var h = 0u; h < 2u; h++) {
        let q = w[o + 3u + (j >> 1u) * 2u + h];
        let qh = w[o + 1u + h];
        for (var i = 0u; i < 4u; i++) {
            // Assemble the four 5-bit values in one word, then unpack once.
            let packed = ((q[i] >> sh) & 0x0F0F0F0Fu) | (((qh[i] >> j) & 0x01010101u) << 4u);
            let v = bytes4(packed, 0u, 0xFFu);
            s += dot(vec4<f32>(v), xv(4u * h + i));
        }
    }
    return dm.x * sm.x * s - dm.y * sm.y * (xs.x + xs.y);
}
