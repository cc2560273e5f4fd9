//! Every kernel the launchers can build, on every device profile, parses and validates with
//! naga, so a typo fails here rather than at a first dispatch on some device; and a run builds
//! only kernels on that list, so the list is the launchers' own.

use cospec::gpu::weight::WeightStore;
use cospec::gpu::{DeviceProfile, GpuOptions, ModelShapes, ShapeFamily};
use cospec::model::{LoadOptions, LogitsRows, Model};
use cospec::ops::matmul::{WideTile, COOPERATIVE_CONSTANTS};
use cospec_tests::tiny::{tiny_gemma3, tiny_llama, tiny_model_file, tiny_qwen2, tiny_qwen3};
use std::collections::HashSet;

/// Profiles a device can open with: each shape family, weight store and staging choice;
/// subgroups of 8 and 32 (and none); the cooperative shape with and without wide tiles.
fn profiles() -> Vec<DeviceProfile> {
    let mut v = Vec::new();
    for shape_family in [ShapeFamily::Cooperative, ShapeFamily::RowPerInvocation, ShapeFamily::RowPerInvocationSubgroup] {
        let subgroups: &[Option<u32>] = if shape_family == ShapeFamily::RowPerInvocationSubgroup { &[Some(8), Some(32)] } else { &[None, Some(32)] };
        let wides: &[Option<WideTile>] = if shape_family == ShapeFamily::Cooperative {
            &[None, Some(WideTile { tm: 16, min_tokens: 16, rows_per_invocation: 1 }), Some(WideTile { tm: 16, min_tokens: 16, rows_per_invocation: 2 })]
        } else {
            &[None]
        };
        for &subgroup_size in subgroups {
            for weight_store in [WeightStore::Buffer, WeightStore::Texture] {
                for &wide_tile in wides {
                    v.push(DeviceProfile {
                        shape_family,
                        subgroup_size,
                        texture_weights: true,
                        texture_f16_kv: true,
                        weight_store,
                        stage_activations: true,
                        cooperative_shape: COOPERATIVE_CONSTANTS,
                        wide_tile,
                        binding_cap: u64::MAX,
                    });
                }
            }
        }
    }
    v
}

#[test]
fn every_kernel_the_launchers_can_build_validates_with_naga() {
    // Heads of 16 to 256 (Gemma 3), narrower than a subgroup's vec4s and not a multiple of
    // them (40); groups of 1, 3 (SmolLM2) and 7 (Qwen2.5-0.5B); Gemma's embedding scale.
    let shapes = ModelShapes { head_dims: vec![16, 40, 64, 128, 256], groups: vec![1, 3, 7], embedding_scales: vec![1.0, 25.3] };
    let mut seen = HashSet::new();
    for profile in profiles() {
        for v in cospec::ops::variants(&profile, &shapes) {
            if !seen.insert(v.source.clone()) {
                continue;
            }
            let module = naga::front::wgsl::parse_str(&v.source).unwrap_or_else(|e| panic!("{} ({profile:?}): {}", v.label, e.emit_to_string(&v.source)));
            naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
                .validate(&module)
                .unwrap_or_else(|e| panic!("{} ({profile:?}): {e:?}", v.label));
        }
    }
    assert!(seen.len() >= 300, "only {} distinct kernels", seen.len());
}

/// Tiny models of every architecture, prompt chunks and decode passes, on each shape family
/// this adapter runs: every pipeline the run built is one `ops::variants` lists for the
/// device's profile and the models' shapes.
#[test]
fn a_run_builds_only_kernels_the_list_holds() {
    for family in cospec_tests::shape_families() {
        // A device of its own: the pipeline cache then holds this run's kernels only.
        let ctx = cospec_tests::open_device_with(GpuOptions { matmul: Some(family), ..cospec_tests::options_from_env() });
        let mut shapes = ModelShapes { head_dims: vec![], groups: vec![], embedding_scales: vec![] };
        for spec in [tiny_llama(3), tiny_qwen2(4), tiny_qwen3(7), tiny_gemma3(9)] {
            let file = tiny_model_file(&spec);
            let mut model = Model::load(ctx.clone(), &file, &LoadOptions { ctx_len: 64, max_block: 16, kv_type: None }, &mut |_, _| {}).unwrap();
            let one = ModelShapes::of(&model.config);
            shapes.head_dims.extend(one.head_dims);
            shapes.groups.extend(one.groups);
            shapes.embedding_scales.extend(one.embedding_scales);
            let toks: Vec<u32> = (0..20).map(|i| (i * 7 % spec.vocab) as u32).collect();
            pollster::block_on(model.forward(&toks[..16], LogitsRows::Last)).unwrap();
            pollster::block_on(model.forward(&toks[16..20], LogitsRows::All)).unwrap();
            pollster::block_on(model.forward(&toks[..1], LogitsRows::Last)).unwrap();
        }
        let listed: HashSet<(String, Vec<cospec::gpu::BindKind>)> = cospec::ops::variants(&ctx.profile, &shapes).into_iter().map(|v| (v.source, v.kinds)).collect();
        let built = ctx.built();
        assert!(built.len() >= 8, "{family:?}: only {} pipelines built", built.len());
        for v in built {
            assert!(listed.contains(&(v.source, v.kinds)), "{family:?}: a run built {}, which ops::variants does not list", v.label);
        }
    }
}

