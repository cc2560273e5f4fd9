//! `cospec eval`: every mode on the same math problems, one table. Each (mode, problem) result
//! is appended to OUT/records.jsonl as soon as it is graded, so a re-run with the same OUT
//! resumes where the last one stopped; the table (Markdown and JSON), the flips against
//! target-only and an SVG plot of accuracy against tok/s are rewritten at the end.

use crate::speculative::{open_pair, ArbiterArgs};
use anyhow::{bail, Context, Result};
use crate::commands::open;
use cospec::decode::arbiter::Policy;
use cospec::decode::{LockstepDone, LockstepJob, Mode, SpecOptions, SpecOutput};
use cospec::tokenizer::Tokenizer;
use cospec_eval::grading::{extract_answer, is_correct};
use cospec_eval::jsonl;
use cospec_eval::problems::{parse, prompt_text, select, Problem};
use cospec_eval::report::{fingerprint, markdown, rows, svg_plot, Record};
use cospec_eval::shard::Shard;
use cospec_eval::tuning;
use cospec::gpu::GpuOptions;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The draft, the target and the problems file: what `eval` and `train-arbiter` share.
#[derive(clap::Args, Debug)]
pub struct ProblemPair {
    #[arg(long)]
    pub draft: PathBuf,
    #[arg(long)]
    pub target: PathBuf,
    /// JSON lines from scripts/fetch_problems.py
    #[arg(long)]
    pub problems: PathBuf,
}

impl ProblemPair {
    pub fn load_problems(&self) -> Result<Vec<Problem>> {
        let path = &self.problems;
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {} (scripts/fetch_problems.py writes it)", path.display()))?;
        parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub pair: ProblemPair,
    /// train, dev (templates 60..79) or test (reserved: needs COSPEC_FINAL_TEST=1)
    #[arg(long, default_value = "dev")]
    pub split: String,
    /// Comma-separated: draft-only, target-only, spd, cospec:POLICY, cospec:POLICY=V1[/V2] (the
    /// rule with those thresholds, e.g. cospec:cosd=0.3/0.8), grid:POLICY (every point of the
    /// rule's tuning grid: run on --split train, the best point per rule goes to tuned.json)
    #[arg(long, value_delimiter = ',', default_value = "draft-only,target-only,spd,cospec:entropy,cospec:cosd,cospec:diff")]
    pub modes: Vec<String>,
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long, default_value_t = 512)]
    pub max_tokens: usize,
    #[arg(short = 'k', long = "k", default_value_t = 4)]
    pub k: usize,
    /// Output folder (records.jsonl there makes a re-run resume)
    #[arg(long, default_value = "eval-out")]
    pub out: PathBuf,
    /// Run only problems I, I+N, I+2N, ... of the list; shards may share OUT and run side by
    /// side. The table is written by a run without --shard once every shard has finished.
    #[arg(long, default_value = "0/1")]
    pub shard: Shard,
    /// Write the table from the records so far and run nothing (over the problems every mode
    /// has finished)
    #[arg(long)]
    pub table_only: bool,
    /// Decode this many problems side by side in lock step (greedy; exactly the tokens of one
    /// at a time, several times the throughput on a GPU); 1: one at a time
    #[arg(long, default_value_t = 1)]
    pub lockstep: usize,
    /// With --lockstep: the first N problems (of this shard) are decoded one at a time, timed,
    /// for the tok/s and speed-up columns
    #[arg(long, default_value_t = 10)]
    pub timed: usize,
    /// After this many seconds start no new generation: those under way finish and are kept,
    /// then the run ends as if done (a run under a time limit loses no half-done work; a
    /// re-run goes on)
    #[arg(long)]
    pub drain_after: Option<f64>,
}

/// Largest --lockstep (each sequence adds a cache region to both models).
const MAX_LOCKSTEP: usize = 64;

