// attention_tiled.wgsl for CPU adapters with subgroups. The lanes are (token, query head of
// the group) as there, but a key's or value's row is fetched once per subgroup instead of
// once per lane: lane l fetches the row of the l-th key of each run of S keys, and every lane
// takes the rows by shuffle. On llvmpipe a texel fetch is a gather with its address
// arithmetic and a shuffle one permute, and the lanes of a workgroup all read the same rows,
// so this fetches S times fewer texels for the same arithmetic.
//
// The lanes of a subgroup walk the union of their keys together (the shuffles need every
// lane) and each lane counts only its own, in order: a row's arithmetic is
// attention_serial.wgsl's operation for operation (the same dot order; the weights' sum and
// the weighted values summed over the keys in order, scaled by one reciprocal at the end), so
// a token's output is bit for bit the one a decode pass gives it. Sharing rows needs every
// lane of a subgroup to read one sequence's region; the lanes of a slotted block's subgroup
// that straddles two sequences take their rows alone, as attention_tiled.wgsl does.
// Parameters and bindings: attention_bindings.wgsl; the cache through k_at / v_at.

// head_dim / 4.
const D4: u32 = {{D4}}u;
// Block tokens a workgroup; its lanes are TOK * (query heads per KV head).
const TOK: u32 = {{TOK}}u;
const L: u32 = {{L}}u;
// Subgroup size.
const S: u32 = {{S}}u;

@compute @workgroup_size(L)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(subgroup_invocation_id) sl: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let group = p.n_head / p.n_kv;
    let kvh = wid.x;
    let t_lane = wid.y * TOK + lane / group;
    let head = kvh * group + lane % group;
    // Lanes past the block stay for the shuffles, on the block's last token, and write nothing.
    let live = t_lane < step.m;
    let t = min(t_lane, step.m - 1u);
    let slot = token_slot(t);
    // Sliding-window layers attend to the last p.window positions only.
    let first = window_first(slot.y);
    let last = slot.y;
    let q_off = (t * p.n_head + head) * D4;
    var qv: array<vec4<f32>, D4>;
    for (var i = 0u; i < D4; i++) {
        qv[i] = q[q_off + i];
    }
    let region = subgroupBroadcastFirst(slot.x);
    let shared_rows = subgroupAll(slot.x == region);
    // Keys the subgroup walks: the union of its lanes' (the same for every lane).
    let lo = subgroupMin(first);
    let hi = subgroupMax(last);
    let base = kvh * p.ctx + slot.x;
    var mx = -3.0e38;
    var sum = 0.0;
    var acc: array<vec4<f32>, D4>;
    if (shared_rows) {
        for (var j0 = lo; j0 <= hi; j0 += S) {
            let ko = (base + min(j0 + sl, hi)) * D4;
            var kl: array<vec4<f32>, D4>;
            for (var i = 0u; i < D4; i++) {
                kl[i] = k_at(ko + i);
            }
            let n = min(S, hi + 1u - j0);
            for (var u = 0u; u < S; u++) {
                var s = 0.0;
                for (var i = 0u; i < D4; i++) {
                    s += dot(qv[i], subgroupShuffle(kl[i], u));
                }
                s *= p.scale;
                let j = j0 + u;
                if (u < n && j >= first && j <= last) {
                    mx = max(mx, s);
                }
            }
        }
        for (var j0 = lo; j0 <= hi; j0 += S) {
            let ko = (base + min(j0 + sl, hi)) * D4;
            var kl: array<vec4<f32>, D4>;
            var vl: array<vec4<f32>, D4>;
            for (var i = 0u; i < D4; i++) {
                kl[i] = k_at(ko + i);
                vl[i] = v_at(ko + i);
            }
            let n = min(S, hi + 1u - j0);
            for (var u = 0u; u < S; u++) {
                var s = 0.0;
                for (var i = 0u; i < D4; i++) {
                    s += dot(qv[i], subgroupShuffle(kl[i], u));
                }
                s *= p.scale;
                let e = exp(s - mx);
                let j = j0 + u;
                let mine = u < n && j >= first && j <= last;
                if (mine) {
                    sum += e;
                }
                for (var i = 0u; i < D4; i++) {
                    let v = subgroupShuffle(vl[i], u);
                    if (mine) {
                        acc[i] += e * v;
                    }
                }
            }
        }
    } else {
        let kv_off = base + first;
        let n_keys = last + 1u - first;
        for (var j = 0u; j < n_keys; j++) {
            let ko = (kv_off + j) * D4;
            var s = 0.0;
            for (var i = 0u; i < D4; i++) {
                s += dot(qv[i], k_at(ko + i));
            }
            s *= p.scale;
            mx = max(mx, s);
        }
        for (var j = 0u; j < n_keys; j++) {
            let ko = (kv_off + j) * D4;
            var s = 0.0;
            for (var i = 0u; i < D4; i++) {
                s += dot(qv[i], k_at(ko + i));
            }
            s *= p.scale;
            let e = exp(s - mx);
            sum += e;
            for (var i = 0u; i < D4; i++) {
                acc[i] += e * v_at(ko + i);
            }
        }
    }
    if (live) {
        let inv = 1.0 / sum;
        for (var i = 0u; i < D4; i++) {
            out[q_off + i] = acc[i] * inv;
        }
    }
}
