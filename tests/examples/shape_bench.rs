//! Pass costs and speculative-step throughput for models with the real Qwen2.5-Coder pair's
//! shapes and weight types but random weights, for machines the real files cannot reach (a
//! GPU machine without the files). Acceptance on random weights means nothing, so the step is measured with the
//! `draft` policy (every step commits k + 1 tokens); the output gives the tokens per pass a
//! pair needs to break even and to reach 1.5x, to set against the real pair's measured
//! tokens per pass (docs/perf.md):
//!   cargo run --release -p cospec-tests --example shape_bench -- [small]
use cospec::decode::arbiter::Policy;
use cospec::decode::{Mode, SpecOptions, SpecSession};
use cospec::formats::DType;
use cospec::model::{LoadOptions, Model};
use cospec::tokenizer::Tokenizer;
use cospec_tests::tiny::{tiny_model_file, TinySpec};
use std::time::Instant;

fn main() {
    let small = std::env::args().any(|a| a == "small");
    let s = |small_v: usize, real: usize| if small { small_v } else { real };
    let target = TinySpec {
        arch: "qwen2",
        layers: s(2, 28),
        hidden: 1536,
        ffn: 8960,
        heads: 12,
        kv_heads: 2,
        head_dim: None,
        vocab: s(4096, 151936),
        qkv_bias: true,
        qk_norm: false,
        tied: false,
        attn_type: DType::Q4K,
        v_type: DType::Q6K,
        ffn_type: DType::Q4K,
        embd_type: DType::Q4K,
        out_type: DType::Q6K,
        seed: 1,
        perturb_last_ffn: None,
        rope_freqs: None,
    };
    let draft = TinySpec {
        layers: s(2, 24),
        hidden: 896,
        ffn: 4864,
        heads: 14,
        kv_heads: 2,
        attn_type: DType::Q5_0,
        v_type: DType::Q5_0,
        ffn_type: DType::Q5_0,
        embd_type: DType::Q8_0,
        out_type: DType::Q8_0,
        seed: 2,
        ..target.clone()
    };
    let ctx = cospec_tests::gpu();
    println!("adapter: {} (matmul shape {:?})", ctx.adapter, ctx.shape_family());
    let t = Instant::now();
    let tf = tiny_model_file(&target);
    let df = tiny_model_file(&draft);
    let tok = Tokenizer::from_model_file(&tf).unwrap();
    let opts = LoadOptions { ctx_len: 1024, max_block: 32, ..Default::default() };
    let mut s = SpecSession::new(
        Model::load(ctx.clone(), &df, &opts, &mut |_, _| {}).unwrap(),
        Model::load(ctx.clone(), &tf, &opts, &mut |_, _| {}).unwrap(),
        8,
    )
    .unwrap();
    println!("built and uploaded in {:.1} s", t.elapsed().as_secs_f64());
    let at = 256;
    let reps = 20;
    let d1 = pollster::block_on(s.draft.pass_seconds(1, at, reps)).unwrap();
    let t1 = pollster::block_on(s.target.pass_seconds(1, at, reps)).unwrap();
    println!("pass at cache length {at}, median of {reps}: draft 1 token {:.3} ms, target 1 token {:.3} ms (draft/target {:.2})", d1 * 1e3, t1 * 1e3, d1 / t1);
    for m in [2, 3, 4, 5, 7, 8, 9, 16] {
        let tm = pollster::block_on(s.target.pass_seconds(m, at, reps)).unwrap();
        println!("  target block of {m:2}: {:.3} ms = {:.2}x a 1-token pass", tm * 1e3, tm / t1);
    }
    for m in [1, 5] {
        let prof = pollster::block_on(s.target.profile(m, at, reps)).unwrap();
        let total: f64 = prof.iter().map(|(_, t)| t).sum();
        let parts: Vec<String> = prof.iter().map(|(l, t)| format!("{l} {:.3}", t * 1e3)).collect();
        println!("target block of {m} by kernel (ms, each kernel's launches alone; sum {:.3}): {}", total * 1e3, parts.join(", "));
    }
    println!("target launches per pass: {}", s.target.dispatches_per_block());
    if std::env::args().any(|a| a == "quick") {
        return;
    }
    let prompt: Vec<u32> = (0..200u32).map(|i| (i * 7919 + 13) % 4000).collect();
    let gen = 128;
    let run = |s: &mut SpecSession, mode, k, policy: Policy| {
        let o = SpecOptions { mode, k, policy, max_tokens: gen, stop_at_eos: false, ..Default::default() };
        pollster::block_on(s.generate(&tok, &prompt, &o, &mut |_, _| {})).unwrap().stats
    };
    run(&mut s, Mode::TargetOnly, 1, Policy::Target);
    let base = run(&mut s, Mode::TargetOnly, 1, Policy::Target);
    let draft_only = run(&mut s, Mode::DraftOnly, 1, Policy::Target);
    println!("target-only {:.1} tok/s; draft-only {:.1} tok/s ({gen} tokens after a 200-token prompt)", base.tok_per_s(), draft_only.tok_per_s());
    let token_secs = 1.0 / base.tok_per_s();
    println!("| k | step ms (k drafts + verify, 1 submission, 1 read-back) | step floor ms from passes | tokens/pass to break even | tokens/pass for 1.5x |");
    println!("|---|---|---|---|---|");
    for k in [2usize, 4, 6] {
        let st = run(&mut s, Mode::Cospec, k, Policy::Draft);
        let step = st.decode_secs / st.steps as f64;
        let floor = k as f64 * d1 + pollster::block_on(s.target.pass_seconds(k + 1, at, reps)).unwrap();
        println!("| {k} | {:.3} | {:.3} | {:.2} | {:.2} |", step * 1e3, floor * 1e3, step / token_secs, 1.5 * step / token_secs);
    }
}
