//! Lock-step decoding (`SpecSession::generate_lockstep`) gives, for every prompt, exactly what
//! `generate` gives it alone: tokens, origins, text, passes, mismatches, keeps and each
//! mismatch's features, in every mode and for every kind of arbiter policy, on a tiny random
//! pair with many mismatches, prompts of awkward lengths (one of a single token) and budgets
//! that end mid-block; and a queue of mixed jobs served by fewer lanes than jobs, each lane
//! taking the next job's whole prompt into the block as the last one finishes.

use cospec::decode::arbiter::Policy;
use cospec::decode::{Branch, LockstepJob, Mode, SamplingParams, SpecOptions, SpecOutput, SpecSession};
use cospec::model::{LoadOptions, Model};
use cospec::tokenizer::Tokenizer;
use cospec_tests::blocks::rng;
use cospec_tests::{gpu, random_mlp};
use cospec_tests::tiny::{tiny_llama, tiny_model_file, TinySpec};
use std::sync::Arc;

const REGION: usize = 96;
const PROMPTS: usize = 4;

fn session() -> (SpecSession, Tokenizer) {
    let target = TinySpec { tied: false, layers: 3, ..tiny_llama(21) };
    let draft = TinySpec { perturb_last_ffn: Some((1021, 0.6)), ..target.clone() };
    let (tf, df) = (tiny_model_file(&target), tiny_model_file(&draft));
    let opts = LoadOptions { ctx_len: PROMPTS * REGION, max_block: 16, ..Default::default() };
    let load = |f| Model::load(gpu(), f, &opts, &mut |_, _| {}).unwrap();
    (SpecSession::new(load(&df), load(&tf), 8).unwrap(), Tokenizer::from_model_file(&tf).unwrap())
}

fn prompts() -> Vec<Vec<u32>> {
    [11usize, 4, 1, 7].iter().enumerate().map(|(s, &n)| (0..n).map(|i| ((i * 29 + s * 53 + 3) % 256) as u32).collect()).collect()
}

fn same(a: &SpecOutput, b: &SpecOutput, what: &str) {
    assert_eq!(a.tokens, b.tokens, "{what}: tokens");
    assert_eq!(a.origins, b.origins, "{what}: origins");
    assert_eq!(a.text, b.text, "{what}: text");
    let (x, y) = (&a.stats, &b.stats);
    assert_eq!(
        (x.steps, x.target_passes, x.draft_passes, x.mismatches, x.keeps, x.generated_tokens, x.stopped_at_eos),
        (y.steps, y.target_passes, y.draft_passes, y.mismatches, y.keeps, y.generated_tokens, y.stopped_at_eos),
        "{what}: statistics"
    );
    assert_eq!(a.mismatches.len(), b.mismatches.len(), "{what}: mismatch records");
    for (m, n) in a.mismatches.iter().zip(&b.mismatches) {
        assert_eq!((m.position, m.kept, m.draft_token, m.target_token), (n.position, n.kept, n.draft_token, n.target_token), "{what}");
        assert!(m.features.iter().zip(&n.features).all(|(p, q)| p.to_bits() == q.to_bits()), "{what}: features {:?} vs {:?}", m.features, n.features);
    }
}

