// A product's activations (binding 1) as the storage buffer that holds them: row t of x
// (p.x_stride floats apart), vec4 i4.
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;

fn x_raw(t: u32, i4: u32) -> vec4<f32> {
    return x[t * (p.x_stride / 4u) + i4];
}
