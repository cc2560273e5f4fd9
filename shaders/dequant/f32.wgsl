// F32 rows, read 8 at a time.
fn dq8(base: u32, c: u32) -> W8 {
    let o = base + c * 8u;
    return W8(
        bitcast<vec4<f32>>(vec4<u32>(w[o], w[o + 1u], w[o + 2u], w[o + 3u])),
        bitcast<vec4<f32>>(vec4<u32>(w[o + 4u], w[o + 5u], w[o + 6u], w[o + 7u])),
    );
}
