//! Weight matrices kept quantized in GPU memory, split by rows over several buffers when one
//! binding cannot hold them (e.g. a 151936-row embedding on a 128 MiB-binding device).

use super::{GpuContext, GpuError};
use crate::formats::{gpu_pack::pack_for_gpu, DType, FormatError};
use wgpu::util::DeviceExt;

pub struct WeightPart {
    pub buffer: wgpu::Buffer,
    pub first_row: usize,
    pub rows: usize,
}

pub struct GpuWeight {
    pub dtype: DType,
    pub rows: usize,
    pub cols: usize,
    pub parts: Vec<WeightPart>,
}

impl GpuWeight {
    /// Chunks of 32 weights per row (the unit shaders dequantize).
    pub fn chunks_per_row(&self) -> usize {
        self.cols / 32
    }

    /// Where a part's scale region starts, in u32 words.
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
        let row_bytes_gpu = (dtype.gpu_row_words(cols) * 4) as u64;
        let rows_per_part = (max_part_bytes.min(ctx.max_binding_bytes()) / row_bytes_gpu) as usize;
        if rows_per_part == 0 {
            return Err(GpuError::Limit(format!(
                "{label}: one row takes {row_bytes_gpu} bytes, more than a {}-byte binding",
                max_part_bytes.min(ctx.max_binding_bytes())
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
            let buffer = ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::cast_slice(&packed),
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            });
            parts.push(WeightPart { buffer, first_row, rows: n });
            first_row += n;
        }
        Ok(GpuWeight { dtype, rows, cols, parts })
    }

    pub fn gpu_bytes(&self) -> u64 {
        self.parts.iter().map(|p| p.buffer.size()).sum()
    }
}

fn fmt_err(e: FormatError) -> GpuError {
    GpuError::Shape(e.to_string())
}
