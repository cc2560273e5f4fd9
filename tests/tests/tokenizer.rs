//! Tokenizers built from GGUF metadata and tokenizer.json, chat templates, and streaming
//! detokenization across UTF-8 boundaries; real models' ids from MODELS.md when fetched.

use cospec::formats::{MetaValue, ModelFile};
use cospec::tokenizer::{ChatMessage, TextStream, Tokenizer};
use cospec_tests::real_model;
use cospec_tests::tiny::{tiny_model_file, tiny_qwen2};

fn open(name: &str) -> Option<(ModelFile, Tokenizer)> {
    let p = real_model(name)?;
    let f = cospec::platform::open_model(&p).unwrap();
    let t = Tokenizer::from_model_file(&f).unwrap();
    Some((f, t))
}

#[test]
fn tiny_gguf_tokenizer_applies_merges_and_specials() {
    let f = tiny_model_file(&tiny_qwen2(1));
    let t = Tokenizer::from_model_file(&f).unwrap();
    let ids = t.encode("<|im_start|>the in").unwrap();
    let id = |s: &str| (0..t.vocab_size() as u32).find(|&i| t.token_text(i).as_deref() == Some(s)).unwrap();
    assert_eq!(ids, vec![id("<|im_start|>"), id("t"), id("he"), id("Ġ"), id("in")]);
    assert_eq!(t.decode(&ids, false).unwrap(), "<|im_start|>the in");
    assert!(t.is_eos(id("<|im_end|>")));
}

#[test]
fn streaming_never_splits_a_utf8_character() {
    let f = tiny_model_file(&tiny_qwen2(2));
    let t = Tokenizer::from_model_file(&f).unwrap();
    let text = "naïve café → 東京 🎉 ok";
    let ids = t.encode(text).unwrap();
    // Byte-level tokens: multi-byte characters span several tokens.
    assert!(ids.len() > text.chars().count());
    let mut s = TextStream::new();
    let mut out = String::new();
    for &id in &ids {
        let piece = s.push(&t, id).unwrap();
        assert!(!piece.contains('\u{FFFD}'), "a partial character leaked: {piece:?}");
        out.push_str(&piece);
    }
    out.push_str(&s.finish(&t).unwrap());
    assert_eq!(out, text);
}

