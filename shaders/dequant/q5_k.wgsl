// Q5_K: 11 vec4s: [d, dmin, 12 scale bytes][32 bytes qh][128 bytes of nibbles]; like Q4_K with
// a 5th bit: bit j of qh byte l belongs to weight l of sub-block j.
fn dq32(blk: u32, sbase: u32) -> W32 {
    let o = (blk >> 3u) * 11u;
    let j = blk & 7u;
    let hdr = wv(o);
    let dm = unpack2x16float(hdr.x);
    let sm = scale_min_k4(hdr, j);
    let d = dm.x * sm.x;
    let m = dm.y * sm.y;
    let sh = (j & 1u) * 4u;
    var r: W32;
    for (var h = 0u; h < 2u; h++) {
        let q = wv(o + 3u + (j >> 1u) * 2u + h);
        let qh = wv(o + 1u + h);
        for (var i = 0u; i < 4u; i++) {
            let hb = bytes4(qh[i], j, 1u) << vec4<u32>(4u);
            r[4u * h + i] = d * vec4<f32>(bytes4(q[i], sh, 0xFu) | hb) - m;
        }
    }
    return r;
}
