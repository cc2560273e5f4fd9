// y[t, y_offset + r] (+)= sum_k W[r, k] * x[t, k] for every token t of the block: one kernel for
// matrix-vector (decode) and matrix-matrix (prompt, verify) products, for GPUs: TPR invocations
// share a row, each taking every TPR-th 32-weight chunk, then a fixed reduction tree. Weights
// stay quantized; `dq32` (prepended per type) dequantizes in registers. Each output's
// reduction order depends only on K and the workgroup shape, never on the token count, so a
// position's result is bit-identical in a 1-token and a (k+1)-token pass (batch invariance)
// and in the wide form (matmul_wide.wgsl), which computes each token's sums the same way.
// This is the form measured on an NVIDIA H200 at 5.5 ms of products a Qwen2.5-1.5B decode
// pass (docs/perf.md): the dequantized chunk stays a value (`let`), never a private array the
// compiler may put in local memory. Parameters and bindings: matmul_bindings.wgsl.

const WG: u32 = {{WG}}u;
const RPW: u32 = {{RPW}}u;
const TPR: u32 = WG / RPW;
const TM: u32 = {{TM}}u;

var<workgroup> partial: array<f32, WG * TM>;

@compute @workgroup_size(WG)
fn main(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let row = (wid.x + wid.y * nwg.x) * RPW + lid / TPR;
    let lane = lid % TPR;
    let m = select(step.m, step.m_logits, p.count_sel == 1u);
    let row_ok = row < p.n;
    let xs = p.x_stride / 4u;
    for (var t0 = 0u; t0 < m; t0 += TM) {
        let tn = min(TM, m - t0);
        var acc: array<f32, TM>;
        if (row_ok) {
            for (var c = lane; c < p.chunks; c += TPR) {
                let wv = dq32(row * p.chunks + c, p.sbase);
                for (var t = 0u; t < tn; t++) {
                    let xi = (t0 + t) * xs + c * 8u;
                    var s = 0.0;
                    for (var i = 0u; i < 8u; i++) {
                        s += dot(wv[i], x[xi + i]);
                    }
                    acc[t] += s;
                }
            }
        }
        for (var t = 0u; t < TM; t++) {
            partial[t * WG + lid] = acc[t];
        }
        workgroupBarrier();
        for (var s = TPR / 2u; s > 0u; s >>= 1u) {
            if (lane < s) {
                for (var t = 0u; t < TM; t++) {
                    partial[t * WG + lid] += partial[t * WG + lid + s];
                }
            }
            workgroupBarrier();
        }
        if (lane == 0u && row_ok) {
            for (var t = 0u; t < tn; t++) {
                let yi = (t0 + t) * p.y_stride + p.y_offset + row;
                var v = partial[t * WG + lid];
                if (p.accumulate == 1u) {
                    v += y[yi];
                }
                y[yi] = v;
            }
        }
        workgroupBarrier();
    }
}
