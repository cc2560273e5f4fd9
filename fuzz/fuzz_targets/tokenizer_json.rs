#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cospec_tests::fuzz::tokenizer_json(data));
