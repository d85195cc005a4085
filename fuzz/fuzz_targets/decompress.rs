//! Fuzz target: user-data decompression must never panic, hang or blow
//! past its limit, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use tiny_cloud::decompress::{detect, maybe_decompress};
    let compressed = detect(data).is_some();
    if let Ok(out) = maybe_decompress(data, 1 << 20) {
        assert!(!compressed || out.len() <= 1 << 20);
    }
});
