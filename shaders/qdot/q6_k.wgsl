// q6_k: two quarters (qd, qd+1, qd even) of one half per call, sharing their 32 qh bytes
// (bit pairs qd and qd+1) and their scale word; each 16 weights has its own scale:
// sum_j w_j x_j = sum d * sc * (sum q x - 32 * sum x). `xv(0..15)`, `xs` from the kernel.
fn qdot(blk: u32, sbase: u32, xs: vec4<f32>) -> f32 {
    let o = (blk >> 3u) * 14u;
    let j = blk & 6u;
    let n = j >> 2u;
    let qd = j & 3u;
    // d and the scale word as single words: a vec4 load costs four on CPU implementations.
    let d = unpack2x16float(ws[(o + 13u) * 4u]).x;
    let sw = ws[(o + 12u) * 4u + n * 2u + qd / 2u];
    let sc = vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(sw << 24u, sw << 16u, sw << 8u, sw)) >> vec4<u32>(24u));
    let lsh = (qd >> 1u) * 4u;
    var s = vec4<f32>(0.0);
    for (var h = 0u; h < 2u; h++) {
        let qa = w[o + n * 4u + h];
        let qb = w[o + n * 4u + 2u + h];
        let qh = w[o + 8u + n * 2u + h];
        for (var i = 0u; i < 4u; i++) {
            let pa = ((qa[i] >> lsh) & 0x0F0F0F0Fu) | (((qh[i] >> (qd * 2u)) & 0x03030303u) << 4u);
            let pb = ((qb[i] >> lsh) & 0x0F0F0F0Fu) | (((qh[i] >> (qd * 2u + 2u)) & 0x03030303u) << 4u);
            s[h] += dot(vec4<f32>(bytes4(pa, 0u, 0xFFu)), xv(4u * h + i));
            s[2u + h] += dot(vec4<f32>(bytes4(pb, 0u, 0xFFu)), xv(8u + 4u * h + i));
        }
    }
    // Scales: bytes 0, 1 for quarter qd's halves, 2, 3 for quarter qd + 1's.
    return d * dot(sc, s - 32.0 * xs);
}
