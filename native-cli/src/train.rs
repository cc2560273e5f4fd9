//! `cospec train-arbiter`: on-policy rounds of branch rollouts and policy-gradient updates.
//! A round decodes training problems with the current policy (round 1: SPD); at a few of a
//! trajectory's mismatches (spread over it, or its first ones) it rolls the other branch out to
//! the end with the same policy and grades both (the chosen branch is the trajectory itself),
//! appending one record per mismatch to the rollouts file. Then the MLP is refit on every
//! rollout so far. Re-running with the same rollouts file resumes: problems already collected
//! in a round are skipped.
//! Finally dev rollouts (never trained on) give the agreement with the oracle branch choice.

use crate::commands::open;
use crate::eval::{eval, load_lines, EvalArgs, ProblemPair};
use crate::speculative::{open_pair, ArbiterArgs};
use anyhow::{bail, Context, Result};
use cospec::decode::arbiter::{Mlp, Policy};
use cospec::decode::{Branch, LockstepDone, LockstepJob, Mode, SpecOptions, SpecOutput, SpecSession};
use cospec_eval::grading::is_correct;
use cospec_eval::policy_gradient::{fit, oracle_agreement, select_weight_decay, DecayScore, TrainOptions};
use cospec_eval::problems::{prompt_text, select, Problem};
use cospec_eval::rollouts::{append, branch_points, load, Rollout};
use cospec_eval::shard::Shard;
use cospec::ops::spec::FEATURES;
use cospec::gpu::GpuOptions;
use cospec::tokenizer::Tokenizer;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// The problems: train split (templates 0..59) for rollouts, dev (60..79) for agreement
    #[command(flatten)]
    pub pair: ProblemPair,
    /// The trained arbiter (safetensors)
    #[arg(long)]
    pub out: PathBuf,
    /// Rollouts file (default: OUT with extension rollouts.jsonl; dev rollouts beside it)
    #[arg(long)]
    pub rollouts: Option<PathBuf>,
    #[arg(long, default_value_t = 2)]
    pub rounds: u32,
    #[arg(long, default_value_t = 20)]
    pub problems_per_round: usize,
    /// Dev problems (templates 60..79) for the held-out oracle agreement
    #[arg(long, default_value_t = 10)]
    pub dev_problems: usize,
    /// Mismatches rolled out per trajectory
    #[arg(long, default_value_t = 4)]
    pub mismatches_per_problem: usize,
    /// Which mismatches: spread evenly over the trajectory, or its first ones (the rollouts
    /// collected before 2026-11-29)
    #[arg(long, value_enum, default_value_t = BranchAt::Spread)]
    pub branch_at: BranchAt,
    #[arg(long, default_value_t = 384)]
    pub max_tokens: usize,
    #[arg(short = 'k', long = "k", default_value_t = 4)]
    pub k: usize,
    #[arg(long, default_value_t = 32)]
    pub hidden: usize,
    #[arg(long, default_value_t = 300)]
    pub epochs: usize,
    /// L2 penalty on the MLP's weights (not its biases), or a comma-separated list to choose from
    /// by cross-validated agreement (ties: the larger). The constant rule (the arm better on
    /// average, listed as decay inf) is always a candidate, so the rollouts decide whether they
    /// support any finer rule
    #[arg(long, value_delimiter = ',', default_value = "0.0001,0.001,0.01,0.1")]
    pub weight_decay: Vec<f32>,
    /// Reward cost subtracted from keeping the draft token
    #[arg(long, default_value_t = 0.0)]
    pub keep_cost: f32,
    /// Keep threshold on the MLP's probability
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f32,
    /// Collect only problems I, I+N, ... of each round; N processes with the same arguments and
    /// rollouts file run side by side, each waiting for the others before fitting, so all fit
    /// the same MLP. Shard 0 writes OUT and the dev report.
    #[arg(long, default_value = "0/1")]
    pub shard: Shard,
    /// Decode this many generations side by side in lock step (trajectories, and their branches
    /// from a copy of their cache): the same rollouts as one at a time, several times the
    /// throughput on a GPU; 1: one at a time
    #[arg(long, default_value_t = 1)]
    pub lockstep: usize,
    /// After this many seconds start no new trajectory: those under way finish with their
    /// branches and are written, then the run stops before fitting (a re-run goes on)
    #[arg(long)]
    pub drain_after: Option<f64>,
    /// What the cross-validation folds keep together: a template's problems (its variants
    /// share wording and arithmetic, so rollouts of one template are not independent of each
    /// other), or each problem alone (how the committed arbiter was fitted)
    #[arg(long, value_enum, default_value_t = CvGroups::Template)]
    pub cv_groups: CvGroups,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CvGroups {
    Template,
    Problem,
}

