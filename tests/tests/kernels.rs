//! Every kernel against a plain CPU reference on fresh random inputs at awkward sizes, with
//! outputs poisoned beforehand (the table-of-cases style of llama.cpp's test-backend-ops).

use cospec::formats::{dequant::dequantize, DType};
use cospec::gpu::dispatch::{submit, Dispatch};
use cospec::ops::matmul::{Input, MatmulArgs, Tokens, WideTile};
use cospec::ops::rope_store::{rotation_table, RopeArgs, RopeMode};
use cospec::ops::{add, argmax, attention, embedding, gated_act, matmul, rmsnorm, rope_store};
use cospec::gpu::kv_cache::{texel_rects, CacheStore, KvType, TexelRect};
use cospec::gpu::weight::WeightStore;
use cospec::gpu::{GpuBuffer, GpuContext, GpuOptions, GpuWeight, ShapeFamily, Step};
use std::sync::Arc;
use cospec_tests::blocks::{random_f32, random_tensor, rng};
use cospec_tests::failures::Failures;
use cospec_tests::{gpu, gpu_with, gpu_for, gpu_with_store, rel_err, shape_families, product_paths, POISON};
use rand::Rng;

fn step(ctx: &GpuContext, m: usize, pos0: usize, m_logits: usize) -> GpuBuffer {
    GpuBuffer::uniform(ctx, "step", &Step::one_sequence(m, pos0, m_logits).words())
}

fn run(ctx: &GpuContext, ds: &[Dispatch], m: usize, m_logits: usize) {
    let list: Vec<&Dispatch> = ds.iter().collect();
    submit(ctx, &list, m as u32, m_logits as u32).unwrap();
}

fn read(ctx: &GpuContext, b: &GpuBuffer) -> Vec<f32> {
    pollster::block_on(b.read_f32(ctx)).unwrap()
}

/// A device per kernel family: GPU shapes (workgroup reductions), CPU shapes (serial) and CPU
/// shapes with subgroups where the adapter has them.
fn shapes() -> Vec<std::sync::Arc<GpuContext>> {
    shape_families().into_iter().map(gpu_with).collect()
}

fn poisoned(ctx: &GpuContext, n: usize) -> GpuBuffer {
    GpuBuffer::from_f32(ctx, "out", &vec![POISON; n])
}

/// The KV-cache stores a context can use: buffers, and textures where it reads them.
/// Every (texture?, element type) a KV cache can take on this device.
fn cache_stores(ctx: &GpuContext) -> Vec<(bool, KvType)> {
    let mut v = vec![(false, KvType::F32), (false, KvType::F16)];
    if ctx.profile.texture_weights {
        v.push((true, KvType::F32));
    }
    if ctx.profile.texture_f16_kv {
        v.push((true, KvType::F16));
    }
    v
}

/// `x` as a cache of `kv_type` holds it.
fn as_cached(x: &[f32], kv_type: KvType) -> Vec<f32> {
    match kv_type {
        KvType::F32 => x.to_vec(),
        KvType::F16 => x.iter().map(|v| half::f16::from_f32(*v).to_f32()).collect(),
    }
}

fn read_cache(ctx: &GpuContext, c: &CacheStore) -> Vec<f32> {
    pollster::block_on(c.read_f32(ctx)).unwrap()
}

/// Columns that fit each type's group, not multiples of anything convenient beyond that.
fn cols_for(dt: DType) -> Vec<usize> {
    if dt.block_elems() == 256 {
        vec![256, 768]
    } else {
        vec![32, 96, 160]
    }
}

#[allow(clippy::too_many_arguments)]
fn check_matmul(f: &mut Failures, ctx: &GpuContext, dt: DType, rows: usize, cols: usize, m: usize, accumulate: bool, seed: u64, max_part: Option<u64>) {
    let mut r = rng(seed);
    let wb = random_tensor(dt, rows * cols, 1.0, &mut r);
    let wf = dequantize(dt, &wb, rows * cols).unwrap();
    let x = random_f32(m * cols, &mut r);
    // Outputs land at column 2 of rows of rows + 5: the columns around them must stay untouched.
    let y_stride = rows + 5;
    let y0: Vec<f32> = if accumulate { random_f32(m * y_stride, &mut r) } else { vec![POISON; m * y_stride] };
    let w = match max_part {
        Some(b) => GpuWeight::upload_split(ctx, "w", dt, rows, cols, &wb, b).unwrap(),
        None => GpuWeight::upload(ctx, "w", dt, rows, cols, &wb).unwrap(),
    };
    if max_part.is_some() {
        assert!(w.parts.len() > 1, "the weight should be split");
    }
    let xb = GpuBuffer::from_f32(ctx, "x", &x);
    let yb = GpuBuffer::from_f32(ctx, "y", &y0);
    let st = step(ctx, m, 0, m);
    let ds = matmul::prepare(
        ctx,
        MatmulArgs { weight: &w, x: &xb.buffer, y: &yb.buffer, y_stride, y_col: 2, accumulate, tokens: Tokens::All, max_tokens: m, input: Input::Plain },
        &st,
    )
    .unwrap();
    run(ctx, &ds, m, m);
    let got = read(ctx, &yb);
    for t in 0..m {
        let want: Vec<f32> = (0..rows)
            .map(|row| {
                let d: f32 = (0..cols).map(|k| wf[row * cols + k] * x[t * cols + k]).sum();
                if accumulate { d + y0[t * y_stride + 2 + row] } else { d }
            })
            .collect();
        let g = &got[t * y_stride + 2..t * y_stride + 2 + rows];
        let e = rel_err(g, &want);
        let case = || format!("{:?}/{:?} staged={} {dt:?} {rows}x{cols} m={m} acc={accumulate}: token {t}", ctx.shape_family(), ctx.weight_store(), ctx.stages_activations());
        f.check(e < 1e-4, || format!("{}: rel err {e}", case()));
        // Columns past the rows stay untouched.
        let outside = (0..2).chain(rows + 2..y_stride).filter(|&c| got[t * y_stride + c].is_nan() != y0[t * y_stride + c].is_nan()).count();
        f.check(outside == 0, || format!("{}: wrote {outside} values outside its columns", case()));
    }
}

