//! Writes the fuzz targets' seed corpus (fuzz/corpus/TARGET/*): small valid inputs of every
//! kind, so mutations start from files the parsers accept. Run from the repository root:
//! `cargo run -p cospec-tests --example fuzz_seeds`.

use cospec::formats::DType;
use cospec_tests::tiny::{spm_vocab_meta, tiny_gemma3, tiny_gguf, tiny_gguf_with, tiny_llama, tiny_qwen2, tiny_qwen3, TinySpec};
use std::collections::HashMap;
use std::path::Path;

fn small(base: TinySpec) -> TinySpec {
    TinySpec { layers: 1, hidden: 32, ffn: 32, heads: 2, kv_heads: 1, head_dim: base.head_dim.map(|_| 32), ..base }
}

fn put(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("fuzz/corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn safetensors(tensors: &[(&str, Vec<usize>)], meta: Option<HashMap<String, String>>) -> Vec<u8> {
    let data: Vec<(String, Vec<u8>, Vec<usize>)> =
        tensors.iter().map(|(n, shape)| (n.to_string(), vec![0u8; 4 * shape.iter().product::<usize>()], shape.clone())).collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> =
        data.iter().map(|(n, bytes, shape)| (n.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes).unwrap())).collect();
    safetensors::serialize(views, meta).unwrap()
}

