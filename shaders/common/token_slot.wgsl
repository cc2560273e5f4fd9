// Where block token t lives: (the first cache row of its sequence's region, its position in
// that sequence). A shader that includes this declares `slots: array<vec2<u32>>`.
fn token_slot(t: u32) -> vec2<u32> {
    if (step.slotted == 0u) {
        return vec2<u32>(0u, step.pos0 + t);
    }
    return slots[t];
}
