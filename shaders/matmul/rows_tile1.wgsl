// One token per tile of the row-shaped product (matmul_rows.wgsl): sums are scalars.
const TT: u32 = 1u;
alias ACC = f32;
// One token's activation vec4.
alias XV = vec4<f32>;
// Each 16's activation sum.
alias XS = vec4<f32>;
// One sum per row of the invocation.
alias ROWS = vec4<f32>;

fn xv_make(v: array<vec4<f32>, TT>) -> XV {
    return v[0];
}

fn slot(a: ACC, s: u32) -> f32 {
    return a;
}
