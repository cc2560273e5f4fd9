//! The engine thread: owns the models and serves generation jobs from a bounded queue.
//!
//! Target-only jobs decode side by side in lanes, each lane a region of the target's KV cache:
//! one multi-sequence block per step (`Model::forward_sequences`), so B clients cost about one
//! pass on a GPU, and each client's tokens are what it would get alone (batch invariance). A
//! new job joins at the next step; a finished or abandoned one frees its lane at once.
//! Speculative jobs (SPD, CoSpec, draft-only) need the draft/target step of `SpecSession`, which
//! decodes one sequence: they take turns in the speculative slot (cache region 0 of both
//! models), interleaved step by step with the lanes.

use super::sample::Sampler;
use super::stop::StopFilter;
use super::Metrics;
use cospec::decode::arbiter::Policy;
use cospec::decode::{Mode, Origin, SamplingParams, SpecOptions, SpecRun, SpecSession};
use cospec::model::llm::SeqTokens;
use cospec::model::{Model, ModelError};
use cospec::tokenizer::{TextStream, Tokenizer};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use tokio::sync::mpsc::{self, error::TryRecvError};
use web_time::Instant;

/// A speculative choice for one request.
#[derive(Clone, Debug)]
pub struct SpecChoice {
    pub mode: Mode,
    pub k: usize,
    pub policy: Policy,
}

#[derive(Clone, Debug)]
pub struct GenRequest {
    pub prompt: Vec<u32>,
    pub max_tokens: usize,
    pub sampling: SamplingParams,
    /// None: target-only, in a lane.
    pub spec: Option<SpecChoice>,
    pub stop: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    Length,
}

impl FinishReason {
    pub fn name(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        }
    }
}

#[derive(Debug)]
pub enum Event {
    /// New text, with the origin of every token committed since the last event.
    Text { text: String, origins: Vec<Origin> },
    /// `cached_tokens`: prompt tokens whose cache rows were reused from the lane's last
    /// generation (the earlier turns of a chat) instead of prefilled.
    Done { reason: FinishReason, prompt_tokens: usize, completion_tokens: usize, cached_tokens: usize },
    Failed(String),
}

pub struct Job {
    pub req: GenRequest,
    pub events: mpsc::UnboundedSender<Event>,
}

/// What the server runs: one model, or a draft/target pair. One value per server, moved
/// once into the engine thread: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Engine {
    Single(Model),
    Pair(SpecSession),
}

impl Engine {
    fn target(&mut self) -> &mut Model {
        match self {
            Engine::Single(m) => m,
            Engine::Pair(s) => &mut s.target,
        }
    }
}

/// Where lanes and the speculative slot live in the caches.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub lanes: usize,
    /// Cache rows per generation: its prompt and its tokens.
    pub region: usize,
    /// A pair keeps region 0 for the speculative slot; lanes follow it.
    pub first_lane_region: usize,
}

impl Layout {
    pub fn new(lanes: usize, region: usize, pair: bool) -> Layout {
        Layout { lanes, region, first_lane_region: usize::from(pair) }
    }

    /// The context each model needs.
    pub fn ctx_len(&self) -> usize {
        (self.lanes + self.first_lane_region) * self.region
    }
}

struct LaneGen {
    job: Job,
    prompt_len: usize,
    /// Prompt tokens found in the lane's cache rows when the job arrived.
    reused: usize,
    /// The tokens whose cache rows this lane holds, and the tokens the next block adds.
    fed: Vec<u32>,
    feed: Vec<u32>,
    generated: usize,
    budget: usize,
    stream: TextStream,
    stop: StopFilter,
    sampler: Sampler,
}

struct SpecGen {
    job: Job,
    run: SpecRun,
    stop: StopFilter,
    prompt: Vec<u32>,
    reused: usize,
    /// Origins committed but not yet sent with text.
    origins: Vec<Origin>,
}

