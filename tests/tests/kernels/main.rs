//! Every kernel against a plain CPU reference on fresh random inputs at awkward sizes, with
//! outputs poisoned beforehand (the table-of-cases style of llama.cpp's test-backend-ops): one
//! file per op, the helpers they share here.

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

mod attention_cases;
mod dequant_cases;
mod elementwise_cases;
mod matmul_cases;
mod rmsnorm_cases;
mod rope_store_cases;

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

/// The step of a block whose tokens each carry (region, position): a slotted block when
/// `slotted`, else one sequence at slots[0].1, slots[0].1 + 1, ... (regions must be 0 then).
fn step_for(ctx: &GpuContext, slots: &[(usize, usize)], slotted: bool) -> (GpuBuffer, GpuBuffer) {
    let m = slots.len();
    let table: Vec<u32> = slots.iter().flat_map(|&(r, p)| [r as u32, p as u32]).collect();
    let step = if slotted { Step::slotted(m, 1) } else { Step::one_sequence(m, slots[0].1, 1) };
    let st = GpuBuffer::uniform(ctx, "step", &step.words());
    (st, GpuBuffer::from_u32(ctx, "slots", &table))
}

/// Columns that fit each type's group, not multiples of anything convenient beyond that.
fn cols_for(dt: DType) -> Vec<usize> {
    if dt.block_elems() == 256 {
        vec![256, 768]
    } else {
        vec![32, 96, 160]
    }
}
