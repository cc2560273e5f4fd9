#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cospec_tests::fuzz::rollouts(data));
