//! Every shader variant the engine can assemble parses and validates with naga, so a typo
//! fails here rather than at a first dispatch.

#[test]
fn every_shader_variant_validates_with_naga() {
    let variants = cospec::gpu::shaders::all_variants();
    assert!(variants.len() >= 30);
    for (name, src) in variants {
        let module = naga::front::wgsl::parse_str(&src).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&src)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
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
