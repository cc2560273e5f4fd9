// Shared by every dequantizer: 8 consecutive weights of a row, and byte/nibble helpers.
// The including shader binds the packed weights as `w: array<u32>`.
struct W8 { a: vec4<f32>, b: vec4<f32> }

fn bytes4(q: u32, shift: u32, mask: u32) -> vec4<u32> {
    return vec4<u32>(q >> shift, q >> (shift + 8u), q >> (shift + 16u), q >> (shift + 24u)) & vec4<u32>(mask);
}

fn sbytes4(q: u32) -> vec4<f32> {
    let v = bitcast<vec4<i32>>(vec4<u32>(q << 24u, q << 16u, q << 8u, q));
    return vec4<f32>(v >> vec4<u32>(24u));
}