impl CvGroups {
    /// The fold group of a problem key (`t12v3`: template 12, variant 3).
    fn of(self, problem: &str) -> String {
        match self {
            CvGroups::Problem => problem.to_string(),
            CvGroups::Template => problem.split_once('v').map_or(problem, |(t, _)| t).to_string(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            CvGroups::Template => "template",
            CvGroups::Problem => "problem",
        }
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BranchAt {
    Spread,
    First,
}

/// The indices of `main`'s mismatches whose other branch is rolled out.
fn branch_points_of(main: &SpecOutput, a: &TrainArgs) -> Vec<usize> {
    branch_points(main.mismatches.len(), a.mismatches_per_problem, a.branch_at == BranchAt::Spread)
}

/// Waits until every problem in `keys` has its rollouts for `round` in the file (the other
/// shards' share); gives up when none arrives for `patience`.
fn wait_for_round(path: &Path, round: u32, keys: &[String], patience: Duration) -> Result<()> {
    let mut last = (0, Instant::now());
    loop {
        let have: HashSet<String> = load(path)?.into_iter().filter(|r| r.round == round).map(|r| r.problem).collect();
        let missing: Vec<&String> = keys.iter().filter(|k| !have.contains(*k)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        if missing.len() != last.0 {
            last = (missing.len(), Instant::now());
        } else if last.1.elapsed() > patience {
            bail!("round {round}: no rollouts from the other shards for {} s; still missing {missing:?}", patience.as_secs());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The training samples of rounds 1..=`through` in a file, in an order that does not depend on
/// which shard appended first, so shards and a single process fit the same MLP. Later rounds
/// are left out: a faster shard may already be appending the next round's rollouts while a
/// slower one fits this round (and a resumed run finds every round in the file).
/// Each sample comes with its problem (the cross-validation groups).
fn samples_of(path: &Path, through: u32) -> Result<(Vec<String>, Vec<cospec_eval::policy_gradient::Sample>)> {
    let mut rs: Vec<Rollout> = load(path)?.into_iter().filter(|r| r.features.len() == FEATURES && r.round <= through).collect();
    rs.sort_by(|a, b| (a.round, &a.problem, a.position).cmp(&(b.round, &b.problem, b.position)));
    Ok((rs.iter().map(|r| r.problem.clone()).collect(), rs.iter().map(|r| r.sample()).collect()))
}

/// Every weight decay's cross-validated score, separated by `sep`.
fn listed(scores: &[DecayScore], sep: &str) -> String {
    scores.iter().map(DecayScore::to_string).collect::<Vec<_>>().join(sep)
}

/// The arbiter after `round`, with what produced it (the weight decay `pick` of `scores`
/// included) in the safetensors metadata.
fn write_arbiter(mlp: &Mlp, a: &TrainArgs, round: u32, rollouts: usize, pick: &DecayScore, scores: &[DecayScore]) -> Result<()> {
    let mut meta = HashMap::new();
    meta.insert("rounds".to_string(), round.to_string());
    meta.insert("rollouts".to_string(), rollouts.to_string());
    meta.insert("threshold".to_string(), a.threshold.to_string());
    meta.insert("cv_agreement".to_string(), format!("{}/{}", pick.agree, pick.total));
    meta.insert("weight_decay".to_string(), pick.weight_decay.to_string());
    meta.insert("cv_by_weight_decay".to_string(), listed(scores, ","));
    // Folds by problem were the only kind before templates: such an arbiter's file stays
    // byte for byte what it was (eval keys its records by the arbiter's bytes).
    if a.cv_groups != CvGroups::Problem {
        meta.insert("cv_groups".to_string(), a.cv_groups.name().to_string());
    }
    meta.insert("k".to_string(), a.k.to_string());
    meta.insert("max_tokens".to_string(), a.max_tokens.to_string());
    meta.insert("hidden".to_string(), a.hidden.to_string());
    meta.insert("epochs".to_string(), a.epochs.to_string());
    meta.insert("keep_cost".to_string(), a.keep_cost.to_string());
    std::fs::write(&a.out, mlp.to_safetensors(&meta)?).with_context(|| format!("writing {}", a.out.display()))?;
    eprintln!("wrote {} (round {round}, {rollouts} rollouts)", a.out.display());
    Ok(())
}

/// Folds of the cross-validated agreement reported after each fit.
const CV_FOLDS: usize = 5;

/// Dev problems decoded one at a time (timed) in the learned policy's dev eval in lock step.
const DEV_TIMED: usize = 3;

/// How long a shard waits for the others without any of them adding a problem.
const PATIENCE: Duration = Duration::from_secs(1800);

/// The options every trajectory and branch of a round is decoded with.
fn decode_options(policy: &Policy, a: &TrainArgs) -> SpecOptions {
    let mode = if *policy == Policy::Target { Mode::Spd } else { Mode::Cospec };
    SpecOptions { mode, k: a.k, policy: policy.clone(), max_tokens: a.max_tokens, stop_at_eos: true, ..Default::default() }
}

/// The branches rolled out of a trajectory, each with the index of its mismatch: the token not
/// chosen there, decoded on for what is left of the budget. A mismatch whose other token ends
/// the generation, or leaves no budget, has no branch: that token is graded as it stands.
fn branches_of(tok: &Tokenizer, main: &SpecOutput, a: &TrainArgs) -> Vec<(usize, Branch)> {
    branch_points_of(main, a)
        .into_iter()
        .filter_map(|j| {
            let m = &main.mismatches[j];
            let token = if m.kept { m.target_token } else { m.draft_token };
            let max_tokens = a.max_tokens.saturating_sub(m.position + 1);
            (max_tokens > 0 && !tok.is_eos(token)).then_some((j, Branch { position: m.position, token, max_tokens }))
        })
        .collect()
}

/// Branch rollouts at some of the mismatches of each problem's trajectory. Each problem's
/// rollouts go to `emit` as soon as its last branch is decoded, so a run stopped by a time
/// limit keeps them.
fn collect(
    s: &mut SpecSession,
    tok: &Tokenizer,
    problems: &[&Problem],
    policy: &Policy,
    round: u32,
    a: &TrainArgs,
    take_more: &mut dyn FnMut() -> bool,
    emit: &mut dyn FnMut(Vec<Rollout>) -> Result<()>,
) -> Result<()> {
    let prompts: Vec<Vec<u32>> = problems.iter().map(|p| Ok(tok.encode(&prompt_text(tok, p)?)?)).collect::<Result<_>>()?;
    let opts = decode_options(policy, a);
    if a.lockstep > 1 {
        return collect_lockstep(s, tok, problems, &prompts, &opts, round, a, take_more, emit);
    }
    // One at a time: the trajectory, then each branch with its whole prefix as a prompt.
    for (i, p) in problems.iter().enumerate() {
        if !take_more() {
            break;
        }
        let main = pollster::block_on(s.generate(tok, &prompts[i], &opts, &mut |_, _| {}))?;
        let branches = branches_of(tok, &main, a);
        let mut decoded = Vec::with_capacity(branches.len());
        for (_, b) in &branches {
            let mut ids = prompts[i].clone();
            ids.extend_from_slice(&main.tokens[..b.position]);
            ids.push(b.token);
            let o = SpecOptions { max_tokens: b.max_tokens, ..opts.clone() };
            decoded.push(pollster::block_on(s.generate(tok, &ids, &o, &mut |_, _| {}))?);
        }
        emit(problem_rollouts(tok, p, &main, &branches, &decoded, round, a)?)?;
    }
    Ok(())
}

/// A trajectory and the branches rolled out of it, each with its mismatch's index.
type Trajectory = (SpecOutput, Vec<(usize, Branch)>);

/// `collect` through `a.lockstep` lanes: every trajectory is a job of one queue, and when one
/// ends its branches start from its cache rows (no prefill of their prefix, which is most of a
/// branch's cost on a device where a block's cost grows with its tokens) and take lanes before
/// the next trajectory. The same rollouts as one at a time.
#[allow(clippy::too_many_arguments)]
fn collect_lockstep(
    s: &mut SpecSession,
    tok: &Tokenizer,
    problems: &[&Problem],
    prompts: &[Vec<u32>],
    opts: &SpecOptions,
    round: u32,
    a: &TrainArgs,
    take_more: &mut dyn FnMut() -> bool,
    emit: &mut dyn FnMut(Vec<Rollout>) -> Result<()>,
) -> Result<()> {
    let ctx = s.target.ctx_len().min(s.draft.ctx_len());
    let region = ctx / a.lockstep;
    let jobs: Vec<LockstepJob> = prompts.iter().map(|p| LockstepJob { prompt: p.clone(), opts: opts.clone(), with_target_only: false, follows_spd: false }).collect();
    // Per problem: its trajectory with its branches, and their outputs as they come back.
    let mut mains: Vec<Option<Trajectory>> = (0..problems.len()).map(|_| None).collect();
    let mut decoded: Vec<Vec<Option<SpecOutput>>> = (0..problems.len()).map(|_| Vec::new()).collect();
    let mut on_done = |d: LockstepDone| -> Result<()> {
        let i = d.job;
        match d.branch {
            None => {
                let branches = branches_of(tok, &d.output, a);
                decoded[i] = (0..branches.len()).map(|_| None).collect();
                mains[i] = Some((d.output, branches));
            }
            Some(b) => *decoded[i].get_mut(b).context("a branch the trajectory did not ask for")? = Some(d.output),
        }
        if mains[i].is_some() && decoded[i].iter().all(Option::is_some) {
            let (main, branches) = mains[i].take().expect("checked");
            let outputs: Vec<SpecOutput> = std::mem::take(&mut decoded[i]).into_iter().flatten().collect();
            emit(problem_rollouts(tok, problems[i], &main, &branches, &outputs, round, a)?)?;
        }
        Ok(())
    };
    pollster::block_on(s.generate_queue_branching(
        tok,
        &jobs,
        a.lockstep,
        ctx,
        region,
        take_more,
        &mut |_, main| branches_of(tok, main, a).into_iter().map(|(_, b)| b).collect(),
        &mut on_done,
    ))?;
    Ok(())
}

/// A problem's rollouts from its trajectory `main` and its `branches`' `decoded` outputs.
fn problem_rollouts(
    tok: &Tokenizer,
    p: &Problem,
    main: &SpecOutput,
    branches: &[(usize, Branch)],
    decoded: &[SpecOutput],
    round: u32,
    a: &TrainArgs,
) -> Result<Vec<Rollout>> {
    if decoded.len() != branches.len() {
        bail!("{}: {} branches decoded of {}", p.key(), decoded.len(), branches.len());
    }
    let main_ok = is_correct(&main.text, &p.answer) as u8 as f32;
    let mut rollouts = Vec::new();
    for j in branch_points_of(main, a) {
        let m = &main.mismatches[j];
        let other = if m.kept { m.target_token } else { m.draft_token };
        let mut toks = main.tokens[..m.position].to_vec();
        toks.push(other);
        let (other_ok, other_len) = match branches.iter().position(|(b, _)| *b == j) {
            Some(b) => {
                let branch = &decoded[b];
                let text = tok.decode(&toks, true)? + &branch.text;
                (is_correct(&text, &p.answer) as u8 as f32, m.position + 1 + branch.tokens.len())
            }
            None => {
                let text = tok.decode(&main.tokens[..m.position], true)? + &tok.decode(&[other], true)?;
                (is_correct(&text, &p.answer) as u8 as f32, m.position + 1)
            }
        };
        let (reward_keep, reward_take, tokens_keep, tokens_take) =
            if m.kept { (main_ok, other_ok, main.tokens.len(), other_len) } else { (other_ok, main_ok, other_len, main.tokens.len()) };
        rollouts.push(Rollout { problem: p.key(), round, position: m.position, features: m.features.to_vec(), reward_keep, reward_take, tokens_keep, tokens_take });
    }
    if rollouts.is_empty() {
        // A problem without mismatches: a marker (no features) records it as collected.
        rollouts.push(Rollout { problem: p.key(), round, position: usize::MAX, features: vec![], reward_keep: 0.0, reward_take: 0.0, tokens_keep: 0, tokens_take: 0 });
    }
    Ok(rollouts)
}

pub fn train_arbiter(gpu_opts: &GpuOptions, a: &TrainArgs) -> Result<()> {
    let all = a.pair.load_problems()?;
    let train_set = select(&all, "train", None);
    let dev_set = select(&all, "dev", Some(a.dev_problems));
    if train_set.is_empty() {
        bail!("no training problems in {}", a.pair.problems.display());
    }
    let rollouts_path = a.rollouts.clone().unwrap_or_else(|| a.out.with_extension("rollouts.jsonl"));
    let dev_path = rollouts_path.with_extension("dev.jsonl");
    if a.drain_after.is_some_and(|secs| !(secs >= 0.0 && secs.is_finite())) {
        bail!("--drain-after {}: a number of seconds, 0 or more", a.drain_after.unwrap_or_default());
    }
    let began = Instant::now();
    let mut take_more = || a.drain_after.is_none_or(|secs| began.elapsed().as_secs_f64() < secs);
    if !(1..=64).contains(&a.lockstep) {
        bail!("--lockstep {}: between 1 and 64 sequences side by side", a.lockstep);
    }
    if a.weight_decay.is_empty() || a.weight_decay.iter().any(|d| !d.is_finite() || *d < 0.0) {
        bail!("--weight-decay takes one or more finite values >= 0, comma-separated; got {:?}", a.weight_decay);
    }
    // In lock step each sequence gets a region of the longest prompt and the budget.
    let prompt_cap = if a.lockstep > 1 {
        let tok = Tokenizer::from_model_file(&open(&a.pair.target)?)?;
        let lens = train_set.iter().chain(&dev_set).map(|p| Ok(tok.encode(&prompt_text(&tok, p)?)?.len())).collect::<Result<Vec<_>>>()?;
        lens.into_iter().max().unwrap_or(0)
    } else {
        0
    };
    let single_ctx = (a.max_tokens + 1024).min(4096);
    let ctx_len = if a.lockstep > 1 { single_ctx.max(a.lockstep * (prompt_cap + a.max_tokens)) } else { single_ctx };
    let (mut s, tok) = open_pair(gpu_opts, &a.pair.draft, &a.pair.target, ctx_len, a.k.max(1), a.lockstep)?;
    let base_opts = TrainOptions { hidden: a.hidden, epochs: a.epochs, keep_cost: a.keep_cost, ..Default::default() };
    let t0 = std::time::Instant::now();
    let mut policy = Policy::Target;
    let mut mlp: Option<Mlp> = None;
    for round in 1..=a.rounds {
        let have = load_lines::<Rollout>(&rollouts_path)?;
        let done: HashSet<String> = have.iter().filter(|r| r.round == round).map(|r| r.problem.clone()).collect();
        // Each round takes the next slice of the training problems (wrapping around).
        let start = (round as usize - 1) * a.problems_per_round;
        let chosen: Vec<&Problem> = (0..a.problems_per_round.min(train_set.len())).map(|i| &train_set[(start + i) % train_set.len()]).collect();
        let mine: Vec<&Problem> = chosen.iter().enumerate().filter(|(i, _)| a.shard.takes(*i)).map(|(_, p)| *p).collect();
        let bar = ProgressBar::new(mine.len() as u64);
        bar.set_style(ProgressStyle::with_template("round {msg} [{bar:30}] {pos}/{len} {elapsed} eta {eta}").expect("static template").progress_chars("=> "));
        bar.set_message(format!("{round}/{} ({})", a.rounds, policy.name()));
        bar.inc((mine.len() - mine.iter().filter(|p| !done.contains(&p.key())).count()) as u64);
        let todo: Vec<&Problem> = mine.into_iter().filter(|p| !done.contains(&p.key())).collect();
        let mut collected = 0;
        collect(&mut s, &tok, &todo, &policy, round, a, &mut take_more, &mut |new| {
            append(&rollouts_path, &new)?;
            collected += 1;
            bar.inc(1);
            Ok(())
        })?;
        bar.finish_and_clear();
        if collected < todo.len() {
            eprintln!(
                "--drain-after {}: round {round} stopped after writing {collected} of the {} problems it had left; a re-run goes on",
                a.drain_after.unwrap_or_default(),
                todo.len()
            );
            return Ok(());
        }
        if !a.shard.is_all() {
            wait_for_round(&rollouts_path, round, &chosen.iter().map(|p| p.key()).collect::<Vec<_>>(), PATIENCE)?;
        }
        let (problems, samples) = samples_of(&rollouts_path, round)?;
        let groups: Vec<String> = problems.iter().map(|p| a.cv_groups.of(p)).collect();
        let decisive = samples.iter().filter(|s| s.reward_keep != s.reward_take).count();
        let (pick, scores) = select_weight_decay(&groups, &samples, CV_FOLDS, &base_opts, a.threshold, &a.weight_decay);
        let fitted = fit(&samples, &TrainOptions { weight_decay: pick.weight_decay, ..base_opts.clone() });
        let (ag, n) = oracle_agreement(&fitted, &samples, a.threshold);
        let (cv, cn) = (pick.agree, pick.total);
        let take = samples.iter().filter(|s| s.reward_take > s.reward_keep).count();
        eprintln!("round {round}: cross-validated agreement by weight decay (inf: the constant rule) {}; chosen {}", listed(&scores, " "), pick.weight_decay);
        eprintln!(
            "round {round}: {} rollouts ({decisive} where the branches' grades differ; taking the target's token is the better arm in {take}), \
             agreement with the oracle: on the training rollouts {ag}/{n}, cross-validated ({CV_FOLDS} folds by {}) {cv}/{cn}; {:.0} s so far",
            samples.len(),
            a.cv_groups.name(),
            t0.elapsed().as_secs_f64()
        );
        // Written after every round, so a run stopped in the next keeps this fit.
        if a.shard.index == 0 {
            write_arbiter(&fitted, a, round, samples.len(), &pick, &scores)?;
        }
        let shared = Arc::new(fitted.clone());
        policy = Policy::Learned { mlp: shared, threshold: a.threshold };
        mlp = Some(fitted);
    }
    let mlp = mlp.context("no training round ran (--rounds 0)")?;
    // Held-out dev agreement: rollouts under the final policy, never used for training.
    if !dev_set.is_empty() {
        let have: HashSet<String> = load_lines::<Rollout>(&dev_path)?.iter().map(|r| r.problem.clone()).collect();
        let todo: Vec<&Problem> = dev_set.iter().enumerate().filter(|(i, p)| a.shard.takes(*i) && !have.contains(&p.key())).map(|(_, p)| p).collect();
        let mut collected = 0;
        collect(&mut s, &tok, &todo, &policy, 0, a, &mut take_more, &mut |new| {
            collected += 1;
            append(&dev_path, &new).map_err(Into::into)
        })?;
        if collected < todo.len() {
            eprintln!("--drain-after {}: stopped after writing {collected} of the {} dev problems left; a re-run goes on", a.drain_after.unwrap_or_default(), todo.len());
            return Ok(());
        }
        if a.shard.index != 0 {
            return Ok(());
        }
        if !a.shard.is_all() {
            wait_for_round(&dev_path, 0, &dev_set.iter().map(|p| p.key()).collect::<Vec<_>>(), PATIENCE)?;
        }
        // Dev rollouts are round 0.
        let (_, dev) = samples_of(&dev_path, 0)?;
        let (ag, n) = oracle_agreement(&mlp, &dev, a.threshold);
        let always_take = dev.iter().filter(|s| s.reward_keep != s.reward_take && s.reward_take > s.reward_keep).count();
        println!(
            "dev: {} rollouts from {} problems; agreement with the oracle branch choice {ag}/{n} = {:.1}% (always-take-target: {always_take}/{n})",
            dev.len(),
            dev_set.len(),
            100.0 * ag as f64 / n.max(1) as f64
        );
        // The learned policy's accuracy and speed on the same problems, beside target-only and
        // SPD: an eval in OUT.dev-eval (resumable; its learned row reruns when the arbiter changes).
        drop(s);
        let out = a.out.with_extension("dev-eval");
        println!("accuracy and speed on dev ({}):", out.display());
        let pair = ProblemPair { draft: a.pair.draft.clone(), target: a.pair.target.clone(), problems: a.pair.problems.clone() };
        let eval_args = EvalArgs {
            pair,
            split: "dev".into(),
            modes: ["target-only", "spd", "cospec:learned"].map(String::from).to_vec(),
            limit: Some(a.dev_problems),
            max_tokens: a.max_tokens,
            k: a.k,
            out,
            shard: Shard::ALL,
            table_only: false,
            lockstep: a.lockstep.max(1),
            timed: DEV_TIMED,
            drain_after: None,
        };
        eval(gpu_opts, &eval_args, &ArbiterArgs::learned(a.out.clone(), a.threshold))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::CvGroups;

    #[test]
    fn template_folds_keep_a_templates_variants_together() {
        for (key, template) in [("t12v3", "t12"), ("t12v0", "t12"), ("t7v10", "t7"), ("t120v1", "t120")] {
            assert_eq!(CvGroups::Template.of(key), template, "{key}");
            assert_eq!(CvGroups::Problem.of(key), key);
        }
        assert_ne!(CvGroups::Template.of("t1v2"), CvGroups::Template.of("t12v1"));
    }
}
