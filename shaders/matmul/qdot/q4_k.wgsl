// q4_k: two sub-blocks (2g, 2g+1) per call, which share their 32 bytes of nibbles (low and
// high); activation vec4s 0..15 through the kernel's `xdot`, `xs` holds each 16's sum.
// sum_j w_j x_j = d * sc * sum_j q_j x_j - dmin * m * sum_j x_j, per sub-block.
// The super-block's header (d, dmin, the 12 scale bytes), read once for its four calls.
alias HEAD = vec4<u32>;
const HEAD_CHUNKS: u32 = 8u;

fn qhead(blk: u32, sbase: u32) -> HEAD {
    return wv((blk >> 3u) * 9u);
}

fn qdot(blk: u32, sbase: u32, xs: XS, hdr: HEAD) -> ACC {
    let o = (blk >> 3u) * 9u;
    let j = blk & 6u;
    let dm = unpack2x16float(hdr.x);
    let sa = scale_min_k4(hdr, j);
    let sb = scale_min_k4(hdr, j + 1u);
    let lo = wv(o + 1u + (j >> 1u) * 2u);
    let hi = wv(o + 2u + (j >> 1u) * 2u);
    var a = ACC();
    var b = ACC();
    // Two small loops rather than one: compilers unroll them (a four-token tile makes each
    // `xdot` large), which keeps the vector indices constant.
    for (var i = 0u; i < 4u; i++) {
        a += xdot(nib4(lo[i], 0u), i) + xdot(nib4(hi[i], 0u), i + 4u);
    }
    for (var i = 0u; i < 4u; i++) {
        b += xdot(nib4(lo[i], 4u), i + 8u) + xdot(nib4(hi[i], 4u), i + 12u);
    }
    return dm.x * (sa.x * a + sb.x * b) - dm.y * (sa.y * (xs[0] + xs[1]) + sb.y * (xs[2] + xs[3]));
}
