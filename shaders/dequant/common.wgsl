// Shared by every dequantizer. The including shader binds a weight part twice, as
// `w: array<vec4<u32>>` (16-byte loads) and `ws: array<u32>` (scale words) (see engine/src/formats/gpu_pack.rs for the layout); `dq32(blk, sbase)`
// returns the 32 weights of chunk `blk` (row * chunks_per_row + chunk) as 8 vec4s, `sbase`
// being the first word of the part's scale region.
alias W32 = array<vec4<f32>, 8>;


// The four bytes of `q`, shifted right by `shift` and masked.
fn bytes4(q: u32, shift: u32, mask: u32) -> vec4<u32> {
    return (vec4<u32>(q) >> vec4<u32>(shift, shift + 8u, shift + 16u, shift + 24u)) & vec4<u32>(mask);
}

fn nib4(q: u32, shift: u32) -> vec4<f32> {
    return vec4<f32>(bytes4(q, shift, 0xFu));
}

fn sbytes4(q: u32) -> vec4<f32> {
    let v = bitcast<vec4<i32>>(vec4<u32>(q << 24u, q << 16u, q << 8u, q));
    return vec4<f32>(v >> vec4<u32>(24u));
}
