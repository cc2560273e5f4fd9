//! A plain f32 CPU forward pass of llama/qwen2/qwen3/gemma3, written from the equations, as the reference
//! the GPU engine is checked against. No cache: every call recomputes all positions.
//! `Arith::LlamaCpp` rounds as llama.cpp's CPU backend does instead (llamacpp_rounding.rs).

use crate::llamacpp_rounding::{f16_round, Matrix};
use cospec::formats::ModelFile;
use cospec::ops::gated_act::Gate;
use cospec::model::ModelConfig;

/// How the reference computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    /// Exact f32 from the dequantized weights.
    F32,
    /// llama.cpp's CPU rounding: 8-bit activations in quantized products, f16 attention.
    LlamaCpp,
}

struct Layer {
    attn_norm: Vec<f32>,
    ffn_norm: Vec<f32>,
    wq: Matrix,
    wk: Matrix,
    wv: Matrix,
    wo: Matrix,
    wg: Matrix,
    wu: Matrix,
    wd: Matrix,
    bias: Option<(Vec<f32>, Vec<f32>, Vec<f32>)>,
    /// Per-head q and k norm gains (qwen3, gemma3).
    qk_norm: Option<(Vec<f32>, Vec<f32>)>,
    /// Norms of the attention and FFN outputs before the residual (gemma3).
    post_norms: Option<(Vec<f32>, Vec<f32>)>,
}

pub struct RefModel {
    pub cfg: ModelConfig,
    embd: Matrix,
    layers: Vec<Layer>,
    out_norm: Vec<f32>,
    output: Option<Matrix>,
}

fn matvec(m: &Matrix, x: &[f32], rows: usize, arith: Arith) -> Vec<f32> {
    if arith == Arith::LlamaCpp {
        return m.matvec(x, rows);
    }
    let cols = x.len();
    (0..rows).map(|r| m.w[r * cols..(r + 1) * cols].iter().zip(x).map(|(a, b)| a * b).sum()).collect()
}

/// The FFN gate's activation (GELU: the tanh approximation, in double).
fn gate(kind: Gate, g: f32) -> f32 {
    match kind {
        Gate::Silu => g / (1.0 + (-g).exp()),
        Gate::GeluTanh => {
            let x = g as f64;
            (0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())) as f32
        }
    }
}

fn rmsnorm(x: &[f32], g: &[f32], eps: f32, arith: Arith) -> Vec<f32> {
    // ggml sums the squares in double.
    let ms = match arith {
        Arith::F32 => x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32,
        Arith::LlamaCpp => (x.iter().map(|&v| (v * v) as f64).sum::<f64>() / x.len() as f64) as f32,
    };
    let inv = 1.0 / (ms + eps).sqrt();
    x.iter().zip(g).map(|(v, g)| v * inv * g).collect()
}

/// `div[i]` divides pair i's angle (rope scaling; `ModelConfig::rope_freq_divisors`).
#[allow(clippy::too_many_arguments)]
fn rope(v: &mut [f32], heads: usize, hd: usize, pos: usize, theta: f64, div: &[f32], halves: bool, arith: Arith) {
    // ggml's angle table: f32, each pair's angle the previous one's times base^(-2/d).
    let step = (theta as f32).powf(-2.0 / hd as f32);
    for h in 0..heads {
        let o = h * hd;
        let mut a32 = pos as f32;
        for i in 0..hd / 2 {
            let (s, c) = match arith {
                Arith::F32 => {
                    let a = pos as f64 * theta.powf(-2.0 * i as f64 / hd as f64) / div[i] as f64;
                    (a.sin() as f32, a.cos() as f32)
                }
                // ggml divides the angle by the pair's factor before taking sin and cos.
                Arith::LlamaCpp => ((a32 / div[i]).sin(), (a32 / div[i]).cos()),
            };
            a32 *= step;
            let (i0, i1) = if halves { (i, i + hd / 2) } else { (2 * i, 2 * i + 1) };
            let (x, y) = (v[o + i0], v[o + i1]);
            v[o + i0] = x * c - y * s;
            v[o + i1] = x * s + y * c;
        }
    }
}

