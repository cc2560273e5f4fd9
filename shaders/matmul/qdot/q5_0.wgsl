// q5_0: the chunk's weights dotted with activation vec4s 0..7 through the
// including kernel's `xdot`; `xs` holds the sums of each 16 activations of the call's chunks.
// sum_j w_j x_j = d * (sum_j q_j x_j - 16 * sum_j x_j).
fn qdot(blk: u32, sbase: u32, xs: XS, hd: HEAD) -> ACC {
    let q = wv(blk);
    // The block's two scale words (d, high bits) share one 16-byte word: the scale region
    // starts at a multiple of four words (gpu_pack.rs), so one load serves both.
    let sw = wv((sbase >> 2u) + (blk >> 1u));
    let odd = (blk & 1u) == 1u;
    let d = unpack2x16float(select(sw.x, sw.z, odd)).x;
    let qh = select(sw.y, sw.w, odd);
    var s = ACC();
    for (var i = 0u; i < 4u; i++) {
        let lo = (vec4<u32>(qh >> (4u * i)) >> vec4<u32>(0u, 1u, 2u, 3u)) & vec4<u32>(1u);
        let hi = (vec4<u32>(qh >> (4u * i + 16u)) >> vec4<u32>(0u, 1u, 2u, 3u)) & vec4<u32>(1u);
        s += xdot(vec4<f32>(bytes4(q[i], 0u, 0xFu) | (lo << vec4<u32>(4u))), i);
        s += xdot(vec4<f32>(bytes4(q[i], 4u, 0xFu) | (hi << vec4<u32>(4u))), i + 4u);
    }
    return d * (s - 16.0 * (xs[0] + xs[1]));
}
