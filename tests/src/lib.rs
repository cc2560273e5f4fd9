//! Shared helpers for the cospec test suite: GPU contexts, random quantized data, tiny random
//! models written as GGUF, a plain CPU reference forward pass, and model-file lookup.

pub mod blocks;
pub mod failures;
pub mod fuzz;
pub mod llamacpp_rounding;
pub mod reference;
pub mod serve;
pub mod tiny;

use cospec::decode::arbiter::Mlp;
use cospec::ops::spec::FEATURES;
use cospec::gpu::weight::WeightStore;
use cospec::gpu::{GpuContext, GpuOptions, ShapeFamily};
use rand::Rng;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// A device per matmul shape, shared by the tests of one binary, with the weight store that
/// shape gets on the hardware it is for: storage buffers for the cooperative (GPU) shape,
/// textures for the row (CPU) shapes.
pub fn gpu_with(variant: ShapeFamily) -> Arc<GpuContext> {
    let store = match variant {
        ShapeFamily::Cooperative => WeightStore::Buffer,
        _ => WeightStore::Texture,
    };
    gpu_with_store(variant, store)
}

/// A device per matmul shape and weight store, shared by the tests of one binary.
pub fn gpu_with_store(variant: ShapeFamily, store: WeightStore) -> Arc<GpuContext> {
    gpu_for(ProductPath { variant, store, staged: true })
}

/// How a product runs: its shape, where its weights live and, for row shapes over texture
/// weights, whether its input is staged into a texture (ops/x_stage.rs) or read from the
/// activation buffer with the input stage fused (the path taken where the staged texture
/// would exceed the device's limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProductPath {
    pub variant: ShapeFamily,
    pub store: WeightStore,
    pub staged: bool,
}

/// A device per product path, shared by the tests of one binary.
pub fn gpu_for(path: ProductPath) -> Arc<GpuContext> {
    static CONTEXTS: OnceLock<Mutex<HashMap<ProductPath, Arc<GpuContext>>>> = OnceLock::new();
    let mut map = CONTEXTS.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    map.entry(path)
        .or_insert_with(|| {
            open_device_with(GpuOptions { matmul: Some(path.variant), weights: Some(path.store), stage_activations: Some(path.staged), ..options_from_env() })
        })
        .clone()
}

/// Every product path the product tests cover: each shape with its own store (`gpu_with`),
/// each store with a shape it is not the default for, and the row shape over textures with
/// its input unstaged.
pub fn product_paths() -> Vec<ProductPath> {
    let mut v: Vec<ProductPath> = shape_families().into_iter().map(|m| ProductPath { variant: m, store: gpu_with(m).weight_store(), staged: true }).collect();
    v.push(ProductPath { variant: ShapeFamily::Cooperative, store: WeightStore::Texture, staged: true });
    v.push(ProductPath { variant: ShapeFamily::RowPerInvocation, store: WeightStore::Buffer, staged: true });
    v.push(ProductPath { variant: *shape_families().last().expect("a shape"), store: WeightStore::Texture, staged: false });
    v
}

/// The device with the shape the engine would pick for this adapter.
pub fn gpu() -> Arc<GpuContext> {
    static DEFAULT: OnceLock<Arc<GpuContext>> = OnceLock::new();
    DEFAULT
        .get_or_init(open_device)
        .clone()
}

/// A device on the adapter wgpu picks. With COSPEC_EXPECT_ADAPTER set (CI's second driver
/// run), the adapter's name must contain it: a run meant for one driver never passes
/// silently on another.
pub fn open_device() -> Arc<GpuContext> {
    open_device_with(options_from_env())
}

/// A new device with these choices (the kernel shapes, where weights live, ...), on the
/// adapter wgpu picks; checked against COSPEC_EXPECT_ADAPTER as `open_device` is.
pub fn open_device_with(opts: GpuOptions) -> Arc<GpuContext> {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", "/tmp");
    }
    let ctx = pollster::block_on(GpuContext::new(&opts)).expect("a wgpu adapter (lavapipe in CI)");
    if let Ok(want) = std::env::var("COSPEC_EXPECT_ADAPTER") {
        let name = ctx.adapter.to_string();
        assert!(name.to_lowercase().contains(&want.to_lowercase()), "COSPEC_EXPECT_ADAPTER={want:?}, but the adapter is {name}");
    }
    ctx
}

