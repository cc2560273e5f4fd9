//! Where a layer's K or V cache lives: [kv_head][cache row][head_dim] values, f16 (the
//! default in buffers: half the bytes every decoded token reads, llama.cpp's default) or f32,
//! in a storage buffer, or, where weights live in textures (CPU adapters), in an rg32uint (four
//! packed halves) or rgba32float texture, four values a texel in the weights' layout
//! (texel.wgsl). On llvmpipe every storage load inside a loop is a per-lane loop with bounds
//! checks whatever its address, and attention is a loop over cached keys: at 450 cached rows
//! it took 60% of the 1.5B's pass from buffers (docs/perf.md). Texel fetches are inlined
//! gathers. rope_store.wgsl writes the cache and attention*.wgsl read it through kv_*.wgsl,
//! which hide the store.

use super::shaders::{
    KV_BUFFER, KV_BUFFER_F16, KV_STORE_BUFFER, KV_STORE_BUFFER_F16, KV_STORE_TEXTURE, KV_STORE_TEXTURE_F16, KV_TEXTURE, KV_TEXTURE_F16,
};
use super::weight::{texture_rows, TEXTURE_WIDTH};
use super::{BindKind, GpuBuffer, GpuContext, GpuError};
use half::f16;

/// The element type of the KV cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvType {
    F16,
    F32,
}

