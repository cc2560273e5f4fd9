// q4_k: two sub-blocks (2g, 2g+1) per call, which share their 32 bytes of nibbles (low and
// high); activations `xv(0..15)` come from the including kernel, `xs` holds each 16's sum.
// sum_j w_j x_j = d * sc * sum_j q_j x_j - dmin * m * sum_j x_j, per sub-block.
fn qdot(blk: u32, sbase: u32, xs: vec4<f32>) -> f32 {
    let o = (blk >> 3u) * 9u;
    let j = blk & 6u;
    let hdr = w[o];
    let dm = unpack2x16float(hdr.x);
    let sa = scale_min_k4(hdr, j);
    let sb = scale_min_k4(hdr, j + 1u);
    let lo = w[o + 1u + (j >> 1u) * 2u];
    let hi = w[o + 2u + (j >> 1u) * 2u];
    var a = 0.0;
    var b = 0.0;
    for (var i = 0u; i < 4u; i++) {
        a += dot(nib4(lo[i], 0u), xv(i)) + dot(nib4(hi[i], 0u), xv(i + 4u));
        b += dot(nib4(lo[i], 4u), xv(i + 8u)) + dot(nib4(hi[i], 4u), xv(i + 12u));
    }
    return dm.x * (sa.x * a + sb.x * b) - dm.y * (sa.y * (xs.x + xs.y) + sb.y * (xs.z + xs.w));
}
