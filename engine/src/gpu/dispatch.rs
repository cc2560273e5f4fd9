//! A prepared kernel launch: pipeline, bind group (built once, at load) and a grid rule that
//! turns the block's token count into workgroup counts at encode time.

use super::{GpuBuffer, GpuContext, GpuError};
use std::sync::Arc;

#[derive(Clone, Copy, Debug)]
pub enum Grid {
    /// A fixed number of workgroups.
    Fixed(u32),
    /// `x` workgroups for each token of the block (token index in y).
    PerToken(u32),
    /// `x` workgroups for each `tile` tokens of the block (tile index in y).
    TokenTiles { x: u32, tile: u32 },
    /// `x` workgroups for each logits row (row index in y).
    PerLogitsRow(u32),
    /// `n` invocations of 64 per token, folded into 2D when too many for one dimension.
    Elementwise { per_token: u32 },
}

pub struct Dispatch {
    pub label: &'static str,
    pipeline: Arc<wgpu::ComputePipeline>,
    bind_group: wgpu::BindGroup,
    grid: Grid,
    tiled: Option<TiledPipeline>,
    // Keeps the per-launch parameter buffer alive with its bind group.
    _params: Option<GpuBuffer>,
}

/// A second pipeline over the same buffers, for some of a block's tokens (counted as the
/// launch counts them: the block's, or its logits rows).
struct TiledPipeline {
    pipeline: Arc<wgpu::ComputePipeline>,
    bind_group: wgpu::BindGroup,
    rule: TileRule,
    counts_logits_rows: bool,
    /// Its own grid rule, where it differs from the plain pipeline's.
    grid: Grid,
}

/// Which tokens of a launch a dispatch's second pipeline takes.
#[derive(Clone, Copy, Debug)]
pub enum TileRule {
    /// Takes tokens `tile` at a time over [0, tiled_end) and the plain pipeline the rest;
    /// both kernels apply the same rule.
    Split { tile: u32 },
    /// Takes the whole launch when it has at least `min_count` tokens (a kernel that loops
    /// over the block's tokens in wider tiles), the plain pipeline otherwise.
    Whole { min_count: u32 },
}

/// Tokens of a `count`-token launch that go through tiles of `tile`: all of them, except a
/// lone last token (cheaper alone than padded to a tile); none of a single token.
pub fn tiled_end(count: u32, tile: u32) -> u32 {
    if count % tile == 1 {
        count - 1
    } else {
        count
    }
}

fn bind_group(ctx: &GpuContext, label: &str, pipeline: &wgpu::ComputePipeline, resources: &[wgpu::BindingResource]) -> wgpu::BindGroup {
    let layout = pipeline.get_bind_group_layout(0);
    let entries: Vec<wgpu::BindGroupEntry> = resources
        .iter()
        .enumerate()
        .map(|(i, r)| wgpu::BindGroupEntry { binding: i as u32, resource: r.clone() })
        .collect();
    ctx.device.create_bind_group(&wgpu::BindGroupDescriptor { label: Some(label), layout: &layout, entries: &entries })
}

impl Dispatch {
    pub fn new(
        ctx: &GpuContext,
        label: &'static str,
        pipeline: Arc<wgpu::ComputePipeline>,
        buffers: &[&wgpu::Buffer],
        params: Option<GpuBuffer>,
        grid: Grid,
    ) -> Dispatch {
        let resources: Vec<wgpu::BindingResource> = buffers.iter().map(|b| b.as_entire_binding()).collect();
        Self::with_resources(ctx, label, pipeline, &resources, params, grid)
    }

    /// As `new`, for kernels that also bind textures (weights in `WeightStore::Texture`).
    pub fn with_resources(
        ctx: &GpuContext,
        label: &'static str,
        pipeline: Arc<wgpu::ComputePipeline>,
        resources: &[wgpu::BindingResource],
        params: Option<GpuBuffer>,
        grid: Grid,
    ) -> Dispatch {
        let bind_group = bind_group(ctx, label, &pipeline, resources);
        Dispatch { label, pipeline, bind_group, grid, tiled: None, _params: params }
    }

