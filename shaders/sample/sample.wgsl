// Draws one token from softmax(logits / T) restricted to top-k then top-p, with a counter-based
// RNG (seed, draw index) so a seed gives the same text on every device. One workgroup; the
// thresholds are found by bisection over e = exp((l - max) / T), so nothing is sorted.
struct Params {
    n: u32,
    top_k: u32,
    top_p: f32,
    inv_temp: f32,
    seed: u32,
    out_offset: u32,
    // logits row to sample (counted from the first logits row)
    row: u32,
    _pad: u32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> e: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
// [0]: draws so far (incremented here, so consecutive draws differ without a CPU write)
@group(0) @binding(3) var<storage, read_write> rng: array<u32>;
@group(0) @binding(4) var<uniform> p: Params;

const WG: u32 = 256u;
const BISECT_STEPS: u32 = 40u;
var<workgroup> red: array<f32, WG>;
var<workgroup> cnt: atomic<u32>;
var<workgroup> owner: u32;
var<workgroup> owner_u: f32;

fn pcg(v: u32) -> u32 {
    let s = v * 747796405u + 2891336453u;
    let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}

fn reduce_sum(lid: u32, v: f32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k >>= 1u) {
        if (lid < k) {
            red[lid] += red[lid + k];
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

fn reduce_max(lid: u32, v: f32) -> f32 {
    red[lid] = v;
    workgroupBarrier();
    for (var k = WG / 2u; k > 0u; k >>= 1u) {
        if (lid < k) {
            red[lid] = max(red[lid], red[lid + k]);
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

fn count_at_least(lid: u32, t: f32) -> u32 {
    if (lid == 0u) {
        atomicStore(&cnt, 0u);
    }
    workgroupBarrier();
    var c = 0u;
    for (var i = lid; i < p.n; i += WG) {
        c += select(0u, 1u, e[i] >= t);
    }
    atomicAdd(&cnt, c);
    workgroupBarrier();
    let r = atomicLoad(&cnt);
    workgroupBarrier();
    return r;
}

fn mass_at_least(lid: u32, t: f32) -> f32 {
    var s = 0.0;
    for (var i = lid; i < p.n; i += WG) {
        let v = e[i];
        s += select(0.0, v, v >= t);
    }
    return reduce_sum(lid, s);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
    let base = p.row * p.n;
    var mx = -3.4e38;
    for (var i = lid; i < p.n; i += WG) {
        mx = max(mx, logits[base + i]);
    }
    mx = reduce_max(lid, mx);
    for (var i = lid; i < p.n; i += WG) {
        let v = exp((logits[base + i] - mx) * p.inv_temp);
        // NaN logits never win.
        e[i] = select(0.0, v, v == v);
    }
    storageBarrier();
    workgroupBarrier();

    // top-k: the largest threshold that still keeps at least k tokens
    var thr = 0.0;
    if (p.top_k > 0u && p.top_k < p.n) {
        var lo = 0.0;
        var hi = 1.0;
        for (var s = 0u; s < BISECT_STEPS; s++) {
            let mid = 0.5 * (lo + hi);
            if (count_at_least(lid, mid) >= p.top_k) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        thr = lo;
    }
    // top-p: the largest threshold whose kept mass is at least p of the top-k mass
    if (p.top_p < 1.0) {
        let total = mass_at_least(lid, thr);
        var lo = thr;
        var hi = 1.0;
        for (var s = 0u; s < BISECT_STEPS; s++) {
            let mid = 0.5 * (lo + hi);
            if (mass_at_least(lid, mid) >= p.top_p * total) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        thr = lo;
    }

    // Each invocation owns a contiguous range; ranges are visited in index order.
    let chunk = (p.n + WG - 1u) / WG;
    let start = min(lid * chunk, p.n);
    let end = min(start + chunk, p.n);
    var mine = 0.0;
    for (var i = start; i < end; i++) {
        let v = e[i];
        mine += select(0.0, v, v >= thr);
    }
    draw_parts[lid] = mine;
    workgroupBarrier();
    if (lid == 0u) {
        let draw = rng[0];
        let h = pcg(p.seed ^ pcg(draw));
        let d = draw_owner(f32(h >> 8u) / 16777216.0 * draw_total());
        // No mass at all (NaN logits): the first range answers, as before a draw existed.
        owner = select(d.owner, 0u, d.owner == WG);
        owner_u = d.offset;
        rng[0] = draw + 1u;
    }
    workgroupBarrier();
    let target_owner = owner;
    let u_local = owner_u;
    if (lid == target_owner) {
        var acc = 0.0;
        var pick = 0xFFFFFFFFu;
        var last = start;
        for (var i = start; i < end; i++) {
            let v = e[i];
            if (v >= thr) {
                last = i;
                acc += v;
                if (pick == 0xFFFFFFFFu && acc > u_local) {
                    pick = i;
                }
            }
        }
        if (pick == 0xFFFFFFFFu) {
            pick = last;
        }
        out[p.out_offset] = pick;
    }
}
