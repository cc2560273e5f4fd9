//! Many generations decoded greedily in lock step, each in its own cache region of both
//! models, with every mode's exact output: the tokens, origins, target passes, mismatches and
//! keeps a `generate` of each prompt alone would give (greedy decoding is a deterministic
//! function of the two models' argmax tokens and the arbiter). One step runs one
//! multi-sequence block per model (`Model::forward_sequences`), so a GPU decodes a batch for
//! about the price of one sequence.
//!
//! The generations form a queue served by a fixed number of lanes (cache regions): when one
//! finishes, the next job's prompt enters its lane in the next step's block, so the block
//! stays full until the queue runs dry instead of shrinking to the longest generation of a
//! batch. Jobs may differ in mode, k, policy and budget (one learned arbiter per queue). A
//! finished generation may be branched (another token at one of its positions, decoded on):
//! a branch starts from its cache rows instead of prefilling its prefix.
//!
//! Per lane the speculative block structure is replayed:
//!   - a block opens with k' = min(k, remaining - 1) draft positions (none left: one plain
//!     target step), one target pass and k' draft passes;
//!   - at block position i < k' the draft's and the target's argmax agree: the token is
//!     accepted; they differ: the features and verify kernels of the session run on this
//!     lane's two logits rows (a one-position block at offset i), and keep the draft's token
//!     (the block goes on) or take the target's (the block ends);
//!   - at i = k' the target's token is the bonus and the block ends.
//!
//! What it cannot give is the speculative step's wall time (a batch is not a speculative
//! step): the outputs carry no decode time.

use super::{invalid, Mode, Origin, Run, SpecOptions, SpecOutput, SpecSession};
use crate::decode::arbiter::Policy;
use crate::gpu::dispatch::encode_pass;
use crate::ops::spec::{self, SpecParams, FEATURES};
use crate::gpu::GpuBuffer;
use crate::model::llm::SeqTokens;
use crate::model::ModelError;
use crate::tokenizer::Tokenizer;
use std::sync::Arc;

/// One generation for `SpecSession::generate_queue`.
#[derive(Clone, Debug)]
pub struct LockstepJob {
    pub prompt: Vec<u32>,
    /// Greedy and stopping at the end-of-sequence token; any mode, k, policy and budget.
    pub opts: SpecOptions,
    /// SPD only: also the prompt's target-only generation, read off the same target passes
    /// (greedy SPD commits the target's token at every position, and each step computes the
    /// target's argmax there, which is what a target-only step commits).
    pub with_target_only: bool,
    /// CoSpec only: ride an SPD job of the queue with the same prompt, k and budget until this
    /// job's policy first keeps a draft token (a greedy CoSpec generation is SPD's up to there),
    /// then go on in a lane of its own from a copy of the cache rows. Without such an SPD job
    /// the job runs on its own.
    pub follows_spd: bool,
}

/// A branch of a finished generation (`SpecSession::generate_queue_branching`): its first
/// `position` tokens, then `token` in place of the one it committed there, then greedy
/// decoding with the job's options for at most `max_tokens` more. It starts from a copy of the
/// generation's cache rows instead of prefilling its prefix (branch rollouts at mismatches).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Branch {
    pub position: usize,
    pub token: u32,
    pub max_tokens: usize,
}

/// A finished job: its index in the queue, its generation and, when asked, the target-only one.
pub struct LockstepDone {
    /// The job's index in the queue (for a branch: the job it branched off).
    pub job: usize,
    /// A branch's index among its job's branches; None for the job's own generation. Its
    /// output holds only what follows the branch's token.
    pub branch: Option<usize>,
    pub output: SpecOutput,
    pub target_only: Option<SpecOutput>,
    /// The queue's steps so far (progress reports).
    pub step: usize,
}

/// One job's generation in progress in a lane.
struct Lane {
    job: usize,
    mode: Mode,
    k: usize,
    policy: Policy,
    run: Run,
    target_only: Option<Run>,
    prompt: Vec<u32>,
    /// No step yet: the next block carries the whole prompt (its last token's argmax is the
    /// first step's), after that the last committed token.
    fresh: bool,
    /// The last committed token (both models have cached everything before it).
    last: u32,
    /// Draft positions of the open block (0: no block open) and the position reached.
    block: usize,
    at: usize,
    /// SPD lanes: CoSpec jobs riding this lane, each with its own run fed from this lane's
    /// logits rows, until their policy keeps a draft token.
    riders: Vec<Lane>,
    /// A branch's index among its job's branches (branches do not branch again).
    branch: Option<usize>,
}

