//! Device, queue, limits and the pipeline cache.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use crate::ops::matmul::{WideTile, COOPERATIVE_CONSTANTS};
use crate::gpu::weight::WeightStore;
use crate::gpu::variant::ShaderVariant;

#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("no GPU adapter found{0}")]
    NoAdapter(String),
    #[error("could not open the GPU device: {0}")]
    Device(String),
    #[error("the adapter lacks what the model needs: {0}")]
    Limit(String),
    #[error("GPU read-back failed: {0}")]
    Readback(String),
    #[error("shader '{name}' failed to compile: {message}")]
    Shader { name: String, message: String },
    #[error("bad kernel arguments: {0}")]
    Shape(String),
    #[error("out of GPU memory {0}")]
    OutOfMemory(String),
    /// The device was lost (a driver reset, an unplugged GPU) or reported an error outside
    /// any error scope: nothing more can run on it.
    #[error("GPU fault: {0}")]
    Fault(String),
}

/// How to pick an adapter.
#[derive(Clone, Debug, Default)]
pub struct GpuOptions {
    /// Restrict to one backend ("vulkan", "metal", "dx12", "gl", "webgpu").
    pub backend: Option<String>,
    /// Pick the adapter whose name contains this text (case-insensitive).
    pub adapter_name: Option<String>,
    /// Split weights as if a storage binding held at most this many bytes (below the
    /// device's own limit): exercises the split path on devices with big bindings.
    pub max_binding_bytes: Option<u64>,
    /// Force a matrix-product shape instead of the one picked from the adapter (for
    /// measurements): see `ShapeFamily::from_name`.
    pub matmul: Option<ShapeFamily>,
    /// Force where weights live instead of the adapter's default (for measurements).
    pub weights: Option<WeightStore>,
    /// Whether row-shaped products over texture weights stage their input into a texture
    /// (default yes; no takes the fused path kept for textures too tall for the device).
    pub stage_activations: Option<bool>,
    /// The cooperative product's (WG, RPW, TM) instead of the default (tuning a new GPU;
    /// `kernels::matmul::parse_cooperative_shape`).
    pub cooperative_shape: Option<[(&'static str, u32); 3]>,
    /// The cooperative product's wide token tile for long launches (off by default: whether
    /// it pays depends on the GPU's registers; `kernels::matmul::parse_wide_tile`).
    pub wide_tile: Option<WideTile>,
    /// Fault injection for tests of what a lost GPU does to a caller (CLI, server, page): the
    /// device is destroyed just before this read-back (1: the first).
    pub lose_device_at_read_back: Option<u64>,
}

/// What the CLI shows of an adapter.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
}

impl AdapterSummary {
    fn of(info: &wgpu::AdapterInfo) -> Self {
        AdapterSummary {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: format!("{} {}", info.driver, info.driver_info).trim().to_string(),
        }
    }
}

impl std::fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {}, {})", self.name, self.backend, self.device_type, self.driver)
    }
}

pub fn parse_backends(name: Option<&str>) -> Result<wgpu::Backends, GpuError> {
    Ok(match name.map(|s| s.to_ascii_lowercase()).as_deref() {
        None | Some("auto") => wgpu::Backends::all(),
        Some("vulkan") => wgpu::Backends::VULKAN,
        Some("metal") => wgpu::Backends::METAL,
        Some("dx12") => wgpu::Backends::DX12,
        Some("gl") => wgpu::Backends::GL,
        Some("webgpu") => wgpu::Backends::BROWSER_WEBGPU,
        Some(other) => {
            return Err(GpuError::NoAdapter(format!(
                ": unknown backend '{other}' (vulkan, metal, dx12, gl, webgpu)"
            )))
        }
    })
}

/// The device every kernel runs on, with its limits and a cache of compiled pipelines.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter: AdapterSummary,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    /// Keyed by what the pipeline is made of (its whole source and bindings), so two variants
    /// can never share an entry, whatever their labels say.
    pipelines: Mutex<HashMap<(String, Vec<BindKind>), (String, Arc<wgpu::ComputePipeline>)>>,
    /// Every device-dependent choice, made once when the context opens.
    pub profile: DeviceProfile,
    /// The device's loss, or its first error outside an error scope.
    fault: Arc<Mutex<Option<String>>>,
    /// The texture staged activations pass through (ops/x_stage.rs) and its height.
    staging: Mutex<Option<(u32, wgpu::TextureView)>>,
    lose_device_at: Option<u64>,
    read_backs: AtomicU64,
}

