//! Where a layer's K or V cache lives: [kv_head][cache row][head_dim] floats in a storage
//! buffer, or, where weights live in textures (CPU adapters), in an rgba32float texture, four
//! floats a texel in the weights' layout (texel.wgsl). On llvmpipe every storage load inside
//! a loop is a per-lane loop with bounds checks whatever its address, and attention is a loop
//! over cached keys: at 450 cached rows it took 60% of the 1.5B's pass from buffers
//! (docs/perf.md). Texel fetches are inlined gathers. rope_store.wgsl writes the cache and
//! attention*.wgsl read it through kv_*.wgsl, which hide the store.

use super::shaders::{KV_BUFFER, KV_STORE_BUFFER, KV_STORE_TEXTURE, KV_TEXTURE};
use super::weight::{texture_rows, TEXTURE_WIDTH};
use super::{BindKind, GpuBuffer, GpuContext, GpuError};

pub enum CacheStore {
    Buffer(GpuBuffer),
    Texture { texture: wgpu::Texture, view: wgpu::TextureView, floats: usize },
}

/// How a kernel reaches a layer's K and V caches: the suffix its pipeline key takes, the WGSL
/// access functions and bindings to prepend (kv_*.wgsl), and the kind of both bindings.
pub struct CacheAccess {
    pub key_suffix: &'static str,
    pub source: &'static str,
    pub kind: BindKind,
}

/// Checks that `k` and `v` share a store and hold at least `floats` each, and gives the access
/// of a kernel that reads them (attention) or appends to them (`append`: rope_store).
pub fn cache_access(kernel: &str, k: &CacheStore, v: &CacheStore, floats: usize, append: bool) -> Result<CacheAccess, GpuError> {
    if k.is_texture() != v.is_texture() {
        return Err(GpuError::Shape(format!("{kernel}: K and V caches in different stores")));
    }
    if k.floats().min(v.floats()) < floats {
        return Err(GpuError::Shape(format!("{kernel}: KV cache of {} floats, {floats} needed", k.floats().min(v.floats()))));
    }
    Ok(match (k.is_texture(), append) {
        (false, false) => CacheAccess { key_suffix: "", source: KV_BUFFER, kind: BindKind::Read },
        (true, false) => CacheAccess { key_suffix: "_kv_texture", source: KV_TEXTURE, kind: BindKind::FloatTexture },
        (false, true) => CacheAccess { key_suffix: "", source: KV_STORE_BUFFER, kind: BindKind::ReadWrite },
        (true, true) => CacheAccess { key_suffix: "_kv_texture", source: KV_STORE_TEXTURE, kind: BindKind::StorageTexture },
    })
}

/// One rectangle of a texture holding a run of texels laid out by texel.wgsl, and where its
/// texels start in the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TexelRect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub run_offset: u64,
}

/// The rectangles covering texels `start .. start + len` of a texture `width` texels wide: a
/// partial first row, whole rows, a partial last row (each part only where present).
pub fn texel_rects(start: u64, len: u64, width: u32) -> Vec<TexelRect> {
    let w = width as u64;
    let mut rects = Vec::new();
    let (mut at, end) = (start, start + len);
    while at < end {
        let (x, y) = (at % w, at / w);
        let n = if x == 0 && end - at >= w { (end - at) / w * w } else { (w - x).min(end - at) };
        let (width, height) = if x == 0 && n >= w { (width, (n / w) as u32) } else { (n as u32, 1) };
        rects.push(TexelRect { x: x as u32, y: y as u32, width, height, run_offset: at - start });
        at += n;
    }
    rects
}

impl CacheStore {
    const TEXTURE_USAGE: wgpu::TextureUsages =
        wgpu::TextureUsages::STORAGE_BINDING.union(wgpu::TextureUsages::COPY_SRC).union(wgpu::TextureUsages::COPY_DST);

    /// `floats` zeros, in a texture when `texture` (a whole number of texels, within the
    /// device's 2D limit: otherwise an error naming the sizes).
    pub fn zeros(ctx: &GpuContext, label: &str, floats: usize, texture: bool) -> Result<CacheStore, GpuError> {
        if !texture {
            return Ok(CacheStore::Buffer(GpuBuffer::zeros(ctx, label, floats)));
        }
        let height = Self::texture_height(ctx, label, floats)?;
        let texture = ctx.device.create_texture(&texture_rows(label, height, wgpu::TextureFormat::Rgba32Float, Self::TEXTURE_USAGE));
        let view = texture.create_view(&Default::default());
        Ok(CacheStore::Texture { texture, view, floats })
    }

