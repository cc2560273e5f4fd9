// f32: the chunk's weights dotted with activation vec4s 0..7 through the
// including kernel's `xdot`; `xs` holds the sums of each 16 activations of the call's chunks.
// sum of the chunk's weights times the activations.
fn qdot(blk: u32, sbase: u32, xs: XS, hd: HEAD) -> ACC {
    let o = blk * 8u;
    var s = ACC();
    for (var i = 0u; i < 8u; i++) {
        s += xdot(bitcast<vec4<f32>>(wv(o + i)), i);
    }
    return s;
}
