// Adds the QKV biases, rotates q and k by their absolute positions (RoPE), writes q for
// attention and appends k and v to the layer's KV cache ([kv_head][cache row][head_dim]; a
// sequence's position p is row region + p, token_slot.wgsl) through `kv_put`
// (kv_store_buffer.wgsl or kv_store_texture.wgsl), a vec4 at a time.
// Input rows are [q | k | v] as one product writes them. A q head's invocations take one
// rotated pair each; a kv head's first head_dim / 4 take four elements of k and v each.
// mode 0 rotates adjacent pairs (GGUF llama, whose Q/K rows are permuted for it);
// mode 1 rotates (i, i + d/2) (HF layout, qwen2).
// With QK_NORM (qwen3), each q and k head is RMS-normalized over head_dim and scaled by its
// gain before the rotation; each invocation sums its head's squares itself (head_dim reads it
// shares with the head's other invocations through the cache), so a token's result does not
// depend on the block around it.
struct Params {
    n_head: u32,
    n_kv: u32,
    head_dim: u32,
    ctx: u32,
    mode: u32,
    // The per-head norm's epsilon (f32 bits).
    eps_bits: u32,
    has_bias: u32,
    // Where the q gain, then the k gain (head_dim each), start in `bias`.
    norm_base: u32,
}

const QK_NORM: bool = {{QK_NORM}}u == 1u;

@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
// q, k, v biases when has_bias; the per-head norm gains at norm_base with QK_NORM.
@group(0) @binding(2) var<storage, read> bias: array<f32>;
// Bindings 3 and 4, the KV cache: kv_store_*.wgsl.
// (cos, sin) of position * inv_freq[i], computed in f64 on the CPU: [ctx][head_dim / 2].
@group(0) @binding(5) var<storage, read> rot: array<vec2<f32>>;
@group(0) @binding(6) var<uniform> p: Params;
@group(0) @binding(7) var<uniform> step: Step;
// (region's first cache row, position) per block token when step.slotted is 1.
@group(0) @binding(8) var<storage, read> slots: array<vec2<u32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let half_d = p.head_dim / 2u;
    let i = gid.x % half_d;
    let head = gid.x / half_d;
    let t = gid.y;
    if (head >= p.n_head + p.n_kv || t >= step.m) {
        return;
    }
    let slot = token_slot(t);
    let pos = slot.y;
    let r = rot[pos * half_d + i];
    let cs = r.x;
    let sn = r.y;
    var i0 = 2u * i;
    var i1 = 2u * i + 1u;
    if (p.mode == 1u) {
        i0 = i;
        i1 = i + half_d;
    }
    let q_width = p.n_head * p.head_dim;
    let kv_width = p.n_kv * p.head_dim;
    let row = t * (q_width + 2u * kv_width);
    if (head < p.n_head) {
        let o = t * q_width + head * p.head_dim;
        let src = row + head * p.head_dim;
        var a = qkv[src + i0];
        var b = qkv[src + i1];
        if (p.has_bias == 1u) {
            a += bias[head * p.head_dim + i0];
            b += bias[head * p.head_dim + i1];
        }
        if (QK_NORM) {
            let inv = head_inv_rms(src, head * p.head_dim);
            a = a * inv * bias[p.norm_base + i0];
            b = b * inv * bias[p.norm_base + i1];
        }
        q[o + i0] = a * cs - b * sn;
        q[o + i1] = a * sn + b * cs;
        return;
    }
    let h = head - p.n_head;
    let d4 = p.head_dim / 4u;
    if (i >= d4) {
        return;
    }
    let ko = row + q_width + h * p.head_dim;
    let kb = q_width + h * p.head_dim;
    var inv = 1.0;
    if (QK_NORM) {
        inv = head_inv_rms(ko, kb);
    }
    let k4 = vec4<f32>(rotated_k(ko, kb, 4u * i, pos, inv), rotated_k(ko, kb, 4u * i + 1u, pos, inv), rotated_k(ko, kb, 4u * i + 2u, pos, inv), rotated_k(ko, kb, 4u * i + 3u, pos, inv));
    var v4 = vec4<f32>(qkv[ko + kv_width + 4u * i], qkv[ko + kv_width + 4u * i + 1u], qkv[ko + kv_width + 4u * i + 2u], qkv[ko + kv_width + 4u * i + 3u]);
    if (p.has_bias == 1u) {
        let vb = kb + kv_width + 4u * i;
        v4 += vec4<f32>(bias[vb], bias[vb + 1u], bias[vb + 2u], bias[vb + 3u]);
    }
    kv_put((h * p.ctx + slot.x + pos) * d4 + i, k4, v4);
}

// 1 / RMS of a head's row (input at qkv[src..], bias at bias[bb..] when there is one), with
// the norm's epsilon.
fn head_inv_rms(src: u32, bb: u32) -> f32 {
    var s = 0.0;
    for (var e = 0u; e < p.head_dim; e++) {
        var x = qkv[src + e];
        if (p.has_bias == 1u) {
            x += bias[bb + e];
        }
        s += x * x;
    }
    return 1.0 / sqrt(s / f32(p.head_dim) + bitcast<f32>(p.eps_bits));
}

// Element e of a k row (its input at qkv[ko..], its bias at bias[kb..]) rotated for position
// pos, normalized by `inv` and the k gain first with QK_NORM: the same products and sums as a
// q element's.
fn rotated_k(ko: u32, kb: u32, e: u32, pos: u32, inv: f32) -> f32 {
    let half_d = p.head_dim / 2u;
    var pair = e / 2u;
    var i0 = e & ~1u;
    var i1 = i0 + 1u;
    var first = e % 2u == 0u;
    if (p.mode == 1u) {
        pair = e % half_d;
        i0 = pair;
        i1 = pair + half_d;
        first = e < half_d;
    }
    let r = rot[pos * half_d + pair];
    var a = qkv[ko + i0];
    var b = qkv[ko + i1];
    if (p.has_bias == 1u) {
        a += bias[kb + i0];
        b += bias[kb + i1];
    }
    if (QK_NORM) {
        a = a * inv * bias[p.norm_base + p.head_dim + i0];
        b = b * inv * bias[p.norm_base + p.head_dim + i1];
    }
    if (first) {
        return a * r.x - b * r.y;
    }
    return a * r.y + b * r.x;
}