/// The pipeline cache is keyed by what a pipeline is made of: two variants given the same
/// label get two pipelines, and the same source and bindings get the cached one.
#[test]
fn pipelines_with_one_label_and_two_sources_are_two_pipelines() {
    use cospec::gpu::BindKind::ReadWrite;
    let ctx = cospec_tests::gpu();
    let src = |v: u32| format!("@group(0) @binding(0) var<storage, read_write> out: array<u32>;\n@compute @workgroup_size(1)\nfn main() {{ out[0] = {v}u; }}\n");
    let a = ctx.pipeline("same label", &src(1), &[ReadWrite]).unwrap();
    let b = ctx.pipeline("same label", &src(2), &[ReadWrite]).unwrap();
    let a_again = ctx.pipeline("another label", &src(1), &[ReadWrite]).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&a, &b), "two sources shared one cached pipeline");
    assert!(std::sync::Arc::ptr_eq(&a, &a_again), "the same source was compiled twice");
}

/// Whether a line of WGSL mixes `&` or `|` with a comparison at one parenthesis depth of one
/// statement (`a >= b & c <= d`). WGSL's grammar requires the parentheses and Chromium's
/// compiler refuses the shader, while naga parses it: this catches it natively.
fn unparenthesized_bitwise(line: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    code.split(';').any(|statement| {
        let b = statement.as_bytes();
        let (mut depth, mut bitwise, mut comparisons) = (0i32, Vec::new(), Vec::new());
        for i in 0..b.len() {
            let (prev, next) = (if i > 0 { b[i - 1] } else { b' ' }, b.get(i + 1).copied().unwrap_or(b' '));
            match b[i] {
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth -= 1,
                // A binary & or | (not && or ||, not the address-of &x, not &=).
                b'&' | b'|' if prev == b' ' && next == b' ' => bitwise.push(depth),
                // >=, <=, ==, != and a spaced < or > (a template's brackets are unspaced).
                b'=' if matches!(prev, b'>' | b'<' | b'=' | b'!') => comparisons.push(depth),
                b'<' | b'>' if prev == b' ' && next == b' ' => comparisons.push(depth),
                _ => {}
            }
        }
        bitwise.iter().any(|d| comparisons.contains(d))
    })
}

#[test]
fn no_shader_mixes_bitwise_operators_and_comparisons_without_parentheses() {
    assert!(unparenthesized_bitwise("let m = select(x, y, a >= vec4<u32>(b) & a <= c);"));
    assert!(unparenthesized_bitwise("let m = a | b == c;"));
    assert!(!unparenthesized_bitwise("let m = (a >= b) & (c <= d);"));
    assert!(!unparenthesized_bitwise("let ok = a >= b && c <= d; let k = u & 3u;"));
    assert!(!unparenthesized_bitwise("let v = vec4<u32>(x) | y; // a >= b | c"));
    let mut found = Vec::new();
    for (path, text) in shader_files() {
        for (n, line) in text.lines().enumerate() {
            if unparenthesized_bitwise(line) {
                found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "parenthesize the comparisons:\n{}", found.join("\n"));
}

/// Every .wgsl file under shaders/ with its text.
fn shader_files() -> Vec<(std::path::PathBuf, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shaders");
    let mut dirs = vec![root];
    let mut files = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "wgsl") {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((path, text));
            }
        }
    }
    assert!(files.len() > 40, "only {} shader files found", files.len());
    files
}