fn main() {
    put("gguf", "llama.gguf", &tiny_gguf(&small(tiny_llama(1))));
    put("gguf", "qwen2.gguf", &tiny_gguf(&small(TinySpec { attn_type: DType::F32, v_type: DType::F16, ffn_type: DType::Q4_1, out_type: DType::Q8_0, ..tiny_qwen2(2) })));
    put("gguf", "qwen3.gguf", &tiny_gguf(&TinySpec { layers: 1, hidden: 64, ffn: 64, heads: 1, kv_heads: 1, head_dim: Some(64), attn_type: DType::Q8_0, v_type: DType::Q5_0, ffn_type: DType::Q4_0, embd_type: DType::Q8_0, tied: true, ..tiny_qwen3(3) }));
    // Gemma 3 with a SentencePiece vocabulary: the other tokenizer the GGUF path builds.
    put("gguf", "gemma3-spm.gguf", &tiny_gguf_with(&TinySpec { vocab: 300, ..small(tiny_gemma3(4)) }, spm_vocab_meta(300), Vec::new()));

    let config = r#"{"model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
        "num_key_value_heads": 1, "vocab_size": 4, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 64,
        "tie_word_embeddings": true, "hidden_act": "silu"}"#;
    let weights = safetensors(
        &[
            ("model.embed_tokens.weight", vec![4, 8]),
            ("model.norm.weight", vec![8]),
            ("model.layers.0.input_layernorm.weight", vec![8]),
            ("model.layers.0.post_attention_layernorm.weight", vec![8]),
            ("model.layers.0.self_attn.q_proj.weight", vec![8, 8]),
            ("model.layers.0.self_attn.k_proj.weight", vec![4, 8]),
            ("model.layers.0.self_attn.v_proj.weight", vec![4, 8]),
            ("model.layers.0.self_attn.o_proj.weight", vec![8, 8]),
            ("model.layers.0.mlp.gate_proj.weight", vec![8, 8]),
            ("model.layers.0.mlp.up_proj.weight", vec![8, 8]),
            ("model.layers.0.mlp.down_proj.weight", vec![8, 8]),
        ],
        None,
    );
    let mut hf = config.as_bytes().to_vec();
    hf.push(0);
    hf.extend(&weights);
    put("hf", "llama", &hf);
    let qwen = config.replace("\"llama\"", "\"qwen2\"").replace("\"silu\"}", "\"silu\", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 32}}");
    let mut hf = qwen.into_bytes();
    hf.push(0);
    hf.extend(&weights);
    put("hf", "qwen2-rope-scaling", &hf);

    let vocab = r#"{"<unk>": 0, "<s>": 1, "</s>": 2, "a": 3, "b": 4, "ab": 5, "Ġ": 6, "Ġa": 7, "▁": 8, "▁ab": 9, "<0x41>": 10}"#;
    put(
        "tokenizer_json",
        "bpe-bytelevel.json",
        format!(
            r#"{{"version": "1.0", "truncation": null, "padding": null,
            "added_tokens": [{{"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}}],
            "normalizer": {{"type": "NFC"}}, "pre_tokenizer": {{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}},
            "post_processor": null, "decoder": {{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}},
            "model": {{"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null, "end_of_word_suffix": null,
                "fuse_unk": false, "byte_fallback": false, "ignore_merges": false, "vocab": {vocab}, "merges": [["a", "b"], ["Ġ", "a"]]}}}}"#
        )
        .as_bytes(),
    );
    put(
        "tokenizer_json",
        "bpe-metaspace-bytefallback.json",
        format!(
            r#"{{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
            "normalizer": {{"type": "Sequence", "normalizers": [{{"type": "Prepend", "prepend": "▁"}}, {{"type": "Replace", "pattern": {{"String": " "}}, "content": "▁"}}]}},
            "pre_tokenizer": null, "post_processor": null,
            "decoder": {{"type": "Sequence", "decoders": [{{"type": "Replace", "pattern": {{"String": "▁"}}, "content": " "}}, {{"type": "ByteFallback"}}, {{"type": "Fuse"}}, {{"type": "Strip", "content": " ", "start": 1, "stop": 0}}]}},
            "model": {{"type": "BPE", "dropout": null, "unk_token": "<unk>", "continuing_subword_prefix": null, "end_of_word_suffix": null,
                "fuse_unk": true, "byte_fallback": true, "ignore_merges": false, "vocab": {vocab}, "merges": ["a b", "▁ ab"]}}}}"#
        )
        .as_bytes(),
    );
    put(
        "tokenizer_json",
        "unigram.json",
        br#"{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": true}, "post_processor": null,
        "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": true},
        "model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["\u2581", -1.0], ["a", -2.0], ["b", -2.5], ["\u2581ab", -1.5]], "byte_fallback": false}}"#,
    );

    put("chat_template", "chatml", b"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}\nYou are helpful.\nHi!\nHello.");
    put(
        "chat_template",
        "namespace-loop",
        b"{%- set ns = namespace(found=false, n=0) -%}{%- for m in messages -%}{%- if m.role == 'system' -%}{%- set ns.found = true -%}{%- endif -%}{%- set ns.n = ns.n + 1 -%}{{ bos_token }}[{{ m.role | upper }}] {{ m.content | trim }}{{ eos_token }}{%- endfor -%}{%- if not ns.found -%}{{ raise_exception('a system message is required') }}{%- endif -%}{{ ns.n }}\nsys\nuser text",
    );
    put("chat_template", "llama3", b"{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}\nsys\nWhat is 2+2?\n4");

    put("arbiter", "qwen-coder.safetensors", &std::fs::read("engine/arbiters/qwen-coder.safetensors").unwrap());

    put(
        "problems",
        "problems.jsonl",
        br#"{"template": 3, "variant": 0, "split": "train", "question": "Add 3 and 4.", "answer": "7"}
{"template": 61, "variant": 2, "split": "dev", "question": "What is 1,234 + 5?", "answer": "1239"}
The answer is \boxed{1,239.50} so #### 1239"#,
    );

    let rollouts = std::fs::read_to_string("engine/arbiters/qwen-coder.rollouts.jsonl").unwrap();
    let head: Vec<&str> = rollouts.lines().take(3).collect();
    put("rollouts", "rollouts.jsonl", format!("{}\n{{\"problem\": \"t1v0\", \"round\"", head.join("\n")).as_bytes());
    println!("wrote fuzz/corpus");
}
