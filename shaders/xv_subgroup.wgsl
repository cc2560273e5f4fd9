// Activations for `qdot`, shared through the subgroup: lane l reads the chunk's l-th vec4
// through `x_in` and the others take it by shuffle, so a chunk costs each invocation one read
// instead of eight (on CPU implementations a per-invocation load is the dominant cost). Needs
// subgroups of at least 8 invocations that step through the chunks together.
var<private> x_mine: vec4<f32>;
var<private> x_mine2: vec4<f32>;

fn x_begin(t: u32, i4: u32, lane: u32) {
    x_mine = x_in(t, i4 + (lane & 7u));
    if (CPQ == 2u) {
        x_mine2 = x_in(t, i4 + 8u + (lane & 7u));
    }
}

// i < 8 * CPQ: the i-th vec4 of the call's chunks.
fn xv(i: u32) -> vec4<f32> {
    if (i < 8u) {
        return subgroupShuffle(x_mine, i);
    }
    return subgroupShuffle(x_mine2, i - 8u);
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