#[test]
fn matmul_matches_cpu_for_every_type_shape_and_variant() {
    let mut f = Failures::new();
    for path in product_paths() {
        let ctx = gpu_for(path);
        for (i, dt) in DType::ALL.into_iter().enumerate() {
            for &cols in &cols_for(dt) {
                for (rows, m) in [(37, 1), (130, 3), (5, 6)] {
                    f.case(format!("{path:?} {dt:?} {rows}x{cols} m={m}"), |f| check_matmul(f, &ctx, dt, rows, cols, m, false, 1000 + i as u64 * 7 + rows as u64, None));
                }
            }
            f.case(format!("{path:?} {dt:?} accumulate"), |f| check_matmul(f, &ctx, dt, 67, cols_for(dt)[0], 5, true, 77 + i as u64, None));
        }
    }
    f.finish();
}

#[test]
fn matmul_over_split_weights_matches_cpu() {
    let mut f = Failures::new();
    for path in product_paths() {
        let ctx = gpu_for(path);
        for dt in [DType::Q4_0, DType::Q5_0, DType::Q6K, DType::F16] {
            let cols = cols_for(dt)[0];
            let row_bytes = (dt.gpu_row_words(cols) * 4) as u64;
            // 17 rows a part (an odd block count: Q5_0's last scale load is the part's last word).
            f.case(format!("{path:?} {dt:?} split"), |f| check_matmul(f, &ctx, dt, 101, cols, 2, false, 5, Some(row_bytes * 17 + 12)));
        }
    }
    f.finish();
}

#[test]
fn matmul_block_rows_equal_single_token_rows_bitwise() {
    // Batch invariance: a token's outputs do not depend on how many tokens share the pass.
    let mut f = Failures::new();
    for path in product_paths() {
        let (ctx, variant) = (gpu_for(path), path.variant);
        // Row shapes fuse input stages, each with per-token state in a tile.
        let stages = if variant == ShapeFamily::Cooperative { vec!["plain"] } else { vec!["plain", "rmsnorm", "silu"] };
        // Every type: each has its own `qdot`, which row shapes run one token or four at a time.
        for dt in DType::ALL {
            for &stage in &stages {
                f.case(format!("{path:?} {dt:?} {stage}"), |f| {
                let (rows, cols) = (45, cols_for(dt)[1.min(cols_for(dt).len() - 1)]);
                let mut r = rng(9);
                let wb = random_tensor(dt, rows * cols, 1.0, &mut r);
                let w = GpuWeight::upload(&ctx, "w", dt, rows, cols, &wb).unwrap();
                let gain = GpuBuffer::from_f32(&ctx, "gain", &random_f32(cols, &mut r));
                let (input, x_stride) = match stage {
                    "rmsnorm" => (Input::RmsNorm { gain: &gain, eps: 1e-5 }, cols),
                    "silu" => (Input::SiluGate, 2 * cols),
                    _ => (Input::Plain, cols),
                };
                let max_m = 9;
                let x = random_f32(max_m * x_stride, &mut r);
                let xb = GpuBuffer::from_f32(&ctx, "x", &x);
                let singles: Vec<Vec<f32>> = (0..max_m)
                    .map(|t| {
                        let x1 = GpuBuffer::from_f32(&ctx, "x1", &x[t * x_stride..(t + 1) * x_stride]);
                        let y1 = poisoned(&ctx, rows);
                        let st1 = step(&ctx, 1, 0, 1);
                        let a1 = MatmulArgs { weight: &w, x: &x1.buffer, y: &y1.buffer, y_stride: rows, y_col: 0, accumulate: false, tokens: Tokens::All, max_tokens: 1, input };
                        run(&ctx, &matmul::prepare(&ctx, a1, &st1).unwrap(), 1, 1);
                        read(&ctx, &y1)
                    })
                    .collect();
                // 7: a full tile and a partial one; 9: two full tiles and a lone token.
                for m in [7, 9] {
                    let yb = poisoned(&ctx, m * rows);
                    let st = step(&ctx, m, 0, m);
                    let args = MatmulArgs { weight: &w, x: &xb.buffer, y: &yb.buffer, y_stride: rows, y_col: 0, accumulate: false, tokens: Tokens::All, max_tokens: m, input };
                    run(&ctx, &matmul::prepare(&ctx, args, &st).unwrap(), m, m);
                    let block = read(&ctx, &yb);
                    for (t, single) in singles.iter().take(m).enumerate() {
                        let differ: Vec<usize> = (0..rows).filter(|&row| single[row].to_bits() != block[t * rows + row].to_bits()).collect();
                        f.check(differ.is_empty(), || format!("{path:?} {dt:?} {stage}, block of {m}: token {t}: rows {differ:?} differ from the token alone"));
                    }
                }
                });
            }
        }
    }
    f.finish();
}

