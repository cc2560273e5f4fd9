//! Weight matrices kept quantized in GPU memory, split by rows over several buffers (or
//! textures) when one binding cannot hold them (e.g. a 151936-row embedding on a 128
//! MiB-binding device).

use super::{GpuContext, GpuError};
use crate::formats::{gpu_pack::{pack_for_gpu, PART_ALIGN_WORDS}, DType, FormatError};
use wgpu::util::DeviceExt;

/// Where a weight part's packed words live. Kernels read both the same way (`wv`, `wu`:
/// shaders/common/weights_buffer.wgsl, weights_texture.wgsl), with the same results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WeightStore {
    /// A read-only storage buffer: GPUs.
    Buffer,
    /// An rgba32uint texture of TEXTURE_WIDTH texels a row: CPU implementations of WebGPU,
    /// where texel fetches cost a fraction of storage loads (docs/perf.md).
    Texture,
}

impl WeightStore {
    pub const NAMES: [&'static str; 2] = ["buffer", "texture"];

    pub fn from_name(name: &str) -> Option<WeightStore> {
        match name {
            "buffer" => Some(WeightStore::Buffer),
            "texture" => Some(WeightStore::Texture),
            _ => None,
        }
    }
}

/// Texels (16-byte words) per texture row: weights_texture.wgsl's `i & 2047u, i >> 11u`.
pub const TEXTURE_WIDTH: u32 = 2048;

pub enum WeightData {
    Buffer(wgpu::Buffer),
    Texture { texture: wgpu::Texture, view: wgpu::TextureView },
}

pub struct WeightPart {
    pub data: WeightData,
    pub first_row: usize,
    pub rows: usize,
}

impl WeightPart {
    /// The part as a kernel binds it (bindings 0 and 5 of the weight-reading kernels).
    pub fn binding(&self) -> wgpu::BindingResource<'_> {
        match &self.data {
            WeightData::Buffer(b) => b.as_entire_binding(),
            WeightData::Texture { view, .. } => wgpu::BindingResource::TextureView(view),
        }
    }

    fn bytes(&self) -> u64 {
        match &self.data {
            WeightData::Buffer(b) => b.size(),
            WeightData::Texture { texture, .. } => {
                let s = texture.size();
                s.width as u64 * s.height as u64 * 16
            }
        }
    }
}

pub struct GpuWeight {
    pub dtype: DType,
    pub rows: usize,
    pub cols: usize,
    pub store: WeightStore,
    pub parts: Vec<WeightPart>,
}

impl GpuWeight {
    /// Chunks of 32 weights per row (the unit shaders dequantize).
    pub fn chunks_per_row(&self) -> usize {
        self.cols / 32
    }

    /// Where a part's scale region starts, in u32 words: always a whole number of vec4s
    /// (qdot/q5_0.wgsl reads a block's two scale words with one 16-byte load).
    pub fn scale_base(&self, part: &WeightPart) -> usize {
        part.rows * self.cols / self.dtype.gpu_group_elems() * self.dtype.gpu_group_vec4s() * 4
    }

    /// Uploads a [rows, cols] matrix from its file bytes, one part per binding-sized slab.
    pub fn upload(
        ctx: &GpuContext,
        label: &str,
        dtype: DType,
        rows: usize,
        cols: usize,
        bytes: &[u8],
    ) -> Result<GpuWeight, GpuError> {
        Self::upload_split(ctx, label, dtype, rows, cols, bytes, ctx.max_binding_bytes())
    }

    /// As `upload`, with parts of at most `max_part_bytes` (tests force splits with it).
    pub fn upload_split(
        ctx: &GpuContext,
        label: &str,
        dtype: DType,
        rows: usize,
        cols: usize,
        bytes: &[u8],
        max_part_bytes: u64,
    ) -> Result<GpuWeight, GpuError> {
        if cols % dtype.gpu_group_elems() != 0 {
            return Err(GpuError::Shape(format!(
                "{label}: {cols} columns is not a multiple of the {}-element group of {}",
                dtype.gpu_group_elems(),
                dtype.name()
            )));
        }
        let store = ctx.weight_store();
        let row_bytes_gpu = (dtype.gpu_row_words(cols) * 4) as u64;
        let mut part_cap = max_part_bytes.min(ctx.max_binding_bytes());
        if store == WeightStore::Texture {
            part_cap = part_cap.min(TEXTURE_WIDTH as u64 * ctx.limits.max_texture_dimension_2d as u64 * 16);
        }
        // A part may carry up to three words of padding to end on a whole vec4 (gpu_pack.rs).
        let pad_bytes = (PART_ALIGN_WORDS as u64 - 1) * 4;
        let rows_per_part = (part_cap.saturating_sub(pad_bytes) / row_bytes_gpu) as usize;
        if rows_per_part == 0 {
            return Err(GpuError::Limit(format!(
                "{label}: one row takes {row_bytes_gpu} bytes, more than a {part_cap}-byte binding"
            )));
        }
        let file_row_bytes = dtype.bytes_for(cols as u64).map_err(fmt_err)? as usize;
        if bytes.len() < rows * file_row_bytes {
            return Err(GpuError::Shape(format!(
                "{label}: {} bytes for {rows}x{cols} {}",
                bytes.len(),
                dtype.name()
            )));
        }
        let mut parts = Vec::new();
        let mut first_row = 0;
        while first_row < rows {
            let n = rows_per_part.min(rows - first_row);
            let src = &bytes[first_row * file_row_bytes..(first_row + n) * file_row_bytes];
            let packed = pack_for_gpu(dtype, src, n, cols).map_err(fmt_err)?;
            let data = match store {
                WeightStore::Buffer => WeightData::Buffer(ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(label),
                    contents: bytemuck::cast_slice(&packed),
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                })),
                WeightStore::Texture => texture_part(ctx, label, packed),
            };
            parts.push(WeightPart { data, first_row, rows: n });
            first_row += n;
        }
        Ok(GpuWeight { dtype, rows, cols, store, parts })
    }

    pub fn gpu_bytes(&self) -> u64 {
        self.parts.iter().map(|p| p.bytes()).sum()
    }
}

/// A part's packed words as an rgba32uint texture, TEXTURE_WIDTH texels a row, the last row
/// padded with zeros (upload_split keeps the height within the device's limit).
fn texture_part(ctx: &GpuContext, label: &str, mut packed: Vec<u32>) -> WeightData {
    let texels = packed.len().div_ceil(4) as u32;
    let height = texels.div_ceil(TEXTURE_WIDTH).max(1);
    packed.resize((height * TEXTURE_WIDTH * 4) as usize, 0);
    let texture = ctx.device.create_texture_with_data(
        &ctx.queue,
        &texture_rows(label, height, wgpu::TextureFormat::Rgba32Uint, wgpu::TextureUsages::STORAGE_BINDING | wgpu::TextureUsages::COPY_DST),
        wgpu::util::TextureDataOrder::LayerMajor,
        bytemuck::cast_slice(&packed),
    );
    let view = texture.create_view(&Default::default());
    WeightData::Texture { texture, view }
}

/// A 2D texture of `height` rows of TEXTURE_WIDTH texels: the layout the shaders index
/// linearly (`i & 2047u, i >> 11u`), for weights and staged activations.
pub fn texture_rows(label: &str, height: u32, format: wgpu::TextureFormat, usage: wgpu::TextureUsages) -> wgpu::TextureDescriptor<'_> {
    wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d { width: TEXTURE_WIDTH, height, depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage,
        view_formats: &[],
    }
}

fn fmt_err(e: FormatError) -> GpuError {
    GpuError::Shape(e.to_string())
}
