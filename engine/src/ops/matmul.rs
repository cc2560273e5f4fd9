//! y[t, :] (+)= W x[t, :] for the block's tokens, W quantized (shaders/matmul/matmul.wgsl for GPUs,
//! shaders/matmul/matmul_rows.wgsl for CPU adapters; the context picks, tests run every shape).

use super::{check, elems, x_stage};
use crate::gpu::dispatch::{Dispatch, Grid, TileRule};
use crate::gpu::shaders::{assemble, matmul_rows, Activations, InputStage, RowsTile, ACTIVATIONS_BUFFER, MATMUL, MATMUL_WIDE, ROWS_TILE};
use crate::formats::DType;
use crate::gpu::weight::WeightStore;
use crate::gpu::BindKind::{FloatTexture, Read, ReadWrite, Texture, Uniform};
use crate::gpu::{DeviceProfile, GpuBuffer, GpuContext, GpuError, GpuWeight, ShaderVariant, ShapeFamily};

/// Cooperative shape: workgroup size, rows per workgroup, tokens per register tile. Chosen on
/// an H200 (docs/perf.md): against (64, 4, 8) a 1-token pass of the Qwen 1.5B shape took 14%
/// less time and a 5-token verify block 27% less; other shapes were within a few percent.
pub const COOPERATIVE_CONSTANTS: [(&str, u32); 3] = [("WG", 64), ("RPW", 2), ("TM", 4)];

/// A cooperative shape other than the default, for tuning on a new GPU (`--coop-shape
/// WG,RPW,TM`): WG 1..=256, WG / RPW a power of two, TM 1..=32.
pub fn parse_cooperative_shape(v: &str) -> Result<[(&'static str, u32); 3], String> {
    let n: Vec<Option<u32>> = v.split(',').map(|x| x.trim().parse().ok()).collect();
    match n[..] {
        [Some(wg), Some(rpw), Some(tm)] if (1..=256).contains(&wg) && rpw >= 1 && wg % rpw == 0 && (wg / rpw).is_power_of_two() && (1..=32).contains(&tm) => {
            Ok([("WG", wg), ("RPW", rpw), ("TM", tm)])
        }
        _ => Err(format!("{v:?} is not WG,RPW,TM with WG in 1..=256, WG/RPW a power of two and TM in 1..=32")),
    }
}

/// A wider token tile for the cooperative shape's long launches (lock step's block of one token
/// per lane, prompts): a launch of at least `min_tokens` tokens runs matmul.wgsl's wide form with
/// TM = `tm`, which dequantizes each weight and reduces across the workgroup once per `tm`
/// tokens instead of once per TM, and with `rows_per_invocation` rows in each invocation
/// (a workgroup of WG / RPI invocations over the same RPW rows), which loads each chunk of a
/// token's activations once for those rows. Each token's arithmetic and reduction order are
/// the kernel's own, so its bits do not depend on either (tests/tests/kernels/matmul_cases.rs checks it per device).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WideTile {
    pub tm: u32,
    pub min_tokens: u32,
    pub rows_per_invocation: u32,
}

impl WideTile {
    /// The `--coop-wide` (COSPEC_COOP_WIDE) spelling: TM,MIN,RPI.
    pub fn env_value(&self) -> String {
        format!("{},{},{}", self.tm, self.min_tokens, self.rows_per_invocation)
    }
}

/// "off", or TM,MIN[,RPI] with TM 2..32, MIN >= 2 and RPI 1, 2 or 4 (1 when left out).
pub fn parse_wide_tile(v: &str) -> Result<Option<WideTile>, String> {
    if v.trim() == "off" {
        return Ok(None);
    }
    let n: Vec<Option<u32>> = v.split(',').map(|x| x.trim().parse().ok()).collect();
    let (tm, min_tokens, rows_per_invocation) = match n[..] {
        [Some(tm), Some(min)] => (tm, min, 1),
        [Some(tm), Some(min), Some(rpi)] => (tm, min, rpi),
        _ => (0, 0, 0),
    };
    if (2..=32).contains(&tm) && min_tokens >= 2 && [1, 2, 4].contains(&rows_per_invocation) {
        Ok(Some(WideTile { tm, min_tokens, rows_per_invocation }))
    } else {
        Err(format!("{v:?} is not TM,MIN[,RPI] (TM 2..32, MIN >= 2, RPI 1, 2 or 4) or off"))
    }
}

