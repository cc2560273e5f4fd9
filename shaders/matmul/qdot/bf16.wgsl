// bf16: the chunk's weights dotted with activation vec4s 0..7 through the
// including kernel's `xdot`; `xs` holds the sums of each 16 activations of the call's chunks.
// sum of the chunk's weights times the activations.
fn qdot(blk: u32, sbase: u32, xs: XS, hd: HEAD) -> ACC {
    let o = blk * 4u;
    var s = ACC();
    for (var i = 0u; i < 4u; i++) {
        let q = wv(o + i);
        s += xdot(vec4<f32>(bf2(q.x), bf2(q.y)), 2u * i);
        s += xdot(vec4<f32>(bf2(q.z), bf2(q.w)), 2u * i + 1u);
    }
    return s;
}
