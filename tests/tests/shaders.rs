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
