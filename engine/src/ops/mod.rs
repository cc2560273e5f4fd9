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

use crate::gpu::GpuError;

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
