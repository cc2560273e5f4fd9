// All 32 weights of chunk `blk`.
fn dq32(blk: u32, sbase: u32) -> W32 {
    let raw = dq_raw(blk, sbase);
    var r: W32;
    for (var i = 0u; i < 8u; i++) {
        r[i] = dq_vec(raw, i);
    }
    return r;
}