    /// Adds `pipeline` (same bindings, same grid) for the tokens `rule` gives it.
    pub fn with_second_pipeline(
        mut self,
        ctx: &GpuContext,
        pipeline: Arc<wgpu::ComputePipeline>,
        resources: &[wgpu::BindingResource],
        rule: TileRule,
        counts_logits_rows: bool,
    ) -> Dispatch {
        let bind_group = bind_group(ctx, self.label, &pipeline, resources);
        self.tiled = Some(TiledPipeline { pipeline, bind_group, rule, counts_logits_rows, grid: self.grid });
        self
    }

    /// Gives the second pipeline its own grid rule.
    pub fn with_second_grid(mut self, grid: Grid) -> Dispatch {
        if let Some(t) = &mut self.tiled {
            t.grid = grid;
        }
        self
    }

    /// Workgroup counts for a block of `m` tokens with `m_logits` logits rows.
    pub fn workgroups(&self, m: u32, m_logits: u32, max_dim: u32) -> (u32, u32, u32) {
        Self::grid_workgroups(self.grid, m, m_logits, max_dim)
    }

    fn grid_workgroups(grid: Grid, m: u32, m_logits: u32, max_dim: u32) -> (u32, u32, u32) {
        match grid {
            Grid::Fixed(x) => fold(x, max_dim),
            Grid::PerToken(x) => (x, m, 1),
            Grid::TokenTiles { x, tile } => (x, m.div_ceil(tile), 1),
            Grid::PerLogitsRow(x) => (x, m_logits, 1),
            Grid::Elementwise { per_token } => fold((per_token * m).div_ceil(64), max_dim),
        }
    }

    pub fn encode(&self, pass: &mut wgpu::ComputePass, m: u32, m_logits: u32, max_dim: u32) {
        let (x, y, z) = self.workgroups(m, m_logits, max_dim);
        if x == 0 || y == 0 {
            return;
        }
        let mut plain = true;
        if let Some(t) = &self.tiled {
            let count = if t.counts_logits_rows { m_logits } else { m };
            let end = match t.rule {
                TileRule::Split { tile } => tiled_end(count, tile),
                TileRule::Whole { min_count } => if count >= min_count { count } else { 0 },
            };
            if end > 0 {
                let (x, y, z) = Self::grid_workgroups(t.grid, m, m_logits, max_dim);
                pass.set_pipeline(&t.pipeline);
                pass.set_bind_group(0, &t.bind_group, &[]);
                pass.dispatch_workgroups(x, y, z);
            }
            plain = end < count;
        }
        if plain {
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &self.bind_group, &[]);
            pass.dispatch_workgroups(x, y, z);
        }
    }
}

/// Splits `n` workgroups over x and y so neither exceeds `max_dim`; kernels recombine them as
/// `x + y * num_workgroups.x` and skip the overhang.
pub fn fold(n: u32, max_dim: u32) -> (u32, u32, u32) {
    if n <= max_dim {
        (n, 1, 1)
    } else {
        let y = n.div_ceil(max_dim);
        (n.div_ceil(y), y, 1)
    }
}

/// Records dispatches as one compute pass of `enc`.
pub fn encode_pass(ctx: &GpuContext, enc: &mut wgpu::CommandEncoder, dispatches: &[&Dispatch], m: u32, m_logits: u32) {
    let mut pass = enc.begin_compute_pass(&Default::default());
    let max_dim = ctx.limits.max_compute_workgroups_per_dimension;
    for d in dispatches {
        d.encode(&mut pass, m, m_logits, max_dim);
    }
}

/// Runs dispatches in one compute pass and submits them.
pub fn submit(ctx: &GpuContext, dispatches: &[&Dispatch], m: u32, m_logits: u32) -> Result<(), GpuError> {
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    encode_pass(ctx, &mut enc, dispatches, m, m_logits);
    ctx.queue.submit([enc.finish()]);
    Ok(())
}
