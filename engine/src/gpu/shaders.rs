//! The WGSL library: every shader file, and the small templating step that assembles a kernel
//! (the shared `Step` struct, a dequantizer and the weight access for weight-reading kernels,
//! and `{{NAME}}` constants).

use crate::formats::DType;
use crate::gpu::weight::{WeightStore, TEXTURE_WIDTH};

/// `texel(i)`: the texture layout of weights and staged activations, in every kernel.
const TEXEL: &str = include_str!("../../../shaders/common/texel.wgsl");
/// Shader bodies with the bindings they share prepended.
macro_rules! with_bindings {
    ($bindings:literal, $body:literal) => {
        concat!(include_str!($bindings), "\n", include_str!($body))
    };
    ($shared:literal, $bindings:literal, $body:literal) => {
        concat!(include_str!($shared), "\n", include_str!($bindings), "\n", include_str!($body))
    };
    ($shared:literal, $bindings:literal, $helper:literal, $body:literal) => {
        concat!(include_str!($shared), "\n", include_str!($bindings), "\n", include_str!($helper), "\n", include_str!($body))
    };
}

pub const MATMUL: &str = with_bindings!("../../../shaders/matmul/matmul_bindings.wgsl", "../../../shaders/matmul/matmul.wgsl");
pub const MATMUL_WIDE: &str = with_bindings!("../../../shaders/matmul/matmul_bindings.wgsl", "../../../shaders/matmul/matmul_wide.wgsl");
const MATMUL_ROWS: &str = with_bindings!("../../../shaders/matmul/matmul_bindings.wgsl", "../../../shaders/matmul/matmul_rows.wgsl");
pub const EMBEDDING: &str = include_str!("../../../shaders/embedding/embedding.wgsl");
pub const RMSNORM: &str = with_bindings!("../../../shaders/rmsnorm/rmsnorm_bindings.wgsl", "../../../shaders/rmsnorm/rmsnorm.wgsl");
pub const RMSNORM_SERIAL: &str = with_bindings!("../../../shaders/rmsnorm/rmsnorm_bindings.wgsl", "../../../shaders/rmsnorm/rmsnorm_serial.wgsl");
pub const ROPE_STORE: &str = with_bindings!("../../../shaders/common/token_slot.wgsl", "../../../shaders/rope_store/rope_store.wgsl");
pub const ATTENTION: &str = with_bindings!("../../../shaders/common/token_slot.wgsl", "../../../shaders/attention/attention_bindings.wgsl", "../../../shaders/attention/attention.wgsl");
pub const ATTENTION_SERIAL: &str = with_bindings!(
    "../../../shaders/common/token_slot.wgsl",
    "../../../shaders/attention/attention_bindings.wgsl",
    "../../../shaders/attention/attention_row.wgsl",
    "../../../shaders/attention/attention_serial.wgsl"
);
pub const ATTENTION_SUBGROUP: &str = with_bindings!(
    "../../../shaders/common/token_slot.wgsl",
    "../../../shaders/attention/attention_bindings.wgsl",
    "../../../shaders/attention/attention_row.wgsl",
    "../../../shaders/attention/attention_subgroup.wgsl"
);
pub const ATTENTION_TILED: &str = with_bindings!(
    "../../../shaders/common/token_slot.wgsl",
    "../../../shaders/attention/attention_bindings.wgsl",
    "../../../shaders/attention/attention_row.wgsl",
    "../../../shaders/attention/attention_tiled.wgsl"
);
pub const ATTENTION_TILED_SUBGROUP: &str = with_bindings!(
    "../../../shaders/common/token_slot.wgsl",
    "../../../shaders/attention/attention_bindings.wgsl",
    "../../../shaders/attention/attention_row.wgsl",
    "../../../shaders/attention/attention_tiled_subgroup.wgsl"
);
/// Where attention reads the KV cache and rope_store appends to it (kv_cache.rs).
pub const KV_BUFFER: &str = include_str!("../../../shaders/kv_cache/kv_buffer.wgsl");
pub const KV_TEXTURE: &str = include_str!("../../../shaders/kv_cache/kv_texture.wgsl");
pub const KV_STORE_BUFFER: &str = include_str!("../../../shaders/kv_cache/kv_store_buffer.wgsl");
pub const KV_STORE_TEXTURE: &str = include_str!("../../../shaders/kv_cache/kv_store_texture.wgsl");
pub const KV_BUFFER_F16: &str = include_str!("../../../shaders/kv_cache/kv_buffer_f16.wgsl");
pub const KV_STORE_BUFFER_F16: &str = include_str!("../../../shaders/kv_cache/kv_store_buffer_f16.wgsl");
pub const KV_TEXTURE_F16: &str = include_str!("../../../shaders/kv_cache/kv_texture_f16.wgsl");
pub const KV_STORE_TEXTURE_F16: &str = include_str!("../../../shaders/kv_cache/kv_store_texture_f16.wgsl");
pub const GATED_ACT: &str = include_str!("../../../shaders/elementwise/gated_act.wgsl");
pub const ADD: &str = include_str!("../../../shaders/elementwise/add.wgsl");
pub const ARGMAX: &str = include_str!("../../../shaders/sample/argmax.wgsl");
pub const SAMPLE: &str = concat!(include_str!("../../../shaders/sample/sample.wgsl"), "\n", include_str!("../../../shaders/sample/draw_owner.wgsl"));
/// Speculative-step kernels, each with the shared `Spec` parameters and layout constants.
pub const SPEC_FEATURES: &str = with_bindings!("../../../shaders/spec/spec_params.wgsl", "../../../shaders/spec/features.wgsl");
pub const SPEC_RESAMPLE: &str = concat!(
    include_str!("../../../shaders/spec/spec_params.wgsl"),
    include_str!("../../../shaders/spec/resample.wgsl"),
    "\n",
    include_str!("../../../shaders/sample/draw_owner.wgsl"),
);
pub const SPEC_VERIFY: &str = concat!(
    include_str!("../../../shaders/spec/spec_params.wgsl"),
    include_str!("../../../shaders/spec/arbiter_mlp.wgsl"),
    include_str!("../../../shaders/spec/verify.wgsl"),
);
pub const ARBITER_EVAL: &str = concat!(
    include_str!("../../../shaders/spec/spec_params.wgsl"),
    include_str!("../../../shaders/spec/arbiter_mlp.wgsl"),
    include_str!("../../../shaders/spec/arbiter_eval.wgsl"),
);

