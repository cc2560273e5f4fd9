//! `cospec bench`: prompt-processing and decode tokens per second, median of repetitions.

use crate::commands::{gpu, load, open};
use anyhow::Result;
use cospec::decode::SamplingParams;
use cospec::gpu::GpuOptions;
use cospec::model::{LoadOptions, LogitsRows};
use std::path::Path;
use web_time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

pub fn bench(gpu_opts: &GpuOptions, path: &Path, prompt_tokens: usize, gen_tokens: usize, reps: usize, json: bool) -> Result<()> {
    let file = open(path)?;
    let ctx = gpu(gpu_opts)?;
    let adapter = ctx.adapter.to_string();
    let mut model = load(ctx, &file, &LoadOptions { ctx_len: (prompt_tokens + gen_tokens + 8).max(64), ..Default::default() })?;
    let vocab = model.config.vocab as u32;
    // A fixed, ordinary token sequence: the speed does not depend on the ids.
    let prompt: Vec<u32> = (0..prompt_tokens as u32).map(|i| (i * 7919 + 13) % vocab).collect();
    let greedy = SamplingParams::default();
    let (mut pp, mut tg) = (Vec::new(), Vec::new());
    for rep in 0..reps.max(1) + 1 {
        model.truncate(0);
        let t = Instant::now();
        pollster::block_on(model.forward(&prompt, LogitsRows::Last))?;
        let pp_s = t.elapsed().as_secs_f64();
        let mut next = pollster::block_on(model.forward_next(&[1], &greedy))?;
        let t = Instant::now();
        for _ in 0..gen_tokens {
            next = pollster::block_on(model.forward_next(&[next], &greedy))?;
        }
        let tg_s = t.elapsed().as_secs_f64();
        if rep > 0 {
            // The first repetition warms pipelines and caches.
            pp.push(prompt_tokens as f64 / pp_s);
            tg.push(gen_tokens as f64 / tg_s);
        }
    }
    let (pp, tg) = (median(pp), median(tg));
    let profile = pollster::block_on(model.profile(1, prompt_tokens, reps.max(1)))?;
    if json {
        println!(
            "{}",
            serde_json::json!({"model": path.display().to_string(), "adapter": adapter,
                "prompt_tokens": prompt_tokens, "gen_tokens": gen_tokens, "reps": reps,
                "prompt_tok_per_s": pp, "decode_tok_per_s": tg,
                "dispatches_per_pass": model.dispatches_per_block(),
                "decode_kernel_ms": profile.iter().map(|(l, s)| (l.to_string(), s * 1e3)).collect::<std::collections::BTreeMap<_, _>>()})
        );
    } else {
        println!("model:    {}", path.display());
        println!("adapter:  {adapter}");
        println!("prompt:   {prompt_tokens} tokens  {pp:8.2} tok/s");
        println!("decode:   {gen_tokens} tokens  {tg:8.2} tok/s   ({} launches per pass)", model.dispatches_per_block());
        println!("decode pass by kernel (each kernel's launches alone, median):");
        for (label, secs) in &profile {
            println!("  {label:<12} {:8.2} ms", secs * 1e3);
        }
    }
    Ok(())
}
