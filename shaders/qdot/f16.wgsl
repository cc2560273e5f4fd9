// f16: the chunk's weights dotted with activations `xv(0..7)`, which the including kernel
// defines; `xs` holds the sums of each 16 activations of the call's chunks.
// sum of the chunk's weights times the activations `xv(0..7)` (defined by the kernel).
fn qdot(blk: u32, sbase: u32, xs: vec4<f32>) -> f32 {
    let o = blk * 4u;
    var s = 0.0;
    for (var i = 0u; i < 4u; i++) {
        let q = w[o + i];
        s += dot(vec4<f32>(unpack2x16float(q.x), unpack2x16float(q.y)), xv(2u * i));
        s += dot(vec4<f32>(unpack2x16float(q.z), unpack2x16float(q.w)), xv(2u * i + 1u));
    }
    return s;
}
