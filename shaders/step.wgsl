// Per-forward values shared by every kernel of a pass (written once before each submission).
struct Step {
    // tokens in this block
    m: u32,
    // absolute position of the block's first token
    pos0: u32,
    // trailing tokens whose logits are wanted
    m_logits: u32,
    // 0: the block is one sequence's tokens at pos0, pos0 + 1, ...; 1: each token's cache
    // region and position come from the slot table (several sequences in one block)
    slotted: u32,
}