#[test]
fn cooperative_wide_tile_matches_cpu_and_single_tokens_bitwise() {
    // The wide tile runs long launches (lock step's blocks) with more tokens per register
    // tile: a token's bits must not change with it, and the values must still be right. A
    // device's tile is fixed when it opens, so each tile has its own device.
    let _ = gpu(); // sets XDG_RUNTIME_DIR where it is missing
    let open = |wide_tile| {
        let opts = GpuOptions { matmul: Some(ShapeFamily::Cooperative), wide_tile, ..Default::default() };
        pollster::block_on(GpuContext::new(&opts)).expect("a wgpu adapter")
    };
    let narrow = open(None);
    // TM 8 and 16; 2 rows an invocation (45 rows: the last invocation's second row is past
    // the end).
    let wide: Vec<(WideTile, Arc<GpuContext>)> = [(8, 1), (16, 1), (8, 2)]
        .into_iter()
        .map(|(tm, rows_per_invocation)| {
            let t = WideTile { tm, min_tokens: 6, rows_per_invocation };
            (t, open(Some(t)))
        })
        .collect();
    let mut f = Failures::new();
    for (i, dt) in DType::ALL.into_iter().enumerate() {
        f.case(format!("{dt:?}"), |f| {
        let (rows, cols) = (45, *cols_for(dt).last().unwrap());
        let mut r = rng(4200 + i as u64);
        let wb = random_tensor(dt, rows * cols, 1.0, &mut r);
        let wf = dequantize(dt, &wb, rows * cols).unwrap();
        let max_m = 37;
        let x = random_f32(max_m * cols, &mut r);
        // The product of the block x[..m] on `ctx`.
        let product = |ctx: &Arc<GpuContext>, m: usize, x: &[f32]| {
            let w = GpuWeight::upload(ctx, "w", dt, rows, cols, &wb).unwrap();
            let xb = GpuBuffer::from_f32(ctx, "x", &x[..m * cols]);
            let yb = poisoned(ctx, m * rows);
            let st = step(ctx, m, 0, m);
            let a = MatmulArgs { weight: &w, x: &xb.buffer, y: &yb.buffer, y_stride: rows, y_col: 0, accumulate: false, tokens: Tokens::All, max_tokens: m, input: Input::Plain };
            run(ctx, &matmul::prepare(ctx, a, &st).unwrap(), m, m);
            read(ctx, &yb)
        };
        let singles: Vec<Vec<f32>> = (0..max_m).map(|t| product(&narrow, 1, &x[t * cols..(t + 1) * cols])).collect();
        for (tile, ctx) in &wide {
            let (tm, rows_per_invocation) = (tile.tm, tile.rows_per_invocation);
            // 5: under the threshold; 6: one partial wide tile; 37: full tiles and a remainder.
            for m in [5, 6, 37] {
                let block = product(ctx, m, &x);
                for t in 0..m {
                    let got = &block[t * rows..(t + 1) * rows];
                    let case = || format!("{dt:?} TM {tm} x {rows_per_invocation} rows, block of {m}: token {t}");
                    let differ: Vec<usize> = (0..rows).filter(|&row| singles[t][row].to_bits() != got[row].to_bits()).collect();
                    f.check(differ.is_empty(), || format!("{}: rows {differ:?} differ from the token alone", case()));
                    let want: Vec<f32> = (0..rows).map(|o| (0..cols).map(|k| wf[o * cols + k] * x[t * cols + k]).sum()).collect();
                    let e = rel_err(got, &want);
                    f.check(e < 1e-4, || format!("{}: rel err {e}", case()));
                }
            }
        }
        });
    }
    f.finish();
}

#[test]
fn matmul_logits_rows_uses_only_trailing_tokens() {
    let ctx = gpu();
    let (rows, cols, m, m_logits) = (33, 64, 5, 2);
    let mut r = rng(4);
    let wb = random_tensor(DType::Q8_0, rows * cols, 1.0, &mut r);
    let wf = dequantize(DType::Q8_0, &wb, rows * cols).unwrap();
    let w = GpuWeight::upload(&ctx, "w", DType::Q8_0, rows, cols, &wb).unwrap();
    let x = random_f32(m * cols, &mut r);
    let xb = GpuBuffer::from_f32(&ctx, "x", &x);
    let yb = poisoned(&ctx, m * rows);
    let st = step(&ctx, m, 0, m_logits);
    let a = MatmulArgs { weight: &w, x: &xb.buffer, y: &yb.buffer, y_stride: rows, y_col: 0, accumulate: false, tokens: Tokens::LogitsRows, max_tokens: m, input: Input::Plain };
    run(&ctx, &matmul::prepare(&ctx, a, &st).unwrap(), m, m_logits);
    let got = read(&ctx, &yb);
    let mut f = Failures::new();
    for t in 0..m_logits {
        let want: Vec<f32> = (0..rows).map(|row| (0..cols).map(|k| wf[row * cols + k] * x[t * cols + k]).sum()).collect();
        let e = rel_err(&got[t * rows..(t + 1) * rows], &want);
        f.check(e < 1e-4, || format!("logits token {t}: rel err {e}"));
    }
    f.check(got[m_logits * rows..].iter().all(|v| v.is_nan()), || "rows past m_logits were written".into());
    f.finish();
}

#[test]
fn gpu_dequantization_matches_cpu_for_every_type() {
    // The embedding kernel dequantizes whole rows: compare with the CPU dequantizer, with the
    // table in each weight store.
    let mut f = Failures::new();
    for (ctx, (i, dt)) in [WeightStore::Buffer, WeightStore::Texture]
        .into_iter()
        .flat_map(|store| DType::ALL.into_iter().enumerate().map(move |d| (gpu_with_store(ShapeFamily::Cooperative, store), d)))
    {
        f.case(format!("{dt:?} {:?}", ctx.weight_store()), |f| {
        let cols = cols_for(dt)[0];
        let rows = 29;
        let mut r = rng(300 + i as u64);
        let wb = random_tensor(dt, rows * cols, 1.0, &mut r);
        let wf = dequantize(dt, &wb, rows * cols).unwrap();
        let row_bytes = (dt.gpu_row_words(cols) * 4) as u64;
        let w = GpuWeight::upload_split(&ctx, "e", dt, rows, cols, &wb, row_bytes * 8).unwrap();
        let toks: Vec<u32> = vec![0, 28, 7, 13, 8, 16, 3];
        let tb = GpuBuffer::from_u32(&ctx, "tokens", &toks);
        let xb = poisoned(&ctx, toks.len() * cols);
        let st = step(&ctx, toks.len(), 0, 1);
        // Every other type with gemma's scaling of the rows.
        let scale = if i % 2 == 1 { 25.298_221 } else { 1.0 };
        run(&ctx, &embedding::prepare(&ctx, &w, &tb.buffer, &xb.buffer, scale, toks.len(), &st).unwrap(), toks.len(), 1);
        let got = read(&ctx, &xb);
        for (t, &tok) in toks.iter().enumerate() {
            let want: Vec<f32> = wf[tok as usize * cols..(tok as usize + 1) * cols].iter().map(|v| v * scale).collect();
            let g = &got[t * cols..(t + 1) * cols];
            let e = rel_err(g, &want);
            f.check(e < 1e-6, || format!("{dt:?} in a {:?}: row {tok} differs from the CPU dequantizer (rel err {e})", ctx.weight_store()));
        }
        });
    }
    f.finish();
}

