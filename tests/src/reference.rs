//! A plain f32 CPU forward pass of llama/qwen2, written from the equations, as the reference
//! the GPU engine is checked against. No cache: every call recomputes all positions.

use cospec::formats::ModelFile;
use cospec::model::ModelConfig;

struct Layer {
    attn_norm: Vec<f32>,
    ffn_norm: Vec<f32>,
    wq: Vec<f32>,
    wk: Vec<f32>,
    wv: Vec<f32>,
    wo: Vec<f32>,
    wg: Vec<f32>,
    wu: Vec<f32>,
    wd: Vec<f32>,
    bias: Option<(Vec<f32>, Vec<f32>, Vec<f32>)>,
}

pub struct RefModel {
    pub cfg: ModelConfig,
    embd: Vec<f32>,
    layers: Vec<Layer>,
    out_norm: Vec<f32>,
    output: Option<Vec<f32>>,
}

fn matvec(w: &[f32], x: &[f32], rows: usize) -> Vec<f32> {
    let cols = x.len();
    (0..rows).map(|r| w[r * cols..(r + 1) * cols].iter().zip(x).map(|(a, b)| a * b).sum()).collect()
}

fn rmsnorm(x: &[f32], g: &[f32], eps: f32) -> Vec<f32> {
    let ms = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    let inv = 1.0 / (ms + eps).sqrt();
    x.iter().zip(g).map(|(v, g)| v * inv * g).collect()
}

fn rope(v: &mut [f32], heads: usize, hd: usize, pos: usize, theta: f64, halves: bool) {
    for h in 0..heads {
        let o = h * hd;
        for i in 0..hd / 2 {
            let a = pos as f64 * theta.powf(-2.0 * i as f64 / hd as f64);
            let (s, c) = (a.sin() as f32, a.cos() as f32);
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
        let layers = (0..cfg.n_layer)
            .map(|l| {
                let n = |s: &str| format!("blk.{l}.{s}");
                Layer {
                    attn_norm: t(&n("attn_norm.weight")),
                    ffn_norm: t(&n("ffn_norm.weight")),
                    wq: t(&n("attn_q.weight")),
                    wk: t(&n("attn_k.weight")),
                    wv: t(&n("attn_v.weight")),
                    wo: t(&n("attn_output.weight")),
                    wg: t(&n("ffn_gate.weight")),
                    wu: t(&n("ffn_up.weight")),
                    wd: t(&n("ffn_down.weight")),
                    bias: cfg.qkv_bias.then(|| (t(&n("attn_q.bias")), t(&n("attn_k.bias")), t(&n("attn_v.bias")))),
                }
            })
            .collect();
        RefModel {
            embd: t("token_embd.weight"),
            out_norm: t("output_norm.weight"),
            output: (!cfg.tied_output).then(|| t("output.weight")),
            layers,
            cfg,
        }
    }

    /// Logits of every position of `tokens`, [positions][vocab].
    pub fn forward(&self, tokens: &[u32]) -> Vec<Vec<f32>> {
        let c = &self.cfg;
        let (h, hd, qw, kvw) = (c.hidden, c.head_dim, c.q_width(), c.kv_width());
        let mut x: Vec<Vec<f32>> = tokens.iter().map(|&t| self.embd[t as usize * h..(t as usize + 1) * h].to_vec()).collect();
        for l in &self.layers {
            let mut qs = Vec::new();
            let mut ks = Vec::new();
            let mut vs = Vec::new();
            for (pos, xt) in x.iter().enumerate() {
                let xn = rmsnorm(xt, &l.attn_norm, c.rms_eps);
                let mut q = matvec(&l.wq, &xn, qw);
                let mut k = matvec(&l.wk, &xn, kvw);
                let mut v = matvec(&l.wv, &xn, kvw);
                if let Some((bq, bk, bv)) = &l.bias {
                    q.iter_mut().zip(bq).for_each(|(a, b)| *a += b);
                    k.iter_mut().zip(bk).for_each(|(a, b)| *a += b);
                    v.iter_mut().zip(bv).for_each(|(a, b)| *a += b);
                }
                rope(&mut q, c.n_head, hd, pos, c.rope_theta, c.rope_halves);
                rope(&mut k, c.n_kv, hd, pos, c.rope_theta, c.rope_halves);
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
                    let scores: Vec<f32> = (0..=pos)
                        .map(|j| q.iter().zip(&ks[j][kvh * hd..(kvh + 1) * hd]).map(|(a, b)| a * b).sum::<f32>() * scale)
                        .collect();
                    let mx = scores.iter().cloned().fold(f32::MIN, f32::max);
                    let e: Vec<f32> = scores.iter().map(|s| (s - mx).exp()).collect();
                    let sum: f32 = e.iter().sum();
                    for d in 0..hd {
                        att[head * hd + d] = (0..=pos).map(|j| e[j] * vs[j][kvh * hd + d]).sum::<f32>() / sum;
                    }
                }
                let o = matvec(&l.wo, &att, h);
                xt.iter_mut().zip(&o).for_each(|(a, b)| *a += b);
                let xn = rmsnorm(xt, &l.ffn_norm, c.rms_eps);
                let g = matvec(&l.wg, &xn, c.ffn);
                let u = matvec(&l.wu, &xn, c.ffn);
                let act: Vec<f32> = g.iter().zip(&u).map(|(g, u)| g / (1.0 + (-g).exp()) * u).collect();
                let d = matvec(&l.wd, &act, h);
                xt.iter_mut().zip(&d).for_each(|(a, b)| *a += b);
            }
        }
        let head = self.output.as_ref().unwrap_or(&self.embd);
        x.iter().map(|xt| matvec(head, &rmsnorm(xt, &self.out_norm, c.rms_eps), c.vocab)).collect()
    }
}
