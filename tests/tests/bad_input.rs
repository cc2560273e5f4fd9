//! Malformed or hostile model files and inputs give a clear error naming the problem, never
//! a panic, a hang or an allocation larger than the file.

use cospec::formats::gguf::{write, MetaValue};
use cospec::formats::{DType, FormatError, ModelFile};
use cospec::model::{KvType, LoadOptions, LogitsRows, Model, ModelConfig, ModelError};
use cospec::platform::blob_from_vec;
use cospec_tests::gpu;
use cospec_tests::tiny::{tiny_gguf, tiny_llama, tiny_model_file, TinySpec};

fn parse(bytes: Vec<u8>) -> Result<ModelFile, FormatError> {
    ModelFile::from_gguf(blob_from_vec(bytes))
}

fn err_text(bytes: Vec<u8>) -> String {
    match parse(bytes) {
        Ok(f) => match ModelConfig::from_file(&f) {
            Ok(_) => panic!("accepted a bad file"),
            Err(e) => e.to_string(),
        },
        Err(e) => e.to_string(),
    }
}

fn one_tensor(dims: Vec<usize>, dtype: DType, data: Vec<u8>) -> Vec<u8> {
    write(&[("general.architecture".into(), MetaValue::Str("llama".into()))], &[("t".into(), dtype, dims, data)])
}

#[test]
fn wrong_magic_is_named() {
    let mut b = tiny_gguf(&tiny_llama(1));
    b[0..4].copy_from_slice(b"GGML");
    let e = err_text(b);
    assert!(e.contains("not a GGUF file"), "{e}");
}

#[test]
fn every_truncation_of_a_valid_file_is_an_error_not_a_panic() {
    let full = tiny_gguf(&tiny_llama(2));
    let mut cuts: Vec<usize> = (0..200).collect();
    cuts.extend((200..full.len()).step_by(997));
    cuts.push(full.len() - 1);
    for cut in cuts {
        let e = parse(full[..cut].to_vec()).err().unwrap_or_else(|| panic!("accepted a file cut at {cut}"));
        let t = e.to_string();
        assert!(t.contains("truncated") || t.contains("not a GGUF") || t.contains("cannot fit"), "cut {cut}: {t}");
    }
}

#[test]
fn tensor_offset_past_the_end_is_named() {
    let mut b = one_tensor(vec![4, 32], DType::F32, vec![0u8; 512]);
    b.truncate(b.len() - 100);
    let e = err_text(b);
    assert!(e.contains("'t'") && e.contains("past the end"), "{e}");
}

#[test]
fn absurd_dimensions_are_refused_before_allocating() {
    let b = write(
        &[("general.architecture".into(), MetaValue::Str("llama".into()))],
        &[("huge".into(), DType::F32, vec![1 << 40, 1 << 30], vec![0u8; 64])],
    );
    let e = err_text(b);
    assert!(e.contains("absurd dimensions") && e.contains("huge"), "{e}");
    // A metadata array claiming billions of elements.
    let mut b = Vec::new();
    b.extend_from_slice(b"GGUF");
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend_from_slice(&1u64.to_le_bytes());
    b.extend_from_slice(&3u64.to_le_bytes());
    b.extend_from_slice(b"key");
    b.extend_from_slice(&9u32.to_le_bytes());
    b.extend_from_slice(&4u32.to_le_bytes());
    b.extend_from_slice(&(u64::MAX / 2).to_le_bytes());
    let e = err_text(b);
    assert!(e.contains("cannot fit"), "{e}");
}

#[test]
fn unknown_tensor_type_is_named() {
    let mut b = one_tensor(vec![1, 32], DType::F32, vec![0u8; 128]);
    // The type id follows the name, the dimension count and the dimensions.
    let name_at = b.windows(1).rposition(|w| w == b"t").unwrap();
    let type_at = name_at + 1 + 4 + 16;
    b[type_at..type_at + 4].copy_from_slice(&10u32.to_le_bytes());
    let e = err_text(b);
    assert!(e.contains("Q2_K") && e.contains("'t'"), "{e}");
}

#[test]
fn unknown_architecture_is_named() {
    let b = write(
        &[("general.architecture".into(), MetaValue::Str("mamba".into()))],
        &[("token_embd.weight".into(), DType::F32, vec![4, 32], vec![0u8; 512])],
    );
    let e = err_text(b);
    assert!(e.contains("unknown architecture 'mamba'"), "{e}");
}

