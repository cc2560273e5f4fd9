// q4_1: the chunk's weights dotted with activations `xv(0..7)`, which the including kernel
// defines; `xs` holds the sums of each 16 activations of the call's chunks.
// sum_j w_j x_j = d * sum_j q_j x_j + m * sum_j x_j.
fn qdot(blk: u32, sbase: u32, xs: vec4<f32>) -> f32 {
    let q = w[blk];
    let dm = unpack2x16float(ws[sbase + blk]);
    var s = 0.0;
    for (var i = 0u; i < 4u; i++) {
        s += dot(nib4(q[i], 0u), xv(i)) + dot(nib4(q[i], 4u), xv(i + 4u));
    }
    return dm.x * s + dm.y * (xs.x + xs.y);
}
