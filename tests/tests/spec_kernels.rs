//! The speculative-step kernels against plain CPU references: the features kernel on random
//! logits at awkward vocabulary sizes, the arbiter MLP on random feature vectors, every
//! policy's decision in the verify kernel, and rejection sampling's output distribution
//! (chi-square at a fixed seed set: lossless, and the `draft` policy's keep-all distribution).

use cospec::decode::arbiter::{Features, Mlp, Policy};
use cospec::gpu::dispatch::{submit, Dispatch};
use cospec::ops::spec::{self, SpecBuffers, SpecParams, FEATURES, MAX_K, OUTCOME_WORDS, ROW};
use cospec::gpu::{GpuBuffer, GpuContext};
use cospec_tests::blocks::rng;
use cospec_tests::failures::Failures;
use cospec_tests::{gpu, random_mlp};
use rand::Rng;
use std::sync::Arc;

const POISON: f32 = f32::NAN;

struct Step {
    ctx: Arc<GpuContext>,
    _p: GpuBuffer,
    _q: GpuBuffer,
    proposals: GpuBuffer,
    rows: GpuBuffer,
    outcome: GpuBuffer,
    params: GpuBuffer,
    _mlp: GpuBuffer,
    kernels: [Dispatch; 3],
}

impl Step {
    fn new(p_logits: &[f32], q_logits: &[f32], vocab: usize, max_k: usize, mlp: Option<&Mlp>) -> Step {
        let ctx = gpu();
        let p = GpuBuffer::from_f32(&ctx, "p", p_logits);
        let q = GpuBuffer::from_f32(&ctx, "q", q_logits);
        let proposals = GpuBuffer::zeros(&ctx, "proposals", MAX_K);
        let rows = GpuBuffer::from_f32(&ctx, "rows", &vec![POISON; (MAX_K + 1) * ROW]);
        let outcome = GpuBuffer::from_u32(&ctx, "outcome", &vec![0xDEAD_BEEF; OUTCOME_WORDS]);
        let params = GpuBuffer::uniform(&ctx, "params", &[0; 16]);
        let mlp_buf = match mlp {
            Some(m) => GpuBuffer::from_f32(&ctx, "mlp", &m.gpu_words()),
            None => GpuBuffer::zeros(&ctx, "mlp", 1),
        };
        let kernels = spec::prepare(
            &ctx,
            &SpecBuffers {
                p_logits: &p.buffer,
                q_logits: &q.buffer,
                proposals: &proposals.buffer,
                rows: &rows.buffer,
                mlp: &mlp_buf.buffer,
                outcome: &outcome.buffer,
                params: &params,
                vocab,
                max_k,
            },
        )
        .unwrap();
        Step { ctx, _p: p, _q: q, proposals, rows, outcome, params, _mlp: mlp_buf, kernels }
    }

    fn run(&self, proposals: &[u32], params: SpecParams) -> Vec<u32> {
        self.proposals.write_u32(&self.ctx, 0, proposals);
        self.params.write_u32(&self.ctx, 0, &params.words());
        let [f, v, r] = &self.kernels;
        submit(&self.ctx, &[f, v, r], 1, 1).unwrap();
        pollster::block_on(self.outcome.read_u32(&self.ctx)).unwrap()
    }
}

fn softmax(l: &[f32]) -> Vec<f64> {
    let m = l.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
    let e: Vec<f64> = l.iter().map(|&x| (x as f64 - m).exp()).collect();
    let z: f64 = e.iter().sum();
    e.iter().map(|x| x / z).collect()
}

fn argmax(l: &[f32]) -> usize {
    let mut b = 0;
    for i in 1..l.len() {
        if l[i] > l[b] {
            b = i;
        }
    }
    b
}

fn entropy(p: &[f64]) -> f64 {
    -p.iter().filter(|&&x| x > 0.0).map(|x| x * x.ln()).sum::<f64>()
}

