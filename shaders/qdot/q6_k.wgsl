// q6_k: two quarters (qd, qd+1, qd even) of one half per call, sharing their 32 qh bytes
// (bit pairs qd and qd+1) and their scale word; each 16 weights has its own scale:
// sum_j w_j x_j = sum d * sc * (sum q x - 32 * sum x). `xdot` and `xs` from the kernel.
// Four 6-bit weights (0..63): low nibbles of `ql` from bit `lsh`, high bit pairs of `qh` from bit `hsh`.
fn q6(ql: u32, qh: u32, lsh: u32, hsh: u32) -> vec4<f32> {
    return vec4<f32>(bytes4(((ql >> lsh) & 0x0F0F0F0Fu) | (((qh >> hsh) & 0x03030303u) << 4u), 0u, 0xFFu));
}

fn qdot(blk: u32, sbase: u32, xs: XS) -> ACC {
    let o = (blk >> 3u) * 14u;
    let j = blk & 6u;
    let n = j >> 2u;
    let qd = j & 3u;
    // d and the scale word as single words: a vec4 load costs four on CPU implementations.
    let d = unpack2x16float(ws[(o + 13u) * 4u]).x;
    let sw = ws[(o + 12u) * 4u + n * 2u + qd / 2u];
    let sc = vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(sw << 24u, sw << 16u, sw << 8u, sw)) >> vec4<u32>(24u));
    let lsh = (qd >> 1u) * 4u;
    var s0 = ACC();
    var s1 = ACC();
    var s2 = ACC();
    var s3 = ACC();
    let hsh = qd * 2u;
    // The half's two 16-weight rows of quarters qd (s0, s1) and qd + 1 (s2, s3).
    let qa0 = w[o + n * 4u];
    let qb0 = w[o + n * 4u + 2u];
    let qh0 = w[o + 8u + n * 2u];
    for (var i = 0u; i < 4u; i++) {
        s0 += xdot(q6(qa0[i], qh0[i], lsh, hsh), i);
        s2 += xdot(q6(qb0[i], qh0[i], lsh, hsh + 2u), 8u + i);
    }
    let qa1 = w[o + n * 4u + 1u];
    let qb1 = w[o + n * 4u + 3u];
    let qh1 = w[o + 8u + n * 2u + 1u];
    for (var i = 0u; i < 4u; i++) {
        s1 += xdot(q6(qa1[i], qh1[i], lsh, hsh), 4u + i);
        s3 += xdot(q6(qb1[i], qh1[i], lsh, hsh + 2u), 12u + i);
    }
    // Scales: bytes 0, 1 for quarter qd's halves, 2, 3 for quarter qd + 1's.
    return d * (sc.x * (s0 - 32.0 * xs[0]) + sc.y * (s1 - 32.0 * xs[1]) + sc.z * (s2 - 32.0 * xs[2]) + sc.w * (s3 - 32.0 * xs[3]));
}
