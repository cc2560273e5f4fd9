// The first half of a draw over a vocabulary split into WG contiguous ranges, one per
// invocation (shared by sample.wgsl and spec/resample.wgsl): each invocation writes its range's
// mass to draw_parts[lid]; one invocation then finds whose range holds u in [0, total) and
// where inside it. Ranges are visited in index order, so a seed gives the same token on every
// device.
var<workgroup> draw_parts: array<f32, WG>;

struct Draw {
    // The owning invocation, or WG when no range has mass.
    owner: u32,
    // u minus the mass of the ranges before the owner's; huge when u rounded past the total
    // (the owner's last positive weight is then taken).
    offset: f32,
}

fn draw_total() -> f32 {
    var total = 0.0;
    for (var i = 0u; i < WG; i++) {
        total += draw_parts[i];
    }
    return total;
}

fn draw_owner(u: f32) -> Draw {
    var acc = 0.0;
    var d = Draw(WG, 0.0);
    var last_nonzero = WG;
    for (var i = 0u; i < WG; i++) {
        if (draw_parts[i] > 0.0) {
            last_nonzero = i;
            if (d.owner == WG && acc + draw_parts[i] > u) {
                d = Draw(i, u - acc);
            }
        }
        acc += draw_parts[i];
    }
    if (d.owner == WG) {
        d = Draw(last_nonzero, 3.4e38);
    }
    return d;
}
