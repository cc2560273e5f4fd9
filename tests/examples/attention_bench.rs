//! Time of one block's attention over the KV cache on this adapter, alone, to see what a
//! kernel change does to prompt chunks and decode at depth:
//!   cargo run --release -p cospec-tests --example attention_bench -- [HEADS KV_HEADS HEAD_DIM]
//!       [--depth=N,N...] [--tokens=N,N...] [--kv=f32|f16] [--matmul=SHAPE] [--layers=N] [--reps=N]
//!       [--spread=X]
//! Defaults: SmolLM2-135M's heads (9 on 3 KV heads of 64), depths 512 and 2,048, blocks of 1
//! and 32 tokens, the adapter's cache store and type. Random queries and cache; a block of m
//! tokens sits at positions depth - m .. depth; the fastest of N launches (default 9) after a
//! warm-up (the least disturbed by other work), and the layers' worth of it (default 30) in ms.
//! `--spread=X` multiplies the queries by X: random unit-range queries and keys give scores
//! within about +-1, where a trained model's run far apart (weights of far-off keys underflow).
use cospec::gpu::dispatch::submit;
use cospec::gpu::kv_cache::{CacheStore, KvType};
use cospec::gpu::{GpuBuffer, ShapeFamily, Step};
use cospec::ops::attention;
use cospec_tests::blocks::{random_f32, rng};
use cospec_tests::{gpu, gpu_with};
use std::time::Instant;

fn list(all: &[String], flag: &str, default: &[usize]) -> Vec<usize> {
    match all.iter().find_map(|a| a.strip_prefix(flag)) {
        Some(l) => l.split(',').map(|b| b.parse().expect("a list of numbers")).collect(),
        None => default.to_vec(),
    }
}

fn main() {
    let all: Vec<String> = std::env::args().skip(1).collect();
    let shape = all.iter().find_map(|a| a.strip_prefix("--matmul=")).map(|n| ShapeFamily::from_name(n).expect("a product shape"));
    let args: Vec<usize> = all.iter().filter(|a| !a.starts_with("--")).map(|a| a.parse().expect("HEADS KV_HEADS HEAD_DIM")).collect();
    let (nh, nkv, hd) = match args[..] {
        [a, b, c] => (a, b, c),
        [] => (9, 3, 64),
        _ => panic!("HEADS KV_HEADS HEAD_DIM"),
    };
    let depths = list(&all, "--depth=", &[512, 2048]);
    let blocks = list(&all, "--tokens=", &[1, 32]);
    let layers = list(&all, "--layers=", &[30])[0];
    let reps = list(&all, "--reps=", &[9])[0].max(1);
    let spread: f32 = all.iter().find_map(|a| a.strip_prefix("--spread=")).map(|x| x.parse().expect("--spread=X, a number")).unwrap_or(1.0);
    let ctx = match shape {
        Some(v) => gpu_with(v),
        None => gpu(),
    };
    // The cache goes where the weights go, as the model puts it.
    let texture = ctx.weight_store() == cospec::gpu::weight::WeightStore::Texture;
    let kv_type = match all.iter().find_map(|a| a.strip_prefix("--kv=")) {
        Some("f16") => KvType::F16,
        Some("f32") => KvType::F32,
        Some(o) => panic!("--kv=f32|f16, not {o}"),
        None => KvType::for_store(texture),
    };
    println!("adapter: {} ({:?} shape); {nh} heads on {nkv} KV heads of {hd}; cache {kv_type:?}, texture {texture}", ctx.adapter.name, ctx.shape_family());
    println!("{:>7} {:>7} {:>12} {:>14}", "depth", "tokens", "ms a layer", format!("ms x {layers}"));
    let ctx_len = depths.iter().max().copied().unwrap_or(512);
    let mut r = rng(5);
    let kb = CacheStore::from_f32(&ctx, "k", &random_f32(nkv * ctx_len * hd, &mut r), kv_type, texture).unwrap();
    let vb = CacheStore::from_f32(&ctx, "v", &random_f32(nkv * ctx_len * hd, &mut r), kv_type, texture).unwrap();
    for &depth in &depths {
        for &m in &blocks {
            assert!(m <= depth, "a block of {m} tokens cannot end at depth {depth}");
            let q = GpuBuffer::from_f32(&ctx, "q", &random_f32(m * nh * hd, &mut r).iter().map(|x| x * spread).collect::<Vec<_>>());
            let scores = GpuBuffer::zeros(&ctx, "scores", attention::score_rows(&ctx, m) * nh * ctx_len);
            let out = GpuBuffer::zeros(&ctx, "out", m * nh * hd);
            let step = GpuBuffer::uniform(&ctx, "step", &Step::one_sequence(m, depth - m, 1).words());
            let slots = GpuBuffer::from_u32(&ctx, "slots", &[0, 0]);
            let a = attention::AttentionArgs { q: &q.buffer, k_cache: &kb, v_cache: &vb, scores: &scores.buffer, out: &out.buffer, n_head: nh, n_kv: nkv, head_dim: hd, ctx_len, max_tokens: m, window: 0 };
            let d = attention::prepare(&ctx, a, &step, &slots).unwrap();
            let run = || {
                submit(&ctx, &[&d], m as u32, 1).unwrap();
                ctx.wait_idle();
            };
            run();
            let best = (0..reps)
                .map(|_| {
                    let t = Instant::now();
                    run();
                    t.elapsed().as_secs_f64()
                })
                .fold(f64::MAX, f64::min);
            println!("{depth:>7} {m:>7} {:>12.3} {:>14.2}", best * 1e3, best * 1e3 * layers as f64);
        }
    }
}
