// Q8_0: 32 signed bytes per block and the f16 scale d; w = q * d.
fn dq32(blk: u32, sbase: u32) -> W32 {
    let d = unpack2x16float(wu(sbase + blk)).x;
    var r: W32;
    for (var h = 0u; h < 2u; h++) {
        let q = wv(2u * blk + h);
        for (var i = 0u; i < 4u; i++) {
            r[4u * h + i] = sbytes4(q[i]) * d;
        }
    }
    return r;
}
