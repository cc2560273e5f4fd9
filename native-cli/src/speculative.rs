//! `cospec run --draft D --target T`: speculative decoding with an arbiter, tokens coloured by
//! origin on a terminal, statistics on stderr, or one JSON object with `--json`.

use crate::commands::{gpu, load, open, sampling};
use crate::SamplingArgs;
use anyhow::{bail, Context, Result};
use cospec::decode::arbiter::{Mlp, Policy, PolicyThresholds};
use cospec::decode::{Mode, Origin, SpecOptions, SpecSession, SpecStats};
use cospec::gpu::GpuOptions;
use cospec::model::LoadOptions;
use cospec::tokenizer::{ChatMessage, Tokenizer};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(clap::Args, Clone, Debug)]
pub struct ArbiterArgs {
    /// Arbiter policy in cospec mode: target, draft, entropy, cosd, chow, diff, opt, learned;
    /// NAME=V1[/V2] sets its thresholds (e.g. cosd=0.3/0.8), in place of the flags below
    #[arg(long, default_value = "entropy")]
    pub policy: String,
    /// Entropy gate: keep the draft token when the target's entropy (nats) exceeds this
    #[arg(long, default_value_t = cospec::decode::arbiter::DEFAULT_ENTROPY_TAU)]
    pub entropy_tau: f32,
    /// CoSD rule: keep when q(d) > alpha ...
    #[arg(long, default_value_t = cospec::decode::arbiter::DEFAULT_COSD_ALPHA)]
    pub cosd_alpha: f32,
    /// ... and p(d) > beta * p(t)
    #[arg(long, default_value_t = cospec::decode::arbiter::DEFAULT_COSD_BETA)]
    pub cosd_beta: f32,
    /// Chow cascade rule: keep when max q >= 1 - alpha
    #[arg(long, default_value_t = cospec::decode::arbiter::DEFAULT_CHOW_ALPHA)]
    pub chow_alpha: f32,
    /// Diff cascade rule: keep when max q >= max p - alpha
    #[arg(long, default_value_t = cospec::decode::arbiter::DEFAULT_DIFF_ALPHA)]
    pub diff_alpha: f32,
    /// OPT cascade rule: keep when max q >= max p - alpha * TV(p, q)
    #[arg(long, default_value_t = cospec::decode::arbiter::DEFAULT_OPT_ALPHA)]
    pub opt_alpha: f32,
    /// Learned arbiter weights (safetensors written by `cospec train-arbiter`)
    #[arg(long)]
    pub arbiter: Option<PathBuf>,
    /// Learned policy: keep when the arbiter's keep probability exceeds this
    #[arg(long, default_value_t = cospec::decode::arbiter::DEFAULT_LEARNED_THRESHOLD)]
    pub arbiter_threshold: f32,
}

impl ArbiterArgs {
    /// The learned arbiter in `path` with the keep threshold `threshold`, every other rule at
    /// its default.
    pub fn learned(path: PathBuf, threshold: f32) -> ArbiterArgs {
        let d = PolicyThresholds::default();
        ArbiterArgs {
            policy: "learned".into(),
            entropy_tau: d.entropy_tau,
            cosd_alpha: d.cosd_alpha,
            cosd_beta: d.cosd_beta,
            chow_alpha: d.chow_alpha,
            diff_alpha: d.diff_alpha,
            opt_alpha: d.opt_alpha,
            arbiter: Some(path),
            arbiter_threshold: threshold,
        }
    }

    pub fn thresholds(&self) -> PolicyThresholds {
        PolicyThresholds {
            entropy_tau: self.entropy_tau,
            cosd_alpha: self.cosd_alpha,
            cosd_beta: self.cosd_beta,
            chow_alpha: self.chow_alpha,
            diff_alpha: self.diff_alpha,
            opt_alpha: self.opt_alpha,
            learned_threshold: self.arbiter_threshold,
        }
    }

    pub fn mlp(&self) -> Result<Option<Arc<Mlp>>> {
        match &self.arbiter {
            None => Ok(None),
            Some(p) => {
                let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
                Ok(Some(Arc::new(Mlp::from_safetensors(&bytes).with_context(|| format!("loading {}", p.display()))?)))
            }
        }
    }

    /// `NAME` with the thresholds given here, or `NAME=V1[/V2]` with its own (`Policy::from_spec`).
    pub fn policy(&self, spec: &str) -> Result<Policy> {
        Ok(Policy::from_spec(spec, &self.thresholds(), self.mlp()?)?)
    }
}

