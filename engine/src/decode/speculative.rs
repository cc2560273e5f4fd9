//! Speculative decoding with an arbiter (COSPEC.md). One step is one GPU submission: the draft
//! proposes k tokens (each pick feeds the next embedding lookup by a buffer copy, nothing is
//! read back), the target verifies the k+1 positions in one block, the features and verify
//! kernels scan the block and run the arbiter, and the outcome (committed tokens, origins,
//! mismatch features) is the step's only read-back. Both caches then roll back in O(1).
//!
//! Invariant between steps: the target's cache holds every committed token but the last; the
//! draft's holds a prefix of that, the rest being `draft_pending` (1 or 2 tokens).

use super::arbiter::{Features, Policy};
use crate::gpu::dispatch::{encode_pass, Dispatch};
use crate::ops::sample::SamplingParams;
use crate::ops::spec::{self, SpecBuffers, SpecParams, FEATURES, MAX_K, OUTCOME_WORDS};
use crate::gpu::{GpuBuffer, GpuContext, Step};
use crate::model::llm::Pick;
use crate::model::{Model, ModelError};
use crate::tokenizer::{TextStream, Tokenizer};
use std::sync::Arc;
use web_time::Instant;

mod lockstep;
pub use lockstep::{Branch, LockstepDone, LockstepJob};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    TargetOnly,
    DraftOnly,
    /// Speculative decoding: the target's token at every mismatch.
    Spd,
    /// Speculative decoding with an arbiter policy at mismatches.
    Cospec,
}

