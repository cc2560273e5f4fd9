//! Plain f32/u32 GPU buffers with their element count, so a size mismatch is caught before a dispatch.

use super::GpuContext;
use wgpu::util::DeviceExt;

pub struct GpuBuffer {
    pub buffer: wgpu::Buffer,
    /// Element count (4-byte elements).
    pub len: usize,
}

const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_DST)
    .union(wgpu::BufferUsages::COPY_SRC);

impl GpuBuffer {
    pub fn zeros(ctx: &GpuContext, label: &str, len: usize) -> GpuBuffer {
        let buffer = ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (len.max(1) * 4) as u64,
            usage: STORAGE,
            mapped_at_creation: false,
        });
        GpuBuffer { buffer, len }
    }

    pub fn from_f32(ctx: &GpuContext, label: &str, data: &[f32]) -> GpuBuffer {
        Self::from_words(ctx, label, bytemuck::cast_slice(data), wgpu::BufferUsages::empty())
    }

    pub fn from_u32(ctx: &GpuContext, label: &str, data: &[u32]) -> GpuBuffer {
        Self::from_words(ctx, label, data, wgpu::BufferUsages::empty())
    }

    pub fn uniform(ctx: &GpuContext, label: &str, data: &[u32]) -> GpuBuffer {
        let mut padded = data.to_vec();
        padded.resize(data.len().div_ceil(4).max(1) * 4, 0);
        let buffer = ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::cast_slice(&padded),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        GpuBuffer { buffer, len: padded.len() }
    }

    fn from_words(ctx: &GpuContext, label: &str, data: &[u32], extra: wgpu::BufferUsages) -> GpuBuffer {
        let contents: &[u8] = if data.is_empty() { &[0u8; 4] } else { bytemuck::cast_slice(data) };
        let buffer = ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents,
            usage: STORAGE | extra,
        });
        GpuBuffer { buffer, len: data.len() }
    }

    pub fn write_f32(&self, ctx: &GpuContext, offset_elems: usize, data: &[f32]) {
        ctx.queue.write_buffer(&self.buffer, (offset_elems * 4) as u64, bytemuck::cast_slice(data));
    }

    pub fn write_u32(&self, ctx: &GpuContext, offset_elems: usize, data: &[u32]) {
        ctx.queue.write_buffer(&self.buffer, (offset_elems * 4) as u64, bytemuck::cast_slice(data));
    }

    pub async fn read_f32(&self, ctx: &GpuContext) -> Result<Vec<f32>, super::GpuError> {
        ctx.read_f32(&self.buffer, 0, self.len as u64).await
    }

    pub async fn read_u32(&self, ctx: &GpuContext) -> Result<Vec<u32>, super::GpuError> {
        ctx.read_u32(&self.buffer, 0, self.len as u64).await
    }

    pub fn binding(&self) -> wgpu::BindingResource<'_> {
        self.buffer.as_entire_binding()
    }
}