/// Why a loop (`for` header and body) might not end, or None where it visibly does: its
/// counter starts anywhere, moves one way by a constant step (`x++`, `x += CONST`, `x >>= 1u`
/// down to 0) towards its bound, and nothing in the body assigns it. Bounds are sizes and
/// positions, which stay far below 2^31, so no step wraps past one.
fn unbounded_loop(header: &str, body: &str) -> Option<String> {
    let inner = header.trim().strip_prefix("for (").and_then(|h| h.strip_suffix(')'));
    let Some(parts) = inner.map(|h| h.split(';').map(str::trim).collect::<Vec<_>>()) else {
        return Some("not a for loop".into());
    };
    let [init, cond, step] = parts[..] else {
        return Some("not three clauses".into());
    };
    let Some(var) = init.strip_prefix("var ").and_then(|r| r.split_whitespace().next()) else {
        return Some("the counter is not declared in the loop".into());
    };
    let constant = |t: &str| {
        let t = t.trim_end_matches('u');
        t.parse::<u32>().is_ok_and(|v| v > 0) || (t.chars().all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit()) && !t.is_empty())
    };
    let up = step == format!("{var}++") || step.strip_prefix(&format!("{var} += ")).is_some_and(constant);
    let halves = step == format!("{var} >>= 1u") && cond == format!("{var} > 0u");
    let below = cond.strip_prefix(&format!("{var} < ")).or_else(|| cond.strip_prefix(&format!("{var} <= "))).is_some();
    if !(halves || up && below) {
        return Some(format!("counter `{var}`: condition `{cond}` with step `{step}`"));
    }
    let assigned = ["=", "+=", "-=", "*=", ">>=", "<<=", "++", "--"].iter().any(|op| {
        body.match_indices(var).any(|(at, _)| {
            let before = body[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
            let rest = body[at + var.len()..].trim_start();
            !before && rest.starts_with(op) && !rest.starts_with("==")
        })
    });
    assigned.then(|| format!("the body assigns the counter `{var}`"))
}

/// Where the bracket pairing the first `open` at or after `from` closes (the end if never).
fn closing(code: &str, from: usize, open: char, close: char) -> usize {
    let mut depth = 0;
    for (i, c) in code[from..].char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return from + i;
            }
        }
    }
    code.len()
}

/// (header, body) of each loop in `text`, and whether any `loop` or `while` appears.
fn loops(text: &str) -> (Vec<(String, String)>, bool) {
    let code: String = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let other = code.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|w| w == "loop" || w == "while");
    let mut found = Vec::new();
    for (at, _) in code.match_indices("for (") {
        let header_end = (closing(&code, at, '(', ')') + 1).min(code.len());
        let open = header_end + code[header_end..].find('{').unwrap_or(0);
        let close = closing(&code, open, '{', '}');
        found.push((code[at..header_end].to_string(), code[open..close].to_string()));
    }
    (found, other)
}

/// The engine builds its pipelines without naga's injected loop bounds (context.rs), which
/// promises the driver that no loop runs forever: every loop here must visibly end.
#[test]
fn every_shader_loop_visibly_ends() {
    assert!(unbounded_loop("for (var i = 0u; i < D4; i++)", "s += q[i];").is_none());
    assert!(unbounded_loop("for (var a = lo - lo % S; a <= hi; a += S)", "let b = a;").is_none());
    assert!(unbounded_loop("for (var k = WG / 2u; k > 0u; k >>= 1u)", "x[k] += 1.0;").is_none());
    assert!(unbounded_loop("for (var i = 0u; i < n; i += step)", "").is_some());
    assert!(unbounded_loop("for (var i = 0u; i < n; i++)", "i = 0u;").is_some());
    assert!(unbounded_loop("for (var i = n; i >= 0u; i--)", "").is_some());
    assert!(unbounded_loop("for (var i = 0u; i != n; i += 2u)", "").is_some());
    assert!(loops("loop { break; }").1 && loops("while (x) {}").1 && !loops("// a loop while\nlet looping = 1;").1);
    let mut found = Vec::new();
    let mut counted = 0;
    for (path, text) in shader_files() {
        let (each, other) = loops(&text);
        if other {
            found.push(format!("{}: a `loop` or `while`", path.display()));
        }
        for (header, body) in each {
            counted += 1;
            if let Some(why) = unbounded_loop(&header, &body) {
                found.push(format!("{}: `{header}`: {why}", path.display()));
            }
        }
    }
    assert!(counted > 100, "only {counted} loops found");
    assert!(found.is_empty(), "loops that may not end:\n{}", found.join("\n"));
}
