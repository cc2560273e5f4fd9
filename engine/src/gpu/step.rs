//! The `Step` uniform every kernel of a pass reads, declared once: the engine writes it with
//! `Step::words`, and every assembled kernel gets its WGSL struct from `Step::wgsl`, built from
//! the same field list, so the two cannot drift apart.

/// Per-forward values shared by every kernel of a pass (written once before each submission).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Tokens in this block.
    pub m: u32,
    /// Absolute position of the block's first token (one sequence; 0 when slotted).
    pub pos0: u32,
    /// Trailing tokens whose logits are wanted.
    pub m_logits: u32,
    /// The block holds several sequences: each token's cache region and position come from
    /// the slot table (token_slot.wgsl) instead of `pos0`.
    pub slotted: bool,
}

/// The struct's fields in memory order, with the comment each carries in WGSL.
const FIELDS: [(&str, &str); 4] = [
    ("m", "tokens in this block"),
    ("pos0", "absolute position of the block's first token"),
    ("m_logits", "trailing tokens whose logits are wanted"),
    ("slotted", "1: each token's cache region and position come from the slot table"),
];

impl Step {
    /// Bytes of the uniform (one u32 a field).
    pub const BYTES: u64 = 4 * FIELDS.len() as u64;

    /// One sequence's block of `m` tokens from position `pos0`.
    pub fn one_sequence(m: usize, pos0: usize, m_logits: usize) -> Self {
        Step { m: m as u32, pos0: pos0 as u32, m_logits: m_logits as u32, slotted: false }
    }

    /// A block of several sequences' tokens, placed by the slot table.
    pub fn slotted(m: usize, m_logits: usize) -> Self {
        Step { m: m as u32, pos0: 0, m_logits: m_logits as u32, slotted: true }
    }

    /// The uniform's words, in `FIELDS` order.
    pub fn words(&self) -> [u32; FIELDS.len()] {
        [self.m, self.pos0, self.m_logits, self.slotted as u32]
    }

    /// The WGSL declaration of the struct.
    pub fn wgsl() -> String {
        let mut s = String::from("// Per-forward values shared by every kernel of a pass (engine/src/gpu/step.rs).\nstruct Step {\n");
        for (name, comment) in FIELDS {
            s.push_str(&format!("    // {comment}\n    {name}: u32,\n"));
        }
        s.push_str("}\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::Step;

    #[test]
    fn words_follow_the_wgsl_field_order() {
        let w = Step { m: 3, pos0: 17, m_logits: 2, slotted: true }.words();
        assert_eq!(w, [3, 17, 2, 1]);
        let src = Step::wgsl();
        let order: Vec<usize> = ["m:", "pos0:", "m_logits:", "slotted:"].iter().map(|f| src.find(&format!("    {f}")).unwrap()).collect();
        assert!(order.windows(2).all(|p| p[0] < p[1]), "{src}");
        assert_eq!(Step::BYTES, 16);
    }
}
