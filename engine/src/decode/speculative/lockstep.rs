//! Many prompts decoded greedily in lock step, each in its own cache region of both models,
//! with every mode's exact output: the tokens, origins, target passes, mismatches and keeps a
//! `generate` of each prompt alone would give (greedy decoding is a deterministic function of
//! the two models' argmax tokens and the arbiter). One step runs one multi-sequence block per
//! model (`Model::forward_sequences`), so a GPU decodes a batch for about the price of one
//! sequence; the speculative block structure is replayed per sequence:
//!   - a block opens with k' = min(k, remaining - 1) draft positions (none left: one plain
//!     target step), one target pass and k' draft passes;
//!   - at block position i < k' the draft's and the target's argmax agree: the token is
//!     accepted; they differ: the features and verify kernels of the session run on this
//!     sequence's two logits rows (a one-position block at offset i), and keep the draft's
//!     token (the block goes on) or take the target's (the block ends);
//!   - at i = k' the target's token is the bonus and the block ends.
//! What it cannot give is the speculative step's wall time (a batch is not a speculative
//! step): the outputs carry no decode time.

use super::{invalid, Mode, Origin, Run, SpecOptions, SpecOutput, SpecSession};
use crate::decode::arbiter::Policy;
use crate::gpu::dispatch::encode_pass;
use crate::gpu::kernels::spec::{self, SpecParams, FEATURES};
use crate::gpu::GpuBuffer;
use crate::model::llm::SeqTokens;
use crate::model::ModelError;
use crate::tokenizer::Tokenizer;

/// What every sequence's replay shares in one call.
struct Replay<'a> {
    tok: &'a Tokenizer,
    k: usize,
    policy: &'a Policy,
    /// A logits row, to move a sequence's target row to row 0.
    scratch: GpuBuffer,
}

/// One prompt's generation in progress.
struct Lane {
    run: Run,
    /// With SPD: the prompt's target-only generation, read off the same target passes.
    target_only: Option<Run>,
    prompt_len: usize,
    /// The last committed token (both models have cached everything before it).
    last: u32,
    /// Draft positions of the open block (0: no block open) and the position reached.
    block: usize,
    at: usize,
}

impl SpecSession {
    /// Greedy generations of every prompt, as `generate` would give them one by one with the
    /// same options and a context of `ctx_len` tokens, computed side by side. Sequence s uses
    /// cache rows s * region .. of both models, so both need a context of prompts.len() *
    /// region tokens, region at least the longest prompt plus max_tokens, and blocks of at
    /// least prompts.len() tokens.
    pub async fn generate_lockstep(
        &mut self,
        tok: &Tokenizer,
        prompts: &[Vec<u32>],
        opts: &SpecOptions,
        ctx_len: usize,
        region: usize,
    ) -> Result<Vec<SpecOutput>, ModelError> {
        let budgets = vec![opts.max_tokens; prompts.len()];
        self.generate_lockstep_each(tok, prompts, &budgets, opts, ctx_len, region).await
    }

    /// As `generate_lockstep`, with prompt i's `max_tokens` given by `max_tokens[i]` (branch
    /// rollouts: each branch has what is left of the budget after its prefix).
    pub async fn generate_lockstep_each(
        &mut self,
        tok: &Tokenizer,
        prompts: &[Vec<u32>],
        max_tokens: &[usize],
        opts: &SpecOptions,
        ctx_len: usize,
        region: usize,
    ) -> Result<Vec<SpecOutput>, ModelError> {
        Ok(self.lockstep(tok, prompts, max_tokens, opts, ctx_len, region, false).await?.into_iter().map(|(out, _)| out).collect())
    }

    /// SPD in lock step (`opts.mode` must be `Mode::Spd`) together with each prompt's
    /// target-only generation, at the cost of SPD alone: greedy SPD commits the target's token
    /// at every position, and each step computes the target's argmax there, which is exactly
    /// what a target-only step commits. Returns (SPD, target-only) per prompt; the two token
    /// streams are checked equal as they go.
    pub async fn generate_lockstep_spd_and_target_only(
        &mut self,
        tok: &Tokenizer,
        prompts: &[Vec<u32>],
        opts: &SpecOptions,
        ctx_len: usize,
        region: usize,
    ) -> Result<Vec<(SpecOutput, SpecOutput)>, ModelError> {
        if opts.mode != Mode::Spd {
            return Err(invalid(format!("target-only generations ride along SPD only, not {}", opts.mode.name())));
        }
        let budgets = vec![opts.max_tokens; prompts.len()];
        let outs = self.lockstep(tok, prompts, &budgets, opts, ctx_len, region, true).await?;
        outs.into_iter().map(|(spd, target_only)| target_only.map(|t| (spd, t)).ok_or_else(|| invalid("a lane lost its target-only run"))).collect()
    }