/// The cooperative product for `shape`: matmul.wgsl, or with a wide tile matmul_wide.wgsl.
pub fn cooperative_source(dtype: DType, store: WeightStore, shape: [(&'static str, u32); 3], wide: Option<WideTile>) -> String {
    let [(_, wg), (_, rpw), tm] = shape;
    match wide {
        None => assemble(&format!("{MATMUL}\n{ACTIVATIONS_BUFFER}"), Some((dtype, store)), &[("WG", wg), ("RPW", rpw), tm]),
        Some(t) => assemble(
            &format!("{MATMUL_WIDE}\n{ACTIVATIONS_BUFFER}"),
            Some((dtype, store)),
            &[("WG", wg / t.rows_per_invocation), ("RPW", rpw), ("RPI", t.rows_per_invocation), ("TM", t.tm), ("WIDE", 1)],
        ),
    }
}

/// Whether `shape` can run `tile`: the workgroup memory holds WG / RPI x TM partial sums, and
/// an invocation's rows split the workgroup's evenly.
fn wide_fits(wg_storage: u32, shape: [(&'static str, u32); 3], tile: &WideTile) -> bool {
    let [(_, wg), (_, rpw), (_, tm)] = shape;
    let rpi = tile.rows_per_invocation;
    tile.tm > tm && rpw % rpi == 0 && wg % rpi == 0 && (wg / rpi * tile.tm * 4) as u64 <= wg_storage as u64
}

/// How the weight-reading kernels bind a part of a weight in `store` (bindings 0 and 5).
pub fn weight_kind(store: WeightStore) -> crate::gpu::BindKind {
    match store {
        WeightStore::Buffer => Read,
        WeightStore::Texture => Texture,
    }
}

/// Rows each invocation of the row-per-invocation shape owns (RPI in the shader).
const ROWS_PER_INVOCATION: u32 = 4;

/// Which tokens of the block a product covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tokens {
    All,
    /// Only the trailing `m_logits` tokens (x holds just those rows).
    LogitsRows,
}

pub struct MatmulArgs<'a> {
    pub weight: &'a GpuWeight,
    pub x: &'a wgpu::Buffer,
    pub y: &'a wgpu::Buffer,
    /// Elements per row of y (>= y_col + weight rows).
    pub y_stride: usize,
    /// First column of y this product writes (products can share an output row).
    pub y_col: usize,
    /// Add into y instead of overwriting it (fuses a residual connection).
    pub accumulate: bool,
    pub tokens: Tokens,
    pub max_tokens: usize,
    /// A fused input stage (row shapes only; GPUs run RMSNorm and SiLU as their own kernels).
    pub input: Input<'a>,
}

/// What the product applies to x on the way in.
#[derive(Clone, Copy)]
pub enum Input<'a> {
    Plain,
    /// x is the un-normalized row; the product sees rmsnorm(x) * gain.
    RmsNorm { gain: &'a GpuBuffer, eps: f32 },
    /// x rows are [gate | up], twice the product's width; the product sees silu(gate) * up.
    SiluGate,
}

/// One dispatch per weight part.
pub fn prepare(ctx: &GpuContext, a: MatmulArgs, step: &GpuBuffer) -> Result<Vec<Dispatch>, GpuError> {
    let w = a.weight;
    check(a.y_stride >= a.y_col + w.rows, || format!("matmul: y stride {} < {} + {} rows", a.y_stride, a.y_col, w.rows))?;
    check(w.cols % 32 == 0, || format!("matmul: {} columns is not a multiple of 32", w.cols))?;
    // Binding 6 (the norm gain) is x again when unused: read-only bindings may alias.
    let (stage, x_stride, gain, eps) = match a.input {
        Input::Plain => (InputStage::Plain, w.cols, None, 0.0f32),
        Input::RmsNorm { gain, eps } => (InputStage::RmsNorm, w.cols, Some(gain), eps),
        Input::SiluGate => (InputStage::SiluGate, 2 * w.cols, None, 0.0),
    };
    check(elems(a.x) >= (a.max_tokens * x_stride) as u64, || {
        format!("matmul: x holds {} floats, {} tokens x {} needed", elems(a.x), a.max_tokens, x_stride)
    })?;
    if let Some(g) = gain {
        check(g.len == w.cols, || format!("matmul: norm gain has {} elements, {} expected", g.len, w.cols))?;
    }
    check(stage == InputStage::Plain || ctx.cpu_shapes(), || "matmul: fused input stages need the row shapes".into())?;
    check(elems(a.y) >= (a.max_tokens * a.y_stride) as u64, || {
        format!("matmul: y holds {} floats, {} tokens x {} needed", elems(a.y), a.max_tokens, a.y_stride)
    })?;
    let variant = ctx.shape_family();
    // Row shapes with weights in textures (CPU adapters) read their input from a texture
    // too, staged once per token with the input stage applied (x_stage.rs).
    let staged = if variant != ShapeFamily::Cooperative && w.store == WeightStore::Texture {
        x_stage::prepare(ctx, a.x, x_stride, a.input, w.cols, a.max_tokens, a.tokens == Tokens::LogitsRows, step)?
    } else {
        None
    };
    let (activations, stage) = if staged.is_some() { (Activations::Staged, InputStage::Plain) } else { (Activations::Buffer, stage) };
    let kernels = product_variants(&ctx.profile, w.dtype, w.store, activations, stage, ctx.limits.max_compute_workgroup_storage_size);
    let pipeline = ctx.build(&kernels.every)?;
    let rows_per_group = kernels.rows_per_group;
    let (mut tiled_pipeline, mut wide) = (None, None);
    match kernels.long {
        Some((v, None)) => tiled_pipeline = Some(ctx.build(&v)?),
        Some((v, Some(min_tokens))) => wide = Some((ctx.build(&v)?, min_tokens)),
        None => {}
    }
    let mut out = Vec::new();
    let x_binding = match &staged {
        Some((_, view)) => wgpu::BindingResource::TextureView(view),
        None => a.x.as_entire_binding(),
    };
    for part in &w.parts {
        let params = GpuBuffer::uniform(
            ctx,
            "matmul params",
            &[
                w.chunks_per_row() as u32,
                part.rows as u32,
                w.scale_base(part) as u32,
                (a.y_col + part.first_row) as u32,
                a.y_stride as u32,
                x_stride as u32,
                a.accumulate as u32,
                (a.tokens == Tokens::LogitsRows) as u32,
                eps.to_bits(),
                // `zero`: must stay 0 (xv_load.wgsl's optimization barrier tests it).
                0,
                0,
                0,
            ],
        );
        let groups = (part.rows as u32).div_ceil(rows_per_group);
        let params_buffer = params.buffer.clone();
        let buffers = [
            part.binding(),
            x_binding.clone(),
            a.y.as_entire_binding(),
            params_buffer.as_entire_binding(),
            step.buffer.as_entire_binding(),
            part.binding(),
            gain.map(|g| &g.buffer).unwrap_or(a.x).as_entire_binding(),
        ];
        let mut dispatch = Dispatch::with_resources(ctx, "matmul", pipeline.clone(), &buffers, Some(params), Grid::Fixed(groups));
        if let Some(tiled) = &tiled_pipeline {
            dispatch = dispatch.with_second_pipeline(ctx, tiled.clone(), &buffers, TileRule::Split { tile: ROWS_TILE }, a.tokens == Tokens::LogitsRows);
        }
        if let Some((wide, min_tokens)) = &wide {
            dispatch = dispatch.with_second_pipeline(ctx, wide.clone(), &buffers, TileRule::Whole { min_count: *min_tokens }, a.tokens == Tokens::LogitsRows);
        }
        out.push(dispatch);
    }
    if let Some((stage_dispatch, _)) = staged {
        out.insert(0, stage_dispatch);
    }
    Ok(out)
}

/// A product's kernels on one profile.
struct ProductKernels {
    /// The kernel any launch can run.
    every: ShaderVariant,
    /// The one long launches take: the four-token tile on row shapes (None: split into tiles),
    /// or the cooperative shape's wide form from Some(its minimum tokens).
    long: Option<(ShaderVariant, Option<u32>)>,
    rows_per_group: u32,
}

/// The kernels of a product of `dtype` weights in `store` on `profile`; `wg_storage`: the
/// device's workgroup memory in bytes (the wide form must fit it).
fn product_variants(profile: &DeviceProfile, dtype: DType, store: WeightStore, activations: Activations, stage: InputStage, wg_storage: u32) -> ProductKernels {
    let variant = profile.shape_family;
    // Row shape: small workgroups spread few rows over every core; one full subgroup at least.
    let rows_wg = profile.subgroup_size.unwrap_or(8).max(8);
    let wk = weight_kind(store);
    let xk = if activations == Activations::Staged { FloatTexture } else { Read };
    let kinds = [wk, xk, ReadWrite, Uniform, Uniform, wk, Read];
    let key = format!("matmul_{variant:?}_{}_{store:?}_{activations:?}_{rows_wg}_{stage:?}", dtype.name());
    match variant {
        ShapeFamily::Cooperative => {
            let shape = profile.cooperative_shape;
            let long = profile.wide_tile.filter(|t| wide_fits(wg_storage, shape, t)).map(|t| {
                let v = ShaderVariant::new(format!("{key}_wide{}x{}", t.tm, t.rows_per_invocation), cooperative_source(dtype, store, shape, Some(t)), &kinds);
                (v, Some(t.min_tokens))
            });
            ProductKernels { every: ShaderVariant::new(key, cooperative_source(dtype, store, shape, None), &kinds), long, rows_per_group: shape[1].1 }
        }
        ShapeFamily::RowPerInvocation | ShapeFamily::RowPerInvocationSubgroup => {
            let subgroups = variant == ShapeFamily::RowPerInvocationSubgroup;
            let one = matmul_rows(dtype, store, activations, rows_wg, subgroups, stage, RowsTile::One);
            let four = matmul_rows(dtype, store, activations, rows_wg, subgroups, stage, RowsTile::Four);
            ProductKernels {
                every: ShaderVariant::new(key.clone(), one, &kinds),
                long: Some((ShaderVariant::new(format!("{key}_tile4"), four, &kinds), None)),
                rows_per_group: rows_wg * ROWS_PER_INVOCATION,
            }
        }
    }
}

/// Every kernel `prepare` can build on `profile`, with the WebGPU default workgroup memory
/// (16 KiB).
pub fn variants(profile: &DeviceProfile) -> Vec<ShaderVariant> {
    let mut v = Vec::new();
    for dtype in DType::ALL {
        for store in [WeightStore::Buffer, WeightStore::Texture] {
            // As prepare chooses: GPUs run the input stages as kernels of their own; row shapes
            // fuse them, or stage the input into a texture where they can (and fall back
            // where the texture would be too tall).
            let mut uses = vec![(Activations::Buffer, InputStage::Plain)];
            if profile.shape_family != ShapeFamily::Cooperative {
                uses.extend([InputStage::RmsNorm, InputStage::SiluGate].map(|s| (Activations::Buffer, s)));
                if store == WeightStore::Texture && profile.stage_activations {
                    uses.push((Activations::Staged, InputStage::Plain));
                }
            }
            for (activations, stage) in uses {
                let k = product_variants(profile, dtype, store, activations, stage, 16384);
                v.push(k.every);
                v.extend(k.long.map(|l| l.0));
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_tile_specs_parse_or_are_refused() {
        assert_eq!(parse_wide_tile("off"), Ok(None));
        assert_eq!(parse_wide_tile("16,16"), Ok(Some(WideTile { tm: 16, min_tokens: 16, rows_per_invocation: 1 })));
        let t = parse_wide_tile(" 32, 8, 2").unwrap().unwrap();
        assert_eq!((t.tm, t.min_tokens, t.rows_per_invocation), (32, 8, 2));
        assert_eq!(parse_wide_tile(&t.env_value()), Ok(Some(t)));
        for bad in ["", "16", "1,16", "33,16", "16,1", "16,16,3", "16,16,2,1", "16,x", "on"] {
            assert!(parse_wide_tile(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn cooperative_shapes_parse_or_are_refused() {
        assert_eq!(parse_cooperative_shape("64, 2,4"), Ok([("WG", 64), ("RPW", 2), ("TM", 4)]));
        assert_eq!(parse_cooperative_shape("256,8,8").map(|s| s[1].1), Ok(8));
        for bad in ["", "64,2", "64,3,4", "0,1,4", "512,2,4", "64,2,0", "64,2,33", "64,2,4,1", "a,b,c"] {
            assert!(parse_cooperative_shape(bad).is_err(), "{bad:?} accepted");
        }
    }
}
