// One (block token, query head)'s attention by one invocation, the arithmetic every
// CPU-adapter kernel repeats operation for operation. An online softmax over key tiles
// (KEY_TILE positions at multiples of KEY_TILE): the tile's scores, each summed over the head
// in order; the tile's maximum over the keys the token sees; where it passes the running
// maximum, the running sum and weighted values rescaled by weight(old - new); then each key's
// weight(score - maximum) (attention_bindings.wgsl) added to the sum and to the weighted
// values in key order; one
// reciprocal of the sum at the end. Each key and value row is read once; nothing grows with
// the context.
//
// Written for llvmpipe, which runs both sides of a branch under a mask and keeps an array
// indexed inside a loop it does not unroll in memory: no branches (keys the token does not see
// weigh 0, and the sums scale by 1 where the maximum holds), the loops over the head innermost
// (unrolled, so the query and the sums stay in registers), and a tile's scores and weights in
// two vec4s (Tile).

// KEY_TILE (8) values: keys 0..3 of the tile in lo, 4..7 in hi.
struct Tile {
    lo: vec4<f32>,
    hi: vec4<f32>,
}

fn tile_put(t: Tile, u: u32, x: f32) -> Tile {
    let at = vec4<u32>(u);
    return Tile(select(t.lo, vec4<f32>(x), at == vec4<u32>(0u, 1u, 2u, 3u)), select(t.hi, vec4<f32>(x), at == vec4<u32>(4u, 5u, 6u, 7u)));
}

fn tile_get(t: Tile, u: u32) -> f32 {
    let v = select(t.hi, t.lo, u < 4u);
    let k = u & 3u;
    return select(select(v.w, v.z, k == 2u), select(v.y, v.x, k == 0u), k < 2u);
}

// The tile's scores with those of keys the token does not see (outside first..=last) UNSEEN.
fn tile_seen(sc: Tile, a: u32, first: u32, last: u32) -> Tile {
    let lo_pos = vec4<u32>(a) + vec4<u32>(0u, 1u, 2u, 3u);
    let hi_pos = lo_pos + vec4<u32>(4u);
    let lo = select(vec4<f32>(UNSEEN), sc.lo, (lo_pos >= vec4<u32>(first)) & (lo_pos <= vec4<u32>(last)));
    let hi = select(vec4<f32>(UNSEEN), sc.hi, (hi_pos >= vec4<u32>(first)) & (hi_pos <= vec4<u32>(last)));
    return Tile(lo, hi);
}

fn tile_max(sc: Tile) -> f32 {
    let m = max(sc.lo, sc.hi);
    return max(max(m.x, m.y), max(m.z, m.w));
}

// Block token t's query head in registers.
fn load_query(t: u32, head: u32) -> array<vec4<f32>, D4> {
    let q_off = (t * p.n_head + head) * D4;
    var qv: array<vec4<f32>, D4>;
    for (var i = 0u; i < D4; i++) {
        qv[i] = q[q_off + i];
    }
    return qv;
}

// Folds a tile's scores (sc, keys at positions a.. of which the token sees first..=last) into a
// row's online softmax: the running maximum *mx, the sum of weights *sum and the weighted
// values *acc scale by weight(old - new) where the maximum grows (by exactly 1 elsewhere).
// Returns the tile's weights, 0 for keys the token does not see.
fn fold_tile(sc: Tile, a: u32, first: u32, last: u32, mx: ptr<function, f32>, sum: ptr<function, f32>, acc: ptr<function, array<vec4<f32>, D4>>) -> Tile {
    let seen = tile_seen(sc, a, first, last);
    let tm = tile_max(seen);
    let c = select(1.0, weight(*mx - tm), tm > *mx);
    *sum *= c;
    for (var i = 0u; i < D4; i++) {
        (*acc)[i] *= c;
    }
    *mx = max(*mx, tm);
    return Tile(weight4(seen.lo - *mx), weight4(seen.hi - *mx));
}

// The keys of block token t's query head: positions first..=last of the sequence, whose cache
// rows start at row base (of the head's KV head).
struct RowKeys {
    first: u32,
    last: u32,
    base: u32,
}

fn row_keys(t: u32, head: u32) -> RowKeys {
    let kvh = head / (p.n_head / p.n_kv);
    let slot = token_slot(t);
    // Sliding-window layers attend to the last p.window positions only.
    return RowKeys(window_first(slot.y), slot.y, kvh * p.ctx + slot.x);
}

fn attend_row(t: u32, head: u32) -> array<vec4<f32>, D4> {
    let keys = row_keys(t, head);
    let first = keys.first;
    let last = keys.last;
    let base = keys.base;
    let qv = load_query(t, head);
    // Read once: llvmpipe loads a uniform inside a loop lane by lane, every trip.
    let scale = p.scale;
    var mx = NO_MAX;
    var sum = 0.0;
    var acc: array<vec4<f32>, D4>;
    for (var a = first - first % KEY_TILE; a <= last; a += KEY_TILE) {
        var sc: Tile;
        for (var u = 0u; u < KEY_TILE; u++) {
            let ko = (base + clamp(a + u, first, last)) * D4;
            var s = 0.0;
            for (var i = 0u; i < D4; i++) {
                s += dot(qv[i], k_at(ko + i));
            }
            sc = tile_put(sc, u, s * scale);
        }
        // Keys the token does not see weigh 0 and read a row it sees (finite values).
        let e = fold_tile(sc, a, first, last, &mx, &sum, &acc);
        for (var u = 0u; u < KEY_TILE; u++) {
            let w = tile_get(e, u);
            sum += w;
            let vo = (base + clamp(a + u, first, last)) * D4;
            for (var i = 0u; i < D4; i++) {
                acc[i] += w * v_at(vo + i);
            }
        }
    }
    let inv = 1.0 / sum;
    for (var i = 0u; i < D4; i++) {
        acc[i] *= inv;
    }
    return acc;
}
