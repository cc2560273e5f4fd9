// attention.wgsl shaped for CPU adapters with subgroups: one subgroup-sized workgroup per
// (query head, block token), no workgroup memory and no score scratch. The keys go by in runs
// of S positions at multiples of S (whole key tiles): lane l scores the run's l-th key, a
// tile's maximum is a subgroup reduction, each lane
// turns its own scores into weights, and the weights reach every lane by shuffle for the sum
// of values, where lane l takes every S-th vec4 of the head. The arithmetic is
// attention_row.wgsl's operation for operation (and branch-free, as there), so a token's
// output is the same in any block. On llvmpipe every storage load inside a loop is a per-lane
// loop, so the query is loaded into registers once, in slices (SLICE below).
// Parameters and bindings: attention_bindings.wgsl; the cache through k_at / v_at (kv_*.wgsl).

const S: u32 = {{S}}u;
// head_dim / 4, and the value vec4s each lane sums.
const D4: u32 = {{D4}}u;
const PER_LANE: u32 = (D4 + S - 1u) / S;

// The query is held in slices of at most SLICE vec4s, each walked by a loop of its own:
// llvmpipe unrolls a loop over 16 and keeps its array in registers, where it indexes a longer
// one (heads wider than 80) in memory at 15 to 100 times the cost (docs/perf.md). Eight
// slices hold the widest head (MAX_CPU_HEAD_DIM); the score still sums the head in order,
// as attention_row.wgsl does.
const SLICE: u32 = 16u;
alias Slice = array<vec4<f32>, SLICE>;

// Vec4s of the head in slice j.
fn slice_len(j: u32) -> u32 {
    return min(SLICE, D4 - min(D4, j * SLICE));
}

fn load_slice(qs: ptr<function, Slice>, q_off: u32, j: u32) {
    for (var i = 0u; i < slice_len(j); i++) {
        (*qs)[i] = q[q_off + j * SLICE + i];
    }
}

// `s` plus slice j of the query dotted with the key row at ko, vec4 by vec4.
fn slice_dot(qs: ptr<function, Slice>, ko: u32, j: u32, s: f32) -> f32 {
    var sum = s;
    for (var i = 0u; i < slice_len(j); i++) {
        sum += dot((*qs)[i], k_at(ko + j * SLICE + i));
    }
    return sum;
}
// Key tiles a run of S keys (subgroup sizes are powers of two, 8 or more here).
const TILES: u32 = S / KEY_TILE;

@compute @workgroup_size(S)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let head = wid.x;
    let t = wid.y;
    if (t >= step.m || head >= p.n_head) {
        return;
    }
    let keys = row_keys(t, head);
    // The query in slices (see SLICE); a slice past the head stays empty and unused.
    let q_off = (t * p.n_head + head) * D4;
    var q0: Slice;
    var q1: Slice;
    var q2: Slice;
    var q3: Slice;
    var q4: Slice;
    var q5: Slice;
    var q6: Slice;
    var q7: Slice;
    load_slice(&q0, q_off, 0u);
    load_slice(&q1, q_off, 1u);
    load_slice(&q2, q_off, 2u);
    load_slice(&q3, q_off, 3u);
    load_slice(&q4, q_off, 4u);
    load_slice(&q5, q_off, 5u);
    load_slice(&q6, q_off, 6u);
    load_slice(&q7, q_off, 7u);
    // Read once: llvmpipe loads a uniform inside a loop lane by lane, every trip.
    let scale = p.scale;
    var mx = NO_MAX;
    var sum = 0.0;
    var acc: array<vec4<f32>, PER_LANE>;
    for (var a = keys.first - keys.first % S; a <= keys.last; a += S) {
        // This lane's key's score; a key the token does not see is UNSEEN (its weight 0).
        let j_mine = a + lane;
        let ko = (keys.base + clamp(j_mine, keys.first, keys.last)) * D4;
        var s = 0.0;
        s = slice_dot(&q0, ko, 0u, s);
        s = slice_dot(&q1, ko, 1u, s);
        s = slice_dot(&q2, ko, 2u, s);
        s = slice_dot(&q3, ko, 3u, s);
        s = slice_dot(&q4, ko, 4u, s);
        s = slice_dot(&q5, ko, 5u, s);
        s = slice_dot(&q6, ko, 6u, s);
        s = slice_dot(&q7, ko, 7u, s);
        let sc = select(UNSEEN, s * scale, j_mine >= keys.first && j_mine <= keys.last);
        // The running maximum after each tile of the run.
        var run_max: array<f32, TILES>;
        var run = mx;
        for (var k = 0u; k < TILES; k++) {
            run = max(run, subgroupMax(select(UNSEEN, sc, lane / KEY_TILE == k)));
            run_max[k] = run;
        }
        let e_mine = weight(sc - run_max[lane / KEY_TILE]);
        // Columns past the head (D4 not a multiple of S) repeat its last one and are not written.
        for (var k = 0u; k < TILES; k++) {
            let c = select(1.0, weight(mx - run_max[k]), run_max[k] > mx);
            sum *= c;
            for (var i = 0u; i < PER_LANE; i++) {
                acc[i] *= c;
            }
            mx = run_max[k];
            // Keys the token does not see weigh 0 and read a row it sees (finite values).
            for (var u = 0u; u < KEY_TILE; u++) {
                let n = k * KEY_TILE + u;
                let e = subgroupShuffle(e_mine, n);
                sum += e;
                let row = (keys.base + clamp(a + n, keys.first, keys.last)) * D4;
                for (var i = 0u; i < PER_LANE; i++) {
                    acc[i] += e * v_at(row + min(lane + i * S, D4 - 1u));
                }
            }
        }
    }
    let inv = 1.0 / sum;
    let o = (t * p.n_head + head) * D4;
    for (var i = 0u; i < PER_LANE; i++) {
        let c = lane + i * S;
        if (c < D4) {
            out[o + c] = acc[i] * inv;
        }
    }
}