impl Mode {
    pub const NAMES: [&'static str; 4] = ["target-only", "draft-only", "spd", "cospec"];

    pub fn from_name(s: &str) -> Option<Mode> {
        Some(match s {
            "target-only" | "target" => Mode::TargetOnly,
            "draft-only" | "draft" => Mode::DraftOnly,
            "spd" => Mode::Spd,
            "cospec" => Mode::Cospec,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::TargetOnly => "target-only",
            Mode::DraftOnly => "draft-only",
            Mode::Spd => "spd",
            Mode::Cospec => "cospec",
        }
    }
}

/// Where a generated token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// A draft token the target agreed with.
    DraftAccepted,
    /// A draft token the arbiter kept at a mismatch.
    DraftKept,
    /// The target's token (at a mismatch, or every token in target-only mode).
    Target,
    /// The target's extra token after k agreed draft tokens.
    Bonus,
    /// Draft-only mode.
    Draft,
}

impl Origin {
    fn from_code(c: u32) -> Origin {
        match c {
            spec::ORIGIN_ACCEPTED => Origin::DraftAccepted,
            spec::ORIGIN_KEPT => Origin::DraftKept,
            spec::ORIGIN_BONUS => Origin::Bonus,
            _ => Origin::Target,
        }
    }
}

#[derive(Clone, Debug)]
pub struct SpecOptions {
    pub mode: Mode,
    /// Draft tokens per step (1..=MAX_K).
    pub k: usize,
    /// Used in cospec mode; spd always takes the target.
    pub policy: Policy,
    /// Greedy, or temperature sampling (speculative modes: temperature only).
    pub sampling: SamplingParams,
    pub max_tokens: usize,
    pub stop_at_eos: bool,
}

impl Default for SpecOptions {
    fn default() -> Self {
        SpecOptions {
            mode: Mode::Spd,
            k: 4,
            policy: Policy::Target,
            sampling: SamplingParams::default(),
            max_tokens: 128,
            stop_at_eos: true,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct OriginCounts {
    pub draft_accepted: usize,
    pub draft_kept: usize,
    pub target: usize,
    pub bonus: usize,
    pub draft: usize,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SpecStats {
    pub mode: String,
    pub policy: String,
    pub k: usize,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    /// Prompt prefill of both models (waited for).
    pub prompt_secs: f64,
    /// From the end of the prefill to the last token.
    pub decode_secs: f64,
    pub steps: usize,
    pub target_passes: usize,
    pub draft_passes: usize,
    pub submissions: usize,
    pub readbacks: usize,
    pub mismatches: usize,
    pub keeps: usize,
    pub origins: OriginCounts,
    pub stopped_at_eos: bool,
}

impl SpecStats {
    pub fn tok_per_s(&self) -> f64 {
        self.generated_tokens as f64 / self.decode_secs.max(1e-9)
    }

    /// Mean committed tokens per target pass (1 for target-only).
    pub fn tokens_per_target_pass(&self) -> f64 {
        self.generated_tokens as f64 / self.target_passes.max(1) as f64
    }

    pub fn mismatches_per_100(&self) -> f64 {
        100.0 * self.mismatches as f64 / self.generated_tokens.max(1) as f64
    }

    /// Share of mismatches where the arbiter kept the draft token.
    pub fn keep_share(&self) -> f64 {
        self.keeps as f64 / self.mismatches.max(1) as f64
    }

    pub fn submissions_per_step(&self) -> f64 {
        self.submissions as f64 / self.steps.max(1) as f64
    }

    pub fn readbacks_per_step(&self) -> f64 {
        self.readbacks as f64 / self.steps.max(1) as f64
    }
}

/// A mismatch the arbiter saw: where, its features, and what it chose.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MismatchRecord {
    /// Index of the token in the generated output.
    pub position: usize,
    pub features: Features,
    pub kept: bool,
    /// The draft's token and the target's (its argmax; with sampling, the residual draw is
    /// the committed token when the target's was taken).
    pub draft_token: u32,
    pub target_token: u32,
}

pub struct SpecOutput {
    pub tokens: Vec<u32>,
    pub origins: Vec<Origin>,
    pub text: String,
    pub stats: SpecStats,
    pub mismatches: Vec<MismatchRecord>,
}

/// A draft and a target model on one GPU, with the buffers and launches of a verify step.
pub struct SpecSession {
    pub draft: Model,
    pub target: Model,
    ctx: Arc<GpuContext>,
    max_k: usize,
    vocab: usize,
    proposals: GpuBuffer,
    q_logits: GpuBuffer,
    rows: GpuBuffer,
    outcome: GpuBuffer,
    staging: wgpu::Buffer,
    params: GpuBuffer,
    draft_steps: GpuBuffer,
    mlp: (Option<Arc<super::arbiter::Mlp>>, GpuBuffer),
    kernels: [Dispatch; 3],
}

fn invalid(s: impl Into<String>) -> ModelError {
    ModelError::Invalid(s.into())
}

impl SpecSession {
    /// Whether `draft` and `target` can be paired for draft lengths up to `max_k` (what `new`
    /// refuses), without giving them up.
    pub fn check(draft: &Model, target: &Model, max_k: usize) -> Result<(), ModelError> {
        if !Arc::ptr_eq(&draft.ctx, &target.ctx) {
            return Err(invalid("the draft and target models must be loaded on the same GPU context"));
        }
        if draft.config.vocab != target.config.vocab {
            return Err(invalid(format!(
                "the draft's vocabulary ({} tokens) differs from the target's ({}): speculative decoding needs one tokenizer",
                draft.config.vocab, target.config.vocab
            )));
        }
        if !(1..=MAX_K).contains(&max_k) {
            return Err(invalid(format!("draft length {max_k} out of range 1..={MAX_K}")));
        }
        if target.max_block() < max_k + 1 || draft.max_block() < 2 {
            return Err(invalid(format!(
                "blocks of {} (target) and {} (draft) tokens are too small for k = {max_k}: load with a block of at least k + 1",
                target.max_block(),
                draft.max_block()
            )));
        }
        Ok(())
    }

    /// Pairs two loaded models for draft lengths up to `max_k`.
    pub fn new(draft: Model, target: Model, max_k: usize) -> Result<SpecSession, ModelError> {
        Self::check(&draft, &target, max_k)?;
        let ctx = target.ctx.clone();
        let g = ctx.as_ref();
        let vocab = target.config.vocab;
        let proposals = GpuBuffer::zeros(g, "proposals", MAX_K);
        let q_logits = GpuBuffer::zeros(g, "draft logits per proposal", max_k * vocab);
        let rows = GpuBuffer::zeros(g, "spec rows", (MAX_K + 1) * spec::ROW);
        let outcome = GpuBuffer::zeros(g, "spec outcome", OUTCOME_WORDS);
        let staging = g.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("spec outcome read-back"),
            size: (OUTCOME_WORDS * 4) as u64,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let params = GpuBuffer::uniform(g, "spec params", &[0; 16]);
        let draft_steps = GpuBuffer::zeros(g, "draft step table", MAX_K * (Step::BYTES as usize / 4));
        let mlp_buf = GpuBuffer::zeros(g, "arbiter weights (none)", 1);
        let kernels = Self::kernels(g, &target, &q_logits, &proposals, &rows, &mlp_buf, &outcome, &params, vocab, max_k)?;
        Ok(SpecSession {
            draft,
            target,
            ctx,
            max_k,
            vocab,
            proposals,
            q_logits,
            rows,
            outcome,
            staging,
            params,
            draft_steps,
            mlp: (None, mlp_buf),
            kernels,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn kernels(
        g: &GpuContext,
        target: &Model,
        q_logits: &GpuBuffer,
        proposals: &GpuBuffer,
        rows: &GpuBuffer,
        mlp: &GpuBuffer,
        outcome: &GpuBuffer,
        params: &GpuBuffer,
        vocab: usize,
        max_k: usize,
    ) -> Result<[Dispatch; 3], ModelError> {
        Ok(spec::prepare(
            g,
            &SpecBuffers {
                p_logits: &target.logits_buffer().buffer,
                q_logits: &q_logits.buffer,
                proposals: &proposals.buffer,
                rows: &rows.buffer,
                mlp: &mlp.buffer,
                outcome: &outcome.buffer,
                params,
                vocab,
                max_k,
            },
        )?)
    }

    pub fn max_k(&self) -> usize {
        self.max_k
    }

    pub fn into_models(self) -> (Model, Model) {
        (self.draft, self.target)
    }

    /// Binds the learned arbiter's weights when they change.
    fn use_policy(&mut self, policy: &Policy) -> Result<(), ModelError> {
        let wanted = policy.mlp().cloned();
        let same = match (&self.mlp.0, &wanted) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        if same {
            return Ok(());
        }
        let g = self.ctx.as_ref();
        let buf = match &wanted {
            Some(m) => GpuBuffer::from_f32(g, "arbiter weights", &m.gpu_words()),
            None => GpuBuffer::zeros(g, "arbiter weights (none)", 1),
        };
        self.kernels = Self::kernels(g, &self.target, &self.q_logits, &self.proposals, &self.rows, &buf, &self.outcome, &self.params, self.vocab, self.max_k)?;
        self.mlp = (wanted, buf);
        Ok(())
    }

    /// Generates after `prompt` (both caches are cleared first). `on_piece` receives each piece
    /// of text with the origin of the token that completed it.
    pub async fn generate(
        &mut self,
        tok: &Tokenizer,
        prompt: &[u32],
        opts: &SpecOptions,
        on_piece: &mut dyn FnMut(&str, Origin),
    ) -> Result<SpecOutput, ModelError> {
        let mut run = self.start(prompt, opts).await?;
        while !run.is_done() {
            self.step(tok, &mut run, on_piece).await?;
        }
        self.finish(tok, run, on_piece)
    }

    /// Prefills both caches with the prompt and returns a generation to drive with `step`
    /// (a caller can stop between steps: the browser's stop button).
    pub async fn start(&mut self, prompt: &[u32], opts: &SpecOptions) -> Result<SpecRun, ModelError> {
        self.start_reusing(prompt, opts, 0).await
    }

    /// As `start`, keeping the first `cached` prompt tokens' rows of both caches, which the
    /// caller knows hold exactly those tokens (the previous generation's prompt and tokens:
    /// the earlier turns of a chat); only the rest of the prompt is prefilled. Each row is
    /// what a fresh prefill computes, so the generation is the same.
    pub async fn start_reusing(&mut self, prompt: &[u32], opts: &SpecOptions, cached: usize) -> Result<SpecRun, ModelError> {
        let held = self.target.len().min(self.draft.len());
        if cached > held || (cached > 0 && cached >= prompt.len()) {
            return Err(invalid(format!("{cached} cached prompt tokens asked for, the caches hold {held} and the prompt {}", prompt.len())));
        }
        if prompt.is_empty() {
            return Err(invalid("the prompt is empty"));
        }
        let speculative = matches!(opts.mode, Mode::Spd | Mode::Cospec);
        let s = &opts.sampling;
        if speculative {
            self.check_k(opts.k)?;
            if !s.is_greedy() && (s.top_k != 0 || s.top_p < 1.0) {
                return Err(invalid("speculative sampling uses the temperature only: drop --top-k / --top-p, or use target-only"));
            }
        }
        let policy = if opts.mode == Mode::Cospec { opts.policy.clone() } else { Policy::Target };
        let ctx_len = self.target.ctx_len().min(self.draft.ctx_len());
        if prompt.len() >= ctx_len {
            return Err(ModelError::ContextFull { have: 0, adding: prompt.len(), ctx: ctx_len });
        }
        let budget = opts.max_tokens.min(ctx_len - prompt.len());
        let mut run = Run::new(opts, &policy, prompt.len(), budget);
        let (head, last) = prompt.split_at(prompt.len() - 1);
        let t0 = Instant::now();
        self.target.truncate(cached);
        self.draft.truncate(cached);
        let head = &head[cached..];
        match opts.mode {
            Mode::DraftOnly => self.draft.prefill(head)?,
            Mode::TargetOnly => self.target.prefill(head)?,
            _ => {
                self.draft.prefill(head)?;
                self.target.prefill(head)?;
            }
        }
        if speculative {
            self.use_policy(&policy)?;
        }
        // Sampling restarts its draw counters, so a seed gives the same text every time.
        if !s.is_greedy() {
            if speculative {
                let draft_sampling = SamplingParams { temperature: s.temperature, top_k: 0, top_p: 1.0, seed: s.seed ^ 0x5EED_D4AF };
                self.draft.prepare_sampler(&draft_sampling)?;
                self.target.prepare_sampler(s)?;
            } else if opts.mode == Mode::DraftOnly {
                self.draft.prepare_sampler(s)?;
            } else {
                self.target.prepare_sampler(s)?;
            }
        }
        // Wait for the prefill so the decode clock starts from an idle GPU.
        self.ctx.read_u32(&self.outcome.buffer, 0, 1).await?;
        run.stats.prompt_secs = t0.elapsed().as_secs_f64();
        Ok(SpecRun { run, pending: vec![last[0]], opts: opts.clone(), policy, started: Instant::now() })
    }

    /// One step of `run`: a speculative step, or one token in a single-model mode.
    pub async fn step(&mut self, tok: &Tokenizer, r: &mut SpecRun, on_piece: &mut dyn FnMut(&str, Origin)) -> Result<(), ModelError> {
        if r.run.done {
            return Ok(());
        }
        let s = r.opts.sampling;
        match r.opts.mode {
            Mode::TargetOnly | Mode::DraftOnly => {
                let x = *r.pending.last().expect("a pending token");
                let (model, origin) =
                    if r.opts.mode == Mode::TargetOnly { (&mut self.target, Origin::Target) } else { (&mut self.draft, Origin::Draft) };
                let t = model.forward_next(&[x], &s).await?;
                let st = &mut r.run.stats;
                st.submissions += 1;
                st.readbacks += 1;
                st.steps += 1;
                if origin == Origin::Target {
                    st.target_passes += 1;
                } else {
                    st.draft_passes += 1;
                }
                r.pending = vec![t];
                r.run.commit(tok, t, origin, on_piece)?;
            }
            Mode::Spd | Mode::Cospec => {
                let policy = r.policy.clone();
                let opts = r.opts.clone();
                self.spec_step(tok, &mut r.pending, &opts, &policy, &mut r.run, on_piece).await?;
            }
        }
        r.run.stats.decode_secs = r.started.elapsed().as_secs_f64();
        Ok(())
    }

    /// Flushes the text stream and returns the generation.
    pub fn finish(&mut self, tok: &Tokenizer, r: SpecRun, on_piece: &mut dyn FnMut(&str, Origin)) -> Result<SpecOutput, ModelError> {
        r.run.finish(tok, on_piece)
    }

    /// The draft length a speculative mode asks for fits this session.
    fn check_k(&self, k: usize) -> Result<(), ModelError> {
        if !(1..=self.max_k).contains(&k) {
            return Err(invalid(format!("draft length k = {k} out of range 1..={} for this session", self.max_k)));
        }
        Ok(())
    }

    /// One draft-verify-arbitrate step; `pending` holds the tokens the draft has not cached
    /// (its last is the last committed token, which the target has not cached either).
    async fn spec_step(
        &mut self,
        tok: &Tokenizer,
        pending: &mut Vec<u32>,
        opts: &SpecOptions,
        policy: &Policy,
        run: &mut Run,
        on_piece: &mut dyn FnMut(&str, Origin),
    ) -> Result<(), ModelError> {
        let x = *pending.last().expect("a pending token");
        if pending.len() > self.draft.max_block() {
            let n = pending.len() - 1;
            self.draft.prefill(&pending[..n])?;
            pending.drain(..n);
        }
        let remaining = run.budget - run.tokens.len();
        let (dl0, tl0, p) = (self.draft.len(), self.target.len(), pending.len());
        let target_room = self.target.ctx_len().saturating_sub(tl0 + 1);
        let draft_room = (self.draft.ctx_len() + 1).saturating_sub(dl0 + p);
        let k = opts.k.min(remaining - 1).min(target_room).min(draft_room);
        if k == 0 {
            // One plain target step: the last token, or a context about to fill.
            let t = self.target.forward_next(&[x], &opts.sampling).await?;
            run.stats.steps += 1;
            run.stats.target_passes += 1;
            run.stats.submissions += 1;
            run.stats.readbacks += 1;
            pending.push(t);
            return run.commit(tok, t, Origin::Target, on_piece);
        }
        let g = self.ctx.as_ref();
        let sampling = !opts.sampling.is_greedy();
        let vocab_bytes = (self.vocab * 4) as u64;
        self.draft.tokens_buffer().write_u32(g, 0, pending);
        let mut table = Vec::with_capacity(k * Step::BYTES as usize / 4);
        for i in 0..k {
            let (m, pos) = if i == 0 { (p, dl0) } else { (1, dl0 + p + i - 1) };
            table.extend(Step::one_sequence(m, pos, 1).words());
        }
        self.draft_steps.write_u32(g, 0, &table);
        self.target.tokens_buffer().write_u32(g, 0, &[x]);
        self.target.step_buffer().write_u32(g, 0, &Step::one_sequence(k + 1, tl0, k + 1).words());
        let params = SpecParams {
            k: k as u32,
            vocab: self.vocab as u32,
            policy: policy.id(),
            sampling,
            inv_temp: if sampling { 1.0 / opts.sampling.temperature } else { 1.0 },
            seed: (opts.sampling.seed ^ (opts.sampling.seed >> 32)) as u32,
            step_index: run.stats.steps as u32,
            generated: run.tokens.len() as u32,
            max_tokens: run.budget as u32,
            keeps: run.stats.keeps as u32,
            hidden: policy.mlp().map(|m| m.hidden() as u32).unwrap_or(0),
            block_offset: 0,
            thresholds: policy.thresholds(),
        };
        self.params.write_u32(g, 0, &params.words());

        let mut enc = g.device.create_command_encoder(&Default::default());
        let pick = if sampling { Pick::Sample } else { Pick::Argmax };
        for i in 0..k {
            enc.copy_buffer_to_buffer(&self.draft_steps.buffer, i as u64 * Step::BYTES, &self.draft.step_buffer().buffer, 0, Step::BYTES);
            if i > 0 {
                enc.copy_buffer_to_buffer(&self.draft.next_token_buffer().buffer, 0, &self.draft.tokens_buffer().buffer, 0, 4);
            }
            self.draft.encode_block(&mut enc, if i == 0 { p } else { 1 }, 1, pick);
            let next = &self.draft.next_token_buffer().buffer;
            enc.copy_buffer_to_buffer(next, 0, &self.proposals.buffer, (i * 4) as u64, 4);
            enc.copy_buffer_to_buffer(next, 0, &self.target.tokens_buffer().buffer, ((i + 1) * 4) as u64, 4);
            enc.copy_buffer_to_buffer(&self.draft.logits_buffer().buffer, 0, &self.q_logits.buffer, i as u64 * vocab_bytes, vocab_bytes);
        }
        self.target.encode_block(&mut enc, k + 1, k + 1, Pick::Nothing);
        let [features, verify, resample] = &self.kernels;
        let mut list = vec![features, verify];
        if sampling {
            list.push(resample);
        }
        encode_pass(g, &mut enc, &list, 1, 1);
        enc.copy_buffer_to_buffer(&self.outcome.buffer, 0, &self.staging, 0, (OUTCOME_WORDS * 4) as u64);
        g.queue.submit([enc.finish()]);
        let bytes = g.map_and_read(&self.staging).await?;
        let out: Vec<u32> = bytemuck::pod_collect_to_vec(&bytes);
        self.draft.set_len(dl0 + p + k - 1);
        self.target.set_len(tl0 + k + 1);
        run.stats.steps += 1;
        run.stats.target_passes += 1;
        run.stats.draft_passes += k;
        run.stats.submissions += 1;
        run.stats.readbacks += 1;

        let n = out[spec::O_COUNT] as usize;
        if !(1..=k + 1).contains(&n) {
            return Err(invalid(format!("the verify kernel committed {n} tokens for k = {k}")));
        }
        let base = run.tokens.len();
        let mut committed = Vec::with_capacity(n);
        for j in 0..n {
            if run.done {
                break;
            }
            let t = out[spec::O_TOKENS + j];
            if t as usize >= self.vocab {
                return Err(ModelError::BadToken(t, self.vocab));
            }
            committed.push(t);
            run.commit(tok, t, Origin::from_code(out[spec::O_ORIGINS + j]), on_piece)?;
        }
        let c = committed.len();
        for j in 0..out[spec::O_MISMATCHES] as usize {
            let pos = out[spec::O_MISMATCH_POS + j] as usize;
            if pos >= c {
                continue;
            }
            let mut features = [0f32; FEATURES];
            for (f, v) in features.iter_mut().enumerate() {
                *v = f32::from_bits(out[spec::O_FEATURES + j * spec::FEATURE_STRIDE + f]);
            }
            let kept = run.origins[base + pos] == Origin::DraftKept;
            let row = spec::O_FEATURES + j * spec::FEATURE_STRIDE;
            run.stats.mismatches += 1;
            run.stats.keeps += kept as usize;
            run.mismatches.push(MismatchRecord {
                position: base + pos,
                features,
                kept,
                draft_token: out[row + FEATURES],
                target_token: out[row + FEATURES + 1],
            });
        }
        // Roll back: the target keeps x and the committed tokens but the last; the draft keeps
        // what it cached of them (the proposals d_1..d_{k-1}).
        self.target.set_len(tl0 + c);
        let draft_valid = (c - 1).min(k - 1);
        self.draft.set_len(dl0 + p + draft_valid);
        pending.clear();
        pending.extend_from_slice(&committed[draft_valid..]);
        Ok(())
    }
}

/// A generation in progress, driven by `SpecSession::step`.
pub struct SpecRun {
    run: Run,
    /// Tokens the draft has not cached; the last is the last committed token.
    pending: Vec<u32>,
    opts: SpecOptions,
    policy: Policy,
    started: Instant,
}

impl SpecRun {
    pub fn is_done(&self) -> bool {
        self.run.done
    }

    pub fn tokens(&self) -> &[u32] {
        &self.run.tokens
    }

    pub fn origins(&self) -> &[Origin] {
        &self.run.origins
    }

    pub fn stats(&self) -> &SpecStats {
        &self.run.stats
    }

    /// Tokens the draft model has not cached yet (the last is the last committed token).
    pub fn draft_pending(&self) -> &[u32] {
        &self.pending
    }

    /// Ends the generation after the current step (a stop button).
    pub fn stop(&mut self) {
        self.run.done = true;
    }
}

struct Run {
    tokens: Vec<u32>,
    origins: Vec<Origin>,
    mismatches: Vec<MismatchRecord>,
    text: String,
    stream: TextStream,
    stats: SpecStats,
    budget: usize,
    stop_at_eos: bool,
    done: bool,
}

impl Run {
    /// Flushes the text stream into the output.
    fn finish(mut self, tok: &Tokenizer, on_piece: &mut dyn FnMut(&str, Origin)) -> Result<SpecOutput, ModelError> {
        let rest = self.stream.finish(tok).map_err(|e| invalid(e.to_string()))?;
        if !rest.is_empty() {
            on_piece(&rest, *self.origins.last().unwrap_or(&Origin::Target));
            self.text.push_str(&rest);
        }
        self.stats.generated_tokens = self.tokens.len();
        Ok(SpecOutput { tokens: self.tokens, origins: self.origins, text: self.text, stats: self.stats, mismatches: self.mismatches })
    }

    /// A generation of at most `budget` tokens after a prompt of `prompt_len`.
    fn new(opts: &SpecOptions, policy: &Policy, prompt_len: usize, budget: usize) -> Run {
        let speculative = matches!(opts.mode, Mode::Spd | Mode::Cospec);
        Run {
            tokens: Vec::new(),
            origins: Vec::new(),
            mismatches: Vec::new(),
            text: String::new(),
            stream: TextStream::new(),
            stats: SpecStats {
                mode: opts.mode.name().into(),
                policy: policy.name().into(),
                k: if speculative { opts.k } else { 0 },
                prompt_tokens: prompt_len,
                ..Default::default()
            },
            budget,
            stop_at_eos: opts.stop_at_eos,
            done: budget == 0,
        }
    }

    fn commit(&mut self, tok: &Tokenizer, t: u32, origin: Origin, on_piece: &mut dyn FnMut(&str, Origin)) -> Result<(), ModelError> {
        self.tokens.push(t);
        self.origins.push(origin);
        self.stats.generated_tokens = self.tokens.len();
        let counts = &mut self.stats.origins;
        match origin {
            Origin::DraftAccepted => counts.draft_accepted += 1,
            Origin::DraftKept => counts.draft_kept += 1,
            Origin::Target => counts.target += 1,
            Origin::Bonus => counts.bonus += 1,
            Origin::Draft => counts.draft += 1,
        }
        if self.stop_at_eos && tok.is_eos(t) {
            self.stats.stopped_at_eos = true;
            self.done = true;
            return Ok(());
        }
        let piece = self.stream.push(tok, t).map_err(|e| invalid(e.to_string()))?;
        if !piece.is_empty() {
            on_piece(&piece, origin);
            self.text.push_str(&piece);
        }
        if self.tokens.len() >= self.budget {
            self.done = true;
        }
        Ok(())
    }
}