fn record(mode: &str, p: &Problem, out: &SpecOutput, timed: bool, arbiter: Option<String>, adapter: &str) -> Record {
    let s = &out.stats;
    Record {
        mode: mode.to_string(),
        problem: p.key(),
        correct: is_correct(&out.text, &p.answer),
        extracted: extract_answer(&out.text),
        answer: p.answer.clone(),
        tokens: s.generated_tokens,
        seconds: s.decode_secs,
        target_passes: s.target_passes,
        mismatches: s.mismatches,
        keeps: s.keeps,
        text: out.text.clone(),
        timed,
        arbiter,
        adapter: Some(adapter.to_string()),
    }
}

/// "draft-only", "target-only", "spd", or "cospec:POLICY".
fn parse_mode(s: &str, arbiter: &ArbiterArgs) -> Result<(Mode, cospec::decode::arbiter::Policy)> {
    let (mode, policy) = s.split_once(':').unwrap_or((s, "target"));
    let Some(m) = Mode::from_name(mode) else { bail!("unknown mode {s:?}: draft-only, target-only, spd or cospec:POLICY") };
    if m == Mode::Cospec && !s.contains(':') {
        bail!("give cospec's policy as cospec:POLICY (e.g. cospec:entropy)");
    }
    Ok((m, arbiter.policy(policy)?))
}

/// The values of a JSON-lines file (eval records, rollouts), naming the lines that did not
/// parse: a run killed mid-write tears its last line, whose work is simply done again.
pub(crate) fn load_lines<T: jsonl::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let loaded = jsonl::read(path).with_context(|| format!("reading {}", path.display()))?;
    if !loaded.unreadable.is_empty() {
        eprintln!("{}: skipped {} unreadable line(s) (numbers {:?})", path.display(), loaded.unreadable.len(), loaded.unreadable);
    }
    Ok(loaded.items)
}

