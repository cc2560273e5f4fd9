//! One typed launcher per WGSL kernel: it checks shapes, builds the parameter block and the
//! bind group, and says how many workgroups to run.

pub mod add;
pub mod argmax;
pub mod attention;
pub mod embedding;
pub mod matmul;
pub mod rmsnorm;
pub mod rope_store;
pub mod sample;
pub mod gated_act;
pub mod spec;
pub mod x_stage;

use crate::gpu::{DeviceProfile, GpuError, ModelShapes, ShaderVariant};

/// Every kernel the launchers can build on `profile` for models of `shapes`, each built by the
/// function its launcher calls: what the tests validate with naga, and what a run may build.
pub fn variants(profile: &DeviceProfile, shapes: &ModelShapes) -> Vec<ShaderVariant> {
    let mut v = matmul::variants(profile);
    v.extend(attention::variants(profile, shapes));
    v.extend(rmsnorm::variants(profile));
    v.extend(embedding::variants(shapes));
    v.extend(rope_store::variants());
    v.extend(x_stage::variants());
    v.extend(gated_act::variants());
    v.extend(spec::variants());
    v.extend([add::variant(), argmax::variant(), sample::variant()]);
    v
}

pub(crate) fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), GpuError> {
    if cond {
        Ok(())
    } else {
        Err(GpuError::Shape(what()))
    }
}

/// Bytes of a buffer as f32 elements.
pub(crate) fn elems(b: &wgpu::Buffer) -> u64 {
    b.size() / 4
}