impl KvType {
    pub const NAMES: [&'static str; 2] = ["f16", "f32"];

    /// The default for a cache in buffers (GPUs: f16, half the bytes each decoded token
    /// reads) or in textures (CPU adapters: f32). On llvmpipe an f16 cache, in rgba16float or
    /// rg32uint textures alike, gave SmolLM2's 512-token prompt 10-16% fewer tokens a second
    /// and decode after 2,048 tokens nothing: there attention is bound by arithmetic, not by
    /// the bytes it reads (docs/perf.md).
    pub fn for_store(texture: bool) -> KvType {
        if texture {
            KvType::F32
        } else {
            KvType::F16
        }
    }

    pub fn from_name(name: &str) -> Option<KvType> {
        match name {
            "f16" => Some(KvType::F16),
            "f32" => Some(KvType::F32),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KvType::F16 => "f16",
            KvType::F32 => "f32",
        }
    }

    pub fn bytes(self) -> usize {
        match self {
            KvType::F16 => 2,
            KvType::F32 => 4,
        }
    }

    fn texture_format(self) -> wgpu::TextureFormat {
        match self {
            KvType::F16 => wgpu::TextureFormat::Rg32Uint,
            KvType::F32 => wgpu::TextureFormat::Rgba32Float,
        }
    }
}

pub struct CacheStore {
    store: Store,
    kv_type: KvType,
    /// Values held (not bytes, not words).
    len: usize,
}

enum Store {
    Buffer(GpuBuffer),
    Texture { texture: wgpu::Texture, view: wgpu::TextureView },
}

/// How a kernel reaches a layer's K and V caches: the suffix its pipeline key takes, the WGSL
/// access functions and bindings to prepend (kv_*.wgsl), and the kind of both bindings.
pub struct CacheAccess {
    pub key_suffix: &'static str,
    pub source: &'static str,
    pub kind: BindKind,
}

/// Checks that `k` and `v` share a store and hold at least `floats` values each, and gives the access
/// of a kernel that reads them (attention) or appends to them (`append`: rope_store).
pub fn cache_access(kernel: &str, k: &CacheStore, v: &CacheStore, floats: usize, append: bool) -> Result<CacheAccess, GpuError> {
    if k.is_texture() != v.is_texture() || k.kv_type != v.kv_type {
        return Err(GpuError::Shape(format!("{kernel}: K and V caches in different stores")));
    }
    if k.len.min(v.len) < floats {
        return Err(GpuError::Shape(format!("{kernel}: KV cache of {} values, {floats} needed", k.len.min(v.len))));
    }
    Ok(cache_layout_access(k.is_texture(), k.kv_type, append))
}

/// Every (in textures, element type) a KV cache can have.
pub const CACHE_LAYOUTS: [(bool, KvType); 4] = [(false, KvType::F32), (false, KvType::F16), (true, KvType::F32), (true, KvType::F16)];

/// The access of a kernel that reads (attention) or appends to (`append`: rope_store) a cache
/// in textures or buffers of `kv_type`.
pub fn cache_layout_access(texture: bool, kv_type: KvType, append: bool) -> CacheAccess {
    let f16 = kv_type == KvType::F16;
    let key_suffix = match (texture, f16) {
        (false, false) => "",
        (false, true) => "_kv_f16",
        (true, false) => "_kv_texture",
        (true, true) => "_kv_texture_f16",
    };
    let (source, kind) = match (texture, f16, append) {
        (false, false, false) => (KV_BUFFER, BindKind::Read),
        (false, true, false) => (KV_BUFFER_F16, BindKind::Read),
        (true, false, false) => (KV_TEXTURE, BindKind::FloatTexture),
        (true, true, false) => (KV_TEXTURE_F16, BindKind::HalfTexture),
        (false, false, true) => (KV_STORE_BUFFER, BindKind::ReadWrite),
        (false, true, true) => (KV_STORE_BUFFER_F16, BindKind::ReadWrite),
        (true, false, true) => (KV_STORE_TEXTURE, BindKind::StorageTexture),
        (true, true, true) => (KV_STORE_TEXTURE_F16, BindKind::StorageTextureHalf),
    };
    CacheAccess { key_suffix, source, kind }
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

    /// `len` zero values of `kv_type`, in a texture when `texture` (a whole number of texels,
    /// within the device's 2D limit: otherwise an error naming the sizes).
    pub fn zeros(ctx: &GpuContext, label: &str, len: usize, kv_type: KvType, texture: bool) -> Result<CacheStore, GpuError> {
        if len % 4 != 0 {
            return Err(GpuError::Shape(format!("{label}: {len} values are not whole groups of four")));
        }
        if !texture {
            let words = len * kv_type.bytes() / 4;
            return Ok(CacheStore { store: Store::Buffer(GpuBuffer::zeros(ctx, label, words)), kv_type, len });
        }
        if kv_type == KvType::F16 && !ctx.profile.texture_f16_kv {
            return Err(GpuError::Shape(format!("{label}: {} cannot read and write rg32uint storage textures", ctx.adapter.name)));
        }
        let height = Self::texture_height(ctx, label, len)?;
        let texture = ctx.device.create_texture(&texture_rows(label, height, kv_type.texture_format(), Self::TEXTURE_USAGE));
        let view = texture.create_view(&Default::default());
        Ok(CacheStore { store: Store::Texture { texture, view }, kv_type, len })
    }

    /// `data` in a buffer or a texture, rounded to `kv_type` (tests fill caches with it).
    pub fn from_f32(ctx: &GpuContext, label: &str, data: &[f32], kv_type: KvType, texture: bool) -> Result<CacheStore, GpuError> {
        let store = Self::zeros(ctx, label, data.len(), kv_type, texture)?;
        let bytes: Vec<u8> = match kv_type {
            KvType::F32 => bytemuck::cast_slice(data).to_vec(),
            KvType::F16 => data.iter().flat_map(|x| f16::from_f32(*x).to_le_bytes()).collect(),
        };
        let texel_bytes = 4 * kv_type.bytes();
        match &store.store {
            Store::Buffer(b) => ctx.queue.write_buffer(&b.buffer, 0, &bytes),
            Store::Texture { texture, .. } => {
                for r in texel_rects(0, (data.len() / 4) as u64, TEXTURE_WIDTH) {
                    let from = r.run_offset as usize * texel_bytes;
                    let n = (r.width * r.height) as usize * texel_bytes;
                    ctx.queue.write_texture(
                        wgpu::TexelCopyTextureInfo { texture, mip_level: 0, origin: wgpu::Origin3d { x: r.x, y: r.y, z: 0 }, aspect: wgpu::TextureAspect::All },
                        &bytes[from..from + n],
                        wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(r.width * texel_bytes as u32), rows_per_image: None },
                        wgpu::Extent3d { width: r.width, height: r.height, depth_or_array_layers: 1 },
                    );
                }
            }
        }
        Ok(store)
    }

