//! Several sequences in one block (each in its own cache region) decode exactly as each one
//! alone: tiny random llama and qwen2, every product shape, prompts of awkward lengths split
//! across blocks, sequences leaving the batch as they finish.

use cospec::decode::SamplingParams;
use cospec::model::llm::SeqTokens;
use cospec::model::{LoadOptions, LogitsRows, Model, ModelError};
use cospec_tests::tiny::{tiny_llama, tiny_model_file, tiny_qwen2, TinySpec};
use cospec::gpu::weight::WeightStore;
use cospec::gpu::ShapeFamily;
use cospec_tests::{gpu_with, gpu_with_store, shape_families};

const REGION: usize = 40;

fn prompts(vocab: usize) -> Vec<Vec<u32>> {
    [5usize, 9, 2].iter().enumerate().map(|(s, &n)| (0..n).map(|i| ((i * 31 + s * 17 + 3) % vocab) as u32).collect()).collect()
}

/// Greedy tokens of each prompt decoded alone (`steps[s]` tokens after the prompt's own).
fn alone(model: &mut Model, prompts: &[Vec<u32>], steps: &[usize]) -> Vec<Vec<u32>> {
    let greedy = SamplingParams::default();
    prompts
        .iter()
        .zip(steps)
        .map(|(p, &n)| {
            model.truncate(0);
            let mut out = vec![pollster::block_on(model.forward_next(p, &greedy)).unwrap()];
            while out.len() <= n {
                let t = *out.last().unwrap();
                out.push(pollster::block_on(model.forward_next(&[t], &greedy)).unwrap());
            }
            out
        })
        .collect()
}

/// The same prompts as one batch: prompts in one call, then one token per live sequence per
/// call; sequence s leaves after steps[s] tokens.
fn batched(model: &mut Model, prompts: &[Vec<u32>], steps: &[usize]) -> Vec<Vec<u32>> {
    let seqs: Vec<SeqTokens> = prompts.iter().enumerate().map(|(s, p)| SeqTokens { region: s * REGION, pos: 0, tokens: p }).collect();
    let first = pollster::block_on(model.forward_sequences(&seqs)).unwrap();
    let mut out: Vec<Vec<u32>> = first.into_iter().map(|t| vec![t]).collect();
    loop {
        let live: Vec<usize> = (0..prompts.len()).filter(|&s| out[s].len() <= steps[s]).collect();
        if live.is_empty() {
            return out;
        }
        let last: Vec<[u32; 1]> = live.iter().map(|&s| [*out[s].last().unwrap()]).collect();
        let seqs: Vec<SeqTokens> = live.iter().zip(&last).map(|(&s, t)| SeqTokens { region: s * REGION, pos: prompts[s].len() + out[s].len() - 1, tokens: t }).collect();
        let next = pollster::block_on(model.forward_sequences(&seqs)).unwrap();
        for (&s, t) in live.iter().zip(next) {
            out[s].push(t);
        }
    }
}

fn check(spec: TinySpec) {
    for variant in shape_families() {
        // Blocks of 4 tokens: the 16 prompt tokens take four blocks, the last tokens two.
        let file = tiny_model_file(&spec);
        let mut model = Model::load(gpu_with(variant), &file, &LoadOptions { ctx_len: 3 * REGION, max_block: 4, ..Default::default() }, &mut |_, _| {}).unwrap();
        let ps = prompts(spec.vocab);
        let steps = [12usize, 4, 9];
        let want = alone(&mut model, &ps, &steps);
        let got = batched(&mut model, &ps, &steps);
        assert_eq!(got, want, "{} {variant:?}: a sequence decoded differently beside others", spec.arch);
        // Logits, bit for bit: each sequence's prompt, then one more token, beside the others.
        let seqs: Vec<SeqTokens> = ps.iter().enumerate().map(|(s, p)| SeqTokens { region: s * REGION, pos: 0, tokens: p }).collect();
        pollster::block_on(model.forward_sequences_logits(&seqs)).unwrap();
        let more: Vec<[u32; 1]> = want.iter().map(|w| [w[0]]).collect();
        let seqs: Vec<SeqTokens> = ps.iter().enumerate().map(|(s, p)| SeqTokens { region: s * REGION, pos: p.len(), tokens: &more[s] }).collect();
        let got = pollster::block_on(model.forward_sequences_logits(&seqs)).unwrap();
        for (s, p) in ps.iter().enumerate() {
            model.truncate(0);
            pollster::block_on(model.forward(p, LogitsRows::None)).unwrap();
            let w = pollster::block_on(model.forward(&more[s], LogitsRows::Last)).unwrap();
            assert!(got[s] == w, "{} {variant:?}: sequence {s}'s logits differ beside others", spec.arch);
        }
    }
}

