// The learned arbiter: normalized features -> tanh hidden layer -> sigmoid, read from `mlp_w`
// laid out as [mean F][1/std F][W1 H x F][b1 H][w2 H][b2] (engine/src/decode/arbiter.rs).
var<private> feat: array<f32, FEATURES>;

fn mlp_keep_probability(hidden: u32) -> f32 {
    let w1 = 2u * FEATURES;
    let b1 = w1 + hidden * FEATURES;
    let w2 = b1 + hidden;
    let b2 = w2 + hidden;
    var out = mlp_w[b2];
    for (var h = 0u; h < hidden; h++) {
        var z = mlp_w[b1 + h];
        for (var f = 0u; f < FEATURES; f++) {
            z += mlp_w[w1 + h * FEATURES + f] * ((feat[f] - mlp_w[f]) * mlp_w[FEATURES + f]);
        }
        out += mlp_w[w2 + h] * tanh(z);
    }
    return 1.0 / (1.0 + exp(-out));
}
