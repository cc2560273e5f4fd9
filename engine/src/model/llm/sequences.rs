//! Several sequences in one forward block: the cache is cut into regions, one per sequence,
//! and each block token carries its region and position (the slot table, token_slot.wgsl), so
//! rope and attention see only its own sequence. The matrix products see one block of tokens,
//! which on a GPU costs little more than one token: B sequences decode for about the price
//! of one (eval and rollouts, many problems at once). Each token's arithmetic is the same as
//! in a one-sequence pass, so a sequence's tokens do not depend on its neighbours.

use super::{Model, Pick};
use crate::gpu::dispatch::submit;
use crate::gpu::{GpuBuffer, Step};
use crate::model::ModelError;

/// One sequence's tokens in a slotted block: its cache region starts at row `region`, and the
/// tokens take positions `pos`, `pos + 1`, ... of that sequence (0 for a fresh prompt).
#[derive(Clone, Copy, Debug)]
pub struct SeqTokens<'a> {
    pub region: usize,
    pub pos: usize,
    pub tokens: &'a [u32],
}

impl Model {
    /// Appends each sequence's tokens to its region and returns, per sequence, the greedy next
    /// token (the argmax of its last token's logits, on the GPU: one small read-back). The
    /// caller keeps each sequence's length and keeps regions apart; `len` (the one-sequence
    /// cache length) is not touched. With at most `max_block` sequences, sequence i's
    /// last-token logits are row i of `logits_buffer()` afterwards.
    pub async fn forward_sequences(&mut self, seqs: &[SeqTokens<'_>]) -> Result<Vec<u32>, ModelError> {
        Ok(self.run_sequences(seqs, false).await?.0)
    }

    /// Copies cache rows `from .. from + rows` to `to ..` in every layer's K and V cache (each
    /// [kv_head][row][head_dim]: one contiguous run per head, through a scratch buffer since
    /// a buffer or texture cannot be copied onto itself): a sequence forked from another
    /// starts with its prefix. The two runs must not overlap.
    pub fn copy_cache_rows(&self, from: usize, to: usize, rows: usize) -> Result<(), ModelError> {
        if from.max(to) + rows > self.ctx_len || (from < to + rows && to < from + rows) {
            return Err(ModelError::Invalid(format!("cache rows {from}.. and {to}.. ({rows} each) overlap or pass the context of {}", self.ctx_len)));
        }
        if rows == 0 {
            return Ok(());
        }
        let c = &self.config;
        let run = rows * c.head_dim;
        let scratch = GpuBuffer::zeros(&self.ctx, "cache rows in transit", run);
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        for layer in &self._layers {
            for cache in [&layer.k_cache, &layer.v_cache] {
                for head in 0..c.n_kv {
                    let base = head * self.ctx_len;
                    cache.encode_copy(&mut enc, &scratch.buffer, (base + from) * c.head_dim, (base + to) * c.head_dim, run);
                }
            }
        }
        self.ctx.queue.submit([enc.finish()]);
        Ok(())
    }

    /// As `forward_sequences`, returning each sequence's last-token logits instead.
    pub async fn forward_sequences_logits(&mut self, seqs: &[SeqTokens<'_>]) -> Result<Vec<Vec<f32>>, ModelError> {
        Ok(self.run_sequences(seqs, true).await?.1)
    }

    async fn run_sequences(&mut self, seqs: &[SeqTokens<'_>], want_logits: bool) -> Result<(Vec<u32>, Vec<Vec<f32>>), ModelError> {
        for s in seqs {
            if s.tokens.is_empty() {
                return Err(ModelError::Invalid("a sequence in a multi-sequence block has no tokens".into()));
            }
            if s.region + s.pos + s.tokens.len() > self.ctx_len {
                return Err(ModelError::ContextFull { have: s.region + s.pos, adding: s.tokens.len(), ctx: self.ctx_len });
            }
            if let Some(&bad) = s.tokens.iter().find(|&&t| t as usize >= self.config.vocab) {
                return Err(ModelError::BadToken(bad, self.config.vocab));
            }
        }
        // Every sequence's earlier tokens first, then each one's last token: the tokens whose
        // logits are wanted are the block's trailing rows, as the output head expects.
        let mut flat: Vec<(u32, u32, u32)> = Vec::new();
        for s in seqs {
            let n = s.tokens.len();
            flat.extend(s.tokens[..n - 1].iter().enumerate().map(|(i, &t)| (t, s.region as u32, (s.pos + i) as u32)));
        }
        let first_last = flat.len();
        flat.extend(seqs.iter().map(|s| (*s.tokens.last().expect("checked non-empty"), s.region as u32, (s.pos + s.tokens.len() - 1) as u32)));
        let vocab = self.config.vocab;
        let (mut next, mut logits) = (Vec::new(), Vec::new());
        let mut at = 0;
        while at < flat.len() {
            let mut end = (at + self.max_block).min(flat.len());
            // When the last tokens fit one block they get one to themselves rather than
            // straddle two, so their logits rows are rows 0.. of the logits buffer afterwards
            // (lock step reads them by row).
            if at < first_last && first_last < end && end < flat.len() && flat.len() - first_last <= self.max_block {
                end = first_last;
            }
            let chunk = &flat[at..end];
            let m = chunk.len();
            let m_logits = (at + m).saturating_sub(first_last.max(at));
            let tokens: Vec<u32> = chunk.iter().map(|c| c.0).collect();
            let slots: Vec<u32> = chunk.iter().flat_map(|c| [c.1, c.2]).collect();
            self.tokens.write_u32(&self.ctx, 0, &tokens);
            self.slots.write_u32(&self.ctx, 0, &slots);
            self.step.write_u32(&self.ctx, 0, &Step::slotted(m, m_logits).words());
            let pick = if m_logits > 0 && !want_logits { Pick::Argmax } else { Pick::Nothing };
            submit(&self.ctx, &self.block_launches(m_logits, pick), m as u32, m_logits as u32)?;
            if m_logits > 0 && want_logits {
                let rows = self.ctx.read_f32(&self.logits.buffer, 0, (m_logits * vocab) as u64).await?;
                logits.extend(rows.chunks(vocab).map(|r| r.to_vec()));
            } else if m_logits > 0 {
                next.extend(self.ctx.read_u32(&self.next_token.buffer, 0, m_logits as u64).await?);
            }
            at += m;
        }
        Ok((next, logits))
    }
}