#[test]
fn rmsnorm_matches_cpu_in_every_shape() {
    let mut f = Failures::new();
    for (ctx, (n, m)) in shapes().into_iter().flat_map(|c| [(13usize, 1usize), (576, 3), (1000, 2)].map(|s| (c.clone(), s))) {
        f.case(format!("{:?} n={n} m={m}", ctx.shape_family()), |f| {
        let mut r = rng(n as u64);
        let x = random_f32(n * m, &mut r);
        let g = random_f32(n, &mut r);
        let xb = GpuBuffer::from_f32(&ctx, "x", &x);
        let gb = GpuBuffer::from_f32(&ctx, "g", &g);
        let yb = poisoned(&ctx, n * m);
        let st = step(&ctx, m, 0, 1);
        let d = rmsnorm::prepare(&ctx, &xb.buffer, &gb, &yb.buffer, n, 1e-5, false, m, &st).unwrap();
        run(&ctx, &[d], m, 1);
        let got = read(&ctx, &yb);
        // And added onto a residual (gemma's post-norms).
        let resid = random_f32(n * m, &mut r);
        let rb = GpuBuffer::from_f32(&ctx, "residual", &resid);
        run(&ctx, &[rmsnorm::prepare_add(&ctx, &xb.buffer, &gb, &rb.buffer, n, 1e-5, m, &st).unwrap()], m, 1);
        let added = read(&ctx, &rb);
        for t in 0..m {
            let row = &x[t * n..(t + 1) * n];
            let inv = 1.0 / (row.iter().map(|v| v * v).sum::<f32>() / n as f32 + 1e-5).sqrt();
            let want: Vec<f32> = row.iter().zip(&g).map(|(v, g)| v * inv * g).collect();
            let e = rel_err(&got[t * n..(t + 1) * n], &want);
            f.check(e < 1e-5, || format!("{:?} n={n} token {t}: rel err {e}", ctx.shape_family()));
            let want_added: Vec<f32> = want.iter().zip(&resid[t * n..(t + 1) * n]).map(|(a, b)| a + b).collect();
            let e = rel_err(&added[t * n..(t + 1) * n], &want_added);
            f.check(e < 1e-5, || format!("{:?} n={n} token {t}: added onto the residual, rel err {e}", ctx.shape_family()));
        }
        });
    }
    f.finish();
}

/// The step of a block whose tokens each carry (region, position): a slotted block when
/// `slotted`, else one sequence at slots[0].1, slots[0].1 + 1, ... (regions must be 0 then).
fn step_for(ctx: &GpuContext, slots: &[(usize, usize)], slotted: bool) -> (GpuBuffer, GpuBuffer) {
    let m = slots.len();
    let table: Vec<u32> = slots.iter().flat_map(|&(r, p)| [r as u32, p as u32]).collect();
    let step = if slotted { Step::slotted(m, 1) } else { Step::one_sequence(m, slots[0].1, 1) };
    let st = GpuBuffer::uniform(ctx, "step", &step.words());
    (st, GpuBuffer::from_u32(ctx, "slots", &table))
}

/// One sequence at 17, 18, 19; or three sequences' tokens in their own regions, out of order.
fn rope_cases() -> [(Vec<(usize, usize)>, bool); 2] {
    [(vec![(0, 17), (0, 18), (0, 19)], false), (vec![(20, 3), (0, 17), (27, 0), (20, 4)], true)]
}

