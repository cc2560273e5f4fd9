use cospec::gpu::MatmulVariant;
use cospec::model::{LoadOptions, Model};
use cospec_tests::tiny::{tiny_llama, tiny_model_file, TinySpec};
fn main() {
    for v in [MatmulVariant::RowPerInvocation, MatmulVariant::RowPerInvocationSubgroup] {
        let ctx = cospec_tests::gpu_with(v);
        for spec in [tiny_llama(21), TinySpec { tied: false, ..tiny_llama(21) }] {
            let f = tiny_model_file(&spec);
            let mut m = Model::load(ctx.clone(), &f, &LoadOptions { ctx_len: 256, max_block: 16 }, &mut |_, _| {}).unwrap();
            let p = pollster::block_on(m.profile(1, 20, 5)).unwrap();
            println!("{v:?} tied {}: {:?}", spec.tied, p.iter().map(|(l, t)| format!("{l} {:.3}ms", t * 1e3)).collect::<Vec<_>>());
        }
    }
}
