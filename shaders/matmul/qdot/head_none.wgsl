// For types whose `qdot` calls share nothing: no header (matmul_rows.wgsl reads `qhead` once
// per HEAD_CHUNKS chunks and passes it to every `qdot` of them).
alias HEAD = u32;
const HEAD_CHUNKS: u32 = 1u;

fn qhead(blk: u32, sbase: u32) -> HEAD {
    return 0u;
}
