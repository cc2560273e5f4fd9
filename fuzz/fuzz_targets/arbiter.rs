#![no_main]
// libfuzzer-sys aborts on every panic, even one the engine catches and turns into an error
// (tokenizer.rs guards the tokenizers library this way); a panic that escapes the target is
// still caught by libfuzzer-sys's own catch_unwind and reported as a crash.
libfuzzer_sys::fuzz_target!(init: { std::panic::set_hook(Box::new(|info| eprintln!("{info}"))) }, |data: &[u8]| cospec_tests::fuzz::arbiter(data));