#[test]
fn rope_store_matches_cpu_in_both_layouts_with_bias_and_slots() {
    let ctx = gpu();
    let stores = cache_stores(&ctx);
    for kv_type in [KvType::F32, KvType::F16] {
        if !stores.contains(&(true, kv_type)) {
            eprintln!("note: this adapter keeps {kv_type:?} KV caches in buffers only; the texture cache is not tested");
        }
    }
    let mut f = Failures::new();
    // (mode, QKV bias, per-head q/k norm): GGUF llama, qwen2, qwen3, and both at once.
    let kinds = [(RopeMode::Adjacent, false, false), (RopeMode::Halves, true, false), (RopeMode::Halves, false, true), (RopeMode::Adjacent, true, true)];
    for (((mode, bias, qk_norm), (slots, slotted)), (texture, kv_type)) in
        kinds.into_iter().flat_map(|a| rope_cases().map(|c| (a, c))).flat_map(|c| stores.iter().map(move |&t| (c.clone(), t)))
    {
        f.case(format!("{mode:?} bias={bias} qk_norm={qk_norm} slots {slots:?} texture {texture} kv {kv_type:?}"), |f| {
        let (nh, nkv, hd, ctx_len) = (6usize, 2usize, 12usize, 40usize);
        let m = slots.len();
        let mut r = rng(11 + m as u64);
        let q = random_f32(m * nh * hd, &mut r);
        let k = random_f32(m * nkv * hd, &mut r);
        let v = random_f32(m * nkv * hd, &mut r);
        let b = random_f32((nh + 2 * nkv) * hd, &mut r);
        let (q_gain, k_gain) = (random_f32(hd, &mut r), random_f32(hd, &mut r));
        let eps = 1e-6f32;
        // The kernel's per-head vector: biases (when present), then the q and k norm gains.
        let mut per_head = if bias { b.clone() } else { Vec::new() };
        if qk_norm {
            per_head.extend(&q_gain);
            per_head.extend(&k_gain);
        }
        let norm_ref = |vals: &mut [f32], g: &[f32]| {
            if qk_norm {
                let inv = 1.0 / (vals.iter().map(|v| v * v).sum::<f32>() / hd as f32 + eps).sqrt();
                vals.iter_mut().zip(g).for_each(|(v, g)| *v = *v * inv * g);
            }
        };
        let mut qkv = Vec::new();
        for t in 0..m {
            qkv.extend_from_slice(&q[t * nh * hd..(t + 1) * nh * hd]);
            qkv.extend_from_slice(&k[t * nkv * hd..(t + 1) * nkv * hd]);
            qkv.extend_from_slice(&v[t * nkv * hd..(t + 1) * nkv * hd]);
        }
        let qkvb = GpuBuffer::from_f32(&ctx, "qkv", &qkv);
        let qb = poisoned(&ctx, m * nh * hd);
        let bb = GpuBuffer::from_f32(&ctx, "b", &per_head);
        let kc = CacheStore::from_f32(&ctx, "kc", &vec![POISON; nkv * ctx_len * hd], kv_type, texture).unwrap();
        let vc = CacheStore::from_f32(&ctx, "vc", &vec![POISON; nkv * ctx_len * hd], kv_type, texture).unwrap();
        let rot = GpuBuffer::from_f32(&ctx, "rot", &rotation_table(ctx_len, hd, 10000.0, &[]));
        let zero = GpuBuffer::zeros(&ctx, "zero", 4);
        let (st, sl) = step_for(&ctx, &slots, slotted);
        let d = rope_store::prepare(
            &ctx,
            RopeArgs { qkv: &qkvb.buffer, q: &qb.buffer, bias: (bias || qk_norm).then_some(&bb), has_bias: bias, qk_norm: qk_norm.then_some(eps), k_cache: &kc, v_cache: &vc, rot_table: &rot, n_head: nh, n_kv: nkv, head_dim: hd, ctx_len, mode, zero: &zero },
            &st,
            &sl,
        )
        .unwrap();
        run(&ctx, &[d], m, 1);
        let (gq, gk, gv) = (read(&ctx, &qb), read_cache(&ctx, &kc), read_cache(&ctx, &vc));
        let rot_ref = |vals: &mut [f32], pos: usize| {
            for i in 0..hd / 2 {
                let a = pos as f64 * 10000f64.powf(-2.0 * i as f64 / hd as f64);
                let (s, c) = (a.sin() as f32, a.cos() as f32);
                let (i0, i1) = if mode == RopeMode::Halves { (i, i + hd / 2) } else { (2 * i, 2 * i + 1) };
                let (x, y) = (vals[i0], vals[i1]);
                vals[i0] = x * c - y * s;
                vals[i1] = x * s + y * c;
            }
        };
        let mut written = vec![false; nkv * ctx_len];
        for (t, &(region, pos)) in slots.iter().enumerate() {
            for h in 0..nh {
                let mut want: Vec<f32> = (0..hd).map(|i| q[(t * nh + h) * hd + i] + if bias { b[h * hd + i] } else { 0.0 }).collect();
                norm_ref(&mut want, &q_gain);
                rot_ref(&mut want, pos);
                let e = rel_err(&gq[(t * nh + h) * hd..(t * nh + h + 1) * hd], &want);
                f.check(e < 1e-5, || format!("{mode:?} bias={bias} qk_norm={qk_norm} slots {slots:?} texture {texture} kv {kv_type:?}: q token {t} head {h} rel err {e}"));
            }
            for h in 0..nkv {
                let kbias = |i: usize| if bias { b[nh * hd + h * hd + i] } else { 0.0 };
                let vbias = |i: usize| if bias { b[(nh + nkv) * hd + h * hd + i] } else { 0.0 };
                let mut want: Vec<f32> = (0..hd).map(|i| k[(t * nkv + h) * hd + i] + kbias(i)).collect();
                norm_ref(&mut want, &k_gain);
                rot_ref(&mut want, pos);
                let row = h * ctx_len + region + pos;
                written[row] = true;
                let c = row * hd;
                let case = || format!("{mode:?} bias={bias} qk_norm={qk_norm} slots {slots:?} texture {texture} kv {kv_type:?}: token {t} kv head {h}");
                let wv: Vec<f32> = (0..hd).map(|i| v[(t * nkv + h) * hd + i] + vbias(i)).collect();
                let (ek, ev) = (rel_err(&gk[c..c + hd], &want), rel_err(&gv[c..c + hd], &wv));
                // f16: rounded once (within an f16 step of the value, and a value f16 holds).
                let (tk, tv) = if kv_type == KvType::F16 { (1e-3, 1e-3) } else { (1e-5, 1e-6) };
                f.check(ek < tk, || format!("{}: k rel err {ek}", case()));
                f.check(ev < tv, || format!("{}: v rel err {ev}", case()));
                let stored = gk[c..c + hd].iter().chain(&gv[c..c + hd]).all(|x| as_cached(&[*x], kv_type)[0].to_bits() == x.to_bits());
                f.check(stored, || format!("{}: values the cache type cannot hold", case()));
            }
        }
        // Cache rows outside the block's slots are untouched.
        let stray: Vec<usize> = (0..written.len()).filter(|&row| !written[row] && !gk[row * hd..(row + 1) * hd].iter().chain(&gv[row * hd..(row + 1) * hd]).all(|v| v.is_nan())).collect();
        f.check(stray.is_empty(), || format!("{mode:?} slots {slots:?} texture {texture} kv {kv_type:?}: cache rows {stray:?} written outside the block's slots"));
        });
    }
    f.finish();
}

