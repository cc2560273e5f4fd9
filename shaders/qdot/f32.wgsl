// f32: the chunk's weights dotted with activations `xv(0..7)`, which the including kernel
// defines; `xs` holds the sums of each 16 activations of the call's chunks.
// sum of the chunk's weights times the activations `xv(0..7)` (defined by the kernel).
fn qdot(blk: u32, sbase: u32, xs: vec4<f32>) -> f32 {
    let o = blk * 8u;
    var s = 0.0;
    for (var i = 0u; i < 8u; i++) {
        s += dot(bitcast<vec4<f32>>(w[o + i]), xv(i));
    }
    return s;
}
