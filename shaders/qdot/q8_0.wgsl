// q8_0: the chunk's weights dotted with activations `xv(0..7)`, which the including kernel
// defines; `xs` holds the sums of each 16 activations of the call's chunks.
// sum_j w_j x_j = d * sum_j q_j x_j.
fn qdot(blk: u32, sbase: u32, xs: vec4<f32>) -> f32 {
    let d = unpack2x16float(ws[sbase + blk]).x;
    let lo = w[2u * blk];
    let hi = w[2u * blk + 1u];
    var s = 0.0;
    for (var i = 0u; i < 4u; i++) {
        s += dot(sbytes4(lo[i]), xv(i)) + dot(sbytes4(hi[i]), xv(i + 4u));
    }
    return d * s;
}
