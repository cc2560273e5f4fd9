// F16 rows as packed pairs: no shader-f16 needed.
fn dq8(base: u32, c: u32) -> W8 {
    let o = base + c * 4u;
    return W8(
        vec4<f32>(unpack2x16float(w[o]), unpack2x16float(w[o + 1u])),
        vec4<f32>(unpack2x16float(w[o + 2u]), unpack2x16float(w[o + 3u])),
    );
}
