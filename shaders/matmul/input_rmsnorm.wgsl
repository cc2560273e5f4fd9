// Product input stage with the RMSNorm fused: x / sqrt(mean(x^2) + eps) * gain, the scale
// computed once per token by every invocation (cheaper on CPU adapters than a launch; with
// staged activations x_stage.wgsl applies it once per token instead).
var<private> x_scale: array<f32, TT>;


// Tile slot s has a new token: its scale.
fn x_token(s: u32, lane: u32) {
    let k = p.chunks * 32u;
    x_scale[s] = 1.0 / sqrt(row_sum_squares(x_tok[s], k / 4u, lane) / f32(k) + bitcast<f32>(p.eps_bits));
}

fn x_in(s: u32, i4: u32) -> vec4<f32> {
    return x_raw(x_tok[s], i4) * x_scale[s] * gain[i4];
}