/// Device choices the tests and examples take from the environment, as the CLI's flags do:
/// COSPEC_WEIGHTS (buffer|texture), COSPEC_COOP_SHAPE (WG,RPW,TM), COSPEC_COOP_WIDE
/// (TM,MIN[,RPI] or off). A value that does not parse is a panic naming it.
pub fn options_from_env() -> GpuOptions {
    use cospec::ops::matmul::{parse_cooperative_shape, parse_wide_tile};
    let var = |name: &str| std::env::var(name).ok();
    GpuOptions {
        weights: var("COSPEC_WEIGHTS").map(|v| WeightStore::from_name(v.trim()).unwrap_or_else(|| panic!("COSPEC_WEIGHTS={v:?}: one of {}", WeightStore::NAMES.join(", ")))),
        cooperative_shape: var("COSPEC_COOP_SHAPE").map(|v| parse_cooperative_shape(&v).unwrap_or_else(|e| panic!("COSPEC_COOP_SHAPE: {e}"))),
        wide_tile: var("COSPEC_COOP_WIDE").and_then(|v| parse_wide_tile(&v).unwrap_or_else(|e| panic!("COSPEC_COOP_WIDE: {e}"))),
        ..Default::default()
    }
}

/// Every matmul shape this device can run (the subgroup shape needs fixed subgroups of 8+).
pub fn shape_families() -> Vec<ShapeFamily> {
    let mut v = vec![ShapeFamily::Cooperative, ShapeFamily::RowPerInvocation];
    if gpu().profile.subgroup_size.is_some() {
        v.push(ShapeFamily::RowPerInvocationSubgroup);
    } else {
        eprintln!("note: no fixed subgroups of 8+ on this adapter; the subgroup matmul shape is not tested");
    }
    v
}

/// Where scripts/fetch-models.sh caches models.
pub fn models_dir() -> PathBuf {
    match std::env::var_os("COSPEC_MODELS_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/cospec/models"),
    }
}

/// A cached real model, or None (with a note) when it has not been fetched. With
/// COSPEC_REQUIRE_MODELS=1 (set by CI after fetching) a missing model fails the test instead.
pub fn real_model(name: &str) -> Option<PathBuf> {
    let p = models_dir().join(name);
    if p.is_file() {
        return Some(p);
    }
    if std::env::var("COSPEC_REQUIRE_MODELS").as_deref() == Ok("1") {
        panic!("{} is missing: run scripts/fetch-models.sh", p.display());
    }
    eprintln!("skipping: {} not fetched (scripts/fetch-models.sh)", p.display());
    None
}

/// Largest |a - b| over largest |b|.
pub fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    let mut num = 0f32;
    let mut den = 0f32;
    for (x, y) in a.iter().zip(b) {
        if !x.is_finite() {
            return f32::INFINITY;
        }
        num = num.max((x - y).abs());
        den = den.max(y.abs());
    }
    num / den.max(1e-30)
}

pub const POISON: f32 = f32::NAN;

/// An arbiter MLP with random weights and normalization (kernels and lock-step tests).
pub fn random_mlp(hidden: usize, r: &mut impl Rng) -> Mlp {
    Mlp {
        mean: (0..FEATURES).map(|_| r.random_range(-1.0..1.0)).collect(),
        std: (0..FEATURES).map(|_| r.random_range(0.2..3.0)).collect(),
        w1: (0..hidden * FEATURES).map(|_| r.random_range(-1.0..1.0)).collect(),
        b1: (0..hidden).map(|_| r.random_range(-0.5..0.5)).collect(),
        w2: (0..hidden).map(|_| r.random_range(-1.0..1.0)).collect(),
        b2: r.random_range(-0.5..0.5),
    }
}

