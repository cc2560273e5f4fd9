// The draw that ends a sampled speculative step (when verify asked for one): from the residual
// norm(max(0, p_T - q_T)) after a rejection, or from p_T for the bonus token. It replaces the
// last committed token. The owner of the draw comes from draw_owner.wgsl.
@group(0) @binding(0) var<storage, read> p_logits: array<f32>;
@group(0) @binding(1) var<storage, read> q_logits: array<f32>;
@group(0) @binding(2) var<storage, read> rows: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
@group(0) @binding(4) var<uniform> s: Spec;

const WG: u32 = 256u;
var<workgroup> owner: u32;
var<workgroup> owner_u: f32;
var<workgroup> plain: u32;
var<workgroup> sample_row: u32;

fn weight(i: u32, pb: u32, qb: u32, o: u32, residual: bool) -> f32 {
    let p = exp((p_logits[pb + i] - rows[o + R_P_MAX]) * s.inv_temp - rows[o + R_P_LOGZ_T]);
    if (!residual) {
        return select(0.0, p, p == p);
    }
    let q = exp((q_logits[qb + i] - rows[o + R_Q_MAX]) * s.inv_temp - rows[o + R_Q_LOGZ_T]);
    let w = max(p - q, 0.0);
    return select(0.0, w, w == w);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
    // The row comes from a read-write buffer: loaded once and made uniform before the early
    // return, since barriers follow it (WGSL's uniformity rule, which Chromium enforces).
    if (lid == 0u) {
        sample_row = out[O_SAMPLE_ROW];
        plain = out[O_SAMPLE_KIND];
    }
    let r = workgroupUniformLoad(&sample_row);
    if (r == NONE) {
        return;
    }
    let n = s.vocab;
    let o = r * ROW;
    let pb = r * n;
    let qb = select(0u, r * n, r < s.k);
    let chunk = (n + WG - 1u) / WG;
    let start = min(lid * chunk, n);
    let end = min(start + chunk, n);
    // Two rounds at most: a residual with no mass (p == q) falls back to p itself.
    for (var round = 0u; round < 2u; round++) {
        let residual = workgroupUniformLoad(&plain) == 0u;
        var mine = 0.0;
        for (var i = start; i < end; i++) {
            mine += weight(i, pb, qb, o, residual);
        }
        draw_parts[lid] = mine;
        workgroupBarrier();
        if (lid == 0u) {
            let d = draw_owner(uniform01(s.seed, s.step_index, 32u + round) * draw_total());
            let who = d.owner;
            owner = who;
            owner_u = d.offset;
            if (who == WG) {
                plain = 1u;
            }
        }
        workgroupBarrier();
        let who = workgroupUniformLoad(&owner);
        if (who != WG) {
            if (lid == who) {
                var acc = 0.0;
                var pick = NONE;
                var last = start;
                for (var i = start; i < end; i++) {
                    let w = weight(i, pb, qb, o, residual);
                    if (w > 0.0) {
                        last = i;
                        acc += w;
                        if (pick == NONE && acc > owner_u) {
                            pick = i;
                        }
                    }
                }
                if (pick == NONE) {
                    pick = last;
                }
                out[O_TOKENS + out[O_COUNT] - 1u] = pick;
            }
            return;
        }
    }
}
