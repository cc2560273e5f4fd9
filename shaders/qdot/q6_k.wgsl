// q6_k: the chunk's weights dotted with activations `xv(0..7)`, which the including kernel
// defines; `xs` holds the sums of the chunk's first and last 16 activations.
// Each 16-weight half has its own scale: sum_j w_j x_j = sum_h d * sc_h * (sum q x - 32 * sum x).
fn qdot(blk: u32, sbase: u32, xs: vec2<f32>) -> f32 {
    let o = (blk >> 3u) * 14u;
    let j = blk & 7u;
    let n = j >> 2u;
    let qd = j & 3u;
    // d and the scale word as single words: a vec4 load costs four on CPU implementations.
    let d = unpack2x16float(ws[(o + 13u) * 4u]).x;
    let lsh = (qd >> 1u) * 4u;
    let hsh = qd * 2u;
    var r = 0.0;
    for (var h = 0u; h < 2u; h++) {
        let ql = w[o + n * 4u + (qd & 1u) * 2u + h];
        let qh = w[o + 8u + n * 2u + h];
        let si = n * 8u + qd * 2u + h;
        let sc = f32(bitcast<i32>(ws[(o + 12u) * 4u + si / 4u] << (24u - (si % 4u) * 8u)) >> 24u);
        var s = 0.0;
        for (var i = 0u; i < 4u; i++) {
            // Assemble the four 6-bit values in one word, then unpack once.
            let packed = ((ql[i] >> lsh) & 0x0F0F0F0Fu) | (((qh[i] >> hsh) & 0x03030303u) << 4u);
            let q = bytes4(packed, 0u, 0xFFu);
            s += dot(vec4<f32>(q), xv(4u * h + i));
        }
        r += d * sc * (s - 32.0 * xs[h]);
    }
    return r;
}