#[test]
fn attention_matches_cpu_for_decode_causal_and_slotted_blocks_in_every_shape() {
    // (heads, kv heads, head dim, per-token (region, position), slotted, sliding window)
    let cases: [(usize, usize, usize, Vec<(usize, usize)>, bool, usize); 15] = [
        (4, 2, 16, vec![(0, 0)], false, 0),
        // A head wider than a subgroup's vec4s and not a multiple of them.
        (2, 1, 40, (60..62).map(|p| (0, p)).collect(), false, 0),
        (6, 3, 8, (5..9).map(|p| (0, p)).collect(), false, 0),
        (4, 1, 12, (70..73).map(|p| (0, p)).collect(), false, 0),
        // Four sequences' tokens: regions at 0, 40, 13, 61, a fresh one and a long one.
        (6, 2, 8, vec![(0, 5), (40, 0), (13, 30), (61, 34), (40, 1)], true, 0),
        // Prompt chunks (wide blocks, attention_tiled.wgsl on CPU adapters): query heads per
        // KV head 7, 3 and 1, contexts that are no multiple of anything, a chunk from an empty
        // cache and one ending one position before the cache does.
        (7, 1, 20, (0..14).map(|p| (0, p)).collect(), false, 0),
        (3, 1, 16, (60..95).map(|p| (0, p)).collect(), false, 0),
        (4, 4, 8, (30..50).map(|p| (0, p)).collect(), false, 0),
        // A wide slotted block: runs of tokens of four sequences, one of them split in two.
        (6, 2, 12, vec![(0, 5), (0, 6), (0, 7), (40, 0), (40, 1), (13, 30), (13, 31), (55, 34), (55, 35), (0, 8)], true, 0),
        // Sliding windows: tokens before and past the window, a window of one (only itself), a
        // wide chunk and a slotted block whose regions do not start at row 0.
        (6, 3, 8, (3..9).map(|p| (0, p)).collect(), false, 5),
        (2, 1, 40, vec![(0, 61)], false, 1),
        (4, 2, 16, (20..34).map(|p| (0, p)).collect(), false, 7),
        (6, 2, 8, vec![(0, 5), (40, 0), (13, 30), (61, 34), (13, 31)], true, 4),
        // Gemma 3 270M's heads (4 of 256 on one KV head), past 330 keys, as a chunk and a decode.
        (4, 1, 256, (320..352).map(|p| (0, p)).collect(), false, 0),
        (4, 1, 256, vec![(0, 340)], false, 0),
    ];
    let runs = shapes().into_iter().flat_map(|c| cases.clone().map(|s| (c.clone(), s)));
    let mut f = Failures::new();
    for ((ctx, (nh, nkv, hd, slots, slotted, window)), (texture, kv_type)) in runs.flat_map(|r| cache_stores(&r.0).into_iter().map(move |t| (r.clone(), t))) {
        f.case(format!("{:?} nh={nh} nkv={nkv} hd={hd} slots={slots:?} window {window} texture {texture} kv {kv_type:?}", ctx.shape_family()), |f| {
        let ctx_len = slots.iter().map(|s| s.0 + s.1 + 1).max().unwrap().max(96);
        let m = slots.len();
        let mut r = rng((nh * 100 + slots[0].1 + m) as u64);
        let q = random_f32(m * nh * hd, &mut r);
        let kc = random_f32(nkv * ctx_len * hd, &mut r);
        let vc = random_f32(nkv * ctx_len * hd, &mut r);
        let qb = GpuBuffer::from_f32(&ctx, "q", &q);
        let kb = CacheStore::from_f32(&ctx, "kc", &kc, kv_type, texture).unwrap();
        let vb = CacheStore::from_f32(&ctx, "vc", &vc, kv_type, texture).unwrap();
        // The reference reads what the cache holds.
        let (kc, vc) = (as_cached(&kc, kv_type), as_cached(&vc, kv_type));
        let scores = GpuBuffer::zeros(&ctx, "scores", m * nh * ctx_len);
        let out = poisoned(&ctx, m * nh * hd);
        let (st, sl) = step_for(&ctx, &slots, slotted);
        let d = attention::prepare(
            &ctx,
            attention::AttentionArgs { q: &qb.buffer, k_cache: &kb, v_cache: &vb, scores: &scores.buffer, out: &out.buffer, n_head: nh, n_kv: nkv, head_dim: hd, ctx_len, max_tokens: m, window },
            &st,
            &sl,
        )
        .unwrap();
        run(&ctx, &[d], m, 1);
        let got = read(&ctx, &out);
        let scale = 1.0 / (hd as f32).sqrt();
        for (t, &(region, pos)) in slots.iter().enumerate() {
            for h in 0..nh {
                let kvh = h / (nh / nkv);
                let qv = &q[(t * nh + h) * hd..(t * nh + h + 1) * hd];
                let row = |j: usize| (kvh * ctx_len + region + j) * hd;
                let first = if window > 0 { (pos + 1).saturating_sub(window) } else { 0 };
                let s: Vec<f32> = (first..=pos).map(|j| qv.iter().zip(&kc[row(j)..]).map(|(a, b)| a * b).sum::<f32>() * scale).collect();
                let mx = s.iter().cloned().fold(f32::MIN, f32::max);
                let e: Vec<f32> = s.iter().map(|v| (v - mx).exp()).collect();
                let sum: f32 = e.iter().sum();
                let want: Vec<f32> = (0..hd).map(|d| (first..=pos).map(|j| e[j - first] * vc[row(j) + d]).sum::<f32>() / sum).collect();
                let g = &got[(t * nh + h) * hd..(t * nh + h + 1) * hd];
                let e = rel_err(g, &want);
                f.check(e < 1e-5, || format!("{:?} nh={nh} hd={hd} slots={slots:?} window {window} t={t} h={h} texture {texture} kv {kv_type:?}: rel err {e} first bad {:?}", ctx.shape_family(), g.iter().zip(&want).position(|(a, b)| !((a - b).abs() < 1e-4)).map(|i| (i, g[i], want[i]))));
            }
        }
        });
    }
    f.finish();
}

