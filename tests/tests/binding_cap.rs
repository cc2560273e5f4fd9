//! A context told to treat storage bindings as small (the browser page's test switch) splits
//! the weights into more parts and still computes the same logits.

use cospec::gpu::{GpuContext, GpuOptions, GpuWeight};
use cospec::model::{LoadOptions, LogitsRows, Model};
use cospec_tests::gpu;
use cospec_tests::tiny::{tiny_llama, tiny_model_file};

#[test]
fn a_binding_cap_splits_weights_and_keeps_the_logits() {
    let file = tiny_model_file(&tiny_llama(11));
    let _ = gpu(); // sets XDG_RUNTIME_DIR before a second context opens
    let capped = pollster::block_on(GpuContext::new(&GpuOptions { max_binding_bytes: Some(8192), matmul: Some(gpu().shape_family()), ..Default::default() })).unwrap();
    assert_eq!(capped.max_binding_bytes(), 8192);
    // The 300 x 64 Q8_0 embedding (about 20 KB) takes several parts under the cap.
    let embd = file.require("token_embd.weight").unwrap();
    let w = GpuWeight::upload(&capped, "embd", embd.dtype, 300, 64, &file.tensor_bytes("token_embd.weight").unwrap()).unwrap();
    assert!(w.parts.len() >= 3, "{} parts", w.parts.len());
    let opts = LoadOptions { ctx_len: 64, max_block: 4, ..Default::default() };
    let mut a = Model::load(capped.clone(), &file, &opts, &mut |_, _| {}).unwrap();
    let mut b = Model::load(gpu(), &file, &opts, &mut |_, _| {}).unwrap();
    let prompt = [5u32, 9, 260, 17, 2, 99];
    let la = pollster::block_on(a.forward(&prompt, LogitsRows::All)).unwrap();
    let lb = pollster::block_on(b.forward(&prompt, LogitsRows::All)).unwrap();
    assert_eq!(la, lb);
}
