//! RoPE and the KV-cache append, in both rotation layouts, with biases, per-head norms and slots;
//! the texture layout's rectangles.

use super::*;

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