/// What a device can do and how the kernels run on it: computed once, from the adapter, its
/// limits and features and the caller's `GpuOptions`, when the context opens; fixed after, so
/// every launcher prepared on the context sees the same choices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceProfile {
    /// Which kernel shapes run: GPU workgroups or CPU-adapter rows.
    pub shape_family: ShapeFamily,
    /// The subgroup size when subgroups are enabled and fixed.
    pub subgroup_size: Option<u32>,
    /// Whether weights can live in textures here (read-only rgba32 storage textures).
    pub texture_weights: bool,
    /// Whether an f16 KV cache can live in textures here (rg32uint storage textures, read and
    /// written).
    pub texture_f16_kv: bool,
    /// Where weights live.
    pub weight_store: WeightStore,
    /// Whether row-shaped products over texture weights stage their input into a texture.
    pub stage_activations: bool,
    /// The cooperative product's (WG, RPW, TM).
    pub cooperative_shape: [(&'static str, u32); 3],
    /// The cooperative product's wide token tile for long launches, if any.
    pub wide_tile: Option<WideTile>,
    /// A storage binding's size cap below the device's own (tests of the split path).
    pub binding_cap: u64,
}

/// How a kernel binds a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BindKind {
    Read,
    ReadWrite,
    Uniform,
    /// An rgba32uint texture, read as a read-only storage texture (weights in
    /// `WeightStore::Texture`).
    Texture,
    /// An rgba32float texture, read as a read-only storage texture (staged activations).
    FloatTexture,
    /// An rgba32float storage texture, written (x_stage.wgsl).
    StorageTexture,
    /// An rg32uint texture of packed halves, read as a read-only storage texture (an f16 KV
    /// cache).
    HalfTexture,
    /// An rg32uint storage texture of packed halves, written (an f16 KV cache).
    StorageTextureHalf,
}

impl BindKind {
    /// The access and format of a storage-texture binding; None for buffers.
    fn storage_texture(self) -> Option<(wgpu::StorageTextureAccess, wgpu::TextureFormat)> {
        use wgpu::StorageTextureAccess::{ReadOnly, WriteOnly};
        use wgpu::TextureFormat::{Rg32Uint, Rgba32Float, Rgba32Uint};
        match self {
            BindKind::Texture => Some((ReadOnly, Rgba32Uint)),
            BindKind::FloatTexture => Some((ReadOnly, Rgba32Float)),
            BindKind::StorageTexture => Some((WriteOnly, Rgba32Float)),
            BindKind::HalfTexture => Some((ReadOnly, Rg32Uint)),
            BindKind::StorageTextureHalf => Some((WriteOnly, Rg32Uint)),
            BindKind::Read | BindKind::ReadWrite | BindKind::Uniform => None,
        }
    }
}

/// Which family of kernel shapes a device runs: GPUs reduce across workgroups, CPU adapters
/// give each invocation whole rows. Products, attention and RMSNorm all follow it (the tests
/// force each family); the CLI's `--matmul` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShapeFamily {
    /// Invocations share a row and reduce through workgroup memory: for GPUs.
    Cooperative,
    /// Each invocation owns whole rows, no barriers: for CPU adapters (lavapipe, SwiftShader).
    RowPerInvocation,
    /// As RowPerInvocation, sharing activation loads through subgroup shuffles: for CPU
    /// adapters with fixed subgroups of at least 8.
    RowPerInvocationSubgroup,
}

