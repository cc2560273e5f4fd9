// F32: 32 floats are 8 vec4s.
fn dq32(blk: u32, sbase: u32) -> W32 {
    let o = blk * 8u;
    var r: W32;
    for (var i = 0u; i < 8u; i++) {
        r[i] = bitcast<vec4<f32>>(wv(o + i));
    }
    return r;
}
