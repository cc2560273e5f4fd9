//! Causal GQA attention of the block's queries over the KV cache (shaders/attention/attention.wgsl).

use super::check;
use crate::gpu::dispatch::{Dispatch, Grid, TileRule};
use crate::gpu::shaders::{assemble, ATTENTION, ATTENTION_SERIAL, ATTENTION_SUBGROUP, ATTENTION_TILED, ATTENTION_TILED_SUBGROUP};
use crate::gpu::kv_cache::{cache_access, cache_layout_access, CacheAccess, CacheStore, CACHE_LAYOUTS};
use crate::gpu::BindKind::{self, Read, ReadWrite, Uniform};
use crate::gpu::{DeviceProfile, GpuBuffer, GpuContext, GpuError, ModelShapes, ShaderVariant, ShapeFamily};

pub struct AttentionArgs<'a> {
    pub q: &'a wgpu::Buffer,
    /// Both in buffers or both in textures.
    pub k_cache: &'a CacheStore,
    pub v_cache: &'a CacheStore,
    /// Scratch of score_rows(max_tokens) * n_head * ctx_len floats.
    pub scores: &'a wgpu::Buffer,
    pub out: &'a wgpu::Buffer,
    pub n_head: usize,
    pub n_kv: usize,
    pub head_dim: usize,
    pub ctx_len: usize,
    pub max_tokens: usize,
    /// Sliding-window layers: positions a token sees, its own included (0: all before it).
    pub window: usize,
}

/// The widest head the CPU-adapter kernels take (twice the widest in common models).
pub const MAX_CPU_HEAD_DIM: usize = 512;

/// The widest head the tiled CPU kernels (attention_tiled*.wgsl) take. They hold a query and
/// its sums in arrays of head_dim / 4 vec4s, and past about 20 of them llvmpipe (Mesa 22.3.6,
/// LLVM 15) pays 15 to 100 times more per multiply-add (docs/perf.md): Qwen2.5-1.5B's 128-wide
/// heads cost a 32-token chunk 958-1287 ms a layer at depth 512 there against 33 in the
/// one-row subgroup kernel, which holds the query in slices of 16 (`attention_bench 12 2 128`).
pub const MAX_TILED_HEAD_DIM: usize = 80;

/// Blocks of at least this many tokens take the tiled kernels on CPU adapters; their rows'
/// arithmetic is the one-token kernels', so the switch changes no bit. On llvmpipe (SmolLM2's
/// heads, `attention_bench`) a 6-token block costs 0.69 ms against 0.95 in the one-row
/// subgroup kernel at depth 512 and 2.4 against 3.3 at 2,048; at 5 tokens the two are even.
pub const TILED_FROM: u32 = 6;

/// attention_tiled.wgsl's (lanes, block tokens) a workgroup for `group` query heads per KV head
/// on a CPU whose SIMD vectors hold `simd` lanes: the fewest whole tokens that fill whole
/// vectors (lcm(simd, group) lanes), so no vector runs part empty and, as the chunk sizes are
/// powers of two, no workgroup takes a partial tile. SmolLM2 (group 3) on llvmpipe: 8 tokens in
/// 24 lanes cost 172-195 ms a 32-token chunk at depth 1,024 against 222-236 for 2 tokens in 6.
fn tiled_shape(group: u32, simd: u32, max_lanes: u32) -> (u32, u32) {
    let group = group.max(1);
    let lanes = lcm(simd.max(1), group);
    let tokens = if lanes <= max_lanes { lanes / group } else { 1 };
    (tokens * group, tokens)
}

fn lcm(a: u32, b: u32) -> u32 {
    let (mut x, mut y) = (a, b);
    while y != 0 {
        (x, y) = (y, x % y);
    }
    a / x * b
}

/// The key tile of the CPU-adapter kernels' online softmax (KEY_TILE, attention_bindings.wgsl):
/// the subgroup kernels walk runs of a subgroup's size, whole tiles (`ShapeFamily::
/// RowPerInvocationSubgroup` has fixed subgroups of 8 or more, and Vulkan's are powers of two).
const KEY_TILE: u32 = 8;

/// Block tokens whose scores the scratch must hold: every token of a block on GPUs, none on
/// CPU adapters (their kernels keep an online softmax in registers).
pub fn score_rows(ctx: &GpuContext, max_tokens: usize) -> usize {
    if ctx.cpu_shapes() {
        0
    } else {
        max_tokens
    }
}

