//! `cospec bench-spd`: target-only against speculative decoding on the same prompts, side by
//! side in one run (modes interleaved per prompt, so machine noise hits them alike), with the
//! pass costs that explain the ratio: a draft pass, a target pass, a (k+1)-token verify block.

use crate::speculative::{open_pair, ArbiterArgs};
use anyhow::{bail, Context, Result};
use cospec::decode::{Mode, SpecOptions, SpecStats};
use cospec::gpu::GpuOptions;
use cospec::tokenizer::ChatMessage;
use std::path::Path;

#[derive(Default, Clone)]
struct Totals {
    mode: String,
    k: usize,
    tokens: usize,
    seconds: f64,
    target_passes: usize,
    mismatches: usize,
    keeps: usize,
}

impl Totals {
    fn add(&mut self, s: &SpecStats) {
        self.tokens += s.generated_tokens;
        self.seconds += s.decode_secs;
        self.target_passes += s.target_passes;
        self.mismatches += s.mismatches;
        self.keeps += s.keeps;
    }
    fn tok_per_s(&self) -> f64 {
        self.tokens as f64 / self.seconds.max(1e-9)
    }
}

/// Prompts: a JSON array of strings, or one prompt per line.
pub fn read_prompts(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(&text).with_context(|| format!("{} is not a JSON array of strings", path.display()));
    }
    Ok(text.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect())
}

#[allow(clippy::too_many_arguments)]
pub fn bench_spd(
    gpu_opts: &GpuOptions,
    draft: &Path,
    target: &Path,
    prompts: &Path,
    limit: usize,
    max_tokens: usize,
    ks: &[usize],
    mode: &str,
    arbiter: &ArbiterArgs,
    json: bool,
) -> Result<()> {
    let prompts: Vec<String> = read_prompts(prompts)?.into_iter().take(limit).collect();
    if prompts.is_empty() || ks.is_empty() {
        bail!("nothing to measure: give prompts and at least one k");
    }
    let spec_mode = Mode::from_name(mode).filter(|m| matches!(m, Mode::Spd | Mode::Cospec)).context("--mode must be spd or cospec")?;
    let policy = arbiter.policy(&arbiter.policy)?;
    let max_k = *ks.iter().max().unwrap();
    let ctx_len = 1024.max(max_tokens + 512);
    let (mut s, tok) = open_pair(gpu_opts, draft, target, ctx_len, max_k, 1)?;
    let adapter = s.target.ctx.adapter.to_string();
    let mut rows: Vec<Totals> = std::iter::once(Totals { mode: "target-only".into(), ..Default::default() })
        .chain(ks.iter().map(|&k| Totals { mode: spec_mode.name().into(), k, ..Default::default() }))
        .collect();
    for (i, p) in prompts.iter().enumerate() {
        let text = tok.apply_chat_template(&[ChatMessage::new("user", p)], true)?;
        let ids = tok.encode(&text)?;
        for row in rows.iter_mut() {
            let mode = if row.k == 0 { Mode::TargetOnly } else { spec_mode };
            let opts = SpecOptions { mode, k: row.k.max(1), policy: policy.clone(), max_tokens, stop_at_eos: false, ..Default::default() };
            let out = pollster::block_on(s.generate(&tok, &ids, &opts, &mut |_, _| {}))?;
            row.add(&out.stats);
            eprintln!("prompt {}/{}: {} k={} {:.2} tok/s, {:.2} tokens/pass", i + 1, prompts.len(), row.mode, row.k, out.stats.tok_per_s(), out.stats.tokens_per_target_pass());
        }
    }
    // Pass costs at a typical cache length.
    let at = 256;
    let draft_pass = pollster::block_on(s.draft.pass_seconds(1, at, 5))?;
    let target_pass = pollster::block_on(s.target.pass_seconds(1, at, 5))?;
    let verify: Vec<(usize, f64)> = ks.iter().map(|&k| Ok((k, pollster::block_on(s.target.pass_seconds(k + 1, at, 5))?))).collect::<Result<_>>()?;
    let base = rows[0].tok_per_s();
    if json {
        let modes: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({"mode": r.mode, "k": r.k, "tokens": r.tokens, "seconds": r.seconds, "tok_per_s": r.tok_per_s(),
                    "ratio_vs_target_only": r.tok_per_s() / base, "tokens_per_target_pass": r.tokens as f64 / r.target_passes.max(1) as f64,
                    "mismatches_per_100": 100.0 * r.mismatches as f64 / r.tokens.max(1) as f64, "keeps": r.keeps})
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"adapter": adapter, "prompts": prompts.len(), "max_tokens": max_tokens, "modes": modes,
                "pass_ms": {"draft_1": draft_pass * 1e3, "target_1": target_pass * 1e3,
                    "target_verify": verify.iter().map(|(k, t)| (format!("k{k}_block{}", k + 1), t * 1e3)).collect::<std::collections::BTreeMap<_, _>>()}})
        );
        return Ok(());
    }
    println!("adapter: {adapter}; {} prompts, {max_tokens} tokens each, greedy", prompts.len());
    println!("| mode | k | tokens | tok/s | vs target-only | tokens/target pass | mismatches/100 |");
    println!("|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.2} | {:.2}x | {:.2} | {:.1} |",
            r.mode,
            if r.k == 0 { "-".into() } else { r.k.to_string() },
            r.tokens,
            r.tok_per_s(),
            r.tok_per_s() / base,
            r.tokens as f64 / r.target_passes.max(1) as f64,
            100.0 * r.mismatches as f64 / r.tokens.max(1) as f64
        );
    }
    println!(
        "pass costs at cache length {at} (median of 5): draft 1 token {:.2} ms, target 1 token {:.2} ms (draft / target {:.2})",
        draft_pass * 1e3,
        target_pass * 1e3,
        draft_pass / target_pass
    );
    for (k, t) in &verify {
        println!(
            "  k = {k}: verify block of {} = {:.2} ms ({:.2}x a target pass); step floor = k drafts + verify = {:.2} ms",
            k + 1,
            t * 1e3,
            t / target_pass,
            (*k as f64 * draft_pass + t) * 1e3
        );
    }
    Ok(())
}
