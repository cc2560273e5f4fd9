// The cooperative product's wide form (matmul.rs `WideTile`) for long launches: each token's
// sums are matmul.wgsl's, operation for operation, and each output's reduction order depends
// only on K and TPR, so a position's result is the narrow form's bit for bit. The tile's loops
// run over the constant TM, guarded by the tile's token count, so compilers can unroll them
// and keep the accumulators in registers, and the reduction touches only the tile's tokens;
// with RPI > 1 each invocation holds RPI rows (same lane, same chunks) and reads each chunk of
// a token's activations once for all of them. Off by default until measured per GPU.
// Parameters and bindings: matmul_bindings.wgsl.

const WG: u32 = {{WG}}u;
const RPW: u32 = {{RPW}}u;
const RPI: u32 = {{RPI}}u;
const TPR: u32 = WG * RPI / RPW;
const TM: u32 = {{TM}}u;
const WIDE: bool = {{WIDE}}u == 1u;

var<workgroup> partial: array<f32, WG * TM>;

@compute @workgroup_size(WG)
fn main(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    // Row r of this invocation: the workgroup's RPW rows, RPW / RPI apart.
    let first = (wid.x + wid.y * nwg.x) * RPW + lid / TPR;
    let lane = lid % TPR;
    let m = select(step.m, step.m_logits, p.count_sel == 1u);
    let xs = p.x_stride / 4u;
    for (var t0 = 0u; t0 < m; t0 += TM) {
        let tn = min(TM, m - t0);
        // Loop bounds: the tile's tokens, or the constant TM with each token guarded.
        let tile = select(tn, TM, WIDE);
        let reduced = select(TM, tn, WIDE);
        // acc[r * TM + t]
        var acc: array<f32, RPI * TM>;
        if (first < p.n) {
            for (var c = lane; c < p.chunks; c += TPR) {
                var wv: array<W32, RPI>;
                for (var r = 0u; r < RPI; r++) {
                    let row = first + r * (RPW / RPI);
                    if (row < p.n) {
                        wv[r] = dq32(row * p.chunks + c, p.sbase);
                    }
                }
                for (var t = 0u; t < tile; t++) {
                    if (t < tn) {
                        let xi = (t0 + t) * xs + c * 8u;
                        var xc: W32;
                        for (var i = 0u; i < 8u; i++) {
                            xc[i] = x[xi + i];
                        }
                        for (var r = 0u; r < RPI; r++) {
                            var s = 0.0;
                            for (var i = 0u; i < 8u; i++) {
                                s += dot(wv[r][i], xc[i]);
                            }
                            acc[r * TM + t] += s;
                        }
                    }
                }
            }
        }
        for (var r = 0u; r < RPI; r++) {
            for (var t = 0u; t < TM; t++) {
                if (t < reduced) {
                    partial[t * WG + lid] = acc[r * TM + t];
                }
            }
            workgroupBarrier();
            for (var s = TPR / 2u; s > 0u; s >>= 1u) {
                if (lane < s) {
                    for (var t = 0u; t < TM; t++) {
                        if (t < reduced) {
                            partial[t * WG + lid] += partial[t * WG + lid + s];
                        }
                    }
                }
                workgroupBarrier();
            }
            let row = first + r * (RPW / RPI);
            if (lane == 0u && row < p.n) {
                for (var t = 0u; t < tile; t++) {
                    if (t < tn) {
                        let yi = (t0 + t) * p.y_stride + p.y_offset + row;
                        var v = partial[t * WG + lid];
                        if (p.accumulate == 1u) {
                            v += y[yi];
                        }
                        y[yi] = v;
                    }
                }
            }
            workgroupBarrier();
        }
    }
}
