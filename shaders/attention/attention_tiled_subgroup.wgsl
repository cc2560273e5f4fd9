// attention_tiled.wgsl for CPU adapters with subgroups. The lanes are (token, query head of
// the group) as there, but a key's or value's row is fetched once per subgroup instead of
// once per lane: in each run of S keys lane l fetches the l-th row and every lane takes the
// rows by shuffle. On llvmpipe a texel fetch is a gather with its address arithmetic and a
// shuffle one permute, and the lanes of a workgroup all read the same rows, so this fetches S
// times fewer texels for the same arithmetic.
//
// The lanes of a subgroup walk the union of their keys together (the shuffles need every
// lane) in runs of S positions at multiples of S (whole key tiles),
// and each lane counts only its own keys: a row's arithmetic is attention_row.wgsl's operation
// for operation (and written for llvmpipe as that is), so a token's output is bit for bit the one a decode pass gives it. Sharing rows needs every lane of a subgroup to read one sequence's region; the lanes of a slotted
// block's subgroup that straddles two sequences take their rows alone (attend_row).
// Parameters and bindings: attention_bindings.wgsl; the cache through k_at / v_at.

// head_dim / 4.
const D4: u32 = {{D4}}u;
// Block tokens a workgroup; its lanes are TOK * (query heads per KV head).
const TOK: u32 = {{TOK}}u;
const L: u32 = {{L}}u;
// Subgroup size.
const S: u32 = {{S}}u;
// Key tiles a run of S keys (subgroup sizes are powers of two, 8 or more here).
const TILES: u32 = S / KEY_TILE;

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
    let region = subgroupBroadcastFirst(slot.x);
    let o = (t * p.n_head + head) * D4;
    if (!subgroupAll(slot.x == region)) {
        let row = attend_row(t, head);
        if (live) {
            for (var i = 0u; i < D4; i++) {
                out[o + i] = row[i];
            }
        }
        return;
    }
    // Sliding-window layers attend to the last p.window positions only.
    let first = window_first(slot.y);
    let last = slot.y;
    let qv = load_query(t, head);
    // Keys the subgroup walks: the union of its lanes' (the same for every lane).
    let lo = subgroupMin(first);
    let hi = subgroupMax(last);
    let base = kvh * p.ctx + slot.x;
    // Read once: llvmpipe loads a uniform inside a loop lane by lane, every trip.
    let scale = p.scale;
    var mx = NO_MAX;
    var sum = 0.0;
    var acc: array<vec4<f32>, D4>;
    for (var a = lo - lo % S; a <= hi; a += S) {
        // Lane l fetches the run's l-th key and value row; the others take them by shuffle.
        let ko = (base + min(a + sl, hi)) * D4;
        var kl: array<vec4<f32>, D4>;
        var vl: array<vec4<f32>, D4>;
        for (var i = 0u; i < D4; i++) {
            kl[i] = k_at(ko + i);
            vl[i] = v_at(ko + i);
        }
        for (var k = 0u; k < TILES; k++) {
            let a_k = a + k * KEY_TILE;
            var sc: Tile;
            for (var u = 0u; u < KEY_TILE; u++) {
                let n = k * KEY_TILE + u;
                var s = 0.0;
                for (var i = 0u; i < D4; i++) {
                    s += dot(qv[i], subgroupShuffle(kl[i], n));
                }
                sc = tile_put(sc, u, s * scale);
            }
            let e = fold_tile(sc, a_k, first, last, &mx, &sum, &acc);
            for (var u = 0u; u < KEY_TILE; u++) {
                let n = k * KEY_TILE + u;
                let w = tile_get(e, u);
                sum += w;
                for (var i = 0u; i < D4; i++) {
                    acc[i] += w * subgroupShuffle(vl[i], n);
                }
            }
        }
    }
    if (live) {
        let inv = 1.0 / sum;
        for (var i = 0u; i < D4; i++) {
            out[o + i] = acc[i] * inv;
        }
    }
}