/// A draft/target pair on one GPU, with a shared tokenizer.
/// `min_block`: the most tokens a caller puts in one block besides a verify block (sequences
/// side by side).
pub fn open_pair(gpu_opts: &GpuOptions, draft: &Path, target: &Path, ctx_len: usize, max_k: usize, min_block: usize) -> Result<(SpecSession, Tokenizer)> {
    let tf = open(target)?;
    let df = open(draft)?;
    let tok = Tokenizer::from_model_file(&tf)?;
    let dtok = Tokenizer::from_model_file(&df)?;
    if let Some(diff) = tok.vocabulary_difference(&dtok) {
        bail!("the draft and target tokenizers differ ({diff}): speculative decoding needs one vocabulary");
    }
    let ctx = gpu(gpu_opts)?;
    let opts = LoadOptions { ctx_len, max_block: 32.max(max_k + 1).max(min_block), ..Default::default() };
    let draft_model = load(ctx.clone(), &df, &opts)?;
    let target_model = load(ctx, &tf, &opts)?;
    Ok((SpecSession::new(draft_model, target_model, max_k)?, tok))
}

fn colour(o: Origin) -> &'static str {
    match o {
        Origin::DraftAccepted => "\x1b[32m",
        Origin::DraftKept => "\x1b[35m",
        Origin::Target => "\x1b[0m",
        Origin::Bonus => "\x1b[36m",
        Origin::Draft => "\x1b[33m",
    }
}

pub fn print_stats(s: &SpecStats) {
    eprintln!(
        "{} ({}, k = {}): {} tokens in {:.2} s = {:.2} tok/s | {} target passes, {:.2} tokens/pass | {:.1} mismatches/100 tokens, {} kept ({:.0}%)",
        s.mode,
        s.policy,
        s.k,
        s.generated_tokens,
        s.decode_secs,
        s.tok_per_s(),
        s.target_passes,
        s.tokens_per_target_pass(),
        s.mismatches_per_100(),
        s.keeps,
        100.0 * s.keep_share()
    );
    let o = &s.origins;
    eprintln!(
        "origins: {} draft accepted, {} draft kept, {} target, {} bonus, {} draft-only | {:.2} submissions and {:.2} read-backs per step | prompt {} tokens in {:.2} s",
        o.draft_accepted,
        o.draft_kept,
        o.target,
        o.bonus,
        o.draft,
        s.submissions_per_step(),
        s.readbacks_per_step(),
        s.prompt_tokens,
        s.prompt_secs
    );
}

#[allow(clippy::too_many_arguments)]
pub fn run(
    gpu_opts: &GpuOptions,
    draft: &Path,
    target: &Path,
    mode: &str,
    k: usize,
    arbiter: &ArbiterArgs,
    prompt: &str,
    chat: bool,
    max_tokens: usize,
    ctx_len: usize,
    sampling_args: &SamplingArgs,
    json: bool,
) -> Result<()> {
    let Some(mode) = Mode::from_name(mode) else {
        bail!("unknown mode {mode:?} ({})", Mode::NAMES.join(", "));
    };
    let policy = arbiter.policy(&arbiter.policy)?;
    let (mut session, tok) = open_pair(gpu_opts, draft, target, ctx_len, k.max(1), 1)?;
    let text = if chat { tok.apply_chat_template(&[ChatMessage::new("user", prompt)], true)? } else { prompt.to_string() };
    let ids = tok.encode(&text)?;
    let opts = SpecOptions { mode, k, policy, sampling: sampling(sampling_args), max_tokens, stop_at_eos: true };
    let tty = std::io::stdout().is_terminal() && !json;
    if tty {
        eprintln!(
            "{}draft accepted\x1b[0m  {}kept by the arbiter\x1b[0m  target  {}bonus\x1b[0m  {}draft only\x1b[0m",
            colour(Origin::DraftAccepted),
            colour(Origin::DraftKept),
            colour(Origin::Bonus),
            colour(Origin::Draft)
        );
    }
    if !chat && !json {
        print!("{prompt}");
    }
    let mut stdout = std::io::stdout();
    let out = pollster::block_on(session.generate(&tok, &ids, &opts, &mut |piece, origin| {
        if json {
            return;
        }
        if tty {
            print!("{}{piece}\x1b[0m", colour(origin));
        } else {
            print!("{piece}");
        }
        let _ = stdout.flush();
    }))?;
    if json {
        let v = serde_json::json!({
            "text": out.text,
            "tokens": out.tokens,
            "origins": out.origins,
            "stats": out.stats,
            "tok_per_s": out.stats.tok_per_s(),
            "tokens_per_target_pass": out.stats.tokens_per_target_pass(),
            "mismatches_per_100": out.stats.mismatches_per_100(),
            "submissions_per_step": out.stats.submissions_per_step(),
            "readbacks_per_step": out.stats.readbacks_per_step(),
            "mismatches": out.mismatches,
        });
        println!("{v}");
    } else {
        println!();
        print_stats(&out.stats);
    }
    Ok(())
}
