// q4_0: the chunk's weights dotted with activation vec4s 0..7 through the
// including kernel's `xdot`; `xs` holds the sums of each 16 activations of the call's chunks.
// sum_j w_j x_j = d * (sum_j q_j x_j - 8 * sum_j x_j): the offset costs one term per chunk.
fn qdot(blk: u32, sbase: u32, xs: XS, hd: HEAD) -> ACC {
    let q = wv(blk);
    let d = unpack2x16float(wu(sbase + blk)).x;
    var s = ACC();
    for (var i = 0u; i < 4u; i++) {
        s += xdot(nib4(q[i], 0u), i) + xdot(nib4(q[i], 4u), i + 4u);
    }
    return d * (s - 8.0 * (xs[0] + xs[1]));
}
