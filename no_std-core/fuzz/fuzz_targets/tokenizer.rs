#![no_main]
// The tokenizer and canonical encoder: no panic, canonical output is a fixed point.
libfuzzer_sys::fuzz_target!(|data: &[u8]| otuf_core::fuzzing::tokenizer(data));
