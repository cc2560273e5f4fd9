// Q4_K: 256-weight super-blocks of 9 vec4s: [d, dmin, 12 scale bytes][128 bytes of nibbles].
// Sub-block j (32 weights) uses bytes 32 * (j / 2).. of the nibbles, low nibbles for even j,
// high for odd; w = d * sc_j * q - dmin * m_j.
fn dq32(blk: u32, sbase: u32) -> W32 {
    let o = (blk >> 3u) * 9u;
    let j = blk & 7u;
    let hdr = wv(o);
    let dm = unpack2x16float(hdr.x);
    let sm = scale_min_k4(hdr, j);
    let d = dm.x * sm.x;
    let m = dm.y * sm.y;
    let sh = (j & 1u) * 4u;
    var r: W32;
    for (var h = 0u; h < 2u; h++) {
        let q = wv(o + 1u + (j >> 1u) * 2u + h);
        for (var i = 0u; i < 4u; i++) {
            r[4u * h + i] = d * nib4(q[i], sh) - m;
        }
    }
    return r;
}
