// q4_0: the chunk's weights dotted with activations `xv(0..7)`, which the including kernel
// defines; `xs` holds the sums of each 16 activations of the call's chunks.
// sum_j w_j x_j = d * (sum_j q_j x_j - 8 * sum_j x_j): the offset costs one term per chunk.
fn qdot(blk: u32, sbase: u32, xs: vec4<f32>) -> f32 {
    let q = w[blk];
    let d = unpack2x16float(ws[sbase + blk]).x;
    var s = 0.0;
    for (var i = 0u; i < 4u; i++) {
        s += dot(nib4(q[i], 0u), xv(i)) + dot(nib4(q[i], 4u), xv(i + 4u));
    }
    return d * (s - 8.0 * (xs.x + xs.y));
}