pub struct Worker {
    engine: Engine,
    tok: Arc<Tokenizer>,
    layout: Layout,
    metrics: Arc<Metrics>,
    lanes: Vec<Option<LaneGen>>,
    /// Per lane, the tokens whose cache rows its last generation left behind: a prompt that
    /// starts with them (the next turn of the same chat) prefills only what follows.
    history: Vec<Vec<u32>>,
    /// Per lane, when its last generation ended (a count of ended generations): with no prefix
    /// to reuse, the least recently used lane is taken, so a chat's last turn outlives others.
    ended_at: Vec<u64>,
    ended: u64,
    /// The tokens whose rows both models' region 0 holds after the last speculative
    /// generation: the next one that starts with them prefills only the rest.
    spec_history: Vec<u32>,
    spec: Option<SpecGen>,
    /// Set on SIGINT/SIGTERM: live generations end at once (finish reason "length") and new
    /// jobs are refused.
    shutting_down: Arc<AtomicBool>,
}

/// How many of `prompt`'s tokens start with `held`, leaving at least its last token to feed
/// (its logits are the first token's).
fn common_prefix(held: &[u32], prompt: &[u32]) -> usize {
    held.iter().zip(prompt).take_while(|(a, b)| a == b).count().min(prompt.len().saturating_sub(1))
}

fn send(job: &Job, e: Event) {
    // A closed channel means the client left; the next step frees the generation.
    let _ = job.events.send(e);
}

impl Worker {
    pub fn new(engine: Engine, tok: Arc<Tokenizer>, layout: Layout, metrics: Arc<Metrics>, shutting_down: Arc<AtomicBool>) -> Worker {
        let lanes = (0..layout.lanes).map(|_| None).collect();
        Worker { engine, tok, layout, metrics, lanes, history: vec![Vec::new(); layout.lanes], ended_at: vec![0; layout.lanes], ended: 0, spec_history: Vec::new(), spec: None, shutting_down }
    }

    /// Serves jobs until the queue's senders are all gone and every generation has ended.
    pub fn run(mut self, mut queue: mpsc::Receiver<Job>) {
        let mut held: Option<Job> = None;
        let mut closed = false;
        loop {
            loop {
                let job = match held.take() {
                    Some(j) => j,
                    None => match queue.try_recv() {
                        Ok(j) => j,
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => {
                            closed = true;
                            break;
                        }
                    },
                };
                if job.events.is_closed() {
                    self.metrics.queue_depth.fetch_sub(1, Relaxed);
                    Metrics::add(&self.metrics.requests_cancelled, 1);
                    continue;
                }
                if self.shutting_down.load(Relaxed) {
                    self.metrics.queue_depth.fetch_sub(1, Relaxed);
                    self.finish_failed(job, "the server is shutting down");
                    continue;
                }
                if let Some(fault) = self.metrics.gpu_fault() {
                    self.metrics.queue_depth.fetch_sub(1, Relaxed);
                    self.finish_failed(job, &fault);
                    continue;
                }
                if let Err(job) = self.admit(job) {
                    held = Some(job);
                    break;
                }
            }
            if self.idle() {
                if closed {
                    return;
                }
                match queue.blocking_recv() {
                    Some(j) => held = Some(j),
                    None => closed = true,
                }
                continue;
            }
            if self.shutting_down.load(Relaxed) {
                self.end_all();
                continue;
            }
            self.drop_abandoned();
            let t0 = Instant::now();
            if let Err(e) = self.step() {
                // A lost device fails every later step too: the server says so from now on.
                if let Err(fault) = self.engine.target().ctx.fault() {
                    self.metrics.set_gpu_fault(fault.to_string());
                }
                self.fail_all(&e.to_string());
            }
            Metrics::add(&self.metrics.busy_micros, t0.elapsed().as_micros() as u64);
            Metrics::add(&self.metrics.steps, 1);
        }
    }

    fn idle(&self) -> bool {
        self.spec.is_none() && self.lanes.iter().all(Option::is_none)
    }

    fn update_busy(&self) {
        let busy = self.lanes.iter().filter(|l| l.is_some()).count() + usize::from(self.spec.is_some());
        self.metrics.lanes_busy.store(busy as u64, Relaxed);
    }