pub fn eval(gpu_opts: &GpuOptions, a: &EvalArgs, arbiter: &ArbiterArgs) -> Result<()> {
    if a.drain_after.is_some_and(|secs| !(secs >= 0.0 && secs.is_finite())) {
        bail!("--drain-after {}: a number of seconds, 0 or more", a.drain_after.unwrap_or_default());
    }
    if !(1..=MAX_LOCKSTEP).contains(&a.lockstep) {
        bail!("--lockstep {}: between 1 and {MAX_LOCKSTEP} problems side by side", a.lockstep);
    }
    let all = a.pair.load_problems()?;
    if a.split == "test" && std::env::var("COSPEC_FINAL_TEST").as_deref() != Ok("1") {
        bail!("templates 80..99 are reserved for the final held-out table: set COSPEC_FINAL_TEST=1 to evaluate on them");
    }
    let problems = select(&all, &a.split, a.limit);
    if problems.is_empty() {
        bail!("no {} problems in {}", a.split, a.pair.problems.display());
    }
    // The modes as given, each grid expanded to its points, each mode once.
    let mut names: Vec<String> = Vec::new();
    for m in &a.modes {
        for point in tuning::expand(m).map_err(anyhow::Error::msg)? {
            if !names.contains(&point) {
                names.push(point);
            }
        }
    }
    let modes: Vec<(String, Mode, cospec::decode::arbiter::Policy)> =
        names.iter().map(|s| parse_mode(s, arbiter).map(|(m, p)| (s.clone(), m, p))).collect::<Result<_>>()?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    // Records from a different setup must not mix into this table, nor records of other
    // problems under the same names (a problem file generated under other rules).
    let split_problems: String = select(&all, &a.split, None).iter().map(|p| format!("{}\t{}\t{}\n", p.key(), p.question, p.answer)).collect();
    let config = serde_json::json!({"problems": fingerprint(split_problems.as_bytes()),"draft": a.pair.draft.file_name().map(|f| f.to_string_lossy().to_string()),
        "target": a.pair.target.file_name().map(|f| f.to_string_lossy().to_string()), "split": a.split, "max_tokens": a.max_tokens, "k": a.k,
        "thresholds": format!("{:?}", arbiter.thresholds()), "arbiter": arbiter.arbiter.as_ref().map(|p| p.display().to_string())});
    let config_path = a.out.join("config.json");
    match std::fs::read_to_string(&config_path) {
        Ok(old) if serde_json::from_str::<serde_json::Value>(&old).ok().as_ref() != Some(&config) => {
            bail!("{} holds results of another setup ({old}); use another --out", a.out.display())
        }
        Ok(_) => {}
        Err(_) => {
            // Written whole under another name then renamed: a shard starting alongside never
            // reads half a file.
            let tmp = a.out.join(format!("config.json.{}", std::process::id()));
            std::fs::write(&tmp, serde_json::to_string_pretty(&config)?)?;
            std::fs::rename(&tmp, &config_path)?;
        }
    }
    let records_path = a.out.join("records.jsonl");
    let mut records = load_lines::<Record>(&records_path)?;
    // Learned-policy records name their arbiter: after a retraining, that mode is run again
    // with the new arbiter (the other modes' records stay).
    let fingerprint = arbiter
        .arbiter
        .as_ref()
        .map(|path| std::fs::read(path).with_context(|| format!("reading {}", path.display())).map(|b| fingerprint(&b)))
        .transpose()?;
    let decided_by = |policy: &Policy| if matches!(policy, Policy::Learned { .. }) { fingerprint.clone() } else { None };
    let learned: HashSet<&str> = modes.iter().filter(|m| matches!(m.2, Policy::Learned { .. })).map(|m| m.0.as_str()).collect();
    let before = records.len();
    records.retain(|r| !learned.contains(r.mode.as_str()) || r.arbiter == fingerprint);
    if records.len() < before {
        eprintln!("{} learned-policy records of another arbiter set aside (this one: {})", before - records.len(), fingerprint.as_deref().unwrap_or("-"));
    }
    let done: HashSet<(String, String)> = records.iter().map(|r| (r.mode.clone(), r.problem.clone())).collect();
    let mine: Vec<&Problem> = problems.iter().enumerate().filter(|(i, _)| a.shard.takes(*i)).map(|(_, p)| p).collect();
    let todo = mine.len() * modes.len() - mine.iter().flat_map(|p| modes.iter().map(move |m| (m.0.clone(), p.key()))).filter(|x| done.contains(x)).count();
    let of_shard = if a.shard.is_all() { String::new() } else { format!(" (shard {})", a.shard) };
    eprintln!("{} problems{of_shard} x {} modes: {} done, {todo} to run", mine.len(), modes.len(), mine.len() * modes.len() - todo);
    if todo > 0 && !a.table_only {
        let tok = Tokenizer::from_model_file(&open(&a.pair.target)?)?;
        let prompts: Vec<Vec<u32>> = mine.iter().map(|p| Ok(tok.encode(&prompt_text(&tok, p)?)?)).collect::<Result<_>>()?;
        let region = prompts.iter().map(Vec::len).max().unwrap_or(0) + a.max_tokens;
        let single_ctx = (a.max_tokens + 1024).min(4096);
        let ctx_len = if a.lockstep > 1 { single_ctx.max(a.lockstep * region) } else { single_ctx };
        let (mut session, tok) = open_pair(gpu_opts, &a.pair.draft, &a.pair.target, ctx_len, a.k.max(1), a.lockstep)?;
        let adapter = session.target.ctx.adapter.to_string();
        // One at a time: every problem, timed. In lock step: --timed problems one at a time on
        // this adapter (the speed columns; a table gathering several devices' records takes its
        // speeds from one), the first not yet begun, less those timed here before; the rest in
        // lock step.
        let (alone, grouped): (Vec<usize>, Vec<usize>) = if a.lockstep > 1 {
            // A problem counts as timed here when every mode was (what the speed columns need).
            let timed_here: HashSet<(&str, &str)> =
                records.iter().filter(|r| r.timed && r.adapter.as_deref() == Some(adapter.as_str())).map(|r| (r.mode.as_str(), r.problem.as_str())).collect();
            let begun: HashSet<&str> = records.iter().map(|r| r.problem.as_str()).collect();
            let need = a.timed.saturating_sub(mine.iter().filter(|p| modes.iter().all(|m| timed_here.contains(&(m.0.as_str(), p.key().as_str())))).count());
            let fresh: HashSet<usize> = (0..mine.len()).filter(|&i| !begun.contains(mine[i].key().as_str())).take(need).collect();
            (0..mine.len()).partition(|i| fresh.contains(i))
        } else {
            ((0..mine.len()).collect(), Vec::new())
        };
        let bar = ProgressBar::new(todo as u64);
        bar.set_style(ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed} eta {eta}").expect("static template").progress_chars("=> "));
        let keep = |r: Record, records: &mut Vec<Record>| -> Result<()> {
            // One write per record: shards appending to the same file never interleave. Opened
            // per record (one open a generation): a file replaced under a running eval (a git
            // checkout or stash writes a new one) gets the records, not the unlinked old one.
            let mut file = jsonl::open_append(&records_path).with_context(|| format!("opening {}", records_path.display()))?;
            jsonl::append_lines(&mut file, &[serde_json::to_string(&r)?])?;
            records.push(r);
            bar.inc(1);
            Ok(())
        };
        let (run_began, had) = (std::time::Instant::now(), records.len());
        let take_more = || a.drain_after.is_none_or(|secs| run_began.elapsed().as_secs_f64() < secs);
        let options = |mode: Mode, policy: &Policy| SpecOptions { mode, k: a.k, policy: policy.clone(), max_tokens: a.max_tokens, stop_at_eos: true, ..Default::default() };
        for &i in &alone {
            let p = mine[i];
            for (name, mode, policy) in &modes {
                if done.contains(&(name.clone(), p.key())) || !take_more() {
                    continue;
                }
                bar.set_message(format!("{} {name}", p.key()));
                let out = pollster::block_on(session.generate(&tok, &prompts[i], &options(*mode, policy), &mut |_, _| {}))?;
                keep(record(name, p, &out, true, decided_by(policy), &adapter), &mut records)?;
            }
        }
        let ctx = session.target.ctx_len().min(session.draft.ctx_len());
        // Greedy SPD commits the target's token everywhere, so target-only's generations are
        // read off SPD's lock-step passes (tests/lockstep.rs) instead of decoded again.
        let name_of = |wanted: Mode| modes.iter().find(|m| m.1 == wanted).map(|m| m.0.as_str());
        // Target-only's name when it rides along SPD (both asked for).
        let riding = name_of(Mode::Spd).and(name_of(Mode::TargetOnly));
        // Every mode's missing records of every problem in one queue through --lockstep lanes,
        // problem by problem: a lane whose generation ends takes the next job, so blocks stay
        // full until the last generations, and problems finish about in order (a run stopped
        // at a time limit leaves few half-done ones).
        let missing = |name: &str, j: usize| !done.contains(&(name.to_string(), mine[grouped[j]].key()));
        let mut jobs: Vec<LockstepJob> = Vec::new();
        let mut owners: Vec<(usize, usize)> = Vec::new();
        for j in 0..grouped.len() {
            for (m, (name, mode, policy)) in modes.iter().enumerate() {
                if !missing(name, j) {
                    continue;
                }
                let rides = riding.is_some_and(|t| missing(t, j));
                if riding.is_some() && *mode == Mode::TargetOnly && missing(name_of(Mode::Spd).expect("riding needs SPD"), j) {
                    continue;
                }
                // CoSpec rides the problem's SPD job (when it is in the queue) up to its first keep.
                jobs.push(LockstepJob {
                    prompt: prompts[grouped[j]].clone(),
                    opts: options(*mode, policy),
                    with_target_only: *mode == Mode::Spd && rides,
                    follows_spd: *mode == Mode::Cospec,
                });
                owners.push((m, j));
            }
        }
        if !jobs.is_empty() {
            bar.set_message(format!("{} generations in lock step", jobs.len()));
            let (mut finished, mut tokens) = (0, 0);
            let started = std::time::Instant::now();
            // Every --lockstep generations and at the end, how full the blocks were and what a
            // step cost (riding target-only not counted; CoSpec jobs riding SPD count their
            // shared tokens, so a step can exceed the lanes). (indicatif drops `println` when
            // standard error is not a terminal: logs need eprintln.)
            let report = |finished: usize, tokens: usize, steps: usize| {
                let secs = started.elapsed().as_secs_f64();
                bar.suspend(|| {
                    eprintln!(
                        "lock step: {finished} of {} generations, {tokens} tokens in {steps} lock-step steps, {:.2} a step of {} lanes; {secs:.1} s, {:.1} ms a step, {:.1} tok/s",
                        jobs.len(),
                        tokens as f64 / steps.max(1) as f64,
                        a.lockstep,
                        secs * 1e3 / steps.max(1) as f64,
                        tokens as f64 / secs.max(1e-9)
                    )
                });
            };
            let steps = pollster::block_on(session.generate_queue_while(&tok, &jobs, a.lockstep, ctx, region, &mut || take_more(), &mut |d: LockstepDone| -> Result<()> {
                let (m, j) = owners[d.job];
                tokens += d.output.tokens.len();
                finished += 1;
                let (name, _, policy) = &modes[m];
                keep(record(name, mine[grouped[j]], &d.output, false, decided_by(policy), &adapter), &mut records)?;
                if let (Some(target_only), Some(target_name)) = (&d.target_only, riding) {
                    keep(record(target_name, mine[grouped[j]], target_only, false, None, &adapter), &mut records)?;
                }
                if finished % a.lockstep == 0 && finished < jobs.len() {
                    report(finished, tokens, d.step);
                }
                Ok(())
            }))?;
            report(finished, tokens, steps);
        }
        bar.finish_and_clear();
        // Said only when the drain left work: a run that finished everything past the limit ran whole.
        if !take_more() && records.len() - had < todo {
            eprintln!("--drain-after {}: no new generation started after that; {} records of {todo} written, a re-run goes on", a.drain_after.unwrap_or(0.0), records.len() - had);
        }
    }
    if !a.shard.is_all() {
        eprintln!("shard {} finished; the table is written by a run without --shard once every shard has", a.shard);
        return Ok(());
    }
    let keys: HashSet<String> = problems.iter().map(|p| p.key()).collect();
    records.retain(|r| keys.contains(&r.problem));
    let table = rows(&records, &names);
    let finished = table.first().map_or(0, |r| r.problems);
    let of = if finished == problems.len() { String::new() } else { format!(" (of {} selected: the problems every mode has finished)", problems.len()) };
    let title = format!("{} split, {finished} problems{of}, greedy, max {} tokens, k = {}", a.split, a.max_tokens, a.k);
    let md = markdown(&table, &title);
    std::fs::write(a.out.join("table.md"), &md)?;
    std::fs::write(a.out.join("table.json"), serde_json::to_string_pretty(&serde_json::json!({"title": title, "rows": table}))?)?;
    std::fs::write(a.out.join("accuracy_vs_speed.svg"), svg_plot(&table, &title))?;
    let mut flips = String::from("# Flips against target-only (same problems)\n\n");
    for r in &table {
        if r.mode != "target-only" && r.mcnemar_p.is_some() {
            flips.push_str(&format!("- {}: wrong->right {:?}; right->wrong {:?}\n", r.mode, r.wrong_to_right, r.right_to_wrong));
        }
    }
    std::fs::write(a.out.join("flips.md"), flips)?;
    println!("{md}");
    eprintln!("wrote {}/{{table.md,table.json,flips.md,accuracy_vs_speed.svg,records.jsonl}}", a.out.display());
    let tuned = tuning::pick(&table);
    if !tuned.is_empty() {
        std::fs::write(a.out.join("tuned.json"), serde_json::to_string_pretty(&serde_json::json!({"split": a.split, "problems": finished, "picks": tuned}))?)?;
        for t in &tuned {
            eprintln!("{}: best of {} points on {} problems: {} ({}/{} correct, {:.0}% of mismatches kept)", t.rule, t.points, a.split, t.mode, t.correct, t.problems, 100.0 * t.keep_share);
        }
        let picked: Vec<&str> = tuned.iter().map(|t| t.mode.as_str()).collect();
        if a.split == "train" {
            eprintln!("wrote {}/tuned.json; score them once on dev: --split dev --modes target-only,spd,{}", a.out.display(), picked.join(","));
        } else {
            eprintln!("wrote {}/tuned.json; note: these picks are on the {} split: thresholds are chosen on train and scored once on dev", a.out.display(), a.split);
        }
    }
    Ok(())
}