const DQ_COMMON: &str = include_str!("../../../shaders/dequant/common.wgsl");

/// The `dq8` function of a weight type.
pub fn dequant(dtype: DType) -> String {
    format!("{DQ_COMMON}\n{}", dtype.quant().wgsl_dequant)
}

/// The `qdot` function of a weight type (needs `dequant` and an `xv` provider before it).
pub fn qdot(dtype: DType) -> &'static str {
    dtype.quant().wgsl_qdot
}

/// Where a product reads its activations (binding 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activations {
    /// The storage buffer that holds them, the input stage fused into the product.
    Buffer,
    /// A texture x_stage.wgsl filled, its input stage already applied (row shapes with
    /// weights in textures: CPU adapters).
    Staged,
}

pub const ACTIVATIONS_BUFFER: &str = include_str!("../../../shaders/common/activations_buffer.wgsl");
const ACTIVATIONS_TEXTURE: &str = include_str!("../../../shaders/common/activations_texture.wgsl");
pub const X_STAGE: &str = include_str!("../../../shaders/matmul/x_stage.wgsl");

const XV_LOAD: &str = include_str!("../../../shaders/matmul/xv_load.wgsl");
const XV_SUBGROUP: &str = include_str!("../../../shaders/matmul/xv_subgroup.wgsl");