    /// Places a job in a free lane or the speculative slot, or hands it back when none is free.
    fn admit(&mut self, job: Job) -> Result<(), Job> {
        let r = &job.req;
        if r.prompt.is_empty() || r.prompt.len() + r.max_tokens > self.layout.region {
            self.admitted(&job);
            self.finish_failed(job, &format!("prompt and max_tokens exceed the server's context of {} tokens", self.layout.region));
            return Ok(());
        }
        match r.spec.clone() {
            None => {
                // The free lane whose cache holds the longest start of this prompt; at least
                // the prompt's last token is fed, for its logits.
                let free = (0..self.lanes.len())
                    .filter(|&l| self.lanes[l].is_none())
                    .max_by_key(|&l| (common_prefix(&self.history[l], &r.prompt), std::cmp::Reverse(self.ended_at[l])));
                let Some(free) = free else { return Err(job) };
                let reused = common_prefix(&self.history[free], &r.prompt);
                self.admitted(&job);
                Metrics::add(&self.metrics.prompt_tokens_reused, reused as u64);
                let (prompt_len, budget) = (r.prompt.len(), r.max_tokens);
                let (fed, feed) = (r.prompt[..reused].to_vec(), r.prompt[reused..].to_vec());
                let (stops, sampling) = (r.stop.clone(), r.sampling);
                self.lanes[free] = Some(LaneGen {
                    job,
                    prompt_len,
                    reused,
                    fed,
                    feed,
                    generated: 0,
                    budget,
                    stream: TextStream::new(),
                    stop: StopFilter::new(stops),
                    sampler: Sampler::new(sampling),
                });
            }
            Some(choice) => {
                if self.spec.is_some() {
                    return Err(job);
                }
                self.admitted(&job);
                let Engine::Pair(session) = &mut self.engine else {
                    self.finish_failed(job, "this server has no draft model: only target-only decoding");
                    return Ok(());
                };
                let opts = SpecOptions {
                    mode: choice.mode,
                    k: choice.k,
                    policy: choice.policy,
                    sampling: r.sampling,
                    max_tokens: r.max_tokens,
                    stop_at_eos: true,
                };
                let reused = common_prefix(&self.spec_history, &r.prompt);
                // Whatever happens next rewrites the rows past the reused ones.
                self.spec_history.truncate(reused);
                let t0 = Instant::now();
                let started = pollster::block_on(session.start_reusing(&r.prompt, &opts, reused));
                Metrics::add(&self.metrics.busy_micros, t0.elapsed().as_micros() as u64);
                match started {
                    Ok(run) => {
                        Metrics::add(&self.metrics.prompt_tokens_reused, reused as u64);
                        let stop = StopFilter::new(r.stop.clone());
                        let prompt = r.prompt.clone();
                        self.spec = Some(SpecGen { job, run, stop, prompt, reused, origins: Vec::new() });
                    }
                    Err(e) => self.finish_failed(job, &e.to_string()),
                }
            }
        }
        self.update_busy();
        Ok(())
    }

    fn admitted(&self, job: &Job) {
        self.metrics.queue_depth.fetch_sub(1, Relaxed);
        Metrics::add(&self.metrics.prompt_tokens, job.req.prompt.len() as u64);
    }

    // Both finishers set the gauges before the client hears the end: a client that reads
    // /metrics after its reply sees its lane (freed by the caller first) already free.
    fn finish_failed(&self, job: Job, why: &str) {
        self.update_busy();
        Metrics::add(&self.metrics.requests_failed, 1);
        send(&job, Event::Failed(why.to_string()));
    }

    fn finish_ok(&self, job: &Job, reason: FinishReason, prompt_tokens: usize, completion_tokens: usize, cached_tokens: usize) {
        self.update_busy();
        Metrics::add(&self.metrics.requests_ok, 1);
        Metrics::add(&self.metrics.generated_tokens, completion_tokens as u64);
        send(job, Event::Done { reason, prompt_tokens, completion_tokens, cached_tokens });
    }

    /// Frees lane `l`, remembering what its cache rows hold.
    fn free_lane(&mut self, l: usize) -> LaneGen {
        let g = self.lanes[l].take().expect("a live lane");
        self.history[l] = g.fed.clone();
        self.ended += 1;
        self.ended_at[l] = self.ended;
        g
    }