#[test]
fn lockstep_gives_each_prompt_what_it_gets_alone() {
    let (mut s, tok) = session();
    let ps = prompts();
    let mlp = Arc::new(random_mlp(12, &mut rng(77)));
    let cases: Vec<(Mode, Policy, usize, usize)> = vec![
        (Mode::TargetOnly, Policy::Target, 1, 40),
        (Mode::DraftOnly, Policy::Target, 1, 40),
        (Mode::Spd, Policy::Target, 3, 41),
        (Mode::Cospec, Policy::Draft, 4, 38),
        (Mode::Cospec, Policy::Entropy { tau: 4.5 }, 3, 60),
        (Mode::Cospec, Policy::Cosd { alpha: 0.02, beta: 0.5 }, 2, 50),
        (Mode::Cospec, Policy::Diff { alpha: 0.0 }, 5, 45),
        (Mode::Cospec, Policy::Learned { mlp, threshold: 0.5 }, 4, 60),
    ];
    let (mut kept, mut taken) = (0, 0);
    for (mode, policy, k, max_tokens) in cases {
        let opts = SpecOptions { mode, k, policy: policy.clone(), sampling: SamplingParams::default(), max_tokens, stop_at_eos: true };
        let what = format!("{} {} k={k}", mode.name(), policy.name());
        let together = pollster::block_on(s.generate_lockstep(&tok, &ps, &opts, PROMPTS * REGION, REGION)).unwrap();
        for (i, p) in ps.iter().enumerate() {
            let alone = pollster::block_on(s.generate(&tok, p, &opts, &mut |_, _| {})).unwrap();
            same(&together[i], &alone, &format!("{what}, prompt {i}"));
            kept += alone.stats.keeps;
            taken += alone.stats.mismatches - alone.stats.keeps;
        }
    }
    // The replay was exercised where it can go wrong: mismatches both kept and taken.
    assert!(kept >= 5 && taken >= 5, "{kept} kept, {taken} taken mismatches");
}

#[test]
fn lockstep_refuses_what_it_cannot_replay() {
    let (mut s, tok) = session();
    let ps = prompts();
    let sampled = SpecOptions { mode: Mode::Spd, k: 3, policy: Policy::Target, sampling: SamplingParams { temperature: 0.8, ..Default::default() }, max_tokens: 8, stop_at_eos: true };
    assert!(pollster::block_on(s.generate_lockstep(&tok, &ps, &sampled, 256, REGION)).is_err());
    let greedy = SpecOptions { sampling: SamplingParams::default(), ..sampled };
    // Regions too small for a prompt and its budget, or more sequences than the cache holds.
    let long = SpecOptions { max_tokens: REGION, ..greedy.clone() };
    assert!(pollster::block_on(s.generate_lockstep(&tok, &ps, &long, PROMPTS * REGION, REGION)).is_err());
    let many: Vec<Vec<u32>> = (0..PROMPTS + 1).map(|_| vec![1, 2]).collect();
    assert!(pollster::block_on(s.generate_lockstep(&tok, &many, &greedy, 256, REGION)).is_err());
}

#[test]
fn target_only_read_off_spd_is_target_only_alone() {
    let (mut s, tok) = session();
    let ps = prompts();
    for (k, max_tokens) in [(3, 41), (5, 23)] {
        let spd = SpecOptions { mode: Mode::Spd, k, policy: Policy::Target, sampling: SamplingParams::default(), max_tokens, stop_at_eos: true };
        let both = pollster::block_on(s.generate_lockstep_spd_and_target_only(&tok, &ps, &spd, PROMPTS * REGION, REGION)).unwrap();
        let target = SpecOptions { mode: Mode::TargetOnly, ..spd.clone() };
        for (i, p) in ps.iter().enumerate() {
            same(&both[i].0, &pollster::block_on(s.generate(&tok, p, &spd, &mut |_, _| {})).unwrap(), &format!("SPD k={k}, prompt {i}"));
            same(&both[i].1, &pollster::block_on(s.generate(&tok, p, &target, &mut |_, _| {})).unwrap(), &format!("target-only k={k}, prompt {i}"));
        }
    }
    // Only SPD commits the target's token everywhere.
    let cospec = SpecOptions { mode: Mode::Cospec, k: 3, policy: Policy::Draft, sampling: SamplingParams::default(), max_tokens: 8, stop_at_eos: true };
    assert!(pollster::block_on(s.generate_lockstep_spd_and_target_only(&tok, &ps, &cospec, PROMPTS * REGION, REGION)).is_err());
}

