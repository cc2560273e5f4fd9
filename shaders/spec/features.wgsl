// Mismatch features of one speculative step (COSPEC.md), without reading the vocabulary back:
// one workgroup per verify position r (0..=k) reduces the target's logits row r and, for r < k,
// the draft's row r into a row of `rows` (layout in spec_params.wgsl). Reductions run in a
// fixed order, so every device gives the same argmax and the same features.
@group(0) @binding(0) var<storage, read> p_logits: array<f32>;
@group(0) @binding(1) var<storage, read> q_logits: array<f32>;
@group(0) @binding(2) var<storage, read> proposals: array<u32>;
@group(0) @binding(3) var<storage, read_write> rows: array<f32>;
@group(0) @binding(4) var<uniform> s: Spec;

const WG: u32 = 256u;
var<workgroup> red4: array<vec4<f32>, WG>;
var<workgroup> red_v: array<vec2<f32>, WG>;
var<workgroup> red_i: array<vec2<u32>, WG>;

fn sum4(lid: u32, v: vec4<f32>) -> vec4<f32> {
    red4[lid] = v;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k >>= 1u) {
        if (lid < k) {
            red4[lid] += red4[lid + k];
        }
        workgroupBarrier();
    }
    let r = red4[0];
    workgroupBarrier();
    return r;
}

// Better of two (value, index) candidates: the larger value, the lower index on ties.
fn better(v: f32, i: u32, ov: f32, oi: u32) -> bool {
    return ov > v || (ov == v && oi < i);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let r = wid.x;
    if (r > s.k) {
        return;
    }
    let n = s.vocab;
    let has_q = r < s.k;
    let pb = r * n;
    let qb = select(0u, r * n, has_q);

    // Maxima and argmaxes (NaN never wins: comparisons with NaN are false).
    var pm = -3.4e38;
    var pi = NONE;
    var qm = -3.4e38;
    var qi = NONE;
    for (var i = lid; i < n; i += WG) {
        let lp = p_logits[pb + i];
        if (lp > pm) {
            pm = lp;
            pi = i;
        }
        let lq = q_logits[qb + i];
        if (lq > qm) {
            qm = lq;
            qi = i;
        }
    }
    red_v[lid] = vec2<f32>(pm, qm);
    red_i[lid] = vec2<u32>(pi, qi);
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k >>= 1u) {
        if (lid < k) {
            let a = red_v[lid];
            let b = red_v[lid + k];
            let ai = red_i[lid];
            let bi = red_i[lid + k];
            var v = a;
            var ix = ai;
            if (better(a.x, ai.x, b.x, bi.x)) {
                v.x = b.x;
                ix.x = bi.x;
            }
            if (better(a.y, ai.y, b.y, bi.y)) {
                v.y = b.y;
                ix.y = bi.y;
            }
            red_v[lid] = v;
            red_i[lid] = ix;
        }
        workgroupBarrier();
    }
    pm = red_v[0].x;
    qm = red_v[0].y;
    let t = min(red_i[0].x, n - 1u);
    workgroupBarrier();

    // The bonus row has no draft token: d = t there.
    let d = select(t, min(proposals[min(r, s.k - 1u)], n - 1u), has_q);
    let lp_d = p_logits[pb + d];
    var ps = vec4<f32>(0.0);
    var qs = vec4<f32>(0.0);
    for (var i = lid; i < n; i += WG) {
        let lp = p_logits[pb + i] - pm;
        let ep = exp(lp);
        ps += vec4<f32>(ep, ep * lp, exp(lp * s.inv_temp), select(0.0, 1.0, lp + pm > lp_d));
        let lq = q_logits[qb + i] - qm;
        let eq = exp(lq);
        qs += vec4<f32>(eq, eq * lq, exp(lq * s.inv_temp), 0.0);
    }
    ps = sum4(lid, ps);
    qs = sum4(lid, qs);

    // Total variation distance between p and q.
    var tv = 0.0;
    if (has_q) {
        for (var i = lid; i < n; i += WG) {
            tv += abs(exp(p_logits[pb + i] - pm) / ps.x - exp(q_logits[qb + i] - qm) / qs.x);
        }
    }
    tv = 0.5 * sum4(lid, vec4<f32>(tv, 0.0, 0.0, 0.0)).x;

    if (lid == 0u) {
        let o = r * ROW;
        for (var f = 0u; f < ROW; f++) {
            rows[o + f] = 0.0;
        }
        if (has_q) {
            let lq_d = q_logits[qb + d];
            let lq_t = q_logits[qb + t];
            rows[o + 0u] = exp(lq_d - qm) / qs.x;
            rows[o + 1u] = 1.0 / qs.x;
            rows[o + 2u] = log(qs.x) - qs.y / qs.x;
            rows[o + 3u] = exp(lq_t - qm) / qs.x;
            rows[o + 9u] = lq_d - lq_t;
            rows[o + 10u] = tv;
            rows[o + R_Q_MAX] = qm;
            rows[o + R_Q_LOGZ_T] = log(qs.z);
            rows[o + R_Q_D_SHIFT] = lq_d - qm;
        }
        rows[o + 4u] = exp(lp_d - pm) / ps.x;
        rows[o + 5u] = 1.0 / ps.x;
        rows[o + 6u] = log(ps.x) - ps.y / ps.x;
        rows[o + 7u] = log(1.0 + min(ps.w, RANK_CAP));
        rows[o + 8u] = pm - lp_d;
        rows[o + R_TARGET] = f32(t);
        rows[o + R_P_MAX] = pm;
        rows[o + R_P_LOGZ_T] = log(ps.z);
    }
}