    /// Frees the lanes (and the slot) of clients that went away: at most one step after they left.
    fn drop_abandoned(&mut self) {
        let mut left = 0;
        for l in 0..self.lanes.len() {
            if self.lanes[l].as_ref().is_some_and(|g| g.job.events.is_closed()) {
                self.free_lane(l);
                left += 1;
            }
        }
        if self.spec.as_ref().is_some_and(|g| g.job.events.is_closed()) {
            let g = self.spec.take().expect("checked");
            self.spec_ended(&g.prompt, g.run.tokens());
            left += 1;
        }
        // Gauges first: whoever sees the count sees the lanes already free.
        self.update_busy();
        Metrics::add(&self.metrics.requests_cancelled, left);
    }

    /// Ends every live generation where it is, with what it has sent so far.
    fn end_all(&mut self) {
        for l in 0..self.lanes.len() {
            if self.lanes[l].is_none() {
                continue;
            }
            let mut g = self.free_lane(l);
            let rest = g.stop.finish();
            if !rest.is_empty() {
                send(&g.job, Event::Text { text: rest, origins: Vec::new() });
            }
            self.finish_ok(&g.job, FinishReason::Length, g.prompt_len, g.generated, g.reused);
        }
        if let Some(mut g) = self.spec.take() {
            self.spec_ended(&g.prompt, g.run.tokens());
            let rest = g.stop.finish();
            if !rest.is_empty() {
                send(&g.job, Event::Text { text: rest, origins: std::mem::take(&mut g.origins) });
            }
            self.finish_ok(&g.job, FinishReason::Length, g.prompt.len(), g.run.tokens().len(), g.reused);
        }
        self.update_busy();
    }

    fn fail_all(&mut self, why: &str) {
        // Rows a failed step may have half written are not reused.
        self.history.iter_mut().for_each(Vec::clear);
        self.spec_history.clear();
        for lane in self.lanes.iter_mut().filter_map(Option::take) {
            self.metrics.requests_failed.fetch_add(1, Relaxed);
            send(&lane.job, Event::Failed(why.to_string()));
        }
        if let Some(g) = self.spec.take() {
            self.finish_failed(g.job, why);
        }
        self.update_busy();
    }

    fn step(&mut self) -> Result<(), ModelError> {
        if self.spec.is_some() {
            self.step_spec()?;
        }
        if self.lanes.iter().any(Option::is_some) {
            self.step_lanes()?;
        }
        self.update_busy();
        Ok(())
    }

    fn step_spec(&mut self) -> Result<(), ModelError> {
        let Engine::Pair(session) = &mut self.engine else { unreachable!("the speculative slot is only filled on a pair") };
        let mut g = self.spec.take().expect("a speculative generation");
        let before = g.run.tokens().len();
        let mut pieces = String::new();
        if let Err(e) = pollster::block_on(session.step(&self.tok, &mut g.run, &mut |p, _| pieces.push_str(p))) {
            self.spec_history.clear();
            self.finish_failed(g.job, &e.to_string());
            return Ok(());
        }
        g.origins.extend_from_slice(&g.run.origins()[before..]);
        let mut text = g.stop.push(&pieces);
        let mut reason = g.stop.stopped().then_some(FinishReason::Stop);
        let stats = g.run.stats().clone();
        if reason.is_none() && g.run.is_done() {
            let mut rest = String::new();
            let out = match session.finish(&self.tok, g.run, &mut |p, _| rest.push_str(p)) {
                Ok(out) => out,
                Err(e) => {
                    self.spec_history.clear();
                    self.finish_failed(g.job, &e.to_string());
                    return Ok(());
                }
            };
            text += &g.stop.push(&rest);
            if !g.stop.stopped() {
                text += &g.stop.finish();
            }
            reason = Some(if g.stop.stopped() || out.stats.stopped_at_eos { FinishReason::Stop } else { FinishReason::Length });
            if !text.is_empty() {
                send(&g.job, Event::Text { text, origins: std::mem::take(&mut g.origins) });
            }
            self.spec_counts(&stats);
            self.spec_ended(&g.prompt, &out.tokens);
            self.finish_ok(&g.job, reason.expect("set"), g.prompt.len(), out.tokens.len(), g.reused);
            return Ok(());
        }
        if !text.is_empty() {
            send(&g.job, Event::Text { text, origins: std::mem::take(&mut g.origins) });
        }
        if let Some(reason) = reason {
            self.spec_counts(&stats);
            self.spec_ended(&g.prompt, g.run.tokens());
            self.finish_ok(&g.job, reason, g.prompt.len(), g.run.tokens().len(), g.reused);
        } else {
            self.spec = Some(g);
        }
        Ok(())
    }