/// The stateless features of position r (CPU, f64).
fn reference_features(pl: &[f32], ql: &[f32], d: usize) -> [f64; 11] {
    let (p, q) = (softmax(pl), softmax(ql));
    let t = argmax(pl);
    let rank = pl.iter().filter(|&&x| x > pl[d]).count().min(1000);
    let tv = 0.5 * p.iter().zip(&q).map(|(a, b)| (a - b).abs()).sum::<f64>();
    [
        q[d],
        q.iter().cloned().fold(0.0, f64::max),
        entropy(&q),
        q[t],
        p[d],
        p[t],
        entropy(&p),
        (1.0 + rank as f64).ln(),
        (pl[t] - pl[d]) as f64,
        (ql[d] - ql[t]) as f64,
        tv,
    ]
}

fn random_logits(n: usize, spread: f32, r: &mut impl Rng) -> Vec<f32> {
    (0..n).map(|_| r.random_range(-spread..spread)).collect()
}

#[test]
fn features_kernel_matches_cpu_reference() {
    let mut r = rng(5);
    let mut fails = Failures::new();
    for (vocab, k) in [(1000 + 37, 5), (77, 3), (4099, 8)] {
        let pl = random_logits((k + 1) * vocab, 6.0, &mut r);
        let mut ql = random_logits(k * vocab, 6.0, &mut r);
        let proposals: Vec<u32> = (0..k)
            .map(|i| {
                // A tie at the top of q's row 0 and proposals that sometimes equal the target's.
                if i == 0 {
                    let row = &mut ql[..vocab];
                    let top = argmax(row);
                    row[vocab - 3] = row[top];
                }
                if i % 2 == 0 { argmax(&pl[i * vocab..(i + 1) * vocab]) as u32 } else { r.random_range(0..vocab as u32) }
            })
            .collect();
        let step = Step::new(&pl, &ql, vocab, k, None);
        let params = SpecParams { k: k as u32, vocab: vocab as u32, inv_temp: 1.0, max_tokens: 100, ..Default::default() };
        step.run(&proposals, params);
        let rows = pollster::block_on(step.rows.read_f32(&step.ctx)).unwrap();
        for i in 0..=k {
            let prow = &pl[i * vocab..(i + 1) * vocab];
            let got = &rows[i * ROW..(i + 1) * ROW];
            fails.check(got[spec::R_TARGET] as usize == argmax(prow), || format!("vocab {vocab} row {i}: target argmax {} instead of {}", got[spec::R_TARGET], argmax(prow)));
            if i == k {
                // The bonus row: p's statistics only.
                let p = softmax(prow);
                fails.check((got[5] as f64 - p[argmax(prow)]).abs() < 1e-5, || format!("vocab {vocab} bonus row: max p {} vs {}", got[5], p[argmax(prow)]));
                fails.check((got[6] as f64 - entropy(&p)).abs() < 1e-4, || format!("vocab {vocab} bonus row: entropy {} vs {}", got[6], entropy(&p)));
                continue;
            }
            let want = reference_features(prow, &ql[i * vocab..(i + 1) * vocab], proposals[i] as usize);
            for f in 0..11 {
                let tol = 1e-4 * (1.0 + want[f].abs());
                fails.check((got[f] as f64 - want[f]).abs() < tol, || format!("vocab {vocab} row {i} feature {f}: {} vs {}", got[f], want[f]));
            }
        }
    }
    fails.finish();
}

fn random_features(r: &mut impl Rng) -> Features {
    let mut f = [0f32; FEATURES];
    for (i, v) in f.iter_mut().enumerate() {
        *v = match i {
            0..=5 | 10 => r.random_range(0.0..1.0),
            11 => r.random_range(1..9) as f32,
            13 => r.random_range(0..20) as f32,
            _ => r.random_range(0.0..6.0),
        };
    }
    f
}

