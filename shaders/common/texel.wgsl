// Where the i-th 16-byte word of a texture-backed array lies: rows of TEXTURE_WIDTH texels
// (weight.rs; weights and staged activations share the layout). A power of two, so the
// division and remainder compile to a shift and a mask.
const TEXTURE_WIDTH: u32 = {{TEXTURE_WIDTH}}u;

fn texel(i: u32) -> vec2<u32> {
    return vec2<u32>(i % TEXTURE_WIDTH, i / TEXTURE_WIDTH);
}