#[test]
fn a_queue_of_mixed_jobs_through_few_lanes_gives_each_what_it_gets_alone() {
    let (mut s, tok) = session();
    let mlp = Arc::new(random_mlp(12, &mut rng(78)));
    let kinds: Vec<(Mode, Policy, usize)> = vec![
        (Mode::Spd, Policy::Target, 3),
        (Mode::Cospec, Policy::Learned { mlp: mlp.clone(), threshold: 0.5 }, 4),
        (Mode::TargetOnly, Policy::Target, 1),
        (Mode::Cospec, Policy::Entropy { tau: 4.5 }, 2),
        (Mode::DraftOnly, Policy::Target, 1),
        (Mode::Cospec, Policy::Cosd { alpha: 0.02, beta: 0.5 }, 5),
        (Mode::Cospec, Policy::Draft, 3),
        (Mode::Cospec, Policy::Diff { alpha: 0.0 }, 4),
    ];
    // Prompts of 1..14 tokens and budgets ending mid-block: lanes free up at different steps,
    // and a new prompt's earlier tokens share blocks with other lanes' single tokens.
    let jobs: Vec<LockstepJob> = (0..13)
        .map(|j| {
            let (mode, policy, k) = kinds[j % kinds.len()].clone();
            let len = 1 + (j * 5) % 14;
            let prompt = (0..len).map(|i| ((i * 37 + j * 71 + 5) % 256) as u32).collect();
            // Job 9 has nothing to generate: it must finish without taking a step.
            let max_tokens = if j == 9 { 0 } else { 20 + (j * 13) % 50 };
            let opts = SpecOptions { mode, k, policy, sampling: SamplingParams::default(), max_tokens, stop_at_eos: true };
            LockstepJob { prompt, opts, with_target_only: mode == Mode::Spd, follows_spd: false }
        })
        .collect();
    let lanes = 3;
    let mut done = Vec::new();
    pollster::block_on(s.generate_queue(&tok, &jobs, lanes, PROMPTS * REGION, REGION, &mut |d| {
        done.push(d);
        Ok::<(), cospec::model::ModelError>(())
    }))
    .unwrap();
    let mut order: Vec<usize> = done.iter().map(|d| d.job).collect();
    order.sort();
    assert_eq!(order, (0..jobs.len()).collect::<Vec<_>>(), "every job once");
    // Jobs finish as their lengths dictate, not in queue order.
    assert!(done.windows(2).any(|w| w[0].job > w[1].job), "finishing order {:?}", done.iter().map(|d| d.job).collect::<Vec<_>>());
    let (mut kept, mut taken) = (0, 0);
    for d in &done {
        let j = &jobs[d.job];
        let what = format!("job {} ({} {} k={}, {} prompt tokens)", d.job, j.opts.mode.name(), j.opts.policy.name(), j.opts.k, j.prompt.len());
        let alone = pollster::block_on(s.generate(&tok, &j.prompt, &j.opts, &mut |_, _| {})).unwrap();
        same(&d.output, &alone, &what);
        kept += alone.stats.keeps;
        taken += alone.stats.mismatches - alone.stats.keeps;
        match (&d.target_only, j.with_target_only) {
            (Some(t), true) => {
                let target = SpecOptions { mode: Mode::TargetOnly, ..j.opts.clone() };
                same(t, &pollster::block_on(s.generate(&tok, &j.prompt, &target, &mut |_, _| {})).unwrap(), &format!("{what}, target-only"));
            }
            (None, false) => {}
            (t, _) => panic!("{what}: target-only run {}", if t.is_some() { "not asked for" } else { "missing" }),
        }
    }
    assert!(kept >= 5 && taken >= 5, "{kept} kept, {taken} taken mismatches");
}