    /// `data` in a buffer or a texture (tests fill caches with it).
    pub fn from_f32(ctx: &GpuContext, label: &str, data: &[f32], texture: bool) -> Result<CacheStore, GpuError> {
        let store = Self::zeros(ctx, label, data.len(), texture)?;
        match &store {
            CacheStore::Buffer(b) => ctx.queue.write_buffer(&b.buffer, 0, bytemuck::cast_slice(data)),
            CacheStore::Texture { texture, .. } => {
                for r in texel_rects(0, (data.len() / 4) as u64, TEXTURE_WIDTH) {
                    let from = r.run_offset as usize * 4;
                    let floats = (r.width * r.height) as usize * 4;
                    ctx.queue.write_texture(
                        wgpu::TexelCopyTextureInfo { texture, mip_level: 0, origin: wgpu::Origin3d { x: r.x, y: r.y, z: 0 }, aspect: wgpu::TextureAspect::All },
                        bytemuck::cast_slice(&data[from..from + floats]),
                        wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(r.width * 16), rows_per_image: None },
                        wgpu::Extent3d { width: r.width, height: r.height, depth_or_array_layers: 1 },
                    );
                }
            }
        }
        Ok(store)
    }

    fn texture_height(ctx: &GpuContext, label: &str, floats: usize) -> Result<u32, GpuError> {
        let limit = ctx.limits.max_texture_dimension_2d as u64;
        let height = (floats as u64).div_ceil(4 * TEXTURE_WIDTH as u64).max(1);
        if floats % 4 != 0 || height > limit {
            return Err(GpuError::Shape(format!(
                "{label}: {floats} floats do not fit an rgba32float texture of {TEXTURE_WIDTH} texels a row and at most {limit} rows"
            )));
        }
        Ok(height as u32)
    }

    /// Whether a cache of `floats` can be a texture on this device.
    pub fn texture_fits(ctx: &GpuContext, floats: usize) -> bool {
        Self::texture_height(ctx, "cache", floats).is_ok()
    }

    pub fn is_texture(&self) -> bool {
        matches!(self, CacheStore::Texture { .. })
    }

    pub fn binding(&self) -> wgpu::BindingResource<'_> {
        match self {
            CacheStore::Buffer(b) => b.buffer.as_entire_binding(),
            CacheStore::Texture { view, .. } => wgpu::BindingResource::TextureView(view),
        }
    }

    pub fn floats(&self) -> usize {
        match self {
            CacheStore::Buffer(b) => b.len,
            CacheStore::Texture { floats, .. } => *floats,
        }
    }

    /// Encodes copies of the float run `from .. from + len` to `to ..` through `scratch` (at
    /// least `len` floats; a buffer or texture cannot be copied onto itself). Runs of a texture
    /// are whole texels.
    pub fn encode_copy(&self, enc: &mut wgpu::CommandEncoder, scratch: &wgpu::Buffer, from: usize, to: usize, len: usize) {
        match self {
            CacheStore::Buffer(b) => {
                enc.copy_buffer_to_buffer(&b.buffer, from as u64 * 4, scratch, 0, len as u64 * 4);
                enc.copy_buffer_to_buffer(scratch, 0, &b.buffer, to as u64 * 4, len as u64 * 4);
            }
            CacheStore::Texture { texture, .. } => {
                debug_assert!(from % 4 == 0 && to % 4 == 0 && len % 4 == 0);
                let texels = (len / 4) as u64;
                let out = texel_rects(from as u64 / 4, texels, TEXTURE_WIDTH).into_iter().map(|r| (r, false));
                let back = texel_rects(to as u64 / 4, texels, TEXTURE_WIDTH).into_iter().map(|r| (r, true));
                for (r, into_texture) in out.chain(back) {
                    let tex = wgpu::TexelCopyTextureInfo { texture, mip_level: 0, origin: wgpu::Origin3d { x: r.x, y: r.y, z: 0 }, aspect: wgpu::TextureAspect::All };
                    let buf = wgpu::TexelCopyBufferInfo {
                        buffer: scratch,
                        // A row's bytes need no stride (and need not be a multiple of 256).
                        layout: wgpu::TexelCopyBufferLayout { offset: r.run_offset * 16, bytes_per_row: (r.height > 1).then_some(r.width * 16), rows_per_image: None },
                    };
                    let size = wgpu::Extent3d { width: r.width, height: r.height, depth_or_array_layers: 1 };
                    if into_texture {
                        enc.copy_buffer_to_texture(buf, tex, size);
                    } else {
                        enc.copy_texture_to_buffer(tex, buf, size);
                    }
                }
            }
        }
    }

    /// The whole cache, read back (tests).
    pub async fn read_f32(&self, ctx: &GpuContext) -> Result<Vec<f32>, GpuError> {
        match self {
            CacheStore::Buffer(b) => ctx.read_f32(&b.buffer, 0, b.len as u64).await,
            CacheStore::Texture { texture, floats, .. } => {
                let size = texture.size();
                let scratch = GpuBuffer::zeros(ctx, "cache read-back", (size.width * size.height * 4) as usize);
                let mut enc = ctx.device.create_command_encoder(&Default::default());
                let layout = wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(size.width * 16), rows_per_image: None };
                enc.copy_texture_to_buffer(texture.as_image_copy(), wgpu::TexelCopyBufferInfo { buffer: &scratch.buffer, layout }, size);
                ctx.queue.submit([enc.finish()]);
                ctx.read_f32(&scratch.buffer, 0, *floats as u64).await
            }
        }
    }
}
