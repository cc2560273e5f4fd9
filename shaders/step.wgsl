// Per-forward values shared by every kernel of a pass (written once before each submission).
struct Step {
    // tokens in this block
    m: u32,
    // absolute position of the block's first token
    pos0: u32,
    // trailing tokens whose logits are wanted
    m_logits: u32,
    _pad: u32,
}
