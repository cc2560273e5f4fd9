// Shared by the features, verify and resample kernels. The `Spec` struct and the layout
// constants (ROW, R_*, FEATURES, STATELESS, MAX_K, O_*, FEATURE_STRIDE, NONE, ORIGIN_*) are
// declared in engine/src/ops/spec.rs and prepended from there.

// Ranks beyond this are reported as this.
const RANK_CAP: f32 = 1000.0;

fn pcg(v: u32) -> u32 {
    let s = v * 747796405u + 2891336453u;
    let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}

// A uniform number in (0, 1) for draw `slot` of this step: the same on every device.
fn uniform01(seed: u32, step_index: u32, slot: u32) -> f32 {
    let h = pcg(seed ^ pcg(step_index * 64u + slot));
    return (f32(h >> 8u) + 0.5) / 16777216.0;
}