/// `slots`: per block token (region's first cache row, position), read when the step says the
/// block is slotted (token_slot.wgsl).
pub fn prepare(ctx: &GpuContext, a: AttentionArgs, step: &GpuBuffer, slots: &GpuBuffer) -> Result<Dispatch, GpuError> {
    check(a.head_dim % 4 == 0 && a.n_kv > 0 && a.n_head % a.n_kv == 0, || {
        format!("attention: head_dim {} / heads {} / kv heads {} do not fit", a.head_dim, a.n_head, a.n_kv)
    })?;
    check(a.scores.size() / 4 >= (score_rows(ctx, a.max_tokens) * a.n_head * a.ctx_len) as u64, || {
        "attention: score scratch too small".into()
    })?;
    let cache = cache_access("attention", a.k_cache, a.v_cache, a.n_kv * a.ctx_len * a.head_dim, false)?;
    // The CPU shapes hold a query head in registers.
    check(ctx.shape_family() == ShapeFamily::Cooperative || a.head_dim <= MAX_CPU_HEAD_DIM, || {
        format!("attention: head_dim {} is over the {MAX_CPU_HEAD_DIM} the CPU-adapter kernels hold in registers", a.head_dim)
    })?;
    let variant = row_variant(&ctx.profile, a.head_dim, &cache);
    let pipeline = ctx.build(&variant)?;
    let scale = 1.0f32 / (a.head_dim as f32).sqrt();
    let params = GpuBuffer::uniform(
        ctx,
        "attention params",
        &[a.n_head as u32, a.n_kv as u32, a.head_dim as u32, a.ctx_len as u32, scale.to_bits(), a.window as u32, 0, 0],
    );
    let params_buffer = params.buffer.clone();
    let resources = [
        a.q.as_entire_binding(),
        a.k_cache.binding(),
        a.v_cache.binding(),
        a.scores.as_entire_binding(),
        a.out.as_entire_binding(),
        params_buffer.as_entire_binding(),
        step.buffer.as_entire_binding(),
        slots.buffer.as_entire_binding(),
    ];
    let plain = Dispatch::with_resources(ctx, "attention", pipeline, &resources, Some(params), Grid::PerToken(a.n_head as u32));
    let max_lanes = ctx.limits.max_compute_invocations_per_workgroup;
    let Some((variant, tokens)) = tiled_variant(&ctx.profile, a.head_dim, (a.n_head / a.n_kv) as u32, &cache, max_lanes) else {
        return Ok(plain);
    };
    let tiled = ctx.build(&variant)?;
    Ok(plain
        .with_second_pipeline(ctx, tiled, &resources, TileRule::Whole { min_count: TILED_FROM }, false)
        .with_second_grid(Grid::TokenTiles { x: a.n_kv as u32, tile: tokens }))
}

fn kinds(c: &CacheAccess) -> [BindKind; 8] {
    [Read, c.kind, c.kind, ReadWrite, ReadWrite, Uniform, Uniform, Read]
}

/// The kernel for blocks of any size: GPUs a 64-invocation workgroup per (head, token); CPU
/// adapters one subgroup, or one invocation without subgroups.
fn row_variant(profile: &DeviceProfile, head_dim: usize, cache: &CacheAccess) -> ShaderVariant {
    let d4 = (head_dim / 4) as u32;
    let (label, body) = match profile.shape_family {
        ShapeFamily::Cooperative => ("attention".to_string(), assemble(ATTENTION, None, &[])),
        ShapeFamily::RowPerInvocation => (format!("attention_serial_d{d4}"), assemble(ATTENTION_SERIAL, None, &[("D4", d4)])),
        ShapeFamily::RowPerInvocationSubgroup => {
            let s = profile.subgroup_size.unwrap_or(KEY_TILE);
            debug_assert!(s % KEY_TILE == 0, "subgroups of {s}: runs of keys that are not whole key tiles");
            (format!("attention_subgroup_{s}_d{d4}"), assemble(ATTENTION_SUBGROUP, None, &[("S", s), ("D4", d4)]))
        }
    };
    ShaderVariant::new(format!("{label}{}", cache.key_suffix), format!("{}\n{body}", cache.source), &kinds(cache))
}

/// The kernel for wide blocks on CPU adapters and its block tokens a workgroup, where the
/// heads are narrow enough and a workgroup of whole groups fits `max_lanes`.
fn tiled_variant(profile: &DeviceProfile, head_dim: usize, group: u32, cache: &CacheAccess, max_lanes: u32) -> Option<(ShaderVariant, u32)> {
    if profile.shape_family == ShapeFamily::Cooperative || head_dim > MAX_TILED_HEAD_DIM {
        return None;
    }
    let d4 = (head_dim / 4) as u32;
    let simd = profile.subgroup_size.unwrap_or(8);
    let (lanes, tokens) = tiled_shape(group, simd, max_lanes);
    if lanes > max_lanes {
        return None;
    }
    let (label, body) = if profile.shape_family == ShapeFamily::RowPerInvocationSubgroup {
        (
            format!("attention_tiled_subgroup_{simd}_l{lanes}_d{d4}_t{tokens}"),
            assemble(ATTENTION_TILED_SUBGROUP, None, &[("S", simd), ("L", lanes), ("D4", d4), ("TOK", tokens)]),
        )
    } else {
        (format!("attention_tiled_l{lanes}_d{d4}_t{tokens}"), assemble(ATTENTION_TILED, None, &[("L", lanes), ("D4", d4), ("TOK", tokens)]))
    };
    Some((ShaderVariant::new(format!("{label}{}", cache.key_suffix), format!("{}\n{body}", cache.source), &kinds(cache)), tokens))
}

/// Every kernel `prepare` can build on `profile` for `shapes`, with the WebGPU default
/// workgroup limit (256 invocations).
pub fn variants(profile: &DeviceProfile, shapes: &ModelShapes) -> Vec<ShaderVariant> {
    let mut v = Vec::new();
    for (texture, kv_type) in CACHE_LAYOUTS {
        let cache = cache_layout_access(texture, kv_type, false);
        for &hd in &shapes.head_dims {
            v.push(row_variant(profile, hd, &cache));
            for &g in &shapes.groups {
                v.extend(tiled_variant(profile, hd, g as u32, &cache, 256).map(|t| t.0));
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::tiled_shape;

    #[test]
    fn tiled_workgroups_fill_whole_simd_vectors() {
        // (group, simd) -> (lanes, tokens)
        for (group, simd, want) in [(3, 8, (24, 8)), (7, 8, (56, 8)), (6, 8, (24, 4)), (1, 8, (8, 8)), (16, 8, (16, 1)), (4, 16, (16, 4)), (3, 8, (24, 8))] {
            assert_eq!(tiled_shape(group, simd, 256), want, "group {group}, simd {simd}");
        }
        // A shape over the workgroup limit falls back to one token.
        assert_eq!(tiled_shape(7, 64, 256), (7, 1));
    }
}
