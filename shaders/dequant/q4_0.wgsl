// Q4_0: 16 quant bytes per block (weight j < 16 is the low nibble of byte j, weight j + 16 its
// high nibble) and the f16 scale d in the scale region; w = (q - 8) * d.
fn dq32(blk: u32, sbase: u32) -> W32 {
    let q = wv(blk);
    let d = unpack2x16float(wu(sbase + blk)).x;
    var r: W32;
    for (var i = 0u; i < 4u; i++) {
        r[i] = (nib4(q[i], 0u) - 8.0) * d;
        r[i + 4u] = (nib4(q[i], 4u) - 8.0) * d;
    }
    return r;
}