impl RefModel {
    pub fn new(f: &ModelFile) -> RefModel {
        let cfg = ModelConfig::from_file(f).expect("config");
        let t = |n: &str| f.tensor_f32(n).unwrap_or_else(|e| panic!("{n}: {e}"));
        let m = |n: &str| {
            let raw = f.tensor_bytes(n).unwrap_or_else(|e| panic!("{n}: {e}"));
            Matrix::new(t(n), f.require(n).expect("present").dtype, &raw)
        };
        let layers = (0..cfg.n_layer)
            .map(|l| {
                let n = |s: &str| format!("blk.{l}.{s}");
                Layer {
                    attn_norm: t(&n("attn_norm.weight")),
                    ffn_norm: t(&n("ffn_norm.weight")),
                    wq: m(&n("attn_q.weight")),
                    wk: m(&n("attn_k.weight")),
                    wv: m(&n("attn_v.weight")),
                    wo: m(&n("attn_output.weight")),
                    wg: m(&n("ffn_gate.weight")),
                    wu: m(&n("ffn_up.weight")),
                    wd: m(&n("ffn_down.weight")),
                    bias: cfg.qkv_bias.then(|| (t(&n("attn_q.bias")), t(&n("attn_k.bias")), t(&n("attn_v.bias")))),
                    qk_norm: cfg.qk_norm.then(|| (t(&n("attn_q_norm.weight")), t(&n("attn_k_norm.weight")))),
                    post_norms: cfg.post_norms.then(|| (t(&n("post_attention_norm.weight")), t(&n("post_ffw_norm.weight")))),
                }
            })
            .collect();
        RefModel {
            embd: m("token_embd.weight"),
            out_norm: t("output_norm.weight"),
            output: (!cfg.tied_output).then(|| m("output.weight")),
            layers,
            cfg,
        }
    }

    /// Logits of every position of `tokens`, [positions][vocab], in exact f32.
    pub fn forward(&self, tokens: &[u32]) -> Vec<Vec<f32>> {
        self.forward_with(tokens, Arith::F32)
    }

    /// Logits of every position of `tokens` with the given arithmetic.
    pub fn forward_with(&self, tokens: &[u32], arith: Arith) -> Vec<Vec<f32>> {
        self.forward_cached(tokens, arith, false)
    }

