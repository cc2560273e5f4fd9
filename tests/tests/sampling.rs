//! GPU sampling: temperature, top-k and top-p against the distribution they define (a
//! chi-square test at a fixed seed), and seed reproducibility.

use cospec::gpu::dispatch::submit;
use cospec::ops::sample::{prepare, SampleArgs, SamplingParams};
use cospec::gpu::GpuBuffer;
use cospec_tests::gpu;

/// Draws `n` tokens from `logits` with `s`, returning the counts per token.
fn draw(logits: &[f32], s: SamplingParams, n: usize) -> Vec<usize> {
    let ctx = gpu();
    let lb = GpuBuffer::from_f32(&ctx, "logits", logits);
    let scratch = GpuBuffer::zeros(&ctx, "scratch", logits.len());
    let out = GpuBuffer::zeros(&ctx, "out", 1);
    let rng = GpuBuffer::zeros(&ctx, "rng", 1);
    let d = prepare(
        &ctx,
        SampleArgs { logits: &lb.buffer, scratch: &scratch.buffer, out: &out.buffer, rng: &rng.buffer, vocab: logits.len(), row: 0, out_offset: 0 },
        s,
    )
    .unwrap();
    let mut counts = vec![0; logits.len()];
    for _ in 0..n {
        submit(&ctx, &[&d], 1, 1).unwrap();
        let t = pollster::block_on(out.read_u32(&ctx)).unwrap()[0] as usize;
        counts[t] += 1;
    }
    counts
}

/// The distribution `s` defines over `logits` (top-k, then top-p over the renormalized rest).
fn expected(logits: &[f32], s: SamplingParams) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..logits.len()).collect();
    idx.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    let k = if s.top_k == 0 { logits.len() } else { s.top_k as usize };
    let mx = logits[idx[0]] as f64;
    let e: Vec<f64> = logits.iter().map(|&l| ((l as f64 - mx) / s.temperature as f64).exp()).collect();
    let kept_k = &idx[..k];
    let total: f64 = kept_k.iter().map(|&i| e[i]).sum();
    let mut kept = Vec::new();
    let mut mass = 0.0;
    for &i in kept_k {
        kept.push(i);
        mass += e[i];
        if mass >= s.top_p as f64 * total - 1e-12 {
            break;
        }
    }
    let z: f64 = kept.iter().map(|&i| e[i]).sum();
    let mut p = vec![0.0; logits.len()];
    for i in kept {
        p[i] = e[i] / z;
    }
    p
}

fn chi_square(counts: &[usize], p: &[f64]) -> f64 {
    let n: usize = counts.iter().sum();
    counts
        .iter()
        .zip(p)
        .map(|(&c, &q)| {
            if q == 0.0 {
                assert_eq!(c, 0, "a token outside the kept set was drawn");
                0.0
            } else {
                let e = q * n as f64;
                (c as f64 - e).powi(2) / e
            }
        })
        .sum()
}

const LOGITS: [f32; 10] = [1.0, 2.5, 0.3, -1.0, 2.2, 0.0, 1.7, -0.5, 3.0, 0.9];

#[test]
fn temperature_sampling_follows_the_softmax() {
    let s = SamplingParams { temperature: 0.8, top_k: 0, top_p: 1.0, seed: 1234 };
    let counts = draw(&LOGITS, s, 1500);
    let x2 = chi_square(&counts, &expected(&LOGITS, s));
    // 9 degrees of freedom: p = 0.001 at 27.9.
    assert!(x2 < 27.9, "chi-square {x2:.1}, counts {counts:?}");
}

#[test]
fn top_k_and_top_p_keep_exactly_their_sets() {
    for s in [
        SamplingParams { temperature: 1.0, top_k: 3, top_p: 1.0, seed: 7 },
        SamplingParams { temperature: 1.3, top_k: 0, top_p: 0.6, seed: 8 },
        SamplingParams { temperature: 0.7, top_k: 5, top_p: 0.8, seed: 9 },
    ] {
        let p = expected(&LOGITS, s);
        let counts = draw(&LOGITS, s, 800);
        let df = p.iter().filter(|&&q| q > 0.0).count() - 1;
        let critical = [10.8, 13.8, 16.3, 18.5, 20.5, 22.5, 24.3, 26.1, 27.9][df.max(1) - 1];
        let x2 = chi_square(&counts, &p);
        assert!(x2 < critical, "{s:?}: chi-square {x2:.1} (df {df}), counts {counts:?}");
    }
}

#[test]
fn a_seed_reproduces_its_draws_and_another_seed_differs() {
    let s = SamplingParams { temperature: 1.0, top_k: 0, top_p: 1.0, seed: 42 };
    let seq = |s| {
        let ctx = gpu();
        let lb = GpuBuffer::from_f32(&ctx, "logits", &LOGITS);
        let scratch = GpuBuffer::zeros(&ctx, "scratch", LOGITS.len());
        let out = GpuBuffer::zeros(&ctx, "out", 1);
        let rng = GpuBuffer::zeros(&ctx, "rng", 1);
        let d = prepare(&ctx, SampleArgs { logits: &lb.buffer, scratch: &scratch.buffer, out: &out.buffer, rng: &rng.buffer, vocab: LOGITS.len(), row: 0, out_offset: 0 }, s).unwrap();
        (0..40)
            .map(|_| {
                submit(&ctx, &[&d], 1, 1).unwrap();
                pollster::block_on(out.read_u32(&ctx)).unwrap()[0]
            })
            .collect::<Vec<u32>>()
    };
    assert_eq!(seq(s), seq(s));
    assert_ne!(seq(s), seq(SamplingParams { seed: 43, ..s }));
}

#[test]
fn invalid_sampling_settings_are_refused() {
    let ctx = gpu();
    let b = GpuBuffer::zeros(&ctx, "b", 4);
    for s in [
        SamplingParams { temperature: 0.0, ..Default::default() },
        SamplingParams { temperature: 1.0, top_p: 0.0, ..Default::default() },
        SamplingParams { temperature: f32::NAN, ..Default::default() },
    ] {
        let args = SampleArgs { logits: &b.buffer, scratch: &b.buffer, out: &b.buffer, rng: &b.buffer, vocab: 4, row: 0, out_offset: 0 };
        assert!(prepare(&ctx, args, s).is_err(), "{s:?} accepted");
    }
}
