//! `cospec bench --depth N[,N...]`: how prompt processing and decoding hold up as the context
//! grows (llama-bench's `-p N` and `-n M -d N`): an N-token prompt from an empty cache, then
//! decoding after it, median of repetitions, and where a prompt chunk's and a decode pass's
//! time goes at the deepest depth.

use crate::commands::{gpu, load, open};
use anyhow::Result;
use cospec::decode::SamplingParams;
use cospec::gpu::GpuOptions;
use cospec::model::{LoadOptions, LogitsRows, Model};
use std::path::Path;
use web_time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// (prompt tok/s, decode tok/s) at one depth, median of `reps` (at least one) after a warm-up
/// repetition; `cospec bench` measures its prompt and decode the same way.
pub(crate) fn at_depth(model: &mut Model, depth: usize, gen_tokens: usize, reps: usize) -> Result<(f64, f64)> {
    let vocab = model.config.vocab as u32;
    // A fixed, ordinary token sequence: the speed does not depend on the ids.
    let prompt: Vec<u32> = (0..depth as u32).map(|i| (i * 7919 + 13) % vocab).collect();
    let greedy = SamplingParams::default();
    let (mut pp, mut tg) = (Vec::new(), Vec::new());
    for rep in 0..reps.max(1) + 1 {
        model.truncate(0);
        let t = Instant::now();
        // Logits of the last position: the read-back waits for the whole prompt.
        pollster::block_on(model.forward(&prompt, LogitsRows::Last))?;
        let pp_s = t.elapsed().as_secs_f64();
        let mut next = pollster::block_on(model.forward_next(&[1], &greedy))?;
        let t = Instant::now();
        for _ in 0..gen_tokens {
            next = pollster::block_on(model.forward_next(&[next], &greedy))?;
        }
        let tg_s = t.elapsed().as_secs_f64();
        // The first repetition (and the first depth's) also builds pipelines: not counted.
        if rep > 0 {
            pp.push(depth as f64 / pp_s);
            tg.push(gen_tokens as f64 / tg_s);
        }
    }
    Ok((median(pp), median(tg)))
}

pub fn bench_depth(gpu_opts: &GpuOptions, path: &Path, depths: &[usize], gen_tokens: usize, reps: usize, json: bool) -> Result<()> {
    if depths.contains(&0) {
        anyhow::bail!("--depth 0: a depth is a prompt of at least one token");
    }
    let deepest = depths.iter().copied().max().unwrap_or(1);
    let file = open(path)?;
    let ctx = gpu(gpu_opts)?;
    let adapter = ctx.adapter.to_string();
    let mut model = load(ctx, &file, &LoadOptions { ctx_len: deepest + gen_tokens + 2, ..Default::default() })?;
    let gen_tokens = gen_tokens.max(1);
    let mut rows = Vec::new();
    for &d in depths {
        let (pp, tg) = at_depth(&mut model, d, gen_tokens, reps)?;
        rows.push((d, pp, tg));
    }
    let chunk = model.max_block().min(deepest);
    let chunk_profile = pollster::block_on(model.profile(chunk, deepest - chunk, reps.max(1)))?;
    let decode_profile = pollster::block_on(model.profile(1, deepest, reps.max(1)))?;
    let kv = model.kv_type().name();
    if json {
        let ms = |p: &[(&str, f64)]| p.iter().map(|(l, s)| (l.to_string(), s * 1e3)).collect::<std::collections::BTreeMap<_, _>>();
        println!(
            "{}",
            serde_json::json!({"model": path.display().to_string(), "adapter": adapter,
                "prompt_chunk": model.max_block(), "kv_type": kv, "gen_tokens": gen_tokens, "reps": reps,
                "depths": rows.iter().map(|(d, pp, tg)| serde_json::json!({"depth": d, "prompt_tok_per_s": pp, "decode_tok_per_s": tg})).collect::<Vec<_>>(),
                "chunk_kernel_ms": {"tokens": chunk, "at": deepest - chunk, "ms": ms(&chunk_profile)},
                "decode_kernel_ms": {"at": deepest, "ms": ms(&decode_profile)}})
        );
        return Ok(());
    }
    println!("model:    {}", path.display());
    println!("adapter:  {adapter}");
    println!("prompt chunks of {} tokens, KV cache {kv}, {} KiB a token", model.max_block(), model.kv_bytes_per_token() >> 10);
    println!("{:>7} {:>14} {:>14}", "depth", "prompt tok/s", "decode tok/s");
    for (d, pp, tg) in &rows {
        println!("{d:>7} {pp:>14.2} {tg:>14.2}");
    }
    println!("prompt chunk of {chunk} tokens at {} by kernel (each kernel's launches alone, median):", deepest - chunk);
    for (label, secs) in &chunk_profile {
        println!("  {label:<12} {:8.2} ms", secs * 1e3);
    }
    println!("decode pass at {deepest} by kernel:");
    for (label, secs) in &decode_profile {
        println!("  {label:<12} {:8.2} ms", secs * 1e3);
    }
    Ok(())
}
