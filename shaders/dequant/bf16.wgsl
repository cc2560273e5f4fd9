// BF16 rows as packed pairs: a bf16 is the high half of an f32.
fn bf2(q: u32) -> vec2<f32> {
    return bitcast<vec2<f32>>(vec2<u32>(q << 16u, q & 0xFFFF0000u));
}
fn dq8(base: u32, c: u32) -> W8 {
    let o = base + c * 4u;
    return W8(vec4<f32>(bf2(w[o]), bf2(w[o + 1u])), vec4<f32>(bf2(w[o + 2u]), bf2(w[o + 3u])));
}