#[test]
fn chat_template_renders_chatml_when_the_model_has_none() {
    let f = tiny_model_file(&tiny_qwen2(3));
    let t = Tokenizer::from_model_file(&f).unwrap();
    let s = t.apply_chat_template(&[ChatMessage::new("user", "hi")], true).unwrap();
    assert_eq!(s, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
}

#[test]
fn tokenizer_json_path_loads() {
    let json = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[{"id":3,"content":"<|im_end|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
      "normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
      "post_processor":null,"decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},
      "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"vocab":{"a":0,"b":1,"ab":2,"<|im_end|>":3},"merges":["a b"]}}"#;
    let t = Tokenizer::from_json(json).unwrap();
    assert_eq!(t.encode("abab<|im_end|>").unwrap(), vec![2, 2, 3]);
    assert_eq!(t.eos_ids, vec![3]);
}

#[test]
fn smollm2_tokenizer_and_template() {
    let Some((_, t)) = open("SmolLM2-135M-Instruct.Q4_1.gguf") else { return };
    assert_eq!(t.bos_id, Some(1));
    assert!(t.is_eos(2));
    assert_eq!(t.encode("<|im_start|>").unwrap(), vec![1]);
    // Digits are split one by one by the smollm pre-tokenizer.
    let ids = t.encode("2024").unwrap();
    assert_eq!(ids.len(), 4, "{ids:?}");
    let s = t.apply_chat_template(&[ChatMessage::new("user", "Hi")], true).unwrap();
    assert!(s.starts_with("<|im_start|>system\nYou are a helpful AI assistant named SmolLM"), "{s}");
    assert!(s.ends_with("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"), "{s}");
    assert_eq!(t.decode(&t.encode("The capital of France is").unwrap(), false).unwrap(), "The capital of France is");
}

fn check_qwen(name: &str) {
    let Some((_, t)) = open(name) else { return };
    assert_eq!(t.encode("Hello world").unwrap(), vec![9707, 1879]);
    assert_eq!(t.encode("<|im_start|>user\n").unwrap(), vec![151644, 872, 198]);
    assert_eq!(t.bos_id, Some(151643));
    assert!(t.is_eos(151645));
    let s = t.apply_chat_template(&[ChatMessage::new("user", "2+2?")], true).unwrap();
    assert_eq!(
        s,
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
    );
}

#[test]
fn qwen_target_tokenizer_gives_the_documented_ids() {
    check_qwen("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf");
}

#[test]
fn qwen_draft_tokenizer_gives_the_documented_ids() {
    check_qwen("qwen2.5-coder-0.5b-instruct.gguf");
}

/// A chat template is code from the model file: loops, huge outputs and errors end in an
/// error naming the problem, quickly, never a hang or a runaway allocation.
#[test]
fn hostile_chat_templates_fail_fast_with_a_clear_error() {
    use cospec::chat_template::render;
    let msgs = [ChatMessage::new("user", "hi")];
    let cases = [
        ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", "loops"),
        ("{% for a in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "bytes"),
        ("{{ 'x' * 90000000 }}", "bytes"),
        ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "recursion"),
        ("{{ raise_exception('no tools here') }}", "no tools here"),
        ("{% for m in messages %}", "syntax"),
    ];
    for (source, want) in cases {
        let t0 = std::time::Instant::now();
        let err = render(source, &msgs, true, "<s>", "</s>").expect_err(source).to_string();
        assert!(err.contains(want) || (want == "syntax" && err.contains("chat template")), "{source}: {err}");
        assert!(t0.elapsed().as_secs() < 10, "{source} took {:?}", t0.elapsed());
    }
    // Real templates are far from the bounds: ChatML over a thousand messages.
    let many: Vec<ChatMessage> = (0..1000).map(|i| ChatMessage::new(if i % 2 == 0 { "user" } else { "assistant" }, "hello there")).collect();
    let chatml = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}";
    assert_eq!(render(chatml, &many, false, "", "").unwrap().matches("<|im_start|>").count(), 1000);
}

/// Found by fuzzing: the tokenizers library panicked on tokenizer.json text with a syntax
/// error or a raw control character inside a nested object; now an error.
#[test]
fn malformed_tokenizer_json_is_an_error_not_a_panic() {
    let seed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/tokenizer_json/bpe-metaspace-bytefallback.json")).unwrap();
    let broken = [
        seed.replacen("\"pattern\": {\"String\": \" \"}", "\"pattern\": {\"String\" \" \"}", 1),
        seed.replacen("\"content\": \"▁\"", "\"content\": \"\u{1}\"", 1),
        seed[..seed.len() / 2].to_string(),
    ];
    for (i, text) in broken.iter().enumerate() {
        assert_ne!(text, &seed, "case {i} changed nothing");
        let err = cospec::tokenizer::Tokenizer::from_json(text).err().unwrap_or_else(|| panic!("case {i} was accepted"));
        assert!(err.to_string().contains("tokenizer.json"), "{err}");
    }
}

/// Found by fuzzing: a Strip decoder told to strip more characters than a token has made
/// the tokenizers library index below zero while decoding; now an error.
#[test]
fn a_tokenizer_whose_decoder_panics_gives_errors() {
    let seed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/tokenizer_json/bpe-metaspace-bytefallback.json")).unwrap();
    let hostile = seed.replacen("\"start\": 1, \"stop\": 0", "\"start\": 1, \"stop\": 5", 1);
    assert_ne!(hostile, seed);
    let t = cospec::tokenizer::Tokenizer::from_json(&hostile).unwrap();
    // Token 8 is "▁", a space once decoded: stripping past it runs below index 0.
    let err = t.decode(&[8], false).unwrap_err();
    assert!(err.to_string().contains("tokenizers library"), "{err}");
}

/// Gemma 3's SentencePiece vocabulary (262,144 tokens, scores, byte fallback, `\n` runs as
/// user-defined tokens) against llama.cpp's own tokenizer on 2,998 varied texts: the ids
/// must be the same, every one (tests/data/spm_gemma3_llamacpp.jsonl, made by
/// scripts/spm_reference.py), and decoding gives back the text (a `▁` in it as a space).
#[test]
fn gemma3_sentencepiece_ids_are_llama_cpps() {
    let Some((_, t)) = open("gemma-3-270m-q4_k_m.gguf") else { return };
    assert_eq!(t.vocab_size(), 262_144);
    assert_eq!(t.bos_id, Some(2));
    assert!(t.add_bos);
    assert!(t.is_eos(1) && t.is_eos(106), "<eos> and <end_of_turn> end a generation");
    let reference = include_str!("../data/spm_gemma3_llamacpp.jsonl");
    let (mut n, mut wrong, mut not_round_trip) = (0, Vec::new(), Vec::new());
    for line in reference.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = v["text"].as_str().unwrap();
        let want: Vec<u32> = v["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
        let got = t.encode(text).unwrap();
        if got != want {
            let at = got.iter().zip(&want).take_while(|(a, b)| a == b).count();
            wrong.push(format!("{text:?}: first difference at id {at}: cospec {:?} llama.cpp {:?}", &got[at..(at + 4).min(got.len())], &want[at..(at + 4).min(want.len())]));
        }
        // The space marker is a space once decoded, as in llama.cpp; every other character
        // comes back.
        if t.decode(&got[1..], false).unwrap() != text.replace('\u{2581}', " ") {
            not_round_trip.push(text.to_string());
        }
        n += 1;
    }
    assert!(n >= 2998, "{n} reference texts");
    assert!(wrong.is_empty(), "{} of {n} texts tokenized differently, e.g.:\n{}", wrong.len(), wrong[..wrong.len().min(5)].join("\n"));
    assert!(not_round_trip.is_empty(), "{} texts do not decode back, e.g. {:?}", not_round_trip.len(), &not_round_trip[..not_round_trip.len().min(3)]);
}

/// A Gemma file without a chat template gets Gemma's turns, not ChatML; a template that
/// writes BOS itself does not give a prompt two.
#[test]
fn gemma3_chat_prompts_have_gemma_turns_and_one_bos() {
    let Some((mut f, t)) = open("gemma-3-270m-q4_k_m.gguf") else { return };
    assert!(!t.has_chat_template());
    let msgs = [ChatMessage::new("system", "Be brief."), ChatMessage::new("user", "Hi"), ChatMessage::new("assistant", "Hello."), ChatMessage::new("user", "2+2?")];
    let s = t.apply_chat_template(&msgs, true).unwrap();
    assert_eq!(s, "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n<start_of_turn>user\n2+2?<end_of_turn>\n<start_of_turn>model\n");
    let ids = t.encode(&s).unwrap();
    assert_eq!((ids[0], ids[1]), (2, 105), "BOS, then <start_of_turn>");
    assert_eq!(ids.iter().filter(|&&i| i == 2).count(), 1);
    // Gemma's own template begins with {{ bos_token }}.
    f.metadata.insert("tokenizer.chat_template".into(), MetaValue::Str("{{ bos_token }}{% for m in messages %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}".into()));
    let t = Tokenizer::from_model_file(&f).unwrap();
    let s = t.apply_chat_template(&[ChatMessage::new("user", "Hi")], false).unwrap();
    assert_eq!(s, "<start_of_turn>user\nHi<end_of_turn>\n");
    assert_eq!(t.encode(&s).unwrap().iter().filter(|&&i| i == 2).count(), 1);
}

/// A tokenizer.json whose post-processor puts `<s>` before every text (Llama 2 style, or
/// inside a Sequence as Llama 3 writes it): `encode` adds that BOS once, a chat template that
/// writes it is not doubled, and tokenizer_config.json's add_bos_token rules over it.
#[test]
fn tokenizer_json_post_processor_bos_is_added_once() {
    let template = |pp: &str| {
        format!(
            r#"{{"version":"1.0","truncation":null,"padding":null,"added_tokens":[{{"id":3,"content":"</s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}},{{"id":4,"content":"<s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}}],
      "normalizer":null,"pre_tokenizer":{{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}},
      "post_processor":{pp},"decoder":{{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true}},
      "model":{{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"vocab":{{"a":0,"b":1,"ab":2,"</s>":3,"<s>":4}},"merges":["a b"]}}}}"#
        )
    };
    let bos_first = r#"{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],"pair":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"Sequence":{"id":"B","type_id":1}}],"special_tokens":{"<s>":{"id":"<s>","ids":[4],"tokens":["<s>"]}}}"#;
    let in_sequence = format!(r#"{{"type":"Sequence","processors":[{{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":false,"use_regex":true}},{bos_first}]}}"#);
    for pp in [bos_first.to_string(), in_sequence] {
        let t = Tokenizer::from_json(&template(&pp)).unwrap();
        assert_eq!(t.encode("abab").unwrap(), vec![4, 2, 2], "{pp}");
        assert_eq!(t.bos_id, Some(4));
        // Through an HF folder whose chat template writes the BOS itself.
        let config = r#"{"model_type":"llama","num_hidden_layers":1,"hidden_size":8,"intermediate_size":8,"num_attention_heads":1,"vocab_size":5}"#;
        let hf = |tc: &str| {
            let f = ModelFile::from_hf_parts(config, Some(template(&pp)), Some(tc), vec![]).unwrap();
            Tokenizer::from_model_file(&f).unwrap()
        };
        let t = hf(r#"{"bos_token":"<s>","chat_template":"{{ bos_token }}{{ messages[0].content }}"}"#);
        let s = t.apply_chat_template(&[ChatMessage::new("user", "ab")], false).unwrap();
        assert_eq!(t.encode(&s).unwrap(), vec![4, 2], "{s:?}");
        let t = hf(r#"{"bos_token":"<s>","add_bos_token":false}"#);
        assert_eq!(t.encode("abab").unwrap(), vec![2, 2]);
    }
    // Without such a post-processor nothing is added.
    let t = Tokenizer::from_json(&template("null")).unwrap();
    assert_eq!(t.encode("abab").unwrap(), vec![2, 2]);
}

/// tokenizer.json files of the SentencePiece kinds (BPE with byte fallback and the ▁ marker,
/// as Llama 2 / Mistral / TinyLlama ship; Unigram behind Metaspace, as T5 / ALBERT), trained
/// and run by the `tokenizers` Python package (scripts/hf_tokenizer_reference.py): cospec
/// gives its ids and its decoding on all 2,998 texts of the Gemma corpus.
#[test]
fn sentencepiece_kind_tokenizer_json_files_give_the_tokenizers_packages_ids() {
    let texts: Vec<String> = include_str!("../data/spm_gemma3_llamacpp.jsonl")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap().to_string())
        .collect();
    let kinds = [
        ("BPE + byte fallback", include_str!("../data/hf_spm_bpe.tokenizer.json"), include_str!("../data/hf_spm_bpe.ids.jsonl")),
        ("Unigram + Metaspace", include_str!("../data/hf_unigram.tokenizer.json"), include_str!("../data/hf_unigram.ids.jsonl")),
    ];
    for (kind, json, reference) in kinds {
        let t = Tokenizer::from_json(json).unwrap();
        assert!(!t.add_bos, "{kind}: no post-processor, no BOS");
        let (mut n, mut wrong, mut decoded_wrong) = (0, Vec::new(), Vec::new());
        for (text, line) in texts.iter().zip(reference.lines()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let want: Vec<u32> = v["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
            let got = t.encode(text).unwrap();
            if got != want {
                wrong.push(format!("{text:?}: cospec {got:?} tokenizers {want:?}"));
            }
            if t.decode(&want, false).unwrap() != v["decoded"].as_str().unwrap_or(text) {
                decoded_wrong.push(text.clone());
            }
            n += 1;
        }
        assert_eq!(n, 2998, "{kind}: {n} reference lines");
        assert!(wrong.is_empty(), "{kind}: {} of {n} texts tokenized differently, e.g.:\n{}", wrong.len(), wrong[..wrong.len().min(3)].join("\n"));
        assert!(decoded_wrong.is_empty(), "{kind}: {} decodings differ, e.g. {:?}", decoded_wrong.len(), &decoded_wrong[..decoded_wrong.len().min(3)]);
    }
    // Byte fallback is exercised: a character the BPE never learned comes out, after the ▁
    // the normalizer puts first, as its four UTF-8 bytes' <0xNN> tokens (ids 3 + byte).
    let t = Tokenizer::from_json(kinds[0].1).unwrap();
    let ids = t.encode("\u{10437}").unwrap();
    assert_eq!(ids[1..], [0xF0u32 + 3, 0x90 + 3, 0x90 + 3, 0xB7 + 3], "{ids:?}");
    assert_eq!(t.decode(&ids, false).unwrap(), "\u{10437}");
}
