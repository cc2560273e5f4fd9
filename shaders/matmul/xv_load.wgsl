// Activations for `qdot`, read through `x_in` (the product's input stage): each invocation
// reads the chunk's values itself, for each token of its tile.
var<private> x_at: u32;

fn x_begin(i4: u32, lane: u32) {
    x_at = i4;
}

fn xv(i: u32) -> XV {
    var v: array<vec4<f32>, TT>;
    for (var s = 0u; s < TT; s++) {
        v[s] = opaque(x_in(s, x_at + i));
    }
    return xv_make(v);
}

// `v`, through a select the compiler cannot resolve (p.zero is 0 at run time). Mesa's NIR
// rewrites inexact float expressions (factoring shared terms, moving constants), and the
// products around a fused input stage's multiplications take different shapes in a one-token
// and a four-token kernel: without this barrier the two rounded the same token differently
// (the subgroup shape needs none: a shuffle is already opaque).
fn opaque(v: vec4<f32>) -> vec4<f32> {
    return select(v, vec4<f32>(0.0), p.zero == 1u);
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
