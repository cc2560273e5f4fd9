// Product input stage with the gated activation fused: input rows are [gate | up] (twice the
// product's width) and the product sees silu(gate) * up.

fn x_token(s: u32, lane: u32) {}

fn x_in(s: u32, i4: u32) -> vec4<f32> {
    let g = x_raw(x_tok[s], i4);
    return g / (1.0 + exp(-g)) * x_raw(x_tok[s], i4 + p.chunks * 8u);
}