/// What a product does to its input on the way in (row shapes only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputStage {
    Plain,
    /// RMSNorm of the input row, times a gain.
    RmsNorm,
    /// silu(gate) * up from [gate | up] rows.
    SiluGate,
}

/// Tokens per tile of the row-shaped product's block kernel (`RowsTile::Four`; rows_tile4.wgsl
/// is built on mat4x4, so this is four by construction). The one-token kernel needs it too:
/// it takes the tokens the tiles leave (dispatch::tiled_end, `BLOCK_TT` in matmul_rows.wgsl).
pub const ROWS_TILE: u32 = 4;

/// Tokens per tile of the row-shaped product: one (single tokens), or four sharing each
/// weight's decoding (blocks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RowsTile {
    One,
    Four,
}

/// How a weight-reading kernel reads its weight part (bindings 0 and 5): `wv` and `wu`.
pub fn weight_access(store: WeightStore) -> &'static str {
    match store {
        WeightStore::Buffer => include_str!("../../../shaders/common/weights_buffer.wgsl"),
        WeightStore::Texture => include_str!("../../../shaders/common/weights_texture.wgsl"),
    }
}

/// The CPU-shaped product for a type; `subgroups` shares activations by subgroup shuffles.
/// With `Activations::Staged` the input stage must be `Plain` (the stage kernel applied it).
pub fn matmul_rows(dtype: DType, store: WeightStore, activations: Activations, wg: u32, subgroups: bool, input: InputStage, tile: RowsTile) -> String {
    let (xv, lane_param, lane_id) = if subgroups {
        (XV_SUBGROUP, "@builtin(subgroup_invocation_id) sid: u32,", "sid")
    } else {
        (XV_LOAD, "", "0u")
    };
    let body = MATMUL_ROWS.replace("{{LANE_PARAM}}", lane_param).replace("{{LANE_ID}}", lane_id);
    // K-quant `qdot`s take sub-block pairs, which share their loads.
    let chunks_per_qdot = if dtype.block_elems() == 256 { 2 } else { 1 };
    let mut src = assemble(&body, Some((dtype, store)), &[("WG", wg), ("CPQ", chunks_per_qdot), ("BLOCK_TT", ROWS_TILE)]);
    src.push_str(match tile {
        RowsTile::One => include_str!("../../../shaders/matmul/rows_tile1.wgsl"),
        RowsTile::Four => include_str!("../../../shaders/matmul/rows_tile4.wgsl"),
    });
    src.push_str(xv);
    src.push_str(match activations {
        Activations::Buffer => ACTIVATIONS_BUFFER,
        Activations::Staged => ACTIVATIONS_TEXTURE,
    });
    src.push_str(match input {
        InputStage::Plain => include_str!("../../../shaders/matmul/input_plain.wgsl"),
        InputStage::RmsNorm => include_str!("../../../shaders/matmul/input_rmsnorm.wgsl"),
        InputStage::SiluGate => include_str!("../../../shaders/matmul/input_silu_gate.wgsl"),
    });
    if dtype.block_elems() != 256 {
        src.push_str(include_str!("../../../shaders/matmul/qdot/head_none.wgsl"));
    }
    src.push_str(qdot(dtype));
    src
}

/// Assembles a kernel: `Step`, for a weight-reading kernel the dequantizer of its type and
/// the access of its store, the body with `{{K}}` replaced by V.
pub fn assemble(body: &str, weights: Option<(DType, WeightStore)>, constants: &[(&str, u32)]) -> String {
    let mut src = super::step::Step::wgsl();
    src.push_str(TEXEL);
    if let Some((dt, store)) = weights {
        src.push_str(weight_access(store));
        src.push_str(&dequant(dt));
    }
    src.push_str(body);
    for (name, value) in constants.iter().chain(&[("TEXTURE_WIDTH", TEXTURE_WIDTH)]) {
        src = src.replace(&format!("{{{{{name}}}}}"), &value.to_string());
    }
    src
}