#[test]
fn missing_tensor_and_wrong_shape_are_named() {
    let spec = tiny_llama(3);
    let mut f2 = parse(tiny_gguf(&spec)).unwrap();
    f2.tensors.remove("blk.1.ffn_up.weight");
    let e = Model::load(gpu(), &f2, &LoadOptions::default(), &mut |_, _| {}).err().unwrap().to_string();
    assert!(e.contains("blk.1.ffn_up.weight"), "{e}");
    let mut f3 = parse(tiny_gguf(&spec)).unwrap();
    let (_, t) = f3.tensors.get_mut("blk.0.attn_k.weight").unwrap();
    t.shape = vec![t.shape[1], t.shape[0]];
    let e = Model::load(gpu(), &f3, &LoadOptions::default(), &mut |_, _| {}).err().unwrap().to_string();
    assert!(e.contains("blk.0.attn_k.weight has shape"), "{e}");
}

#[test]
fn too_long_prompt_and_bad_token_ids_are_errors() {
    let spec = tiny_llama(4);
    let f = parse(tiny_gguf(&spec)).unwrap();
    let mut m = Model::load(gpu(), &f, &LoadOptions { ctx_len: 16, max_block: 8, ..Default::default() }, &mut |_, _| {}).unwrap();
    let long: Vec<u32> = (0..17).collect();
    match pollster::block_on(m.forward(&long, LogitsRows::Last)) {
        Err(ModelError::ContextFull { adding: 17, ctx: 16, .. }) => {}
        other => panic!("expected ContextFull, got {:?}", other.map(|v| v.len())),
    }
    assert_eq!(m.len(), 0, "a refused prompt must not touch the cache");
    let e = pollster::block_on(m.forward(&[1, 2, spec.vocab as u32], LogitsRows::Last)).err().unwrap();
    assert!(e.to_string().contains("outside the vocabulary"), "{e}");
    let e = pollster::block_on(m.forward(&[], LogitsRows::Last)).err().unwrap();
    assert!(e.to_string().contains("at least one token"), "{e}");
}

#[test]
fn a_missing_adapter_name_is_a_clear_error() {
    let opts = cospec::gpu::GpuOptions { backend: None, adapter_name: Some("no-such-gpu-xyz".into()), ..Default::default() };
    let e = pollster::block_on(cospec::gpu::GpuContext::new(&opts)).err().unwrap().to_string();
    assert!(e.contains("no-such-gpu-xyz") && e.contains("adapters present"), "{e}");
    let opts = cospec::gpu::GpuOptions { backend: Some("glide".into()), adapter_name: None, ..Default::default() };
    let e = pollster::block_on(cospec::gpu::GpuContext::new(&opts)).err().unwrap().to_string();
    assert!(e.contains("unknown backend 'glide'"), "{e}");
}

#[test]
fn a_context_too_long_for_the_device_is_refused_before_allocating() {
    let f = parse(tiny_gguf(&TinySpec { hidden: 1024, kv_heads: 4, ..tiny_llama(5) })).unwrap();
    // One layer's f32 KV cache of 4 heads x 256 dims x 2^20 positions is 4 GiB: more than any
    // storage binding can be (its size is a u32), so it is refused before anything is
    // allocated. A device that admitted a buffer may still fail to allocate it: that too is
    // an error saying what to lower, never a panic.
    let e = Model::load(gpu(), &f, &LoadOptions { ctx_len: 1 << 20, max_block: 512, kv_type: Some(KvType::F32) }, &mut |_, _| {}).err().unwrap().to_string();
    eprintln!("refused: {e}");
    let what = ["attention scores", "KV cache of one layer", "out of GPU memory"];
    assert!(what.iter().any(|w| e.contains(w)) && e.contains("lower the context length"), "{e}");
}

/// A device lost mid-generation (wgpu's `Device::destroy`, as a driver reset or an unplugged
/// GPU) ends the generation with an error naming the loss: no panic, no hang.
#[test]
fn a_device_lost_mid_generation_is_an_error() {
    let spec = tiny_llama(9);
    let f = tiny_model_file(&spec);
    let ctx = cospec_tests::open_device();
    let mut m = Model::load(ctx.clone(), &f, &LoadOptions { ctx_len: 32, max_block: 8, ..Default::default() }, &mut |_, _| {}).unwrap();
    pollster::block_on(m.forward(&[1, 2, 3], LogitsRows::Last)).unwrap();
    ctx.device.destroy();
    let started = std::time::Instant::now();
    let e = pollster::block_on(m.forward(&[4], LogitsRows::Last)).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("GPU fault") && e.contains("lost"), "{e:?}");
    // Every later call says the same, at once.
    let again = pollster::block_on(m.forward(&[5], LogitsRows::Last)).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(again.contains("lost"), "{again:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
}
