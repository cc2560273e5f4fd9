// q5_k: two sub-blocks (2g, 2g+1) per call, sharing their nibble bytes and the 32 qh bytes
// (bits 2g and 2g+1); activation vec4s 0..15 through the kernel's `xdot`, `xs` each 16's sum.
// The super-block's header (d, dmin, the 12 scale bytes), read once for its four calls.
alias HEAD = vec4<u32>;
const HEAD_CHUNKS: u32 = 8u;

fn qhead(blk: u32, sbase: u32) -> HEAD {
    return wv((blk >> 3u) * 11u);
}

fn qdot(blk: u32, sbase: u32, xs: XS, hdr: HEAD) -> ACC {
    let o = (blk >> 3u) * 11u;
    let j = blk & 6u;
    let dm = unpack2x16float(hdr.x);
    let sa = scale_min_k4(hdr, j);
    let sb = scale_min_k4(hdr, j + 1u);
    var a = ACC();
    var b = ACC();
    for (var h = 0u; h < 2u; h++) {
        let q = wv(o + 3u + (j >> 1u) * 2u + h);
        let qh = wv(o + 1u + h);
        for (var i = 0u; i < 4u; i++) {
            let va = (q[i] & 0x0F0F0F0Fu) | (((qh[i] >> j) & 0x01010101u) << 4u);
            let vb = ((q[i] >> 4u) & 0x0F0F0F0Fu) | (((qh[i] >> (j + 1u)) & 0x01010101u) << 4u);
            a += xdot(vec4<f32>(bytes4(va, 0u, 0xFFu)), 4u * h + i);
            b += xdot(vec4<f32>(bytes4(vb, 0u, 0xFFu)), 8u + 4u * h + i);
        }
    }
    return dm.x * (sa.x * a + sb.x * b) - dm.y * (sa.y * (xs[0] + xs[1]) + sb.y * (xs[2] + xs[3]));
}
