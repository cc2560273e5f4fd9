// Activations for `qdot`, read from storage: each invocation loads the chunk's 32 values.
var<private> x_at: u32;

fn x_begin(xi: u32, lane: u32) {
    x_at = xi;
}

fn xv(i: u32) -> vec4<f32> {
    return x[x_at + i];
}