#[test]
fn cospec_jobs_riding_spd_give_what_they_get_alone_in_fewer_steps() {
    let (mut s, tok) = session();
    let mlp = Arc::new(random_mlp(12, &mut rng(79)));
    let riders: Vec<Policy> = vec![
        Policy::Draft,
        Policy::Entropy { tau: 4.5 },
        Policy::Cosd { alpha: 0.02, beta: 0.5 },
        Policy::Diff { alpha: 0.0 },
        Policy::Learned { mlp: mlp.clone(), threshold: 0.5 },
    ];
    let opts = |mode, policy, k, max_tokens| SpecOptions { mode, k, policy, sampling: SamplingParams::default(), max_tokens, stop_at_eos: true };
    let mut jobs: Vec<LockstepJob> = Vec::new();
    for p in 0..4usize {
        let prompt: Vec<u32> = (0..2 + p * 3).map(|i| ((i * 29 + p * 53 + 7) % 256) as u32).collect();
        let budget = 24 + p * 9;
        // Riders may come before their SPD job in the queue.
        for (r, policy) in riders.iter().enumerate() {
            if r % 2 == p % 2 {
                jobs.push(LockstepJob { prompt: prompt.clone(), opts: opts(Mode::Cospec, policy.clone(), 3, budget), with_target_only: false, follows_spd: true });
            }
        }
        jobs.push(LockstepJob { prompt: prompt.clone(), opts: opts(Mode::Spd, Policy::Target, 3, budget), with_target_only: p == 1, follows_spd: false });
        for (r, policy) in riders.iter().enumerate() {
            if r % 2 != p % 2 {
                jobs.push(LockstepJob { prompt: prompt.clone(), opts: opts(Mode::Cospec, policy.clone(), 3, budget), with_target_only: false, follows_spd: true });
            }
        }
        // No SPD job shares these paths (another k, another budget): they run on their own.
        jobs.push(LockstepJob { prompt: prompt.clone(), opts: opts(Mode::Cospec, Policy::Draft, 4, budget), with_target_only: false, follows_spd: true });
        jobs.push(LockstepJob { prompt, opts: opts(Mode::Cospec, Policy::Draft, 3, budget + 1), with_target_only: false, follows_spd: true });
    }
    let run = |s: &mut cospec::decode::speculative::SpecSession, jobs: &[LockstepJob], lanes: usize| {
        let mut done = Vec::new();
        let steps = pollster::block_on(s.generate_queue(&tok, jobs, lanes, PROMPTS * REGION, REGION, &mut |d| {
            done.push(d);
            Ok::<(), cospec::model::ModelError>(())
        }))
        .unwrap();
        done.sort_by_key(|d| d.job);
        (steps, done)
    };
    let alone: Vec<_> = jobs.iter().map(|j| pollster::block_on(s.generate(&tok, &j.prompt, &j.opts, &mut |_, _| {})).unwrap()).collect();
    // Two lanes: forks wait for a lane, take their SPD lane's region when it ends, or a copy.
    for lanes in [2, PROMPTS] {
        let (steps, done) = run(&mut s, &jobs, lanes);
        assert_eq!(done.iter().map(|d| d.job).collect::<Vec<_>>(), (0..jobs.len()).collect::<Vec<_>>(), "every job once");
        for d in &done {
            let j = &jobs[d.job];
            same(&d.output, &alone[d.job], &format!("{lanes} lanes, job {} ({} {} k={})", d.job, j.opts.mode.name(), j.opts.policy.name(), j.opts.k));
            assert_eq!(d.target_only.is_some(), j.with_target_only, "job {}", d.job);
        }
        let own: Vec<LockstepJob> = jobs.iter().map(|j| LockstepJob { follows_spd: false, ..j.clone() }).collect();
        let (steps_alone, _) = run(&mut s, &own, lanes);
        assert!(steps < steps_alone, "{lanes} lanes: {steps} steps riding, {steps_alone} without");
    }
    // Draining (no job taken after the first finishes): what was under way finishes, forks
    // included, exactly as alone; nothing else starts. One lane, from the second prompt's jobs
    // (the first prompt's end within two tokens): the forks off its SPD job still wait for a
    // lane when the drain begins.
    let (skip, mut drained) = (8, Vec::new());
    let taking = std::cell::Cell::new(true);
    pollster::block_on(s.generate_queue_while(&tok, &jobs[skip..], 1, PROMPTS * REGION, REGION, &mut || taking.get(), &mut |d| {
        taking.set(false);
        drained.push(d);
        Ok::<(), cospec::model::ModelError>(())
    }))
    .unwrap();
    let drain_began = drained[0].step;
    assert!(drained.iter().any(|d| d.step > drain_began && d.output.stats.keeps > 0), "no fork ran during the drain");
    let finished = |j: usize| drained.iter().any(|d| d.job + skip == j);
    assert!(drained.len() < jobs.len() - skip, "{} of {} jobs drained", drained.len(), jobs.len() - skip);
    for d in &drained {
        same(&d.output, &alone[d.job + skip], &format!("drained job {}", d.job + skip));
    }
    for (j, spd) in jobs.iter().enumerate().skip(skip).filter(|(j, x)| x.opts.mode == Mode::Spd && finished(*j)) {
        for (r, rider) in jobs.iter().enumerate().skip(skip) {
            if rider.follows_spd && rider.prompt == spd.prompt && rider.opts.k == spd.opts.k && rider.opts.max_tokens == spd.opts.max_tokens {
                assert!(finished(r), "job {r} rides SPD job {j}, which finished, but was dropped in the drain");
            }
        }
    }
    // Both kinds of rider: some left SPD's path (a keep), some rode it to the end.
    let rider_keeps: Vec<usize> = jobs.iter().zip(&alone).filter(|(j, _)| j.follows_spd && j.opts.k == 3).map(|(_, a)| a.stats.keeps).collect();
    assert!(rider_keeps.iter().any(|&k| k > 0) && rider_keeps.contains(&0), "keeps per rider {rider_keeps:?}");
}

