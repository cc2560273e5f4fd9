// Activations for `qdot`, read through `x_in` (the product's input stage): each invocation
// reads the chunk's 32 values itself.
var<private> x_tok: u32;
var<private> x_at: u32;

fn x_begin(t: u32, i4: u32, lane: u32) {
    x_tok = t;
    x_at = i4;
}

fn xv(i: u32) -> vec4<f32> {
    return x_in(x_tok, x_at + i);
}

// Sum of squares of token t's raw input row of n4 vec4s (for a fused RMSNorm).
fn row_sum_squares(t: u32, n4: u32, lane: u32) -> f32 {
    var s = 0.0;
    for (var i = 0u; i < n4; i++) {
        let v = x_raw(t, i);
        s += dot(v, v);
    }
    return s;
}
