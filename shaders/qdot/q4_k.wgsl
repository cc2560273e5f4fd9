// q4_k: the chunk's weights dotted with activations `xv(0..7)`, which the including kernel
// defines; `xs` holds the sums of the chunk's first and last 16 activations.
// sum_j w_j x_j = d * sc * sum_j q_j x_j - dmin * m * sum_j x_j.
fn qdot(blk: u32, sbase: u32, xs: vec2<f32>) -> f32 {
    let o = (blk >> 3u) * 9u;
    let j = blk & 7u;
    let hdr = w[o];
    let dm = unpack2x16float(hdr.x);
    let sm = scale_min_k4(hdr, j);
    let sh = (j & 1u) * 4u;
    let lo = w[o + 1u + (j >> 1u) * 2u];
    let hi = w[o + 2u + (j >> 1u) * 2u];
    var s = 0.0;
    for (var i = 0u; i < 4u; i++) {
        s += dot(nib4(lo[i], sh), xv(i)) + dot(nib4(hi[i], sh), xv(i + 4u));
    }
    return dm.x * sm.x * s - dm.y * sm.y * (xs.x + xs.y);
}
