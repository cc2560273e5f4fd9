//! `cospec bench`: prompt-processing and decode tokens per second, median of repetitions.

use crate::commands::{gpu, load, open};
use anyhow::Result;
use cospec::gpu::GpuOptions;
use cospec::model::llm::SeqTokens;
use cospec::model::{LoadOptions, Model};
use std::path::Path;
use web_time::Instant;

/// Sequences side by side in `bench --sequences` (each adds a cache region and a block row).
const MAX_SEQUENCES: usize = 64;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Decode tok/s of `n` sequences side by side (each in its own cache region, one block of `n`
/// tokens per step), counting every sequence's tokens; median of `reps` after a warm-up.
fn decode_sequences(model: &mut Model, n: usize, region: usize, prompt_tokens: usize, gen_tokens: usize, reps: usize) -> Result<f64> {
    let vocab = model.config.vocab as u32;
    let prompts: Vec<Vec<u32>> = (0..n).map(|s| (0..prompt_tokens as u32).map(|i| (i * 7919 + 13 + s as u32 * 104729) % vocab).collect()).collect();
    let mut speeds = Vec::new();
    for rep in 0..reps.max(1) + 1 {
        let seqs: Vec<SeqTokens> = prompts.iter().enumerate().map(|(s, p)| SeqTokens { region: s * region, pos: 0, tokens: p }).collect();
        let mut next = pollster::block_on(model.forward_sequences(&seqs))?;
        let t = Instant::now();
        for step in 0..gen_tokens {
            let last: Vec<[u32; 1]> = next.iter().map(|&t| [t]).collect();
            let seqs: Vec<SeqTokens> = last.iter().enumerate().map(|(s, t)| SeqTokens { region: s * region, pos: prompt_tokens + step, tokens: t }).collect();
            next = pollster::block_on(model.forward_sequences(&seqs))?;
        }
        if rep > 0 {
            speeds.push((n * gen_tokens) as f64 / t.elapsed().as_secs_f64());
        }
    }
    Ok(median(speeds))
}

/// A per-kernel profile in milliseconds, by kernel label.
fn kernel_ms(profile: &[(&str, f64)]) -> std::collections::BTreeMap<String, f64> {
    profile.iter().map(|(l, s)| (l.to_string(), s * 1e3)).collect()
}

fn print_profile(title: &str, profile: &[(&str, f64)]) {
    println!("{title}");
    for (label, secs) in profile {
        println!("  {label:<12} {:8.2} ms", secs * 1e3);
    }
}

/// What `cospec bench` measures.
pub struct BenchSpec<'a> {
    pub prompt_tokens: usize,
    pub gen_tokens: usize,
    pub reps: usize,
    /// Sequences decoded side by side (besides one).
    pub sequences: &'a [usize],
    /// Block sizes whose whole pass is timed against a 1-token pass.
    pub blocks: &'a [usize],
}

/// Largest block `bench --blocks` times (the verify blocks of k <= 31).
const MAX_BLOCK: usize = 32;