#[test]
fn arbiter_mlp_kernel_matches_cpu() {
    let ctx = gpu();
    let mut r = rng(9);
    let mut fails = Failures::new();
    for (hidden, count) in [(32, 131), (7, 5), (64, 64)] {
        let mlp = random_mlp(hidden, &mut r);
        let feats: Vec<Features> = (0..count).map(|_| random_features(&mut r)).collect();
        let flat: Vec<f32> = feats.iter().flatten().copied().collect();
        let fb = GpuBuffer::from_f32(&ctx, "features", &flat);
        let wb = GpuBuffer::from_f32(&ctx, "mlp", &mlp.gpu_words());
        let out = GpuBuffer::from_f32(&ctx, "out", &vec![POISON; count]);
        let d = spec::prepare_arbiter_eval(&ctx, &fb.buffer, &wb.buffer, &out.buffer, count, hidden).unwrap();
        submit(&ctx, &[&d], 1, 1).unwrap();
        let got = pollster::block_on(out.read_f32(&ctx)).unwrap();
        for (i, f) in feats.iter().enumerate() {
            let want = mlp.keep_probability(f);
            fails.check((got[i] - want).abs() < 1e-5, || format!("hidden {hidden} vector {i}: {} vs {want}", got[i]));
        }
    }
    fails.finish();
    // Round trip through safetensors, and refusal of a file made for other features.
    let mlp = random_mlp(16, &mut r);
    let bytes = mlp.to_safetensors(&Default::default()).unwrap();
    assert_eq!(Mlp::from_safetensors(&bytes).unwrap(), mlp);
    let mut other = bytes.clone();
    let at = other.windows(6).position(|w| w == b"q_draf").unwrap();
    other[at] = b'Q';
    assert!(Mlp::from_safetensors(&other).unwrap_err().to_string().contains("features"));
    assert!(Mlp::from_safetensors(&bytes[..bytes.len() - 9]).is_err());
}

/// Verify on a single-position block whose features the CPU recomputes: the policy's choice on
/// the GPU must equal `Policy::keeps` on the same features (ties excluded by construction).
#[test]
fn verify_kernel_decisions_match_cpu_policies() {
    let mut r = rng(13);
    let vocab = 203;
    let mlp = Arc::new(random_mlp(24, &mut r));
    let policies = [
        Policy::Target,
        Policy::Draft,
        Policy::Entropy { tau: 4.6 },
        Policy::Cosd { alpha: 0.05, beta: 0.3 },
        Policy::Chow { alpha: 0.8 },
        Policy::Diff { alpha: -0.3 },
        Policy::Opt { alpha: -0.5 },
        Policy::Learned { mlp: mlp.clone(), threshold: 0.5 },
    ];
    let mut decided = vec![[0usize; 2]; policies.len()];
    let mut fails = Failures::new();
    for trial in 0..40 {
        let spread = [1.0f32, 3.0, 8.0][trial % 3];
        let mut pl = random_logits(2 * vocab, spread, &mut r);
        let mut ql = random_logits(vocab, spread, &mut r);
        let t = argmax(&pl[..vocab]);
        let d = (t + 1 + r.random_range(0..vocab - 1)) % vocab;
        // A draft token the draft often believes in and the target often nearly ties.
        ql[d] += r.random_range(0.0..12.0);
        pl[d] = pl[t] - r.random_range(0.01..4.0);
        let step = Step::new(&pl, &ql, vocab, 1, Some(&mlp));
        for (pi, policy) in policies.iter().enumerate() {
            let params = SpecParams {
                k: 1,
                vocab: vocab as u32,
                policy: policy.id(),
                inv_temp: 1.0,
                generated: 7,
                max_tokens: 50,
                keeps: 3,
                hidden: 24,
                // A lock-step replay of a later block position reports that position.
                block_offset: (trial % 3) as u32,
                thresholds: policy.thresholds(),
                ..Default::default()
            };
            let out = step.run(&[d as u32], params);
            let case = || format!("trial {trial} policy {}", policy.name());
            fails.check(out[spec::O_MISMATCHES] == 1, || format!("{}: {} mismatches", case(), out[spec::O_MISMATCHES]));
            let mut f = [0f32; FEATURES];
            for (i, v) in f.iter_mut().enumerate() {
                *v = f32::from_bits(out[spec::O_FEATURES + i]);
            }
            let state = [1.0 + (trial % 3) as f32, 7.0 / 50.0, 3.0];
            fails.check(f[11..] == state, || format!("{}: state features {:?}, want {state:?}", case(), &f[11..]));
            let kept = out[spec::O_ORIGINS] == 1;
            fails.check(kept == policy.keeps(&f), || format!("{}: kept {kept} on features {f:?}", case()));
            let want_token = if kept { d } else { t };
            fails.check(out[spec::O_TOKENS] as usize == want_token, || format!("{}: token {} instead of {want_token}", case(), out[spec::O_TOKENS]));
            // Kept: the draft token and the bonus token after it.
            let want_count = if kept { 2 } else { 1 };
            fails.check(out[spec::O_COUNT] == want_count, || format!("{}: {} tokens instead of {want_count}", case(), out[spec::O_COUNT]));
            if kept {
                let bonus = argmax(&pl[vocab..]);
                fails.check(out[spec::O_TOKENS + 1] as usize == bonus, || format!("{}: bonus {} instead of {bonus}", case(), out[spec::O_TOKENS + 1]));
            }
            decided[pi][kept as usize] += 1;
        }
    }
    // Each heuristic both kept and took at least once over the trials, so the test saw both sides.
    for (pi, p) in policies.iter().enumerate().skip(2) {
        fails.check(decided[pi][0] > 0 && decided[pi][1] > 0, || format!("{}: took/kept {:?}: the trials did not reach both sides", p.name(), decided[pi]));
    }
    fails.finish();
}