    fn texture_height(ctx: &GpuContext, label: &str, len: usize) -> Result<u32, GpuError> {
        let limit = ctx.limits.max_texture_dimension_2d as u64;
        let height = (len as u64).div_ceil(4 * TEXTURE_WIDTH as u64).max(1);
        if len % 4 != 0 || height > limit {
            return Err(GpuError::Shape(format!(
                "{label}: {len} values do not fit a texture of {TEXTURE_WIDTH} four-value texels a row and at most {limit} rows"
            )));
        }
        Ok(height as u32)
    }

    /// Whether a cache of `len` values of `kv_type` can be a texture on this device.
    pub fn texture_fits(ctx: &GpuContext, len: usize, kv_type: KvType) -> bool {
        (kv_type == KvType::F32 || ctx.profile.texture_f16_kv) && Self::texture_height(ctx, "cache", len).is_ok()
    }

    pub fn is_texture(&self) -> bool {
        matches!(self.store, Store::Texture { .. })
    }

    pub fn kv_type(&self) -> KvType {
        self.kv_type
    }

    pub fn binding(&self) -> wgpu::BindingResource<'_> {
        match &self.store {
            Store::Buffer(b) => b.buffer.as_entire_binding(),
            Store::Texture { view, .. } => wgpu::BindingResource::TextureView(view),
        }
    }

    /// Values held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Encodes copies of the value run `from .. from + len` to `to ..` through `scratch` (at
    /// least `len` f32s; a buffer or texture cannot be copied onto itself). Runs are whole
    /// groups of four values.
    pub fn encode_copy(&self, enc: &mut wgpu::CommandEncoder, scratch: &wgpu::Buffer, from: usize, to: usize, len: usize) {
        debug_assert!(from % 4 == 0 && to % 4 == 0 && len % 4 == 0);
        let b = self.kv_type.bytes() as u64;
        match &self.store {
            Store::Buffer(buf) => {
                enc.copy_buffer_to_buffer(&buf.buffer, from as u64 * b, scratch, 0, len as u64 * b);
                enc.copy_buffer_to_buffer(scratch, 0, &buf.buffer, to as u64 * b, len as u64 * b);
            }
            Store::Texture { texture, .. } => {
                let texel = 4 * b;
                let texels = (len / 4) as u64;
                let out = texel_rects(from as u64 / 4, texels, TEXTURE_WIDTH).into_iter().map(|r| (r, false));
                let back = texel_rects(to as u64 / 4, texels, TEXTURE_WIDTH).into_iter().map(|r| (r, true));
                for (r, into_texture) in out.chain(back) {
                    let tex = wgpu::TexelCopyTextureInfo { texture, mip_level: 0, origin: wgpu::Origin3d { x: r.x, y: r.y, z: 0 }, aspect: wgpu::TextureAspect::All };
                    let buf = wgpu::TexelCopyBufferInfo {
                        buffer: scratch,
                        // A row's bytes need no stride (and need not be a multiple of 256).
                        layout: wgpu::TexelCopyBufferLayout {
                            offset: r.run_offset * texel,
                            bytes_per_row: (r.height > 1).then_some(r.width * texel as u32),
                            rows_per_image: None,
                        },
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

    /// The whole cache, read back as f32 (tests).
    pub async fn read_f32(&self, ctx: &GpuContext) -> Result<Vec<f32>, GpuError> {
        let bytes = match &self.store {
            Store::Buffer(b) => ctx.read_bytes(&b.buffer, 0, (self.len * self.kv_type.bytes()) as u64).await?,
            Store::Texture { texture, .. } => {
                let size = texture.size();
                let texel = 4 * self.kv_type.bytes() as u32;
                let scratch = GpuBuffer::zeros(ctx, "cache read-back", (size.width * size.height * texel / 4) as usize);
                let mut enc = ctx.device.create_command_encoder(&Default::default());
                let layout = wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(size.width * texel), rows_per_image: None };
                enc.copy_texture_to_buffer(texture.as_image_copy(), wgpu::TexelCopyBufferInfo { buffer: &scratch.buffer, layout }, size);
                ctx.queue.submit([enc.finish()]);
                ctx.read_bytes(&scratch.buffer, 0, (self.len * self.kv_type.bytes()) as u64).await?
            }
        };
        Ok(match self.kv_type {
            KvType::F32 => bytemuck::pod_collect_to_vec(&bytes),
            KvType::F16 => bytes.chunks_exact(2).map(|h| f16::from_le_bytes([h[0], h[1]]).to_f32()).collect(),
        })
    }
}
