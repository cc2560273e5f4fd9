// BF16 as packed pairs: a bf16 is the high half of an f32.
fn bf2(q: u32) -> vec2<f32> {
    return bitcast<vec2<f32>>(vec2<u32>(q << 16u, q & 0xFFFF0000u));
}
fn dq32(blk: u32, sbase: u32) -> W32 {
    let o = blk * 4u;
    var r: W32;
    for (var i = 0u; i < 4u; i++) {
        let q = wv(o + i);
        r[2u * i] = vec4<f32>(bf2(q.x), bf2(q.y));
        r[2u * i + 1u] = vec4<f32>(bf2(q.z), bf2(q.w));
    }
    return r;
}