#[test]
fn branches_from_a_finished_lane_give_what_their_whole_prefix_gets_alone() {
    let (mut s, tok) = session();
    let mlp = Arc::new(random_mlp(12, &mut rng(80)));
    let opts = |mode, policy, k, max_tokens| SpecOptions { mode, k, policy, sampling: SamplingParams::default(), max_tokens, stop_at_eos: true };
    let kinds: Vec<SpecOptions> = vec![
        opts(Mode::Spd, Policy::Target, 3, 40),
        opts(Mode::Cospec, Policy::Learned { mlp, threshold: 0.5 }, 4, 44),
        opts(Mode::Cospec, Policy::Cosd { alpha: 0.02, beta: 0.5 }, 2, 37),
        opts(Mode::TargetOnly, Policy::Target, 1, 30),
        opts(Mode::DraftOnly, Policy::Target, 1, 33),
    ];
    let jobs: Vec<LockstepJob> = (0..7)
        .map(|j| {
            let prompt = (0..1 + (j * 5) % 12).map(|i| ((i * 31 + j * 67 + 9) % 256) as u32).collect();
            LockstepJob { prompt, opts: kinds[j % kinds.len()].clone(), with_target_only: false, follows_spd: false }
        })
        .collect();
    // Branches at every mismatch (its other token, what is left of the budget), at the first
    // and the last token (an arbitrary token; the last with a budget of 0 and a budget past
    // the job's), more branches than lanes, so some wait, some take the finished lane's region
    // as it is and some get a copy in a lane another job used.
    let branches_of = |job: usize, out: &SpecOutput| -> Vec<Branch> {
        let budget = jobs[job].opts.max_tokens;
        let mut bs: Vec<Branch> = out
            .mismatches
            .iter()
            .take(4)
            .map(|m| Branch { position: m.position, token: if m.kept { m.target_token } else { m.draft_token }, max_tokens: budget - m.position - 1 })
            .collect();
        let last = out.tokens.len() - 1;
        bs.push(Branch { position: 0, token: ((job * 13 + 200) % 256) as u32, max_tokens: budget - 1 });
        bs.push(Branch { position: last, token: ((job * 7 + 100) % 256) as u32, max_tokens: 0 });
        bs.push(Branch { position: last, token: ((job * 7 + 101) % 256) as u32, max_tokens: budget - last + 3 });
        bs
    };
    let mut asked: Vec<(usize, Vec<Branch>, Vec<u32>)> = Vec::new();
    let mut done = Vec::new();
    let lanes = 3;
    pollster::block_on(s.generate_queue_branching(
        &tok,
        &jobs,
        lanes,
        PROMPTS * REGION,
        REGION,
        &mut || true,
        &mut |job, out| {
            let bs = branches_of(job, out);
            asked.push((job, bs.clone(), out.tokens.clone()));
            bs
        },
        &mut |d| {
            done.push(d);
            Ok::<(), cospec::model::ModelError>(())
        },
    ))
    .unwrap();
    assert_eq!(asked.len(), jobs.len(), "asked once per job, never for a branch");
    let mut branches = 0;
    for (job, bs, tokens) in &asked {
        let j = &jobs[*job];
        let own = done.iter().find(|d| d.job == *job && d.branch.is_none()).expect("the job's own generation");
        same(&own.output, &pollster::block_on(s.generate(&tok, &j.prompt, &j.opts, &mut |_, _| {})).unwrap(), &format!("job {job}"));
        for (b, branch) in bs.iter().enumerate() {
            let d = done.iter().find(|d| d.job == *job && d.branch == Some(b)).unwrap_or_else(|| panic!("job {job}, branch {b} not handed back"));
            let mut prefix = j.prompt.clone();
            prefix.extend_from_slice(&tokens[..branch.position]);
            prefix.push(branch.token);
            let o = SpecOptions { max_tokens: branch.max_tokens, ..j.opts.clone() };
            let what = format!("job {job} ({} {}), branch {b} at {}", j.opts.mode.name(), j.opts.policy.name(), branch.position);
            same(&d.output, &pollster::block_on(s.generate(&tok, &prefix, &o, &mut |_, _| {})).unwrap(), &what);
            branches += 1;
        }
    }
    assert_eq!(done.len(), jobs.len() + branches, "every generation once");
    for (i, d) in done.iter().enumerate().filter(|(_, d)| d.branch.is_some()) {
        assert!(done[..i].iter().any(|e| e.job == d.job && e.branch.is_none()), "job {}'s branch came before the job", d.job);
    }
    assert!(branches > 4 * lanes, "{branches} branches");
    // Draining once the first job is back: the jobs under way finish, and so do the branches
    // of every job that finished; no other job starts.
    let taking = std::cell::Cell::new(true);
    let mut drained = Vec::new();
    pollster::block_on(s.generate_queue_branching(&tok, &jobs, lanes, PROMPTS * REGION, REGION, &mut || taking.get(), &mut |job, out| branches_of(job, out), &mut |d| {
        taking.set(false);
        drained.push((d.job, d.branch));
        Ok::<(), cospec::model::ModelError>(())
    }))
    .unwrap();
    let finished: Vec<usize> = drained.iter().filter(|d| d.1.is_none()).map(|d| d.0).collect();
    assert!(finished.len() < jobs.len() && finished.len() >= lanes, "{} jobs finished in the drain", finished.len());
    for (job, bs, _) in &asked {
        let got = drained.iter().filter(|d| d.0 == *job && d.1.is_some()).count();
        assert_eq!(got, if finished.contains(job) { bs.len() } else { 0 }, "job {job}'s branches in the drain");
    }
    // A branch past its generation's end, or with a token outside the vocabulary: an error.
    let one = &jobs[..1];
    for bad in [Branch { position: 1000, token: 5, max_tokens: 3 }, Branch { position: 0, token: 1 << 20, max_tokens: 3 }] {
        let r = pollster::block_on(s.generate_queue_branching(&tok, one, 1, PROMPTS * REGION, REGION, &mut || true, &mut |_, _| vec![bad.clone()], &mut |_| {
            Ok::<(), cospec::model::ModelError>(())
        }));
        assert!(r.is_err(), "{bad:?} accepted");
    }
}