    #[allow(clippy::too_many_arguments)]
    async fn lockstep(
        &mut self,
        tok: &Tokenizer,
        prompts: &[Vec<u32>],
        max_tokens: &[usize],
        opts: &SpecOptions,
        ctx_len: usize,
        region: usize,
        with_target_only: bool,
    ) -> Result<Vec<(SpecOutput, Option<SpecOutput>)>, ModelError> {
        if max_tokens.len() != prompts.len() {
            return Err(invalid(format!("{} budgets for {} prompts", max_tokens.len(), prompts.len())));
        }
        if !opts.sampling.is_greedy() {
            return Err(invalid("lock-step decoding replays greedy decoding only"));
        }
        if !opts.stop_at_eos {
            return Err(invalid("lock-step decoding stops at the end-of-sequence token"));
        }
        let speculative = matches!(opts.mode, Mode::Spd | Mode::Cospec);
        if speculative {
            self.check_k(opts.k)?;
        }
        let n = prompts.len();
        for m in [&self.draft, &self.target] {
            if m.ctx_len() < n * region || m.max_block() < n {
                return Err(invalid(format!(
                    "{n} sequences of {region} cache rows need a context of {} and blocks of {n} (have {} and {})",
                    n * region,
                    m.ctx_len(),
                    m.max_block()
                )));
            }
        }
        let policy = if opts.mode == Mode::Cospec { opts.policy.clone() } else { Policy::Target };
        if speculative {
            self.use_policy(&policy)?;
        }
        let mut lanes = Vec::with_capacity(n);
        for (p, &max) in prompts.iter().zip(max_tokens) {
            if p.is_empty() || p.len() >= ctx_len {
                return Err(ModelError::ContextFull { have: 0, adding: p.len(), ctx: ctx_len });
            }
            let budget = max.min(ctx_len - p.len());
            if p.len() + budget > region {
                return Err(invalid(format!("a prompt of {} tokens and {budget} more do not fit a region of {region}", p.len())));
            }
            let run = Run::new(opts, &policy, p.len(), budget);
            let target_only = with_target_only.then(|| Run::new(&SpecOptions { mode: Mode::TargetOnly, ..opts.clone() }, &Policy::Target, p.len(), budget));
            lanes.push(Lane { run, target_only, prompt_len: p.len(), last: *p.last().expect("checked non-empty"), block: 0, at: 0 });
        }
        // The prompts but their last tokens, as `start` prefills them.
        let heads: Vec<SeqTokens> = prompts
            .iter()
            .enumerate()
            .filter(|(_, p)| p.len() > 1)
            .map(|(s, p)| SeqTokens { region: s * region, pos: 0, tokens: &p[..p.len() - 1] })
            .collect();
        if !heads.is_empty() {
            if opts.mode != Mode::DraftOnly {
                self.target.forward_sequences(&heads).await?;
            }
            if opts.mode != Mode::TargetOnly {
                self.draft.forward_sequences(&heads).await?;
            }
        }
        let replay = Replay { tok, k: opts.k, policy: &policy, scratch: GpuBuffer::zeros(&self.ctx, "lock-step logits row", self.vocab) };
        loop {
            let live: Vec<usize> = (0..n).filter(|&s| !lanes[s].run.done).collect();
            if live.is_empty() {
                break;
            }
            let last: Vec<[u32; 1]> = live.iter().map(|&s| [lanes[s].last]).collect();
            let seqs: Vec<SeqTokens> = live
                .iter()
                .zip(&last)
                .map(|(&s, t)| SeqTokens { region: s * region, pos: lanes[s].prompt_len - 1 + lanes[s].run.tokens.len(), tokens: t })
                .collect();
            let target = if opts.mode == Mode::DraftOnly { Vec::new() } else { self.target.forward_sequences(&seqs).await? };
            let draft = if opts.mode == Mode::TargetOnly { Vec::new() } else { self.draft.forward_sequences(&seqs).await? };
            for (row, &s) in live.iter().enumerate() {
                match opts.mode {
                    Mode::TargetOnly => {
                        lanes[s].run.stats.steps += 1;
                        lanes[s].run.stats.target_passes += 1;
                        self.commit(tok, &mut lanes[s], target[row], Origin::Target)?;
                    }
                    Mode::DraftOnly => {
                        lanes[s].run.stats.steps += 1;
                        lanes[s].run.stats.draft_passes += 1;
                        self.commit(tok, &mut lanes[s], draft[row], Origin::Draft)?;
                    }
                    Mode::Spd | Mode::Cospec => self.replay(&replay, &mut lanes[s], row, draft[row], target[row]).await?,
                }
                let lane = &mut lanes[s];
                if let Some(alone) = &mut lane.target_only {
                    alone.stats.steps += 1;
                    alone.stats.target_passes += 1;
                    alone.commit(tok, target[row], Origin::Target, &mut |_, _| {})?;
                    if alone.tokens.last() != lane.run.tokens.last() || alone.done != lane.run.done {
                        return Err(invalid(format!("SPD and target-only parted at token {} of sequence {s}", lane.run.tokens.len())));
                    }
                }
            }
        }
        // No decode time: a lane's tokens were not decoded on their own.
        lanes
            .into_iter()
            .map(|lane| Ok((lane.run.finish(tok, &mut |_, _| {})?, lane.target_only.map(|r| r.finish(tok, &mut |_, _| {})).transpose()?)))
            .collect()
    }

