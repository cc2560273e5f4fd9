// Causal GQA attention for wide blocks (prompt chunks, lock step's wide blocks) on CPU
// adapters without subgroups: one workgroup per (KV head, TOK block tokens), one lane per
// (token, query head of the group). The lanes walk the keys in step, so the key or value row
// one lane loads is the row its neighbours load (cache hits), where one workgroup per (head,
// token) fetched the whole cache again for every row.
//
// A row's arithmetic is attention_row.wgsl's, so a token's output is the same in a decode
// pass, a verify block, a prompt chunk or a slotted block of several sequences (the tests
// compare them bit for bit). Parameters and bindings: attention_bindings.wgsl (the score
// scratch is unused); the cache through k_at / v_at (kv_*.wgsl).

// head_dim / 4.
const D4: u32 = {{D4}}u;
// Block tokens a workgroup; its lanes are TOK * (query heads per KV head).
const TOK: u32 = {{TOK}}u;
const L: u32 = {{L}}u;

@compute @workgroup_size(L)
fn main(@builtin(local_invocation_index) lane: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let group = p.n_head / p.n_kv;
    let kvh = wid.x;
    let t = wid.y * TOK + lane / group;
    let head = kvh * group + lane % group;
    if (t >= step.m || kvh >= p.n_kv) {
        return;
    }
    let o = attend_row(t, head);
    let off = (t * p.n_head + head) * D4;
    for (var i = 0u; i < D4; i++) {
        out[off + i] = o[i];
    }
}