#[test]
fn a_queue_refuses_what_it_cannot_replay() {
    let (mut s, tok) = session();
    let greedy = SpecOptions { mode: Mode::Cospec, k: 3, policy: Policy::Draft, sampling: SamplingParams::default(), max_tokens: 8, stop_at_eos: true };
    let job = |opts: &SpecOptions, with_target_only| LockstepJob { prompt: vec![1, 2, 3], opts: opts.clone(), with_target_only, follows_spd: false };
    let run = |s: &mut SpecSession, jobs: &[LockstepJob], lanes| {
        pollster::block_on(s.generate_queue(&tok, jobs, lanes, PROMPTS * REGION, REGION, &mut |_| Ok::<(), cospec::model::ModelError>(())))
    };
    // Target-only rides along SPD only; no lanes, no decoding.
    assert!(run(&mut s, &[job(&greedy, true)], 1).is_err());
    assert!(run(&mut s, &[job(&greedy, false)], 0).is_err());
    // Two learned arbiters in one queue: the kernels hold one.
    let learned = |seed| SpecOptions { policy: Policy::Learned { mlp: Arc::new(random_mlp(12, &mut rng(seed))), threshold: 0.5 }, ..greedy.clone() };
    assert!(run(&mut s, &[job(&learned(1), false), job(&learned(2), false)], 2).is_err());
    // More lanes than the cache holds regions for (the queue is longer than the lanes).
    let many: Vec<LockstepJob> = (0..PROMPTS + 2).map(|_| job(&greedy, false)).collect();
    assert!(run(&mut s, &many, PROMPTS + 1).is_err());
    // A job past its region, checked before anything is decoded.
    let long = SpecOptions { max_tokens: REGION, ..greedy.clone() };
    let mut calls = 0;
    let bad = [job(&greedy, false), job(&long, false)];
    assert!(pollster::block_on(s.generate_queue(&tok, &bad, 1, PROMPTS * REGION, REGION, &mut |_| {
        calls += 1;
        Ok::<(), cospec::model::ModelError>(())
    }))
    .is_err());
    assert_eq!(calls, 0, "nothing decoded before the bad job was refused");
    // The fitting jobs alone run.
    assert!(run(&mut s, &many, PROMPTS).is_ok());
}

