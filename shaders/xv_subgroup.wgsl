// Activations for `qdot`, shared through the subgroup: lane l loads the chunk's l-th vec4 and
// the others take it by shuffle, so a chunk costs each invocation one load instead of eight
// (on CPU implementations a per-invocation load is the dominant cost). Needs subgroups of at
// least 8 invocations that step through the chunks together.
var<private> x_mine: vec4<f32>;

fn x_begin(xi: u32, lane: u32) {
    x_mine = x[xi + (lane & 7u)];
}

fn xv(i: u32) -> vec4<f32> {
    return subgroupShuffle(x_mine, i);
}