    /// Remembers which tokens' rows region 0 of both models holds after a speculative
    /// generation: its prompt and tokens, as far as both caches reach.
    fn spec_ended(&mut self, prompt: &[u32], tokens: &[u32]) {
        let Engine::Pair(session) = &self.engine else { return };
        let held = session.target.len().min(session.draft.len());
        let mut h = prompt.to_vec();
        h.extend_from_slice(tokens);
        h.truncate(held);
        self.spec_history = h;
    }

    fn spec_counts(&self, s: &cospec::decode::SpecStats) {
        if matches!(s.mode.as_str(), "spd" | "cospec") {
            Metrics::add(&self.metrics.spec_tokens, s.generated_tokens as u64);
            Metrics::add(&self.metrics.target_passes, s.target_passes as u64);
            Metrics::add(&self.metrics.mismatches, s.mismatches as u64);
            Metrics::add(&self.metrics.arbiter_keeps, s.keeps as u64);
        }
    }

    fn step_lanes(&mut self) -> Result<(), ModelError> {
        let live: Vec<usize> = (0..self.lanes.len()).filter(|&l| self.lanes[l].is_some()).collect();
        let region = self.layout.region;
        let first = self.layout.first_lane_region;
        let lanes = &mut self.lanes;
        let model = self.engine.target();
        let greedy = live.iter().all(|&l| lanes[l].as_ref().is_some_and(|g| g.sampler.is_greedy()));
        let seqs: Vec<SeqTokens> = live
            .iter()
            .map(|&l| {
                let g = lanes[l].as_ref().expect("live");
                SeqTokens { region: (first + l) * region, pos: g.fed.len(), tokens: &g.feed }
            })
            .collect();
        let next: Vec<u32> = if greedy {
            pollster::block_on(model.forward_sequences(&seqs))?
        } else {
            let rows = pollster::block_on(model.forward_sequences_logits(&seqs))?;
            drop(seqs);
            rows.iter().zip(&live).map(|(row, &l)| lanes[l].as_mut().expect("live").sampler.pick(row)).collect()
        };
        for (&l, &t) in live.iter().zip(&next) {
            let g = self.lanes[l].as_mut().expect("live");
            let fed = std::mem::take(&mut g.feed);
            g.fed.extend(fed);
            g.generated += 1;
            let mut text = String::new();
            let mut reason = None;
            let eos = self.tok.is_eos(t);
            if !eos {
                let piece = g.stream.push(&self.tok, t).map_err(|e| ModelError::Invalid(e.to_string()))?;
                text = g.stop.push(&piece);
                if g.stop.stopped() {
                    reason = Some(FinishReason::Stop);
                }
            }
            if reason.is_none() && (eos || g.generated >= g.budget) {
                let rest = g.stream.finish(&self.tok).map_err(|e| ModelError::Invalid(e.to_string()))?;
                text += &g.stop.push(&rest);
                if !g.stop.stopped() {
                    text += &g.stop.finish();
                }
                reason = Some(if eos || g.stop.stopped() { FinishReason::Stop } else { FinishReason::Length });
            }
            if !text.is_empty() {
                send(&g.job, Event::Text { text, origins: vec![Origin::Target] });
            }
            match reason {
                Some(reason) => {
                    let g = self.free_lane(l);
                    self.finish_ok(&g.job, reason, g.prompt_len, g.generated, g.reused);
                }
                None => g.feed = vec![t],
            }
        }
        Ok(())
    }
}
