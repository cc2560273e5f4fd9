#![no_main]
// A request body of `cospec serve` (cospec_cli::fuzz_request): parsed, then its stop strings
// filter a stream of pieces.
libfuzzer_sys::fuzz_target!(|data: &[u8]| cospec_cli::fuzz_request(data));
