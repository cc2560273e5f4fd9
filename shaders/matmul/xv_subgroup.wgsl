// Activations for `qdot`, shared through the subgroup: lane l reads the chunk's l-th vec4 of
// each token of the tile through `x_in` and the others take it by shuffle, so a chunk costs
// each invocation one read per token instead of eight (on CPU implementations a
// per-invocation load is the dominant cost). Needs subgroups of at least 8 invocations that
// step through the chunks together.
var<private> x_mine: array<vec4<f32>, TT>;
var<private> x_mine2: array<vec4<f32>, TT>;

fn x_begin(i4: u32, lane: u32) {
    for (var s = 0u; s < TT; s++) {
        x_mine[s] = x_in(s, i4 + (lane & 7u));
        if (CPQ == 2u) {
            x_mine2[s] = x_in(s, i4 + 8u + (lane & 7u));
        }
    }
}

// i < 8 * CPQ: the i-th vec4 of the call's chunks.
fn xv(i: u32) -> XV {
    var v: array<vec4<f32>, TT>;
    for (var s = 0u; s < TT; s++) {
        if (i < 8u) {
            v[s] = subgroupShuffle(x_mine[s], i);
        } else {
            v[s] = subgroupShuffle(x_mine2[s], i - 8u);
        }
    }
    return xv_make(v);
}

// Sum of squares of token t's raw input row of n4 vec4s, lanes taking every 8th vec4.
fn row_sum_squares(t: u32, n4: u32, lane: u32) -> f32 {
    var s = 0.0;
    for (var i = lane & 7u; i < n4; i += 8u) {
        let v = x_raw(t, i);
        s += dot(v, v);
    }
    // Lanes 8 and up (wider subgroups) repeat lanes 0-7: count each vec4 once.
    return subgroupAdd(select(0.0, s, lane < 8u));
}
