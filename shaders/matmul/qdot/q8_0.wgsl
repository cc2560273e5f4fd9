// q8_0: the chunk's weights dotted with activation vec4s 0..7 through the
// including kernel's `xdot`; `xs` holds the sums of each 16 activations of the call's chunks.
// sum_j w_j x_j = d * sum_j q_j x_j.
fn qdot(blk: u32, sbase: u32, xs: XS, hd: HEAD) -> ACC {
    let d = unpack2x16float(wu(sbase + blk)).x;
    let lo = wv(2u * blk);
    let hi = wv(2u * blk + 1u);
    var s = ACC();
    for (var i = 0u; i < 4u; i++) {
        s += xdot(sbytes4(lo[i]), i) + xdot(sbytes4(hi[i]), i + 4u);
    }
    return d * s;
}
