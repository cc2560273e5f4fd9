// F16 as packed pairs (no shader-f16 needed): 32 halves are 4 vec4<u32>.
fn dq32(blk: u32, sbase: u32) -> W32 {
    let o = blk * 4u;
    var r: W32;
    for (var i = 0u; i < 4u; i++) {
        let q = wv(o + i);
        r[2u * i] = vec4<f32>(unpack2x16float(q.x), unpack2x16float(q.y));
        r[2u * i + 1u] = vec4<f32>(unpack2x16float(q.z), unpack2x16float(q.w));
    }
    return r;
}