/// A token's attention output does not depend on the block it comes in: the same positions as
/// one block of 21 (a prompt chunk), as blocks of 12 and 9, and one at a time (decode passes)
/// agree bit for bit; with and without a sliding window, and as a slotted block of two
/// sequences' tokens (a lock step's wide block) against each token's slotted decode.
#[test]
fn wide_block_attention_does_not_depend_on_the_chunking() {
    let (nh, nkv, hd, ctx_len) = (6, 2, 12, 128);
    // Per block token (region, position): one sequence at 23..44; or two, whose runs meet
    // inside a workgroup's tile (tokens 0..10 at 23.. in region 0, 10..21 at 13.. in region 64).
    let one: Vec<(usize, usize)> = (23..44).map(|p| (0, p)).collect();
    let two: Vec<(usize, usize)> = (0..21).map(|i| if i < 10 { (0, 23 + i) } else { (64, 3 + i) }).collect();
    let mut f = Failures::new();
    for (ctx, (texture, kv_type)) in shapes().into_iter().flat_map(|c| cache_stores(&c).into_iter().map(move |t| (c.clone(), t))) {
        for (slots, slotted, window) in [(&one, false, 0), (&one, false, 5), (&two, true, 0), (&two, true, 7)] {
        f.case(format!("{:?} texture {texture} kv {kv_type:?} slotted {slotted} window {window}", ctx.shape_family()), |f| {
            let mut r = rng(77);
            let q = random_f32(slots.len() * nh * hd, &mut r);
            let kc = random_f32(nkv * ctx_len * hd, &mut r);
            let vc = random_f32(nkv * ctx_len * hd, &mut r);
            let kb = CacheStore::from_f32(&ctx, "kc", &kc, kv_type, texture).unwrap();
            let vb = CacheStore::from_f32(&ctx, "vc", &vc, kv_type, texture).unwrap();
            let outputs = |parts: &[std::ops::Range<usize>]| -> Vec<f32> {
                let mut all = Vec::new();
                for part in parts {
                    let m = part.len();
                    let qb = GpuBuffer::from_f32(&ctx, "q", &q[part.start * nh * hd..part.end * nh * hd]);
                    let scores = GpuBuffer::zeros(&ctx, "scores", m * nh * ctx_len);
                    let out = poisoned(&ctx, m * nh * hd);
                    let (st, sl) = step_for(&ctx, &slots[part.clone()], slotted);
                    let args = attention::AttentionArgs { q: &qb.buffer, k_cache: &kb, v_cache: &vb, scores: &scores.buffer, out: &out.buffer, n_head: nh, n_kv: nkv, head_dim: hd, ctx_len, max_tokens: m, window };
                    let d = attention::prepare(&ctx, args, &st, &sl).unwrap();
                    run(&ctx, &[d], m, 1);
                    all.extend(read(&ctx, &out));
                }
                all
            };
            let whole = outputs(&[0..21]);
            let singles: Vec<std::ops::Range<usize>> = (0..21).map(|i| i..i + 1).collect();
            for (name, parts) in [("blocks of 12 and 9", vec![0..12, 12..21]), ("one token at a time", singles), ("blocks of 5, 8 and 8", vec![0..5, 5..13, 13..21])] {
                let other = outputs(&parts);
                let differ = whole.iter().zip(&other).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
                f.check(differ == 0, || format!("{} of {} values differ between one block of 21 and {name}", differ, whole.len()));
            }
        });
        }
    }
    f.finish();
}

#[test]
fn texel_rects_cover_a_run_exactly_once() {
    let w = 8u32;
    for (start, len) in [(0u64, 0u64), (0, 8), (3, 2), (3, 5), (3, 6), (5, 30), (16, 24), (7, 1), (0, 17)] {
        let rects = texel_rects(start, len, w);
        let mut seen = Vec::new();
        for TexelRect { x, y, width, height, run_offset } in &rects {
            assert!(x + width <= w && (*height == 1 || (*x == 0 && *width == w)), "{rects:?}");
            for r in 0..*height as u64 {
                for c in 0..*width as u64 {
                    let texel = (*y as u64 + r) * w as u64 + *x as u64 + c;
                    // Rectangles are laid out in the run row by row, as a copy packs them.
                    assert_eq!(texel - start, run_offset + r * *width as u64 + c);
                    seen.push(texel);
                }
            }
        }
        assert_eq!(seen, (start..start + len).collect::<Vec<_>>(), "start {start} len {len}");
        assert!(rects.len() <= 3);
    }
}

#[test]
fn gated_activations_and_add_match_cpu() {
    let ctx = gpu();
    let (n, m) = (77usize, 3usize);
    let mut r = rng(21);
    // Some gates far out, where tanh's saturation and exp's overflow are reached.
    let mut g = random_f32(n * m, &mut r);
    for x in g.iter_mut().step_by(7) {
        *x *= 40.0;
    }
    let u = random_f32(n * m, &mut r);
    let mut gu = Vec::new();
    for t in 0..m {
        gu.extend_from_slice(&g[t * n..(t + 1) * n]);
        gu.extend_from_slice(&u[t * n..(t + 1) * n]);
    }
    let gub = GpuBuffer::from_f32(&ctx, "gate_up", &gu);
    let st = step(&ctx, m, 0, 1);
    let mut f = Failures::new();
    let gelu = |a: f64| 0.5 * a * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (a + 0.044715 * a * a * a)).tanh());
    for gate in [gated_act::Gate::Silu, gated_act::Gate::GeluTanh] {
        let act = poisoned(&ctx, n * m);
        run(&ctx, &[gated_act::prepare(&ctx, gate, &gub.buffer, &act.buffer, n, &st).unwrap()], m, 1);
        let want: Vec<f32> = g
            .iter()
            .zip(&u)
            .map(|(&a, &b)| match gate {
                gated_act::Gate::Silu => a / (1.0 + (-a).exp()) * b,
                gated_act::Gate::GeluTanh => (gelu(a as f64) * b as f64) as f32,
            })
            .collect();
        let got = read(&ctx, &act);
        let e = rel_err(&got, &want);
        f.check(e < 1e-5 && got.iter().all(|x| x.is_finite()), || format!("{gate:?}: rel err {e}"));
    }
    let ub = GpuBuffer::from_f32(&ctx, "u", &u);
    let yb = GpuBuffer::from_f32(&ctx, "y", &g);
    run(&ctx, &[add::prepare(&ctx, &yb.buffer, &ub.buffer, n, &st).unwrap()], m, 1);
    let want: Vec<f32> = g.iter().zip(&u).map(|(a, b)| a + b).collect();
    let e = rel_err(&read(&ctx, &yb), &want);
    f.check(e < 1e-6, || format!("add: rel err {e}"));
    f.finish();
}

