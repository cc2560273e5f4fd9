// Product input stage: the activations as they are (x_raw: activations_*.wgsl).
fn x_token(s: u32, lane: u32) {}

// Tile slot s's token, vec4 i4.
fn x_in(s: u32, i4: u32) -> vec4<f32> {
    return x_raw(x_tok[s], i4);
}