    /// `forward_with`, keys and values rounded to f16 as an f16 KV cache holds them when
    /// `f16_cache`.
    pub fn forward_cached(&self, tokens: &[u32], arith: Arith, f16_cache: bool) -> Vec<Vec<f32>> {
        let c = &self.cfg;
        let (h, hd, qw, kvw) = (c.hidden, c.head_dim, c.q_width(), c.kv_width());
        let ll = arith == Arith::LlamaCpp;
        let f16_if = |v: &mut Vec<f32>| {
            if ll {
                v.iter_mut().for_each(|a| *a = f16_round(*a));
            }
        };
        let mut x: Vec<Vec<f32>> =
            tokens.iter().map(|&t| self.embd.w[t as usize * h..(t as usize + 1) * h].iter().map(|v| v * c.embed_scale).collect()).collect();
        let ones = vec![1.0f32; hd / 2];
        for (li, l) in self.layers.iter().enumerate() {
            // Sliding-window layers: their own rope base, unscaled, and the last `window` keys.
            let local = c.swa_layers[li];
            let (theta, div) = if local { (c.rope_theta_swa, &ones) } else { (c.rope_theta, &c.rope_freq_divisors) };
            let first_key = |pos: usize| if local { (pos + 1).saturating_sub(c.sliding_window) } else { 0 };
            let mut qs = Vec::new();
            let mut ks = Vec::new();
            let mut vs = Vec::new();
            for (pos, xt) in x.iter().enumerate() {
                let xn = rmsnorm(xt, &l.attn_norm, c.rms_eps, arith);
                let mut q = matvec(&l.wq, &xn, qw, arith);
                let mut k = matvec(&l.wk, &xn, kvw, arith);
                let mut v = matvec(&l.wv, &xn, kvw, arith);
                if let Some((bq, bk, bv)) = &l.bias {
                    q.iter_mut().zip(bq).for_each(|(a, b)| *a += b);
                    k.iter_mut().zip(bk).for_each(|(a, b)| *a += b);
                    v.iter_mut().zip(bv).for_each(|(a, b)| *a += b);
                }
                if let Some((gq, gk)) = &l.qk_norm {
                    for (v, heads, g) in [(&mut q, c.n_head, gq), (&mut k, c.n_kv, gk)] {
                        for head in 0..heads {
                            let normed = rmsnorm(&v[head * hd..(head + 1) * hd], g, c.rms_eps, arith);
                            v[head * hd..(head + 1) * hd].copy_from_slice(&normed);
                        }
                    }
                }
                rope(&mut q, c.n_head, hd, pos, theta, div, c.rope_halves, arith);
                rope(&mut k, c.n_kv, hd, pos, theta, div, c.rope_halves, arith);
                // llama.cpp: the KV cache is f16 and Q meets it rounded to f16.
                f16_if(&mut q);
                f16_if(&mut k);
                f16_if(&mut v);
                if f16_cache {
                    k.iter_mut().chain(v.iter_mut()).for_each(|a| *a = f16_round(*a));
                }
                qs.push(q);
                ks.push(k);
                vs.push(v);
            }
            let group = c.n_head / c.n_kv;
            let scale = 1.0 / (hd as f32).sqrt();
            for (pos, xt) in x.iter_mut().enumerate() {
                let mut att = vec![0f32; qw];
                for head in 0..c.n_head {
                    let kvh = head / group;
                    let q = &qs[pos][head * hd..(head + 1) * hd];
                    let keys = first_key(pos)..=pos;
                    let scores: Vec<f32> = keys
                        .clone()
                        .map(|j| q.iter().zip(&ks[j][kvh * hd..(kvh + 1) * hd]).map(|(a, b)| a * b).sum::<f32>() * scale)
                        .collect();
                    let mx = scores.iter().cloned().fold(f32::MIN, f32::max);
                    let e: Vec<f32> = scores.iter().map(|s| (s - mx).exp()).collect();
                    if ll {
                        // ggml: the softmax normalised first (sum in double), its weights
                        // rounded to f16 for the product with the f16 V cache.
                        let inv = (1.0 / e.iter().map(|&v| v as f64).sum::<f64>()) as f32;
                        let p: Vec<f32> = e.iter().map(|v| f16_round(v * inv)).collect();
                        for d in 0..hd {
                            att[head * hd + d] = keys.clone().zip(&p).map(|(j, p)| p * vs[j][kvh * hd + d]).sum::<f32>();
                        }
                        continue;
                    }
                    let sum: f32 = e.iter().sum();
                    for d in 0..hd {
                        att[head * hd + d] = keys.clone().zip(&e).map(|(j, e)| e * vs[j][kvh * hd + d]).sum::<f32>() / sum;
                    }
                }
                let mut o = matvec(&l.wo, &att, h, arith);
                if let Some((pa, _)) = &l.post_norms {
                    o = rmsnorm(&o, pa, c.rms_eps, arith);
                }
                xt.iter_mut().zip(&o).for_each(|(a, b)| *a += b);
                let xn = rmsnorm(xt, &l.ffn_norm, c.rms_eps, arith);
                let g = matvec(&l.wg, &xn, c.ffn, arith);
                let u = matvec(&l.wu, &xn, c.ffn, arith);
                let act: Vec<f32> = g.iter().zip(&u).map(|(&g, u)| gate(c.gate, g) * u).collect();
                let mut d = matvec(&l.wd, &act, h, arith);
                if let Some((_, pf)) = &l.post_norms {
                    d = rmsnorm(&d, pf, c.rms_eps, arith);
                }
                xt.iter_mut().zip(&d).for_each(|(a, b)| *a += b);
            }
        }
        let head = self.output.as_ref().unwrap_or(&self.embd);
        x.iter().map(|xt| matvec(head, &rmsnorm(xt, &self.out_norm, c.rms_eps, arith), c.vocab, arith)).collect()
    }
}
