//! The quantized product: every type, shape family, block size and input stage against the CPU
//! reference; block rows against single tokens bit for bit; split weights; refused shapes.

use super::*;

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