#[test]
fn tiny_llama_sequences_in_one_block_decode_as_alone() {
    check(tiny_llama(41));
}

#[test]
fn tiny_qwen2_sequences_in_one_block_decode_as_alone() {
    check(tiny_qwen2(43));
}

#[test]
fn sequences_past_the_cache_or_empty_are_refused() {
    let spec = tiny_llama(45);
    let mut model = Model::load(gpu_with(shape_families()[0]), &tiny_model_file(&spec), &LoadOptions { ctx_len: 64, max_block: 8, ..Default::default() }, &mut |_, _| {}).unwrap();
    let full = pollster::block_on(model.forward_sequences(&[SeqTokens { region: 60, pos: 2, tokens: &[1, 2, 3] }]));
    assert!(matches!(full, Err(ModelError::ContextFull { .. })), "{full:?}");
    let empty = pollster::block_on(model.forward_sequences(&[SeqTokens { region: 0, pos: 0, tokens: &[] }]));
    assert!(matches!(empty, Err(ModelError::Invalid(_))), "{empty:?}");
    let bad = pollster::block_on(model.forward_sequences(&[SeqTokens { region: 0, pos: 0, tokens: &[spec.vocab as u32] }]));
    assert!(matches!(bad, Err(ModelError::BadToken(..))), "{bad:?}");
}

/// Copies the `len` cached rows of the sequence in region 0 to region `to` and checks that
/// both continue with bit-identical logits.
fn assert_fork_continues(model: &mut Model, len: usize, to: usize, what: &str) {
    model.copy_cache_rows(0, to, len).unwrap();
    let next = [4u32];
    let both = pollster::block_on(model.forward_sequences_logits(&[
        SeqTokens { region: 0, pos: len, tokens: &next },
        SeqTokens { region: to, pos: len, tokens: &next },
    ]))
    .unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&both[0]), bits(&both[1]), "{what}: the copy's continuation differs from the original's");
}

#[test]
fn a_copied_cache_prefix_continues_as_the_original() {
    // A forked sequence (lock step's riders) starts from a copy of another's cache rows.
    let spec = tiny_llama(47);
    let mut model = Model::load(gpu_with(shape_families()[0]), &tiny_model_file(&spec), &LoadOptions { ctx_len: 64, max_block: 8, ..Default::default() }, &mut |_, _| {}).unwrap();
    let prompt = [5u32, 9, 2, 7, 7, 1, 3];
    pollster::block_on(model.forward_sequences(&[SeqTokens { region: 0, pos: 0, tokens: &prompt }])).unwrap();
    // Region 40 holds something else first: the copy must replace it.
    pollster::block_on(model.forward_sequences(&[SeqTokens { region: 40, pos: 0, tokens: &[11, 12, 13, 14, 15, 16, 17] }])).unwrap();
    assert_fork_continues(&mut model, prompt.len(), 40, "");
    // Overlapping runs and runs past the context are refused.
    for (from, to, rows) in [(0, 4, 7), (40, 60, 7), (60, 0, 5)] {
        let err = model.copy_cache_rows(from, to, rows);
        assert!(matches!(err, Err(ModelError::Invalid(_))), "{from} -> {to} x {rows}: {err:?}");
    }
}

#[test]
fn a_long_copied_prefix_continues_as_the_original_in_either_cache_store() {
    // Runs long enough to span rows of a cache texture (2048 texels a row, 4 a cache row
    // here): a partial first row, whole rows and a partial last row on both sides of the copy,
    // the partial ones of widths whose bytes are not multiples of 256.
    let spec = tiny_llama(48);
    let variant = shape_families().into_iter().find(|v| *v != ShapeFamily::Cooperative).expect("a row shape");
    for store in [WeightStore::Buffer, WeightStore::Texture] {
        let ctx = gpu_with_store(variant, store);
        let mut model = Model::load(ctx, &tiny_model_file(&spec), &LoadOptions { ctx_len: 2600, max_block: 64, ..Default::default() }, &mut |_, _| {}).unwrap();
        let prompt: Vec<u32> = (0..1101u32).map(|i| (i * 37 + 11) % spec.vocab as u32).collect();
        pollster::block_on(model.forward_sequences(&[SeqTokens { region: 0, pos: 0, tokens: &prompt }])).unwrap();
        assert_fork_continues(&mut model, prompt.len(), 1301, &format!("{store:?}"));
    }
}