    fn commit(&self, tok: &Tokenizer, lane: &mut Lane, t: u32, origin: Origin) -> Result<(), ModelError> {
        if t as usize >= self.vocab {
            return Err(ModelError::BadToken(t, self.vocab));
        }
        lane.last = t;
        lane.run.commit(tok, t, origin, &mut |_, _| {})
    }

    /// One token of a speculative block for one sequence, given both models' argmax at its
    /// position (the draft's proposal and the target's token); `row` is its logits row.
    async fn replay(&mut self, r: &Replay<'_>, lane: &mut Lane, row: usize, d: u32, t: u32) -> Result<(), ModelError> {
        let (tok, k) = (r.tok, r.k);
        if lane.block == 0 {
            let remaining = lane.run.budget - lane.run.tokens.len();
            let k_open = k.min(remaining - 1);
            lane.run.stats.steps += 1;
            lane.run.stats.target_passes += 1;
            if k_open == 0 {
                return self.commit(tok, lane, t, Origin::Target);
            }
            lane.run.stats.draft_passes += k_open;
            (lane.block, lane.at) = (k_open, 0);
        }
        if lane.at == lane.block {
            lane.block = 0;
            return self.commit(tok, lane, t, Origin::Bonus);
        }
        if d == t {
            lane.at += 1;
            return self.commit(tok, lane, d, Origin::DraftAccepted);
        }
        let (kept, features) = self.arbitrate(r, lane, row, d, t).await?;
        let position = lane.run.tokens.len();
        lane.run.stats.mismatches += 1;
        lane.run.stats.keeps += kept as usize;
        lane.run.mismatches.push(super::MismatchRecord { position, features, kept, draft_token: d, target_token: t });
        if kept {
            lane.at += 1;
            self.commit(tok, lane, d, Origin::DraftKept)
        } else {
            lane.block = 0;
            self.commit(tok, lane, t, Origin::Target)
        }
    }

    /// The verify kernel's decision at a mismatch: this sequence's logits rows become row 0
    /// of a one-position block at the lane's block position, so the features and the policy
    /// are computed by the same kernels, on the same logits, as in a speculative step.
    async fn arbitrate(&mut self, r: &Replay<'_>, lane: &Lane, row: usize, d: u32, t: u32) -> Result<(bool, [f32; FEATURES]), ModelError> {
        let policy = r.policy;
        let g = self.ctx.clone();
        let row_bytes = (self.vocab * 4) as u64;
        let mut enc = g.device.create_command_encoder(&Default::default());
        if row != 0 {
            // A buffer cannot be copied onto itself: through a scratch row.
            let p = &self.target.logits_buffer().buffer;
            enc.copy_buffer_to_buffer(p, row as u64 * row_bytes, &r.scratch.buffer, 0, row_bytes);
            enc.copy_buffer_to_buffer(&r.scratch.buffer, 0, p, 0, row_bytes);
        }
        enc.copy_buffer_to_buffer(&self.draft.logits_buffer().buffer, row as u64 * row_bytes, &self.q_logits.buffer, 0, row_bytes);
        self.proposals.write_u32(&g, 0, &[d]);
        let params = SpecParams {
            k: 1,
            vocab: self.vocab as u32,
            policy: policy.id(),
            sampling: false,
            inv_temp: 1.0,
            seed: 0,
            step_index: lane.run.stats.steps as u32,
            generated: lane.run.tokens.len() as u32,
            max_tokens: lane.run.budget as u32,
            keeps: lane.run.stats.keeps as u32,
            hidden: policy.mlp().map(|m| m.hidden() as u32).unwrap_or(0),
            block_offset: lane.at as u32,
            thresholds: policy.thresholds(),
        };
        self.params.write_u32(&g, 0, &params.words());
        let [features, verify, _] = &self.kernels;
        encode_pass(&g, &mut enc, &[features, verify], 1, 1);
        enc.copy_buffer_to_buffer(&self.outcome.buffer, 0, &self.staging, 0, (spec::OUTCOME_WORDS * 4) as u64);
        g.queue.submit([enc.finish()]);
        let bytes = g.map_and_read(&self.staging).await?;
        let out: Vec<u32> = bytemuck::pod_collect_to_vec(&bytes);
        let seen = (out[spec::O_FEATURES + FEATURES], out[spec::O_FEATURES + FEATURES + 1]);
        if out[spec::O_MISMATCHES] != 1 || seen != (d, t) {
            return Err(invalid(format!("the verify kernel saw tokens {seen:?} where the argmax kernels gave ({d}, {t})")));
        }
        let mut f = [0f32; FEATURES];
        for (i, v) in f.iter_mut().enumerate() {
            *v = f32::from_bits(out[spec::O_FEATURES + i]);
        }
        Ok((Origin::from_code(out[spec::O_ORIGINS]) == Origin::DraftKept, f))
    }
}