impl ShapeFamily {
    pub const NAMES: [&'static str; 3] = ["cooperative", "rows", "rows-subgroup"];

    pub fn from_name(name: &str) -> Result<ShapeFamily, GpuError> {
        Ok(match name {
            "cooperative" => ShapeFamily::Cooperative,
            "rows" => ShapeFamily::RowPerInvocation,
            "rows-subgroup" => ShapeFamily::RowPerInvocationSubgroup,
            other => return Err(GpuError::Shape(format!("matmul shape '{other}': one of {}", Self::NAMES.join(", ")))),
        })
    }
}

impl GpuContext {
    /// Opens a device. Natively, `adapter_name` is matched against every adapter's name here
    /// (wgpu's own env-var matching panics on a miss).
    pub async fn new(opts: &GpuOptions) -> Result<Arc<GpuContext>, GpuError> {
        let backends = parse_backends(opts.backend.as_deref())?;
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends,
            ..wgpu::InstanceDescriptor::new_without_display_handle_from_env()
        });
        let adapter = pick_adapter(&instance, backends, opts).await?;
        let mut ctx = Self::from_adapter(adapter, instance.wgsl_language_features()).await?;
        let only = Arc::get_mut(&mut ctx).expect("a context nobody else holds yet");
        if let Some(v) = opts.matmul {
            if v == ShapeFamily::RowPerInvocationSubgroup && only.profile.subgroup_size.is_none() {
                return Err(GpuError::Limit(format!("{} has no fixed subgroups of 8+ for the rows-subgroup shape", only.adapter.name)));
            }
            only.profile.shape_family = v;
        }
        if let Some(w) = opts.weights {
            if w == WeightStore::Texture && !only.profile.texture_weights {
                return Err(GpuError::Limit(format!("{} cannot read rgba32 storage textures, which weights in textures need", only.adapter.name)));
            }
            only.profile.weight_store = w;
        }
        only.profile.wide_tile = opts.wide_tile;
        only.profile.stage_activations = opts.stage_activations.unwrap_or(true);
        if let Some(cap) = opts.max_binding_bytes {
            only.profile.binding_cap = cap.max(4096);
        }
        if let Some(shape) = opts.cooperative_shape {
            only.profile.cooperative_shape = shape;
        }
        only.lose_device_at = opts.lose_device_at_read_back;
        Ok(ctx)
    }

    /// Opens a device on `adapter`; `wgsl` is what the instance's shader compiler accepts.
    pub async fn from_adapter(adapter: wgpu::Adapter, wgsl: wgpu::WgslLanguageFeatures) -> Result<Arc<GpuContext>, GpuError> {
        let info = adapter.get_info();
        // Weights and staged activations in textures are read as read-only storage textures
        // (on lavapipe a fetch costs about 20% less than a sampled texture's); browsers before
        // WGSL's readonly_and_readwrite_storage_textures keep their weights in buffers.
        let storage_read = |f| adapter.get_texture_format_features(f).flags.contains(wgpu::TextureFormatFeatureFlags::STORAGE_READ_ONLY);
        let texture_weights = wgsl.contains(wgpu::WgslLanguageFeatures::ReadOnlyAndReadWriteStorageTextures)
            && storage_read(wgpu::TextureFormat::Rgba32Uint)
            && storage_read(wgpu::TextureFormat::Rgba32Float);
        let texture_f16_kv = texture_weights
            && storage_read(wgpu::TextureFormat::Rg32Uint)
            && adapter.get_texture_format_features(wgpu::TextureFormat::Rg32Uint).flags.contains(wgpu::TextureFormatFeatureFlags::STORAGE_WRITE_ONLY);
        let adapter_limits = adapter.limits();
        // Ask for the adapter's own maxima for what weights need; keep defaults elsewhere.
        let mut limits = wgpu::Limits::downlevel_defaults();
        limits.max_storage_buffer_binding_size = adapter_limits.max_storage_buffer_binding_size;
        limits.max_buffer_size = adapter_limits.max_buffer_size;
        limits.max_storage_buffers_per_shader_stage =
            adapter_limits.max_storage_buffers_per_shader_stage.min(10);
        limits.max_compute_workgroup_storage_size = adapter_limits.max_compute_workgroup_storage_size;
        limits.max_compute_invocations_per_workgroup =
            adapter_limits.max_compute_invocations_per_workgroup;
        limits.max_compute_workgroup_size_x = adapter_limits.max_compute_workgroup_size_x;
        limits.max_compute_workgroups_per_dimension =
            adapter_limits.max_compute_workgroups_per_dimension;
        limits.max_texture_dimension_2d = adapter_limits.max_texture_dimension_2d;
        if limits.max_compute_invocations_per_workgroup < 64 || limits.max_compute_workgroup_size_x < 64 {
            return Err(GpuError::Limit(format!(
                "{} allows only {} invocations per workgroup; 64 are needed",
                info.name, limits.max_compute_invocations_per_workgroup
            )));
        }
        if limits.max_storage_buffers_per_shader_stage < 8 {
            return Err(GpuError::Limit(format!(
                "{} allows {} storage buffers per stage; 8 are needed",
                info.name, limits.max_storage_buffers_per_shader_stage
            )));
        }
        let features = adapter.features() & wgpu::Features::SUBGROUP;
        // Subgroup shuffles share activations only where subgroups have a fixed size of 8+ (a
        // power of two, as Vulkan's are: the attention kernels' runs of keys are whole tiles of 8).
        let fixed_subgroups = features.contains(wgpu::Features::SUBGROUP)
            && info.subgroup_min_size == info.subgroup_max_size
            && info.subgroup_min_size >= 8
            && info.subgroup_min_size.is_power_of_two();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("cospec"),
                required_features: features,
                required_limits: limits.clone(),
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| GpuError::Device(e.to_string()))?;
        // A lost device, or the first error raised outside an error scope, fails the next
        // read-back (and every later one). Natively wgpu's default handler would panic (a lost
        // device raises one at the next call); in the browser it only logs, and a pipeline the
        // browser refuses (error scopes cannot be waited on there) would then silently skip
        // its dispatches and give wrong tokens: a fault names it instead.
        let fault: Arc<Mutex<Option<String>>> = Arc::default();
        let lost = fault.clone();
        device.set_device_lost_callback(move |reason, message| {
            *lost.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("the device was lost ({reason:?}) {message}").trim_end().to_string());
        });
        let uncaptured = fault.clone();
        device.on_uncaptured_error(Arc::new(move |e| {
            uncaptured.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(|| e.to_string());
        }));
        Ok(Arc::new(GpuContext {
            device,
            queue,
            adapter: AdapterSummary::of(&info),
            limits,
            features,
            pipelines: Mutex::new(HashMap::new()),
            profile: DeviceProfile {
                shape_family: match (info.device_type == wgpu::DeviceType::Cpu, fixed_subgroups) {
                    (true, true) => ShapeFamily::RowPerInvocationSubgroup,
                    (true, false) => ShapeFamily::RowPerInvocation,
                    _ => ShapeFamily::Cooperative,
                },
                subgroup_size: fixed_subgroups.then_some(info.subgroup_min_size),
                texture_weights,
                texture_f16_kv,
                weight_store: if info.device_type == wgpu::DeviceType::Cpu && texture_weights { WeightStore::Texture } else { WeightStore::Buffer },
                stage_activations: true,
                cooperative_shape: COOPERATIVE_CONSTANTS,
                wide_tile: None,
                binding_cap: u64::MAX,
            },
            fault,
            staging: Mutex::new(None),
            lose_device_at: None,
            read_backs: AtomicU64::new(0),
        }))
    }

    /// Whether kernels take their CPU shapes (no workgroup memory, no barriers): follows the
    /// matmul choice, so tests that force a shape exercise the whole family.
    pub fn cpu_shapes(&self) -> bool {
        self.shape_family() != ShapeFamily::Cooperative
    }

    /// The cooperative product's (WG, RPW, TM).
    pub fn cooperative_shape(&self) -> [(&'static str, u32); 3] {
        self.profile.cooperative_shape
    }

    /// The cooperative products' wide token tile for long launches, if any.
    pub fn wide_tile(&self) -> Option<WideTile> {
        self.profile.wide_tile
    }

    /// Where weights live on this device.
    pub fn weight_store(&self) -> WeightStore {
        self.profile.weight_store
    }

    /// Whether row-shaped products over texture weights stage their input into a texture
    /// (ops/x_stage.rs). Off, they read the activation buffer with the input stage fused,
    /// as they must where the texture would exceed the device's 2D limit: tests cover that
    /// path on small products, measurements compare the two.
    pub fn stages_activations(&self) -> bool {
        self.profile.stage_activations
    }

    /// A staging texture of at least `height` rows, shared by every staged product of this
    /// device: each product's stage kernel fills it in the dispatch right before the product
    /// reads it, in the same pass, so products (of any model on the device) never need their
    /// own. A taller request replaces it for later products; earlier ones keep theirs alive.
    pub fn staging_texture(&self, height: u32) -> wgpu::TextureView {
        let mut staging = self.staging.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((h, view)) = staging.as_ref() {
            if *h >= height {
                return view.clone();
            }
        }
        let texture = self.device.create_texture(&crate::gpu::weight::texture_rows(
            "staged activations",
            height,
            wgpu::TextureFormat::Rgba32Float,
            wgpu::TextureUsages::STORAGE_BINDING,
        ));
        let view = texture.create_view(&Default::default());
        *staging = Some((height, view.clone()));
        view
    }

    pub fn shape_family(&self) -> ShapeFamily {
        self.profile.shape_family
    }

    /// Largest byte size one storage binding may have on this device.
    pub fn max_binding_bytes(&self) -> u64 {
        self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size).min(self.profile.binding_cap)
    }

    /// Runs `f`, which allocates on the device, and returns the device running out of memory
    /// during it as an error (`OutOfMemory` with `what`) instead of leaving it to wgpu's
    /// uncaptured-error handler, which panics. The validation errors that follow from a
    /// failed allocation (bind groups over the invalid buffer) are caught with it; one
    /// without it is a `Limit` error. Natively the scopes resolve at once; in the browser an
    /// unresolved scope reads as no error and the error becomes the context's fault.
    pub fn allocating<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T, GpuError> {
        let memory = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let invalid = scope_error_if_resolved(validation.pop());
        if let Some(e) = scope_error_if_resolved(memory.pop()) {
            return Err(GpuError::OutOfMemory(format!("{what} ({e})")));
        }
        match invalid {
            Some(e) => Err(GpuError::Limit(format!("{what}: {e}"))),
            None => Ok(out),
        }
    }

    /// The pipeline of `v`, compiled once per distinct source and bindings.
    pub fn build(&self, v: &ShaderVariant) -> Result<Arc<wgpu::ComputePipeline>, GpuError> {
        self.pipeline(&v.label, &v.source, &v.kinds)
    }

    /// Every pipeline built so far: what the launchers asked for.
    pub fn built(&self) -> Vec<ShaderVariant> {
        let cache = self.pipelines.lock().unwrap_or_else(|p| p.into_inner());
        cache.iter().map(|((source, kinds), (label, _))| ShaderVariant { label: label.clone(), source: source.clone(), kinds: kinds.clone() }).collect()
    }

    /// A compute pipeline for WGSL `source` with bindings `kinds` (binding i of group 0),
    /// compiled once per distinct source and bindings; `key` names it in labels and errors.
    /// Explicit layouts let a shader leave a binding unused.
    pub fn pipeline(&self, key: &str, source: &str, kinds: &[BindKind]) -> Result<Arc<wgpu::ComputePipeline>, GpuError> {
        let mut cache = self.pipelines.lock().unwrap_or_else(|p| p.into_inner());
        let id = (source.to_string(), kinds.to_vec());
        if let Some((_, p)) = cache.get(&id) {
            return Ok(p.clone());
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let desc = wgpu::ShaderModuleDescriptor {
            label: Some(key),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        };
        // Bounds checks stay; naga's loop bounding goes. It gives every loop a 64-bit
        // countdown and a second exit, so no compiler can count the loop's trips: llvmpipe
        // neither unrolls a loop over a head or a tile's keys nor drops its per-lane masks,
        // and paid 1.4x in attention for them (the products did not move; docs/perf.md).
        // SAFETY: the loop-bounding promise (no shader loops forever) holds: every loop counts
        // by a constant step towards a size or position bound and nothing else assigns its
        // counter (tests/shaders.rs `every_shader_loop_visibly_ends`). The browser's WebGPU
        // compiles with its own checks and ignores these.
        let checks = wgpu::ShaderRuntimeChecks { force_loop_bounding: false, ..wgpu::ShaderRuntimeChecks::checked() };
        let module = unsafe { self.device.create_shader_module_trusted(desc, checks) };
        let entries: Vec<wgpu::BindGroupLayoutEntry> = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: match k.storage_texture() {
                    Some((access, format)) => {
                        wgpu::BindingType::StorageTexture { access, format, view_dimension: wgpu::TextureViewDimension::D2 }
                    }
                    None => wgpu::BindingType::Buffer {
                        ty: match k {
                            BindKind::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                            BindKind::Uniform => wgpu::BufferBindingType::Uniform,
                            _ => wgpu::BufferBindingType::Storage { read_only: true },
                        },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                },
                count: None,
            })
            .collect();
        let bgl = self.device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(key), entries: &entries });
        let layout = self.device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(key),
            bind_group_layouts: &[Some(&bgl)],
            immediate_size: 0,
        });
        let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(key),
            layout: Some(&layout),
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        if let Some(err) = scope_error_if_resolved(scope.pop()) {
            return Err(GpuError::Shader { name: key.to_string(), message: err.to_string() });
        }
        let p = Arc::new(pipeline);
        cache.insert(id, (key.to_string(), p.clone()));
        Ok(p)
    }

    /// Reads back `size` bytes of `buffer` from `offset`.
    pub async fn read_bytes(
        &self,
        buffer: &wgpu::Buffer,
        offset: u64,
        size: u64,
    ) -> Result<Vec<u8>, GpuError> {
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(buffer, offset, &staging, 0, size);
        self.queue.submit([enc.finish()]);
        self.map_and_read(&staging).await
    }

    /// Waits for everything submitted so far (natively; in the browser it returns at once).
    pub fn wait_idle(&self) {
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
    }

    /// The device's loss or first unscoped error, if any.
    pub fn fault(&self) -> Result<(), GpuError> {
        match self.fault.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(f) => Err(GpuError::Fault(f.clone())),
            None => Ok(()),
        }
    }

    /// Maps a MAP_READ buffer and copies it out.
    pub async fn map_and_read(&self, staging: &wgpu::Buffer) -> Result<Vec<u8>, GpuError> {
        if self.lose_device_at.is_some_and(|n| self.read_backs.fetch_add(1, Ordering::Relaxed) + 1 == n) {
            self.device.destroy();
        }
        self.fault()?;
        let (tx, rx) = futures_channel::oneshot::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        // Natively this waits for the GPU; in the browser it returns at once and the promise drives it.
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
        let mapped = rx.await;
        self.fault()?;
        mapped
            .map_err(|_| GpuError::Readback("the map callback was dropped".into()))?
            .map_err(|e| GpuError::Readback(e.to_string()))?;
        let data = staging
            .slice(..)
            .get_mapped_range()
            .map_err(|e| GpuError::Readback(e.to_string()))?
            .to_vec();
        staging.unmap();
        Ok(data)
    }

    pub async fn read_f32(&self, buffer: &wgpu::Buffer, offset_elems: u64, n: u64) -> Result<Vec<f32>, GpuError> {
        let bytes = self.read_bytes(buffer, offset_elems * 4, n * 4).await?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    pub async fn read_u32(&self, buffer: &wgpu::Buffer, offset_elems: u64, n: u64) -> Result<Vec<u32>, GpuError> {
        let bytes = self.read_bytes(buffer, offset_elems * 4, n * 4).await?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }
}

