// attention.wgsl shaped for CPU adapters with subgroups: one subgroup-sized workgroup per
// (query head, block token), no workgroup memory and no score scratch. The keys go by in runs
// of S positions at multiples of S (whole key tiles): lane l scores the run's l-th key, a
// tile's maximum is a subgroup reduction, each lane
// turns its own scores into weights, and the weights reach every lane by shuffle for the sum
// of values, where lane l takes every S-th vec4 of the head. The arithmetic is
// attention_row.wgsl's operation for operation (and branch-free, as there), so a token's
// output is the same in any block. On llvmpipe every storage load inside a loop is a per-lane
// loop, so the query is loaded into registers once (load_query, attention_row.wgsl).
// Parameters and bindings: attention_bindings.wgsl; the cache through k_at / v_at (kv_*.wgsl).

const S: u32 = {{S}}u;
// head_dim / 4, and the value vec4s each lane sums.
const D4: u32 = {{D4}}u;
const PER_LANE: u32 = (D4 + S - 1u) / S;
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
    let qv = load_query(t, head);
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
        for (var i = 0u; i < D4; i++) {
            s += dot(qv[i], k_at(ko + i));
        }
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