/// The first committed token of a sampled step with k = 1, over many steps (random streams),
/// with the draft token drawn from q_T on the CPU.
fn first_token_counts(policy: &Policy, pl: &[f32], ql: &[f32], temp: f32, n: usize) -> Vec<usize> {
    let vocab = pl.len() / 2;
    let step = Step::new(pl, ql, vocab, 1, None);
    let q = softmax(&ql.iter().map(|x| x / temp).collect::<Vec<_>>());
    let mut r = rng(17);
    let mut counts = vec![0; vocab];
    for i in 0..n {
        let u: f64 = r.random();
        let mut acc = 0.0;
        let d = q.iter().position(|&x| {
            acc += x;
            acc > u
        });
        let d = d.unwrap_or(vocab - 1);
        let params = SpecParams {
            k: 1,
            vocab: vocab as u32,
            policy: policy.id(),
            sampling: true,
            inv_temp: 1.0 / temp,
            seed: 1234,
            step_index: i as u32,
            max_tokens: 100,
            thresholds: policy.thresholds(),
            ..Default::default()
        };
        let out = step.run(&[d as u32], params);
        counts[out[spec::O_TOKENS] as usize] += 1;
    }
    counts
}

fn chi_square(counts: &[usize], p: &[f64]) -> f64 {
    let n: usize = counts.iter().sum();
    counts.iter().zip(p).map(|(&c, &pi)| {
        let e = pi * n as f64;
        (c as f64 - e).powi(2) / e
    }).sum()
}

#[test]
fn rejection_sampling_is_lossless_in_distribution() {
    // 6 tokens: p and q disagree strongly, so rejections and residual draws are frequent.
    let p_row = [2.0f32, 0.5, -1.0, 1.5, 0.0, -0.5];
    let q_row = [-1.0f32, 2.0, 1.0, 0.0, 0.5, -2.0];
    let mut pl = p_row.to_vec();
    pl.extend([0.3f32, -0.2, 0.1, 0.0, 0.4, -0.1]);
    let n = 3000;
    for temp in [1.0f32, 0.7] {
        let scaled = |row: &[f32]| softmax(&row.iter().map(|x| x / temp).collect::<Vec<_>>());
        let counts = first_token_counts(&Policy::Target, &pl, &q_row, temp, n);
        let chi = chi_square(&counts, &scaled(&p_row));
        // 5 degrees of freedom: 20.5 is the 0.001 tail.
        assert!(chi < 20.5, "T={temp}: counts {counts:?} vs p {:?}: chi-square {chi}", scaled(&p_row));
        // Keeping every draft token gives q itself, which is far from p.
        let counts = first_token_counts(&Policy::Draft, &pl, &q_row, temp, n);
        assert!(chi_square(&counts, &scaled(&q_row)) < 20.5, "draft policy: {counts:?}");
        assert!(chi_square(&counts, &scaled(&p_row)) > 100.0, "the test can tell p from q");
    }
}
