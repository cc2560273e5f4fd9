//! The GPU layer: device context, tensors (split across bindings when large), the shader
//! library, and one typed launcher per WGSL kernel.

pub mod buffers;
pub mod context;
pub mod dispatch;
pub mod kv_cache;
pub mod shaders;
pub mod step;
pub mod variant;
pub mod weight;

pub use buffers::GpuBuffer;
pub use context::{AdapterSummary, BindKind, DeviceProfile, GpuContext, GpuError, GpuOptions, ShapeFamily};
pub use step::Step;
pub use variant::{ModelShapes, ShaderVariant};
pub use weight::GpuWeight;
