// Four tokens per tile of the row-shaped product (matmul_rows.wgsl), for blocks: each decoded
// weight vec4 meets four tokens' activations, so decoding costs a quarter per token.
const TT: u32 = 4u;
// One sum per token.
alias ACC = vec4<f32>;
// Four tokens' activation vec4s, transposed: column j is component j of each token.
alias XV = mat4x4<f32>;
// Column k: the k-th 16's activation sum of each token.
alias XS = mat4x4<f32>;
// Column r: row r's sums.
alias ROWS = mat4x4<f32>;

fn xv_make(v: array<vec4<f32>, TT>) -> XV {
    return transpose(mat4x4<f32>(v[0], v[1], v[2], v[3]));
}

fn slot(a: ACC, s: u32) -> f32 {
    return a[s];
}