#[test]
fn a_mismatch_in_a_block_that_also_prefills_prompts_reads_its_own_logits() {
    // Four fresh prompts of 6, 6, 5 and 1 tokens make a first block of 14 earlier tokens and 4
    // last ones, more than the 16 a block holds: the last tokens' logits rows must not be split
    // across two blocks, or a lane arbitrates on another lane's logits (its features show it).
    let (mut s, tok) = session();
    let opts = SpecOptions { mode: Mode::Cospec, k: 4, policy: Policy::Draft, sampling: SamplingParams::default(), max_tokens: 12, stop_at_eos: true };
    let mut first_step_mismatches = 0;
    for seed in 0..8 {
        let jobs: Vec<LockstepJob> = [6usize, 6, 5, 1]
            .iter()
            .enumerate()
            .map(|(j, &len)| LockstepJob { prompt: (0..len).map(|i| ((i * 41 + j * 23 + seed * 97 + 11) % 256) as u32).collect(), opts: opts.clone(), with_target_only: false, follows_spd: false })
            .collect();
        let together = pollster::block_on(s.generate_lockstep_each(
            &tok,
            &jobs.iter().map(|j| j.prompt.clone()).collect::<Vec<_>>(),
            &[12; 4],
            &opts,
            PROMPTS * REGION,
            REGION,
        ))
        .unwrap();
        for (j, job) in jobs.iter().enumerate() {
            let alone = pollster::block_on(s.generate(&tok, &job.prompt, &opts, &mut |_, _| {})).unwrap();
            same(&together[j], &alone, &format!("seed {seed}, prompt {j}"));
            first_step_mismatches += alone.mismatches.iter().filter(|m| m.position == 0).count();
        }
    }
    assert!(first_step_mismatches >= 2, "only {first_step_mismatches} mismatches at a first token");
}