/// A CoSpec job that left its SPD lane and waits for a lane of its own: the first `rows`
/// cache rows of lane `source`'s region are its prefix (that lane's occupant only writes past
/// them while this waits).
struct Fork {
    lane: Lane,
    source: usize,
    rows: usize,
}

impl Lane {
    fn uses_target(&self) -> bool {
        self.mode != Mode::DraftOnly
    }

    fn uses_draft(&self) -> bool {
        self.mode != Mode::TargetOnly
    }

    /// The tokens this lane adds to the next block and the position of the first.
    fn feed(&self) -> (Vec<u32>, usize) {
        if self.fresh {
            (self.prompt.clone(), 0)
        } else {
            (vec![self.last], self.prompt.len() - 1 + self.run.tokens.len())
        }
    }
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
        if max_tokens.len() != prompts.len() {
            return Err(invalid(format!("{} budgets for {} prompts", max_tokens.len(), prompts.len())));
        }
        let jobs: Vec<LockstepJob> = prompts
            .iter()
            .zip(max_tokens)
            .map(|(p, &max)| LockstepJob { prompt: p.clone(), opts: SpecOptions { max_tokens: max, ..opts.clone() }, with_target_only: false, follows_spd: false })
            .collect();
        Ok(self.queue_in_order(tok, &jobs, prompts.len(), ctx_len, region).await?.into_iter().map(|d| d.output).collect())
    }

    /// SPD in lock step (`opts.mode` must be `Mode::Spd`) together with each prompt's
    /// target-only generation, at the cost of SPD alone. Returns (SPD, target-only) per
    /// prompt; the two token streams are checked equal as they go.
    pub async fn generate_lockstep_spd_and_target_only(
        &mut self,
        tok: &Tokenizer,
        prompts: &[Vec<u32>],
        opts: &SpecOptions,
        ctx_len: usize,
        region: usize,
    ) -> Result<Vec<(SpecOutput, SpecOutput)>, ModelError> {
        let jobs: Vec<LockstepJob> = prompts.iter().map(|p| LockstepJob { prompt: p.clone(), opts: opts.clone(), with_target_only: true, follows_spd: false }).collect();
        let done = self.queue_in_order(tok, &jobs, prompts.len(), ctx_len, region).await?;
        done.into_iter().map(|d| d.target_only.map(|t| (d.output, t)).ok_or_else(|| invalid("a lane lost its target-only run"))).collect()
    }

    /// `generate_queue`, the results in job order.
    async fn queue_in_order(&mut self, tok: &Tokenizer, jobs: &[LockstepJob], lanes: usize, ctx_len: usize, region: usize) -> Result<Vec<LockstepDone>, ModelError> {
        let mut done: Vec<LockstepDone> = Vec::with_capacity(jobs.len());
        self.generate_queue(tok, jobs, lanes, ctx_len, region, &mut |d| {
            done.push(d);
            Ok::<(), ModelError>(())
        })
        .await?;
        done.sort_by_key(|d| d.job);
        Ok(done)
    }

    /// Every job's greedy generation, exactly as `generate` gives it alone with the job's
    /// options and a context of `ctx_len` tokens, decoded `lanes` at a time in lock step: lane
    /// l uses cache rows l * region .. of both models (which need a context of lanes * region
    /// and blocks of at least `lanes` tokens; a region must hold a job's prompt and budget).
    /// Jobs enter lanes in queue order as lanes free up; `on_done` receives each job as it
    /// finishes (not in queue order), so a caller can keep results a later failure would lose.
    /// Returns the number of steps (each commits one token in every lane then live).
    pub async fn generate_queue<E: From<ModelError>>(
        &mut self,
        tok: &Tokenizer,
        jobs: &[LockstepJob],
        lanes: usize,
        ctx_len: usize,
        region: usize,
        on_done: &mut dyn FnMut(LockstepDone) -> Result<(), E>,
    ) -> Result<usize, E> {
        self.generate_queue_while(tok, jobs, lanes, ctx_len, region, &mut || true, on_done).await
    }

    /// As `generate_queue`, asking `take_more` before a lane takes a new job: once it answers
    /// false, the queue drains (the generations in lanes, and CoSpec jobs forked off them,
    /// finish; no other job starts) and returns. A run under a time limit stops this way
    /// without losing half-done generations.
    #[allow(clippy::too_many_arguments)]
    pub async fn generate_queue_while<E: From<ModelError>>(
        &mut self,
        tok: &Tokenizer,
        jobs: &[LockstepJob],
        lanes: usize,
        ctx_len: usize,
        region: usize,
        take_more: &mut dyn FnMut() -> bool,
        on_done: &mut dyn FnMut(LockstepDone) -> Result<(), E>,
    ) -> Result<usize, E> {
        let lanes = lanes.min(jobs.len());
        self.generate_queue_branching(tok, jobs, lanes, ctx_len, region, take_more, &mut |_, _| Vec::new(), on_done).await
    }

    /// As `generate_queue_while`, and when a job's generation ends, `branches` may ask for
    /// branches of it (`Branch`; not of a branch). Each starts from a copy of the cache rows of
    /// its prefix, or takes the finished lane's region as it is, and is handed to `on_done`
    /// with its job and index: exactly what `generate` gives the branch's whole prefix as a
    /// prompt, without prefilling it. Branches take free lanes before new jobs.
    #[allow(clippy::too_many_arguments)]
    pub async fn generate_queue_branching<E: From<ModelError>>(
        &mut self,
        tok: &Tokenizer,
        jobs: &[LockstepJob],
        lanes: usize,
        ctx_len: usize,
        region: usize,
        take_more: &mut dyn FnMut() -> bool,
        branches: &mut dyn FnMut(usize, &SpecOutput) -> Vec<Branch>,
        on_done: &mut dyn FnMut(LockstepDone) -> Result<(), E>,
    ) -> Result<usize, E> {
        self.check_queue(jobs, lanes, ctx_len, region)?;
        if jobs.is_empty() {
            return Ok(0);
        }
        // The kernels hold one arbiter's weights: the queue's learned policy, if any.
        let learned = jobs.iter().find(|j| j.opts.mode == Mode::Cospec && j.opts.policy.mlp().is_some()).map(|j| j.opts.policy.clone());
        if jobs.iter().any(|j| matches!(j.opts.mode, Mode::Spd | Mode::Cospec)) {
            self.use_policy(learned.as_ref().unwrap_or(&Policy::Target))?;
        }
        let scratch = GpuBuffer::zeros(&self.ctx, "lock-step logits row", self.vocab);
        let mut slots: Vec<Option<Lane>> = (0..lanes).map(|_| None).collect();
        let trunk = Self::trunks(jobs);
        let mut forks: Vec<Fork> = Vec::new();
        let (mut next, mut steps) = (0, 0);
        loop {
            for (l, slot) in slots.iter_mut().enumerate() {
                if slot.is_some() {
                    continue;
                }
                // Waiting forks before new jobs: a new job would overwrite a fork's prefix.
                // A fork whose prefix is in this very region takes it as it is (the longest
                // prefix, so the others' rows stay intact); any other fork gets a copy.
                let here = (0..forks.len()).filter(|&f| forks[f].source == l).max_by_key(|&f| forks[f].rows);
                if let Some(f) = here.or((!forks.is_empty()).then_some(0)) {
                    let fork = forks.remove(f);
                    if fork.source != l {
                        for m in [&self.target, &self.draft] {
                            m.copy_cache_rows(fork.source * region, l * region, fork.rows)?;
                        }
                    }
                    *slot = Some(fork.lane);
                    continue;
                }
                while slot.is_none() && next < jobs.len() && take_more() {
                    if trunk[next].is_some() {
                        next += 1;
                        continue;
                    }
                    let mut lane = Self::lane(next, &jobs[next], ctx_len);
                    lane.riders = (0..jobs.len()).filter(|&j| trunk[j] == Some(next)).map(|j| Self::lane(j, &jobs[j], ctx_len)).collect();
                    next += 1;
                    if lane.run.done {
                        // Nothing to generate (a budget of 0): what `generate` gives, no step.
                        for rider in std::mem::take(&mut lane.riders) {
                            Self::finish_lane(tok, rider, steps, on_done)?;
                        }
                        Self::finish_lane(tok, lane, steps, on_done)?;
                    } else {
                        *slot = Some(lane);
                    }
                }
            }
            let live: Vec<usize> = (0..lanes).filter(|&l| slots[l].is_some()).collect();
            if live.is_empty() {
                // A waiting fork takes the first free lane, so none can be left here.
                if !forks.is_empty() {
                    return Err(invalid(format!("{} forked jobs never got a lane", forks.len())).into());
                }
                return Ok(steps);
            }
            let lane_at = |l: usize| slots[l].as_ref().expect("live lanes hold a job");
            let feeds: Vec<(Vec<u32>, usize)> = live.iter().map(|&l| lane_at(l).feed()).collect();
            let seqs = |wanted: fn(&Lane) -> bool| -> Vec<SeqTokens> {
                live.iter()
                    .zip(&feeds)
                    .filter(|(&l, _)| wanted(lane_at(l)))
                    .map(|(&l, (tokens, pos))| SeqTokens { region: l * region, pos: *pos, tokens })
                    .collect()
            };
            let (target_seqs, draft_seqs) = (seqs(Lane::uses_target), seqs(Lane::uses_draft));
            steps += 1;
            let target = if target_seqs.is_empty() { Vec::new() } else { self.target.forward_sequences(&target_seqs).await? };
            let draft = if draft_seqs.is_empty() { Vec::new() } else { self.draft.forward_sequences(&draft_seqs).await? };
            // A lane's logits row in each model's block: its rank among the lanes that ran it.
            let (mut target_row, mut draft_row) = (0, 0);
            for &l in &live {
                let lane = slots[l].as_mut().expect("live lanes hold a job");
                lane.fresh = false;
                let rows = (target_row, draft_row);
                target_row += lane.uses_target() as usize;
                draft_row += lane.uses_draft() as usize;
                match lane.mode {
                    Mode::TargetOnly => {
                        lane.run.stats.steps += 1;
                        lane.run.stats.target_passes += 1;
                        self.commit(tok, lane, target[rows.0], Origin::Target)?;
                    }
                    Mode::DraftOnly => {
                        lane.run.stats.steps += 1;
                        lane.run.stats.draft_passes += 1;
                        self.commit(tok, lane, draft[rows.1], Origin::Draft)?;
                    }
                    Mode::Spd | Mode::Cospec => self.replay(tok, &scratch, lane, rows, draft[rows.1], target[rows.0]).await?,
                }
                // Riders replay the same position on the same rows; one whose policy kept the
                // draft's token has left SPD's path and waits for a lane with its prefix.
                let mut riding = Vec::with_capacity(lane.riders.len());
                for mut rider in std::mem::take(&mut lane.riders) {
                    rider.fresh = false;
                    self.replay(tok, &scratch, &mut rider, rows, draft[rows.1], target[rows.0]).await?;
                    if rider.run.tokens.last() == lane.run.tokens.last() {
                        if rider.run.done != lane.run.done {
                            return Err(invalid(format!("job {} and the SPD job it rides parted without a keep", rider.job)).into());
                        }
                        riding.push(rider);
                    } else if rider.run.done {
                        Self::finish_lane(tok, rider, steps, on_done)?;
                    } else {
                        let rows = rider.feed().1;
                        forks.push(Fork { lane: rider, source: l, rows });
                    }
                }
                lane.riders = riding;
                if let Some(alone) = &mut lane.target_only {
                    alone.stats.steps += 1;
                    alone.stats.target_passes += 1;
                    alone.commit(tok, target[rows.0], Origin::Target, &mut |_, _| {})?;
                    if alone.tokens.last() != lane.run.tokens.last() || alone.done != lane.run.done {
                        return Err(invalid(format!("SPD and target-only parted at token {} of job {}", lane.run.tokens.len(), lane.job)).into());
                    }
                }
                if lane.run.done {
                    let mut lane = slots[l].take().expect("live lanes hold a job");
                    for rider in std::mem::take(&mut lane.riders) {
                        Self::finish_lane(tok, rider, steps, on_done)?;
                    }
                    let (job, is_branch) = (lane.job, lane.branch.is_some());
                    let done = Self::finished(tok, lane, steps)?;
                    let mut branch_lanes = Vec::new();
                    if !is_branch {
                        for (index, b) in branches(job, &done.output).iter().enumerate() {
                            branch_lanes.push(self.branch_lane(job, &jobs[job], &done.output, index, b, ctx_len, region)?);
                        }
                    }
                    // A job is handed back before its branches.
                    on_done(done)?;
                    for branch in branch_lanes {
                        if branch.run.done {
                            Self::finish_lane(tok, branch, steps, on_done)?;
                        } else {
                            // The finished lane's region holds the prefix rows of every branch.
                            let rows = branch.feed().1;
                            forks.push(Fork { lane: branch, source: l, rows });
                        }
                    }
                }
            }
        }
    }

    /// Hands a finished lane's generation (and its target-only one) to `on_done`. No decode
    /// time: a lane's tokens were not decoded on their own.
    fn finish_lane<E: From<ModelError>>(tok: &Tokenizer, lane: Lane, step: usize, on_done: &mut dyn FnMut(LockstepDone) -> Result<(), E>) -> Result<(), E> {
        on_done(Self::finished(tok, lane, step)?)
    }

    fn finished(tok: &Tokenizer, lane: Lane, step: usize) -> Result<LockstepDone, ModelError> {
        let output = lane.run.finish(tok, &mut |_, _| {})?;
        let target_only = lane.target_only.map(|r| r.finish(tok, &mut |_, _| {})).transpose()?;
        Ok(LockstepDone { job: lane.job, branch: lane.branch, output, target_only, step })
    }

    /// Branch `index` of job `job` (`parent`), whose generation `output` just ended: a
    /// lane whose prompt is the branch's whole prefix, of which all but the branch's token are
    /// already in the cache rows of the finished lane (every lane feeds both models every
    /// committed token but the last), so its first step feeds only that token.
    #[allow(clippy::too_many_arguments)]
    fn branch_lane(&self, job: usize, parent: &LockstepJob, output: &SpecOutput, index: usize, b: &Branch, ctx_len: usize, region: usize) -> Result<Lane, ModelError> {
        if b.position >= output.tokens.len() {
            return Err(invalid(format!("branch {index} of job {job} at token {} of a generation of {}", b.position, output.tokens.len())));
        }
        if b.token as usize >= self.vocab {
            return Err(ModelError::BadToken(b.token, self.vocab));
        }
        let mut prefix = Vec::with_capacity(parent.prompt.len() + b.position + 1);
        prefix.extend_from_slice(&parent.prompt);
        prefix.extend_from_slice(&output.tokens[..b.position]);
        prefix.push(b.token);
        if prefix.len() >= ctx_len {
            return Err(ModelError::ContextFull { have: prefix.len() - 1, adding: 1, ctx: ctx_len });
        }
        let budget = b.max_tokens.min(ctx_len - prefix.len());
        if prefix.len() + budget > region {
            return Err(invalid(format!("branch {index} of job {job}: a prefix of {} tokens and {budget} more do not fit a region of {region}", prefix.len())));
        }
        let j = LockstepJob { prompt: prefix, opts: SpecOptions { max_tokens: b.max_tokens, ..parent.opts.clone() }, with_target_only: false, follows_spd: false };
        let mut lane = Self::lane(job, &j, ctx_len);
        lane.fresh = false;
        lane.branch = Some(index);
        Ok(lane)
    }

    /// Every job checked before any is decoded: a bad one fails the queue at once.
    fn check_queue(&self, jobs: &[LockstepJob], lanes: usize, ctx_len: usize, region: usize) -> Result<(), ModelError> {
        if lanes == 0 && !jobs.is_empty() {
            return Err(invalid("a lock-step queue needs at least one lane"));
        }
        for m in [&self.draft, &self.target] {
            if m.ctx_len() < lanes * region || m.max_block() < lanes {
                return Err(invalid(format!(
                    "{lanes} lanes of {region} cache rows need a context of {} and blocks of {lanes} (have {} and {})",
                    lanes * region,
                    m.ctx_len(),
                    m.max_block()
                )));
            }
        }
        let mut mlp: Option<&Arc<crate::decode::arbiter::Mlp>> = None;
        for (i, j) in jobs.iter().enumerate() {
            let o = &j.opts;
            if !o.sampling.is_greedy() {
                return Err(invalid("lock-step decoding replays greedy decoding only"));
            }
            if !o.stop_at_eos {
                return Err(invalid("lock-step decoding stops at the end-of-sequence token"));
            }
            if matches!(o.mode, Mode::Spd | Mode::Cospec) {
                self.check_k(o.k)?;
            }
            if j.with_target_only && o.mode != Mode::Spd {
                return Err(invalid(format!("target-only generations ride along SPD only, not {}", o.mode.name())));
            }
            if j.follows_spd && o.mode != Mode::Cospec {
                return Err(invalid(format!("only CoSpec jobs follow an SPD job, not {}", o.mode.name())));
            }
            if let (Mode::Cospec, Some(m)) = (o.mode, o.policy.mlp()) {
                if mlp.is_some_and(|first| !Arc::ptr_eq(first, m)) {
                    return Err(invalid("one learned arbiter per lock-step queue (the kernels hold one)"));
                }
                mlp = Some(m);
            }
            let p = &j.prompt;
            if p.is_empty() || p.len() >= ctx_len {
                return Err(ModelError::ContextFull { have: 0, adding: p.len(), ctx: ctx_len });
            }
            let budget = o.max_tokens.min(ctx_len - p.len());
            if p.len() + budget > region {
                return Err(invalid(format!("job {i}: a prompt of {} tokens and {budget} more do not fit a region of {region}", p.len())));
            }
            if let Some(&bad) = p.iter().find(|&&t| t as usize >= self.vocab) {
                return Err(ModelError::BadToken(bad, self.vocab));
            }
        }
        Ok(())
    }

    fn lane(job: usize, j: &LockstepJob, ctx_len: usize) -> Lane {
        let o = &j.opts;
        let policy = if o.mode == Mode::Cospec { o.policy.clone() } else { Policy::Target };
        let budget = o.max_tokens.min(ctx_len - j.prompt.len());
        let run = Run::new(o, &policy, j.prompt.len(), budget);
        let target_only = j.with_target_only.then(|| Run::new(&SpecOptions { mode: Mode::TargetOnly, ..o.clone() }, &Policy::Target, j.prompt.len(), budget));
        let last = *j.prompt.last().expect("checked non-empty");
        Lane { job, mode: o.mode, k: o.k, policy, run, target_only, prompt: j.prompt.clone(), fresh: true, last, block: 0, at: 0, riders: Vec::new(), branch: None }
    }

    /// The SPD job each job rides (`LockstepJob::follows_spd`: same prompt, k and budget).
    fn trunks(jobs: &[LockstepJob]) -> Vec<Option<usize>> {
        jobs.iter()
            .map(|job| {
                let same_path = |s: &LockstepJob| s.opts.mode == Mode::Spd && s.prompt == job.prompt && s.opts.k == job.opts.k && s.opts.max_tokens == job.opts.max_tokens;
                if job.follows_spd { jobs.iter().position(same_path) } else { None }
            })
            .collect()
    }

    fn commit(&self, tok: &Tokenizer, lane: &mut Lane, t: u32, origin: Origin) -> Result<(), ModelError> {
        if t as usize >= self.vocab {
            return Err(ModelError::BadToken(t, self.vocab));
        }
        lane.last = t;
        lane.run.commit(tok, t, origin, &mut |_, _| {})
    }

    /// One token of a speculative block for one lane, given both models' argmax at its
    /// position (the draft's proposal and the target's token); `rows` are its logits rows in
    /// the target's and the draft's block.
    async fn replay(&mut self, tok: &Tokenizer, scratch: &GpuBuffer, lane: &mut Lane, rows: (usize, usize), d: u32, t: u32) -> Result<(), ModelError> {
        if lane.block == 0 {
            let remaining = lane.run.budget - lane.run.tokens.len();
            let k_open = lane.k.min(remaining - 1);
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
        let (kept, features) = self.arbitrate(scratch, lane, rows, d, t).await?;
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

    /// The verify kernel's decision at a mismatch: this lane's logits rows become row 0 of a
    /// one-position block at the lane's block position, so the features and the policy are
    /// computed by the same kernels, on the same logits, as in a speculative step. Lanes are
    /// arbitrated in row order, so the target row 0 this overwrites is never needed again.
    async fn arbitrate(&mut self, scratch: &GpuBuffer, lane: &Lane, (target_row, draft_row): (usize, usize), d: u32, t: u32) -> Result<(bool, [f32; FEATURES]), ModelError> {
        let policy = &lane.policy;
        let g = self.ctx.clone();
        let row_bytes = (self.vocab * 4) as u64;
        let mut enc = g.device.create_command_encoder(&Default::default());
        if target_row != 0 {
            // A buffer cannot be copied onto itself: through a scratch row.
            let p = &self.target.logits_buffer().buffer;
            enc.copy_buffer_to_buffer(p, target_row as u64 * row_bytes, &scratch.buffer, 0, row_bytes);
            enc.copy_buffer_to_buffer(&scratch.buffer, 0, p, 0, row_bytes);
        }
        enc.copy_buffer_to_buffer(&self.draft.logits_buffer().buffer, draft_row as u64 * row_bytes, &self.q_logits.buffer, 0, row_bytes);
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