#[test]
fn argmax_picks_the_lowest_index_of_the_maximum() {
    let ctx = gpu();
    let mut f = Failures::new();
    for (vocab, rows) in [(1usize, 1usize), (300, 2), (49157, 3)] {
        let mut r = rng(vocab as u64);
        let mut logits = random_f32(vocab * rows, &mut r);
        if vocab > 10 {
            // A tie: the lower index must win; a NaN must never win.
            logits[vocab + 7] = 5.0;
            logits[vocab + 200] = 5.0;
            logits[3] = f32::NAN;
        }
        let lb = GpuBuffer::from_f32(&ctx, "logits", &logits);
        let out = GpuBuffer::from_u32(&ctx, "out", &vec![u32::MAX; rows + 2]);
        let st = step(&ctx, rows, 0, rows);
        run(&ctx, &[argmax::prepare(&ctx, &lb.buffer, &out.buffer, vocab, 1, &st).unwrap()], rows, rows);
        let got = pollster::block_on(out.read_u32(&ctx)).unwrap();
        f.check(got[0] == u32::MAX, || format!("vocab {vocab}: wrote before the offset"));
        for row in 0..rows {
            let l = &logits[row * vocab..(row + 1) * vocab];
            let mut best = 0usize;
            for (i, v) in l.iter().enumerate() {
                if *v > l[best] || l[best].is_nan() && !v.is_nan() {
                    best = i;
                }
            }
            f.check(got[1 + row] as usize == best, || format!("vocab {vocab} row {row}: {} instead of {best}", got[1 + row]));
        }
    }
    f.finish();
}

#[test]
fn weight_with_columns_off_the_block_grid_is_refused() {
    let ctx = gpu();
    let mut r = rng(1);
    let cols = 40;
    let wb = random_tensor(DType::F32, 3 * cols, 1.0, &mut r);
    let err = GpuWeight::upload(&ctx, "w", DType::F32, 3, cols, &wb).err().expect("refused");
    assert!(err.to_string().contains("not a multiple"), "{err}");
    let _ = r.random::<u8>();
}

#[test]
fn fused_rmsnorm_and_silu_inputs_match_cpu_in_row_shapes() {
    // Row shapes with weights in buffers fuse the stage into the product; with textures a
    // stage kernel (64 invocations a token) applies it first: 768 columns give its invocations
    // three vec4s each.
    let mut f = Failures::new();
    for path in product_paths() {
        let (ctx, variant) = (gpu_for(path), path.variant);
        for (i, dt) in [DType::Q4_1, DType::Q4K, DType::Q6K, DType::F16].into_iter().enumerate() {
            f.case(format!("{path:?} {dt:?}"), |f| {
            let (rows, cols, m) = (21usize, *cols_for(dt).last().unwrap(), 3usize);
            let mut r = rng(500 + i as u64);
            let wb = random_tensor(dt, rows * cols, 1.0, &mut r);
            let wf = dequantize(dt, &wb, rows * cols).unwrap();
            let w = GpuWeight::upload(&ctx, "w", dt, rows, cols, &wb).unwrap();
            let x = random_f32(m * 2 * cols, &mut r);
            let gain = random_f32(cols, &mut r);
            let xb = GpuBuffer::from_f32(&ctx, "x", &x);
            let gb = GpuBuffer::from_f32(&ctx, "gain", &gain);
            let st = step(&ctx, m, 0, m);
            for fused in ["rmsnorm", "silu"] {
                let (input, x_stride) = match fused {
                    "rmsnorm" => (Input::RmsNorm { gain: &gb, eps: 1e-5 }, cols),
                    _ => (Input::SiluGate, 2 * cols),
                };
                let yb = poisoned(&ctx, m * rows);
                let a = MatmulArgs { weight: &w, x: &xb.buffer, y: &yb.buffer, y_stride: rows, y_col: 0, accumulate: false, tokens: Tokens::All, max_tokens: m, input };
                let prepared = matmul::prepare(&ctx, a, &st);
                if variant == ShapeFamily::Cooperative {
                    f.check(prepared.is_err(), || format!("{path:?}: the workgroup shape must refuse fused inputs"));
                    continue;
                }
                run(&ctx, &prepared.unwrap(), m, m);
                let got = read(&ctx, &yb);
                for t in 0..m {
                    let row = &x[t * x_stride..t * x_stride + cols];
                    let xin: Vec<f32> = if fused == "rmsnorm" {
                        let inv = 1.0 / (row.iter().map(|v| v * v).sum::<f32>() / cols as f32 + 1e-5).sqrt();
                        row.iter().zip(&gain).map(|(v, g)| v * inv * g).collect()
                    } else {
                        let up = &x[t * x_stride + cols..t * x_stride + 2 * cols];
                        row.iter().zip(up).map(|(g, u)| g / (1.0 + (-g).exp()) * u).collect()
                    };
                    let want: Vec<f32> = (0..rows).map(|o| (0..cols).map(|k| wf[o * cols + k] * xin[k]).sum()).collect();
                    let e = rel_err(&got[t * rows..(t + 1) * rows], &want);
                    f.check(e < 1e-4, || format!("{path:?} {dt:?} {fused}: token {t} rel err {e}"));
                }
            }
            });
        }
    }
    f.finish();
}