/// Lists the adapters of `backends` (empty in browsers that do not enumerate).
pub async fn list_adapters(backends: wgpu::Backends) -> Vec<AdapterSummary> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends,
        ..wgpu::InstanceDescriptor::new_without_display_handle_from_env()
    });
    instance.enumerate_adapters(backends).await.iter().map(|a| AdapterSummary::of(&a.get_info())).collect()
}

async fn pick_adapter(
    instance: &wgpu::Instance,
    backends: wgpu::Backends,
    opts: &GpuOptions,
) -> Result<wgpu::Adapter, GpuError> {
    if let Some(want) = &opts.adapter_name {
        let adapters = instance.enumerate_adapters(backends).await;
        let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
        let want_lc = want.to_lowercase();
        return adapters
            .into_iter()
            .find(|a| a.get_info().name.to_lowercase().contains(&want_lc))
            .ok_or_else(|| {
                GpuError::NoAdapter(format!(" named like '{want}'; adapters present: {names:?}"))
            });
    }
    instance
        .request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
            apply_limit_buckets: false,
        })
        .await
        .map_err(|e| GpuError::NoAdapter(format!(" ({e})")))
}

/// A popped error scope's error, if the scope has already resolved. Natively scopes resolve
/// when popped; in the browser they resolve later, and model building cannot await, so there
/// this reads as no error and the error reaches the device's handler, which keeps it as the
/// context's fault (the next read-back fails with it).
fn scope_error_if_resolved(fut: impl std::future::Future<Output = Option<wgpu::Error>>) -> Option<wgpu::Error> {
    use std::task::{Context, Poll, Waker};
    let mut cx = Context::from_waker(Waker::noop());
    let mut fut = std::pin::pin!(fut);
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(e) => e,
        Poll::Pending => None,
    }
}
