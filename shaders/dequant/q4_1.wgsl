// Q4_1: like Q4_0 with a min: the scale word holds (d, m); w = q * d + m.
fn dq32(blk: u32, sbase: u32) -> W32 {
    let q = wv(blk);
    let dm = unpack2x16float(wu(sbase + blk));
    var r: W32;
    for (var i = 0u; i < 4u; i++) {
        r[i] = nib4(q[i], 0u) * dm.x + dm.y;
        r[i + 4u] = nib4(q[i], 4u) * dm.x + dm.y;
    }
    return r;
}