pub fn bench(gpu_opts: &GpuOptions, path: &Path, spec: BenchSpec, json: bool) -> Result<()> {
    let BenchSpec { prompt_tokens, gen_tokens, reps, sequences, blocks } = spec;
    let file = open(path)?;
    let ctx = gpu(gpu_opts)?;
    let adapter = ctx.adapter.to_string();
    if let Some(n) = sequences.iter().find(|&&n| n == 0 || n > MAX_SEQUENCES) {
        anyhow::bail!("--sequences {n}: between 1 and {MAX_SEQUENCES} sequences side by side");
    }
    if let Some(n) = blocks.iter().find(|&&n| n == 0 || n > MAX_BLOCK) {
        anyhow::bail!("--blocks {n}: between 1 and {MAX_BLOCK} tokens a block");
    }
    let region = (prompt_tokens + gen_tokens + MAX_BLOCK + 8).max(64);
    let most = sequences.iter().copied().max().unwrap_or(1).max(1);
    let mut model = load(ctx, &file, &LoadOptions { ctx_len: region * most, max_block: most.max(MAX_BLOCK), ..Default::default() })?;
    let (pp, tg) = crate::bench_depth::at_depth(&mut model, prompt_tokens, gen_tokens, reps)?;
    // Whole passes of each block size after the prompt, and a 1-token pass to compare with.
    let mut block_ms = Vec::new();
    if !blocks.is_empty() {
        let one = pollster::block_on(model.pass_seconds(1, prompt_tokens, reps.max(3)))?;
        for &n in blocks {
            let s = if n == 1 { one } else { pollster::block_on(model.pass_seconds(n, prompt_tokens, reps.max(3)))? };
            block_ms.push((n, s * 1e3, s / one));
        }
    }
    // Weight bytes each pass reads at least once, per second of a decode pass.
    let weight_gb_per_s = model.gpu_weight_bytes() as f64 * tg / 1e9;
    let profile = pollster::block_on(model.profile(1, prompt_tokens, reps.max(1)))?;
    let mut side_by_side = Vec::new();
    for &n in sequences.iter().filter(|&&n| n > 1) {
        side_by_side.push((n, decode_sequences(&mut model, n, region, prompt_tokens, gen_tokens, reps)?));
    }
    // Where a wide block's time goes (lock step's block has one token per lane): matmul's
    // share there decides the cooperative shape's wide tile (--coop-wide, docs/perf.md).
    let block_profile = if most > 1 { Some(pollster::block_on(model.profile(most, prompt_tokens, reps.max(1)))?) } else { None };
    let ctx = &model.ctx;
    let matmul = format!("{:?}", ctx.shape_family());
    let shape: Vec<u32> = ctx.cooperative_shape().iter().map(|c| c.1).collect();
    // As --coop-wide spells it (TM,MIN,RPI), for scripts/gpu-study.sh to set again;
    // only the cooperative shape has a wide form.
    let wide = ctx.wide_tile().filter(|_| ctx.shape_family() == cospec::gpu::ShapeFamily::Cooperative).map(|w| w.env_value());
    let weights = format!("{:?}", ctx.weight_store()).to_lowercase();
    if json {
        println!(
            "{}",
            serde_json::json!({"model": path.display().to_string(), "adapter": adapter,
                "prompt_tokens": prompt_tokens, "gen_tokens": gen_tokens, "reps": reps,
                "prompt_tok_per_s": pp, "decode_tok_per_s": tg,
                "dispatches_per_pass": model.dispatches_per_block(),
                "weight_bytes": model.gpu_weight_bytes(), "decode_weight_gb_per_s": weight_gb_per_s,
                "block_pass": block_ms.iter().map(|(n, ms, x)| serde_json::json!({"tokens": n, "ms": ms, "vs_one_token": x})).collect::<Vec<_>>(),
                "matmul": matmul, "weights": weights, "cooperative_shape": shape, "wide_tile": wide,
                "block_kernel_ms": block_profile.as_ref().map(|p| serde_json::json!({"tokens": most, "ms": kernel_ms(p)})),
                "decode_tok_per_s_side_by_side": side_by_side.iter().map(|(n, v)| (n.to_string(), *v)).collect::<std::collections::BTreeMap<_, _>>(),
                "decode_kernel_ms": kernel_ms(&profile)})
        );
    } else {
        println!("model:    {}", path.display());
        println!("adapter:  {adapter}");
        println!("prompt:   {prompt_tokens} tokens  {pp:8.2} tok/s");
        println!("decode:   {gen_tokens} tokens  {tg:8.2} tok/s   ({} launches per pass)", model.dispatches_per_block());
        println!("weights:  {:.1} MB, read at {weight_gb_per_s:.1} GB/s while decoding", model.gpu_weight_bytes() as f64 / 1e6);
        for (n, ms, x) in &block_ms {
            println!("block of {n:>2} tokens: {ms:8.3} ms a pass ({x:.2}x a 1-token pass)");
        }
        for (n, v) in &side_by_side {
            println!("decode, {n} sequences side by side: {v:8.2} tok/s in all ({:.2}x one sequence)", v / tg);
        }
        println!("matmul:   {matmul}, weights in {weights}s, cooperative shape {shape:?}, wide tile {}", wide.as_deref().unwrap_or("off"));
        print_profile("decode pass by kernel (each kernel's launches alone, median):", &profile);
        if let Some(p) = &block_profile {
            print_profile(&format!("block of {most} tokens by kernel:"), p);
        }
    }
    Ok(())
}
