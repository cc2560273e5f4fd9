// Q6_K: 14 vec4s per super-block (engine/src/formats/quant/q6_k.rs `pack_group`): four 3-vec4
// pairs, then [16 signed scales][d, padding]. Sub-block j covers half n = j / 4, quarter
// qd = j % 4, in pair c = 2n + qd / 2 as its nibble (qd % 2) * 4; weight l < 16 in the pair's
// vec4 0, l >= 16 in vec4 1 (byte l % 16), its high two bits at bit (qd % 2) * 2 + (l / 16) * 4
// of byte l % 16 of vec4 2; scale n*8 + qd*2 + l/16; w = d * sc * (q - 32).
fn dq32(blk: u32, sbase: u32) -> W32 {
    let o = (blk >> 3u) * 14u;
    let j = blk & 7u;
    let n = j >> 2u;
    let qd = j & 3u;
    let d = unpack2x16float(wv(o + 13u).x).x;
    let scales = wv(o + 12u);
    let c = n * 2u + (qd >> 1u);
    let lsh = (qd & 1u) * 4u;
    let qh = wv(o + c * 3u + 2u);
    var r: W32;
    for (var h = 0u; h < 2u; h++) {
        let ql = wv(o + c * 3u + h);
        let hsh = (qd & 1u) * 2u + h * 4u;
        let si = n * 8u + qd * 2u + h;
        let sc = f32(bitcast<i32>(scales[si / 4u] << (24u - (si % 4u) * 8u)) >> 24u);
        let ds = d * sc;
        for (var i = 0u; i < 4u; i++) {
            let q = bytes4(ql[i], lsh, 0xFu) | (bytes4(qh[i], hsh, 3u) << vec4<u32>(4u));
            r[4u * h + i] = ds * (vec4<f32>(q) - 32.0);
        }
    }
    return r;
}
